"""Community life cycles and atom histories on planted label sequences, against brute force."""
import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from sklearn.base import clone

from multilayer.tracking.lifecycle import (CommunityTracker, atom_histories, community_events, community_sizes,
                              lifetimes, precursors, transition_matrix)


def frame_labels(spec, rng):
    """spec: {label: list of (lo, hi) id ranges} -> (ids, labels), atoms in random order."""
    ids = np.concatenate([np.arange(lo, hi) for ranges in spec.values() for lo, hi in ranges])
    lab = np.concatenate([np.full(hi - lo, c) for c, ranges in spec.items() for lo, hi in ranges])
    order = rng.permutation(len(ids))
    return ids[order] * 7 + 1000, lab[order]  # arbitrary, non-contiguous ids


# A grows (f1), splits into A and C (f2), C merges into B (f3), A dies and D is born (f4)
# while the liquid L shrinks, stays, then grows; atoms 200-214 only exist in f4.
PLANTED = [
    {0: [(0, 40)], 1: [(100, 130)], 9: [(40, 100), (130, 200)]},
    {0: [(0, 50)], 1: [(100, 130)], 9: [(50, 100), (130, 200)]},
    {0: [(0, 25)], 2: [(25, 50)], 1: [(100, 130)], 9: [(50, 100), (130, 200)]},
    {0: [(0, 25)], 1: [(25, 50), (100, 130)], 9: [(50, 100), (130, 200)]},
    {1: [(25, 50), (100, 130)], 3: [(200, 215)], 9: [(0, 25), (50, 100), (130, 200)]},
]
EXPECTED = {
    (0, "birth", (), (0,)), (0, "birth", (), (1,)), (0, "birth", (), (9,)),
    (1, "growth", (0,), (0,)), (1, "continuation", (1,), (1,)), (1, "contraction", (9,), (9,)),
    (2, "split", (0,), (0, 2)), (2, "continuation", (1,), (1,)), (2, "continuation", (9,), (9,)),
    (3, "merge", (1, 2), (1,)), (3, "continuation", (0,), (0,)), (3, "continuation", (9,), (9,)),
    (4, "death", (0,), ()), (4, "birth", (), (3,)), (4, "continuation", (1,), (1,)),
    (4, "growth", (9,), (9,)),
}


def planted(seed=0):
    rng = np.random.default_rng(seed)
    pairs = [frame_labels(spec, rng) for spec in PLANTED]
    return [p[1] for p in pairs], [p[0] for p in pairs]


def as_set(events):
    return {(r.frame, r.event, tuple(r.from_communities), tuple(r.to_communities))
            for r in events.itertuples()}


def test_planted_life_cycle_recovered_exactly():
    labels, ids = planted()
    events = community_events(labels, ids, threshold=0.3)
    assert as_set(events) == EXPECTED
    assert len(events) == len(EXPECTED)
    assert events.frame.is_monotonic_increasing
    row = events[events.event == "merge"].iloc[0]
    assert row.from_sizes == [30, 25] and row.to_sizes == [55]
    assert row.overlap == pytest.approx(1.0)  # the union of B and C is exactly the new B
    split = events[events.event == "split"].iloc[0]
    assert split.to_sizes == [25, 25] and split.overlap == pytest.approx(1.0)
    death = events[events.event == "death"].iloc[0]
    assert death.overlap == pytest.approx(25 / 145)  # best match below threshold: absorbed by L


def test_events_invariant_to_renaming_and_atom_order():
    labels, ids = planted(seed=1)
    rename = {0: 40, 1: 41, 2: 42, 3: 43, 9: 5}
    renamed = [np.vectorize(rename.get)(lab) for lab in labels]
    got = as_set(community_events(renamed, ids))
    want = {(f, e, tuple(sorted(rename[c] for c in a)), tuple(sorted(rename[c] for c in b)))
            for f, e, a, b in EXPECTED}
    assert got == want


def test_threshold_turns_split_into_death_and_births():
    labels, ids = planted()
    events = community_events(labels, ids, threshold=0.6)  # split halves overlap 0.5 < 0.6
    got = as_set(events[events.frame == 2])
    assert (2, "death", (0,), ()) in got and (2, "birth", (), (2,)) in got
    assert (2, "birth", (), (0,)) in got


def test_unassigned_and_min_size_ignored():
    lab = [np.array([0, 0, 0, -1, 5]), np.array([0, 0, 0, -1, -1])]
    events = community_events(lab, min_size=2)  # community 5 (1 atom) is ignored
    assert as_set(events) == {(0, "birth", (), (0,)), (1, "continuation", (0,), (0,))}


