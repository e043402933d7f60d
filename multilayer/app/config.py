"""The ``analyze`` configuration: defaults for a monatomic nucleation run, TOML overrides,
validated before any work starts (unknown keys and bad values are named)."""
from __future__ import annotations

import copy
import sys
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ..network.featureset import FEATURE_DEFAULTS
from ..network.featureset import FEATURE_SETS as ALL_FEATURE_SETS
from ..network.leiden import LEIDEN_DEFAULTS
from ..network.stacking import INHERIT_ROUNDS
from ..network.structures import STRUCTURE_DEFAULTS, STRUCTURE_NAMES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["DEFAULTS", "ConfigError", "load_config", "validate_config", "config_to_toml"]


class ConfigError(ValueError):
    """A configuration key or value that crystopo cannot use; the message names it."""


FEATURE_SETS = tuple(s for s in ALL_FEATURE_SETS if s != "neighbors_map_image")

# every parameter, with the default that works on a typical monatomic nucleation run
DEFAULTS: dict = {
    "frames": {"start": 0, "stop": None, "step": 1},
    # the descriptor sections: the fitted feature pipeline's own defaults
    **copy.deepcopy(FEATURE_DEFAULTS),
    "time_average": {"window": 1, "centered": True},
    # structure labels anchored in descriptor space and reference crystals (the default);
    # scan: also scan the resolution and judge each by its stability across seeds and frame
    # halves (multilayer.network.structure_scan; ~24 fits, so off by default), in the report
    # crystal_types: "cna" gives each atom labelled fcc or hcp the stacking its first-shell
    # bonds' common neighbours vote for (descriptors.cna; undecided atoms keep their
    # structure's name): fcc/hcp agreement with PTM 0.73-0.83 -> 0.99 on the nucleation runs,
    # phases unchanged; "communities" keeps each structure's name; "local" decides from the
    # atom's own q_l (0.88-0.90, but thermal hcp at T* 0.4 / 0.7 only 0.86 / 0.70 correct);
    # "cna-strict": as "cna", and an fcc/hcp atom whose bonds abstain is named liquid (steadier
    # across frame ranges, 0.98; twice the precision against PTM; recall 0.90-0.94)
    # cna_support ("cna" only): an fcc/hcp atom whose bonds abstain is named liquid when fewer
    # than this many of its first-shell neighbours are core atoms (fcc/hcp atoms whose bonds
    # vote, or bcc atoms) and one of them is named none of fcc/hcp/bcc (it touches liquid): a
    # nucleus's surface, a hot crystal and a crystal too damaged to vote keep their atoms,
    # ordered liquid patches without a close-packed core do not
    # (0: every abstaining atom keeps its name, as before stop 23)
    # cna_inherit ("cna" only): such an atom, where it stays crystal-like, takes the crystal
    # most of its voting neighbours' own shells vote for (fcc/hcp neighbours voting fcc or
    # hcp, bcc neighbours voting bcc) instead of its structure's name (the surface of an fcc
    # nucleus, whose averaged q̄_l blend crystal and liquid, was named hcp; a bcc face
    # meeting hcp or the liquid was named close-packed)
    # cna_inherit_rounds: the inherited crystals spread this many rounds (an atom named in one
    # round counts for its crystal in the next, and a bcc atom whose shell does not vote counts
    # for bcc once most of its neighbours' votes are bcc): a band of abstaining atoms up to
    # three shells deep takes the crystal behind it (a bcc face against hcp: the slabs 0.980 ->
    # 0.985, held-out slabs 0.974-0.978 -> 0.981-0.985); 1: the voting neighbours only (until
    # stop 48); 0: until no atom changes (names then depend on votes arbitrarily far away)
    "labels": copy.deepcopy(STRUCTURE_DEFAULTS) | {"scan": False, "crystal_types": "cna",
                                                   "cna_support": 4, "cna_inherit": True,
                                                   "cna_inherit_rounds": INHERIT_ROUNDS},
    # the multislice network of method = "multislice"
    "network": {
        "nodes": "microstates",    # microstates | atoms | auto (atoms up to max_atom_nodes)
        "max_atom_nodes": 150000,
        "k": 12,
        "n_microstates": 400,
        "seed": 0,
    },
    "leiden": {
        # the defaults of multilayer.leiden() (method = "multislice" only)
        "objective": LEIDEN_DEFAULTS["objective"],    # "cpm" or "modularity" (per-slice null model)
        "resolution": LEIDEN_DEFAULTS["resolution"],  # None: 1 for modularity, 0.1 x the mean
                                                      # layer density for CPM
        "interslice_weight": LEIDEN_DEFAULTS["interslice_weight"],  # fraction of within-frame ties
        "labels": "microstate",    # microstate: each microstate's dominant community in every
                                   # frame (one meaning per structure); layer: per (frame, node)
        "seed": 0,
        "min_community": 0.005,    # communities below this fraction of all nodes are merged
    },
    # sample: None clusters every (frame, atom) point (above 20,480 points through a codebook
    # of n_microstates microstates); an integer draws that many points and the report says so
    "mapper": {"enabled": True, "n_intervals": 8, "overlap": 0.3, "sample": None,
               "n_microstates": 2048, "seed": 0},
    "tracking": {
        "crystal": "auto",         # "auto", or a list of community ids or names ("fcc", ...)
        "min_overlap": 0.3,        # Jaccard threshold for life-cycle events
        "min_nucleus": 5,          # atoms; smaller crystal-like clusters are not nuclei
        "onset_threshold": None,   # atoms; None: from the pre-onset fluctuations, >= 13 (the first
                                   # frame when its nucleus persists and grows)
        # crystalline core: crystal-like atoms' first-shell bonds (of 12 close-packed or
        # 14 bcc) that may lack their crystal's common-neighbour signature; 12: no core tracked
        "core_tolerance": 6,
        # and whose shell geometry is a crystal's: shell distortion (descriptors.shell, each
        # neighbour's distances) from the nearest crystal at most this, in nearest-neighbour
        # distances (0.084: PTM's standard RMSD cutoff 0.1, calibrated on shaken ideal fcc and
        # hcp); false: bonds only, no geometric test
        "core_max_distortion": 0.084,
        # atoms outside the crystal-like ones are core too when their shell passes the same
        # geometric test and at most this many bonds lack the signature (0: Stukowski's strict
        # a-CNA); false: the crystal-like atoms only
        "core_outside_tolerance": 0,
        # the critical size from the fate of the core's tracked nuclei (the size at which half
        # grow): a nucleus that reaches this many atoms has grown; None: 50, or four times
        # the core's onset threshold where that is larger
        "grown_size": None,
    },
    # ptm: OVITO's PTM composition of every structure in the report and summary; "auto": when
    # ovito is installed, on at most ptm_atoms (frame, atom) rows (frames spread over the run)
    "output": {"trajectory": "lammps", "figures": True, "report": True, "ptm": "auto",
               "ptm_atoms": 500_000},
}

