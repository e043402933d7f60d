"""The two searches behind :func:`descriptors.neighbors.neighbor_list`: freud's AABB tree (any
box, replicated as needed) and, in fully periodic orthogonal boxes, a numba cell list (cutoffs)
with cKDTree (k nearest).  Both hand their candidate pairs to ``finish_pairs``, which
recomputes, cuts and sorts them in float64, so the list does not depend on the search."""
from __future__ import annotations

import logging

import numba
import numpy as np

from ._neighbor_kernels import cell_candidates, cell_lists, finish_pairs, kd_candidates

logger = logging.getLogger("descriptors.neighbors")


class _FreudSearch:
    """freud AABB searches of one frame (canonical cell, wrapped float64 positions), with the
    cell replicated as each search needs; displacements are recomputed in float64."""

    def __init__(self, box, ppos, tie):
        self.box, self.ppos, self.n, self.tie = box, ppos, len(ppos), tie
        self.inv = np.linalg.inv(box.cell)
        self._reps = None

    def _tree(self, reps):
        import freud

        if self._reps is not None and np.array_equal(self._reps, reps):
            return self._aabb, self._points
        self._aabb = self._points = None  # free the previous supercell first
        box = self.box
        centre = box.origin + box.cell.sum(axis=0) / 2
        pos = self.ppos - centre
        if np.any(reps > 1):
            logger.debug("searching a %s supercell", reps.tolist())
            shifts = np.array(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij")).reshape(3, -1).T
            big_cell = box.cell * reps[:, None]
            # shift (0, 0, 0) comes first: points[:n] are the atoms themselves
            points = (pos[None, :, :] + (shifts @ box.cell)[:, None, :]).reshape(-1, 3)
            points = points - (big_cell.sum(axis=0) - box.cell.sum(axis=0)) / 2
        else:
            big_cell, points = box.cell, pos
        sbox = freud.box.Box.from_matrix(big_cell.T)
        sbox.periodic = [bool(p) for p in box.pbc]
        points = sbox.wrap(points)
        self._aabb = freud.locality.AABBQuery(sbox, points)
        self._points, self._reps = points, reps.copy()
        return self._aabb, self._points

    def n_points(self, reps) -> int:
        return int(np.prod(reps)) * self.n

    def query(self, rows, reps, tol, *, r_cut=None, num=None, r_guess=None):
        """CSR ``(offsets, indices, distances, vectors)`` of the atoms ``rows`` (None: all):
        pairs closer than ``r_cut`` (exact, float64), or freud's ``num`` nearest candidates."""
        aabb, points = self._tree(reps)
        n = self.n
        qpoints = points[:n] if rows is None else points[rows]
        if r_cut is not None:
            args = {"r_max": float(r_cut) + tol}
        else:
            args = {"num_neighbors": int(num), "r_guess": float(r_guess)}
        nl = aabb.query(qpoints, args).toNeighborList()
        qi = np.asarray(nl.query_point_indices, dtype=np.int64)
        pj = np.asarray(nl.point_indices, dtype=np.int64)
        v32 = np.asarray(nl.vectors, dtype=np.float64)
        del nl
        if len(qi) > 1 and not np.all(qi[1:] >= qi[:-1]):  # freud sorts by query point; be sure
            order = np.argsort(qi, kind="stable")
            qi, pj, v32 = qi[order], pj[order], v32[order]
        qrows = np.arange(n, dtype=np.int64) if rows is None else rows
        # the atom itself is supercell point `row` (shift 0); its other images are kept
        return finish_pairs(qi, pj, v32, self.ppos, qrows, self.box.cell, self.inv, n, len(qrows),
                             -1.0 if r_cut is None else float(r_cut), False, self.tie)


class _KDSearch:
    """cKDTree searches in a fully periodic orthogonal box wider than twice the search radius,
    with as many workers as numba has threads (``numba.set_num_threads``, which Dask and
    ``threadpoolctl`` users set), never more."""

    def __init__(self, ppos, box, tie):
        self.ppos, self.box, self.tie, self.n = ppos, box, tie, len(ppos)
        self.lengths = lengths = np.diag(box.cell).copy()
        pos = np.mod(ppos - box.origin, lengths)
        self.pos = np.minimum(np.maximum(pos, 0.0), np.nextafter(lengths, 0))  # [0, L)
        self.inv = np.linalg.inv(box.cell)
        self._tree = self._cells = None

    @property
    def tree(self):
        """The cKDTree of the k-nearest searches, built on first use."""
        if self._tree is None:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self.pos, boxsize=self.lengths)
        return self._tree

    def cells(self, reach):
        """``(nc, start, atoms)``: a cell list with cells at least ``reach`` wide (at most
        about two cells per atom), built on first use for that radius."""
        if self._cells is None or self._cells[0] != reach:
            nc = np.maximum(1, np.floor(self.lengths / reach)).astype(np.int64)
            while nc.prod() > 2 * self.n + 8:
                nc = np.maximum(1, nc // 2)
            self._cells = (reach, nc, *cell_lists(self.pos, self.lengths, nc))
        return self._cells[1:]

    def query(self, qrows, r_cut, ask, reach):
        """Exact cutoff pairs of the atoms ``qrows``, or their ``ask`` nearest points (the atom
        itself dropped) as candidates: the sorted CSR list and whether every atom was one.

        Cutoff pairs come from a numba cell list (candidates within ``reach (1 + 1e-9)``),
        k nearest from cKDTree; both give the candidates the same float64 minimum-image
        vectors, and ``finish_pairs`` cuts and sorts them, so the list does not depend on
        which search found them."""
        n = self.n
        if ask is not None:
            kk = min(int(ask), n)
            dist, idx = self.tree.query(self.pos[qrows], k=kk,
                                        workers=max(1, numba.get_num_threads()))
            r, all_found = -1.0, kk == n
            dist, idx = dist.reshape(len(qrows), -1), idx.reshape(len(qrows), -1)
            qi, pj, approx = kd_candidates(dist, idx, qrows, self.pos, self.lengths)
            del dist, idx
        else:
            nc, start, atoms = self.cells(float(reach))
            qi, pj, approx = cell_candidates(qrows, self.pos, self.lengths, nc, start, atoms,
                                             (reach * (1 + 1e-9)) ** 2)
            r, all_found = float(r_cut), False
        out = finish_pairs(qi, pj, approx, self.ppos, qrows, self.box.cell, self.inv, n,
                            len(qrows), r, True, self.tie)
        return out, all_found
