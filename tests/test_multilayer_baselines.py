"""Per-frame baselines, label matching and the comparison metrics."""
import numpy as np
import numpy.testing as npt
import pytest
from sklearn.metrics import adjusted_rand_score

from multilayer.learn.baselines import gmm_labels, hdbscan_labels, kmeans_labels
from multilayer.network.leiden import leiden
from multilayer.network.metrics import adjusted_rand, contingency, match_labels, matched_accuracy
from multilayer.network.graph import build_network
from multilayer.network.synthetic import planted_blobs


@pytest.fixture(scope="module")
def blobs():
    return planted_blobs(200, 6, seed=3)


# blobs 10 sigma apart: GMM and k-means are exact; HDBSCAN calls a few tail atoms noise
# (a cluster of their own here), 5 % of a frame at most
@pytest.mark.parametrize("method,bar", [("gmm", 1.0), ("kmeans", 1.0), ("hdbscan", 0.95)])
def test_baselines_find_the_blobs_in_each_frame(blobs, method, bar):
    feats, ids, truth = blobs
    if method == "gmm":
        labels = gmm_labels(feats, ids, n_components=range(1, 6))
    elif method == "kmeans":
        labels = kmeans_labels(feats, ids, n_clusters=3)
    else:
        labels = hdbscan_labels(feats, ids, min_cluster_size=10)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    for t in range(len(feats)):
        n_true = len(np.unique(truth[t]))
        if method == "kmeans" and n_true != 3:
            continue                                        # k fixed at 3
        assert matched_accuracy(labels[t], truth[t]) >= bar


def test_gmm_bic_picks_the_number_of_blobs(blobs):
    feats, ids, truth = blobs
    labels = gmm_labels(feats, ids, n_components=range(1, 7))
    npt.assert_array_equal(labels.max(axis=1) + 1, [len(np.unique(t)) for t in truth])


def test_match_labels_to_multilayer(blobs):
    feats, ids, truth = blobs
    ml = leiden(build_network(feats, ids, k=8), seed=0)
    per_frame = gmm_labels(feats, ids, n_components=range(1, 6))
    matched = match_labels(per_frame, ml)
    # after per-frame Hungarian matching, the baseline speaks the multilayer labels
    assert np.mean(matched == ml) >= 0.99                   # both exact on 10-sigma blobs
    assert matched.shape == ml.shape


def test_match_labels_extra_clusters_get_fresh_labels():
    ref = np.array([[0, 0, 1, 1, 1, -1]])
    lab = np.array([[5, 5, 7, 8, 8, -1]])
    out = match_labels(lab, ref)
    npt.assert_array_equal(out, [[0, 0, 2, 1, 1, -1]])      # 7 unmatched -> fresh label 2


def test_adjusted_rand_matches_sklearn():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 300), rng.integers(0, 5, 300)
    assert adjusted_rand(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    # integer weights are the same as repeating entries
    w = rng.integers(1, 4, 300)
    assert adjusted_rand(a, b, w) == pytest.approx(
        adjusted_rand_score(np.repeat(a, w), np.repeat(b, w)), abs=1e-12)


def test_absent_entries_ignored():
    table, la, lb = contingency([0, -1, 1], [1, 1, -1])
    npt.assert_array_equal(table, [[1.0]])
    assert matched_accuracy([[0, 1, -1]], [[3, 4, -1]]) == 1.0


def test_ragged_baseline_layout():
    rng = np.random.default_rng(0)
    ids = [np.arange(0, 30), np.arange(10, 40)]
    feats = [rng.normal(size=(30, 2)) for _ in ids]
    lab = kmeans_labels(feats, ids, n_clusters=2)
    assert lab.shape == (2, 40)
    npt.assert_array_equal(lab[0, 30:], -1)
    npt.assert_array_equal(lab[1, :10], -1)


@pytest.mark.parametrize("fn,kwargs,match", [
    (gmm_labels, {"n_components": [0, 2]}, "n_components"),
    (kmeans_labels, {"n_clusters": 0}, "n_clusters"),
    (hdbscan_labels, {"min_cluster_size": 1}, "min_cluster_size"),
])
def test_bad_parameters(blobs, fn, kwargs, match):
    feats, ids, _ = blobs
    with pytest.raises(ValueError, match=match):
        fn(feats, ids, **kwargs)


def test_nan_rejected(blobs):
    feats, ids, _ = blobs
    bad = [f.copy() for f in feats]
    bad[2][0, 0] = np.inf
    with pytest.raises(ValueError, match=r"features\[2\] contains NaN or inf"):
        kmeans_labels(bad, ids)
