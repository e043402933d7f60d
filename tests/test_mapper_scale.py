"""Mapper at scale: the microstate path against known answers and against the exact path."""
import networkx as nx
import numpy as np
import pytest

from multilayer.network.mapper import mapper
from multilayer.network.synthetic import LazyBlobFrames


def _time_lens(x, frames):
    return frames[:, None].astype(np.float64)


def _uniform_blobs(n_per=1000, n_frames=5, seed=0):
    """Three uniform cubes of side 4, 40 apart, at the same place in every frame: no
    tails, so every DBSCAN at the default eps sees three solid clusters."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0, 0], [40, 0, 0], [0, 40, 0]])
    lab = np.repeat(np.arange(3), n_per)
    return [centres[lab] + rng.uniform(0, 4, (len(lab), 3)) for _ in range(n_frames)], lab


def _points(d):
    return frozenset(zip(d["frames"].tolist(), d["rows"].tolist()))


# microstates resolve structures a few of their own spacings apart: ~10 per cube (30
# in all) merge these cubes, which are 2 standardised units apart, at their 5th neighbour
@pytest.mark.parametrize("n_microstates", [None, 300, 100])
def test_planted_blobs_along_time(n_microstates):
    x, lab = _uniform_blobs()
    # lens = frame index 0..4, 4 intervals at overlap 0.5: interval i = [i - 0.5, i + 1.5]
    # holds frames i and i + 1, so 3 blobs x 4 windows = 12 nodes; windows i and i + 1
    # share frame i + 1: 3 x 3 edges of 1000 shared points; one component per blob
    g = mapper(x, lens=_time_lens, cover=(4, 0.5), n_microstates=n_microstates)
    assert ("n_microstates" in g.graph) == (n_microstates is not None)   # 15000 > 10 x 100
    assert g.number_of_nodes() == 12 and g.number_of_edges() == 9
    expected = {frozenset((f, r) for f in (i, i + 1) for r in np.flatnonzero(lab == b).tolist())
                for i in range(4) for b in range(3)}
    assert {_points(d) for _, d in g.nodes(data=True)} == expected
    assert {w for _, _, w in g.edges(data="weight")} == {1000}
    assert nx.number_connected_components(g) == 3


def _match(g_from, g_to):
    """Node of ``g_to`` with the highest Jaccard overlap with every node of ``g_from`` (not
    the largest intersection: a 3-point node inside a big one's overlap would tie)."""
    to = {v: _points(d) for v, d in g_to.nodes(data=True)}
    return {u: max(to, key=lambda v: len(_points(d) & to[v]) / len(_points(d) | to[v]))
            for u, d in g_from.nodes(data=True)}


@pytest.mark.parametrize("seed", [0, 4])
def test_microstates_agree_with_exact(seed):
    frames = LazyBlobFrames(1500, 10, n_features=8, separation=14.0, seed=0)
    feats = [frames[t] for t in range(10)]
    exact = mapper(feats, min_points=3, n_microstates=None)
    fast = mapper(feats, min_points=3, n_microstates=500, seed=seed)   # 15000 > 10 x 500
    assert "n_microstates" not in exact.graph and fast.graph["n_microstates"] == 500
    # same graph: best-overlap matching is a bijection that maps edges onto edges
    m = _match(exact, fast)
    assert sorted(m.values()) == sorted(fast.nodes)
    assert {frozenset((m[a], m[b])) for a, b in exact.edges} == {frozenset(e) for e in fast.edges}
    # same members, up to points within eps of a cluster edge that a microstate mean
    # puts on the other side: <= 2% of any node or 2 points in a fringe node of a few
    # (measured: 2 in a 9-point node, otherwise <= 1 point in 60), 0.1 % of all members
    off = 0
    for u, v in m.items():
        a, b = _points(exact.nodes[u]), _points(fast.nodes[v])
        assert len(a ^ b) <= max(2, 0.02 * len(a))
        off += len(a ^ b)
    assert off <= 0.001 * sum(len(_points(d)) for _, d in exact.nodes(data=True))


def test_same_seed_same_graph():
    frames = LazyBlobFrames(600, 10, n_features=8, separation=14.0, seed=1)
    feats = [frames[t] for t in range(10)]
    g1, g2 = (mapper(feats, n_microstates=200, seed=7) for _ in range(2))
    assert g1.graph["n_microstates"] == 200
    assert list(g1.nodes) == list(g2.nodes)
    for v in g1.nodes:
        np.testing.assert_array_equal(g1.nodes[v]["frames"], g2.nodes[v]["frames"])
        np.testing.assert_array_equal(g1.nodes[v]["rows"], g2.nodes[v]["rows"])
    assert list(g1.edges(data="weight")) == list(g2.edges(data="weight"))


def test_edge_weights_are_shared_points():
    frames = LazyBlobFrames(600, 10, n_features=8, separation=14.0, seed=2)
    g = mapper([frames[t] for t in range(10)], n_microstates=200)
    pts = {v: _points(d) for v, d in g.nodes(data=True)}
    expected = {(a, b): len(pts[a] & pts[b]) for a in pts for b in pts
                if a < b and pts[a] & pts[b]}
    assert {(a, b): w for a, b, w in g.edges(data="weight")} == expected


def test_sampled_attribute():
    x, _ = _uniform_blobs(n_per=400)                                # 5 x 1200 points
    g = mapper(x, max_points=1000, lens=_time_lens, cover=(4, 0.5))
    assert g.graph["sampled"] == {"points": 1000, "of": 6000}
    assert len(set().union(*[_points(d) for _, d in g.nodes(data=True)])) <= 1000
    full = mapper(x, max_points=6000, lens=_time_lens, cover=(4, 0.5))
    assert "sampled" not in full.graph
    # a lens array covers all points; the sample takes its rows with the points
    lens = np.repeat(np.arange(5.0), 1200)[:, None]
    g_arr = mapper(x, max_points=1000, lens=lens, cover=(4, 0.5))
    assert g_arr.graph["sampled"]["points"] == 1000
    assert {_points(d) for _, d in g_arr.nodes(data=True)} == \
        {_points(d) for _, d in g.nodes(data=True)}


def test_bad_parameters():
    x, _ = _uniform_blobs(n_per=10)
    with pytest.raises(ValueError, match="n_microstates"):
        mapper(x, n_microstates=1)
    with pytest.raises(ValueError, match="lens has 7 rows for 150 points"):
        mapper(x, lens=np.zeros((7, 1)))


def test_wide_features_are_coded_on_their_leading_axes():
    """The same cubes rotated into 40 dimensions (distances unchanged): the codebook is fitted
    on 16 principal axes, the graph is the planted one."""
    x, lab = _uniform_blobs()
    q = np.linalg.qr(np.random.default_rng(1).standard_normal((40, 40)))[0]
    wide = [np.hstack([f, np.zeros((len(f), 37))]) @ q for f in x]
    g = mapper(wide, lens=_time_lens, cover=(4, 0.5), n_microstates=300)
    assert g.graph["n_microstates"] <= 300
    expected = {frozenset((f, r) for f in (i, i + 1) for r in np.flatnonzero(lab == b).tolist())
                for i in range(4) for b in range(3)}
    assert {_points(d) for _, d in g.nodes(data=True)} == expected
    assert nx.number_connected_components(g) == 3


def test_member_sums_are_numpys_bincount_bit_for_bit():
    """The microstate means of a cover element come from one numba pass; it must add in the
    order np.bincount does, so the Mapper graph does not change."""
    from multilayer.network.mapper import _member_sums

    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 6)).astype(np.float32)
    code = rng.integers(0, 250, 4000).astype(np.int64)
    idx = np.sort(rng.choice(4000, 2500, replace=False))
    count, sums = _member_sums(code, x, idx, 260)
    np.testing.assert_array_equal(count, np.bincount(code[idx], minlength=260))
    for j in range(x.shape[1]):
        assert sums[:, j].tobytes() == np.bincount(code[idx], weights=x[idx, j],
                                                   minlength=260).tobytes()


