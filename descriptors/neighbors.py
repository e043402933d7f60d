"""Periodic neighbour lists as CSR arrays, built once per frame and passed on.

In fully periodic orthogonal boxes wider than twice the search radius (``backend="auto"``),
``scipy.spatial.cKDTree`` does the search in float64; elsewhere (triclinic cells, small or
open boxes) freud's AABB tree does it (``benchmarks/bench_io_neighbors.py`` compares them).
freud works in float32, so crystopo
recomputes every displacement in float64 from the positions and the periodic
image freud found (positions are first wrapped into the cell in float64, so
wrapped and unwrapped coordinates give the same list).  freud is asked for a
radius padded by its float32 error and every pair is cut again in float64.
Boxes narrower than twice the search radius, where one atom sees several
images of the same neighbour, are handled by searching a replicated supercell
and folding indices back.  k-nearest lists take a few extra candidates and
keep the k nearest by (float64 distance, index); a row whose k-th neighbour
cannot be certified that way is redone by an exact cutoff search.

Rows are searched ``chunk_size`` at a time and written into the growing result, so
building a list takes little more memory than the list.  scipy's queries use
``numba.get_num_threads()`` workers, like the numba kernels
(:mod:`descriptors._neighbor_kernels`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ._neighbor_kernels import bond_vectors, take_first, truncate_rows
from ._neighbor_search import _FreudSearch, _KDSearch
from .frame import as_frame

__all__ = ["NeighborList", "neighbor_list", "neighbor_chunks", "first_shell_distance"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NeighborList:
    """Neighbours of every atom, CSR layout, each atom's neighbours sorted by distance.

    A list built with ``neighbor_list(..., query=rows)`` has one row per entry of
    ``rows`` (``n_atoms == len(rows)``); ``indices`` still refer to rows of the frame.

    Attributes
    ----------
    offsets : ndarray of shape (n_atoms + 1,), int64
        Neighbours of atom ``i`` are entries ``offsets[i]:offsets[i+1]`` (an atom
        without neighbours has an empty row).
    indices : ndarray of shape (n_pairs,), int32
        Index (row in the frame, not the atom id) of each neighbour.
    distances : ndarray of shape (n_pairs,), float64
    vectors : ndarray of shape (n_pairs, 3), float64
        Displacement from the atom to the neighbour image, ``r_j + image - r_i``.
    r_cut : float or None
        Cutoff used (``None`` for a k-nearest list).
    k : int or None
        Number of neighbours asked for (``None`` for a cutoff list).
    """

    offsets: np.ndarray
    indices: np.ndarray
    distances: np.ndarray
    vectors: np.ndarray
    r_cut: float | None = None
    k: int | None = None

    @property
    def n_atoms(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """Number of neighbours of each atom, int64."""
        return np.diff(self.offsets)

    def of(self, i: int):
        """``(indices, distances, vectors)`` of atom ``i``'s neighbours."""
        s = slice(self.offsets[i], self.offsets[i + 1])
        return self.indices[s], self.distances[s], self.vectors[s]

    def query_indices(self) -> np.ndarray:
        """Row index of the central atom of each pair, int64 (n_pairs,)."""
        return np.repeat(np.arange(self.n_atoms, dtype=np.int64), self.counts)

    @classmethod
    def from_indices(cls, frame, offsets, indices, r_cut: float) -> "NeighborList | None":
        """The cutoff list whose rows and neighbour order were kept (``offsets``,
        ``indices``; e.g. a feature store's first shell), its vectors and distances
        recomputed from the frame by minimum image.  None (search anew then) when a
        periodic cell width is not above 2 ``r_cut`` (an atom could then be a neighbour
        through two images) or a recomputed distance exceeds ``r_cut`` (a cell too skewed
        for the nearest image along each cell vector to be the nearest one, or a list not
        from this frame); otherwise the one image within ``r_cut`` is the list's.

        Examples
        --------
        >>> from descriptors import make_lattice
        >>> f = make_lattice("fcc", 3)
        >>> nl = neighbor_list(f, r_cut=1.2)                 # nearest-neighbour distance 1
        >>> again = NeighborList.from_indices(f, nl.offsets, nl.indices, 1.2)
        >>> bool(np.allclose(again.vectors, nl.vectors)), again.counts[:3].tolist()
        (True, [12, 12, 12])
        """
        frame = as_frame(frame)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        indices = np.ascontiguousarray(indices, dtype=np.int32)
        if len(offsets) != frame.n_atoms + 1 or offsets[-1] != len(indices):
            raise ValueError(f"offsets ({len(offsets)}) and indices ({len(indices)}) do not "
                             f"describe a list of this frame's {frame.n_atoms} atoms")
        pbc = np.asarray(frame.box.pbc, dtype=np.bool_)
        if (frame.box.widths[pbc] <= 2 * r_cut).any():
            return None
        cell = np.ascontiguousarray(frame.box.cell, dtype=np.float64)
        vec, dist = bond_vectors(np.ascontiguousarray(frame.positions, dtype=np.float64), cell,
                                 np.linalg.inv(cell), pbc, offsets, indices)
        if len(dist) and dist.max() > r_cut * (1 + 1e-9):
            return None
        return cls(offsets, indices, dist, vec, float(r_cut), None)

    def truncate(self, r_cut: float) -> "NeighborList":
        """The sub-list of pairs closer than ``r_cut`` (no new search)."""
        if self.r_cut is not None and r_cut > self.r_cut:
            raise ValueError(f"r_cut={r_cut} exceeds the list's cutoff {self.r_cut}")
        # a parallel kernel: the pairs closer than r_cut, in order (boolean indexing, by rows)
        offsets, j, d, v = truncate_rows(np.ascontiguousarray(self.offsets, dtype=np.int64),
                                         self.indices, self.distances,
                                         np.ascontiguousarray(self.vectors), float(r_cut))
        return NeighborList(offsets, j, d, v, float(r_cut), None)


