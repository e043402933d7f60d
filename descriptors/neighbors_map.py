"""The Neighbors Map descriptor (Allera et al.): each atom's environment as a small image.

Layout of one image (``S = size``), the same as the reference code
(github.com/arn-all/neighbors-maps, ``get_neighbor_map``):

* the *ball* is the central atom 0 and its ``m`` neighbours closer than
  ``r_cut``, numbered ``j_1 ... j_m`` by increasing distance from atom 0;
* row 0, column ``c``: distance from atom 0 to ``j_{c+1}``;
* row ``i >= 1`` belongs to neighbour ``j_i``; column ``c`` holds the distance
  from ``j_i`` to its ``(c+1)``-th nearest atom *of the ball* (atom 0 included,
  ``j_i`` itself excluded), so every row is sorted;
* rows run to ``min(S - 1, m)`` (``j_S`` appears in row 0 but has no row of
  its own) and columns to ``min(S, m)``; missing entries are 0;
* pixel ``P[i, c] = alpha_i * w * d**(-gamma)`` with ``alpha_0 = 1`` and
  ``alpha_i = d(0, j_i)**(-1/beta)``; ``w`` is the product of the node weights
  of the two atoms of the pair (1 in the geometric channel 0, one further
  channel per weight set).

Distances between neighbours come from the neighbour list's displacement
vectors, so periodic images (triclinic boxes, boxes smaller than the ball) are
exact.  Ties are broken canonically, so that symmetric sites give identical
images whatever the atom order: distances within a relative ``1e-8`` of each
other form a tie group; inside a group, columns are ordered by the partner's
type, and rows by their content (distances, then types).  The reference code
breaks ties in k-d tree order instead; on thermally noisy data (no exact ties)
both agree.  The reference searches the ball with ``d <= r_cut``; crystopo's
neighbour lists use ``d < r_cut``.

The kernels live in :mod:`descriptors._nmap_backends` (the NumPy reference and
the numba driver) and :mod:`descriptors._nmap_kernels` (the compiled code).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from ._nmap_backends import nmap_numba as _nmap_numba, nmap_numpy as _nmap_numpy
from .frame import as_frame
from .neighbors import NeighborList, neighbor_list

# the sorting networks and the compiled kernel, under the names the tests and benchmarks read
from ._nmap_backends import merge_schedule as _merge_schedule, networks as _networks  # noqa: F401
from ._nmap_features import feature_rows as _feature_rows
from ._nmap_kernels import (BITONIC as _BITONIC, BITONIC_NET as _BITONIC_NET,  # noqa: F401
                            BLOCK as _BLOCK, BLOCK_NET as _BLOCK_NET, EXCHANGE as _EXCHANGE,
                            MIN as _MIN, NET_MAX as _NET_MAX, nmap_parallel as _nmap_parallel)

__all__ = ["neighbors_map", "iter_neighbors_map", "neighbors_map_features",
           "default_map_cutoff", "NMAP_BACKENDS"]

logger = logging.getLogger(__name__)

_CUTOFF_FACTOR = 1.2    # r_cut = 1.2 x distance of the (size+1)-th neighbour, as the reference tutorial
_NEIGHBOR_BLOCK = 2 ** 18  # atoms per neighbour search when iterating without a given list


NMAP_BACKENDS = {"numpy": _nmap_numpy, "numba": _nmap_numba}


def _kernel(backend):
    if backend not in NMAP_BACKENDS:
        raise ValueError(f"backend={backend!r} unavailable; choose from {sorted(NMAP_BACKENDS)}")
    return NMAP_BACKENDS[backend]


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------

def _check_params(size, r_cut, gamma, beta):
    if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got size={size!r}")
    if r_cut is not None and (not isinstance(r_cut, Real) or not np.isfinite(r_cut) or r_cut <= 0):
        raise ValueError(f"r_cut must be a positive finite number or None, got r_cut={r_cut!r}")
    for name, val in (("gamma", gamma), ("beta", beta)):
        if not isinstance(val, Real) or not np.isfinite(val) or val <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {name}={val!r}")


def _weight_table(frame, weights):
    """``(codes (n,) int32, wtab (n_channels, n_types) float64)``; channel 0 is all ones."""
    kinds, codes = np.unique(frame.types, return_inverse=True)
    if weights is None:
        return np.zeros(frame.n_atoms, dtype=np.int32), np.ones((1, 1))
    sets = [weights] if isinstance(weights, Mapping) else list(weights)
    wtab = np.ones((1 + len(sets), len(kinds)))
    for ch, wset in enumerate(sets, start=1):
        if not isinstance(wset, Mapping):
            raise ValueError(f"weights[{ch - 1}] must be a mapping atom type -> weight, "
                             f"got weights[{ch - 1}]={wset!r}")
        for t_i, t in enumerate(kinds):
            if int(t) not in wset:
                raise ValueError(f"weights[{ch - 1}]={dict(wset)!r} has no weight for atom type "
                                 f"{int(t)}; give one for every type in {kinds.tolist()}")
            w = wset[int(t)]
            if not isinstance(w, Real) or not np.isfinite(w):
                raise ValueError(f"weights[{ch - 1}][{int(t)}] must be a finite number, got {w!r}")
            wtab[ch, t_i] = float(w)
    return codes.astype(np.int32), wtab


def default_map_cutoff(frame, size: int = 32, *, sample: int = 2000, seed: int = 0) -> float:
    """Default ball radius: 1.2 times the median distance to the ``(size + 1)``-th neighbour.

    This is the rule of the reference tutorial (``cutoff_factor=1.2`` times the
    ``size``-th neighbour distance past the atom itself): the ball then holds about
    ``1.2**3 * (size + 1)`` atoms (fcc: 54 for ``size=32``), so nearly every atom
    of a noisy crystal, or of a liquid, gets a full ``size x size`` image.  The
    median is taken over up to ``sample`` atoms.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> round(default_map_cutoff(make_lattice("fcc", 3), 32), 4)  # 1.2 * sqrt(3)
    2.0785
    """
    frame = as_frame(frame)
    _check_params(size, None, 2.0, 3.0)
    if frame.n_atoms == 0:
        raise ValueError("frame has no atoms; cannot derive r_cut")
    rng = np.random.default_rng(seed)
    idx = np.arange(frame.n_atoms)
    if frame.n_atoms > sample:
        idx = np.sort(rng.choice(frame.n_atoms, sample, replace=False))
    nl = neighbor_list(frame, k=int(size) + 1, query=idx)
    return float(_CUTOFF_FACTOR * np.median(nl.distances[nl.offsets[1:] - 1]))


def _resolve_cutoff(frame, neighbors, size, r_cut, n_rows=None):
    """Cutoff the kernel applies (``inf`` keeps every neighbour of a k-nearest list);
    ``neighbors`` must hold ``n_rows`` rows (default: one per atom)."""
    if neighbors is None:
        return default_map_cutoff(frame, size) if r_cut is None else float(r_cut)
    if not isinstance(neighbors, NeighborList):
        raise ValueError(f"neighbors must be a NeighborList or None, got {type(neighbors).__name__}")
    want = frame.n_atoms if n_rows is None else n_rows
    if neighbors.n_atoms != want:
        raise ValueError(f"neighbors has {neighbors.n_atoms} atoms, the frame {frame.n_atoms}"
                         if n_rows is None else
                         f"neighbors has {neighbors.n_atoms} rows, the slice rows {n_rows}")
    if neighbors.r_cut is None:
        if r_cut is not None:
            raise ValueError(f"r_cut={r_cut!r} cannot be applied to a k-nearest neighbour list "
                             f"(k={neighbors.k}): its balls may be incomplete; pass r_cut=None")
        return np.inf
    if r_cut is None:
        return float(neighbors.r_cut)
    if r_cut > neighbors.r_cut:
        raise ValueError(f"r_cut={r_cut!r} exceeds the neighbour list's cutoff {neighbors.r_cut}")
    return float(r_cut)


def _slice_list(nl, start, stop):
    lo, hi = nl.offsets[start], nl.offsets[stop]
    return (nl.offsets[start:stop + 1] - lo, nl.indices[lo:hi], nl.distances[lo:hi], nl.vectors[lo:hi])


def _chunks(frame, neighbors, r_cut, chunk, lo=0):
    """Yield ``(start, stop, (offsets, indices, distances, vectors))`` of consecutive atoms;
    a given ``neighbors`` holds the rows of atoms ``lo, lo + 1, ...``."""
    n = frame.n_atoms
    if neighbors is not None:
        hi = lo + neighbors.n_atoms
        for start in range(lo, hi, chunk):
            stop = min(hi, start + chunk)
            yield start, stop, _slice_list(neighbors, start - lo, stop - lo)
        return
    block = max(chunk, (_NEIGHBOR_BLOCK // chunk) * chunk)
    for bstart in range(0, n, block):
        bstop = min(n, bstart + block)
        query = None if (bstart == 0 and bstop == n) else np.arange(bstart, bstop)
        logger.debug("neighbour search for atoms %d-%d (r_cut=%g)", bstart, bstop, r_cut)
        nl = neighbor_list(frame, r_cut=r_cut, query=query)
        for start in range(bstart, bstop, chunk):
            stop = min(bstop, start + chunk)
            yield start, stop, _slice_list(nl, start - bstart, stop - bstart)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------

def _prepare(frame, neighbors, size, r_cut, gamma, beta, weights, backend, chunk, n_rows=None):
    """Validate everything up front; return (frame, kernel, codes, wtab, cutoff)."""
    frame = as_frame(frame)
    _check_params(size, r_cut, gamma, beta)
    if isinstance(chunk, bool) or not isinstance(chunk, Integral) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1, got chunk={chunk!r}")
    kernel = _kernel(backend)
    codes, wtab = _weight_table(frame, weights)
    cut = _resolve_cutoff(frame, neighbors, size, r_cut, n_rows) if frame.n_atoms else np.inf
    return frame, kernel, codes, wtab, cut


def _row_range(frame, neighbors, rows):
    """``(first row, number of rows)`` of a ``rows`` slice (``(0, None)``: every atom)."""
    if rows is None:
        return 0, None
    if not isinstance(rows, slice) or rows.step not in (None, 1) or neighbors is None:
        raise ValueError(f"rows must be a slice start:stop of the frame's atoms, with the "
                         f"neighbour list of those rows, got rows={rows!r}")
    lo, hi, _ = rows.indices(as_frame(frame).n_atoms)
    return lo, max(0, hi - lo)


def _blocks(frame, neighbors, chunk, size, gamma, beta, kernel, codes, wtab, cut, out=None,
            reuse=False, lo=0):
    """Yield ``(slice, images)``; images are views of ``out`` when given, fresh arrays otherwise,
    or (``reuse``) views of one buffer, overwritten by the next block."""
    if frame.n_atoms == 0:
        return
    buf = None
    for start, stop, (off, idx, dist, vec) in _chunks(frame, neighbors, cut, int(chunk), lo):
        if out is not None:
            block = out[start - lo:stop - lo]
        elif reuse:  # fresh memory costs a page fault per atom (4 KB per channel) every block
            if buf is None:
                buf = np.empty((min(int(chunk), frame.n_atoms), wtab.shape[0], size, size),
                               dtype=np.float32)
            block = buf[:stop - start]
        else:
            block = np.empty((stop - start, wtab.shape[0], size, size), dtype=np.float32)
        kernel(np.ascontiguousarray(off, dtype=np.int64), np.ascontiguousarray(idx, dtype=np.int32),
               np.ascontiguousarray(dist, dtype=np.float64), np.ascontiguousarray(vec, dtype=np.float64),
               codes[start:stop], codes, wtab, int(size), float(gamma), float(beta), float(cut), block)
        yield slice(start, stop), block


def iter_neighbors_map(frame, neighbors=None, *, chunk: int = 16384, size: int = 32, r_cut=None,
                       gamma: float = 2.0, beta: float = 3.0, weights=None, backend: str = "numba"):
    """Neighbors Maps of consecutive blocks of atoms, so that no caller holds the whole stack.

    Parameters are those of :func:`neighbors_map`, plus ``chunk``, the number of
    atoms per block (16384 atoms are 64 MB per channel at ``size=32``).  Without
    ``neighbors``, the neighbour list is built block by block too (2**18 atoms at
    a time), so memory stays bounded at 10^6 atoms.  Parameters are checked when
    the function is called, not when the first block is drawn.

    Returns
    -------
    iterator of (slice, ndarray of shape (stop - start, n_channels, size, size), float32)
        The rows of the frame a block covers, and their images.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> [(s.start, im.shape) for s, im in iter_neighbors_map(make_lattice("sc", 4), chunk=40)]
    [(0, (40, 1, 32, 32)), (40, (24, 1, 32, 32))]
    """
    frame, kernel, codes, wtab, cut = _prepare(frame, neighbors, size, r_cut, gamma, beta, weights,
                                               backend, chunk)
    return _blocks(frame, neighbors, chunk, size, gamma, beta, kernel, codes, wtab, cut)


def neighbors_map(frame, neighbors=None, *, size: int = 32, r_cut=None, gamma: float = 2.0,
                  beta: float = 3.0, weights=None, backend: str = "numba", rows=None) -> np.ndarray:
    """Neighbors Map of every atom: an image of sorted, weighted distances in its ball.

    Row 0 holds the atom's distances to its neighbours ``j_1 ... j_S`` (sorted);
    row ``i`` holds the sorted distances from ``j_i`` to the other atoms of the
    ball; pixel ``alpha_i * w * d**-gamma`` (see the module docstring for the
    exact layout, weights and tie-breaking).

    Parameters
    ----------
    frame : Frame or ase.Atoms
        Orthogonal or triclinic periodic box.
    neighbors : NeighborList, optional
        Reused when given (cutoff ``>= r_cut``, or a k-nearest list whose k nearest
        then form the ball); built with ``r_cut`` otherwise.
    size : int
        Image side ``S`` (the paper uses 32).
    r_cut : float, optional
        Ball radius; default :func:`default_map_cutoff` (1.2 times the median
        distance to the ``(size + 1)``-th neighbour) or the list's own cutoff.
    gamma, beta : float
        Pixel decay ``d**-gamma`` and row weights ``d(0, j_i)**(-1/beta)``.
    weights : mapping or sequence of mappings, optional
        Each mapping ``{atom type: weight}`` adds one channel where a pixel is
        multiplied by the weights of both atoms of its pair.
    backend : {"numba", "numpy"}
        ``"numpy"`` is a slow reference kept for tests.
    rows : slice, optional
        Only the frame's atoms ``rows.start:rows.stop``, whose rows ``neighbors`` holds (a
        chunk of :func:`descriptors.neighbors.neighbor_chunks`).

    Returns
    -------
    images : ndarray of shape (n_atoms, 1 + n_weight_sets, size, size), float32
        4 KB per atom and channel at ``size=32``: 4 GB for 10^6 atoms; see
        :func:`iter_neighbors_map` and :func:`neighbors_map_features`.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> im = neighbors_map(make_lattice("fcc", 3))
    >>> im.shape, im.dtype, float(im[0, 0, 0, 0])  # nearest-neighbour distance 1
    ((108, 1, 32, 32), dtype('float32'), 1.0)
    """
    lo, n_rows = _row_range(frame, neighbors, rows)
    chunk = _NEIGHBOR_BLOCK if neighbors is None else max(1, neighbors.n_atoms)
    frame, kernel, codes, wtab, cut = _prepare(frame, neighbors, size, r_cut, gamma, beta, weights,
                                               backend, chunk, n_rows)
    n = frame.n_atoms if n_rows is None else n_rows
    out = np.empty((n, wtab.shape[0], size, size), dtype=np.float32)
    if n:
        for _ in _blocks(frame, neighbors, chunk, size, gamma, beta, kernel, codes, wtab, cut,
                         out, lo=lo):
            pass
    return out


def neighbors_map_features(frame, neighbors=None, *, block: int = 8, size: int = 32, r_cut=None,
                           gamma: float = 2.0, beta: float = 3.0, weights=None, chunk: int = 16384,
                           backend: str = "numba", rows=None) -> np.ndarray:
    """A compact vector per atom from its Neighbors Map, for clustering at 10^6 atoms.

    Per channel: the top-left ``block x block`` pixels (the centre's and its
    nearest neighbours' first-shell distances, at full resolution; the paper
    notes these carry the structure, and the row weights make the rest fade),
    then the ``size`` row means and the ``size`` column means of the whole image
    (how each neighbour's environment and each neighbour rank look on average).
    Images are made chunk by chunk and never held all at once; the reduction runs in
    parallel and equals NumPy's ``mean`` bit for bit.

    Parameters
    ----------
    rows : slice, optional
        Only the frame's atoms ``rows.start:rows.stop``, whose rows ``neighbors`` holds (a
        chunk of :func:`descriptors.neighbors.neighbor_chunks`); the result has one row per
        atom of the slice.  Other parameters: :func:`neighbors_map`, plus ``chunk``.

    Returns
    -------
    features : ndarray of shape (n_atoms, n_channels * (block**2 + 2 * size)), float32

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> neighbors_map_features(make_lattice("bcc", 3), block=4, size=16).shape
    (54, 48)
    """
    lo, n_rows = _row_range(frame, neighbors, rows)
    frame, kernel, codes, wtab, cut = _prepare(frame, neighbors, size, r_cut, gamma, beta, weights,
                                               backend, chunk, n_rows)
    if isinstance(block, bool) or not isinstance(block, Integral) or not 1 <= block <= size:
        raise ValueError(f"block must be an integer in [1, size={size}], got block={block!r}")
    n_ch = wtab.shape[0]
    width = block * block + 2 * size
    out = np.zeros((frame.n_atoms if n_rows is None else n_rows, n_ch * width), dtype=np.float32)
    if n_rows == 0:
        return out
    for atoms, im in _blocks(frame, neighbors, chunk, size, gamma, beta, kernel, codes, wtab, cut,
                             reuse=True, lo=lo):
        _feature_rows(im, int(block), out, atoms.start - lo)
    return out
