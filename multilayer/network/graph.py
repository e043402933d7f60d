"""Time-layered similarity networks: one layer per frame, atoms or microstates as nodes.

Features are standardised with mean and standard deviation pooled over all
frames, so one unit means the same in every layer.  Intra-layer weights are
scaled so that the mean intra-layer strength of an atom is 1 (the coupling
``interslice_weight`` of :func:`multilayer.network.leiden` is then a fraction of an
atom's ties within its frame, for both kinds of nodes).

* ``nodes="atoms"``: node = (frame, atom).  Intra-layer edges join each atom
  to its ``k`` nearest atoms in descriptor space (union of the directed kNN
  relations), weighted by the self-tuning Gaussian kernel
  ``exp(-d_ij**2 / (sigma_i * sigma_j))`` with ``sigma_i`` the distance to the
  ``k``-th neighbour (Zelnik-Manor & Perona 2004; UMAP's adaptive bandwidth).
  Inter-layer edges join an atom to itself one frame later (weight 1).
  Memory ~ (k + 1) x atoms x frames edges: small runs (10^4 atoms x 50 frames)
  and checks of the coarse network.
* ``nodes="microstates"``: a codebook of ``n_microstates`` centres is learnt
  with seeded MiniBatchKMeans on a row sample drawn from all frames; every atom
  of every frame is assigned to its nearest centre (streamed, float32, KD-tree
  or batched matmul).  Node = (frame, microstate present in it), node weight =
  its atom count.  Intra-layer edges are competitive Hebbian (Martinetz &
  Schulten 1994): each atom adds 1 to the edge between its nearest and
  second-nearest centres, i.e. the data-supported Delaunay graph of the
  centres, weighted by the atoms lying on each border in that frame.  (A kNN
  graph among centres instead links a compact phase held by a few centres to
  other phases -- fcc and hcp merged in tests.)  Inter-layer weight between
  (t, a) and (t+1, b) = number of atoms moving from a to b; the fraction moving
  is that weight over the node weight of (t, a).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy import sparse
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_scalar
from threadpoolctl import threadpool_limits

from .features import FeatureTransform, as_feature_frames, fit_transform_stats
from .progress import progress_bar

__all__ = ["MultilayerNetwork", "build_network", "knn_kernel_edges"]

logger = logging.getLogger(__name__)
_METRICS = ("euclidean", "manhattan", "chebyshev", "cosine")


@dataclass(frozen=True, eq=False)
class MultilayerNetwork:
    """A time-layered network; nodes are sorted by frame, then by atom id / microstate.

    Attributes
    ----------
    nodes : {"atoms", "microstates"}
    node_frame : ndarray (n_nodes,), int32
    node_index : ndarray (n_nodes,), int64
        Column in :attr:`atom_ids` (atom nodes) or microstate id (microstate nodes).
    node_weight : ndarray (n_nodes,), float64
        1 per atom, or the number of atoms of the frame in the microstate.
    frame_offsets : ndarray (n_frames + 1,), int64
        Nodes of frame ``t`` are ``frame_offsets[t]:frame_offsets[t + 1]``.
    intra_edges, inter_edges : ndarray (n_edges, 2), int64
        Undirected edges stored once (``i < j``); inter edges join frame t to t + 1.
    intra_weights, inter_weights : ndarray (n_edges,), float64
        Intra: scaled to a mean strength of 1 per atom; inter: atoms (1 per atom node).
    atom_ids : ndarray (n_atoms,), int64
        Sorted union of ids over frames: the columns of every label array.
    frame_ids : tuple of ndarray (n_t,), int64
        Ids per frame in the caller's row order (identical frames share one array).
    assignments : tuple of ndarray (n_t,), int16 or int32, or None
        Microstate of every atom, caller's row order (microstate nodes only).
    codebook : ndarray (n_microstates, p), float32, or None
        Centres, in the transformed feature space.
    transform : FeatureTransform
        Pooled standardisation (and optional PCA) applied before the kNN search.
    k : int
        Neighbours per atom (0 for microstate networks).
    metric : str
    """

    nodes: str
    node_frame: np.ndarray
    node_index: np.ndarray
    node_weight: np.ndarray
    frame_offsets: np.ndarray
    intra_edges: np.ndarray
    intra_weights: np.ndarray
    inter_edges: np.ndarray
    inter_weights: np.ndarray
    atom_ids: np.ndarray
    frame_ids: tuple
    assignments: tuple | None
    codebook: np.ndarray | None
    transform: FeatureTransform
    k: int
    metric: str

    @property
    def n_nodes(self) -> int:
        return len(self.node_frame)

    @property
    def n_frames(self) -> int:
        return len(self.frame_offsets) - 1

    @property
    def edge_density(self) -> float:
        """Mean intra-layer edge density ``sum_s 2 m_s / sum_s N_s**2`` (N_s: node weight of
        slice s): the CPM resolution at which a community must be as dense as a layer."""
        tot = np.bincount(self.node_frame, self.node_weight, minlength=self.n_frames)
        denom = float((tot ** 2).sum())
        return 2.0 * float(self.intra_weights.sum()) / denom if denom > 0 else 0.0

    def adjacency(self, interslice_weight=1.0) -> sparse.csr_matrix:
        """Symmetric (n_nodes, n_nodes) CSR matrix, intra + ``interslice_weight`` * inter."""
        e = np.concatenate([self.intra_edges, self.inter_edges])
        w = np.concatenate([self.intra_weights, interslice_weight * self.inter_weights])
        a = sparse.coo_matrix((np.concatenate([w, w]), (np.concatenate([e[:, 0], e[:, 1]]),
                               np.concatenate([e[:, 1], e[:, 0]]))),
                              shape=(self.n_nodes, self.n_nodes))
        return a.tocsr()

    def atom_labels(self, node_labels) -> np.ndarray:
        """Per-node labels -> per-atom labels of shape (n_frames, n_atoms), int64.

        Column ``j`` is atom ``atom_ids[j]``; -1 where that atom is absent from a frame.
        """
        node_labels = np.asarray(node_labels, dtype=np.int64)
        if node_labels.shape != (self.n_nodes,):
            raise ValueError(f"node_labels.shape must be ({self.n_nodes},), got "
                             f"{node_labels.shape}")
        out = np.full((self.n_frames, len(self.atom_ids)), -1, dtype=np.int64)
        if self.nodes == "atoms":
            out[self.node_frame, self.node_index] = node_labels
            return out
        for t in range(self.n_frames):
            lut = np.full(len(self.codebook), -1, dtype=np.int64)
            s = slice(self.frame_offsets[t], self.frame_offsets[t + 1])
            lut[self.node_index[s]] = node_labels[s]
            out[t, np.searchsorted(self.atom_ids, self.frame_ids[t])] = lut[self.assignments[t]]
        return out

    def frame_labels(self, labels, t) -> np.ndarray:
        """Labels of frame ``t`` in the caller's row order, from a (n_frames, n_atoms) array."""
        return np.asarray(labels)[t, np.searchsorted(self.atom_ids, self.frame_ids[t])]