# freud works in float32: its distances can be off by a few float32 units of the coordinates'
# magnitude.  Every search asks freud for ``radius + tol`` and cuts again in float64, with
# ``tol = _F32_TOL * (extent of the searched cell + radius)`` (about 16 float32 roundoffs).
_F32_TOL = 1e-6
_F64_TOL = 1e-12  # the same for scipy's float64 distances
# distances closer than _TIE * (cell extent + radius) count as equal: such ties are ordered by
# index, so float64 rounding noise never picks the order or a k-nearest list's members
_TIE = 1e-10
# rows searched at a time: bounds the candidates held besides the list (10^6 atoms, 54 pairs
# each: a 1.9 GB list, a few hundred MB of candidates per chunk)
CHUNK_SIZE = 65536


def _as_rows(query, n: int):
    """Validate ``query`` (indices of central atoms, or a boolean mask); None for all atoms."""
    if query is None:
        return None
    q = np.asarray(query)
    if q.dtype == bool:
        if q.shape != (n,):
            raise ValueError(f"a boolean query mask must have shape ({n},), got {q.shape}")
        return np.flatnonzero(q).astype(np.int64)
    q = q.reshape(-1) if q.ndim == 0 else q
    if q.ndim != 1:
        raise ValueError(f"query must be a 1-D array of atom indices, got shape {q.shape}")
    if len(q) and q.dtype.kind not in "iu":
        if q.dtype.kind == "f" and np.all(q == np.round(q)):
            q = q.astype(np.int64)
        else:
            raise ValueError(f"query must hold integer atom indices (rows), got dtype {q.dtype}")
    q = q.astype(np.int64)
    if len(q) and (q.min() < 0 or q.max() >= n):
        bad = int(q[(q < 0) | (q >= n)][0])
        raise ValueError(f"query index {bad} out of range for a frame of {n} atoms (0..{n - 1})")
    return q


def _replicas(box, radius: float) -> np.ndarray:
    """Copies of the cell along each periodic vector so the supercell is wider than 2*radius."""
    need = 2.0 * radius * (1 + 1e-5)  # margin: freud checks its limit in float32
    return np.where(box.pbc, np.floor(need / box.widths) + 1, 1).astype(np.int64)


