"""Crystallization propensity: planted slab growth, spatial out-of-fold split, seeds, bad input."""
import json

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest

from descriptors import Frame, make_lattice
from multilayer.learn.propensity import (block_folds, crystallization_propensity, distance_to_marked,
                                   spatial_blocks)


def slab_growth(n_frames=10, n_cells=(12, 3, 3), start_layers=2, speed=1, seed=0):
    """An fcc slab centred in x that grows ``speed`` (100) layers per side per frame into a
    'liquid' (the same sites with 0.2 nn-distance noise, redrawn every frame).

    Returns frames, crystal-like masks and each atom's layer distance from the slab centre."""
    rng = np.random.default_rng(seed)
    ideal = make_lattice("fcc", n_cells)
    layer = np.rint(ideal.positions[:, 0] / (np.sqrt(2.0) / 2)).astype(int)
    dist = np.abs(layer - (2 * n_cells[0] - 1) / 2)
    frames, crystal = [], []
    for t in range(n_frames):
        cr = dist < start_layers / 2 + speed * t
        noise = np.where(cr, 0.03, 0.2)[:, None] * rng.normal(size=ideal.positions.shape)
        frames.append(Frame(ideal.box.wrap(ideal.positions + noise), ideal.box, ideal.ids,
                            timestep=100 * t))
        crystal.append(cr)
    return frames, crystal, dist


@pytest.fixture(scope="module")
def slab():
    return slab_growth()


def _noise_features(frames, seed=1):
    rng = np.random.default_rng(seed)
    return [{"noise": rng.normal(size=(f.n_atoms, 2)), "one": np.ones(f.n_atoms)} for f in frames]


@pytest.mark.parametrize("model", ["logistic", "hgb"])
def test_planted_slab_ranks_next_layer_above_far_liquid(slab, model):
    frames, crystal, dist = slab
    res = crystallization_propensity(frames, crystal, _noise_features(frames), horizon=1,
                                     model=model, seed=0)
    tab = res.table
    assert set(tab.columns) >= {"frame", "id", "horizon", "p_crystal"}
    assert tab["p_crystal"].dtype == np.float32
    # one row per not-crystal-like atom of every frame that has a frame H later
    assert len(tab) == sum(int((~c).sum()) for c in crystal[:-1])
    # the next layer (crystal one frame later) against the liquid beyond it
    half = 1 + np.asarray(tab["frame"])            # slab half-width at t is 1 + t layers
    d = dist[tab["id"].to_numpy() - 1]
    next_layer = (d >= half) & (d < half + 1)
    far = d >= half + 3
    from sklearn.metrics import roc_auc_score

    sel = next_layer | far
    auc = roc_auc_score(next_layer[sel], tab["p_crystal"].to_numpy()[sel])
    assert auc >= 0.95
    assert res.roc_auc[1] >= 0.95
    # the planted signal is the distance to the crystal, not the noise columns
    assert max(res.importances[1], key=res.importances[1].get) == "distance_to_crystal"
    assert res.single_auc[1]["distance_to_crystal"] > 0.95


def test_wide_feature_sets_reduced_and_grouped(slab):
    frames, crystal, dist = slab
    rng = np.random.default_rng(0)
    # a wide set whose first column carries the planted signal (distance to the slab centre)
    feats = [{"wide": np.c_[dist, rng.normal(size=(f.n_atoms, 19))],
              "q": rng.normal(size=f.n_atoms)} for f in frames]
    res = crystallization_propensity(frames, crystal, feats, horizon=1, max_width=4,
                                     model="logistic", seed=0)
    assert res.feature_names[:5] == ["wide[pc0]", "wide[pc1]", "wide[pc2]", "wide[pc3]", "q"]
    assert len(res.feature_names) == 2 * 5 + 3
    assert set(res.importances[1]) == {"wide", "nbr:wide", "q", "nbr:q", "distance_to_crystal",
                                       "crystal_neighbors", "coordination"}
    full = crystallization_propensity(frames, crystal, feats, horizon=1, max_width=None,
                                      model="logistic", importance=False, seed=0)
    assert len(full.feature_names) == 2 * 21 + 3 and full.feature_names[0] == "wide[0]"