def knn_kernel_edges(x, k, metric="euclidean"):
    """Symmetric kNN graph with self-tuning Gaussian weights.

    Parameters
    ----------
    x : ndarray (n, p), float
    k : int
        Neighbours per point (clipped to n - 1).

    Returns
    -------
    edges : ndarray (n_edges, 2), int64, ``i < j``, sorted
    weights : ndarray (n_edges,), float64, in (0, 1]

    Examples
    --------
    >>> e, w = knn_kernel_edges(np.array([[0.0], [1.0], [2.0], [10.0]]), k=1)
    >>> e.tolist()
    [[0, 1], [1, 2], [2, 3]]
    """
    x = np.asarray(x)
    n = len(x)
    k = min(int(k), n - 1)
    if k < 1:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    if n <= 2048:                                   # exact, vectorised, deterministic ties
        dist = cdist(x, x, metric={"manhattan": "cityblock"}.get(metric, metric))
        np.fill_diagonal(dist, np.inf)
        idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
        d = np.take_along_axis(dist, idx, axis=1)
    else:
        nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="auto").fit(x)
        d, idx = nn.kneighbors(x)
        self_hit = idx == np.arange(n)[:, None]
        drop = np.where(self_hit.any(axis=1), self_hit.argmax(axis=1), k)
        keep = np.ones_like(self_hit)
        keep[np.arange(n), drop] = False
        idx = idx[keep].reshape(n, k)
        d = d[keep].reshape(n, k)
    return _kernel_graph(idx, d)


