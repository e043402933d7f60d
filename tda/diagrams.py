"""Per-atom persistence diagrams: the ragged :class:`Diagrams` container and how to compute it.

Each atom's neighbourhood -- the atom itself at the origin plus its neighbours'
displacement vectors from the neighbour list (periodic images unwrapped) -- is a
small point cloud; its alpha (default) or Vietoris--Rips filtration gives
persistence pairs in dimensions 0, 1 and 2.

Filtration scale (both in length units)
---------------------------------------
* ``complex="alpha"``: the **radius** of the balls, i.e. the square root of gudhi's
  alpha filtration value (gudhi reports squared radii).  An edge of length ``d``
  enters at ``d / 2`` when its diametral ball is empty.
* ``complex="rips"``: the **edge length** (diameter), as ripser and gudhi report it.
  An edge of length ``d`` enters at ``d``.  Rips values are therefore about twice the
  alpha values of the same features.

Backends
--------
``"numba"`` (what ``"auto"`` picks): the batch kernels of :mod:`tda.kernels_alpha`
and :mod:`tda.kernels_rips`, parallel over atoms (``numba.set_num_threads``).
``"gudhi"`` (alpha or Rips) and ``"ripser"`` (Rips) call the library once per atom;
they are the references the kernels are tested against.  The alpha kernel hands the
rare clouds it cannot certify (fewer than 4 points, flat clouds, near-degeneracies
at ~1e-10..1e-7 of the cloud size) to gudhi with ``precision="exact"``, and clouds of
more than 128 points go to gudhi (alpha) or ripser (Rips); ``logging`` reports how
many.  ripser computes in float32, so its values carry ~1e-7 relative error; gudhi
and the kernels are float64.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from descriptors import NeighborList, as_frame, first_shell_distance, neighbor_list

__all__ = ["Diagrams", "local_persistence", "cloud_persistence", "BACKENDS", "COMPLEXES"]

logger = logging.getLogger(__name__)

COMPLEXES = ("alpha", "rips")
BACKENDS = {"alpha": ("numba", "gudhi"), "rips": ("numba", "ripser", "gudhi")}
_BLOCK = 1 << 13  # clouds per kernel call: bounds the scratch output memory


@dataclass(frozen=True, eq=False)
class Diagrams:
    """Persistence diagrams of many atoms in one ragged (CSR) structure.

    Pairs of atom ``i`` are entries ``offsets[i]:offsets[i+1]``, sorted by
    (dim, birth, death).  Pairs of zero persistence are not stored.  Each atom has
    exactly one essential class, in dimension 0: ``(0, inf)``.

    Attributes
    ----------
    offsets : ndarray of shape (n_atoms + 1,), int64
    birth, death : ndarray of shape (n_pairs,), float64
        In length units (see the module docstring); ``death`` is ``inf`` for the
        essential H0 class.
    dim : ndarray of shape (n_pairs,), int8
    complex : {"alpha", "rips"}
    max_dim : int

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> dg = local_persistence(make_lattice("fcc", 3), r_cut=1.2)
    >>> dg.n_atoms, dg.diagram(0, dim=2).round(4).tolist()[0]
    (108, [0.5774, 0.6124])
    """

    offsets: np.ndarray
    birth: np.ndarray
    death: np.ndarray
    dim: np.ndarray
    complex: str = "alpha"
    max_dim: int = 2

    def __post_init__(self):
        off = np.ascontiguousarray(self.offsets, dtype=np.int64)
        b = np.ascontiguousarray(self.birth, dtype=np.float64)
        d = np.ascontiguousarray(self.death, dtype=np.float64)
        k = np.ascontiguousarray(self.dim, dtype=np.int8)
        if off.ndim != 1 or len(off) < 1 or off[0] != 0 or np.any(np.diff(off) < 0):
            raise ValueError("offsets must be a non-decreasing 1-d array starting at 0")
        if not (b.shape == d.shape == k.shape == (off[-1],)):
            raise ValueError(f"birth, death and dim must have shape ({off[-1]},) to match "
                             f"offsets, got {b.shape}, {d.shape}, {k.shape}")
        if self.complex not in COMPLEXES:
            raise ValueError(f"complex={self.complex!r}; choose from {COMPLEXES}")
        for name, arr in (("offsets", off), ("birth", b), ("death", d), ("dim", k)):
            object.__setattr__(self, name, arr)

    # --- sizes ------------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_pairs(self) -> int:
        return len(self.birth)

    def __len__(self) -> int:
        return self.n_atoms

    def __repr__(self) -> str:
        return (f"Diagrams(n_atoms={self.n_atoms}, n_pairs={self.n_pairs}, "
                f"complex={self.complex!r}, max_dim={self.max_dim})")

    @property
    def persistence(self) -> np.ndarray:
        """``death - birth`` of every pair, float64 (n_pairs,); inf for essential classes."""
        return self.death - self.birth

    @property
    def atom_index(self) -> np.ndarray:
        """The atom of every pair, int64 (n_pairs,)."""
        return np.repeat(np.arange(self.n_atoms, dtype=np.int64), np.diff(self.offsets))

    def counts(self, dim: int | None = None) -> np.ndarray:
        """Number of pairs per atom (in dimension ``dim``, or all), int64 (n_atoms,)."""
        if dim is None:
            return np.diff(self.offsets)
        return np.bincount(self.atom_index[self.dim == dim], minlength=self.n_atoms)

    # --- access ---------------------------------------------------------------------
    def _check_atom(self, i) -> int:
        if not isinstance(i, Integral) or not -self.n_atoms <= i < self.n_atoms:
            raise IndexError(f"atom={i!r} out of range for {self.n_atoms} atoms")
        return int(i) % self.n_atoms

    def of(self, i: int):
        """``(birth, death, dim)`` arrays (views) of atom ``i``'s pairs."""
        i = self._check_atom(i)
        s = slice(self.offsets[i], self.offsets[i + 1])
        return self.birth[s], self.death[s], self.dim[s]

    def diagram(self, i: int, dim: int) -> np.ndarray:
        """Atom ``i``'s pairs in dimension ``dim`` as a (k, 2) float64 array (birth, death)."""
        b, d, k = self.of(i)
        sel = k == dim
        return np.column_stack([b[sel], d[sel]])

    def pooled(self, dim: int, atoms=None) -> np.ndarray:
        """All pairs in dimension ``dim`` of the given atoms (default all), (k, 2) float64."""
        sub = self if atoms is None else self.select(atoms)
        sel = sub.dim == dim
        return np.column_stack([sub.birth[sel], sub.death[sel]])

    def to_gudhi(self, i: int) -> list:
        """Atom ``i``'s pairs as gudhi's ``persistence()`` list of ``(dim, (birth, death))``."""
        b, d, k = self.of(i)
        return [(int(kk), (float(bb), float(dd))) for bb, dd, kk in zip(b, d, k)]

    def to_ripser(self, i: int) -> list:
        """Atom ``i``'s pairs as ripser's ``dgms``: a list, index = dim, of (k, 2) arrays."""
        return [self.diagram(i, q) for q in range(self.max_dim + 1)]

    def select(self, atoms) -> "Diagrams":
        """The diagrams of a subset of atoms (indices or a boolean mask), in that order."""
        idx = np.arange(self.n_atoms)[np.asarray(atoms)]
        idx = np.atleast_1d(idx)
        counts = np.diff(self.offsets)[idx]
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        take = np.repeat(self.offsets[idx] - offsets[:-1], counts) + np.arange(offsets[-1])
        return Diagrams(offsets, self.birth[take], self.death[take], self.dim[take],
                        self.complex, self.max_dim)

    # --- construction ---------------------------------------------------------------
    @classmethod
    def concatenate(cls, parts) -> "Diagrams":
        """Stack the atoms of several :class:`Diagrams` (same complex), e.g. frames for ``fit``."""
        parts = list(parts)
        if not parts:
            raise ValueError("parts is empty; pass at least one Diagrams")
        kinds = {p.complex for p in parts}
        if len(kinds) > 1:
            raise ValueError(f"cannot concatenate diagrams of different complexes {sorted(kinds)}")
        counts = np.concatenate([np.diff(p.offsets) for p in parts])
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(offsets, np.concatenate([p.birth for p in parts]),
                   np.concatenate([p.death for p in parts]),
                   np.concatenate([p.dim for p in parts]), parts[0].complex,
                   max(p.max_dim for p in parts))

    @classmethod
    def from_pairs(cls, per_atom, complex="alpha", max_dim=2) -> "Diagrams":
        """Build from a list (one item per atom) of ripser-style diagram lists
        (index = dim, (k, 2) arrays) or gudhi-style ``[(dim, (birth, death)), ...]``.

        Zero-persistence pairs are dropped and pairs sorted, as the kernels do.
        """
        births, deaths, dims, counts = [], [], [], []
        for item in per_atom:
            item = list(item)
            if item and isinstance(item[0], tuple):  # gudhi
                arr = np.array([(b, d, k) for k, (b, d) in item], dtype=np.float64).reshape(-1, 3)
            else:
                blocks = [np.column_stack([np.asarray(x, dtype=np.float64).reshape(-1, 2),
                                           np.full(len(x), q)]) for q, x in enumerate(item)]
                arr = np.concatenate(blocks or [np.zeros((0, 3))])
            arr = arr[arr[:, 1] > arr[:, 0]]
            arr = arr[np.lexsort((arr[:, 1], arr[:, 0], arr[:, 2]))]
            births.append(arr[:, 0])
            deaths.append(arr[:, 1])
            dims.append(arr[:, 2])
            counts.append(len(arr))
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0))
        return cls(offsets, cat(births), cat(deaths), cat(dims).astype(np.int8), complex, max_dim)