def test_out_of_fold_split_never_trains_on_own_block(slab):
    frames, crystal, _ = slab
    res = crystallization_propensity(frames, crystal, horizon=[1, 2], n_blocks=3, n_splits=4,
                                     model="logistic", importance=False, seed=0)
    for h in (1, 2):
        tab = res.table[res.table["horizon"] == h].reset_index(drop=True)
        blocks, folds = tab["block"].to_numpy(), tab["fold"].to_numpy()
        assert len(np.unique(folds)) == 4
        for f, rows in enumerate(res.train_rows[h]):
            scored = np.unique(blocks[folds == f])
            trained = np.unique(blocks[rows])
            assert len(rows) > 0 and len(scored) > 0
            assert np.intersect1d(scored, trained).size == 0
            assert np.all(folds[rows] != f)
            train_blocks, test_blocks = res.folds[h][f]
            assert set(scored) <= set(test_blocks)
            assert not set(train_blocks) & set(test_blocks)
        # each block belongs to exactly one fold
        pairs = tab[["block", "fold"]].drop_duplicates()
        assert pairs["block"].is_unique


def test_spatial_blocks_and_folds():
    ideal = make_lattice("sc", (6, 6, 6))
    f = Frame(ideal.positions + 0.5, ideal.box, ideal.ids)     # sites off the block edges
    b = spatial_blocks(f, (3, 2, 1))
    assert b.max() == 5 and np.bincount(b).tolist() == [36] * 6
    shifted = Frame(f.positions + f.box.cell[0] * 2, f.box, f.ids)   # periodic images
    npt.assert_array_equal(spatial_blocks(shifted, (3, 2, 1)), b)
    folds = block_folds(b, 3)
    assert sorted(folds) == list(range(6)) and set(folds.values()) == {0, 1, 2}
    with pytest.raises(ValueError, match="n_blocks"):
        spatial_blocks(f, 0)
    with pytest.raises(ValueError, match="n_blocks"):
        block_folds(np.zeros(10, int), 5)


def test_distance_to_marked_matches_brute_force():
    f = make_lattice("fcc", 3, noise=0.05, seed=3)
    rng = np.random.default_rng(0)
    marked = rng.random(f.n_atoms) < 0.1
    got = distance_to_marked(f, marked, max_distance=1.9)
    lengths = np.diag(f.box.cell)
    diff = f.positions[:, None, :] - f.positions[None, marked, :]
    diff -= lengths * np.rint(diff / lengths)
    d = np.linalg.norm(diff, axis=2)
    d[d == 0] = np.inf                         # a marked atom does not count itself
    want = np.minimum(d.min(axis=1), 1.9)
    npt.assert_allclose(got, want, rtol=1e-5)  # freud works in float32
    npt.assert_array_equal(distance_to_marked(f, np.zeros(f.n_atoms, bool), 2.0), 2.0)


def test_same_seed_same_propensities(slab):
    frames, crystal, _ = slab
    feats = _noise_features(frames)
    kw = dict(horizon=2, model="hgb", max_train=400, importance=False)
    a = crystallization_propensity(frames, crystal, feats, seed=3, **kw)
    b = crystallization_propensity(frames, crystal, feats, seed=3, **kw)
    npt.assert_array_equal(a.table["p_crystal"], b.table["p_crystal"])
    c = crystallization_propensity(frames, crystal, feats, seed=4, **kw)
    assert not np.array_equal(a.table["p_crystal"], c.table["p_crystal"])   # seed matters


