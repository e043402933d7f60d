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
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from numbers import Integral, Real

import numba
import numpy as np

from .frame import as_frame
from .neighbors import NeighborList, neighbor_list

__all__ = ["neighbors_map", "iter_neighbors_map", "neighbors_map_features",
           "default_map_cutoff", "NMAP_BACKENDS"]

logger = logging.getLogger(__name__)

_RTOL = 1e-8            # relative tie tolerance on squared distances (float64 round-off is ~1e-15)
_CUTOFF_FACTOR = 1.2    # r_cut = 1.2 x distance of the (size+1)-th neighbour, as the reference tutorial
_NEIGHBOR_BLOCK = 2 ** 18  # atoms per neighbour search when iterating without a given list


# -- kernels: (offsets, indices, distances, vectors, centre_codes, codes, wtab, size, gamma, beta,
#    r_cut, out) fill out (n_centres, n_channels, size, size) float32 -----------------------------

def _tie_groups_np(v):
    """Group ids of sorted values: a value within _RTOL of the previous one joins its group."""
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.diff(v) > _RTOL * v[1:]
    return np.concatenate([[0], np.cumsum(new)])


def _canonical_sort_np(v, code):
    """Indices sorting ``v`` ascending, ties (within _RTOL) ordered by ``code``."""
    by_value = np.argsort(v, kind="stable")
    groups = _tie_groups_np(v[by_value])
    return by_value[np.lexsort((code[by_value], groups))]


def _row_cmp_np(ra, rb):
    """Compare two rows ``(d2 row, own code, partner codes)``: tolerant on distances."""
    (da, ca, pa), (db, cb, pb) = ra, rb
    for x, y in zip(da, db):
        if abs(x - y) > _RTOL * max(x, y):
            return -1 if x < y else 1
    if ca != cb:
        return -1 if ca < cb else 1
    for x, y in zip(pa, pb):
        if x != y:
            return -1 if x < y else 1
    return 0


def _nmap_numpy(offsets, indices, distances, vectors, centre_codes, codes, wtab,
                size, gamma, beta, r_cut, out):
    """Slow, plain NumPy reference: one atom at a time, straight from the definition."""
    for a in range(len(offsets) - 1):
        s = slice(offsets[a], offsets[a + 1])
        keep = distances[s] < r_cut
        pts = np.vstack([np.zeros((1, 3)), vectors[s][keep]])
        pcode = np.concatenate([[centre_codes[a]], codes[indices[s][keep]]])
        m = len(pts) - 1
        d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=-1)
        perm = np.concatenate([[0], 1 + _canonical_sort_np(d2[0, 1:], pcode[1:])])
        d2, pcode = d2[np.ix_(perm, perm)], pcode[perm]
        ncol, nrow = min(size, m), min(size - 1, m)
        rows = {}
        for k in range(m + 1):
            others = np.delete(np.arange(m + 1), k)
            o = others[_canonical_sort_np(d2[k, others], pcode[others])]
            rows[k] = (d2[k, o][:ncol], pcode[k], pcode[o][:ncol])
        # rows: neighbours in tie groups of d(0, j); the group holding j_nrow is taken whole
        groups = _tie_groups_np(d2[0, 1:])
        last = nrow if nrow == 0 else int(np.flatnonzero(groups == groups[nrow - 1])[-1]) + 1
        chosen = []
        for g in np.unique(groups[:last]):
            members = [1 + int(i) for i in np.flatnonzero(groups[:last] == g)]
            key = functools.cmp_to_key(lambda x, y: _row_cmp_np(rows[x], rows[y]))
            chosen += sorted(members, key=key)
        chosen = chosen[:nrow]
        geo = np.zeros((size, size))
        geo[0, :ncol] = rows[0][0] ** (-gamma / 2)
        for i, k in enumerate(chosen, start=1):
            geo[i, :ncol] = d2[0, k] ** (-0.5 / beta) * rows[k][0] ** (-gamma / 2)
        for ch in range(wtab.shape[0]):
            w = np.zeros((size, size))
            w[0, :ncol] = wtab[ch, pcode[0]] * wtab[ch, rows[0][2]]
            for i, k in enumerate(chosen, start=1):
                w[i, :ncol] = wtab[ch, pcode[k]] * wtab[ch, rows[k][2]]
            out[a, ch] = (geo * w).astype(np.float32)


def _sort_pairs(v, c, n):
    """Insertion sort of v[:n] ascending, carrying c (stable; O(n) on nearly sorted input)."""
    for i in range(1, n):
        x = v[i]
        y = c[i]
        j = i - 1
        while j >= 0 and v[j] > x:
            v[j + 1] = v[j]
            c[j + 1] = c[j]
            j -= 1
        v[j + 1] = x
        c[j + 1] = y


