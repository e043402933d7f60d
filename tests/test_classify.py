"""Supervised structure labelling: multilayer.learn.classify, multilayer.learn.trusted, `crystopo classify`."""
from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from descriptors import Box, Frame, make_lattice, read_trajectory, write_lammps_dump
from multilayer.learn.classify import (StructureFeatures, classify_trajectory,
                                 train_classifier)
from multilayer.learn.trusted import ovito_structures, read_labels, trusted_labels
from multilayer.app.cli import main

KINDS = ("fcc", "bcc", "hcp")
CELLS = {"fcc": 4, "bcc": 5, "hcp": (5, 3, 4)}          # 256, 250, 240 atoms
TRAIN_NOISE = (0.02, 0.05, 0.08)
HAS_OVITO = importlib.util.find_spec("ovito") is not None


def _gas(n_atoms, box_like, seed):
    """Uniform random positions at the density of ``box_like``: nothing like a crystal."""
    lengths = box_like.box.cell.diagonal()
    pos = np.random.default_rng(seed).random((n_atoms, 3)) * lengths
    return Frame(pos, Box.orthogonal(lengths))


@pytest.fixture(scope="module")
def trained():
    frames = [make_lattice(k, CELLS[k], noise=s, seed=10 + i)
              for i, (k, s) in enumerate((k, s) for k in KINDS for s in TRAIN_NOISE)]
    labels = [KINDS.index(k) for k in KINDS for _ in TRAIN_NOISE]
    return train_classifier(frames, labels, class_names=dict(enumerate(KINDS)), seed=0)


@pytest.mark.parametrize("noise", [0.035, 0.065])
def test_held_out_noisy_lattices_labelled(trained, noise):
    for i, kind in enumerate(KINDS):
        frame = make_lattice(kind, CELLS[kind], noise=noise, seed=99)   # unseen seed and noise
        labels, conf = trained.classify(frame)
        # the bar; unknown (-1) counts as wrong.  Measured: 1.0 everywhere.
        assert (labels == i).mean() >= 0.95, (kind, noise, np.bincount(labels + 1))
        assert conf.dtype == np.float32 and np.all((conf >= 0) & (conf <= 1))
    assert trained.class_names_ == {0: "fcc", 1: "bcc", 2: "hcp"}


def test_unknown_for_a_gas(trained):
    gas = _gas(200, make_lattice("fcc", 3), seed=1)
    labels, conf = trained.classify(gas)
    # a gas is far outside every class seen in training: (almost) all unknown
    assert (labels == -1).mean() >= 0.9, np.bincount(labels + 1)
    assert np.median(conf) < 0.3          # measured 0.17: the gas lies ~5 R from every class
    labels, _ = trained.classify(gas, threshold=0.0)     # threshold 0: every atom labelled
    assert labels.min() >= 0


def test_deterministic_with_seed():
    frames = [make_lattice(k, 4, noise=0.05, seed=3) for k in ("fcc", "bcc")]
    test = make_lattice("fcc", 4, noise=0.1, seed=4)
    kw = dict(feature_sets=["steinhardt"], augment_noise=0.03, max_per_class=50)
    a = train_classifier(frames, [0, 1], seed=5, **kw).classify(test)
    b = train_classifier(frames, [0, 1], seed=5, **kw).classify(test)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_trusted_tenwolde_labels_train_solid_vs_gas():
    """The paper's Sec. 3.2 route: labels from a trusted method on frames where it is right."""
    crystal = make_lattice("fcc", 4, noise=0.04, seed=0)
    gas = _gas(256, crystal, seed=0)
    np.testing.assert_array_equal(trusted_labels(crystal), 1)            # all solid
    assert trusted_labels(gas).mean() < 0.1                               # (nearly) all liquid
    clf = train_classifier([crystal, gas], "tenwolde", feature_sets=["steinhardt"], seed=0)
    assert clf.class_names_ == {0: "liquid", 1: "solid"}
    lab, _ = clf.classify(make_lattice("fcc", 4, noise=0.04, seed=1), threshold=0.0)
    assert (lab == 1).mean() >= 0.95
    lab, _ = clf.classify(_gas(256, crystal, seed=1), threshold=0.0)
    assert (lab == 0).mean() >= 0.9


@pytest.mark.skipif(not HAS_OVITO, reason="ovito not installed")
def test_trusted_ptm_and_acna():
    for kind, code in (("fcc", 1), ("hcp", 2), ("bcc", 3)):
        frame = make_lattice(kind, CELLS[kind], noise=0.02, seed=0)
        np.testing.assert_array_equal(trusted_labels(frame, "ptm"), code)
        np.testing.assert_array_equal(trusted_labels(frame, "acna"), code)