# ------------------------------------------------------------------------------------------
# library backends: one call per cloud
# ------------------------------------------------------------------------------------------

def _gudhi_alpha(P, max_dim):
    import gudhi

    st = gudhi.AlphaComplex(points=P, precision="exact").create_simplex_tree()
    st.compute_persistence(persistence_dim_max=False)
    return [np.sqrt(np.asarray(st.persistence_intervals_in_dimension(q)).reshape(-1, 2))
            for q in range(max_dim + 1)]


def _gudhi_rips(P, max_dim):
    import gudhi

    st = gudhi.RipsComplex(points=P).create_simplex_tree(max_dimension=max_dim + 1)
    st.compute_persistence()
    return [np.asarray(st.persistence_intervals_in_dimension(q)).reshape(-1, 2)
            for q in range(max_dim + 1)]


def _ripser(P, max_dim):
    import ripser

    return [d.astype(np.float64) for d in ripser.ripser(P, maxdim=max_dim)["dgms"]]


_LIBRARY = {("alpha", "gudhi"): _gudhi_alpha, ("rips", "gudhi"): _gudhi_rips,
            ("rips", "ripser"): _ripser}


def _clouds(vectors, offsets, with_origin, idx):
    for a in idx:
        pts = vectors[offsets[a]:offsets[a + 1]]
        yield np.vstack([np.zeros((1, 3)), pts]) if with_origin else pts - pts[:1]


