"""Frame-by-frame clustering baselines on the same features as the multilayer network.

Each frame is clustered on its own -- Gaussian mixture with the number of
components chosen by BIC (as in Becker et al. 2022), k-means, HDBSCAN -- after
the same pooled standardisation as :func:`multilayer.build_network`.  Their
labels mean nothing from one frame to the next; :func:`multilayer.network.metrics.match_labels`
renames them, frame by frame, to the multilayer communities they overlap most,
so the two can be compared atom by atom.

All functions return labels of shape (n_frames, n_atoms), int64, columns =
sorted union of atom ids (as :attr:`MultilayerNetwork.atom_ids`), -1 = absent.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils import check_scalar
from threadpoolctl import threadpool_limits

from ..network.features import as_feature_frames, fit_transform_stats
from ..network.metrics import match_labels

__all__ = ["gmm_labels", "kmeans_labels", "hdbscan_labels", "match_labels"]


def _per_frame(features, ids, feature_sets, standardize, fit_one, seed):
    frames = as_feature_frames(features, ids, feature_sets)
    transform, _, _ = fit_transform_stats(frames, standardize=standardize, sample_size=0)
    out = np.full((frames.n_frames, len(frames.atom_ids)), -1, dtype=np.int64)
    seeds = np.random.SeedSequence(seed).generate_state(frames.n_frames)
    for t in range(frames.n_frames):
        x = frames.raw(t)
        if len(x) == 0:
            continue
        order = np.argsort(frames.ids[t], kind="stable")        # row order does not matter
        lab = np.empty(len(x), dtype=np.int64)
        with threadpool_limits(limits=1):     # small per-frame fits: threads only contend
            lab[order] = fit_one(transform(x[order]), int(seeds[t]))
        out[t, frames.columns(t)] = lab
    return out


def gmm_labels(features, ids=None, *, n_components=range(1, 9), covariance_type="full",
               n_init=3, feature_sets=None, standardize=True, seed=0) -> np.ndarray:
    """Per-frame Gaussian mixture, the number of components chosen by BIC.

    Parameters
    ----------
    features, ids, feature_sets, standardize
        As in :func:`multilayer.build_network` (``ids=None``: same atoms in every frame).
    n_components : iterable of int
        Candidates; the one with the lowest BIC wins in each frame.
    covariance_type : {"full", "tied", "diag", "spherical"}
    n_init : int
        Restarts per fit (one k-means start can merge two blobs and split a third).
    seed : int

    Returns
    -------
    labels : ndarray (n_frames, n_atoms), int64

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = [np.r_[rng.normal(0, 1, (50, 2)), rng.normal(8, 1, (50, 2))] for _ in range(2)]
    >>> gmm_labels(x, n_components=[1, 2, 3]).max(axis=1).tolist()
    [1, 1]
    """
    from sklearn.mixture import GaussianMixture
    check_scalar(n_init, "n_init", Integral, min_val=1)
    candidates = [int(c) for c in n_components]
    if not candidates or min(candidates) < 1:
        raise ValueError(f"n_components must hold integers >= 1, got {list(n_components)!r}")

    def fit_one(x, s):
        best, best_bic = None, np.inf
        for c in candidates:
            if c > len(x):
                break
            gm = GaussianMixture(c, covariance_type=covariance_type, random_state=s,
                                 n_init=n_init, reg_covar=1e-5).fit(x)
            bic = gm.bic(x)
            if bic < best_bic:
                best, best_bic = gm, bic
        return best.predict(x)

    return _per_frame(features, ids, feature_sets, standardize, fit_one, seed)


def kmeans_labels(features, ids=None, *, n_clusters=3, feature_sets=None, standardize=True,
                  seed=0) -> np.ndarray:
    """Per-frame k-means (``n_init=4``), labels (n_frames, n_atoms) int64."""
    from sklearn.cluster import KMeans
    check_scalar(n_clusters, "n_clusters", Integral, min_val=1)

    def fit_one(x, s):
        k = min(n_clusters, len(x))
        return KMeans(k, n_init=4, random_state=s).fit_predict(x)

    return _per_frame(features, ids, feature_sets, standardize, fit_one, seed)


def hdbscan_labels(features, ids=None, *, min_cluster_size=25, min_samples=None,
                   feature_sets=None, standardize=True, seed=0) -> np.ndarray:
    """Per-frame HDBSCAN (:class:`sklearn.cluster.HDBSCAN`), labels (n_frames, n_atoms) int64.

    Noise points form one more cluster of their frame (the next free label), so they are
    counted, not dropped, when labels are compared.
    """
    from sklearn.cluster import HDBSCAN
    check_scalar(min_cluster_size, "min_cluster_size", Integral, min_val=2)

    def fit_one(x, s):
        if len(x) < 2:
            return np.zeros(len(x), dtype=np.int64)
        lab = HDBSCAN(min_cluster_size=min(min_cluster_size, len(x)),
                      min_samples=min_samples, copy=True).fit_predict(x)
        return np.where(lab < 0, lab.max() + 1, lab)

    return _per_frame(features, ids, feature_sets, standardize, fit_one, seed)
