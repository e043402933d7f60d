"""Batch Vietoris--Rips persistence of many small point clouds (numba, parallel over clouds).

Scale: the Rips filtration value of a simplex is its longest edge (its *diameter*),
as in ripser and gudhi -- not a radius.

Each cloud's complex is built only up to the *cone value*
``t* = min_v max_u |p_u - p_v|``: from ``t*`` on, some vertex ``v`` is joined to all
others, every simplex ``s`` has ``s + v`` in the complex, the complex is a cone and
contractible, so no class with positive persistence is born or alive after ``t*``
(only the one essential H0 class).  For a neighbourhood centred on an atom, ``t*`` is
at most the distance to its farthest neighbour, which keeps two-shell complexes small.

The complex (edges, triangles, tetrahedra with their diameters) goes to
:func:`tda._core.complex_pairs` (union-find for H0, cohomology with clearing for H1 and
H2).  Tetrahedra are only needed for H2 deaths, so ``max_dim=1`` skips them.
"""
from __future__ import annotations

import numba
import numpy as np

from ._core import bucket_order, complex_pairs, sort_order, write_pairs

__all__ = ["rips_batch", "rips_cloud", "cone_value", "MAX_POINTS"]

MAX_POINTS = 128  # larger clouds go to a library backend (the triangle table is m**3 int32)


@numba.njit(cache=True, nogil=True)
def load_cloud(vectors, offsets, a, with_origin):
    lo = offsets[a]
    hi = offsets[a + 1]
    m = hi - lo + with_origin
    P = np.zeros((m, 3))
    for q in range(lo, hi):
        for c in range(3):
            # clouds without the origin are centred on their first point (rounding is then
            # relative to the cloud's size, not to its distance from the origin)
            P[q - lo + with_origin, c] = vectors[q, c] - (0.0 if with_origin else vectors[lo, c])
    return P


@numba.njit(cache=True, nogil=True)
def _distances(P):
    m = len(P)
    D = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            s = 0.0
            for c in range(3):
                x = P[i, c] - P[j, c]
                s += x * x
            D[i, j] = np.sqrt(s)
            D[j, i] = D[i, j]
    return D


@numba.njit(cache=True, nogil=True)
def cone_value(D):
    """``min_v max_u D[v, u]``: the Rips complex is a cone from this value on."""
    m = len(D)
    best = np.inf
    for i in range(m):
        ecc = 0.0
        for j in range(m):
            if D[i, j] > ecc:
                ecc = D[i, j]
        if ecc < best:
            best = ecc
    return best


