"""Classic baselines: Steinhardt bond-order parameters and the ten Wolde solid-bond criterion.

Default backend ``"numba"``: crystopo's own float64 kernels
(:mod:`descriptors._steinhardt_kernels`) compute every atom's ``q_lm`` once from the
CSR neighbour list (its bond vectors, so any triclinic, rotated or narrow cell
works as the list does), in parallel over atoms, and derive from them the
Steinhardt ``q_l``, the Lechner-Dellago ``q̄_l`` and the ten Wolde bond counts.
:func:`steinhardt_and_solid` returns ``q`` and the solid flags from one set of
harmonics.  Results do not depend on the number of numba threads (bitwise).

Backend ``"freud"`` (the reference, float32): freud computes the spherical
harmonics.  crystopo's own neighbour list is handed to it through
:meth:`freud.locality.NeighborList.from_arrays`, in the box's canonical
(lower-triangular) orientation.  When the box is narrower than twice the cutoff
(one atom seen through several images), every bond is laid out instead as a
point at its displacement from a centre at the origin of a large open box, chunk
by chunk: freud then sees exactly crystopo's bonds.  Averages and bond coherences
are computed here from freud's ``q_lm``.

Conventions (both backends): ``q_lm(i)`` is the mean of ``Y_lm`` over the bonds of
``i``; ``q̄_lm(i)`` the mean of ``q_lm`` over ``i`` and its neighbours (one term
per bond); a bond is solid-like when its normalised coherence
``Re sum_m q_lm(i) q_lm(j)* / (|q_l(i)| |q_l(j)|)`` is ``>= q_threshold`` (0.5 at
l = 6), an atom is solid with ``>= n_bonds`` (7) solid-like bonds, counted over the
same neighbour list; atoms without neighbours get 0 and no solid bond.

Default cutoff: ``1.2 * first_shell_distance(frame)``.  It sits between the
first (1.0) and second (1.414) shells of fcc and hcp and takes bcc's first two
shells (8 + 6 neighbours at 1.0 and 1.155), the convention of the published
values q6 = 0.5745 (fcc), 0.4848 (hcp), 0.5106 (bcc, 14 neighbours; 0.6285
with 8) and 0.3536 (sc).  The first minimum of a simple liquid's g(r) lies
near 1.4 times its first peak, but 1.4 would cut through fcc's second shell
at 1.414 once atoms vibrate; pass ``r_cut`` (or a list) to choose otherwise.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import factorial, sqrt
from numbers import Integral, Real

import numpy as np

from .frame import as_frame
from .neighbors import NeighborList, first_shell_distance, neighbor_list

__all__ = ["BACKENDS", "default_shell_cutoff", "solid_bond_counts", "solid_liquid", "steinhardt",
           "steinhardt_and_solid", "steinhardt_w", "wigner_3j"]

BACKENDS = ("numba", "freud")

_SHELL_FACTOR = 1.2
_CHUNK = 1 << 16      # atoms per freud call
_BOND_CHUNK = 1 << 20  # bonds per dot-product batch


def default_shell_cutoff(frame) -> float:
    """``1.2 * first_shell_distance(frame)``: the first coordination shell (bcc: two shells).

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> default_shell_cutoff(make_lattice("fcc", 3, nn_distance=2.5))
    3.0
    """
    return _SHELL_FACTOR * first_shell_distance(as_frame(frame))


def _check_ls(l):
    ls = [l] if isinstance(l, Integral) else list(l)
    if not ls or any(isinstance(x, bool) or not isinstance(x, Integral) or x < 0 for x in ls):
        raise ValueError(f"l must be a non-negative integer or a non-empty sequence of them, got l={l!r}")
    return [int(x) for x in ls]


def _shell_list(frame, neighbors, r_cut):
    """The neighbour list to use: ``neighbors`` (optionally truncated) or a new one."""
    if r_cut is not None and (not isinstance(r_cut, Real) or not np.isfinite(r_cut) or r_cut <= 0):
        raise ValueError(f"r_cut must be a positive finite number or None, got r_cut={r_cut!r}")
    if neighbors is None:
        return neighbor_list(frame, r_cut=default_shell_cutoff(frame) if r_cut is None else float(r_cut))
    if not isinstance(neighbors, NeighborList):
        raise ValueError(f"neighbors must be a NeighborList or None, got {type(neighbors).__name__}")
    if neighbors.n_atoms != frame.n_atoms:
        raise ValueError(f"neighbors has {neighbors.n_atoms} atoms, the frame {frame.n_atoms}")
    if r_cut is None:
        return neighbors
    if neighbors.r_cut is None:
        raise ValueError(f"r_cut={r_cut!r} cannot be applied to a k-nearest neighbour list "
                         f"(k={neighbors.k}); pass r_cut=None")
    return neighbors.truncate(float(r_cut))


def _harmonics(frame, nl, ls):
    """``q_lm`` of every atom for each ``l``: list of complex64 arrays (n_atoms, 2l + 1).

    freud's normalisation, ``q_lm(i) = mean over bonds of Y_lm(r_ij)``; atoms without
    neighbours get zeros.  freud recomputes each bond from the positions it is given
    (minimum image), so crystopo's positions go in as they are when every bond is its
    own minimum image; otherwise each bond becomes a point at its displacement from a
    centre at the origin of a large open box.
    """
    import freud

    n = nl.n_atoms
    comp = freud.order.Steinhardt(ls if len(ls) > 1 else ls[0])
    reach = float(nl.distances.max()) if len(nl.distances) else 0.0
    box, rot = frame.box.canonical()
    if np.all(box.pbc) and 2.0 * reach * (1 + 1e-5) < box.widths.min():
        fbox = freud.box.Box.from_matrix(box.cell.T)
        pos = fbox.wrap(frame.positions @ rot - box.origin - box.cell.sum(axis=0) / 2)
        fnl = freud.locality.NeighborList.from_arrays(n, n, nl.query_indices(), nl.indices,
                                                      nl.vectors @ rot)
        comp.compute((fbox, pos), neighbors=fnl)
        harm = comp.particle_harmonics
        harm = harm if isinstance(harm, list) else [harm]
        has = (nl.counts > 0)[:, None]
        return [np.where(has, np.asarray(h), 0).astype(np.complex64) for h in harm]
    out = [np.zeros((n, 2 * l + 1), dtype=np.complex64) for l in ls]
    box = freud.box.Box.cube(4.0 * reach + 1.0)  # bond vectors never wrap in it
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        lo, hi = nl.offsets[start], nl.offsets[stop]
        nb = int(hi - lo)
        if nb == 0:
            continue
        centre = np.repeat(np.arange(stop - start), np.diff(nl.offsets[start:stop + 1]))
        points = np.concatenate([np.zeros((stop - start, 3)), nl.vectors[lo:hi]])
        fnl = freud.locality.NeighborList.from_arrays(
            len(points), len(points), centre, (stop - start) + np.arange(nb), nl.vectors[lo:hi])
        comp.compute((box, points), neighbors=fnl)
        harm = comp.particle_harmonics
        harm = harm if isinstance(harm, list) else [harm]
        has = np.diff(nl.offsets[start:stop + 1]) > 0
        for q, h in zip(out, harm):
            q[start:stop][has] = np.asarray(h)[:stop - start][has]
    return out


def _average(nl, qlm):
    """Lechner-Dellago average over the atom and its neighbours (one term per bond)."""
    from scipy.sparse import csr_matrix

    n = nl.n_atoms
    adjacency = csr_matrix((np.ones(len(nl.indices), dtype=np.float32), nl.indices, nl.offsets),
                           shape=(n, n))
    return (qlm + adjacency @ qlm) / (1.0 + nl.counts)[:, None]


def _ql(qlm, l):
    return np.sqrt(4.0 * np.pi / (2 * l + 1) * np.sum(np.abs(qlm) ** 2, axis=1))


def _check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} unknown; choose from {BACKENDS}")


def _check_solid(q_threshold, n_bonds, l):
    if isinstance(l, bool) or not isinstance(l, Integral) or l < 1:
        raise ValueError(f"l must be an integer >= 1, got l={l!r}")
    if not isinstance(q_threshold, Real) or not -1.0 <= q_threshold <= 1.0:
        raise ValueError(f"q_threshold must be a number in [-1, 1], got q_threshold={q_threshold!r}")
    if n_bonds is not None and (isinstance(n_bonds, bool) or not isinstance(n_bonds, Integral)
                                or n_bonds < 0):
        raise ValueError(f"n_bonds must be an integer >= 0, got n_bonds={n_bonds!r}")


def _blocks(ls, lmax):
    """Column of each ``l``'s ``q_l0`` in a row of the blocks ``l`` in ``ls`` (m = 0..l each,
    in this order; -1 for an ``l`` up to ``lmax`` not in ``ls``), and the row's width."""
    col = np.full(lmax + 1, -1, dtype=np.int64)
    width = 0
    for ll in ls:
        col[ll] = width
        width += ll + 1
    return col, width


