"""Periodic neighbour lists as CSR arrays, built once per frame and passed on.

freud's AABB tree does the search (it is several times faster than
``scipy.spatial.cKDTree`` at 10^6 atoms and handles triclinic cells; see
``benchmarks/bench_io_neighbors.py``).  freud works in float32, so crystopo
recomputes every displacement in float64 from the positions and the periodic
image freud found.  Boxes narrower than twice the cutoff, where one atom sees
several images of the same neighbour, are handled by searching a replicated
supercell and folding indices back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numba
import numpy as np

from .frame import Frame, as_frame

__all__ = ["NeighborList", "neighbor_list", "first_shell_distance"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NeighborList:
    """Neighbours of every atom, CSR layout, each atom's neighbours sorted by distance.

    Attributes
    ----------
    offsets : ndarray of shape (n_atoms + 1,), int64
        Neighbours of atom ``i`` are entries ``offsets[i]:offsets[i+1]``.
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

    def truncate(self, r_cut: float) -> "NeighborList":
        """The sub-list of pairs closer than ``r_cut`` (no new search)."""
        if self.r_cut is not None and r_cut > self.r_cut:
            raise ValueError(f"r_cut={r_cut} exceeds the list's cutoff {self.r_cut}")
        keep = self.distances < r_cut
        counts = np.add.reduceat(keep, self.offsets[:-1]) if len(keep) else np.zeros(self.n_atoms)
        counts = np.where(self.counts > 0, counts, 0)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return NeighborList(offsets, self.indices[keep], self.distances[keep],
                            self.vectors[keep], float(r_cut), None)


def _freud_box_and_points(frame: Frame):
    import freud

    box, rot = frame.box.canonical()
    pos = frame.positions @ rot if not frame.box.is_orthogonal else frame.positions
    pos = box.wrap(pos)
    centre = box.origin + box.cell.sum(axis=0) / 2
    fbox = freud.box.Box.from_matrix(box.cell.T)
    fbox.periodic = [bool(p) for p in box.pbc]
    return fbox, pos - centre, box, rot