def test_atoms_vanishing_have_no_target(slab):
    frames, crystal, dist = slab
    frames = list(frames)
    crystal = list(crystal)
    gone = int(frames[0].ids[np.argmax(dist)])  # a far-liquid atom, absent from frame 3
    keep = frames[3].ids != gone
    frames[3] = frames[3].select(keep)
    crystal[3] = crystal[3][keep]
    res = crystallization_propensity(frames, crystal, horizon=1, model="logistic",
                                     importance=False)
    row = res.table[(res.table["frame"] == 2) & (res.table["id"] == gone)]
    assert row["target"].tolist() == [-1] and np.isfinite(row["p_crystal"]).all()
    assert not ((res.table["frame"] == 3) & (res.table["id"] == gone)).any()
    assert (res.table["target"] == -1).sum() == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"horizon": 0}, "horizon"), ({"horizon": [1, -2]}, "horizon"),
    ({"horizon": 10}, "horizon=10 reaches beyond"), ({"horizon": 1.5}, "horizon"),
    ({"horizon": 1, "feature_sets": ["soap"]}, "unknown feature set"),
    ({"horizon": 1, "model": "forest"}, "model"), ({"horizon": 1, "n_splits": 1}, "n_splits"),
])
def test_bad_input(slab, kwargs, match):
    frames, crystal, _ = slab
    with pytest.raises(ValueError, match=match):
        crystallization_propensity(frames, crystal, _noise_features(frames), **kwargs)


def test_frame_index_horizon_in_input_frames(slab):
    frames, crystal, _ = slab
    # every second input frame analysed: H=2 pairs analysed neighbours, H=1 has no partner
    res = crystallization_propensity(frames[::2], crystal[::2], horizon=2,
                                     frame_index=np.arange(0, 10, 2), model="logistic",
                                     importance=False)
    assert sorted(res.table["frame"].unique()) == [0, 2, 4, 6]
    with pytest.raises(ValueError, match="horizon=1 reaches beyond"):
        crystallization_propensity(frames[::2], crystal[::2], horizon=1,
                                   frame_index=np.arange(0, 10, 2))


def _slab_run(tmp_path, slab):
    """The slab trajectory and a small analyze configuration on disk; ``(traj, cfg, out)``."""
    from descriptors import write_lammps_dump

    frames, _, _ = slab
    traj = tmp_path / "slab.dump"
    write_lammps_dump(traj, frames)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[features]\nsets = ["steinhardt"]\n[network]\nnodes = "atoms"\nk = 8\n'
                   '[mapper]\nenabled = false\n[output]\nfigures = false\nreport = false\n'
                   'trajectory = "none"\n')
    return traj, cfg, tmp_path / "run"


def test_cli_runs_analyze_and_writes_outputs(tmp_path, slab, capsys):
    from multilayer.app.cli import main

    traj, cfg, out = _slab_run(tmp_path, slab)
    assert main(["propensity", str(traj), "--horizon", "2", "--out", str(out), "--config",
                 str(cfg), "--quiet", "--model", "logistic", "--target", "crystal_like"]) == 0
    assert "horizon 2: ROC-AUC" in capsys.readouterr().out
    tab = pd.read_parquet(out / "propensity.parquet")
    labels = pd.read_parquet(out / "labels.parquet")
    assert list(tab.columns[:3]) == ["frame", "id", "horizon"] and "p_crystal" in tab
    not_crystal = labels[~labels["crystal_like"] & (labels["frame"] < 8)]
    assert len(tab) == len(not_crystal)
    info = json.loads((out / "propensity.json").read_text())
    assert info["target"] == "crystal_like"
    assert set(info["roc_auc"]) == {"2"} and info["importances"]["2"]
    assert "nbr:q6" in info["importances"]["2"] and "q6" in info["feature_names"]
    assert main(["propensity", str(traj), "--horizon", "0", "--out", str(out), "--config",
                 str(cfg), "--quiet"]) == 2
    assert "horizon" in capsys.readouterr().err