@numba.njit(cache=True, nogil=True)
def rips_cloud(P, max_dim, tri_table):
    """Persistence pairs of the Rips filtration of one cloud ``P`` (m, 3).

    ``tri_table`` is int32 scratch of size >= m**3 (read only where written).
    Returns ``(birth, death, dim)`` as :func:`tda._core.complex_pairs`.
    """
    m = len(P)
    D = _distances(P)
    tstar = cone_value(D) if m > 1 else 0.0
    # neighbours above each vertex within t*
    nb = np.empty((m, m), dtype=np.int32)
    n_nb = np.zeros(m, dtype=np.int32)
    eid = np.full((m, m), -1, dtype=np.int32)
    E = 0
    for i in range(m):
        for j in range(i + 1, m):
            if D[i, j] <= tstar:
                nb[i, n_nb[i]] = j
                n_nb[i] += 1
                E += 1
    e_v = np.empty((E, 2), dtype=np.int32)
    e_val = np.empty(E)
    E = 0
    for i in range(m):
        for q in range(n_nb[i]):
            j = nb[i, q]
            e_v[E, 0] = i
            e_v[E, 1] = j
            e_val[E] = D[i, j]
            E += 1
    order_e = sort_order(e_val)
    # edge ids in filtration order: a simplex's key is its longest edge's id, so triangles
    # and tetrahedra sort by a counting sort on that key (ties by longest edge rank)
    e_v = e_v[order_e]
    e_val = e_val[order_e]
    order_e = np.arange(E)
    for e in range(E):
        eid[e_v[e, 0], e_v[e, 1]] = e
    t_e = np.empty((0, 3), dtype=np.int32)
    t_val = np.empty(0)
    order_t = np.empty(0, dtype=np.int64)
    order_k = np.empty(0, dtype=np.int64)
    k_t = np.empty((0, 4), dtype=np.int32)
    k_val = np.empty(0)
    if max_dim >= 1:
        # count, then fill: arrays reassigned inside a loop cost reference counting per step
        T = 0
        for i in range(m):
            for qa in range(n_nb[i]):
                j = nb[i, qa]
                for qb in range(qa + 1, n_nb[i]):
                    if eid[j, nb[i, qb]] >= 0:
                        T += 1
        t_e = np.empty((T, 3), dtype=np.int32)
        t_v = np.empty((T, 3), dtype=np.int32)
        t_val = np.empty(T)
        t_key = np.empty(T, dtype=np.int32)
        T = 0
        for i in range(m):
            for qa in range(n_nb[i]):
                j = nb[i, qa]
                for qb in range(qa + 1, n_nb[i]):
                    k = nb[i, qb]
                    if eid[j, k] < 0:
                        continue
                    t_v[T, 0] = i
                    t_v[T, 1] = j
                    t_v[T, 2] = k
                    t_e[T, 0] = eid[i, j]
                    t_e[T, 1] = eid[i, k]
                    t_e[T, 2] = eid[j, k]
                    t_key[T] = max(eid[i, j], eid[i, k], eid[j, k])
                    t_val[T] = e_val[t_key[T]]
                    if max_dim >= 2:
                        tri_table[(i * m + j) * m + k] = T
                    T += 1
        order_t = bucket_order(t_key, np.int64(E))
        if max_dim >= 2:
            K = 0
            for t in range(T):
                i = t_v[t, 0]
                j = t_v[t, 1]
                k = t_v[t, 2]
                for q in range(n_nb[i]):
                    l = nb[i, q]
                    if l > k and eid[j, l] >= 0 and eid[k, l] >= 0:
                        K += 1
            k_t = np.empty((K, 4), dtype=np.int32)
            k_val = np.empty(K)
            k_key = np.empty(K, dtype=np.int32)
            K = 0
            for t in range(T):
                i = t_v[t, 0]
                j = t_v[t, 1]
                k = t_v[t, 2]
                for q in range(n_nb[i]):
                    l = nb[i, q]
                    if l <= k or eid[j, l] < 0 or eid[k, l] < 0:
                        continue
                    k_t[K, 0] = t
                    k_t[K, 1] = tri_table[(i * m + j) * m + l]
                    k_t[K, 2] = tri_table[(i * m + k) * m + l]
                    k_t[K, 3] = tri_table[(j * m + k) * m + l]
                    k_key[K] = max(t_key[t], eid[i, l], eid[j, l], eid[k, l])
                    k_val[K] = e_val[k_key[K]]
                    K += 1
            order_k = bucket_order(k_key, np.int64(E))
    return complex_pairs(np.int64(m), e_v, e_val, order_e, t_e, t_val, order_t, k_t, k_val,
                         order_k, np.int64(max_dim))


@numba.njit(cache=True, parallel=True, nogil=True)
def rips_batch(vectors, offsets, with_origin, max_dim, cap_off, out_b, out_d, out_k, out_n,
               status, n_chunks):
    """Rips pairs of every cloud ``vectors[offsets[a]:offsets[a+1]]`` (plus the origin).

    Writes at most ``cap_off[a+1] - cap_off[a]`` pairs per cloud into ``out_*``;
    ``out_n[a]`` is the number of pairs; ``status[a]``: 0 ok, 1 capacity too small
    (``out_n`` then holds the size needed), 2 cloud too large for the kernel.
    """
    n = len(offsets) - 1
    m_max = 1
    for a in range(n):
        m = offsets[a + 1] - offsets[a] + with_origin
        if m > m_max and m <= MAX_POINTS:
            m_max = m
    n_chunks = min(n, n_chunks)  # a few chunks per thread balance the load
    for c in numba.prange(n_chunks):
        tri_table = np.empty(m_max * m_max * m_max, dtype=np.int32)
        for a in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            status[a] = 0
            if offsets[a + 1] - offsets[a] + with_origin > MAX_POINTS:
                status[a] = 2
                out_n[a] = 0
                continue
            P = load_cloud(vectors, offsets, a, with_origin)
            b, d, k = rips_cloud(P, max_dim, tri_table)
            write_pairs(b, d, k, np.bool_(False), a, cap_off, out_b, out_d, out_k, out_n, status)