def _numba_compute(nl, ls, average, solid_l, q_threshold):
    """``(q, counts)`` from one pass of harmonics: q (n, len(ls)) float64 (``None`` if ``ls``
    is empty), solid-bond counts (n,) int32 at ``solid_l`` (``None`` if ``solid_l`` is None)."""
    from . import _steinhardt_kernels as K

    need = sorted(set(ls) | ({solid_l} if solid_l is not None else set()))
    lmax = need[-1]
    acc_col, width = _blocks(need, lmax)
    stored = sorted(set(ls) if average else set()) + \
        ([solid_l] if solid_l is not None and not (average and solid_l in ls) else [])
    store_col, store_width = _blocks(stored, lmax)
    col_l = np.asarray(ls, dtype=np.int64)
    a, b, pmm = K.legendre_tables(lmax)
    offsets = np.ascontiguousarray(nl.offsets, dtype=np.int64)
    vectors = np.ascontiguousarray(nl.vectors, dtype=np.float64).reshape(-1, 3)
    sl = -1 if solid_l is None else int(solid_l)
    q, qlm, inv_norm = K.qlm_kernel(offsets, vectors, a, b, pmm, acc_col, width, col_l,
                                    store_col, store_width, sl)
    counts = None
    own = q
    if average or solid_l is not None:
        indices = np.ascontiguousarray(nl.indices, dtype=np.int32)
        qbar, counts = K.neighbor_kernel(offsets, indices, qlm, col_l, store_col, bool(average),
                                         sl, inv_norm, float(q_threshold))
        if average:
            q = qbar
        if solid_l is None:
            counts = None
    return (q if len(ls) else None), counts, (own if len(ls) else None)