def test_nearest_code_probes_cells():
    """All cells probed: the nearest centre, as a brute-force argmin; fewer: the nearest
    among the probed cells' centres; the same codes at 1 and 2 threads."""
    import numba

    from multilayer.network.mapper import _nearest_code
    rng = np.random.default_rng(3)
    z = rng.normal(size=(3000, 5))
    fine = rng.normal(size=(120, 5))
    cell = rng.integers(0, 12, 120)
    order = np.argsort(cell, kind="stable")
    fine = fine[order]
    start = np.r_[0, np.cumsum(np.bincount(cell, minlength=12))].astype(np.int64)
    coarse = np.stack([fine[start[b]:start[b + 1]].mean(axis=0) for b in range(12)])
    d2 = ((z[:, None, :] - fine[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(_nearest_code(z, coarse, fine, start, 12), d2.argmin(1))
    code = _nearest_code(z, coarse, fine, start, 2)
    dc = ((z[:, None, :] - coarse[None]) ** 2).sum(-1)
    probed = np.argsort(dc, axis=1, kind="stable")[:, :2]
    of = np.searchsorted(start, np.arange(120), side="right") - 1      # cell of each centre
    allowed = (of[None, :] == probed[:, :1]) | (of[None, :] == probed[:, 1:2])
    np.testing.assert_array_equal(code, np.where(allowed, d2, np.inf).argmin(1))
    assert (code != d2.argmin(1)).any()          # 2 of 12 cells: not always the nearest
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(_nearest_code(z, coarse, fine, start, 2), code)
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("max_points", [10**9, 700])
def test_stack_is_the_per_frame_transform_bit_for_bit(max_points):
    """Mapper's points, read into one array and standardised in place, are what the pooled
    transform of each frame's (drawn) rows gives, concatenated: two feature sets of
    different widths (balanced), ragged frames, with and without a draw."""
    from multilayer.network.features import PooledMoments, as_feature_frames
    from multilayer.network.mapper import _stack

    rng = np.random.default_rng(5)
    sizes = [300, 410, 290]
    feats = [{"a": rng.gamma(2.0, 1.5, (n, 7)).astype(np.float32),
              "b": rng.normal(3.0, 0.2, (n, 2)).astype(np.float32)} for n in sizes]
    ids = [rng.permutation(500)[:n] for n in sizes]
    frames = as_feature_frames(feats, ids, ["a", "b"])
    x, fr, rows, pick = _stack(frames, True, max_points, 11)
    assert (pick is None) == (max_points > sum(sizes))
    moments = PooledMoments(9)
    for t in range(3):
        moments.add(frames.raw(t))
    transform = moments.transform(set_widths=frames.set_widths)
    expected = np.concatenate([transform(frames.raw(t)[rows[fr == t]]) for t in range(3)])
    assert x.dtype == np.float32 and x.tobytes() == expected.tobytes()
    assert np.array_equal(fr, np.repeat(np.arange(3), np.bincount(fr, minlength=3)))
    if pick is not None:
        assert len(x) == max_points
        starts = np.r_[0, np.cumsum(sizes)]
        np.testing.assert_array_equal(rows + starts[fr], pick)
