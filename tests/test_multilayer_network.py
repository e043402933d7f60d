"""Building the multilayer network: edges, kernels, ragged frames, microstates, bad input."""
import numpy as np
import numpy.testing as npt
import pytest
from scipy.spatial.distance import cdist

from multilayer.network.graph import assign_microstates, build_network, knn_kernel_edges
from multilayer.network.synthetic import LazyBlobFrames, planted_blobs


def test_knn_kernel_edges_against_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    k = 5
    e, w = knn_kernel_edges(x, k)
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    sigma = np.sort(d, axis=1)[:, k - 1]
    want = {(min(i, j), max(i, j)) for i in range(60) for j in nn[i]}
    assert set(map(tuple, e.tolist())) == want                  # union of kNN relations
    npt.assert_allclose(w, np.exp(-d[e[:, 0], e[:, 1]] ** 2 / (sigma[e[:, 0]] * sigma[e[:, 1]])),
                        rtol=1e-12)
    assert np.all((w > 0) & (w <= 1))


def test_large_frames_use_the_tree_path_identically():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2100, 3))                             # > 2048 rows: sklearn tree
    e, w = knn_kernel_edges(x, 4)
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :4]
    want = {(min(i, j), max(i, j)) for i in range(len(x)) for j in nn[i]}
    assert set(map(tuple, e.tolist())) == want                  # no exact ties in random data


def test_atom_network_structure():
    feats, ids, _ = planted_blobs(80, 5, seed=0)
    net = build_network(feats, ids, k=6)
    assert net.nodes == "atoms" and net.n_nodes == 400 and net.n_frames == 5
    npt.assert_array_equal(net.frame_offsets, np.arange(0, 401, 80))
    npt.assert_array_equal(net.node_weight, 1.0)
    # inter edges: each atom to itself one frame later
    assert len(net.inter_edges) == 4 * 80
    e = net.inter_edges
    npt.assert_array_equal(net.node_index[e[:, 0]], net.node_index[e[:, 1]])
    npt.assert_array_equal(net.node_frame[e[:, 1]], net.node_frame[e[:, 0]] + 1)
    # intra edges stay inside a frame
    npt.assert_array_equal(net.node_frame[net.intra_edges[:, 0]],
                           net.node_frame[net.intra_edges[:, 1]])
    adj = net.adjacency(0.5)
    assert abs(adj - adj.T).max() == 0
    assert adj.sum() == pytest.approx(2 * (net.intra_weights.sum() + 0.5 * len(e)))


def test_pooled_standardisation():
    rng = np.random.default_rng(0)
    feats = [rng.normal(10 * t, 1 + t, size=(50, 2)) for t in range(3)]
    net = build_network(feats, np.arange(50), k=4)
    pooled = np.concatenate(feats)
    npt.assert_allclose(net.transform.mean, pooled.mean(axis=0), rtol=1e-5)
    npt.assert_allclose(net.transform.scale, pooled.std(axis=0), rtol=1e-5)


def test_ragged_frames_matched_by_id():
    rng = np.random.default_rng(0)
    ids = [np.arange(0, 30), np.arange(5, 40), np.arange(10, 40)[::-1]]   # unsorted last frame
    feats = [rng.normal(size=(len(i), 3)) for i in ids]
    net = build_network(feats, ids, k=4)
    npt.assert_array_equal(net.atom_ids, np.arange(40))
    assert len(net.inter_edges) == 25 + 30                     # shared ids between frames
    labels = net.atom_labels(np.arange(net.n_nodes))
    assert labels.shape == (3, 40)
    npt.assert_array_equal(labels[0, 30:], -1)                 # absent atoms are -1
    npt.assert_array_equal(labels[2, :10], -1)
    # a node's label lands in its atom's column
    t2 = net.frame_labels(labels, 2)
    npt.assert_array_equal(net.node_index[t2], ids[2])


def test_feature_sets_by_name():
    rng = np.random.default_rng(0)
    frames = [{"q": rng.normal(size=(20, 3)), "nmap": rng.normal(size=(20, 2, 4, 4)),
               "junk": np.full((20, 1), np.nan)} for _ in range(2)]
    net = build_network(frames, np.arange(20), feature_sets=["q", "nmap"], k=3)
    assert len(net.transform.mean) == 3 + 32                  # the (2, 4, 4) maps flattened
    # balance_sets: each set gets unit total variance after scaling
    assert net.transform.scale[5] / net.transform.scale[0] == pytest.approx(
        np.sqrt(32 / 3) * frames[0]["nmap"].std() / frames[0]["q"].std(), rel=0.3)


