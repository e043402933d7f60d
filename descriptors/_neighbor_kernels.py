"""numba kernels behind :mod:`descriptors.neighbors`: candidate pairs to sorted CSR rows.

:func:`kd_candidates` turns cKDTree query rows into pairs, :func:`finish_pairs`
recomputes their float64 vectors and distances, cuts and sorts each row (with
:func:`ties_by_index`), and :func:`take_first` keeps the first k pairs of rows.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, parallel=True)
def take_first(offsets, j, d, v, k, rows_mask, m):
    """The first ``k`` pairs ``(j, d, v)`` of every row where ``rows_mask`` is set (``m`` rows)."""
    n_rows = len(offsets) - 1
    dest = np.empty(n_rows, dtype=np.int64)
    c = 0
    for i in range(n_rows):
        dest[i] = c
        if rows_mask[i]:
            c += k
    out_j = np.empty(m * k, dtype=j.dtype)
    out_d = np.empty(m * k)
    out_v = np.empty((m * k, 3))
    for i in numba.prange(n_rows):
        if rows_mask[i]:
            o, q = offsets[i], dest[i]
            for x in range(k):
                out_j[q + x] = j[o + x]
                out_d[q + x] = d[o + x]
                out_v[q + x, 0] = v[o + x, 0]
                out_v[q + x, 1] = v[o + x, 1]
                out_v[q + x, 2] = v[o + x, 2]
    return out_j, out_d, out_v


@numba.njit(cache=True, parallel=True)
def kd_candidates(dist, idx, qrows, pos, lengths):
    """cKDTree's ``(dist, idx)`` rows as pairs ``(row, j, minimum-image vector)``: the missing
    neighbours (inf) and the atom itself (at distance 0) dropped."""
    n_q, kk = dist.shape
    starts = np.zeros(n_q + 1, dtype=np.int64)
    for i in numba.prange(n_q):
        c = 0
        for x in range(kk):
            if np.isfinite(dist[i, x]) and not (idx[i, x] == qrows[i] and dist[i, x] == 0.0):
                c += 1
        starts[i + 1] = c
    for i in range(n_q):
        starts[i + 1] += starts[i]
    m = starts[n_q]
    qi = np.empty(m, dtype=np.int64)
    pj = np.empty(m, dtype=np.int64)
    out = np.empty((m, 3))
    for i in numba.prange(n_q):
        p = starts[i]
        a = qrows[i]
        for x in range(kk):
            if np.isfinite(dist[i, x]) and not (idx[i, x] == a and dist[i, x] == 0.0):
                b = idx[i, x]
                qi[p] = i
                pj[p] = b
                for d in range(3):
                    v = pos[b, d] - pos[a, d]
                    out[p, d] = v - lengths[d] * np.rint(v / lengths[d])
                p += 1
    return qi, pj, out


@numba.njit(cache=True, parallel=True)
def finish_pairs(qi, pj, v32, ppos, qrows, cell, inv, n, n_q, r_cut, exact, tie):
    """Candidate pairs ``(row, j, vector)`` to the sorted CSR list ``(offsets, j, d, v)``: float64
    minimum-image vectors (``exact``: given), cut at ``r_cut`` (none if negative), each row
    sorted by (distance, index) with ties within ``tie`` ordered by index."""
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
        # freud cut in float32; cut again in float64.  The atom itself is point `a` of the
        # (super)cell (shift 0); its other periodic images are neighbours.
        keep[p] = (r_cut < 0 or dist[p] < r_cut) and pj[p] != a
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
        elif c > 1:  # short segments: insertion sort of the (distance, index) keys, then
            # one gather (a row's j are distinct, so the order is the same total order)
            seg_j = out_j[o:o + c].copy()
            seg_d = out_d[o:o + c].copy()
            seg_v = out_v[o:o + c].copy()
            order = np.empty(c, dtype=np.int64)
            order[0] = 0
            for x in range(1, c):
                kd_ = seg_d[x]
                kj = seg_j[x]
                y = x
                while y > 0 and (seg_d[order[y - 1]] > kd_ or
                                 (seg_d[order[y - 1]] == kd_ and seg_j[order[y - 1]] > kj)):
                    order[y] = order[y - 1]
                    y -= 1
                order[y] = x
            for x in range(c):
                out_j[o + x] = seg_j[order[x]]
                out_d[o + x] = seg_d[order[x]]
                out_v[o + x, 0] = seg_v[order[x], 0]
                out_v[o + x, 1] = seg_v[order[x], 1]
                out_v[o + x, 2] = seg_v[order[x], 2]
        ties_by_index(out_j, out_d, out_v, o, o + c, tie)
    return offsets, out_j, out_d, out_v


@numba.njit(cache=True)
def ties_by_index(out_j, out_d, out_v, start, stop, tie):
    """In a segment sorted by distance, order each run of distances within ``tie`` of the
    run's first one by index, so rounding noise (a perfect crystal's equal shells, a shifted
    copy of a frame) never decides the order or which neighbours a k-nearest list keeps."""
    x = start
    while x < stop:
        y = x + 1
        while y < stop and out_d[y] - out_d[x] <= tie:
            y += 1
        if y - x > 1:
            if y - x > 64:
                seg_j = out_j[x:y].copy()
                seg_d = out_d[x:y].copy()
                seg_v = out_v[x:y].copy()
                order = np.argsort(seg_j, kind="mergesort")  # stable: distance order kept
                for z in range(y - x):
                    out_j[x + z] = seg_j[order[z]]
                    out_d[x + z] = seg_d[order[z]]
                    out_v[x + z] = seg_v[order[z]]
            else:
                for a in range(x + 1, y):
                    b = a
                    while b > x and out_j[b - 1] > out_j[b]:
                        out_d[b - 1], out_d[b] = out_d[b], out_d[b - 1]
                        out_j[b - 1], out_j[b] = out_j[b], out_j[b - 1]
                        for d in range(3):
                            out_v[b - 1, d], out_v[b, d] = out_v[b, d], out_v[b - 1, d]
                        b -= 1
        x = y


@numba.njit(cache=True, parallel=True)
def truncate_rows(offsets, j, d, v, r_cut):
    """The pairs with ``d < r_cut``, row by row in their order: ``(offsets, j, d, v)`` of the
    cut list (what boolean indexing gives, in parallel over rows)."""
    n_rows = len(offsets) - 1
    counts = np.zeros(n_rows, dtype=np.int64)
    for i in numba.prange(n_rows):
        c = 0
        for p in range(offsets[i], offsets[i + 1]):
            if d[p] < r_cut:
                c += 1
        counts[i] = c
    new = np.zeros(n_rows + 1, dtype=np.int64)
    for i in range(n_rows):
        new[i + 1] = new[i] + counts[i]
    m = new[n_rows]
    out_j = np.empty(m, dtype=j.dtype)
    out_d = np.empty(m, dtype=d.dtype)
    out_v = np.empty((m, 3), dtype=v.dtype)
    for i in numba.prange(n_rows):
        q = new[i]
        for p in range(offsets[i], offsets[i + 1]):
            if d[p] < r_cut:
                out_j[q] = j[p]
                out_d[q] = d[p]
                out_v[q, 0] = v[p, 0]
                out_v[q, 1] = v[p, 1]
                out_v[q, 2] = v[p, 2]
                q += 1
    return new, out_j, out_d, out_v


@numba.njit(cache=True)
def cell_lists(pos, lengths, nc):
    """Atoms sorted by cell of an ``nc[0] x nc[1] x nc[2]`` grid over ``[0, lengths)``:
    ``(start, atoms)``, the atoms of cell ``c`` being ``atoms[start[c]:start[c + 1]]`` in
    increasing order."""
    n = len(pos)
    n_cells = nc[0] * nc[1] * nc[2]
    cid = np.empty(n, dtype=np.int64)
    start = np.zeros(n_cells + 1, dtype=np.int64)
    for i in range(n):
        c = 0
        for d in range(3):
            k = int(pos[i, d] / lengths[d] * nc[d])
            c = c * nc[d] + min(max(k, 0), nc[d] - 1)
        cid[i] = c
        start[c + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    atoms = np.empty(n, dtype=np.int64)
    for i in range(n):
        atoms[fill[cid[i]]] = i
        fill[cid[i]] += 1
    return start, atoms


@numba.njit(cache=True, nogil=True)
def _axis(c, o, n, length):
    """Cell ``o`` steps from cell ``c`` on an axis of ``n >= 3`` cells, and the shift that
    takes its atoms to the image next to cell ``c``."""
    t = c + o
    if t < 0:
        return t + n, -length
    if t >= n:
        return t - n, length
    return t, 0.0


@numba.njit(cache=True, parallel=True)
def cell_candidates(qrows, pos, lengths, nc, start, atoms, r2max):
    """Candidate pairs ``(row, j, minimum-image vector)`` of the atoms ``qrows`` from a cell
    list whose cells are at least the search radius wide: every atom of the neighbouring
    cells within ``sqrt(r2max)`` (the atom itself dropped).

    With three or more cells per axis, a neighbouring cell's image is known, so a vector is
    ``(r_b - r_a) + shift`` with ``shift`` 0 or a whole box length: for a kept pair (shorter
    than half the box) these are the very floats :func:`kd_candidates` computes,
    ``t - L rint(t / L)``.  Narrower boxes take that formula itself.
    """
    n_q = len(qrows)
    counts = np.zeros(n_q + 1, dtype=np.int64)
    wide = nc[0] >= 3 and nc[1] >= 3 and nc[2] >= 3
    for two in range(2):
        if two == 1:
            for i in range(n_q):
                counts[i + 1] += counts[i]
            m = counts[n_q]
        else:
            m = 0
        qi = np.empty(m, dtype=np.int64)
        pj = np.empty(m, dtype=np.int64)
        out = np.empty((m, 3))
        for i in numba.prange(n_q):
            a = qrows[i]
            ax, ay, az = pos[a, 0], pos[a, 1], pos[a, 2]
            c0 = min(max(int(ax / lengths[0] * nc[0]), 0), nc[0] - 1)
            c1 = min(max(int(ay / lengths[1] * nc[1]), 0), nc[1] - 1)
            c2 = min(max(int(az / lengths[2] * nc[2]), 0), nc[2] - 1)
            p = counts[i]
            c = 0
            for x in range(3 if wide else nc[0]):
                if wide:
                    cx, sx = _axis(c0, x - 1, nc[0], lengths[0])
                else:
                    cx, sx = x, 0.0
                for y in range(3 if wide else nc[1]):
                    if wide:
                        cy, sy = _axis(c1, y - 1, nc[1], lengths[1])
                    else:
                        cy, sy = y, 0.0
                    for z in range(3 if wide else nc[2]):
                        if wide:
                            cz, sz = _axis(c2, z - 1, nc[2], lengths[2])
                        else:
                            cz, sz = z, 0.0
                        cell = (cx * nc[1] + cy) * nc[2] + cz
                        for q in range(start[cell], start[cell + 1]):
                            b = atoms[q]
                            if b == a:
                                continue
                            v0 = pos[b, 0] - ax
                            v1 = pos[b, 1] - ay
                            v2 = pos[b, 2] - az
                            if wide:
                                v0 = v0 + sx
                                v1 = v1 + sy
                                v2 = v2 + sz
                            else:
                                v0 = v0 - lengths[0] * np.rint(v0 / lengths[0])
                                v1 = v1 - lengths[1] * np.rint(v1 / lengths[1])
                                v2 = v2 - lengths[2] * np.rint(v2 / lengths[2])
                            if v0 * v0 + v1 * v1 + v2 * v2 <= r2max:
                                if two == 1:
                                    qi[p + c] = i
                                    pj[p + c] = b
                                    out[p + c, 0] = v0
                                    out[p + c, 1] = v1
                                    out[p + c, 2] = v2
                                c += 1
            if two == 0:
                counts[i + 1] = c
    return qi, pj, out


@numba.njit(cache=True, parallel=True, nogil=True)
def bond_vectors(pos, cell, inv, pbc, offsets, indices):
    """Minimum-image vectors ``r_j - r_i`` (nearest periodic image along each periodic cell
    vector, through fractional coordinates) and their lengths, for the pairs of a CSR list."""
    n = len(offsets) - 1
    vec = np.empty((len(indices), 3))
    dist = np.empty(len(indices))
    for a in numba.prange(n):
        for p in range(offsets[a], offsets[a + 1]):
            b = indices[p]
            d0 = pos[b, 0] - pos[a, 0]
            d1 = pos[b, 1] - pos[a, 1]
            d2 = pos[b, 2] - pos[a, 2]
            s0 = d0 * inv[0, 0] + d1 * inv[1, 0] + d2 * inv[2, 0]
            s1 = d0 * inv[0, 1] + d1 * inv[1, 1] + d2 * inv[2, 1]
            s2 = d0 * inv[0, 2] + d1 * inv[1, 2] + d2 * inv[2, 2]
            if pbc[0]:
                s0 -= np.rint(s0)
            if pbc[1]:
                s1 -= np.rint(s1)
            if pbc[2]:
                s2 -= np.rint(s2)
            for k in range(3):
                vec[p, k] = s0 * cell[0, k] + s1 * cell[1, k] + s2 * cell[2, k]
            dist[p] = np.sqrt(vec[p, 0] ** 2 + vec[p, 1] ** 2 + vec[p, 2] ** 2)
    return vec, dist
