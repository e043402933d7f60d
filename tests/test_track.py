"""Community life cycles and atom histories on planted label sequences, against brute force."""
import itertools

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from sklearn.base import clone

from multilayer.tracking import lifecycle
from multilayer.tracking.histories import atom_histories, lifetimes, precursors, transition_matrix
from multilayer.tracking.lifecycle import CommunityTracker, community_events, community_sizes


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


def test_slow_steady_growth_is_reported():
    # 10000 atoms, 100 frames: community 0 grows linearly from 4 % to 15.6 % of the atoms
    # (by ~11.7 atoms a frame: at most 3 % a frame, under size_tol = 5 %), taking them from
    # the liquid 1; community 2 (1000 atoms) stays put.
    n, n_frames = 10000, 100
    size = [round(400 + 1160 * t / 99) for t in range(n_frames)]
    assert size[0] == 400 and size[-1] == 1560
    assert max(b / a for a, b in itertools.pairwise(size)) < 1.05  # no single frame passes 5 %
    labels = np.ones((n_frames, n), dtype=np.int64)
    labels[:, 9000:] = 2
    for t, s in enumerate(size):
        labels[t, :s] = 0
    events = community_events(labels)
    grow = events[events.event == "growth"]
    # By hand: a growth is reported when the size passes 1.05 x the size at the last
    # report, i.e. after ceil(0.05 ref / 11.72) frames: 2 frames from 400 (> 420 first at
    # t = 2, 423), ... 7 frames from 1443 (t = 89) to 1525 (t = 96): 24 growths, each at
    # least 5 % (1.05 ** 24 = 3.2 <= 1560 / 400 = 3.9 < 1.05 ** 28).
    frames = [2, 4, 6, 8, 11, 14, 17, 20, 23, 26, 30, 34, 38, 42, 46, 50, 55, 60, 65, 71,
              77, 83, 89, 96]
    assert grow.frame.tolist() == frames
    assert (grow.from_communities.tolist() == [[0]] * 24 and
            grow.to_communities.tolist() == [[0]] * 24)
    assert [s for s, in grow.to_sizes] == [size[t] for t in frames]
    assert [s for s, in grow.to_sizes][:3] == [423, 447, 470] and grow.to_sizes.iloc[-1] == [1525]
    assert [s for s, in grow.from_sizes] == [size[t - 1] for t in frames]  # sizes at t - 1
    npt.assert_allclose(grow.overlap, [size[t - 1] / size[t] for t in frames], rtol=1e-15)
    # the liquid (8600 -> 7440 atoms) contracts past 5 % twice:
    # 8166 < 0.95 x 8600, then 7756 < 0.95 x 8166
    shrink = events[events.event == "contraction"]
    assert shrink.frame.tolist() == [37, 72] and shrink.to_sizes.tolist() == [[8166], [7756]]
    assert set(shrink.from_communities.sum()) == {1}
    steady = events[(events.event == "continuation") & (events.from_communities.str[0] == 2)]
    assert len(steady) == n_frames - 1
    assert len(events) == 3 + 3 * (n_frames - 1)  # births, then one event per community
    # a jump past the tolerance is still reported where it happens (and resets the reference)
    jump = labels.copy()
    jump[50:, :size[50] + 100] = 0
    grow = community_events(jump).query("event == 'growth'")
    assert 50 in grow.frame.tolist() and grow.set_index("frame").to_sizes[50] == [size[50] + 100]


