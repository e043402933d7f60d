"""Mapper graphs of (frame, atom) descriptors: structures as branches through time.

The points are all (frame, atom) rows, standardised with pooled statistics
(as in :func:`multilayer.build_network`).  The default lens is the frame
index plus the leading principal components; the cover is a grid of
overlapping intervals; each cover element is clustered (DBSCAN by default) and
clusters sharing points are joined.  Three backends build the same graph:
crystopo's own vectorised cover (default), GUDHI's ``MapperComplex`` and
giotto-tda's Mapper pipeline (when installed).  Mapper is for runs up to
~10^5 (frame, atom) points: ``max_points`` subsamples larger ones.
"""
from __future__ import annotations

import itertools
from numbers import Integral

import networkx as nx
import numpy as np
from sklearn.utils import check_scalar

from .features import as_feature_frames, fit_transform_stats

__all__ = ["mapper"]
_BACKENDS = ("own", "gudhi", "gtda")


def _default_clusterer(x, seed):
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors
    rng = np.random.default_rng(seed)
    sub = x[rng.choice(len(x), min(len(x), 2000), replace=False)]
    d = NearestNeighbors(n_neighbors=min(6, len(sub))).fit(sub).kneighbors(sub)[0][:, -1]
    return DBSCAN(eps=float(np.quantile(d, 0.9)) * 1.5, min_samples=3)


def _cover_sets(lens, cover):
    """Rows of the points in every non-empty cover hypercube: ({cube index tuple: rows}, specs)."""
    n_dims = lens.shape[1]
    specs = _specs(cover, lens)
    per_dim = []
    for j, (n, g) in enumerate(specs):
        check_scalar(n, "cover n_intervals", Integral, min_val=1)
        if not 0 <= g < 1:
            raise ValueError(f"cover overlap must be in [0, 1), got {g!r}")
        # GUDHI's convention: n equal cells over the range, each widened on both sides so
        # that consecutive intervals overlap by the fraction g of their length
        f = lens[:, j]
        lo, hi = float(f.min()), float(np.nextafter(f.max(), np.inf))
        cell = (hi - lo) / n
        ext = g * cell / (2 - 2 * g)
        left = lo + np.arange(n) * cell - ext
        inside = (f[:, None] >= left) & (f[:, None] <= left + cell + 2 * ext)
        per_dim.append([np.flatnonzero(inside[:, i]) for i in range(n)])
    out = {}
    for cube in itertools.product(*[range(len(p)) for p in per_dim]):
        rows = per_dim[0][cube[0]]
        for j in range(1, n_dims):
            rows = np.intersect1d(rows, per_dim[j][cube[j]], assume_unique=True)
        if len(rows):
            out[cube] = rows
    return out, specs