def _freud_steinhardt(frame, nl, ls, average):
    q = np.zeros((frame.n_atoms, len(ls)), dtype=np.float32)
    for col, (ll, qlm) in enumerate(zip(ls, _harmonics(frame, nl, ls))):
        q[:, col] = _ql(_average(nl, qlm) if average else qlm, ll)
    return q


def _freud_counts(frame, nl, q_threshold, l):
    (qlm,) = _harmonics(frame, nl, [int(l)])
    norm = np.sqrt(np.sum(np.abs(qlm) ** 2, axis=1))
    unit = np.where(norm[:, None] > 0, qlm / np.where(norm > 0, norm, 1.0)[:, None], 0)
    qi = nl.query_indices()
    solid = np.zeros(len(qi), dtype=bool)
    for s in range(0, len(qi), _BOND_CHUNK):
        a, b = unit[qi[s:s + _BOND_CHUNK]], unit[nl.indices[s:s + _BOND_CHUNK]]
        solid[s:s + _BOND_CHUNK] = np.einsum("ij,ij->i", a, b.conj()).real >= q_threshold
    return np.bincount(qi[solid], minlength=frame.n_atoms).astype(np.int32)


def steinhardt(frame, neighbors=None, *, l=(4, 6, 8, 10, 12), average: bool = False,
               r_cut=None, backend: str = "numba") -> np.ndarray:
    """Steinhardt ``q_l`` (or Lechner-Dellago averaged ``q̄_l``) of every atom.

    Parameters
    ----------
    frame : Frame or ase.Atoms
    neighbors : NeighborList, optional
        Bonds to use (truncated at ``r_cut`` when both are given).
    l : int or sequence of int
    average : bool
        ``q̄_l``: ``q_lm`` averaged over the atom and its neighbours before the norm.
    r_cut : float, optional
        Default :func:`default_shell_cutoff` (1.2 x the first-neighbour distance).
    backend : {"numba", "freud"}
        ``"numba"``: crystopo's float64 kernels; ``"freud"``: the float32 reference.

    Returns
    -------
    q : ndarray of shape (n_atoms, len(l))
        float64 (``backend="freud"``: float32); atoms without neighbours get 0.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> q = steinhardt(make_lattice("fcc", 3), l=(4, 6))
    >>> q.shape, q.dtype, round(float(q[0, 1]), 5)
    ((108, 2), dtype('float64'), 0.57452)
    """
    frame = as_frame(frame)
    ls = _check_ls(l)
    _check_backend(backend)
    nl = _shell_list(frame, neighbors, r_cut)
    if backend == "freud":
        return _freud_steinhardt(frame, nl, ls, average)
    return _numba_compute(nl, ls, bool(average), None, 0.5)[0]