def build_network(features, ids, *, nodes="atoms", k=15, metric="euclidean", feature_sets=None,
                  standardize=True, balance_sets=True, n_components=None, n_microstates=500,
                  sample_size=200_000, batch_size=2048, seed=0,
                  progress=False) -> MultilayerNetwork:
    """Build the multilayer network of a trajectory's per-atom descriptors.

    Parameters
    ----------
    features : sequence of ndarray (n_t, ...) or of mappings {feature_set: ndarray (n_t, ...)}
        One entry per frame, read lazily (``features[t]`` is called once or twice);
        trailing axes are flattened.  Must be finite.
    ids : sequence of int arrays (n_t,), or one int array shared by all frames
        Atom ids per frame; atoms may appear and vanish, they are matched by id.
    nodes : {"atoms", "microstates"}
    k : int
        Intra-layer neighbours per atom (atom nodes).
    metric : {"euclidean", "manhattan", "chebyshev", "cosine"}
        Distance for the atoms' kNN search (microstates are always Euclidean).
    feature_sets : list of str, optional
        Names to concatenate, in order, when frames are mappings (default: all).
    standardize, balance_sets : bool
        Pooled z-scores; with several sets, divide each by sqrt(its width).
    n_components : int, optional
        Project on this many principal axes fitted on the sample (long descriptors).
    n_microstates, sample_size, batch_size : int
        Codebook size, rows sampled (over all frames) to learn it, rows per assignment batch.
    seed : int
    progress : bool
        tqdm progress bars over frames.

    Returns
    -------
    MultilayerNetwork

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> feats = [rng.normal(size=(30, 3)) for _ in range(4)]
    >>> net = build_network(feats, np.arange(30), k=5)
    >>> net.n_nodes, len(net.inter_edges)
    (120, 90)
    """
    if nodes not in ("atoms", "microstates"):
        raise ValueError(f"nodes must be 'atoms' or 'microstates', got {nodes!r}")
    if metric not in _METRICS:
        raise ValueError(f"metric={metric!r} unsupported; choose from {_METRICS}")
    check_scalar(k, "k", Integral, min_val=1)
    check_scalar(seed, "seed", Integral, min_val=0)
    frames = as_feature_frames(features, ids, feature_sets)
    _check_overlap(frames)
    if nodes == "atoms":
        return _build_atoms(frames, k, metric, standardize, balance_sets, n_components, seed,
                            progress)
    check_scalar(n_microstates, "n_microstates", Integral, min_val=2)
    check_scalar(sample_size, "sample_size", Integral, min_val=2)
    check_scalar(batch_size, "batch_size", Integral, min_val=1)
    return _build_microstates(frames, metric, standardize, balance_sets, n_components,
                              int(n_microstates), int(sample_size), int(batch_size), seed,
                              progress)


def _check_overlap(frames):
    for t in range(frames.n_frames - 1):
        a, b = frames.ids[t], frames.ids[t + 1]
        if a is b or len(a) == 0 or len(b) == 0:
            continue
        if len(np.intersect1d(a, b, assume_unique=True)) == 0:
            raise ValueError(f"ids of frames {t} and {t + 1} do not overlap: inter-layer edges "
                             "join atoms with the same id, so consecutive frames must share "
                             "atoms (check that ids are atom ids, not row numbers)")


