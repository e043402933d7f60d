"""Mapper graphs of (frame, atom) descriptors: structures as branches through time.

The points are all (frame, atom) rows, standardised with pooled statistics
(as in :func:`multilayer.build_network`).  The default lens is the frame
index plus the leading principal components; the cover is a grid of
overlapping intervals; each cover element is clustered (DBSCAN by default) and
clusters sharing points are joined.  Three backends build the same graph:
crystopo's own vectorised cover (default), GUDHI's ``MapperComplex`` and
giotto-tda's Mapper pipeline (when installed).

Scale: DBSCAN of every point of a cover element costs O(n k) time and memory,
and the automatic ``eps`` (set on a 2000-point sample) makes the neighbour count
k grow with n: ~1 s at 10^4 points, ~35 s and 0.9 GB at 10^5, > 400 s at 10^6.
Above ``10 * n_microstates`` points the own backend therefore clusters, in each
cover element, the microstates of its points (a seeded MiniBatchKMeans codebook,
:func:`_codebook`; each microstate placed at the mean of its points in that element
and weighted by their number) and gives every point the cluster of its microstate:
3.5 s at 10^5, 6 s and 0.6 GB peak at 10^6 points x 8 features on 2 cores
(``benchmarks/bench_mapper.py``).  Where the structures are resolved at the
scale of the microstates it reproduces the exact graph; where the exact one
joins structures through chains of tail points, it keeps them apart.  Structures
closer than a few microstate spacings merge.  ``max_points`` subsamples larger runs.
"""
from __future__ import annotations

import logging
from numbers import Integral

import networkx as nx
import numba
import numpy as np
from scipy import sparse
from sklearn.utils import check_scalar
from sklearn.utils.validation import has_fit_parameter
from threadpoolctl import threadpool_limits

from .features import PooledMoments, as_feature_frames

__all__ = ["mapper"]
logger = logging.getLogger(__name__)
_BACKENDS = ("own", "gudhi", "gtda")


def _default_eps(x, seed):
    """1.5 x the 90th percentile of 5th-neighbour distances in <= 2000 rows of ``x``."""
    from sklearn.neighbors import NearestNeighbors
    rng = np.random.default_rng(seed)
    sub = x[rng.choice(len(x), min(len(x), 2000), replace=False)]
    d = NearestNeighbors(n_neighbors=min(6, len(sub))).fit(sub).kneighbors(sub)[0][:, -1]
    return float(np.quantile(d, 0.9)) * 1.5


def _default_clusterer(x, seed, centres=None):
    """DBSCAN at the scale of a 2000-point sample, or of the microstates when sparser."""
    from sklearn.cluster import DBSCAN
    eps = _default_eps(x, seed)
    if centres is not None:
        eps = max(eps, _default_eps(centres, seed))
    return DBSCAN(eps=eps, min_samples=3)


def _cover_sets(lens, cover):
    """Rows of the points in every non-empty cover hypercube: ({cube index tuple: rows}, specs).

    Cubes in lexicographic order; each lens dimension restricts the rows of the
    previous ones, so the cost is O(n_points x overlap x n_intervals) per dimension.
    """
    specs = _specs(cover, lens)
    level = [((), np.arange(len(lens)))]
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
        nxt = []
        for cube, rows in level:
            v = f[rows, None]
            inside = (v >= left) & (v <= left + cell + 2 * ext)
            nxt.extend((cube + (i,), rows[inside[:, i]]) for i in range(n) if inside[:, i].any())
        level = nxt
    return dict(level), specs


_CODEBOOK_DIMS = 16     # wider features are coded on their leading principal axes


