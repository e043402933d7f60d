"""Structure labels anchored in reference environments (multilayer.network.structures)."""
import numpy as np
import pytest

from descriptors import Frame, make_lattice
from descriptors.reference import REFERENCE_KINDS, lj_liquid, reference_frames
from multilayer.network.featureset import FeatureSet
from multilayer.network.structures import (CRYSTAL_NAMES, STRUCTURE_NAMES, describe_references,
                                           fit_structures)

SETS = ["steinhardt"]   # the default label set (LABEL_SETS)


def _phase_frames(seed=0):
    """One phase per frame: noisy fcc, hcp, bcc at two thermal noises and two LJ liquids,
    ids 1..n in every frame (as in any trajectory)."""
    frames, truth = [], []
    spec = [("fcc", 5, 0.05), ("hcp", (5, 3, 3), 0.05), ("bcc", 6, 0.05),
            ("fcc", 5, 0.08), ("hcp", (5, 3, 3), 0.08), ("bcc", 6, 0.07)]
    for k, (kind, cells, noise) in enumerate(spec):
        f = make_lattice(kind, cells, noise=noise, seed=100 * seed + k, nn_distance=1.09)
        frames.append(f)
        truth.append(np.full(f.n_atoms, kind))
    for f in lj_liquid(2, n_cells=4, seed=seed + 7):
        frames.append(Frame(f.positions, f.box))
        truth.append(np.full(f.n_atoms, "liquid"))
    return frames, truth


@pytest.fixture(scope="module")
def phases():
    frames, truth = _phase_frames()
    fs = FeatureSet(SETS).fit(frames[-1])
    feats = [fs.transform(f).sets for f in frames]
    refs = describe_references(fs, sets=SETS)
    return frames, truth, fs, feats, refs


def _names(model, labels):
    names = np.array(model.names)
    return [names[lab] for lab in labels]


def _phase(names):
    return np.where(np.isin(names, CRYSTAL_NAMES), names, "liquid")


def test_reference_frames_are_what_they_claim():
    refs = reference_frames(1.09, noise=0.0, n_per_kind=64, seed=0)
    kinds = {r.kind for r in refs}
    assert kinds == set(REFERENCE_KINDS)
    fs = FeatureSet(SETS).fit(make_lattice("fcc", 4, nn_distance=1.09))
    q6 = {r.kind: fs.transform(r.frame).q6[r.rows] for r in refs}
    # perfect lattices: the published averaged q6 (fcc 0.5745, hcp 0.4848 with 12 neighbours)
    np.testing.assert_allclose(q6["fcc"], 0.57452, atol=1e-4)
    np.testing.assert_allclose(q6["hcp"], 0.48476, atol=1e-4)
    # a liquid has no long-range bond order: averaged q6 well below any crystal's
    assert q6["liquid"].mean() < 0.25


def test_one_phase_per_frame_gives_one_structure_per_phase(phases):
    frames, truth, fs, feats, refs = phases
    model, labels = fit_structures(feats, [f.ids for f in frames], refs, feature_sets=SETS)
    got = np.concatenate([_phase(n) for n in _names(model, labels)])
    acc = np.mean(got == np.concatenate(truth))
    assert acc >= 0.95, acc
    # each crystal frame is dominated by the structure of its own name
    for names, tr in zip(_names(model, labels), truth):
        kind = tr[0]
        if kind in CRYSTAL_NAMES:
            assert np.mean(names == kind) > 0.9, (kind, np.unique(names, return_counts=True))


def test_same_seed_same_labels_and_frame_range_keeps_names(phases):
    frames, truth, fs, feats, refs = phases
    ids = [f.ids for f in frames]
    m1, l1 = fit_structures(feats, ids, refs, feature_sets=SETS, seed=3)
    m2, l2 = fit_structures(feats, ids, refs, feature_sets=SETS, seed=3)
    for a, b in zip(l1, l2):
        np.testing.assert_array_equal(a, b)
    assert m1.names == m2.names
    # drop the first half of the frames: the structures keep their names (ids are canonical)
    half = len(frames) // 2
    m3, l3 = fit_structures(feats[half:], ids[half:], refs, feature_sets=SETS, seed=3)
    a = np.concatenate(_names(m1, l1[half:]))
    b = np.concatenate(_names(m3, l3))
    assert np.mean(a == b) >= 0.95
    for name in STRUCTURE_NAMES:
        assert m1.names.index(name) == m3.names.index(name)


def test_ideal_and_thermalised_crystals_get_their_own_names(phases):
    _, _, fs, _, refs = phases
    frames = [make_lattice(k, c, nn_distance=1.09, noise=n, seed=1)
              for k, c in (("fcc", 4), ("hcp", (4, 3, 3)), ("bcc", 5)) for n in (0.0, 0.06)]
    feats = [fs.transform(f).sets for f in frames]
    model, labels = fit_structures(feats, [f.ids for f in frames], refs, feature_sets=SETS)
    majority = [np.unique(n, return_counts=True) for n in _names(model, labels)]
    top = [v[c.argmax()] for v, c in majority]
    assert top == ["fcc", "fcc", "hcp", "hcp", "bcc", "bcc"]


def test_references_must_match_the_feature_columns(phases):
    frames, _, fs, feats, refs = phases
    x, kinds = refs
    with pytest.raises(ValueError, match="feature columns"):
        fit_structures(feats, [f.ids for f in frames], (x[:, :2], kinds), feature_sets=SETS)