def _build_atoms(frames, k, metric, standardize, balance_sets, n_components, seed, progress):
    transform, _, _ = fit_transform_stats(frames, standardize=standardize,
                                          balance_sets=balance_sets, n_components=n_components,
                                          sample_size=0, seed=seed)
    n_rows = frames.n_rows
    offsets = np.concatenate([[0], np.cumsum(n_rows)]).astype(np.int64)
    node_frame = np.repeat(np.arange(frames.n_frames, dtype=np.int32), n_rows)
    node_index = np.empty(offsets[-1], dtype=np.int64)
    intra_e, intra_w, inter_e = [], [], []
    prev_cols, cache = None, {}
    for t in progress_bar(range(frames.n_frames), progress, "kNN layers"):
        x = frames.raw(t)
        order, cols = _id_order(frames, t, cache)          # nodes in id order: canonical
        node_index[offsets[t]:offsets[t + 1]] = cols
        e, w = knn_kernel_edges(transform(x[order]), k, metric)
        intra_e.append(e + offsets[t])
        intra_w.append(w)
        if prev_cols is not None:
            i0, i1 = _match(prev_cols, cols)
            inter_e.append(np.stack([i0 + offsets[t - 1], i1 + offsets[t]], axis=1))
        prev_cols = cols
    inter = np.concatenate(inter_e) if inter_e else np.zeros((0, 2), np.int64)
    return MultilayerNetwork(
        "atoms", node_frame, node_index, np.ones(offsets[-1]), offsets,
        np.concatenate(intra_e).astype(np.int64),
        _unit_strength(np.concatenate(intra_w), np.ones(offsets[-1])),
        inter.astype(np.int64), np.ones(len(inter)), frames.atom_ids, tuple(frames.ids),
        None, None, transform, int(k), metric)


def fit_codebook(sample, n_microstates, seed):
    """Seeded MiniBatchKMeans centres (n_centres, p) float32, n_centres <= n_microstates."""
    from sklearn.cluster import MiniBatchKMeans
    n_distinct = len(np.unique(sample[: 50 * n_microstates], axis=0))
    n_clusters = int(min(n_microstates, n_distinct))
    if n_clusters < n_microstates:
        logger.info("only %d distinct sampled rows: codebook of %d centres", n_distinct,
                    n_clusters)
    km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3,
                         batch_size=max(1024, 3 * n_clusters), max_no_improvement=20)
    with threadpool_limits(limits=1):     # small batches: OpenMP threads only contend
        km.fit(sample)
    return np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)