def _plan(box, radius: float):
    """``(reps, tol)``: the supercell for a search to ``radius`` and freud's error bound there."""
    reps = _replicas(box, radius)
    for _ in range(8):
        extent = float(np.abs(box.cell * reps[:, None]).sum(axis=0).max())
        tol = _F32_TOL * (extent + radius)
        new = np.maximum(reps, _replicas(box, radius + 2 * tol))
        if np.array_equal(new, reps):
            break
        reps = new
    return reps, tol


def _unique_image_radius(box, reps) -> float:
    """Half the smallest periodic width of the supercell: within it every image is unique."""
    w = (box.widths * reps)[box.pbc]
    return float(w.min()) / 2 if len(w) else np.inf


def _empty_list(n_q, r_cut, k):
    z = np.zeros(0)
    return NeighborList(np.zeros(n_q + 1, np.int64), z.astype(np.int32), z, np.zeros((0, 3)),
                        None if r_cut is None else float(r_cut), None if k is None else int(k))


def neighbor_list(frame, r_cut: float | None = None, *, k: int | None = None,
                  backend: str = "auto", query=None,
                  chunk_size: int = CHUNK_SIZE) -> NeighborList:
    """Periodic neighbour list of a frame, by cutoff or by k nearest.

    Parameters
    ----------
    frame : Frame or ase.Atoms
        Positions may be wrapped or not (e.g. LAMMPS ``xu yu zu``): they are wrapped
        into the cell (float64) before the search, so the list does not depend on it.
    r_cut : float, optional
        Neighbours strictly closer than ``r_cut``.
    k : int, optional
        The ``k`` nearest neighbours (exactly ``k`` per atom; ties broken by index).
    backend : {"auto", "freud", "scipy"}
        ``"scipy"`` (cutoffs: a parallel numba cell list; k nearest: ``cKDTree`` with
        ``boxsize``, ``numba.get_num_threads()`` workers) needs an orthogonal box wider
        than twice the search radius and is the faster one there; ``"freud"`` (AABB tree) handles every box.  ``"auto"``
        picks scipy when it can.  Both give identical lists.
    query : array of int, optional
        Indices (rows of the frame) of the central atoms whose neighbours are wanted;
        row ``i`` of the result belongs to atom ``query[i]`` (neighbours are still
        searched among all atoms).  A boolean mask of length ``n_atoms`` is accepted
        too.  Default: every atom.
    chunk_size : int, default CHUNK_SIZE (65,536)
        Rows searched at a time: the memory used besides the result grows with it, the
        result does not depend on it.

    Returns
    -------
    NeighborList
        CSR arrays; an atom never lists itself at zero distance, but does list
        its own periodic images when the box is smaller than ``r_cut``.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> nl = neighbor_list(make_lattice("fcc", 3), r_cut=1.2)  # nn distance 1
    >>> set(nl.counts.tolist())
    {12}
    >>> neighbor_list(make_lattice("fcc", 3), k=12, query=[0, 5]).counts.tolist()
    [12, 12]
    """
    frame = as_frame(frame)
    n_q, chunks = _search(frame, r_cut, k, backend, query, chunk_size)
    out = _Output(n_q, None if k is None else int(k))
    for _, cand in chunks:
        out.append(*cand)
        del cand
    offsets, j, dist, vec = out.finish()
    if not frame.box.is_orthogonal:
        _rotate_back(vec, frame.box.canonical()[1])
    return NeighborList(offsets, j, dist, vec, None if r_cut is None else float(r_cut),
                        None if k is None else int(k))