_CHOICES = {
    ("persistence", "complex"): ("alpha", "rips"),
    ("persistence", "method"): ("stats", "image", "betti", "landscape"),
    ("network", "nodes"): ("atoms", "microstates", "auto"),
    ("leiden", "objective"): ("cpm", "modularity"),
    ("leiden", "labels"): ("microstate", "layer"),
    ("output", "trajectory"): ("lammps", "extxyz", "none"),
    ("output", "ptm"): ("auto", "on", "off"),
    ("labels", "method"): ("anchored", "multislice"),
    ("labels", "crystal_types"): ("cna", "cna-strict", "local", "communities"),
    ("labels", "assign"): ("harmonic", "leiden"),
}
_POSITIVE = {("neighbors", "shell_factor"), ("persistence", "shell_factor"), ("neighbors_map", "gamma"),
             ("neighbors_map", "beta"), ("mapper", "n_intervals"), ("soap", "r_cut"),
             ("soap", "sigma"), ("acsf", "r_cut")}
_MIN1 = {("labels", "n_microstates"), ("labels", "n_seeds"), ("labels", "n_components"), ("neighbors_map", "size"), ("neighbors_map", "block"), ("network", "k"),
         ("network", "n_microstates"), ("network", "max_atom_nodes"), ("time_average", "window"),
         ("frames", "step"), ("persistence", "fit_sample"), ("mapper", "sample"),
         ("mapper", "n_microstates"), ("output", "ptm_atoms"),
         ("tracking", "min_nucleus"), ("tracking", "grown_size"), ("soap", "n_max")}
_UNIT = {("tracking", "min_overlap"), ("mapper", "overlap"), ("leiden", "min_community")}


