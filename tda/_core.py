"""Numba core shared by the batch kernels: persistence pairs of one small filtered complex.

A complex is given per dimension: vertices (all at value 0), edges ``(E, 2)``,
triangles by their edge ids ``(T, 3)``, tetrahedra by their triangle ids ``(K, 4)``,
each with a filtration value.  The filtration order is (value, dimension, enumeration
index); any order compatible with the values gives the same diagram (pairs of zero
persistence aside, and those are dropped).

* H0: union-find over edges in filtration order (elder rule; all vertices are born
  at 0).  The merging edges are the negative edges, cleared for H1.
* H1, H2: persistent *cohomology* (the anti-transpose of the boundary matrix,
  de Silva, Morozov & Vejdemo-Johansson 2011) with clearing: the coboundary column
  of each positive k-simplex, processed from the last to the first in filtration
  order, is reduced until its pivot (its earliest coface) is new; the pivot is the
  simplex that kills the class.  Triangles met as pivots in H1 are negative and
  skipped in H2 (clearing), so the top dimension (tetrahedra) is never a column --
  the reason ripser computes cohomology.

Everything here runs inside one thread; the batch kernels call it per atom.
"""
from __future__ import annotations

import numba
import numpy as np

_INF = np.inf
# Leaf functions that allocate nothing are compiled without numba's reference-counting
# runtime: a call then does not incref/decref each array argument (atomic operations that
# cost as much as the work itself on complexes of a few dozen simplices).
try:        # numba's private switch off of reference counting, where this numba has it
    from numba.core.cpu import CPUTargetOptions
    _NO_REFCOUNT = {"_nrt": False} if hasattr(CPUTargetOptions, "_nrt") else {}
except ImportError:
    _NO_REFCOUNT = {}
_LEAF = dict(cache=True, nogil=True, **_NO_REFCOUNT)


@numba.njit(**_LEAF)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@numba.njit(cache=True, nogil=True)
def sort_order(values):
    """Ascending order of ``values`` (ties in any order: all are valid filtrations)."""
    return np.argsort(values)


@numba.njit(cache=True, nogil=True)
def small_order(values):
    """Ascending, stable order of ``values``.

    For the few dozen simplices of one small complex, each value's rank is counted
    (branch-free, no allocation but the result); beyond 128 values a stable merge sort
    gives the same order in O(n log n), and with a NaN the insertion sort below.
    """
    n = len(values)
    if n > 128:
        return np.argsort(values, kind="mergesort")
    order = np.empty(n, dtype=np.int64)
    if _rank_order(values, order):
        return order
    return _insertion_order(values, order)


@numba.njit(**_LEAF)
def _rank_order(values, order):
    """order[rank of i] = i, the rank counting smaller values and equal ones before i.
    False (order unset) if a value is NaN."""
    n = len(values)
    nan = 0
    for i in range(n):
        nan += values[i] != values[i]
    if nan > 0:
        return False
    for i in range(n):
        v = values[i]
        r = 0
        for j in range(n):
            w = values[j]
            r += 1 if (w < v) or (w == v and j < i) else 0
        order[r] = i
    return True


@numba.njit(cache=True, nogil=True)
def _insertion_order(values, order):
    """The stable order of ``values`` into ``order``, by insertion sort."""
    n = len(values)
    keys = np.empty(n)  # the sorted values beside their order: no indirection in the scan
    for i in range(n):
        v = values[i]
        j = i - 1
        while j >= 0 and keys[j] > v:
            keys[j + 1] = keys[j]
            order[j + 1] = order[j]
            j -= 1
        keys[j + 1] = v
        order[j + 1] = i
    return order


@numba.njit(cache=True, nogil=True)
def bucket_order(keys, n_keys):
    """Stable counting sort of integer ``keys`` in ``[0, n_keys)``: O(n + n_keys)."""
    count = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(len(keys)):
        count[keys[i] + 1] += 1
    for k in range(n_keys):
        count[k + 1] += count[k]
    order = np.empty(len(keys), dtype=np.int64)
    for i in range(len(keys)):
        order[count[keys[i]]] = i
        count[keys[i]] += 1
    return order