def _sorted_row(k, m, px, py, pz, pc, scale, cnt, tv, tc, tb, rd, rc, with_codes):
    """Squared distances from ball point k to the m other points, sorted into rd.

    A counting pass into equal-width buckets (``scale`` maps a value to its bucket)
    leaves the values nearly sorted; insertion sort finishes in about linear time.
    Stable: equal values keep ball order.  The partners' codes follow into rc only
    when ``with_codes`` (weighted channels), which spares half the moves otherwise.
    """
    nb = len(cnt) - 1
    for b in range(nb + 1):
        cnt[b] = 0
    t = 0
    for p in range(m + 1):
        if p != k:
            dx = px[p] - px[k]
            dy = py[p] - py[k]
            dz = pz[p] - pz[k]
            d2 = dx * dx + dy * dy + dz * dz
            b = min(int(d2 * scale), nb - 1)
            tv[t] = d2
            tc[t] = pc[p]
            tb[t] = b
            cnt[b + 1] += 1
            t += 1
    for b in range(nb):
        cnt[b + 1] += cnt[b]
    if with_codes:
        for i in range(m):
            b = tb[i]
            rd[cnt[b]] = tv[i]
            rc[cnt[b]] = tc[i]
            cnt[b] += 1
        _sort_pairs(rd, rc, m)
        return
    for i in range(m):
        b = tb[i]
        rd[cnt[b]] = tv[i]
        cnt[b] += 1
    for i in range(1, m):
        x = rd[i]
        j = i - 1
        while j >= 0 and rd[j] > x:
            rd[j + 1] = rd[j]
            j -= 1
        rd[j + 1] = x


def _tie_sort_codes(v, c, lo, n):
    """Inside each tie group of sorted v[lo:n], order entries by code c (insertion sort)."""
    g = lo
    while g < n:
        e = g + 1
        while e < n and v[e] - v[e - 1] <= _RTOL * v[e]:
            e += 1
        for i in range(g + 1, e):
            x = v[i]
            y = c[i]
            j = i - 1
            while j >= g and c[j] > y:
                v[j + 1] = v[j]
                c[j + 1] = c[j]
                j -= 1
            v[j + 1] = x
            c[j + 1] = y
        g = e


def _row_less(rowd, rowc, pc, a, b, ncol, weighted):
    """Row a strictly before row b: tolerant lexicographic on distances, then codes."""
    for t in range(ncol):
        x = rowd[a, t]
        y = rowd[b, t]
        if abs(x - y) > _RTOL * max(x, y):
            return x < y
    if not weighted:
        return False
    if pc[a] != pc[b]:
        return pc[a] < pc[b]
    for t in range(ncol):
        if rowc[a, t] != rowc[b, t]:
            return rowc[a, t] < rowc[b, t]
    return False


def _one_atom(s, e, indices, distances, vectors, centre_code, codes, wtab, size, gamma, beta,
              r_cut, weighted, px, py, pz, pd, pc, rowd, rowc, order, cnt, tv, tc, tb, out_a):
    # neighbours inside the cutoff, sorted by distance from the centre (ties by type when
    # weighted); lists arrive sorted, so this is O(m).  rowd[0], rowc[0] serve as scratch.
    m = 0
    for p in range(s, e):
        if distances[p] < r_cut:
            x = vectors[p, 0]
            y = vectors[p, 1]
            z = vectors[p, 2]
            rowd[0, m] = x * x + y * y + z * z
            rowc[0, m] = p - s
            m += 1
    _sort_pairs(rowd[0], rowc[0], m)
    if weighted:
        g = 0
        while g < m:
            h = g + 1
            while h < m and rowd[0, h] - rowd[0, h - 1] <= _RTOL * rowd[0, h]:
                h += 1
            for i in range(g + 1, h):
                x = rowc[0, i]
                j = i - 1
                while j >= g and codes[indices[s + rowc[0, j]]] > codes[indices[s + x]]:
                    rowc[0, j + 1] = rowc[0, j]
                    j -= 1
                rowc[0, j + 1] = x
            g = h
    px[0] = 0.0
    py[0] = 0.0
    pz[0] = 0.0
    pd[0] = 0.0
    pc[0] = centre_code
    for i in range(m):
        p = s + rowc[0, i]
        px[i + 1] = vectors[p, 0]
        py[i + 1] = vectors[p, 1]
        pz[i + 1] = vectors[p, 2]
        pd[i + 1] = px[i + 1] * px[i + 1] + py[i + 1] * py[i + 1] + pz[i + 1] * pz[i + 1]
        pc[i + 1] = codes[indices[p]]
    ncol = min(size, m)
    nrow = min(size - 1, m)
    # pair distances within the ball are at most twice the farthest neighbour's
    scale = (len(cnt) - 1) / (4.0 * pd[m] * (1.0 + 1e-6)) if m > 0 else 0.0
    last = nrow  # rows needed: through the end of j_nrow's tie group
    while 0 < last < m and pd[last + 1] - pd[last] <= _RTOL * pd[last + 1]:
        last += 1
    for k in range(1, last + 1):
        _sorted_row(k, m, px, py, pz, pc, scale, cnt, tv, tc, tb, rowd[k], rowc[k], weighted)
        if weighted:
            _tie_sort_codes(rowd[k], rowc[k], 0, m)
    # canonical order of the rows inside each tie group of d(0, j)
    for i in range(last):
        order[i] = i + 1
    g = 0
    while g < last:
        h = g + 1
        while h < last and pd[h + 1] - pd[h] <= _RTOL * pd[h + 1]:
            h += 1
        for i in range(g + 1, h):
            x = order[i]
            j = i - 1
            while j >= g and _row_less(rowd, rowc, pc, x, order[j], ncol, weighted):
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = x
        g = h
    # pixels (a full ball writes every pixel; a small one leaves zeros)
    if ncol < size or nrow < size - 1:
        out_a[:, :, :] = 0.0
    half = -0.5 * gamma
    for c in range(ncol):
        v = 1.0 / pd[c + 1] if gamma == 2.0 else pd[c + 1] ** half
        out_a[0, 0, c] = v
        for ch in range(1, wtab.shape[0]):
            out_a[ch, 0, c] = v * wtab[ch, pc[0]] * wtab[ch, pc[c + 1]]
    for i in range(1, nrow + 1):
        k = order[i - 1]
        alpha = pd[k] ** (-0.5 / beta)
        for c in range(ncol):
            d2 = rowd[k, c]
            v = alpha / d2 if gamma == 2.0 else alpha * d2 ** half
            out_a[0, i, c] = v
            for ch in range(1, wtab.shape[0]):
                out_a[ch, i, c] = v * wtab[ch, pc[k]] * wtab[ch, rowc[k, c]]