def _bad(section, key, value, want):
    return ConfigError(f"[{section}] {key} = {value!r}: expected {want}")


def validate_config(cfg: dict) -> dict:
    """Check every section and key against :data:`DEFAULTS`; return the merged config."""
    merged = copy.deepcopy(DEFAULTS)
    if not isinstance(cfg, dict):
        raise ConfigError(f"config must be a table of sections, got {type(cfg).__name__}")
    for section, table in cfg.items():
        if section not in DEFAULTS:
            raise ConfigError(f"unknown section [{section}]; known sections: {', '.join(DEFAULTS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] must be a table, got {table!r}")
        for key, value in table.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"unknown key {key!r} in [{section}]; known keys: "
                                  f"{', '.join(DEFAULTS[section])}")
            merged[section][key] = value
    for section, table in merged.items():
        for key, value in table.items():
            _check_value(section, key, value, DEFAULTS[section][key])
    nm = merged["neighbors_map"]
    if nm["size"] < 2:
        raise _bad("neighbors_map", "size", nm["size"], "an integer >= 2 (a map of the centre "
                   "and at least one neighbour)")
    if nm["block"] > nm["size"]:
        raise ConfigError(f"[neighbors_map] block = {nm['block']} is larger than size = "
                          f"{nm['size']}: expected block <= size")
    if merged["labels"]["scan"] and merged["labels"]["method"] != "anchored":
        raise ConfigError(f"[labels] scan = true scans the anchored structure labels: it needs "
                          f"method = \"anchored\", got {merged['labels']['method']!r}")
    missing = [s for s in (merged["labels"]["sets"] or []) if s not in merged["features"]["sets"]]
    if merged["labels"]["method"] == "anchored" and missing:
        raise ConfigError(f"[labels] sets = {merged['labels']['sets']!r}: {missing} not computed; "
                          f"add them to [features] sets = {merged['features']['sets']!r}")
    return merged