@numba.njit(cache=True, nogil=True)
def _coboundary(n_low, faces, order_high):
    """CSR coboundary: for each low simplex, the ranks of its cofaces, ascending.

    ``faces`` is (n_high, f) with the low-simplex ids of each high simplex's facets;
    visiting the high simplices in filtration order appends ranks already sorted.
    """
    n_high, nf = faces.shape
    ptr = np.zeros(n_low + 1, dtype=np.int64)
    for h in range(n_high):
        for q in range(nf):
            ptr[faces[h, q] + 1] += 1
    for i in range(n_low):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    ent = np.empty(ptr[n_low], dtype=np.int32)
    for r in range(n_high):
        h = order_high[r]
        for q in range(nf):
            lo = faces[h, q]
            ent[fill[lo]] = r
            fill[lo] += 1
    return ptr, ent


@numba.njit(**_LEAF)
def _reduce_pass(order_low, val_low, cleared_low, ptr, ent, order_high, val_high, cleared_high,
                 dim, out_b, out_d, out_k, n_out, owner, col_start, col_len, pool, buf):
    """One reduction pass over the columns of one dimension.

    Returns ``(n_out, used)``: ``used > len(pool)`` means the pool of reduced columns was
    too small and the caller must run the pass again with a larger one.  (Arrays are never
    reassigned inside the loop: numba would count references at every step.)
    """
    cap = len(pool)
    used = 0
    n_cols = 0
    cur = 0
    for r in range(len(order_low) - 1, -1, -1):
        s = order_low[r]
        if cleared_low[s]:
            continue
        la = ptr[s + 1] - ptr[s]
        for q in range(la):
            buf[cur, q] = ent[ptr[s] + q]
        birth = val_low[s]
        paired = False
        touched = False
        while la > 0:
            p = buf[cur, 0]
            o = owner[p]
            if o < 0:
                if touched:  # a reduced column goes to the pool
                    col_start[n_cols] = used
                    if used + la <= cap:
                        for q in range(la):
                            pool[used + q] = buf[cur, q]
                    used += la
                else:  # an untouched column is its coboundary: refer to it (negative start)
                    col_start[n_cols] = -1 - ptr[s]
                col_len[n_cols] = la
                owner[p] = n_cols
                n_cols += 1
                h = order_high[p]
                cleared_high[h] = True
                death = val_high[h]
                if death > birth:
                    out_b[n_out] = birth
                    out_d[n_out] = death
                    out_k[n_out] = dim
                    n_out += 1
                paired = True
                break
            if used > cap:
                return n_out, used  # a column we need was not kept
            # working column <- working column xor stored column o (sorted, same pivot)
            touched = True
            bs = col_start[o]
            in_ent = bs < 0
            if in_ent:
                bs = -1 - bs
            lb = col_len[o]
            nxt = 1 - cur
            ia = 0
            ib = 0
            lt = 0
            while ia < la and ib < lb:
                x = buf[cur, ia]
                y = ent[bs + ib] if in_ent else pool[bs + ib]
                if x < y:
                    buf[nxt, lt] = x
                    lt += 1
                    ia += 1
                elif y < x:
                    buf[nxt, lt] = y
                    lt += 1
                    ib += 1
                else:
                    ia += 1
                    ib += 1
            while ia < la:
                buf[nxt, lt] = buf[cur, ia]
                lt += 1
                ia += 1
            while ib < lb:
                buf[nxt, lt] = ent[bs + ib] if in_ent else pool[bs + ib]
                lt += 1
                ib += 1
            cur = nxt
            la = lt
        if not paired:  # an essential class (never for alpha complexes or coned Rips)
            out_b[n_out] = birth
            out_d[n_out] = _INF
            out_k[n_out] = dim
            n_out += 1
    return n_out, used


@numba.njit(cache=True, nogil=True)
def _reduce_dim(order_low, val_low, cleared_low, ptr, ent, order_high, val_high, cleared_high,
                dim, out_b, out_d, out_k, n_out):
    """Cohomology reduction of one dimension; appends pairs, marks the pivots as cleared."""
    n_high = len(order_high)
    owner = np.full(n_high, -1, dtype=np.int32)       # pivot rank -> stored column
    col_start = np.empty(len(order_low), dtype=np.int64)
    col_len = np.empty(len(order_low), dtype=np.int64)
    buf = np.empty((2, max(n_high, 1)), dtype=np.int32)  # double buffer for the working column
    first_out = n_out
    cap = 2 * len(ent) + 16
    while True:
        pool = np.empty(cap, dtype=np.int32)
        n_out, used = _reduce_pass(order_low, val_low, cleared_low, ptr, ent, order_high,
                                   val_high, cleared_high, dim, out_b, out_d, out_k, first_out,
                                   owner, col_start, col_len, pool, buf)
        if used <= cap:
            break
        cap = 2 * used  # rare: start again with room for every reduced column
        owner[:] = -1
        cleared_high[:] = False  # only this reduction marks them
    # columns ran from the last simplex to the first: reverse to ascending births
    i = first_out
    j = n_out - 1
    while i < j:
        out_b[i], out_b[j] = out_b[j], out_b[i]
        out_d[i], out_d[j] = out_d[j], out_d[i]
        i += 1
        j -= 1
    return n_out


