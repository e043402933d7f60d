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
                  _query: np.ndarray | None = None) -> NeighborList:
    """Periodic neighbour list of a frame, by cutoff or by k nearest.

    Parameters
    ----------
    frame : Frame or ase.Atoms
    r_cut : float, optional
        Neighbours strictly closer than ``r_cut``.
    k : int, optional
        The ``k`` nearest neighbours (exactly ``k`` per atom; ties broken by freud).

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
    fbox, pos, box, rot = _freud_box_and_points(frame)

    # radius the search must reach: the cutoff, or a generous guess for the k-th neighbour
    if r_cut is not None:
        reach = float(r_cut)
    else:
        density = n / box.volume
        reach = 1.6 * (3 * k / (4 * np.pi * density)) ** (1 / 3)
    widths = box.widths
    # freud needs every box width > 2 * reach; replicate the cell until it is
    reps = np.where(box.pbc & (2.0 * reach >= widths), np.floor(2.0 * reach / widths) + 1, 1)
    reps = reps.astype(int)
    while k is not None and np.prod(reps) * n <= k:
        reps = np.where(box.pbc, reps + 1, reps)
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
        args["r_max"] = float(r_cut)
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

    # float64 displacement: position difference plus the integer image freud chose
    ppos = frame.positions @ rot if not frame.box.is_orthogonal else frame.positions
    j = pj % n
    qrows = qi if _query is None else np.asarray(_query)[qi]
    raw = ppos[j] - ppos[qrows]
    inv = np.linalg.inv(box.cell)
    image = np.rint((v32 - raw) @ inv)
    vec = raw + image @ box.cell
    dist = np.sqrt(np.einsum("ij,ij->i", vec, vec))
    if r_cut is not None:
        keep = dist < r_cut  # freud decided in float32; decide again in float64
        qi, j, vec, dist = qi[keep], j[keep], vec[keep], dist[keep]
    order = np.lexsort((j, dist, qi))
    qi, j, vec, dist = qi[order], j[order], vec[order], dist[order]
    n_q = n if _query is None else len(_query)
    counts = np.bincount(qi, minlength=n_q)
    offsets = np.zeros(n_q + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if not frame.box.is_orthogonal:
        vec = vec @ rot.T  # back to the frame's own orientation
    return NeighborList(offsets, j.astype(np.int32), dist, np.ascontiguousarray(vec),
                        None if r_cut is None else float(r_cut), None if k is None else int(k))


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