def _library(complex, backend, vectors, offsets, with_origin, max_dim, idx=None):
    fn = _LIBRARY[complex, backend]
    idx = range(len(offsets) - 1) if idx is None else idx
    per_atom = []
    for P in _clouds(vectors, offsets, with_origin, idx):
        if len(P) == 0:
            per_atom.append([np.zeros((0, 2))] * (max_dim + 1))
        elif len(P) == 1:
            per_atom.append([np.array([[0.0, np.inf]])] + [np.zeros((0, 2))] * max_dim)
        else:
            per_atom.append(fn(P, max_dim))
    return Diagrams.from_pairs(per_atom, complex, max_dim)


# ------------------------------------------------------------------------------------------
# numba batch driver
# ------------------------------------------------------------------------------------------

def _kernel_block(kernel, vectors, offsets, with_origin, max_dim, cap):
    n = len(offsets) - 1
    cap_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cap, out=cap_off[1:])
    out_b = np.empty(cap_off[-1])
    out_d = np.empty(cap_off[-1])
    out_k = np.empty(cap_off[-1], dtype=np.int8)
    out_n = np.zeros(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int8)
    import numba

    kernel(vectors, offsets, with_origin, max_dim, cap_off, out_b, out_d, out_k, out_n, status,
           8 * numba.get_num_threads())
    return cap_off, out_b, out_d, out_k, out_n, status