def assign_microstates(x, codebook, *, batch_size=2048, tree=None, second=False,
                       distances=False):
    """Nearest centre of every row (float32 arithmetic, streamed in batches).

    Parameters
    ----------
    x : ndarray (n, p), float32
    codebook : ndarray (n_centres, p), float32
    batch_size : int
        Rows per GEMM.  2,048 keeps a batch's distance block (2,048 x 300 centres, 2.4 MB) in
        cache: the 10^6-atom x 100-frame labels took 25.5 s against 46.3 s with 32,768-row
        batches (``benchmarks/bench_structures_scale.py``); a different batch can flip a
        near-tie (5 rows in 10^7 at 1,000 centres: BLAS blocking).
    tree : scipy.spatial.cKDTree over the centres, optional
        Used instead of the batched matmul.  Slower at every size measured: 10^6 rows, 300
        centres, nearest and second: 1.75 / 3.68 s (4 / 8 dimensions, one thread) against
        0.32 / 0.36 s for the GEMM batches, the same centres.
    second : bool
        Also return the second-nearest centre.
    distances : bool
        With ``second``, also return the squared distances to both centres (float32, from
        the same GEMM, clipped at 0).

    Returns
    -------
    nearest : ndarray (n,), int32
    second_nearest : ndarray (n,), int32 (only if ``second``)
    d_nearest, d_second : ndarray (n,), float32 (only if ``second`` and ``distances``)
    """
    if distances and not second:
        raise ValueError("distances=True needs second=True")
    if tree is not None and distances:
        dist, idx = tree.query(x, k=2, workers=1)
        sq = (dist ** 2).astype(np.float32)
        return idx[:, 0].astype(np.int32), idx[:, 1].astype(np.int32), sq[:, 0], sq[:, 1]
    if tree is not None:
        idx = tree.query(x, k=2 if second else 1, workers=1)[1].astype(np.int32)
        return (idx[:, 0], idx[:, 1]) if second else idx
    # one GEMM gives |c|^2 - 2 x.c (the squared distance up to the row's |x|^2): x is padded
    # with a column of ones and the centres with |c|^2; batches run on the numba threads
    # (BLAS and argmin release the GIL), each writing its own rows
    from concurrent.futures import ThreadPoolExecutor

    import numba

    cb = np.asarray(codebook, dtype=np.float32)
    aug = np.vstack([-2.0 * cb.T, (cb ** 2).sum(axis=1)[None]]).astype(np.float32)
    out = np.empty(len(x), dtype=np.int32)
    out2 = np.empty(len(x), dtype=np.int32) if second else None
    dist1 = np.empty(len(x), dtype=np.float32) if distances else None
    dist2 = np.empty(len(x), dtype=np.float32) if distances else None

    def batch(s):
        xb = x[s:s + batch_size]
        xa = np.empty((len(xb), xb.shape[1] + 1), dtype=np.float32)
        xa[:, :-1] = xb
        xa[:, -1] = 1.0
        d = xa @ aug
        best = d.argmin(axis=1)
        out[s:s + batch_size] = best
        if second:
            rows = np.arange(len(d))
            if distances:
                norm = (xb.astype(np.float32) ** 2).sum(axis=1)
                dist1[s:s + batch_size] = np.maximum(d[rows, best] + norm, 0.0)
            d[rows, best] = np.inf
            nxt = d.argmin(axis=1)
            out2[s:s + batch_size] = nxt
            if distances:
                dist2[s:s + batch_size] = np.maximum(d[rows, nxt] + norm, 0.0)

    starts = range(0, len(x), batch_size)
    workers = min(numba.get_num_threads(), len(starts))
    if workers > 1:
        with threadpool_limits(limits=1), ThreadPoolExecutor(workers) as pool:
            list(pool.map(batch, starts))
    else:
        for s in starts:
            batch(s)
    if distances:
        return out, out2, dist1, dist2
    return (out, out2) if second else out