def mapper(features, ids=None, *, lens=None, n_components=1, cover=(8, 0.3), clusterer=None,
           feature_sets=None, standardize=True, backend="own", min_points=1,
           max_points=100_000, seed=0) -> nx.Graph:
    """Mapper graph of the (frame, atom) points of a trajectory.

    Parameters
    ----------
    features, ids, feature_sets, standardize
        As in :func:`multilayer.build_network`.
    lens : ndarray (n_points, m) or callable, optional
        Filter values of the stacked points (frames in order, rows in the caller's order),
        or ``lens(x, frames)`` of the standardised points ``x`` (n_points, d) and their
        frame indices.  Default: frame index and the ``n_components`` leading principal
        components.
    cover : (n_intervals, overlap) or list of them, one per lens dimension
    clusterer : object with ``fit_predict``, optional
        Default DBSCAN, eps = 1.5 x the 90th percentile of 5th-neighbour distances.
    backend : {"own", "gudhi", "gtda"}
    min_points : int
        Drop clusters smaller than this.
    max_points : int
        Points drawn at random (seeded) when there are more.
    seed : int

    Returns
    -------
    graph : networkx.Graph
        Node attributes: ``frames``, ``rows``, ``ids`` (int64 arrays: the members),
        ``size``, ``time`` (mean frame), ``lens`` (mean lens values); edge attribute
        ``weight`` = shared points.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = [np.r_[rng.normal(0, 1, (30, 2)), rng.normal(9, 1, (30, 2))] for _ in range(4)]
    >>> g = mapper(x, cover=(3, 0.3), min_points=2)   # lens: time and PC1 (3 x 3 cubes)
    >>> g.number_of_nodes(), g.number_of_edges()      # 2 blobs x 3 time windows, chained
    (6, 4)
    """
    if backend not in _BACKENDS:
        raise ValueError(f"backend={backend!r} unknown; choose from {_BACKENDS}")
    check_scalar(min_points, "min_points", Integral, min_val=1)
    check_scalar(max_points, "max_points", Integral, min_val=2)
    frames = as_feature_frames(features, ids, feature_sets)
    transform, _, _ = fit_transform_stats(frames, standardize=standardize, sample_size=0)
    xs, fr, rows = [], [], []
    for t in range(frames.n_frames):
        x = frames.raw(t)
        xs.append(transform(x))
        fr.append(np.full(len(x), t, dtype=np.int64))
        rows.append(np.arange(len(x), dtype=np.int64))
    x, fr, rows = np.concatenate(xs), np.concatenate(fr), np.concatenate(rows)
    pick = np.arange(len(x))
    if len(x) > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    x, fr, rows = x[pick], fr[pick], rows[pick]
    if lens is None:
        p = min(int(n_components), x.shape[1])
        xc = x - x.mean(axis=0)
        vt = np.linalg.svd(xc[:: max(1, len(xc) // 20000)], full_matrices=False)[2][:p]
        lens_v = np.column_stack([fr.astype(np.float64), xc @ vt.T])
    elif callable(lens):
        lens_v = np.asarray(lens(x, fr), dtype=np.float64)
    else:
        lens_v = np.asarray(lens, dtype=np.float64)[pick]
    lens_v = lens_v.reshape(len(x), -1)
    if not np.isfinite(lens_v).all():
        raise ValueError("lens contains NaN or inf")
    if clusterer is None:
        clusterer = _default_clusterer(x, seed)
    if backend == "own":
        members = _own(x, lens_v, cover, clusterer)
    elif backend == "gudhi":
        members = _gudhi(x, lens_v, cover, clusterer)
    else:
        members = _gtda(x, lens_v, cover, clusterer)
    ids_all = np.empty(len(fr), dtype=np.int64)
    for t in np.unique(fr):
        ids_all[fr == t] = frames.ids[t][rows[fr == t]]
    return _graph([m for m in members if len(m) >= min_points], fr, rows, ids_all, lens_v)


def _own(x, lens_v, cover, clusterer):
    sets, _ = _cover_sets(lens_v, cover)
    members = []
    for idx in sets.values():
        lab = clusterer.fit_predict(x[idx]) if len(idx) > 1 else np.zeros(1, int)
        for c in np.unique(lab[lab >= 0]):
            members.append(idx[lab == c])
    return members


def _gudhi(x, lens_v, cover, clusterer):
    from gudhi.cover_complex import MapperComplex
    specs = _specs(cover, lens_v)
    m = MapperComplex(input_type="point cloud", resolutions=[s[0] for s in specs],
                      gains=[s[1] for s in specs], clustering=clusterer)
    m.fit(x, filters=lens_v, colors=lens_v[:, :1])
    return [np.asarray(info["indices"]) for info in m.node_info_.values()]


def _gtda(x, lens_v, cover, clusterer):
    from gtda.mapper import CubicalCover, make_mapper_pipeline
    from sklearn.base import BaseEstimator, ClusterMixin
    specs = _specs(cover, lens_v)
    if len({tuple(s) for s in specs}) != 1:
        raise ValueError("backend='gtda' needs the same (n_intervals, overlap) for every lens")
    m = lens_v.shape[1]

    class _DataOnly(BaseEstimator, ClusterMixin):     # gtda clusters the stacked columns
        def fit(self, z, y=None):
            self.labels_ = clusterer.fit_predict(z[:, m:])
            return self

    from sklearn.preprocessing import FunctionTransformer
    pipe = make_mapper_pipeline(filter_func=FunctionTransformer(lambda z: z[:, :m]),
                                cover=CubicalCover(n_intervals=specs[0][0],
                                                   overlap_frac=specs[0][1]),
                                clusterer=_DataOnly())
    graph = pipe.fit_transform(np.column_stack([lens_v, x]))
    return [np.asarray(e) for e in graph.vs["node_elements"]]


def _specs(cover, lens_v):
    n_dims = lens_v.shape[1]
    specs = list(cover) if isinstance(cover[0], (tuple, list)) else [tuple(cover)] * n_dims
    if len(specs) != n_dims:
        raise ValueError(f"cover has {len(specs)} (n_intervals, overlap) pairs for {n_dims} "
                         "lens dimensions")
    return specs


def _graph(members, fr, rows, ids_all, lens_v):
    g = nx.Graph()
    point_nodes = {}
    for node, idx in enumerate(members):
        idx = np.sort(idx)
        g.add_node(node, frames=fr[idx], rows=rows[idx], ids=ids_all[idx], size=len(idx),
                   time=float(fr[idx].mean()), lens=lens_v[idx].mean(axis=0))
        for i in idx:
            point_nodes.setdefault(int(i), []).append(node)
    shared = {}
    for nodes in point_nodes.values():
        for a, b in itertools.combinations(sorted(nodes), 2):
            shared[(a, b)] = shared.get((a, b), 0) + 1
    g.add_edges_from((a, b, {"weight": w}) for (a, b), w in shared.items())
    return g