def _run_block(lo, hi, max_m, offsets, indices, distances, vectors, centre_codes, codes, wtab,
               size, gamma, beta, r_cut, out):
    """Atoms lo..hi-1 with one set of scratch arrays (a plain function: parfor bodies optimise worse)."""
    weighted = wtab.shape[0] > 1
    px = np.empty(max_m + 1)
    py = np.empty(max_m + 1)
    pz = np.empty(max_m + 1)
    pd = np.empty(max_m + 1)
    pc = np.empty(max_m + 1, dtype=np.int32)
    rowd = np.empty((max_m + 1, max(max_m, 1)))
    rowc = np.empty((max_m + 1, max(max_m, 1)), dtype=np.int32)
    order = np.empty(max_m + 1, dtype=np.int64)
    cnt = np.empty(4 * max_m + 2, dtype=np.int64)  # ~4 buckets per value
    tv = np.empty(max_m + 1)
    tc = np.empty(max_m + 1, dtype=np.int32)
    tb = np.empty(max_m + 1, dtype=np.int64)
    for a in range(lo, hi):
        _one_atom(offsets[a], offsets[a + 1], indices, distances, vectors, centre_codes[a],
                  codes, wtab, size, gamma, beta, r_cut, weighted,
                  px, py, pz, pd, pc, rowd, rowc, order, cnt, tv, tc, tb, out[a])


def _nmap_loops(offsets, indices, distances, vectors, centre_codes, codes, wtab,
                size, gamma, beta, r_cut, out):
    n = len(offsets) - 1
    max_m = 0
    for a in range(n):
        max_m = max(max_m, offsets[a + 1] - offsets[a])
    n_blocks = min(n, 256)  # blocks balance the threads; scratch is allocated once per block
    for b in numba.prange(n_blocks):
        _run_block(b * n // n_blocks, (b + 1) * n // n_blocks, max_m, offsets, indices, distances,
                   vectors, centre_codes, codes, wtab, size, gamma, beta, r_cut, out)


# numba is a core dependency; the plain-Python bodies above stay readable as the definitions
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")  # 1/0 -> inf, no check per division
_sort_pairs, _sorted_row, _tie_sort_codes, _row_less, _one_atom, _run_block = map(
    _jit, (_sort_pairs, _sorted_row, _tie_sort_codes, _row_less, _one_atom, _run_block))
_nmap_numba = numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")(_nmap_loops)
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
    nl = neighbor_list(frame, k=int(size) + 1, _query=idx)
    return float(_CUTOFF_FACTOR * np.median(nl.distances[nl.offsets[1:] - 1]))