def test_microstate_network_counts_and_flows():
    frames = LazyBlobFrames(3000, 6, n_features=4, seed=0)
    net = build_network(frames, np.arange(3000), nodes="microstates", n_microstates=40,
                        sample_size=5000, k=5, seed=0)
    assert net.nodes == "microstates" and net.codebook.shape == (40, 4)
    # node weights count every atom of every frame once
    per_frame = np.bincount(net.node_frame, net.node_weight)
    npt.assert_array_equal(per_frame, 3000)
    # interslice weights: every atom present in two consecutive frames moves somewhere
    frames_of_edges = net.node_frame[net.inter_edges[:, 0]]
    npt.assert_array_equal(np.bincount(frames_of_edges, net.inter_weights), 3000)
    # assignments are the nearest centres (brute force, float64)
    x = net.transform(frames[2])
    brute = cdist(x, net.codebook).argmin(axis=1)
    assert np.mean(brute == net.assignments[2]) > 0.999        # float32 near-ties only
    # atom labels from node labels, through the assignments
    labels = net.atom_labels(net.node_index.copy())
    npt.assert_array_equal(labels[2], net.assignments[2])


def test_microstate_build_is_seeded():
    frames = LazyBlobFrames(1000, 3, n_features=3, seed=2)
    a = build_network(frames, np.arange(1000), nodes="microstates", n_microstates=20, seed=5,
                      sample_size=2000)
    b = build_network(frames, np.arange(1000), nodes="microstates", n_microstates=20, seed=5,
                      sample_size=2000)
    npt.assert_array_equal(a.codebook, b.codebook)
    npt.assert_array_equal(a.intra_edges, b.intra_edges)


def test_assign_matmul_and_tree_agree():
    from scipy.spatial import cKDTree
    rng = np.random.default_rng(0)
    c = rng.normal(size=(50, 5)).astype(np.float32)
    x = rng.normal(size=(3000, 5)).astype(np.float32)
    a = assign_microstates(x, c, batch_size=700)
    b = assign_microstates(x, c, tree=cKDTree(c))
    assert np.mean(a == b) > 0.999


def test_nan_features_rejected():
    feats, ids, _ = planted_blobs(40, 3, seed=0)
    feats[1] = feats[1].copy()
    feats[1][7, 2] = np.nan
    with pytest.raises(ValueError, match=r"features\[1\] contains NaN or inf \(first at row 7\)"):
        build_network(feats, ids)


def test_non_overlapping_ids_rejected():
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(10, 2)) for _ in range(3)]
    with pytest.raises(ValueError, match="ids of frames 1 and 2 do not overlap"):
        build_network(feats, [np.arange(10), np.arange(5, 15), np.arange(100, 110)])


@pytest.mark.parametrize("kwargs,match", [
    ({"nodes": "frames"}, "nodes"),
    ({"k": 0}, "k"),
    ({"metric": "jaccard"}, "metric"),
    ({"nodes": "microstates", "n_microstates": 1}, "n_microstates"),
    ({"feature_sets": ["q"]}, "feature_sets"),
])
def test_bad_parameters(kwargs, match):
    feats, ids, _ = planted_blobs(40, 3, seed=0)
    with pytest.raises(ValueError, match=match):
        build_network(feats, ids, **kwargs)


def test_bad_shapes():
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(10, 2)), rng.normal(size=(10, 3))]
    with pytest.raises(ValueError, match=r"features\[1\] has 3 feature columns"):
        build_network(feats, np.arange(10))
    with pytest.raises(ValueError, match=r"features\[0\] has 10 rows but ids\[0\] has 9"):
        build_network(feats, [np.arange(9), np.arange(10)])
    with pytest.raises(ValueError, match="duplicate"):
        build_network(feats, [np.zeros(10, int), np.arange(10)])
    with pytest.raises(ValueError, match="ids has 1 frames"):
        build_network(feats, [np.arange(10)])
    with pytest.raises(ValueError, match="features must be a sequence"):
        build_network(np.zeros((10, 2)), np.arange(10))


@pytest.mark.parametrize("kwargs", [{"n_components": 3}, {"metric": "manhattan"},
                                    {"metric": "cosine", "standardize": False}])