def random_sequence(seed, n_frames=8, n_ids=240, present=0.9):
    """Labels evolving by splits, merges, renames, absorptions and noise, with -1
    (unassigned) atoms; each frame holds a random ~90 % of the atoms, in random order."""
    rng = np.random.default_rng(seed)
    pool = np.arange(n_ids) * 3 + 11
    lab = rng.integers(-1, 6, n_ids)
    fresh = 6
    labels, ids = [], []
    for t in range(n_frames):
        if t:
            lab = lab.copy()
            for _ in range(rng.integers(1, 3)):
                comm = np.unique(lab[lab >= 0])
                members = np.flatnonzero(lab == rng.choice(comm))
                action = rng.integers(5)
                if action == 0:                        # split (a part of it gets a new label)
                    lab[members[:rng.integers(1, len(members) + 1) // 2]] = fresh
                elif action == 1:                      # merge into another community
                    lab[members] = rng.choice(comm)
                elif action == 2:                      # renamed (or reborn)
                    lab[members] = fresh
                elif action == 3:                      # grows from unassigned atoms
                    free = np.flatnonzero(lab < 0)
                    lab[free[:rng.integers(0, len(free) + 1)]] = lab[members[0]]
                else:                                  # shrinks
                    lab[members[:rng.integers(0, len(members) + 1)]] = -1
                fresh += 1
            comm = np.unique(lab[lab >= 0])
            noise = np.flatnonzero(rng.random(n_ids) < rng.uniform(0, 0.15))
            lab[noise] = rng.choice(np.append(comm, -1), len(noise))
        keep = rng.permutation(np.flatnonzero(rng.random(n_ids) < present))
        labels.append(lab[keep])
        ids.append(pool[keep])
    return labels, ids


def event_row(t, a, b, event, src, dst, overlap=None):
    """One row of the events table; ``overlap`` default: Jaccard of the unions of the id sets."""
    if overlap is None:
        x, y = set().union(*(a[p] for p in src)), set().union(*(b[q] for q in dst))
        overlap = len(x & y) / len(x | y)
    return t, event, src, dst, [len(a[p]) for p in src], [len(b[q]) for q in dst], overlap


def reference_events(labels, ids=None, *, threshold=0.3, size_tol=0.05, min_size=1):
    """Slow reference: Jaccard of the atom-id sets of every pair of communities of
    consecutive frames; growth judged against the size at the last reported event."""
    frames = []
    for t, lab in enumerate(labels):
        i = np.arange(len(lab)) if ids is None else ids if isinstance(ids, np.ndarray) else ids[t]
        comm = {}
        for atom, c in zip(i.tolist(), lab.tolist()):
            if c >= 0:
                comm.setdefault(c, set()).add(atom)
        frames.append({c: s for c, s in comm.items() if len(s) >= min_size})
    rows = [(0, "birth", [], [c], [], [len(s)], 0.0) for c, s in sorted(frames[0].items())]
    ref = {c: len(s) for c, s in frames[0].items()}
    for t in range(1, len(frames)):
        a, b = frames[t - 1], frames[t]
        jac = {(p, q): len(a[p] & b[q]) / len(a[p] | b[q]) for p in a for q in b}
        children = {p: [q for q in sorted(b) if jac[p, q] >= threshold] for p in a}
        parents = {q: [p for p in sorted(a) if jac[p, q] >= threshold] for q in b}

        for p in sorted(a):
            if not children[p]:
                rows.append(event_row(t, a, b, "death", [p], [], max(jac[p, q] for q in b)))
            elif len(children[p]) > 1:
                rows.append(event_row(t, a, b, "split", [p], children[p]))
        new_ref = {q: len(b[q]) for q in b}
        for q in sorted(b):
            src = parents[q]
            if not src:
                rows.append(event_row(t, a, b, "birth", [], [q], max(jac[p, q] for p in a)))
            elif len(src) > 1:
                rows.append(event_row(t, a, b, "merge", src, [q]))
            elif len(children[src[0]]) == 1:
                ratio = len(b[q]) / ref[src[0]]
                event = ("growth" if ratio > 1 + size_tol else
                         "contraction" if ratio < 1 - size_tol else "continuation")
                if event == "continuation":
                    new_ref[q] = ref[src[0]]
                rows.append(event_row(t, a, b, event, src, [q], jac[src[0], q]))
        ref = new_ref
    order = {e: k for k, e in enumerate(lifecycle.EVENT_TYPES)}
    rows.sort(key=lambda r: (r[0], order[r[1]], r[2] or r[3]))
    df = pd.DataFrame(rows, columns=list(community_events(labels[:1]).columns))
    return df.astype({"frame": np.int64, "overlap": np.float64})


def assert_same_events(got, want):
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for col in got.columns:
        assert got[col].tolist() == want[col].tolist(), col  # exact, overlaps included


@pytest.mark.parametrize("variant", ["ids", "sparse_ids", "row_index", "ragged", "shared_ids",
                                     "spread_labels", "big_labels", "sparse_table"])
def test_matches_slow_reference_on_random_sequences(variant, monkeypatch):
    if variant == "sparse_table":  # count label pairs by sorting keys instead of a dense table
        monkeypatch.setattr(lifecycle, "_DENSE_TABLE_LIMIT", 0)
        monkeypatch.setattr(lifecycle, "_DENSE_TABLE_PER_ATOM", 0)
    seen = set()
    for seed in range(12):
        labels, ids = random_sequence(seed, present=0.9 if variant in (
            "ids", "sparse_ids", "spread_labels", "big_labels", "sparse_table") else 1.0)
        if variant == "row_index":       # the same atoms in every frame, matched by row
            labels, ids = [lab[np.argsort(i)] for lab, i in zip(labels, ids)], None
        elif variant == "ragged":        # row-index ids, frames of different lengths
            cut = np.random.default_rng(seed).integers(200, 241, len(labels))
            labels, ids = [lab[np.argsort(i)][:c] for lab, i, c in zip(labels, ids, cut)], None
        elif variant == "shared_ids":    # one (unsorted) id array for every frame
            rank = np.argsort(np.argsort(ids[0]))
            labels = [lab[np.argsort(i)][rank] for lab, i in zip(labels, ids)]
            ids = ids[0]
        elif variant == "sparse_ids":    # ids far beyond the number of atoms (matched by sorting)
            ids = [i * 10**12 - 5 * 10**13 for i in ids]
        elif variant == "spread_labels":  # too many label values for one table: recoded first
            labels = [np.where(lab >= 0, lab * 1000 + 3, lab) for lab in labels]
        elif variant == "big_labels":    # label values far beyond the number of atoms
            labels = [np.where(lab >= 0, lab * 10**12 + 5, lab - 7) for lab in labels]
        kw = {"threshold": (0.2, 0.3, 0.5)[seed % 3], "size_tol": (0.05, 0.0, 0.1, 0.05)[seed % 4],
              "min_size": (1, 1, 4)[seed % 3]}
        got = community_events(labels, ids, **kw)
        assert_same_events(got, reference_events(labels, ids, **kw))
        seen |= set(got.event)
    assert seen == set(lifecycle.EVENT_TYPES)  # every kind of event was exercised


def test_events_independent_of_atom_order():
    for seed in range(4):
        labels, ids = random_sequence(seed)
        want = community_events(labels, ids)
        rng = np.random.default_rng(seed + 100)
        perms = [rng.permutation(len(lab)) for lab in labels]
        got = community_events([lab[p] for lab, p in zip(labels, perms)],
                               [i[p] for i, p in zip(ids, perms)])
        assert_same_events(got, want)
        # one shared id array: permuting it with every frame's rows changes nothing
        full, _ = random_sequence(seed, present=1.0)
        shared = np.arange(len(full[0])) * 5 + 3
        perm = rng.permutation(len(shared))
        assert_same_events(community_events([lab[perm] for lab in full], shared[perm]),
                           community_events(full, shared))
        assert_same_events(community_events(full, shared), community_events(full))


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
    for big in (1, 10**15):  # ids indexed by a lookup table, or sorted
        with pytest.raises(ValueError, match="frame 1: duplicate atom ids"):
            community_events([np.array([0, 1, 2])] * 2, [np.array([1, 2, 3]) * big,
                                                         np.array([3, 1, 3]) * big])
    with pytest.raises(ValueError, match="exactly one of crystal"):
        precursors(labels, ids)