@pytest.mark.skipif(not HAS_OVITO, reason="ovito not installed")
@pytest.mark.parametrize("shear", [0.0, 0.3])
def test_ptm_of_some_atoms_is_their_type_in_the_whole_frame(shear):
    """`atoms=` types a sample from it and its 18 nearest neighbours: the same types as PTM
    on the whole frame, for fcc, hcp, bcc and a random gas side by side, in an orthogonal
    and in a triclinic box."""
    rng = np.random.default_rng(0)
    parts = [make_lattice(k, CELLS[k], noise=0.04, seed=1) for k in ("fcc", "hcp", "bcc")]
    parts.append(_gas(300, parts[0], seed=2))
    pos, x0 = [], 0.0
    for p in parts:                       # side by side along x, 1 length unit apart
        q = p.wrapped() - p.wrapped().min(axis=0)
        pos.append(q + [x0, 0.0, 0.0])
        x0 += np.ptp(q[:, 0]) + 1.0
    pos = np.concatenate(pos)
    cell = np.diag([x0, pos[:, 1].max() + 1.0, pos[:, 2].max() + 1.0])
    cell[1, 0] = shear * cell[1, 1]       # tilted: only the periodic images change
    n = len(pos)
    frame = Frame(pos, Box(cell), np.arange(1, n + 1), np.ones(n, np.int32))
    whole = ovito_structures(frame, "ptm", structures=["fcc", "hcp", "bcc", "ico"])
    atoms = np.sort(rng.choice(n, 150, replace=False))
    assert len(np.unique(whole[atoms])) >= 3
    np.testing.assert_array_equal(
        ovito_structures(frame, "ptm", structures=["fcc", "hcp", "bcc", "ico"], atoms=atoms),
        whole[atoms])
    with pytest.raises(ValueError, match="atoms"):
        ovito_structures(frame, "acna", atoms=atoms)


@pytest.mark.parametrize("kwargs, match", [
    ({"feature_sets": ["soap"]}, "feature_sets"),
    ({"model": "svm"}, "model"),
    ({"max_per_class": 0}, "max_per_class"),
    ({"novelty": -0.1}, "novelty"),
    ({"shell_cut": 0.5}, "shell_cut"),
    ({"nn_distance": -1.0}, "nn_distance"),
])
def test_bad_parameters_are_named(kwargs, match):
    frames = [make_lattice(k, 3, noise=0.03, seed=0) for k in ("fcc", "bcc")]
    with pytest.raises(ValueError, match=match):
        train_classifier(frames, [0, 1], **kwargs)


def test_bad_labels_and_threshold_are_named(trained):
    frames = [make_lattice(k, 3, noise=0.03, seed=0) for k in ("fcc", "bcc")]
    with pytest.raises(ValueError, match="labels has 1 entries for 2 frames"):
        train_classifier(frames, [0])
    with pytest.raises(ValueError, match=r"labels\[1\] must be an int or 54 integers"):
        train_classifier(frames, [0, np.zeros(3)])
    with pytest.raises(ValueError, match="labels='ptx'"):
        train_classifier(frames, "ptx")
    with pytest.raises(ValueError, match="at least 2"):
        train_classifier(frames, [1, 1], feature_sets=["steinhardt"])
    with pytest.raises(ValueError, match="threshold"):
        trained.classify(frames[0], threshold=1.5)
    with pytest.raises(ValueError, match="not fitted"):
        StructureFeatures().transform(frames[0])


def test_features_layout():
    frame = make_lattice("fcc", 3, noise=0.05, seed=0)
    feats = StructureFeatures(["neighbors_map", "persistence", "steinhardt"],
                              nn_distance=1.0).fit([frame])
    x = feats.transform(frame)
    assert x.shape == (108, feats.n_features_out_) and x.dtype == np.float32
    assert feats.slices_["neighbors_map"] == slice(0, 128)            # 8x8 block + 2 x 32
    assert feats.slices_["steinhardt"].stop == feats.n_features_out_
    # scale invariance: the same lattice at nn distance 2.5, divided by 2.5
    big = make_lattice("fcc", 3, nn_distance=2.5, noise=0.05, seed=0)
    x_big = StructureFeatures(["steinhardt"], nn_distance=2.5).fit([big]).transform(big)
    np.testing.assert_allclose(x_big, x[:, feats.slices_["steinhardt"]], atol=1e-5)  # float32