def test_sizes_and_histories():
    labels, ids = planted()
    sizes = community_sizes(labels, ids)
    assert sizes.loc[3].to_dict() == {0: 25, 1: 55, 2: 0, 3: 0, 9: 120}
    hist, atom_ids = atom_histories(labels, ids)
    assert hist.shape == (5, 215) and np.all(np.diff(atom_ids) > 0)
    k = np.searchsorted(atom_ids, 200 * 7 + 1000)
    assert hist[:, k].tolist() == [-1, -1, -1, -1, 3]  # absent until frame 4
    k = np.searchsorted(atom_ids, 45 * 7 + 1000)
    assert hist[:, k].tolist() == [9, 0, 2, 1, 1]


def brute_transitions(labels, ids, lag, comm):
    m = np.zeros((len(comm), len(comm)))
    for t in range(len(labels) - lag):
        a = dict(zip(ids[t].tolist(), labels[t].tolist()))
        for i, lb in zip(ids[t + lag].tolist(), labels[t + lag].tolist()):
            if i in a and a[i] >= 0 and lb >= 0:
                m[comm.index(a[i]), comm.index(lb)] += 1
    return m


@pytest.mark.parametrize("lag", [1, 2])
def test_transition_matrix_brute_force(lag):
    rng = np.random.default_rng(3)
    ids = [np.sort(rng.choice(300, 250, replace=False)) for _ in range(6)]
    labels = [rng.integers(-1, 4, len(i)) for i in ids]
    counts, comm = transition_matrix(labels, ids, lag=lag, normalize=False)
    assert comm.tolist() == [0, 1, 2, 3]
    npt.assert_array_equal(counts, brute_transitions(labels, ids, lag, [0, 1, 2, 3]))
    probs, _ = transition_matrix(labels, ids, lag=lag)
    npt.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)  # row-stochastic, float64 sums


def test_lifetimes_brute_force():
    rng = np.random.default_rng(4)
    hist = rng.integers(-1, 3, size=(12, 40))
    runs = lifetimes(hist)
    want = []
    for a in range(40):
        t = 0
        while t < 12:
            s = t
            while t + 1 < 12 and hist[t + 1, a] == hist[s, a]:
                t += 1
            if hist[s, a] >= 0:
                want.append((a, hist[s, a], s, t - s + 1, s == 0 or t == 11))
            t += 1
    got = [tuple(r) for r in runs.itertuples(index=False)]
    assert got == want


def test_precursors_known_answer():
    # 4 atoms; crystal = community 2 at the end; liquid = 0
    hist = np.array([[0, 0, 0, 0],
                     [1, 3, 0, 0],
                     [1, 2, 2, 0],
                     [2, 1, 2, 0],
                     [2, 2, 2, 0]])
    tab = precursors(hist, crystal=[2]).set_index("community")
    assert tab.attrs["n_atoms"] == 3
    # atom 0: pre-join [0,1,1]; atom 1: [0,3,2,1] (the last crystal run starts at 4); atom 2: [0,0]
    npt.assert_allclose(tab.time_fraction, [(1 / 3 + 1 / 4 + 1) / 3, (2 / 3 + 1 / 4) / 3,
                                            (1 / 4) / 3, (1 / 4) / 3], rtol=1e-12)
    npt.assert_allclose(tab.first_nonliquid, [0, 1 / 3, 0, 1 / 3], rtol=1e-12)
    npt.assert_allclose(tab.last_before, [1 / 3, 2 / 3, 0, 0], rtol=1e-12)
    masks = [np.isin(h, [2]) for h in hist]  # the same criterion as a mask
    pd.testing.assert_frame_equal(precursors(hist, mask=masks), precursors(hist, crystal=[2]))


def test_tables_write_parquet(tmp_path):
    labels, ids = planted()
    for name, df in [("events", community_events(labels, ids)), ("runs", lifetimes(labels, ids))]:
        df.to_parquet(tmp_path / f"{name}.parquet")
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        assert len(back) == len(df) and list(back.columns) == list(df.columns)
    back = pd.read_parquet(tmp_path / "events.parquet")
    assert list(back.from_communities.iloc[-1]) == list(community_events(labels, ids).from_communities.iloc[-1])


def test_estimator_contract_and_validation():
    labels, ids = planted()
    est = CommunityTracker(0.3, size_tol=0.05)
    assert clone(est).get_params() == est.get_params()
    assert est.fit(labels, ids) is est
    assert as_set(est.events_) == EXPECTED and est.sizes_.shape == (5, 5)
    with pytest.raises(ValueError, match="threshold"):
        community_events(labels, ids, threshold=1.5)
    with pytest.raises(ValueError, match="ids has 2 frames"):
        community_events(labels, ids[:2])
    with pytest.raises(ValueError, match="duplicate atom ids"):
        community_events([np.array([0, 1])], [np.array([3, 3])])
    with pytest.raises(ValueError, match="exactly one of crystal"):
        precursors(labels, ids)