def steinhardt_and_solid(frame, neighbors=None, *, l=(4, 6, 8, 10, 12), average: bool = False,
                         r_cut=None, q_threshold: float = 0.5, n_bonds: int = 7,
                         solid_l: int = 6, return_counts: bool = False,
                         return_local: bool = False, backend: str = "numba"):
    """:func:`steinhardt` and :func:`solid_liquid` from one computation of the harmonics.

    Same bonds for both (``neighbors`` / ``r_cut`` as in :func:`steinhardt`); the
    ``q_lm`` of every ``l`` in ``l`` and of ``solid_l`` are computed once, in float64.

    Parameters
    ----------
    l, average : as in :func:`steinhardt`
    q_threshold, n_bonds : as in :func:`solid_liquid`
    solid_l : int
        ``l`` of the ten Wolde bond coherence (``l`` of :func:`solid_liquid`).
    return_counts : bool
        Also return the solid-bond counts (:func:`solid_bond_counts`).
    return_local : bool
        Also return each atom's own (not averaged) q_l, from the same harmonics (with
        ``average=False`` it equals ``q``).
    backend : {"numba", "freud"}
        ``"freud"`` calls the float32 reference twice (harmonics computed twice).

    Returns
    -------
    q : ndarray of shape (n_atoms, len(l)), float64 (``backend="freud"``: float32)
    is_solid : ndarray of shape (n_atoms,), bool
    counts : ndarray of shape (n_atoms,), int32, only with ``return_counts``
    q_local : ndarray of shape (n_atoms, len(l)), only with ``return_local`` (after ``counts``)

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> q, solid = steinhardt_and_solid(make_lattice("fcc", 3, noise=0.03, seed=0), average=True)
    >>> q.shape, bool(solid.all())
    ((108, 5), True)
    """
    frame = as_frame(frame)
    ls = _check_ls(l)
    _check_solid(q_threshold, n_bonds, solid_l)
    _check_backend(backend)
    nl = _shell_list(frame, neighbors, r_cut)
    if backend == "freud":
        q = _freud_steinhardt(frame, nl, ls, average)
        counts = _freud_counts(frame, nl, q_threshold, int(solid_l))
        own = _freud_steinhardt(frame, nl, ls, False) if (return_local and average) else q
    else:
        q, counts, own = _numba_compute(nl, ls, bool(average), int(solid_l), float(q_threshold))
    solid = counts >= n_bonds
    return (q, solid) + ((counts,) if return_counts else ()) + ((own,) if return_local else ())