def _check_value(section, key, value, default):
    where = (section, key)
    if where == ("labels", "cna_support"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 12:
            raise _bad(section, key, value, "an integer in [0, 12] (first-shell neighbours)")
        return
    if where == ("labels", "cna_inherit_rounds"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _bad(section, key, value, "an integer >= 0 (rounds; 0: until no atom changes)")
        return
    if where == ("tracking", "core_tolerance"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 12:
            raise _bad(section, key, value, "an integer in [0, 12] (first-shell bonds; 12: "
                       "no core)")
        return
    if isinstance(value, float) and not np.isfinite(value):
        raise _bad(section, key, value, "a finite number")
    if where in _CHOICES and value not in _CHOICES[where]:
        raise _bad(section, key, value, "one of " + ", ".join(map(repr, _CHOICES[where])))
    if where == ("labels", "sets") and value is None:
        return
    if where in (("labels", "sets"), ("labels", "references")):
        allowed = FEATURE_SETS if key == "sets" else STRUCTURE_NAMES
        if not isinstance(value, list) or not value or any(v not in allowed for v in value):
            raise _bad(section, key, value, f"a non-empty list drawn from {list(allowed)}")
        return
    if where == ("labels", "reference_vacancies"):
        if not isinstance(value, list) or not value or not all(
                isinstance(v, Real) and not isinstance(v, bool) and 0 <= v <= 0.5 for v in value):
            raise _bad(section, key, value, "a non-empty list of numbers in [0, 0.5]")
        return
    if where == ("labels", "reference_noise"):
        if not isinstance(value, list) or not value or not all(
                isinstance(v, Real) and not isinstance(v, bool) and 0 <= v <= 0.3 for v in value):
            raise _bad(section, key, value, "a non-empty list of numbers in [0, 0.3]")
        return
    if where in (("labels", "resolution"), ("labels", "flow_weight"), ("labels", "novelty")):
        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) \
                or value < 0:
            raise _bad(section, key, value, "a finite number >= 0")
        return
    if where == ("features", "sets"):
        if not isinstance(value, list) or not value or any(v not in FEATURE_SETS for v in value):
            raise _bad(section, key, value, f"a non-empty list drawn from {list(FEATURE_SETS)}")
        return
    if where == ("steinhardt", "l"):
        if not isinstance(value, list) or not value or not all(isinstance(v, int) and v >= 0 for v in value):
            raise _bad(section, key, value, "a non-empty list of integers >= 0")
        return
    if where == ("steinhardt", "w"):
        if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 2 and v % 2 == 0
                for v in value) or len(set(value)) != len(value):
            raise _bad(section, key, value, "a list of distinct even integers >= 2 (the l of "
                       "the ŵ_l; [] for none)")
        return
    if where == ("tracking", "crystal"):
        if value != "auto" and not (isinstance(value, list) and value and all(
                isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
                for v in value)):
            raise _bad(section, key, value, '"auto", or a non-empty list of community ids or '
                       'structure names (e.g. ["fcc", "hcp"])')
        return
    if value is None:
        if default is None:
            return
        raise _bad(section, key, value, f"a value like {default!r}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise _bad(section, key, value, "true or false")
        return
    if where in _MIN1 and (not isinstance(value, Integral) or isinstance(value, bool) or value < 1):
        raise _bad(section, key, value, "an integer >= 1")
    if where in _POSITIVE and (not isinstance(value, Real) or not value > 0):
        raise _bad(section, key, value, "a number > 0")
    if where in _UNIT and (not isinstance(value, Real) or not 0 <= value <= 1):
        raise _bad(section, key, value, "a number in [0, 1]")
    if key in ("seed", "start", "max_dim", "l_max") and (not isinstance(value, Integral) or value < 0):
        raise _bad(section, key, value, "an integer >= 0")
    if key == "max_dim" and value > 2:
        raise _bad(section, key, value, "0, 1 or 2")
    if where == ("tracking", "core_outside_tolerance"):
        if value is not False and (isinstance(value, bool) or not isinstance(value, int)
                                   or not 0 <= value <= 12):
            raise _bad(section, key, value, "an integer in [0, 12] (first-shell bonds), or "
                       "false (the crystal-like atoms only)")
        return
    if where == ("tracking", "core_max_distortion"):
        if value is not False and (isinstance(value, bool) or not isinstance(value, Real)
                                   or not np.isfinite(value) or value < 0):
            raise _bad(section, key, value, "a number >= 0 (nearest-neighbour distances), or "
                       "false (no geometric test)")
        return
    if key in ("resolution", "interslice_weight", "onset_threshold") and \
            (not isinstance(value, Real) or value < 0):
        raise _bad(section, key, value, "a number >= 0")
    if key == "stop" and (not isinstance(value, Integral)):
        raise _bad(section, key, value, "an integer or nothing")


def core_max_distortion(cfg: dict) -> float | None:
    """``[tracking] core_max_distortion`` as :func:`multilayer.tracking.crystalline_core` takes
    it: ``None`` where the config says ``false`` (bonds only)."""
    value = cfg["tracking"]["core_max_distortion"]
    return None if value is False else float(value)


def core_outside_tolerance(cfg: dict) -> int | None:
    """``[tracking] core_outside_tolerance`` as :func:`multilayer.tracking.crystalline_core`
    takes it: ``None`` where the config says ``false`` (the crystal-like atoms only)."""
    value = cfg["tracking"]["core_outside_tolerance"]
    return None if value is False else int(value)


def load_config(path=None, overrides: dict | None = None) -> dict:
    """Defaults, then the TOML file at ``path``, then ``overrides``; validated."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, not a TOML config file")
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
    for section, table in (overrides or {}).items():
        raw.setdefault(section, {}).update(table)
    try:
        return validate_config(raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}" if path else str(err)) from None


def config_to_toml(cfg: dict) -> str:
    """The config as TOML text (``None`` values are written as comments)."""
    lines = []
    for section, table in cfg.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            if value is None:
                lines.append(f"# {key} = (automatic)")
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            elif isinstance(value, list):
                items = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value)
                lines.append(f"{key} = [{items}]")
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    return "\n".join(lines)


def parse_frames(text: str | None):
    """``START:STOP:STEP`` (each part optional) -> dict for the [frames] section."""
    if text is None:
        return {}
    parts = text.split(":")
    if len(parts) > 3:
        raise ConfigError(f"--frames {text!r}: expected START:STOP:STEP")
    try:
        vals = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
    except ValueError:
        raise ConfigError(f"--frames {text!r}: expected integers in START:STOP:STEP") from None
    out = {}
    for key, val in zip(("start", "stop", "step"), vals):
        if val is not None:
            out[key] = val
    return out