def test_default_target_is_the_crystalline_core(tmp_path):
    """On the bundled LJ run: a row for every atom outside the crystalline core (the
    crystal-like atoms on a nucleus's surface included), the targets are core membership H
    frames later, and some atoms enter the core; a run without the core refuses the
    default with a message naming ``--target crystal_like``."""
    from descriptors import demo_trajectory_path
    from multilayer.app.propensity import propensity

    cfg = {"mapper": {"enabled": False}, "output": {"figures": False, "report": False,
                                                    "trajectory": "none"}}
    out = tmp_path / "run"
    res = propensity(demo_trajectory_path(), out, horizon=3, frames=slice(20, 50, 3),
                     config=cfg, model="logistic")        # H = 3 input frames: the next one
    labels = pd.read_parquet(out / "labels.parquet")
    frames = sorted(labels["frame"].unique())
    early = labels[labels["frame"].isin(frames[:-1])]
    assert len(res.table) == int((~early["core"]).sum())
    assert int((early["crystal_like"] & ~early["core"]).sum()) > 0   # halo atoms have rows
    # each row's target is the atom's core membership in the next selected frame
    core = labels.set_index(["frame", "id"])["core"]
    nxt = core.reindex(list(zip(res.table["frame"] + 3, res.table["id"]))).to_numpy(bool)
    assert np.array_equal(res.table["target"].to_numpy(bool), nxt)
    assert 0 < res.positive_rate[3] < 0.5 and res.roc_auc[3] > 0.5
    assert json.loads((out / "propensity.json").read_text())["target"] == "core"
    no_core = {**cfg, "tracking": {"core_tolerance": 12}}
    with pytest.raises(ValueError, match="--target crystal_like"):
        propensity(demo_trajectory_path(), tmp_path / "run2", horizon=3,
                   frames=slice(20, 50, 3), config=no_core, model="logistic")
    assert not (tmp_path / "run2").exists()          # refused before the analysis
    with pytest.raises(ValueError, match="target must be one of"):
        propensity(demo_trajectory_path(), out, horizon=3, target="nucleus")


def test_recent_past_inputs_equal_a_slow_reference():
    """WithPast: per atom (matched by id, present or not), the mean of each input over the
    last W frames up to t and the fraction of them it was crystal-like; never the future."""
    from multilayer.learn.propensity import WithPast

    rng = np.random.default_rng(3)
    n_frames, n_atoms, window = 6, 40, 3
    ids, feats, crys = [], [], []
    for t in range(n_frames):
        keep = np.sort(rng.permutation(n_atoms)[: n_atoms - 5])       # 5 atoms absent
        order = rng.permutation(len(keep))
        ids.append(keep[order] + 1000)
        feats.append({"a": rng.normal(size=(len(keep), 2)), "b": rng.normal(size=len(keep))})
        crys.append(rng.random(len(keep)) < 0.3)
    past = WithPast(feats, ids, crys, ["a", "b"], window)
    assert past.past_names == ["past:a", "past:b", "past:crystalline"]
    for t in range(n_frames):
        got = past[t]
        npt.assert_array_equal(got["a"], feats[t]["a"])
        for r, atom in enumerate(ids[t]):
            seen = [(u, int(np.flatnonzero(ids[u] == atom)[0])) for u in
                    range(max(0, t - window + 1), t + 1) if atom in ids[u]]
            npt.assert_allclose(got["past:a"][r], np.mean([feats[u]["a"][k] for u, k in seen], axis=0))
            npt.assert_allclose(got["past:b"][r], [np.mean([feats[u]["b"][k] for u, k in seen])])
            assert got["past:crystalline"][r] == pytest.approx(np.mean([crys[u][k] for u, k in seen]))
    with pytest.raises(ValueError, match="window"):
        WithPast(feats, ids, crys, ["a"], 0)


def test_cli_past_window_adds_past_inputs(tmp_path, slab, capsys):
    from multilayer.app.cli import main

    traj, cfg, out = _slab_run(tmp_path, slab)
    args = ["propensity", str(traj), "--horizon", "2", "--out", str(out), "--config", str(cfg),
            "--quiet", "--model", "logistic"]
    assert main(args + ["--past", "0"]) == 2
    assert "past must be an integer >= 1" in capsys.readouterr().err
    assert main(args + ["--past", "3"]) == 0
    info = json.loads((out / "propensity.json").read_text())
    assert {"past:q6", "past:crystalline"} <= set(info["feature_names"])