@numba.njit(cache=True, nogil=True)
def complex_pairs(n_vert, e_v, e_val, order_e, t_e, t_val, order_t, k_t, k_val, order_k,
                  max_dim):
    """Persistence pairs (birth, death, dim) of a filtered complex, dims 0..max_dim.

    Parameters
    ----------
    n_vert : int
    e_v : int32 (E, 2); e_val : float64 (E,); order_e : int64 (E,) ascending order
    t_e : int32 (T, 3) edge ids; t_val : float64 (T,); order_t : int64 (T,)
    k_t : int32 (K, 4) triangle ids; k_val : float64 (K,); order_k : int64 (K,)
    max_dim : int in 0..2

    Returns
    -------
    birth, death : float64 (n,), dim : int8 (n,), sorted by (dim, birth, death);
    zero-persistence pairs dropped; essential classes have ``death = inf``.
    """
    E = len(e_val)
    T = len(t_val)
    cap = n_vert + E + T + 1  # each pair has its own birth simplex
    out_b = np.empty(cap)
    out_d = np.empty(cap)
    out_k = np.empty(cap, dtype=np.int8)
    n_out = 0
    parent = np.arange(n_vert)
    cleared_e = np.zeros(E, dtype=np.bool_)
    for r in range(E):
        e = order_e[r]
        a = _find(parent, e_v[e, 0])
        b = _find(parent, e_v[e, 1])
        if a != b:
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
            cleared_e[e] = True
            if e_val[e] > 0.0:
                out_b[n_out] = 0.0
                out_d[n_out] = e_val[e]
                out_k[n_out] = 0
                n_out += 1
    for v in range(n_vert):
        if parent[v] == v:
            out_b[n_out] = 0.0
            out_d[n_out] = _INF
            out_k[n_out] = 0
            n_out += 1
    if max_dim >= 1:
        cleared_t = np.zeros(T, dtype=np.bool_)
        ptr, ent = _coboundary(E, t_e, order_t)
        n_out = _reduce_dim(order_e, e_val, cleared_e, ptr, ent, order_t, t_val, cleared_t,
                            np.int64(1), out_b, out_d, out_k, np.int64(n_out))
        if max_dim >= 2:
            cleared_k = np.zeros(len(k_val), dtype=np.bool_)
            ptr2, ent2 = _coboundary(T, k_t, order_k)
            n_out = _reduce_dim(order_t, t_val, cleared_t, ptr2, ent2, order_k, k_val,
                                cleared_k, np.int64(2), out_b, out_d, out_k, np.int64(n_out))
    _sort_pairs(out_b, out_d, out_k, n_out)
    return out_b[:n_out], out_d[:n_out], out_k[:n_out]


@numba.njit(**_LEAF)
def _sort_pairs(b, d, k, n):
    """In-place insertion sort by (dim, birth, death); n is a few dozen."""
    for a in range(1, n):
        kb, bb, db = k[a], b[a], d[a]
        j = a - 1
        while j >= 0 and (k[j] > kb or (k[j] == kb and (b[j] > bb or (b[j] == bb and d[j] > db)))):
            k[j + 1] = k[j]
            b[j + 1] = b[j]
            d[j + 1] = d[j]
            j -= 1
        k[j + 1] = kb
        b[j + 1] = bb
        d[j + 1] = db


@numba.njit(**_LEAF)
def write_pairs(b, d, k, sqrt_values, a, cap_off, out_b, out_d, out_k, out_n, status):
    """Copy one atom's pairs into the batch output (status 1 = capacity overflow)."""
    n = len(b)
    out_n[a] = n
    start = cap_off[a]
    if start + n > cap_off[a + 1]:
        status[a] = 1
        return
    w = 0
    for q in range(n):
        bb = b[q]
        dd = d[q]
        if sqrt_values:
            bb = np.sqrt(bb)
            dd = np.sqrt(dd)
            if dd <= bb:  # distinct squares can share a square root
                continue
        out_b[start + w] = bb
        out_d[start + w] = dd
        out_k[start + w] = k[q]
        w += 1
    out_n[a] = w
