"""Structures no reference describes (``[labels] novelty``,
multilayer.network.harmonic.novel_microstates): kept out of the anchors, structures of their
own."""
import numpy as np
import pytest

from descriptors import Frame, make_lattice
from multilayer.network.featureset import FeatureSet
from multilayer.network.harmonic import novel_microstates
from multilayer.network.structures import describe_references, fit_structures

SETS = ["steinhardt"]   # the default label set (LABEL_SETS)


def _names(model, labels):
    names = np.array(model.names)
    return [names[lab] for lab in labels]


@pytest.fixture(scope="module")
def distorted_with_diamond():
    """fcc, hcp, bcc and cubic diamond at sigma = 0.08 d with 30 % vacancies, one per frame,
    no shared ids, features fitted on the fcc frame (as ``analyze`` does): the crystals of
    a draw (seeds 3000-3003) on which diamond, which no reference describes, is named fcc
    without ``novelty`` (on four draws of six here it is an island of its own anyway)."""
    spec = [("fcc", 8), ("hcp", (10, 6, 6)), ("bcc", 10), ("diamond", 6)]
    frames, truth = [], []
    for k, (kind, cells) in enumerate(spec):
        f = make_lattice(kind, cells, noise=0.08, vacancies=0.3, seed=k + 3000)
        frames.append(Frame(f.positions, f.box, f.ids + 100_000 * k))
        truth.append(np.full(f.n_atoms, kind))
    fs = FeatureSet(SETS).fit(frames[0])
    feats = [fs.transform(f).sets for f in frames]
    return frames, truth, feats, describe_references(fs, sets=SETS)


def test_a_crystal_no_reference_describes_is_a_structure_of_its_own(distorted_with_diamond):
    frames, truth, feats, refs = distorted_with_diamond
    ids = [f.ids for f in frames]
    model, labels = fit_structures(feats, ids, refs, feature_sets=SETS)
    names = np.concatenate(_names(model, labels))
    truth = np.concatenate(truth)
    diamond = names[truth == "diamond"]
    v, c = np.unique(diamond, return_counts=True)
    top = v[c.argmax()]
    # diamond is one structure of its own, named as no reference ...
    assert top.startswith("other-") and c.max() / c.sum() > 0.95, dict(zip(v, c))
    # ... that holds none of the crystals the references describe
    assert np.mean(names[truth != "diamond"] == top) < 0.002
    # the model labels the fitted rows as the fit did, the novel structure included
    for x, lab in zip(feats, labels):
        np.testing.assert_array_equal(model.predict(x["steinhardt"]), lab)
    for kind in ("fcc", "hcp", "bcc"):
        assert np.mean(names[truth == kind] == kind) > 0.8, kind
    # without the rule, the same draw gives diamond to an anchor (fcc): what the rule is for
    model0, labels0 = fit_structures(feats, ids, refs, feature_sets=SETS, novelty=0)
    diamond0 = np.concatenate(_names(model0, labels0))[truth == "diamond"]
    assert not any(str(n).startswith("other-") for n in np.unique(diamond0))


def test_novel_microstates_are_invariant_to_rigid_motion_and_scale():
    rng = np.random.default_rng(3)
    kinds = np.repeat(["liquid", "fcc", "hcp", "bcc", "ico"], 40)
    centre = {k: rng.normal(scale=3.0, size=5) for k in np.unique(kinds)}
    z_ref = np.array([centre[k] for k in kinds]) + rng.normal(scale=0.3, size=(len(kinds), 5))
    pts = rng.normal(scale=6.0, size=(500, 5))
    got = novel_microstates(pts, z_ref, kinds)
    assert 0 < got.sum() < len(pts)           # some near the references, some far from all
    rot = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    shift = rng.normal(size=5)
    for a, b in ((z_ref @ rot + shift, pts @ rot + shift), (7.5 * z_ref, 7.5 * pts)):
        assert np.array_equal(novel_microstates(b, a, kinds), got)
    # the references themselves are never novel; a row order does not matter
    assert not novel_microstates(z_ref, z_ref, kinds).any()
    perm = rng.permutation(len(kinds))
    assert np.array_equal(novel_microstates(pts, z_ref[perm], kinds[perm]), got)


def test_blends_of_liquid_and_a_crystal_are_never_novel_and_off_switches():
    rng = np.random.default_rng(4)
    kinds = np.array(["liquid", "fcc", "hcp", "bcc"])
    z_ref = rng.normal(scale=2.0, size=(4, 6))
    lam = rng.uniform(size=(300, 1))
    for k in (1, 2, 3):
        blends = lam * z_ref[0] + (1 - lam) * z_ref[k]
        assert not novel_microstates(blends, z_ref, kinds).any()
    # just past half the largest liquid-crystal distance, straight away from the liquid
    far = max(np.linalg.norm(z_ref[k] - z_ref[0]) for k in (1, 2, 3))
    away = -(z_ref[1:] - z_ref[0]).sum(axis=0)
    away /= np.linalg.norm(away)
    probe = z_ref[0] + 0.5 * far * away * np.array([[0.9], [1.1]])
    dist = np.linalg.norm(probe[:, None] - z_ref[None], axis=2).min(axis=1)
    assert np.array_equal(novel_microstates(probe, z_ref, kinds), dist > 0.5 * far)
    assert not novel_microstates(probe * 100, z_ref, kinds, novelty=0).any()
    # no liquid or no crystal among the references: off
    assert not novel_microstates(probe * 100, z_ref[1:], kinds[1:]).any()
    assert not novel_microstates(probe * 100, z_ref[:1], kinds[:1]).any()
    with pytest.raises(ValueError, match="novelty"):
        novel_microstates(probe, z_ref, kinds, novelty=-1)
