"""Routes to the crystal by structure name (multilayer.tracking.routes)."""
import numpy as np
import pytest

from multilayer.tracking.routes import route_summary

NAMES = ["liquid", "fcc", "hcp", "bcc", "ico"]


def _planted(n_atoms=400, n_frames=12, seed=0):
    """Atoms 0..199 go liquid -> ico (3 frames) -> fcc at a random frame; 200..299 go liquid
    -> hcp directly; the rest stay liquid.  Ids are shuffled in every frame."""
    rng = np.random.default_rng(seed)
    lab = np.zeros((n_frames, n_atoms), np.int64)
    for a in range(200):
        j = rng.integers(4, n_frames - 1)
        lab[j - 3:j, a] = 4
        lab[j:, a] = 1
    for a in range(200, 300):
        lab[rng.integers(2, n_frames - 1):, a] = 2
    ids, labels = [], []
    for t in range(n_frames):
        p = rng.permutation(n_atoms)
        ids.append(p + 100)
        labels.append(lab[t, p])
    return labels, ids, lab


def test_planted_routes_are_recovered():
    labels, ids, lab = _planted()
    r = route_summary(labels, ids, crystal=[1, 2], names=NAMES)
    assert r["atoms"] == 400 and r["n_crystal_atoms"] == 300 and "sampled_from" not in r
    pre = r["precursors"]
    assert pre["ico"]["last_before"] == pytest.approx(200 / 300, abs=1e-4)
    assert pre["ico"]["first_nonliquid"] == pytest.approx(200 / 300, abs=1e-4)
    assert pre["liquid"]["last_before"] == pytest.approx(100 / 300, abs=1e-4)
    assert set(pre) == {"liquid", "ico"}          # crystal structures are not precursors
    tr = r["transitions"]
    m = np.array(tr["matrix"])
    ico, fcc, liq = (tr["names"].index(k) for k in ("ico", "fcc", "liquid"))
    # every ico run lasts 3 frames and ends in fcc: 2 of 3 steps stay, 1 of 3 goes to fcc
    assert m[ico, ico] == pytest.approx(2 / 3, abs=1e-3) and m[ico, fcc] == pytest.approx(1 / 3, abs=1e-3)
    assert m[fcc, fcc] == 1.0 and m[liq].sum() == pytest.approx(1.0, abs=1e-3)
    # counts: atom moves out of each structure, from the planted table
    assert tr["counts"][ico] == int((lab[:-1] == 4).sum())


def test_sampled_routes_follow_a_seeded_subset_and_stay_close():
    labels, ids, _ = _planted(n_atoms=2000, n_frames=10, seed=1)
    full = route_summary(labels, ids, crystal=[1, 2], names=NAMES)
    a = route_summary(labels, ids, crystal=[1, 2], names=NAMES, max_rows=5000, seed=3)
    b = route_summary(labels, ids, crystal=[1, 2], names=NAMES, max_rows=5000, seed=3)
    assert a == b and a["atoms"] == 500 and a["sampled_from"] == 2000
    assert a["precursors"]["ico"]["last_before"] == pytest.approx(
        full["precursors"]["ico"]["last_before"], abs=0.08)


def test_a_run_without_crystal_has_no_precursors():
    labels = [np.zeros(10, np.int64), np.array([0] * 5 + [4] * 5)]
    r = route_summary(labels, [np.arange(10)] * 2, crystal=[1], names=NAMES)
    assert r["n_crystal_atoms"] == 0 and r["precursors"] == {}
    assert r["transitions"]["names"] == ["liquid", "ico"]