def neighbor_list(frame, r_cut: float | None = None, *, k: int | None = None,
                  backend: str = "auto", _query: np.ndarray | None = None) -> NeighborList:
    """Periodic neighbour list of a frame, by cutoff or by k nearest.

    Parameters
    ----------
    frame : Frame or ase.Atoms
    r_cut : float, optional
        Neighbours strictly closer than ``r_cut``.
    k : int, optional
        The ``k`` nearest neighbours (exactly ``k`` per atom; ties broken by index).
    backend : {"auto", "freud", "scipy"}
        ``"scipy"`` (``cKDTree`` with ``boxsize``, parallel queries) needs an
        orthogonal box wider than twice the search radius and is the faster one
        there; ``"freud"`` (AABB tree) handles every box.  ``"auto"`` picks scipy
        when it can.  Both give identical lists.

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
    """
    import freud

    frame = as_frame(frame)
    if (r_cut is None) == (k is None):
        raise ValueError(f"give exactly one of r_cut and k (got r_cut={r_cut!r}, k={k!r})")
    if r_cut is not None and not (np.isfinite(r_cut) and r_cut > 0):
        raise ValueError(f"r_cut must be a positive finite number, got {r_cut!r}")
    if k is not None and (int(k) != k or k < 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    n = frame.n_atoms
    if n == 0:
        z = np.zeros(0)
        return NeighborList(np.zeros(1, np.int64), z.astype(np.int32), z, np.zeros((0, 3)), r_cut, k)
    if backend not in ("auto", "freud", "scipy"):
        raise ValueError(f"backend={backend!r} unknown; choose 'auto', 'freud' or 'scipy'")
    box, rot = frame.box.canonical()

    # radius the search must reach: the cutoff, or a generous guess for the k-th neighbour
    if r_cut is not None:
        reach = float(r_cut)
    else:
        density = n / box.volume
        reach = 1.6 * (3 * k / (4 * np.pi * density)) ** (1 / 3)
    widths = box.widths
    # freud needs every box width > 2 * reach; replicate the cell until it is
    tight = 2.0 * reach * (1 + 1e-5) >= widths  # margin: freud checks in float32
    reps = np.where(box.pbc & tight, np.floor(2.0 * reach * (1 + 1e-5) / widths) + 1, 1)
    reps = reps.astype(int)
    while k is not None and np.prod(reps) * n <= k:
        reps = np.where(box.pbc, reps + 1, reps)
    scipy_ok = frame.box.is_orthogonal and bool(np.all(box.pbc)) and not np.any(reps > 1)
    if backend == "scipy" and not scipy_ok:
        raise ValueError("backend='scipy' needs a fully periodic orthogonal box wider than twice "
                         f"the search radius {reach:g}; use backend='freud'")
    if backend != "freud" and scipy_ok:
        return _scipy_list(frame, box, r_cut, k, reach, _query)
    fbox, pos, box, rot = _freud_box_and_points(frame)
    if np.any(reps > 1):
        logger.debug("box narrower than 2*reach=%g: searching a %s supercell", 2 * reach, reps)
        shifts = np.array(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij")).reshape(3, -1).T
        big_cell = box.cell * reps[:, None]
        points = (pos[None, :, :] + (shifts @ box.cell)[:, None, :]).reshape(-1, 3)
        points = points - (big_cell.sum(axis=0) - box.cell.sum(axis=0)) / 2
        sbox = freud.box.Box.from_matrix(big_cell.T)
        sbox.periodic = [bool(p) for p in box.pbc]
        points = sbox.wrap(points)
        query = points[:n]
    else:
        sbox, points, query = fbox, fbox.wrap(pos), None

    aabb = freud.locality.AABBQuery(sbox, points)
    args = {"exclude_ii": True}
    if r_cut is not None:
        args["r_max"] = float(r_cut) * (1 + 1e-6)  # freud cuts in float32; recut below
    else:
        args["num_neighbors"] = int(k)
        args["r_guess"] = reach
    qpoints = points[:n] if query is None else query
    if _query is not None:  # private: neighbours of a subset of atoms (rows of the result follow _query)
        qpoints = qpoints[_query]
    nl = aabb.query(qpoints, args).toNeighborList()
    qi = np.asarray(nl.query_point_indices, dtype=np.int64)
    pj = np.asarray(nl.point_indices, dtype=np.int64)
    v32 = np.asarray(nl.vectors, dtype=np.float64)
    del nl
    if len(qi) > 1 and not np.all(qi[1:] >= qi[:-1]):  # freud sorts by query point; be sure
        order = np.argsort(qi, kind="stable")
        qi, pj, v32 = qi[order], pj[order], v32[order]
    n_q = n if _query is None else len(_query)
    qrows = np.arange(n, dtype=np.int64) if _query is None else np.asarray(_query, dtype=np.int64)
    ppos = np.ascontiguousarray(frame.positions @ rot if not frame.box.is_orthogonal else frame.positions)
    # float64 displacements from the positions and the integer image freud chose; re-cut and
    # sort each atom's neighbours by (distance, index) in one parallel pass
    offsets, j, dist, vec = _finish_pairs(qi, pj, v32, ppos, qrows, box.cell, np.linalg.inv(box.cell),
                                          n, n_q, -1.0 if r_cut is None else float(r_cut), False)
    if not frame.box.is_orthogonal:
        vec = vec @ rot.T  # back to the frame's own orientation
    return NeighborList(offsets, j, dist, np.ascontiguousarray(vec),
                        None if r_cut is None else float(r_cut), None if k is None else int(k))


def _scipy_list(frame, box, r_cut, k, reach, query):
    import os

    from scipy.spatial import cKDTree

    n = frame.n_atoms
    lengths = np.diag(box.cell).copy()
    pos = np.mod(frame.positions - box.origin, lengths)
    pos = np.minimum(np.maximum(pos, 0.0), np.nextafter(lengths, 0))  # cKDTree wants [0, L)
    tree = cKDTree(pos, boxsize=lengths)
    rows = np.arange(n, dtype=np.int64) if query is None else np.asarray(query, dtype=np.int64)
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else -1
    if k is not None:
        kk = min(int(k) + 1, n * 1)
        dist, idx = tree.query(pos[rows], k=kk, workers=workers)
        dist, idx = dist.reshape(len(rows), -1), idx.reshape(len(rows), -1)
        valid = ~((idx == rows[:, None]) & (dist == 0.0))
        valid &= np.cumsum(valid, axis=1) <= k
        r = -1.0
    else:
        density = n / box.volume
        kk = int(min(n, 1.5 * 4.19 * density * reach ** 3 + 16))
        while True:
            dist, idx = tree.query(pos[rows], k=kk, distance_upper_bound=reach * (1 + 1e-9),
                                   workers=workers)
            if kk >= n or not np.isfinite(dist[:, -1]).any():
                break
            kk = min(n, 2 * kk)
        valid = np.isfinite(dist) & ~((idx == rows[:, None]) & (dist == 0.0))
        r = float(r_cut)
    qi = np.nonzero(valid)[0].astype(np.int64)
    pj = idx[valid].astype(np.int64)
    approx = _min_image(pos, rows, qi, pj, lengths)
    offsets, j, d, vec = _finish_pairs(qi, pj, approx, frame.positions, rows, box.cell,
                                       np.linalg.inv(box.cell), n, len(rows), r, True)
    return NeighborList(offsets, j, d, vec, None if r_cut is None else float(r_cut),
                        None if k is None else int(k))


@numba.njit(cache=True, parallel=True)
def _min_image(pos, rows, qi, pj, lengths):
    out = np.empty((len(qi), 3))
    for p in numba.prange(len(qi)):
        a, b = rows[qi[p]], pj[p]
        for d in range(3):
            v = pos[b, d] - pos[a, d]
            out[p, d] = v - lengths[d] * np.rint(v / lengths[d])
    return out


@numba.njit(cache=True, parallel=True)
def _finish_pairs(qi, pj, v32, ppos, qrows, cell, inv, n, n_q, r_cut, exact):
    m = len(qi)
    vec = v32 if exact else np.empty((m, 3))
    dist = np.empty(m)
    keep = np.empty(m, dtype=np.bool_)
    for p in numba.prange(m):
        if exact:  # vectors are already float64 minimum images
            dist[p] = np.sqrt(vec[p, 0] ** 2 + vec[p, 1] ** 2 + vec[p, 2] ** 2)
            keep[p] = r_cut < 0 or dist[p] < r_cut
            continue
        a = qrows[qi[p]]
        b = pj[p] % n
        r0 = ppos[b, 0] - ppos[a, 0]
        r1 = ppos[b, 1] - ppos[a, 1]
        r2 = ppos[b, 2] - ppos[a, 2]
        e0 = v32[p, 0] - r0
        e1 = v32[p, 1] - r1
        e2 = v32[p, 2] - r2
        i0 = np.rint(e0 * inv[0, 0] + e1 * inv[1, 0] + e2 * inv[2, 0])
        i1 = np.rint(e0 * inv[0, 1] + e1 * inv[1, 1] + e2 * inv[2, 1])
        i2 = np.rint(e0 * inv[0, 2] + e1 * inv[1, 2] + e2 * inv[2, 2])
        v0 = r0 + i0 * cell[0, 0] + i1 * cell[1, 0] + i2 * cell[2, 0]
        v1 = r1 + i0 * cell[0, 1] + i1 * cell[1, 1] + i2 * cell[2, 1]
        v2 = r2 + i0 * cell[0, 2] + i1 * cell[1, 2] + i2 * cell[2, 2]
        vec[p, 0] = v0
        vec[p, 1] = v1
        vec[p, 2] = v2
        dist[p] = np.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
        keep[p] = r_cut < 0 or dist[p] < r_cut  # freud cut in float32; cut again in float64
    starts = np.zeros(n_q + 1, dtype=np.int64)
    for p in range(m):
        starts[qi[p] + 1] += 1
    for i in range(n_q):
        starts[i + 1] += starts[i]
    counts = np.zeros(n_q, dtype=np.int64)
    for i in numba.prange(n_q):
        c = 0
        for p in range(starts[i], starts[i + 1]):
            if keep[p]:
                c += 1
        counts[i] = c
    offsets = np.zeros(n_q + 1, dtype=np.int64)
    for i in range(n_q):
        offsets[i + 1] = offsets[i] + counts[i]
    total = offsets[n_q]
    out_j = np.empty(total, dtype=np.int32)
    out_d = np.empty(total)
    out_v = np.empty((total, 3))
    for i in numba.prange(n_q):
        o = offsets[i]
        c = 0
        for p in range(starts[i], starts[i + 1]):
            if keep[p]:
                out_j[o + c] = pj[p] % n
                out_d[o + c] = dist[p]
                out_v[o + c, 0] = vec[p, 0]
                out_v[o + c, 1] = vec[p, 1]
                out_v[o + c, 2] = vec[p, 2]
                c += 1
        if c > 64:  # long segments: two stable sorts, by index then by distance
            seg_j = out_j[o:o + c].copy()
            seg_d = out_d[o:o + c].copy()
            seg_v = out_v[o:o + c].copy()
            by_j = np.argsort(seg_j, kind="mergesort")
            order = by_j[np.argsort(seg_d[by_j], kind="mergesort")]
            for x in range(c):
                out_j[o + x] = seg_j[order[x]]
                out_d[o + x] = seg_d[order[x]]
                out_v[o + x] = seg_v[order[x]]
        else:  # short segments: insertion sort by (distance, index), in place
            for x in range(o + 1, o + c):
                y = x
                while y > o and (out_d[y - 1] > out_d[y] or
                                 (out_d[y - 1] == out_d[y] and out_j[y - 1] > out_j[y])):
                    out_d[y - 1], out_d[y] = out_d[y], out_d[y - 1]
                    out_j[y - 1], out_j[y] = out_j[y], out_j[y - 1]
                    for d in range(3):
                        out_v[y - 1, d], out_v[y, d] = out_v[y, d], out_v[y - 1, d]
                    y -= 1
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
    nl = neighbor_list(frame, k=min(12, 8 * frame.n_atoms), _query=idx)
    nearest = nl.distances[nl.offsets[:-1]]
    d = nl.distances[nl.distances < 1.2 * np.median(nearest)]
    return float(np.median(d))