def _resolve_cutoff(frame, neighbors, size, r_cut):
    """Cutoff the kernel applies (``inf`` keeps every neighbour of a k-nearest list)."""
    if neighbors is None:
        return default_map_cutoff(frame, size) if r_cut is None else float(r_cut)
    if not isinstance(neighbors, NeighborList):
        raise ValueError(f"neighbors must be a NeighborList or None, got {type(neighbors).__name__}")
    if neighbors.n_atoms != frame.n_atoms:
        raise ValueError(f"neighbors has {neighbors.n_atoms} atoms, the frame {frame.n_atoms}")
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


def _chunks(frame, neighbors, r_cut, chunk):
    """Yield ``(start, stop, (offsets, indices, distances, vectors))`` of consecutive atoms."""
    n = frame.n_atoms
    if neighbors is not None:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            yield start, stop, _slice_list(neighbors, start, stop)
        return
    block = max(chunk, (_NEIGHBOR_BLOCK // chunk) * chunk)
    for bstart in range(0, n, block):
        bstop = min(n, bstart + block)
        query = None if (bstart == 0 and bstop == n) else np.arange(bstart, bstop)
        logger.debug("neighbour search for atoms %d-%d (r_cut=%g)", bstart, bstop, r_cut)
        nl = neighbor_list(frame, r_cut=r_cut, _query=query)
        for start in range(bstart, bstop, chunk):
            stop = min(bstop, start + chunk)
            yield start, stop, _slice_list(nl, start - bstart, stop - bstart)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------

def _prepare(frame, neighbors, size, r_cut, gamma, beta, weights, backend, chunk):
    """Validate everything up front; return (frame, kernel, codes, wtab, cutoff)."""
    frame = as_frame(frame)
    _check_params(size, r_cut, gamma, beta)
    if isinstance(chunk, bool) or not isinstance(chunk, Integral) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1, got chunk={chunk!r}")
    kernel = _kernel(backend)
    codes, wtab = _weight_table(frame, weights)
    cut = _resolve_cutoff(frame, neighbors, size, r_cut) if frame.n_atoms else np.inf
    return frame, kernel, codes, wtab, cut


def _blocks(frame, neighbors, chunk, size, gamma, beta, kernel, codes, wtab, cut, out=None):
    """Yield ``(slice, images)``; images are views of ``out`` when given, fresh arrays otherwise."""
    if frame.n_atoms == 0:
        return
    for start, stop, (off, idx, dist, vec) in _chunks(frame, neighbors, cut, int(chunk)):
        if out is None:
            block = np.empty((stop - start, wtab.shape[0], size, size), dtype=np.float32)
        else:
            block = out[start:stop]
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
                  beta: float = 3.0, weights=None, backend: str = "numba") -> np.ndarray:
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
    chunk = _NEIGHBOR_BLOCK if neighbors is None else max(1, as_frame(frame).n_atoms)
    frame, kernel, codes, wtab, cut = _prepare(frame, neighbors, size, r_cut, gamma, beta, weights,
                                               backend, chunk)
    out = np.empty((frame.n_atoms, wtab.shape[0], size, size), dtype=np.float32)
    for _ in _blocks(frame, neighbors, chunk, size, gamma, beta, kernel, codes, wtab, cut, out):
        pass
    return out


def neighbors_map_features(frame, neighbors=None, *, block: int = 8, size: int = 32, r_cut=None,
                           gamma: float = 2.0, beta: float = 3.0, weights=None, chunk: int = 16384,
                           backend: str = "numba") -> np.ndarray:
    """A compact vector per atom from its Neighbors Map, for clustering at 10^6 atoms.

    Per channel: the top-left ``block x block`` pixels (the centre's and its
    nearest neighbours' first-shell distances, at full resolution; the paper
    notes these carry the structure, and the row weights make the rest fade),
    then the ``size`` row means and the ``size`` column means of the whole image
    (how each neighbour's environment and each neighbour rank look on average).
    Images are made chunk by chunk and never held all at once.

    Returns
    -------
    features : ndarray of shape (n_atoms, n_channels * (block**2 + 2 * size)), float32

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> neighbors_map_features(make_lattice("bcc", 3), block=4, size=16).shape
    (54, 48)
    """
    frame, kernel, codes, wtab, cut = _prepare(frame, neighbors, size, r_cut, gamma, beta, weights,
                                               backend, chunk)
    if isinstance(block, bool) or not isinstance(block, Integral) or not 1 <= block <= size:
        raise ValueError(f"block must be an integer in [1, size={size}], got block={block!r}")
    n_ch = wtab.shape[0]
    width = block * block + 2 * size
    out = np.zeros((frame.n_atoms, n_ch * width), dtype=np.float32)
    for atoms, im in _blocks(frame, neighbors, chunk, size, gamma, beta, kernel, codes, wtab, cut):
        parts = [im[:, :, :block, :block].reshape(len(im), n_ch, -1), im.mean(axis=3), im.mean(axis=2)]
        out[atoms] = np.concatenate(parts, axis=2).reshape(len(im), -1)
    return out