def _build_microstates(frames, metric, standardize, balance_sets, n_components, n_micro,
                       sample_size, batch_size, seed, progress):
    transform, sample, _ = fit_transform_stats(
        frames, standardize=standardize, balance_sets=balance_sets, n_components=n_components,
        sample_size=sample_size, seed=seed, progress=progress)
    codebook = fit_codebook(sample, n_micro, seed)
    del sample
    n_c = len(codebook)
    a_dtype = np.int16 if n_c < 2 ** 15 else np.int32
    node_frame, node_index, node_weight, offsets = [], [], [], [0]
    intra_e, intra_w, inter_e, inter_w, assignments = [], [], [], [], []
    prev, cache = None, {}                        # (sorted columns, sorted assignment, lut)
    for t in progress_bar(range(frames.n_frames), progress, "assign"):
        a, a2 = assign_microstates(transform(frames.raw(t)), codebook, batch_size=batch_size,
                                   second=True)
        assignments.append(a.astype(a_dtype))
        counts = np.bincount(a, minlength=n_c)
        present = np.flatnonzero(counts)
        base = offsets[-1]
        lut = np.full(n_c, -1, dtype=np.int64)
        lut[present] = base + np.arange(len(present))
        node_frame.append(np.full(len(present), t, dtype=np.int32))
        node_index.append(present.astype(np.int64))
        node_weight.append(counts[present].astype(np.float64))
        offsets.append(base + len(present))
        # competitive Hebbian edges: each atom joins its nearest and second-nearest centres
        # (when the second one is present in this frame)
        lo, hi = np.minimum(a, a2).astype(np.int64), np.maximum(a, a2).astype(np.int64)
        ok = (lut[lo] >= 0) & (lut[hi] >= 0)
        key, cnt = _count_pairs(lo[ok], hi[ok], n_c)
        intra_e.append(np.stack([lut[key // n_c], lut[key % n_c]], axis=1))
        intra_w.append(cnt.astype(np.float64))
        order, cols = _id_order(frames, t, cache)
        a_sorted = a[order]
        if prev is not None:
            pcols, pa, plut = prev
            i0, i1 = _match(pcols, cols)
            key, cnt = _count_pairs(pa[i0], a_sorted[i1], n_c)
            inter_e.append(np.stack([plut[key // n_c], lut[key % n_c]], axis=1))
            inter_w.append(cnt.astype(np.float64))
        prev = (cols, a_sorted, lut)
    inter = np.concatenate(inter_e) if inter_e else np.zeros((0, 2), np.int64)
    weight = np.concatenate(node_weight)
    return MultilayerNetwork(
        "microstates", np.concatenate(node_frame), np.concatenate(node_index), weight,
        np.asarray(offsets, dtype=np.int64), np.concatenate(intra_e).astype(np.int64),
        _unit_strength(np.concatenate(intra_w), weight),
        inter.astype(np.int64), np.concatenate(inter_w) if inter_w else np.zeros(0),
        frames.atom_ids, tuple(frames.ids), tuple(assignments), codebook, transform, 0, metric)


def _count_pairs(a, b, n):
    """Distinct pairs (a_i, b_i) with a, b in [0, n) and their counts: keys a * n + b."""
    key = a.astype(np.int64) * n + b
    if n * n <= 1 << 22:
        cnt = np.bincount(key, minlength=n * n)
        keys = np.flatnonzero(cnt)
        return keys, cnt[keys]
    return np.unique(key, return_counts=True)


def _id_order(frames, t, cache):
    """(argsort of the frame's ids, their columns in atom_ids), reused while ids repeat."""
    if cache.get("ids") is not frames.ids[t]:
        order = np.argsort(frames.ids[t], kind="stable")
        cache.update(ids=frames.ids[t], order=order, cols=frames.columns(t)[order])
    return cache["order"], cache["cols"]


def _match(prev_cols, cols):
    """Positions of the shared columns in two sorted column arrays."""
    if prev_cols is cols:
        idx = np.arange(len(cols))
        return idx, idx
    _, i0, i1 = np.intersect1d(prev_cols, cols, assume_unique=True, return_indices=True)
    return i0, i1


def _unit_strength(intra_w, node_weight):
    """Scale intra-layer weights so that the mean intra-layer strength per atom is 1."""
    total = 2.0 * float(intra_w.sum())
    return intra_w * (float(node_weight.sum()) / total) if total > 0 else intra_w


def _kernel_graph(idx, d):
    """Union of directed kNN relations ``idx`` (n, k) at distances ``d`` (n, k), weighted
    ``exp(-d**2 / (sigma_i sigma_j))`` with ``sigma`` the distance to the k-th neighbour."""
    n, k = idx.shape
    d = d.astype(np.float64)
    sigma = np.maximum(d[:, -1], 1e-12 * max(float(d[:, -1].max()), 1e-300))
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = idx.ravel().astype(np.int64)
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    key, first = np.unique(lo * n + hi, return_index=True)
    i, j = key // n, key % n
    w = np.exp(-d.ravel()[first] ** 2 / (sigma[i] * sigma[j]))
    return np.stack([i, j], axis=1), w
