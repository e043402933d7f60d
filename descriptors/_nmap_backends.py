"""The two backends of :mod:`descriptors.neighbors_map`: the NumPy reference and the numba driver.

:func:`nmap_numpy` is the slow reference, one atom at a time straight from the
definition; :func:`nmap_numba` builds the sorting-network schedules
(:func:`merge_schedule`, :func:`networks`) and runs the compiled kernel
:func:`descriptors._nmap_kernels.nmap_parallel`.
"""
from __future__ import annotations

import functools

import numpy as np

from ._nmap_kernels import BITONIC, BLOCK, EXCHANGE, MIN, NET_MAX, RTOL, nmap_parallel

# -- kernels: (offsets, indices, distances, vectors, centre_codes, codes, wtab, size, gamma, beta,
#    r_cut, out) fill out (n_centres, n_channels, size, size) float32 -----------------------------


def _tie_groups_np(v):
    """Group ids of sorted values: a value within RTOL of the previous one joins its group."""
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.diff(v) > RTOL * v[1:]
    return np.concatenate([[0], np.cumsum(new)])


def _canonical_sort_np(v, code):
    """Indices sorting ``v`` ascending, ties (within RTOL) ordered by ``code``."""
    by_value = np.argsort(v, kind="stable")
    groups = _tie_groups_np(v[by_value])
    return by_value[np.lexsort((code[by_value], groups))]


def _row_cmp_np(ra, rb):
    """Compare two rows ``(d2 row, own code, partner codes)``: tolerant on distances."""
    (da, ca, pa), (db, cb, pb) = ra, rb
    for x, y in zip(da, db):
        if abs(x - y) > RTOL * max(x, y):
            return -1 if x < y else 1
    if ca != cb:
        return -1 if ca < cb else 1
    for x, y in zip(pa, pb):
        if x != y:
            return -1 if x < y else 1
    return 0


def nmap_numpy(offsets, indices, distances, vectors, centre_codes, codes, wtab,
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


def merge_schedule(n, nout):
    """Steps turning the sorted 16-row blocks of n rows (padding +inf) into the ``nout`` smallest,
    sorted, in rows 0 .. nout-1: a list of ``(step, i, j)``."""
    steps = []
    keep = BLOCK  # T: lists are cut to the keep smallest once that covers nout
    while keep < nout:
        keep *= 2

    def clean(s, length, end):  # bitonic rows s .. s+length-1 -> sorted; rows >= end are +inf
        if s >= end:
            return
        if length == BLOCK:
            steps.append((BITONIC, s, 0))
            return
        h = length // 2
        steps.extend((EXCHANGE, s + i, s + i + h) for i in range(h) if s + i + h < end)
        clean(s, h, end)
        clean(s + h, h, end)

    lists = [(s, min(BLOCK, n - s)) for s in range(0, n, BLOCK)]  # (first row, rows not +inf)
    length = BLOCK
    while len(lists) > 1:
        merged = []
        for k in range(0, len(lists) - 1, 2):
            (a, _), (b, nb) = lists[k], lists[k + 1]  # a is full; b follows a when not cut
            if 2 * length <= keep:  # a against b reversed: a gets the smaller half, both bitonic
                steps.extend((EXCHANGE, a + i, b + length - 1 - i) for i in range(length)
                             if length - 1 - i < nb)
                clean(a, length, a + length)
                clean(b, length, b + nb)
                merged.append((a, length + nb))
            else:  # keep the smallest `length` of the two
                steps.extend((MIN, a + i, b + length - 1 - i) for i in range(length)
                             if length - 1 - i < nb)
                clean(a, length, a + length)
                merged.append((a, length))
        if len(lists) % 2:
            merged.append(lists[-1])
        lists = merged
        length = min(2 * length, keep)
    return steps


@functools.cache
def networks(size, full):
    """``(kind, ri, rj, off)``: steps ``off[n] .. off[n+1]-1`` for balls of n = 0 .. NET_MAX points
    (the row's own point included), keeping the ``min(size, n - 1)`` smallest distances (all
    ``n - 1`` when ``full``: a weighted row needs its whole last tie group)."""
    steps, off = [], [0]
    for n in range(NET_MAX + 1):
        steps += merge_schedule(n, n - 1 if full else min(size, n - 1))
        off.append(len(steps))
    arr = np.array(steps, dtype=np.int32).reshape(-1, 3)
    return (np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1]),
            np.ascontiguousarray(arr[:, 2]), np.array(off, dtype=np.int64))


def nmap_numba(offsets, indices, distances, vectors, centre_codes, codes, wtab,
               size, gamma, beta, r_cut, out):
    """The compiled kernel, with the sorting networks for ``size`` (cached per size)."""
    nkind, nri, nrj, noff = networks(int(size), bool(wtab.shape[0] > 1))
    nmap_parallel(offsets, indices, distances, vectors, centre_codes, codes, wtab,
                  size, gamma, beta, r_cut, out, nkind, nri, nrj, noff)