def test_read_labels_matches_ids(tmp_path):
    frame = make_lattice("bcc", 3, vacancies=0.2, seed=0)             # ids with gaps
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, frame.n_atoms)
    order = rng.permutation(frame.n_atoms)[:-5]                      # shuffled, 5 atoms missing
    pd.DataFrame({"frame": 3, "id": frame.ids[order], "label": truth[order]}).to_parquet(
        tmp_path / "l.parquet")
    (got,) = read_labels(tmp_path / "l.parquet", [frame], frame_indices=[3])
    np.testing.assert_array_equal(got[order], truth[order])
    assert (np.delete(got, order) == -1).all()
    write_lammps_dump(tmp_path / "l.dump", frame.with_columns(label=truth))
    (got,) = read_labels(tmp_path / "l.dump", [frame])
    np.testing.assert_array_equal(got, truth)
    with pytest.raises(KeyError, match="kind"):
        read_labels(tmp_path / "l.dump", [frame], column="kind")


def test_classify_trajectory_writes_outputs(trained, tmp_path):
    frames = [make_lattice("hcp", CELLS["hcp"], noise=0.05, seed=s) for s in (1, 2)]
    table = classify_trajectory(trained, frames, out=tmp_path)
    assert list(table.columns) == ["frame", "id", "label", "confidence"]
    assert len(table) == 2 * frames[0].n_atoms and (table["label"] == 2).mean() >= 0.95
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "labels.parquet"), table)
    back = read_trajectory(tmp_path / "labelled.dump")
    assert len(back) == 2
    np.testing.assert_array_equal(back[1].extra["label"], table["label"][table["frame"] == 1])
    assert "unknown" in (tmp_path / "classes.json").read_text()


def _tiny_trajectory(path, seed):
    """fcc and bcc frames, each atom carrying its true label (0 fcc, 1 bcc)."""
    frames = []
    for t, kind in enumerate(("fcc", "bcc", "fcc", "bcc")):
        # boxes wider than twice the 1.82 nn feature cutoff (108 and 128 atoms)
        fr = make_lattice(kind, 3 if kind == "fcc" else 4, noise=0.04, seed=seed + t)
        frames.append(Frame(fr.positions, fr.box, fr.ids, fr.types, t,
                            {"label": np.full(fr.n_atoms, t % 2)}))
    return write_lammps_dump(path, frames)


def test_cli_classify(tmp_path, capsys):
    train = _tiny_trajectory(tmp_path / "train.dump", seed=0)
    test = _tiny_trajectory(tmp_path / "test.dump", seed=10)
    rc = main(["classify", str(test), "--train", str(train), "--labels", "column",
               "--features", "steinhardt", "--out", str(tmp_path / "out"), "--quiet",
               "--save-model", str(tmp_path / "m.pkl")])
    assert rc == 0, capsys.readouterr().err
    table = pd.read_parquet(tmp_path / "out" / "labels.parquet")
    truth = np.where(table["frame"] % 2 == 0, 0, 1)
    assert (table["label"].to_numpy() == truth).mean() >= 0.95
    assert "label" in read_trajectory(tmp_path / "out" / "labelled.dump")[0].extra
    # the saved model labels the same way; whole-frame class names via const:NAME
    rc = main(["classify", str(test), "--model", str(tmp_path / "m.pkl"), "--frames", "1:2",
               "--out", str(tmp_path / "again"), "--quiet", "--no-dump"])
    assert rc == 0
    again = pd.read_parquet(tmp_path / "again" / "labels.parquet")
    np.testing.assert_array_equal(again["label"], table["label"][table["frame"] == 1])
    # whole-file class names: const:NAME per --train, as for snapshots known to be one phase
    fcc = write_lammps_dump(tmp_path / "fcc.dump", [make_lattice("fcc", 3, noise=0.04, seed=s)
                                                     for s in (1, 2)])
    bcc = write_lammps_dump(tmp_path / "bcc.dump", make_lattice("bcc", 4, noise=0.04, seed=1))
    rc = main(["classify", str(test), "--train", str(fcc), "--labels", "const:fcc",
               "--train", str(bcc), "--labels", "const:bcc", "--features", "steinhardt",
               "--out", str(tmp_path / "const"), "--quiet", "--no-dump"])
    assert rc == 0
    const = pd.read_parquet(tmp_path / "const" / "labels.parquet")
    assert (const["label"].to_numpy() == truth).mean() >= 0.95            # fcc -> 0, bcc -> 1
    assert '"1": "bcc"' in (tmp_path / "const" / "classes.json").read_text()


def test_cli_classify_errors(tmp_path, capsys):
    test = _tiny_trajectory(tmp_path / "t.dump", seed=0)
    assert main(["classify", str(test), "--out", str(tmp_path / "o")]) == 2
    assert "--labels is required" in capsys.readouterr().err
    assert main(["classify", str(test), "--labels", "column", "--train-frames", "x",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--train-frames 'x'" in capsys.readouterr().err