@numba.njit(parallel=True, cache=True, nogil=True)
def _nearest_code(z, coarse, fine, start, probes):
    """Row i's code: the nearest row of ``fine`` (squared Euclidean, float64; the first
    among equals) among the rows ``fine[start[b]:start[b + 1]]`` of the ``probes``
    coarse centres b nearest to it (the first among equals).  Each row is independent:
    the same codes at any thread count."""
    n, d = z.shape
    k1 = coarse.shape[0]
    probes = min(probes, k1)
    out = np.empty(n, dtype=np.int64)
    block = 1024
    for blk in numba.prange((n + block - 1) // block):
        near = np.empty(probes, dtype=np.int64)       # the probed cells, nearest first
        dist = np.empty(probes)
        for i in range(blk * block, min(n, (blk + 1) * block)):
            for q in range(probes):
                dist[q] = np.inf
                near[q] = -1
            for b in range(k1):
                s = 0.0
                for j in range(d):
                    g = coarse[b, j] - z[i, j]
                    s += g * g
                if s < dist[probes - 1]:              # insert, keeping the order
                    q = probes - 1
                    while q > 0 and dist[q - 1] > s:
                        dist[q] = dist[q - 1]
                        near[q] = near[q - 1]
                        q -= 1
                    dist[q] = s
                    near[q] = b
            best = np.inf
            f = -1
            for q in range(probes):
                b = near[q]
                for m in range(start[b], start[b + 1]):
                    s = 0.0
                    for j in range(d):
                        g = fine[m, j] - z[i, j]
                        s += g * g
                    if s < best or (s == best and m < f):
                        best = s
                        f = m
            out[i] = f
    return out


def _codebook(x, n_microstates, seed):
    """Centres (k, d) float64, k <= n_microstates, of a seeded MiniBatchKMeans fitted on a
    sample of 20 rows per centre, and the code of every row (n,) int64.

    Features wider than 16 columns (the Neighbors Map's 128, persistence's 54) are coded on
    their 16 leading principal axes (k-means in 187 dimensions took 75 s for 2 x 10^5 points;
    16 keep the variance that separates structures); each centre is then the mean of its
    rows in the full space and codes no row took are dropped.

    Cost at 792,000 rows and k = 2048: k-means++ seeds from 2k sample rows and the fit stops
    after 3 mini-batches without improvement (2.7 s, was 4.6 s with 9k seeding rows and 10);
    rows are coded by :func:`_nearest_code` over the centres grouped in sqrt(k) coarse
    cells, 3 probed (1.4 s; a k-d tree, exact, took 4 s: 16 dimensions defeat it), which
    finds the nearest centre for 86 % of the rows and one 2 % farther on average for the
    rest.  Mapper graphs: the same 32 nodes and 50 edges (Jaccard 1.000) on a 264,000-atom
    x 3-frame run; on planted blobs within 15 points of the exact graph over 8 seeds."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(x), min(len(x), 20 * n_microstates), replace=False))
    z, wide = x, x.shape[1] > _CODEBOOK_DIMS
    if wide:
        mean = x[pick].mean(axis=0, dtype=np.float64)
        xc = x[pick] - mean
        w, v = np.linalg.eigh(xc.T @ xc)              # d x d: cheaper than an SVD of the rows
        axes = v[:, np.argsort(w)[::-1][:_CODEBOOK_DIMS]].T
        z = (x @ axes.T.astype(x.dtype)).astype(np.float64) - mean @ axes.T   # no centred copy of x
    z = np.ascontiguousarray(z, dtype=np.float64)
    sample = z[pick]
    k = int(min(n_microstates, len(np.unique(sample, axis=0))))
    km = MiniBatchKMeans(n_clusters=k, n_init=1, random_state=seed, batch_size=3 * k,
                         max_no_improvement=3, init_size=min(len(sample), 2 * k))
    with threadpool_limits(limits=1):      # small batches: OpenMP threads only contend
        km.fit(sample)
        centres = km.cluster_centers_.astype(np.float64)
        cells = KMeans(max(1, int(round(np.sqrt(k)))), n_init=1, random_state=seed).fit(centres)
    order = np.argsort(cells.labels_, kind="stable")
    start = np.r_[0, np.cumsum(np.bincount(cells.labels_))].astype(np.int64)
    code = order[_nearest_code(z, cells.cluster_centers_, centres[order], start, 3)]
    if not wide:
        return centres, code
    used, code = np.unique(code, return_inverse=True)
    counts, sums = _member_sums(code, x, np.arange(len(x), dtype=np.int64), len(used))
    return sums / counts[:, None], code.astype(np.int64)


def mapper(features, ids=None, *, lens=None, n_components=1, cover=(8, 0.3), clusterer=None,
           feature_sets=None, standardize=True, backend="own", min_points=1,
           max_points=None, n_microstates=2048, seed=0) -> nx.Graph:
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
        Default DBSCAN, eps = 1.5 x the 90th percentile of 5th-neighbour distances in a
        2000-point sample (or among the microstates, if larger), min_samples = 3.
        Given microstates, it gets their ``sample_weight`` if its ``fit`` takes one.
    backend : {"own", "gudhi", "gtda"}
    min_points : int
        Drop clusters smaller than this.
    max_points : int, optional
        Points drawn at random (seeded) when there are more.  Default 10^6 for the own
        backend, 10^5 for gudhi and gtda (they cluster every point).
    n_microstates : int or None
        Own backend, above ``10 * n_microstates`` points: cluster this many microstates
        instead of the points (see the module notes); None: always the points (exact).
    seed : int

    Returns
    -------
    graph : networkx.Graph
        Node attributes: ``frames``, ``rows``, ``ids`` (int64 arrays: the members),
        ``size``, ``time`` (mean frame), ``lens`` (mean lens values); edge attribute
        ``weight`` = shared points.  ``graph.graph["sampled"] = {"points": n_used,
        "of": n_total}`` when ``max_points`` subsampled (absent otherwise);
        ``graph.graph["n_microstates"]``: codebook size when microstates were clustered.

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
    if max_points is None:
        max_points = 1_000_000 if backend == "own" else 100_000
    check_scalar(max_points, "max_points", Integral, min_val=2)
    if n_microstates is not None:
        check_scalar(n_microstates, "n_microstates", Integral, min_val=2)
    frames = as_feature_frames(features, ids, feature_sets)
    x, fr, rows, pick = _stack(frames, standardize, max_points, seed)
    n_total = int(frames.n_rows.sum())
    if lens is None:
        p = min(int(n_components), x.shape[1])
        mean = x.mean(axis=0, dtype=np.float64)
        sub = x[:: max(1, len(x) // 20000)] - mean
        w, v = np.linalg.eigh(sub.T @ sub)            # d x d: cheaper than an SVD of the rows
        vt = v[:, np.argsort(w)[::-1][:p]].T
        vt *= np.where(vt[np.arange(p), np.abs(vt).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
        lens_v = np.column_stack([fr.astype(np.float64), x @ vt.T.astype(x.dtype) - mean @ vt.T])
    elif callable(lens):
        lens_v = np.asarray(lens(x, fr), dtype=np.float64)
    else:
        lens_v = np.asarray(lens, dtype=np.float64)
        if len(lens_v) != n_total:
            raise ValueError(f"lens has {len(lens_v)} rows for {n_total} points")
        lens_v = lens_v if pick is None else lens_v[pick]
    lens_v = lens_v.reshape(len(x), -1)
    if not np.isfinite(lens_v).all():
        raise ValueError("lens contains NaN or inf")
    micro = None
    if backend == "own" and n_microstates is not None and len(x) > 10 * n_microstates:
        micro = _codebook(x, int(n_microstates), seed)
        logger.debug("mapper: %d points over %d microstates", len(x), len(micro[0]))
    if clusterer is None:
        clusterer = _default_clusterer(x, seed, None if micro is None else micro[0])
    if backend == "own":
        members = _own(x, lens_v, cover, clusterer, micro)
    elif backend == "gudhi":
        members = _gudhi(x, lens_v, cover, clusterer)
    else:
        members = _gtda(x, lens_v, cover, clusterer)
    ids_all = np.empty(len(fr), dtype=np.int64)
    bounds = np.searchsorted(fr, np.arange(frames.n_frames + 1))   # fr is sorted
    for t in range(frames.n_frames):
        ids_all[bounds[t]:bounds[t + 1]] = frames.ids[t][rows[bounds[t]:bounds[t + 1]]]
    g = _graph([m for m in members if len(m) >= min_points], fr, rows, ids_all, lens_v)
    if pick is not None:
        g.graph["sampled"] = {"points": len(x), "of": n_total}
    if micro is not None:
        g.graph["n_microstates"] = len(micro[0])
    return g


def _stack(frames, standardize, max_points, seed):
    """Standardised points (n, d) float32, their frames and rows (n,) int64, sorted by
    frame, and the stacked indices drawn (sorted) when there are more than ``max_points``
    (else None); only the drawn rows of each frame are kept.  One read of each frame:
    the pooled statistics come from all its rows, the drawn rows wait unscaled in the
    one (n, d) array that is then standardised in place (no per-frame copies joined at
    the end: 792,000 x 187 points, 2.7 -> 1.2 s)."""
    moments = PooledMoments(frames.n_features)
    counts = frames.n_rows
    pick = None
    if counts.sum() > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(counts.sum(), max_points,
                                                          replace=False))
    starts = np.r_[0, np.cumsum(counts)]
    rows = []
    for t in range(frames.n_frames):
        r = np.arange(counts[t], dtype=np.int64)
        if pick is not None:
            r = pick[np.searchsorted(pick, starts[t]):np.searchsorted(pick, starts[t + 1])]
            r = r - starts[t]
        rows.append(r)
    ends = np.cumsum([len(r) for r in rows])
    x = np.empty((int(ends[-1]), frames.n_features), dtype=np.float32)
    for t in range(frames.n_frames):
        block = x[ends[t] - len(rows[t]):ends[t]]
        if pick is None:
            moments.add(frames.raw(t, out=block))
        else:           # the drawn rows of each feature set: no joined copy of the frame
            parts = frames.raw_blocks(t)
            moments.add_blocks(parts)
            col = 0
            for part in parts:
                block[:, col:col + part.shape[1]] = part[rows[t]]
                col += part.shape[1]
    transform = moments.transform(standardize=standardize, set_widths=frames.set_widths)
    _standardise_inplace(x, np.asarray(transform.mean, np.float64),
                         np.asarray(transform.scale, np.float64))
    fr = np.repeat(np.arange(frames.n_frames, dtype=np.int64), [len(r) for r in rows])
    return x, fr, np.concatenate(rows), pick


@numba.njit(parallel=True, cache=True, nogil=True)
def _standardise_inplace(x, mean, scale):
    """x[i, j] = float32((float64(x[i, j]) - mean[j]) / scale[j]): the same operations, bit
    for bit, as :class:`~multilayer.network.features.FeatureTransform`."""
    n, d = x.shape
    for i in numba.prange(n):
        for j in range(d):
            x[i, j] = np.float32((np.float64(x[i, j]) - mean[j]) / scale[j])


@numba.njit(cache=True, nogil=True)
def _member_sums(code, x, idx, n_codes):
    """Per code, how many of the rows ``idx`` of ``x`` take it and their float64 sum, added
    in ``idx`` order (what ``np.bincount(code[idx], weights=x[idx, j])`` gives, bit for
    bit, without a gathered copy per column)."""
    count = np.zeros(n_codes, dtype=np.int64)
    sums = np.zeros((n_codes, x.shape[1]))
    for i in idx:
        c = code[i]
        count[c] += 1
        for j in range(x.shape[1]):
            sums[c, j] += x[i, j]
    return count, sums


def _own(x, lens_v, cover, clusterer, micro=None):
    """Clusters of every cover element: of its points, or (``micro`` = (centres, code))
    of the microstates of its points weighted by their counts there."""
    sets, _ = _cover_sets(lens_v, cover)
    weighted = micro is not None and has_fit_parameter(clusterer, "sample_weight")
    members = []
    for idx in sets.values():
        if micro is None:
            lab = clusterer.fit_predict(x[idx]) if len(idx) > 1 else np.zeros(1, int)
        else:
            centres, code = micro
            # a unit sits at the mean of its microstate's points in this element (not at
            # the centre: an element boundary can cut a microstate far from its centre)
            w, sums = _member_sums(code, x, np.asarray(idx, dtype=np.int64), len(centres))
            units = np.flatnonzero(w)
            pos = sums[units] / w[units, None]
            if len(units) == 1:
                lab_u = np.zeros(1, int)
            elif weighted:
                lab_u = clusterer.fit_predict(pos, sample_weight=w[units])
            else:
                lab_u = clusterer.fit_predict(pos)
            lookup = np.full(len(centres), -1, dtype=np.int64)
            lookup[units] = lab_u
            lab = lookup[code[idx]]
        keep = lab >= 0
        order = np.argsort(lab[keep], kind="stable")
        lab_s, idx_s = lab[keep][order], idx[keep][order]
        members.extend(np.split(idx_s, np.flatnonzero(np.diff(lab_s)) + 1) if len(idx_s) else [])
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
    members = [np.sort(idx) for idx in members]
    for node, idx in enumerate(members):
        g.add_node(node, frames=fr[idx], rows=rows[idx], ids=ids_all[idx], size=len(idx),
                   time=float(fr[idx].mean()), lens=lens_v[idx].mean(axis=0))
    if len(members) > 1:
        # shared points of every node pair: off-diagonal of incidence^T incidence
        nodes = np.repeat(np.arange(len(members)), [len(m) for m in members])
        inc = sparse.csr_matrix((np.ones(len(nodes), dtype=np.int64),
                                 (nodes, np.concatenate(members))),
                                shape=(len(members), len(fr)))
        shared = sparse.triu(inc @ inc.T, k=1).tocoo()
        order = np.lexsort((shared.col, shared.row))
        g.add_edges_from((int(a), int(b), {"weight": int(w)}) for a, b, w in
                         zip(shared.row[order], shared.col[order], shared.data[order]))
    return g