def _capacity(sizes, complex):
    """Pairs to make room for per cloud of ``sizes`` points; clouds with more run again.

    Measured: alpha gives ~4 pairs per point at 13 points and ~5.5 at 40 (thermal
    noise), Rips ~1.5-2.
    """
    return (8 if complex == "alpha" else 4) * sizes + 16


def _numba(complex, vectors, offsets, with_origin, max_dim):
    from .kernels_alpha import alpha_batch
    from .kernels_rips import rips_batch

    kernel = alpha_batch if complex == "alpha" else rips_batch
    fallback = "gudhi" if complex == "alpha" else "ripser"
    n = len(offsets) - 1
    sizes = np.diff(offsets) + with_origin
    parts = []
    for start in range(0, max(n, 1), _BLOCK):
        stop = min(n, start + _BLOCK)
        off = offsets[start:stop + 1]
        cap = _capacity(sizes[start:stop], complex)
        cap_off, out_b, out_d, out_k, out_n, status = _kernel_block(
            kernel, vectors, off, with_origin, max_dim, cap)
        redo = np.flatnonzero(status == 1)
        if len(redo):  # more pairs than the capacity guessed: run those again with room
            sub_off = np.concatenate([[0], np.cumsum(off[redo + 1] - off[redo])])
            sub_vec = np.concatenate([vectors[off[a]:off[a + 1]] for a in redo])
            r = _kernel_block(kernel, sub_vec, sub_off, with_origin, max_dim, out_n[redo] + 1)
            if np.any(r[5] != 0):  # the same clouds, now with exactly the room they need
                raise RuntimeError("kernel output changed between two runs on the same clouds")
            got = [(r[1][r[0][q]:r[0][q] + r[4][q]], r[2][r[0][q]:r[0][q] + r[4][q]],
                    r[3][r[0][q]:r[0][q] + r[4][q]]) for q in range(len(redo))]
        else:
            got = []
        counts = np.where(status == 0, out_n, 0)
        block_off = np.zeros(stop - start + 1, dtype=np.int64)
        np.cumsum(counts, out=block_off[1:])
        take = np.repeat(cap_off[:-1] - block_off[:-1], counts) + np.arange(block_off[-1])
        block = Diagrams(block_off, out_b[take], out_d[take], out_k[take], complex, max_dim)
        lib = np.flatnonzero(status >= 2)
        if len(lib):
            logger.info("%d of %d clouds went to %s (too large or not certified by the kernel)",
                        len(lib), stop - start, fallback)
        if len(lib) or len(redo):
            block = _patch(block, redo, got, lib,
                           _library(complex, fallback, vectors, off, with_origin, max_dim, lib)
                           if len(lib) else None)
        parts.append(block)
    return Diagrams.concatenate(parts)


def _patch(block, redo, got, lib, lib_dg):
    """Replace the diagrams of atoms ``redo`` (by ``got``) and ``lib`` (by ``lib_dg``)."""
    per_atom = {}
    for a, (b, d, k) in zip(redo, got):
        per_atom[int(a)] = (b, d, k)
    for q, a in enumerate(lib):
        per_atom[int(a)] = lib_dg.of(q)
    counts = np.diff(block.offsets).copy()
    for a, (b, _, _) in per_atom.items():
        counts[a] = len(b)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    birth = np.empty(offsets[-1])
    death = np.empty(offsets[-1])
    dim = np.empty(offsets[-1], dtype=np.int8)
    keep = np.ones(block.n_atoms, dtype=bool)
    keep[list(per_atom)] = False
    src = np.repeat(block.offsets[:-1] - offsets[:-1], np.where(keep, counts, 0))
    dst = np.repeat(keep, counts)
    pos = np.flatnonzero(dst)
    birth[pos] = block.birth[src + pos]
    death[pos] = block.death[src + pos]
    dim[pos] = block.dim[src + pos]
    for a, (b, d, k) in per_atom.items():
        s = slice(offsets[a], offsets[a + 1])
        birth[s], death[s], dim[s] = b, d, k
    return Diagrams(offsets, birth, death, dim, block.complex, block.max_dim)