def solid_bond_counts(frame, neighbors=None, *, r_cut=None, q_threshold: float = 0.5,
                      l: int = 6, backend: str = "numba") -> np.ndarray:
    """Number of solid-like bonds of each atom (ten Wolde, Ruiz-Montero and Frenkel).

    A bond ``i-j`` is solid-like when the coherence
    ``Re sum_m q_lm(i) q_lm(j)* / (|q_l(i)| |q_l(j)|)`` is at least ``q_threshold``
    (0 when an atom has no neighbours).

    Returns
    -------
    counts : ndarray of shape (n_atoms,), int32

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> sorted(set(solid_bond_counts(make_lattice("fcc", 3)).tolist()))
    [12]
    """
    frame = as_frame(frame)
    _check_solid(q_threshold, None, l)
    _check_backend(backend)
    nl = _shell_list(frame, neighbors, r_cut)
    if backend == "freud":
        return _freud_counts(frame, nl, q_threshold, int(l))
    return _numba_compute(nl, [], False, int(l), float(q_threshold))[1]


def solid_liquid(frame, neighbors=None, *, r_cut=None, q_threshold: float = 0.5,
                 n_bonds: int = 7, l: int = 6, backend: str = "numba") -> np.ndarray:
    """ten Wolde solid-like atoms: at least ``n_bonds`` solid-like bonds (see :func:`solid_bond_counts`).

    Returns
    -------
    is_solid : ndarray of shape (n_atoms,), bool

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> bool(solid_liquid(make_lattice("hcp", 3, noise=0.03, seed=0)).all())
    True
    """
    if isinstance(n_bonds, bool) or not isinstance(n_bonds, Integral) or n_bonds < 0:
        raise ValueError(f"n_bonds must be an integer >= 0, got n_bonds={n_bonds!r}")
    return solid_bond_counts(frame, neighbors, r_cut=r_cut, q_threshold=q_threshold, l=l,
                             backend=backend) >= n_bonds


def wigner_3j(l1: int, l2: int, l3: int, m1: int, m2: int, m3: int) -> float:
    """The Wigner 3j symbol ``(l1 l2 l3; m1 m2 m3)`` (Racah's formula, summed exactly in
    rational arithmetic, one square root at the end).

    Examples
    --------
    >>> round(wigner_3j(2, 2, 2, 0, 0, 0), 10), round(-(2 / 35) ** 0.5, 10)
    (-0.2390457219, -0.2390457219)
    """
    ls, ms = (l1, l2, l3), (m1, m2, m3)
    if any(isinstance(v, bool) or not isinstance(v, Integral) for v in ls + ms) or min(ls) < 0:
        raise ValueError(f"wigner_3j needs integers l >= 0 and m, got {ls} {ms}")
    if sum(ms) != 0 or any(abs(m) > l for l, m in zip(ls, ms)) \
            or not abs(l1 - l2) <= l3 <= l1 + l2:
        return 0.0
    pre = Fraction(factorial(l1 + l2 - l3) * factorial(l1 - l2 + l3) * factorial(-l1 + l2 + l3),
                   factorial(l1 + l2 + l3 + 1))
    for l, m in zip(ls, ms):
        pre *= factorial(l + m) * factorial(l - m)
    total = Fraction(0)
    for k in range(max(0, l2 - l3 - m1, l1 - l3 + m2), min(l1 + l2 - l3, l1 - m1, l2 + m2) + 1):
        total += Fraction((-1) ** k, factorial(k) * factorial(l3 - l2 + k + m1)
                          * factorial(l3 - l1 + k - m2) * factorial(l1 + l2 - l3 - k)
                          * factorial(l1 - k - m1) * factorial(l2 - k + m2))
    sign = -1 if (l1 - l2 - m3) % 2 else 1
    return sign * float(total) * sqrt(pre)


