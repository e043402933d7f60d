"""The analyze configuration is validated before any work starts, naming the culprit."""
import pytest

from multilayer.app.config import DEFAULTS, ConfigError, config_to_toml, load_config, parse_frames


def test_defaults_are_valid_and_round_trip_through_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(config_to_toml(DEFAULTS))
    assert load_config(p) == load_config(None)


@pytest.mark.parametrize("text,match", [
    ("[nope]\nx = 1\n", r"unknown section \[nope\]"),
    ("[network]\nkk = 3\n", r"unknown key 'kk' in \[network\]"),
    ("[network]\nk = 0\n", r"\[network\] k = 0: expected an integer >= 1"),
    ("[leiden]\nresolution = -1.0\n", r"\[leiden\] resolution = -1.0: expected a number >= 0"),
    ('[persistence]\ncomplex = "cech"\n', r"\[persistence\] complex = 'cech': expected one of"),
    ('[features]\nsets = ["neighbors_map", "magic"]\n', r"\[features\] sets"),
    ("[tracking]\nmin_overlap = 1.5\n", r"min_overlap = 1.5: expected a number in \[0, 1\]"),
    ("[network\n", "not valid TOML"),
])
def test_bad_config_names_section_key_and_value(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_frames_option():
    assert parse_frames("2:10:3") == {"start": 2, "stop": 10, "step": 3}
    assert parse_frames("::5") == {"step": 5}
    with pytest.raises(ConfigError, match="START:STOP:STEP"):
        parse_frames("a:b")
    with pytest.raises(ConfigError, match="step = 0"):
        load_config(None, {"frames": parse_frames("::0")})


@pytest.mark.parametrize("bad, match", [
    ({"labels": {"resolution": float("nan")}}, "finite"),
    ({"leiden": {"interslice_weight": float("inf")}}, "finite"),
    ({"neighbors": {"shell_factor": float("nan")}}, "finite"),
    ({"neighbors_map": {"size": 1}}, "size"),
    ({"neighbors_map": {"size": 8, "block": 16}}, "block"),
    ({"labels": {"reference_vacancies": [0.0, 0.9]}}, "reference_vacancies"),
    ({"labels": {"crystal_types": "ptm"}}, "crystal_types"),
    ({"labels": {"assign": "cut"}}, "harmonic"),
    ({"labels": {"novelty": -0.5}}, "novelty"),
    ({"labels": {"novelty": True}}, "novelty"),
    ({"labels": {"novelty": float("inf")}}, "novelty"),
    ({"labels": {"cna_support": -1}}, "cna_support"),
    ({"labels": {"cna_support": 13}}, "cna_support"),
    ({"labels": {"cna_support": True}}, "cna_support"),
    ({"labels": {"cna_support": 2.5}}, "cna_support"),
    ({"labels": {"cna_inherit": 1}}, "cna_inherit"),
    ({"labels": {"cna_inherit_rounds": -1}}, "cna_inherit_rounds"),
    ({"labels": {"cna_inherit_rounds": 1.5}}, "cna_inherit_rounds"),
    ({"labels": {"cna_inherit_rounds": True}}, "cna_inherit_rounds"),
    ({"tracking": {"core_tolerance": -1}}, "core_tolerance"),
    ({"tracking": {"core_tolerance": 13}}, "core_tolerance"),
    ({"tracking": {"core_tolerance": 2.0}}, "core_tolerance"),
    ({"tracking": {"core_max_distortion": -0.1}}, "core_max_distortion"),
    ({"tracking": {"core_max_distortion": True}}, "core_max_distortion"),
    ({"tracking": {"core_max_distortion": float("nan")}}, "core_max_distortion"),
    ({"tracking": {"core_max_distortion": "lindemann"}}, "core_max_distortion"),
    ({"steinhardt": {"w": [5]}}, r"\[steinhardt\] w"),
    ({"steinhardt": {"w": [0]}}, r"\[steinhardt\] w"),
    ({"steinhardt": {"w": [6, 6]}}, r"\[steinhardt\] w"),
    ({"steinhardt": {"w": 6}}, r"\[steinhardt\] w"),
    ({"steinhardt": {"w": [True]}}, r"\[steinhardt\] w"),
])
def test_values_that_would_fail_later_are_refused_before_any_work(bad, match):
    from multilayer.app.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=match):
        load_config(None, bad)


def test_steinhardt_w_accepts_even_l_and_none():
    assert load_config(None)["steinhardt"]["w"] == []
    assert load_config(None, {"steinhardt": {"w": [4, 6]}})["steinhardt"]["w"] == [4, 6]


def test_config_that_is_a_directory_is_named(tmp_path):
    from multilayer.app.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="is a directory, not a TOML config file"):
        load_config(tmp_path)


def test_core_outside_tolerance_default_integer_and_false():
    """[tracking] core_outside_tolerance: 0 (the strict a-CNA) by default, an integer in
    [0, 12], or false (the crystal-like atoms only); anything else is refused; round-trips."""
    import tomllib

    from multilayer.app.config import core_outside_tolerance
    from multilayer.tracking import CORE_OUTSIDE_TOLERANCE

    assert core_outside_tolerance(load_config(None)) == CORE_OUTSIDE_TOLERANCE == 0
    assert core_outside_tolerance(load_config(None, {"tracking": {"core_outside_tolerance": 3}})) == 3
    off = load_config(None, {"tracking": {"core_outside_tolerance": False}})
    assert core_outside_tolerance(off) is None
    assert tomllib.loads(config_to_toml(off))["tracking"]["core_outside_tolerance"] is False
    for bad in (13, -1, 2.5, True, "0"):
        with pytest.raises(ConfigError, match="core_outside_tolerance"):
            load_config(None, {"tracking": {"core_outside_tolerance": bad}})


def test_core_max_distortion_default_number_and_false():
    """[tracking] core_max_distortion: the PTM-calibrated default, any number >= 0, or false (the
    bonds-only core), and what crystalline_core is given for each; round-trips as TOML."""
    import tomllib

    from multilayer.app.config import core_max_distortion
    from multilayer.tracking import CORE_MAX_DISTORTION

    assert core_max_distortion(load_config(None)) == CORE_MAX_DISTORTION == 0.084
    assert core_max_distortion(load_config(None, {"tracking": {"core_max_distortion": 0.09}})) == 0.09
    off = load_config(None, {"tracking": {"core_max_distortion": False}})
    assert core_max_distortion(off) is None
    again = tomllib.loads(config_to_toml(off))
    assert again["tracking"]["core_max_distortion"] is False


def test_checkpoint_fingerprint_ignores_an_empty_w():
    """Checkpoints made before ``[steinhardt] w`` existed stay valid for ``--resume``; a
    configured w changes what the features are, and so their fingerprint."""
    import copy

    from multilayer.app.pipeline import features_config

    cfg = load_config(None)
    old = copy.deepcopy(cfg)
    del old["steinhardt"]["w"]
    assert features_config(cfg) == features_config(old)
    assert "w" in cfg["steinhardt"]                     # the config itself is untouched
    with_w = load_config(None, {"steinhardt": {"w": [6]}})
    assert features_config(with_w) != features_config(cfg)