def neighbor_chunks(frame, r_cut: float | None = None, *, k: int | None = None,
                    backend: str = "auto", chunk_size: int = CHUNK_SIZE):
    """The rows of :func:`neighbor_list` ``chunk_size`` atoms at a time, from one search.

    Yields ``(start, stop, NeighborList)``: the list of the frame's rows ``start:stop``
    (``n_atoms == stop - start``; ``indices`` are rows of the frame), equal to those rows
    of ``neighbor_list(frame, r_cut, k=k)``.  The search structure is built once, and only
    one chunk's pairs are held at a time: a consumer that reduces each chunk (the feature
    stage) never holds the whole frame's list.  Arguments are checked when the function
    is called.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> fr = make_lattice("fcc", 3)
    >>> [(a, b, nl.n_atoms) for a, b, nl in neighbor_chunks(fr, 1.2, chunk_size=50)]
    [(0, 50, 50), (50, 100, 50), (100, 108, 8)]
    """
    frame = as_frame(frame)
    _, chunks = _search(frame, r_cut, k, backend, None, chunk_size)
    rot = None if frame.box.is_orthogonal else frame.box.canonical()[1]
    kk = None if k is None else int(k)
    rc = None if r_cut is None else float(r_cut)

    def gen():
        for (start, stop), (offsets, j, dist, vec) in chunks:
            if rot is not None:
                _rotate_back(vec, rot)
            yield start, stop, NeighborList(offsets, j, dist, vec, rc, kk)
    return gen()