@lru_cache(maxsize=None)
def _w_triples(l: int):
    """``(m, c)``: every ``(m1, m2, m3)`` with ``m1 + m2 + m3 = 0`` and a non-zero
    ``(l l l; m1 m2 m3)``, and that symbol."""
    rows = [(m1, m2, -m1 - m2) for m1 in range(-l, l + 1) for m2 in range(-l, l + 1)
            if abs(m1 + m2) <= l]
    c = np.array([wigner_3j(l, l, l, *r) for r in rows])
    keep = c != 0
    return np.array(rows, dtype=np.int64)[keep], c[keep]


def _check_w_ls(l):
    ls = _check_ls(l)
    if any(x < 2 or x % 2 for x in ls):
        raise ValueError(f"l must hold even integers >= 2 for the w_l (w_l vanishes for odd l, "
                         f"w_0 is 1), got l={l!r}")
    return ls


def steinhardt_w(frame, neighbors=None, *, l=(4, 6), average: bool = False,
                 r_cut=None) -> np.ndarray:
    """Steinhardt's normalised third-order invariants ``ŵ_l`` of every atom (with
    ``average``: Lechner and Dellago's ``w̄_l``, from the averaged ``q̄_lm``).

    ``ŵ_l = sum_{m1+m2+m3=0} (l l l; m1 m2 m3) q_lm1 q_lm2 q_lm3 / (sum_m |q_lm|^2)^(3/2)``
    (:func:`wigner_3j`), from the same float64 harmonics, bonds and averages as
    :func:`steinhardt`.  Where ``q̄_l`` sees how ordered a shell is, the sign and size of
    ``w̄_l`` tell its symmetry: ideal fcc ``ŵ4 = -0.159317``, hcp ``+0.134097``;
    ``ŵ6``: fcc ``-0.013161``, hcp ``-0.012442``, an icosahedron ``-0.169754``.

    Parameters
    ----------
    frame, neighbors, r_cut : as in :func:`steinhardt`
    l : int or sequence of even int >= 2
    average : bool

    Returns
    -------
    w : ndarray of shape (n_atoms, len(l)), float64; 0 for atoms without neighbours and where
        ``q_l`` vanishes (below ~1e-12: an icosahedron's ``q4``), where ``ŵ_l`` is 0/0.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> w = steinhardt_w(make_lattice("fcc", 3), l=(4, 6))
    >>> [round(float(v), 6) for v in w[0]]
    [-0.159317, -0.013161]
    """
    from . import _steinhardt_kernels as K

    frame = as_frame(frame)
    ls = _check_w_ls(l)
    nl = _shell_list(frame, neighbors, r_cut)
    lmax = max(ls)
    acc_col, width = _blocks(sorted(set(ls)), lmax)
    store_col = acc_col.copy()                 # every block needed is stored, same layout
    col_l = np.asarray(ls, dtype=np.int64)
    a, b, pmm = K.legendre_tables(lmax)
    offsets = np.ascontiguousarray(nl.offsets, dtype=np.int64)
    vectors = np.ascontiguousarray(nl.vectors, dtype=np.float64).reshape(-1, 3)
    _, qlm, _ = K.qlm_kernel(offsets, vectors, a, b, pmm, acc_col, width, col_l, store_col,
                             width, -1)
    if average:
        qlm = _average(nl, qlm)
    t_m, t_c, t_off = [], [], [0]
    for ll in ls:
        m, c = _w_triples(ll)
        t_m.append(m)
        t_c.append(c)
        t_off.append(t_off[-1] + len(c))
    return K.wl_kernel(np.ascontiguousarray(qlm), store_col, col_l,
                       np.asarray(t_off, dtype=np.int64), np.concatenate(t_m),
                       np.concatenate(t_c))