def _drop_short(dg: Diagrams, min_persistence) -> Diagrams:
    if not (np.isfinite(min_persistence) and min_persistence >= 0):
        raise ValueError(f"min_persistence must be a finite number >= 0, got {min_persistence!r}")
    if min_persistence == 0:
        return dg
    keep = dg.death - dg.birth > min_persistence
    counts = np.add.reduceat(keep, dg.offsets[:-1]) if len(keep) else np.zeros(dg.n_atoms)
    counts = np.where(np.diff(dg.offsets) > 0, counts, 0)
    offsets = np.zeros(dg.n_atoms + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Diagrams(offsets, dg.birth[keep], dg.death[keep], dg.dim[keep], dg.complex, dg.max_dim)


def _compute(vectors, offsets, with_origin, complex, max_dim, backend, min_persistence=0.0):
    if complex not in COMPLEXES:
        raise ValueError(f"complex={complex!r} unknown; choose from {COMPLEXES}")
    if not isinstance(max_dim, Integral) or not 0 <= max_dim <= 2:
        raise ValueError(f"max_dim must be 0, 1 or 2, got {max_dim!r}")
    if backend == "auto":
        backend = "numba"
    if backend not in BACKENDS[complex]:
        raise ValueError(f"backend={backend!r} unavailable for complex={complex!r}; "
                         f"choose from {('auto',) + BACKENDS[complex]}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if backend == "numba":
        dg = _numba(complex, vectors, offsets, int(with_origin), int(max_dim))
    else:
        dg = _library(complex, backend, vectors, offsets, with_origin, int(max_dim))
    return _drop_short(dg, min_persistence)


# ------------------------------------------------------------------------------------------
# public functions
# ------------------------------------------------------------------------------------------

def local_persistence(frame, neighbors: NeighborList | None = None, *, complex: str = "alpha",
                      max_dim: int = 2, r_cut: float | None = None, k: int | None = None,
                      backend: str = "auto", atoms=None, min_persistence: float = 0.0) -> Diagrams:
    """Persistence diagrams of every atom's neighbourhood (H0..H``max_dim``).

    The cloud of atom ``i`` is the atom at the origin plus its neighbours'
    displacement vectors (periodic images unwrapped), so diagrams are invariant
    under rotations, translations, permutations and periodic shifts.

    Parameters
    ----------
    frame : Frame or ase.Atoms
    neighbors : NeighborList, optional
        Built once per frame and shared with other descriptors; truncated to ``r_cut``
        or its ``k`` nearest when those are also given.
    complex : {"alpha", "rips"}
        Filtration; alpha values are ball radii, Rips values edge lengths.
    max_dim : {0, 1, 2}
    r_cut : float, optional
        Neighbourhood cutoff.  Without ``neighbors``, ``r_cut`` and ``k``: 1.2 times
        :func:`descriptors.first_shell_distance` (the first shell).
    k : int, optional
        Use the ``k`` nearest neighbours instead of a cutoff.
    backend : {"auto", "numba", "gudhi", "ripser"}
    atoms : array of int or bool, optional
        Only these atoms (rows of the result follow them).  ``neighbors`` may then hold
        just their rows (``neighbor_list(frame, r_cut, query=atoms)`` or a chunk of
        :func:`descriptors.neighbors.neighbor_chunks`) instead of every atom's.
    min_persistence : float
        Drop pairs with ``death - birth <= min_persistence`` (length units).  The
        default 0 keeps every pair, as gudhi and ripser do -- including pairs of a few
        ulps that round-off creates where exact values tie (perfect lattices).

    Returns
    -------
    Diagrams
        ``n_atoms`` = number of atoms computed.

    Notes
    -----
    Perfect fcc and hcp give *identical* alpha and Rips diagrams for cutoffs up to
    about 1.5 nn (first and second shells: the cuboctahedron and the anticuboctahedron
    have the same faces, and the 6 second neighbours sit alike); they differ from the
    third shell on (``r_cut`` ~ 1.8 nn).  Separating fcc from hcp needs that cutoff, or
    another descriptor.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> dg = local_persistence(make_lattice("bcc", 3), complex="rips", r_cut=1.2, max_dim=1)
    >>> dg.counts().tolist()[:3], float(dg.diagram(0, 0)[0, 1])
    ([33, 33, 33], 1.0)
    """
    frame = as_frame(frame)
    if neighbors is None:
        if r_cut is None and k is None:
            r_cut = 1.2 * first_shell_distance(frame)
        if r_cut is not None and k is not None:
            raise ValueError(f"give at most one of r_cut and k (got r_cut={r_cut!r}, k={k!r})")
        neighbors = neighbor_list(frame, r_cut, k=k)
    else:
        if not isinstance(neighbors, NeighborList):
            raise TypeError(f"neighbors must be a NeighborList, got {type(neighbors).__name__}")
        rows_only = atoms is not None and neighbors.n_atoms != frame.n_atoms
        if rows_only and neighbors.n_atoms != len(np.arange(frame.n_atoms)[np.asarray(atoms)]):
            raise ValueError(f"neighbors has {neighbors.n_atoms} rows, neither the frame's "
                             f"{frame.n_atoms} atoms nor one per atom of `atoms`")
        if not rows_only and neighbors.n_atoms != frame.n_atoms:
            raise ValueError(f"neighbors has {neighbors.n_atoms} atoms but the frame has "
                             f"{frame.n_atoms}; build it from this frame")
        if r_cut is not None:
            neighbors = neighbors.truncate(r_cut)
        elif k is not None:
            neighbors = _k_nearest(neighbors, k)
    offsets, vectors = neighbors.offsets, neighbors.vectors
    if atoms is not None and neighbors.n_atoms == frame.n_atoms:
        idx = np.arange(frame.n_atoms)[np.asarray(atoms)]
        counts = np.diff(offsets)[idx]
        new = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(counts, out=new[1:])
        take = np.repeat(offsets[idx] - new[:-1], counts) + np.arange(new[-1])
        offsets, vectors = new, vectors[take]
    return _compute(vectors, offsets, True, complex, max_dim, backend, min_persistence)


def _k_nearest(nl: NeighborList, k) -> NeighborList:
    if not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    counts = nl.counts
    if np.any(counts < k):
        raise ValueError(f"k={k} but some atoms have only {int(counts.min())} neighbours in "
                         "the list; build it with a larger cutoff or neighbor_list(frame, k=k)")
    take = (nl.offsets[:-1, None] + np.arange(k)).ravel()
    return NeighborList(np.arange(nl.n_atoms + 1, dtype=np.int64) * k, nl.indices[take],
                        nl.distances[take], nl.vectors[take], None, int(k))


def cloud_persistence(clouds, offsets=None, *, complex: str = "alpha", max_dim: int = 2,
                      backend: str = "auto", min_persistence: float = 0.0) -> Diagrams:
    """Persistence diagrams of arbitrary small point clouds (one "atom" per cloud).

    Parameters
    ----------
    clouds : array of shape (n_points, 3), or a sequence of (m_i, 3) arrays
    offsets : array of shape (n_clouds + 1,), int, optional
        Cloud ``c`` is ``clouds[offsets[c]:offsets[c+1]]``; without it ``clouds`` is one
        cloud (an array) or a list of clouds.
    complex, max_dim, backend, min_persistence
        As :func:`local_persistence`.

    Returns
    -------
    Diagrams

    Examples
    --------
    >>> tet = [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]  # edge 2 sqrt(2)
    >>> cloud_persistence(tet).diagram(0, 2).round(4).tolist()
    [[1.633, 1.7321]]
    """
    if offsets is None:
        if isinstance(clouds, np.ndarray) or (len(clouds) and np.ndim(clouds[0]) == 1):
            parts = [np.asarray(clouds, dtype=np.float64)]
        else:
            parts = [np.asarray(c, dtype=np.float64) for c in clouds]
        for q, c in enumerate(parts):
            if c.ndim != 2 or c.shape[1] != 3:
                raise ValueError(f"cloud {q} must have shape (m, 3), got {c.shape}")
        offsets = np.concatenate([[0], np.cumsum([len(c) for c in parts])])
        clouds = np.concatenate(parts) if parts else np.zeros((0, 3))
    clouds = np.ascontiguousarray(clouds, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    if clouds.ndim != 2 or clouds.shape[1] != 3:
        raise ValueError(f"clouds.shape must be (n_points, 3), got {clouds.shape}")
    if (offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(clouds)
            or np.any(np.diff(offsets) < 0)):
        raise ValueError(f"offsets must rise from 0 to len(clouds)={len(clouds)}")
    if not np.isfinite(clouds).all():
        raise ValueError("clouds contain NaN or inf")
    return _compute(clouds, offsets, False, complex, max_dim, backend, min_persistence)