def _search(frame, r_cut, k, backend, query, chunk_size):
    """Check the arguments, build the search; ``(n_rows, iterator of ((start, stop),
    (offsets, indices, distances, vectors)))`` over chunks of rows, vectors in the
    canonical cell's orientation."""
    if (r_cut is None) == (k is None):
        raise ValueError(f"give exactly one of r_cut and k (got r_cut={r_cut!r}, k={k!r})")
    if r_cut is not None and not (np.isfinite(r_cut) and r_cut > 0):
        raise ValueError(f"r_cut must be a positive finite number, got {r_cut!r}")
    if k is not None and (int(k) != k or k < 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    chunk_size = int(chunk_size)
    if backend not in ("auto", "freud", "scipy"):
        raise ValueError(f"backend={backend!r} unknown; choose 'auto', 'freud' or 'scipy'")
    n = frame.n_atoms
    rows = _as_rows(query, n)
    n_q = n if rows is None else len(rows)
    if n == 0 or n_q == 0:
        e = _empty_list(n_q, r_cut, k)
        return n_q, iter([((0, n_q), (e.offsets, e.indices, e.distances, e.vectors))])
    box, rot = frame.box.canonical()
    if k is not None and not box.pbc.any() and k > n - 1:
        raise ValueError(f"k={k} neighbours asked for, but this non-periodic box holds "
                         f"only {n} atoms ({n - 1} neighbours each)")
    # positions in the canonical cell, wrapped (float64): unwrapped input gives the same list
    ppos = frame.positions @ rot if not frame.box.is_orthogonal else frame.positions
    ppos = np.ascontiguousarray(box.wrap(ppos))

    # the radius the search must reach: the cutoff, or a generous guess for the k-th
    # neighbour (asking for `extra` more candidates, cut to k exactly in float64 below)
    if r_cut is not None:
        reach, ask = float(r_cut), None
    else:
        extra = max(3, int(k) // 4)
        ask = int(k) + 1 + extra  # + 1: the atom itself
        density = n / box.volume
        reach = 1.3 * (3 * ask / (4 * np.pi * density)) ** (1 / 3)
    reps, tol = _plan(box, reach)
    if k is not None and box.pbc.any() and int(np.prod(reps)) * n < ask:
        while int(np.prod(reps)) * n < ask:
            reps = np.where(box.pbc, reps + 1, reps)
        tol = _F32_TOL * (float(np.abs(box.cell * reps[:, None]).sum(axis=0).max()) + reach)
    scipy_ok = frame.box.is_orthogonal and bool(np.all(box.pbc)) and not np.any(reps > 1)
    if backend == "scipy" and not scipy_ok:
        raise ValueError("backend='scipy' needs a fully periodic orthogonal box wider than twice "
                         f"the search radius {reach:g}; use backend='freud'")
    tie = _TIE * (float(np.abs(box.cell).sum(axis=0).max()) + reach)
    search = _FreudSearch(box, ppos, tie)
    kd = None
    if backend != "freud" and scipy_ok:
        kd = _KDSearch(ppos, box, tie)
        tol = _F64_TOL * (float(kd.lengths.max()) + reach)
        limit = float(kd.lengths.min()) / 2
    else:
        limit = _unique_image_radius(box, reps)
        if k is not None:
            ask = min(ask, search.n_points(reps))
    # rows are searched `chunk_size` at a time: each row's neighbours depend on that row
    # alone, so the list is the same for every chunk size, and only one chunk's candidates
    # are held besides the growing result

    def chunks():
        for start in range(0, n_q, chunk_size):
            stop = min(start + chunk_size, n_q)
            crows = np.arange(start, stop, dtype=np.int64) if rows is None else rows[start:stop]
            if kd is not None:
                # float64 distances: two spare candidates settle all but degenerate shells
                cand, all_found = kd.query(crows, r_cut, None if k is None else int(k) + 3, reach)
            elif r_cut is not None:
                cand, all_found = search.query(crows, reps, tol, r_cut=float(r_cut)), False
            else:
                cand = search.query(crows, reps, tol, num=ask, r_guess=reach)
                all_found = ask == search.n_points(reps)
            if k is not None:
                cand = _exactly_k(search, box, crows, len(crows), int(k), cand, tol, limit,
                                  all_found, reach)
            yield (start, stop), cand
    return n_q, chunks()


def _rotate_back(vec, rot, block=1 << 20):
    """``vec[:] = vec @ rot.T`` (back to the frame's own orientation) in place, by blocks of
    rows that start at multiples of ``block`` and never hold a single row (numpy rotates a
    lone row with another BLAS routine): the same floats as one product of the whole array."""
    bounds = list(range(0, len(vec), block))
    if len(bounds) > 1 and len(vec) - bounds[-1] == 1:
        bounds.pop()
    bounds.append(len(vec))
    for a, b in zip(bounds[:-1], bounds[1:]):
        vec[a:b] = vec[a:b] @ rot.T


class _Output:
    """A CSR list filled chunk by chunk of rows; the pair arrays grow in place (realloc, no
    copy of what is already there) to a size projected from the rows done so far."""

    def __init__(self, n_q, k):
        self.n_q, self.rows, self.size = n_q, 0, 0
        self.offsets = np.zeros(n_q + 1, dtype=np.int64)
        cap = 0 if k is None else n_q * k  # a k-nearest list has exactly k pairs per row
        self.j = np.empty(cap, dtype=np.int32)
        self.d = np.empty(cap)
        self.v = np.empty((cap, 3))

    def append(self, offsets, j, d, v):
        rows, size, m = len(offsets) - 1, self.size, len(j)
        if size + m > len(self.j):
            done = self.rows + rows
            projected = int((size + m) / done * self.n_q * 1.02) + 1024
            self._resize(max(size + m, min(projected, 2 * (size + m) + 1024)))
        self.offsets[self.rows + 1:self.rows + rows + 1] = offsets[1:] + size
        self.j[size:size + m] = j
        self.d[size:size + m] = d
        self.v[size:size + m] = v
        self.rows += rows
        self.size += m

    def _resize(self, cap):
        # realloc: no second copy of what is there (nothing else refers to these arrays)
        for arr in (self.j, self.d, self.v):
            arr.resize((cap,) + arr.shape[1:], refcheck=False)

    def finish(self):
        if len(self.j) != self.size:
            self._resize(self.size)
        return self.offsets, self.j, self.d, self.v


def _exactly_k(search, box, rows, n_q, k, cand, tol, limit, all_found, reach):
    """Cut each row of a sorted candidate list to its k nearest, exactly.

    A row is exact when its k-th candidate is closer (by more than the search's error and
    the tie tolerance) than the farthest candidate (or every point was a candidate) and all
    candidates lie where each atom has a single periodic image.  Other rows (degenerate
    shells, tiny or very uneven boxes) are redone with exact cutoff searches of growing
    radius, complete once the k-th neighbour and its ties lie inside the radius.
    """
    offsets, j, d, v = cand
    counts = np.diff(offsets)
    has = counts >= k
    last = np.where(counts > 0, d[np.maximum(offsets[1:] - 1, 0)] if len(d) else 0.0, 0.0)
    kth = np.full(n_q, np.inf)
    kth[has] = d[offsets[:-1][has] + k - 1]
    tie = search.tie
    ok = has & (last + 2 * tol < limit)
    if not all_found:
        ok &= kth + 2 * tie < last - 2 * tol
    parts = [(np.flatnonzero(ok), *_first_k(offsets, j, d, v, k, ok))]
    pending = np.flatnonzero(~ok)
    if len(pending):
        fail_has = has[pending]
        r = max(float(reach), float(kth[pending][fail_has].max()) if fail_has.any() else 0.0)
        r = r * (1 + 1e-6) + 2 * tie if fail_has.all() else max(r, 2.0 * reach)
        qrows = np.arange(search.n, dtype=np.int64) if rows is None else rows
        for _ in range(64):
            reps, tol_r = _plan(box, r)
            logger.debug("%d atoms' %d nearest neighbours by exact cutoff search to %g",
                         len(pending), k, r)
            o2, j2, d2, v2 = search.query(qrows[pending], reps, tol_r, r_cut=r)
            c2 = np.diff(o2)
            done = c2 >= k
            done[done] = d2[o2[:-1][done] + k - 1] + 2 * tie < r
            parts.append((pending[done], *_first_k(o2, j2, d2, v2, k, done)))
            pending = pending[~done]
            if not len(pending):
                break
            r *= 1.5
        else:  # pragma: no cover - only a pathological cell gets here
            raise RuntimeError(f"could not find {k} neighbours of {len(pending)} atoms "
                               f"within radius {r:g}")
    return _assemble(n_q, parts)


def _first_k(offsets, j, d, v, k, rows_mask):
    """The masked rows' first k pairs: ``(counts, j, d, v)`` of those rows."""
    m = int(rows_mask.sum())
    if m == 0:
        return np.zeros(0, np.int64), j[:0], d[:0], v[:0]
    oj, od, ov = take_first(offsets, j, d, v, k, rows_mask, m)
    return np.full(m, k, dtype=np.int64), oj, od, ov


def _assemble(n_q, parts):
    """Merge per-row blocks ``(row positions, counts, j, d, v)`` into one CSR list."""
    counts = np.zeros(n_q, dtype=np.int64)
    for pos, c, *_ in parts:
        counts[pos] = c
    offsets = np.zeros(n_q + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    if len(parts) == 1:
        _, _, j, d, v = parts[0]
        return offsets, j, d, v
    out_j = np.empty(total, dtype=np.int32)
    out_d = np.empty(total)
    out_v = np.empty((total, 3))
    for pos, c, j, d, v in parts:
        if not len(j):
            continue
        start = np.concatenate([[0], np.cumsum(c)[:-1]])
        dest = np.repeat(offsets[:-1][pos] - start, c) + np.arange(len(j))
        out_j[dest], out_d[dest], out_v[dest] = j, d, v
    return offsets, out_j, out_d, out_v


def first_shell_distance(frame, *, sample: int = 2000, seed: int = 0) -> float:
    """Estimate the first-neighbour distance (the first g(r) peak) from a sample of atoms.

    Takes the 12 nearest neighbours of up to ``sample`` atoms, keeps the distances
    below 1.2 times the median nearest-neighbour distance (the first shell) and
    returns their median.  For perfect fcc, bcc, hcp, sc and diamond lattices this
    is the exact nearest-neighbour distance; for a liquid it is close to the first
    peak of g(r).

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> round(first_shell_distance(make_lattice("diamond", 2, nn_distance=2.35)), 6)
    2.35
    """
    frame = as_frame(frame)
    rng = np.random.default_rng(seed)
    if frame.n_atoms > sample:
        idx = np.sort(rng.choice(frame.n_atoms, sample, replace=False))
    else:
        idx = np.arange(frame.n_atoms)
    nl = neighbor_list(frame, k=min(12, 8 * frame.n_atoms), query=idx)
    nearest = nl.distances[nl.offsets[:-1]]
    d = nl.distances[nl.distances < 1.2 * np.median(nearest)]
    return float(np.median(d))