def test_options_keep_planted_blobs_apart(kwargs):
    from multilayer.network.leiden import leiden
    from multilayer.network.metrics import adjusted_rand
    feats, ids, truth = planted_blobs(400, 10, seed=1)
    net = build_network(feats, ids, k=8, **kwargs)
    if "n_components" in kwargs:
        assert net.transform.n_out == 3 and net.transform(feats[0]).shape == (400, 3)
    # 10-sigma blobs on orthogonal directions stay apart under any of these options
    assert adjusted_rand(leiden(net, seed=0), truth) >= 0.95


@pytest.mark.parametrize("m", [1, 2, 7, 300])
def test_nearest_two_centres_equal_two_argmin_passes(m):
    """The threaded, batched assignment (one padded GEMM per batch) is numpy's argmin of the
    squared distances, then argmin with the best masked -- ties (integer-valued distances, where
    float32 is exact) included."""
    rng = np.random.default_rng(m)
    x = rng.integers(0, 3, size=(5000, 4)).astype(np.float32)
    centres = rng.integers(0, 3, size=(m, 4)).astype(np.float32)
    d = x @ (-2.0 * centres.T) + (centres ** 2).sum(axis=1)
    best = d.argmin(axis=1)
    masked = d.copy()
    masked[np.arange(len(d)), best] = np.inf
    nearest, second = assign_microstates(x, centres, second=True, batch_size=777)
    np.testing.assert_array_equal(nearest, best)
    np.testing.assert_array_equal(second, masked.argmin(axis=1))
    np.testing.assert_array_equal(assign_microstates(x, centres), best)


def test_raw_into_out_and_the_moments_kernel_bit_for_bit():
    """``FeatureFrames.raw(t, out=...)`` joins the sets straight into ``out`` (the same
    bytes as a plain read); a wrong-shaped ``out`` is ignored, a bad frame still refused;
    the centred sum of squares kernel is NumPy's expression bit for bit."""
    from multilayer.network.features import _centred_squares, as_feature_frames

    rng = np.random.default_rng(2)
    feats = [{"p": rng.normal(size=(50, 3)).astype(np.float32),
              "q": rng.normal(size=(50, 4))}]          # float64 set: cast as raw() does
    frames = as_feature_frames(feats, None, ["p", "q"])
    out = np.empty((50, 7), np.float32)
    got = frames.raw(0, out=out)
    assert got is out and out.tobytes() == frames.raw(0).tobytes()
    assert frames.raw(0, out=np.empty((49, 7), np.float32)).shape == (50, 7)
    plain = as_feature_frames([feats[0]["p"]], None)
    out3 = np.empty((50, 3), np.float32)
    assert plain.raw(0, out=out3) is out3 and out3.tobytes() == feats[0]["p"].tobytes()
    bad = [{"p": np.where(np.arange(150).reshape(50, 3) == 100, np.inf, 1.0).astype(np.float32),
            "q": feats[0]["q"]}]
    with pytest.raises(ValueError, match="NaN or inf .first at row 33"):
        as_feature_frames(bad, None, ["p", "q"]).raw(0, out=out)
    for shape in [(1000, 9), (3, 1)]:
        x = (rng.normal(2, 3, shape) ** 3).astype(np.float32)
        m = x.mean(axis=0, dtype=np.float64).astype(np.float32)
        ref = ((x - m) ** 2).sum(axis=0, dtype=np.float64)
        assert _centred_squares(x, m).tobytes() == ref.tobytes()


def test_moments_of_column_blocks_equal_the_joined_frame_bit_for_bit():
    """``PooledMoments.add_blocks`` of a frame's feature sets (``FeatureFrames.raw_blocks``)
    gives the mean and variance that ``add`` of the joined frame gives, bit for bit."""
    from multilayer.network.features import PooledMoments, as_feature_frames

    rng = np.random.default_rng(8)
    feats = [{"a": rng.gamma(2.0, 1.0, (n, 5)).astype(np.float32),
              "b": rng.normal(size=(n, 3))} for n in (200, 170)]
    frames = as_feature_frames(feats, [np.arange(200), np.arange(170)],
                               ["a", "b"])
    joined, blocks = PooledMoments(8), PooledMoments(8)
    for t in range(2):
        joined.add(frames.raw(t))
        parts = frames.raw_blocks(t)
        assert [p.shape for p in parts] == [(len(frames.ids[t]), 5), (len(frames.ids[t]), 3)]
        assert all(p.dtype == np.float32 and p.flags.c_contiguous for p in parts)
        blocks.add_blocks(parts)
    assert joined.count == blocks.count == 370
    assert joined.mean.tobytes() == blocks.mean.tobytes()
    assert joined.m2.tobytes() == blocks.m2.tobytes()
