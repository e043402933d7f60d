"""numba kernels behind :mod:`descriptors.neighbors_map`: the Neighbors Map of every atom.

Everything that numba compiles lives here, in one file (numba's ``cache=True``
keys its cache on the file of the cached function only): explicit 4-wide SIMD
steps written as LLVM intrinsics, Batcher's and the bitonic register networks,
the scalar helpers, and :func:`nmap_parallel`, the parallel loop over atoms.
The schedules of the sorting networks (which rows a ball's merge steps touch)
and the NumPy reference are in :mod:`descriptors._nmap_backends`.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

RTOL = 1e-8            # relative tie tolerance on squared distances (float64 round-off is ~1e-15)

# -- numba kernel ---------------------------------------------------------------------------------
# Per atom, the image rows are the ball's pair distances, one sorted column per neighbour j_k.
# They live in one matrix ``X[p * RS + r]`` = squared distance from ball point p to j_{r+1}:
# point-major, one SIMD lane per row r.  A sorting network (a fixed, data-independent sequence of
# compare-exchanges) then sorts every row at once, four per 256-bit min/max, with no branch on
# the data: same speed on crystals and liquids.  Min and max are exact, so the sorted rows are
# bitwise the values a scalar sort gives.  The network, per ball of n points:
#   1. each block of 16 points is computed and sorted in registers (Batcher's 63 exchanges);
#   2. sorted blocks are merged pairwise, bitonic fashion: the first list against the second
#      reversed, then each half finished by half-cleaners, the last four levels of which run in
#      registers, 16 rows at a time; once a list holds the T >= size smallest, a merge keeps only
#      the T smallest (a one-sided min).  Exchanges with padding (+inf) are left out.
# For the 55-point ball of noisy fcc: 4 blocks, then 39 exchanges, 23 mins and 6 register merges
# per group of four rows; a pruned Batcher network would need 421 exchanges through memory.
# Balls of more than NET_MAX points sort row by row (a counting pass, then insertion sort).

NET_MAX = 128          # balls of up to 127 neighbours go through the sorting networks
IDX_BITS = 7           # weighted rows carry the partner's ball index in the low mantissa bits
assert 1 << IDX_BITS >= NET_MAX


# Explicit 4-wide SIMD steps.  numba's loop vectoriser gives up on most of these loops (signed
# index arithmetic, possible aliasing), and a select-based min is turned by LLVM into a masked
# store, microcoded on AMD Zen.  Plain IEEE operations in the order of the docstrings, so the
# results are bitwise those of the scalar expressions; the only fast-math flags, nnan and nsz on
# min/max, change nothing for distances (never NaN, never -0).

def _vec4_ptr(context, builder, arrty, arr, offset):
    data = context.make_array(arrty)(context, builder, arr).data
    ptr = builder.gep(data, [offset])
    return builder.bitcast(ptr, ir.VectorType(ir.DoubleType(), 4).as_pointer())


def _minmax_fns(builder):
    """llvm.minnum/maxnum on 4 doubles: one vminpd/vmaxpd each, called with nnan (no NaN here)."""
    vt = ir.VectorType(ir.DoubleType(), 4)
    fnty = ir.FunctionType(vt, [vt, vt])
    return (cgutils.get_or_insert_function(builder.module, fnty, "llvm.minnum.v4f64"),
            cgutils.get_or_insert_function(builder.module, fnty, "llvm.maxnum.v4f64"))


def _exchange(builder, fmin, fmax, v, pairs):
    for i, j in pairs:
        v[i], v[j] = (builder.call(fmin, [v[i], v[j]], fastmath=("nnan", "nsz")),
                      builder.call(fmax, [v[i], v[j]], fastmath=("nnan", "nsz")))


@intrinsic
def _minmax4(typingctx, a, i, j):
    """``a[i:i+4], a[j:j+4] = minimum(both), maximum(both)``: four compare-exchanges at once."""
    sig = types.void(a, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        pi = _vec4_ptr(context, builder, signature.args[0], args[0], args[1])
        pj = _vec4_ptr(context, builder, signature.args[0], args[0], args[2])
        v = [builder.load(pi, align=8), builder.load(pj, align=8)]
        _exchange(builder, *_minmax_fns(builder), v, [(0, 1)])
        builder.store(v[0], pi, align=8)
        builder.store(v[1], pj, align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _min4(typingctx, a, i, j):
    """``a[i:i+4] = minimum(a[i:i+4], a[j:j+4])``: the kept half of an exchange."""
    sig = types.void(a, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        pi = _vec4_ptr(context, builder, signature.args[0], args[0], args[1])
        pj = _vec4_ptr(context, builder, signature.args[0], args[0], args[2])
        fmin, _ = _minmax_fns(builder)
        builder.store(builder.call(fmin, [builder.load(pi, align=8), builder.load(pj, align=8)],
                                   fastmath=("nnan", "nsz")), pi, align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _rdiv4(typingctx, a, o, num, r):
    """``a[o+t] = num[r+t] / a[o+t]``, t = 0..3."""
    sig = types.void(a, types.int64, num, types.int64)

    def codegen(context, builder, signature, args):
        p = _vec4_ptr(context, builder, signature.args[0], args[0], args[1])
        q = _vec4_ptr(context, builder, signature.args[2], args[2], args[3])
        builder.store(builder.fdiv(builder.load(q, align=8), builder.load(p, align=8)), p, align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _transpose4(typingctx, out, oo, ostride, X, ox, xstride):
    """``out[oo + t*ostride + u] = float32(X[ox + u*xstride + t])``, t, u = 0..3: a 4x4 tile of
    lanes turned into image rows (the same rounding as a scalar conversion)."""
    sig = types.void(out, types.int64, types.int64, X, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        out_, oo, ostride, X_, ox, xstride = args
        i64 = ir.IntType(64)
        f4 = ir.VectorType(ir.FloatType(), 4)
        cols = [builder.fptrunc(builder.load(_vec4_ptr(
            context, builder, signature.args[3], X_,
            builder.add(ox, builder.mul(xstride, ir.Constant(i64, u)))), align=8), f4)
            for u in range(4)]  # cols[u][t] = lane t, column u
        def shuffle(a, b, mask):
            return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), 4), mask))

        lo = [shuffle(cols[u], cols[u + 1], [0, 4, 1, 5]) for u in (0, 2)]  # (t0u, t0u+1, t1u, ..)
        hi = [shuffle(cols[u], cols[u + 1], [2, 6, 3, 7]) for u in (0, 2)]
        rows = [shuffle(lo[0], lo[1], [0, 1, 4, 5]), shuffle(lo[0], lo[1], [2, 3, 6, 7]),
                shuffle(hi[0], hi[1], [0, 1, 4, 5]), shuffle(hi[0], hi[1], [2, 3, 6, 7])]
        data = context.make_array(signature.args[0])(context, builder, out_).data
        for t in range(4):
            ptr = builder.gep(data, [builder.add(oo, builder.mul(ostride, ir.Constant(i64, t)))])
            builder.store(rows[t], builder.bitcast(ptr, f4.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


def _batcher_pairs(big):
    """Batcher's odd-even merge sort of ``big`` (a power of two) inputs: (i, j) pairs, i < j.

    Knuth's formulation (TAOCP 5.3.4, algorithm M).
    """
    pairs = []
    p = 1
    while p < big:
        k = p
        while k >= 1:
            j = k % p
            while j < big - k:
                pairs += [(i + j, i + j + k) for i in range(min(k, big - j - k))
                          if (i + j) // (2 * p) == (i + j + k) // (2 * p)]
                j += 2 * k
            k //= 2
        p *= 2
    return pairs


BLOCK = 16  # rows 16g .. 16g+15 of X are first sorted in registers, 16 vectors at a time
BLOCK_NET = _batcher_pairs(BLOCK)  # 63 compare-exchanges
BITONIC_NET = [(b + i, b + i + h) for h in (8, 4, 2, 1)
                for b in range(0, BLOCK, 2 * h) for i in range(h)]  # 32 half-cleaner exchanges


def _make_dist_sort_block(keyed):
    def dist_sort_block(typingctx, X, o, stride, px, py, pz, p0, valid, qx, qy, qz, r):
        sig = types.void(X, types.int64, types.int64, px, py, pz, types.int64, types.int64, qx, qy,
                         qz, types.int64)

        def codegen(context, builder, signature, args):
            ty = signature.args
            X_, o_, stride_, p0_, valid_, r_ = (args[k] for k in (0, 1, 2, 6, 7, 11))
            i64 = ir.IntType(64)
            vt = ir.VectorType(ir.DoubleType(), 4)
            vi = ir.VectorType(i64, 4)

            def splat(x, t):
                v = ir.Constant(t, ir.Undefined)
                for k in range(4):
                    v = builder.insert_element(v, x, ir.Constant(ir.IntType(32), k))
                return v

            q = [builder.load(_vec4_ptr(context, builder, ty[8 + k], args[8 + k], r_), align=8)
                 for k in range(3)]
            pts = [context.make_array(ty[3 + k])(context, builder, args[3 + k]).data
                   for k in range(3)]
            own = builder.add(splat(builder.add(r_, ir.Constant(i64, 1)), vi),
                              ir.Constant(vi, [0, 1, 2, 3]))  # lane t: the row of point r+t+1
            inf = ir.Constant(vt, [float("inf")] * 4)
            v = []
            for t in range(BLOCK):
                p = builder.add(p0_, ir.Constant(i64, t))
                d = [builder.fsub(splat(builder.load(builder.gep(pts[k], [p])), vt), q[k])
                     for k in range(3)]
                sq = [builder.fmul(x, x) for x in d]
                d2 = builder.fadd(builder.fadd(sq[0], sq[1]), sq[2])
                if keyed:  # key: the distance's bits, the last IDX_BITS replaced by p
                    bits = builder.or_(builder.and_(builder.bitcast(d2, vi),
                                                    ir.Constant(vi, [-(1 << IDX_BITS)] * 4)),
                                       splat(p, vi))
                    d2 = builder.select(builder.icmp_signed("<", ir.Constant(i64, t), valid_),
                                        builder.bitcast(bits, vt), inf)
                v.append(builder.select(builder.icmp_signed("==", own, splat(p, vi)), inf, d2))
            _exchange(builder, *_minmax_fns(builder), v, BLOCK_NET)
            for t in range(BLOCK):
                dst = builder.add(o_, builder.mul(stride_, ir.Constant(i64, t)))
                builder.store(v[t], _vec4_ptr(context, builder, ty[0], X_, dst), align=8)
            return context.get_dummy_value()

        return sig, codegen

    dist_sort_block.__doc__ = """Rows ``p0 .. p0+15`` of lanes ``r .. r+3`` of X: squared distances
    from ball point p to ``q[r+t]`` (``(x-qx)**2 + (y-qy)**2 + (z-qz)**2``, in that order), sorted
    along p; ``+inf`` where p is the lane's own point (``p == r+t+1``).  Points past the ball
    have coordinates +inf, so their distances are +inf (keyed: ``p >= p0 + valid`` are set so).
    Keyed: each value's last IDX_BITS bits are replaced by p (the partner's index follows it).
    The block stays in registers: computed, sorted by the 63 compare-exchanges of Batcher's
    network and stored once, where exchanges through memory cost two loads and two stores each.
    """
    return intrinsic(dist_sort_block)


_dist_sort_block = _make_dist_sort_block(False)
_dist_sort_block_keyed = _make_dist_sort_block(True)


@intrinsic
def _bitonic_block(typingctx, X, o, stride):
    """Sort rows ``o + t*stride``, t = 0..15, of four lanes, each lane a bitonic sequence:
    the half-cleaners of 8, 4, 2 and 1 (32 exchanges), in registers."""
    sig = types.void(X, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        ptrs = [_vec4_ptr(context, builder, signature.args[0], args[0],
                          builder.add(args[1], builder.mul(args[2], ir.Constant(i64, t))))
                for t in range(BLOCK)]
        v = [builder.load(q, align=8) for q in ptrs]
        _exchange(builder, *_minmax_fns(builder), v, BITONIC_NET)
        for q, x in zip(ptrs, v):
            builder.store(x, q, align=8)
        return context.get_dummy_value()

    return sig, codegen


EXCHANGE, MIN, BITONIC = 0, 1, 2  # network steps, on rows i, j of X (all lanes)


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


def _sorted_row(k, m, px, py, pz, pc, scale, cnt, tv, tc, tb, rd, rc):
    """Squared distances from ball point k to the m other points, sorted into rd, codes in rc.

    For balls too big for the networks.  A counting pass into equal-width buckets (``scale``
    maps a value to its bucket) leaves the values nearly sorted; insertion sort finishes in
    about linear time.  Stable: equal values keep ball order.
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
    for i in range(m):
        b = tb[i]
        rd[cnt[b]] = tv[i]
        rc[cnt[b]] = tc[i]
        cnt[b] += 1
    _sort_pairs(rd, rc, m)


def _tie_sort_codes(v, c, lo, n):
    """Inside each tie group of sorted v[lo:n], order entries by code c (insertion sort)."""
    g = lo
    while g < n:
        e = g + 1
        while e < n and v[e] - v[e - 1] <= RTOL * v[e]:
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


def _row_less(X, C, RS, pc, a, b, ncol, weighted):
    """Row of j_a strictly before row of j_b: tolerant lexicographic on distances, then codes."""
    for t in range(ncol):
        x = X[t * RS + a - 1]
        y = X[t * RS + b - 1]
        if abs(x - y) > RTOL * max(x, y):
            return x < y
    if not weighted:
        return False
    if pc[a] != pc[b]:
        return pc[a] < pc[b]
    for t in range(ncol):
        if C[t * RS + a - 1] != C[t * RS + b - 1]:
            return C[t * RS + a - 1] < C[t * RS + b - 1]
    return False


def _lane_stride(lanes):
    """Row stride of X: ``lanes`` rounded up to 4, then to an odd multiple of 4.

    A power-of-two stride puts rows 16 apart 4 KiB apart, and a store to one row then stalls the
    loads of the other (4K aliasing) in the network's distance-16 and -32 comparators.
    """
    rl = (lanes + 3) & ~3
    return rl if (rl // 4) % 2 == 1 else rl + 4


def _weighted_rows(X, Xi, C, RS, last, m, ncol, px, py, pz, pc, qx, qy, qz, rd, rc):
    """After the network sorted keys (distance, partner index): exact distances and partner codes
    back into lanes 0..last-1, each row in the canonical order (tie groups by code)."""
    mask = (1 << IDX_BITS) - 1
    for r in range(last):
        for c in range(m):
            p = Xi[c * RS + r] & mask
            dx = px[p] - qx[r]
            dy = py[p] - qy[r]
            dz = pz[p] - qz[r]
            rd[c] = dx * dx + dy * dy + dz * dz
            rc[c] = pc[p]
        _sort_pairs(rd, rc, m)  # keys are ordered as the values, to 2^-45 relative: O(m)
        _tie_sort_codes(rd, rc, 0, m)
        for c in range(ncol):
            X[c * RS + r] = rd[c]
            C[c * RS + r] = rc[c]


def _big_ball_rows(X, C, RS, last, m, ncol, weighted, px, py, pz, pc, pd, cnt, tv, tc, tb, rd, rc):
    """Rows of a ball too big for the networks, one at a time, into the same lanes."""
    # pair distances within the ball are at most twice the farthest neighbour's
    scale = (len(cnt) - 1) / (4.0 * pd[m] * (1.0 + 1e-6))
    for r in range(last):
        _sorted_row(r + 1, m, px, py, pz, pc, scale, cnt, tv, tc, tb, rd, rc)
        if weighted:
            _tie_sort_codes(rd, rc, 0, m)
        for c in range(ncol):
            X[c * RS + r] = rd[c]
            C[c * RS + r] = rc[c]


def _one_atom(s, e, indices, distances, vectors, centre_code, codes, wtab, size, gamma, beta,
              r_cut, weighted, nkind, nri, nrj, noff, px, py, pz, pd, pc, qx, qy, qz, X, Xi, C,
              alpha, order, sd, si, rd, rc, cnt, tv, tc, tb, out_a):
    # -- the ball: neighbours inside the cutoff, sorted by distance from the centre (ties by type
    #    when weighted); lists arrive sorted, so this is O(m)
    m = 0
    for p in range(s, e):
        if distances[p] < r_cut:
            x = vectors[p, 0]
            y = vectors[p, 1]
            z = vectors[p, 2]
            sd[m] = x * x + y * y + z * z
            si[m] = p - s
            m += 1
    _sort_pairs(sd, si, m)
    if weighted:
        g = 0
        while g < m:
            h = g + 1
            while h < m and sd[h] - sd[h - 1] <= RTOL * sd[h]:
                h += 1
            for i in range(g + 1, h):
                x = si[i]
                j = i - 1
                while j >= g and codes[indices[s + si[j]]] > codes[indices[s + x]]:
                    si[j + 1] = si[j]
                    j -= 1
                si[j + 1] = x
            g = h
    px[0] = 0.0
    py[0] = 0.0
    pz[0] = 0.0
    pd[0] = 0.0
    pc[0] = centre_code
    for i in range(m):
        p = s + si[i]
        px[i + 1] = vectors[p, 0]
        py[i + 1] = vectors[p, 1]
        pz[i + 1] = vectors[p, 2]
        pd[i + 1] = sd[i]
        pc[i + 1] = codes[indices[p]] if weighted else 0  # (a random access per pair: skip it)
    ncol = min(size, m)
    nrow = min(size - 1, m)
    last = nrow  # rows needed: through the end of j_nrow's tie group
    while 0 < last < m and pd[last + 1] - pd[last] <= RTOL * pd[last + 1]:
        last += 1
    # -- rows of j_1 .. j_last: lane r of X holds the sorted distances from j_{r+1} (first ncol)
    rl = (last + 3) & ~3
    RS = _lane_stride(last)
    n = m + 1
    if last > 0 and n < len(noff) - 1:
        for r in range(rl):
            q = r + 1 if r < last else 0  # padding lanes: the centre; never read back
            qx[r] = px[q]
            qy[r] = py[q]
            qz[r] = pz[q]
        for p in range(n, n + BLOCK):  # padding of the last block: at infinity
            px[p] = np.inf
            py[p] = np.inf
            pz[p] = np.inf
        for b in range(0, n, BLOCK):
            for r in range(0, rl, 4):
                if weighted:  # key = distance, then index
                    _dist_sort_block_keyed(X, b * RS + r, RS, px, py, pz, b, n - b, qx, qy, qz, r)
                else:
                    _dist_sort_block(X, b * RS + r, RS, px, py, pz, b, n - b, qx, qy, qz, r)
        for c in range(noff[n], noff[n + 1]):
            i = nri[c] * RS
            j = nrj[c] * RS
            if nkind[c] == EXCHANGE:
                for r in range(0, rl, 4):
                    _minmax4(X, i + r, j + r)
            elif nkind[c] == MIN:
                for r in range(0, rl, 4):
                    _min4(X, i + r, j + r)
            else:
                for r in range(0, rl, 4):
                    _bitonic_block(X, i + r, RS)
        if weighted:
            _weighted_rows(X, Xi, C, RS, last, m, ncol, px, py, pz, pc, qx, qy, qz, rd, rc)
    elif last > 0:
        _big_ball_rows(X, C, RS, last, m, ncol, weighted, px, py, pz, pc, pd, cnt, tv, tc, tb,
                       rd, rc)
    # -- canonical order of the rows inside each tie group of d(0, j)
    for i in range(last):
        order[i] = i + 1
    g = 0
    while g < last:
        h = g + 1
        while h < last and pd[h + 1] - pd[h] <= RTOL * pd[h + 1]:
            h += 1
        for i in range(g + 1, h):
            x = order[i]
            j = i - 1
            while j >= g and _row_less(X, C, RS, pc, x, order[j], ncol, weighted):
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = x
        g = h
    # -- pixels (a full ball writes every pixel; a small one leaves zeros)
    if ncol < size or nrow < size - 1:
        out_a[:, :, :] = 0.0
    half = -0.5 * gamma
    for c in range(ncol):
        v = 1.0 / pd[c + 1] if gamma == 2.0 else pd[c + 1] ** half
        out_a[0, 0, c] = v
        for ch in range(1, wtab.shape[0]):
            out_a[ch, 0, c] = v * wtab[ch, pc[0]] * wtab[ch, pc[c + 1]]
    if nrow == 0:
        return
    for r in range(rl):
        alpha[r] = 1.0
    for i in range(nrow):
        k = order[i]
        alpha[k - 1] = pd[k] ** (-0.5 / beta)
    if gamma == 2.0:  # alpha / d2, every lane at once
        for c in range(ncol):
            for r in range(0, rl, 4):
                _rdiv4(X, c * RS + r, alpha, r)
    flat = out_a.reshape(-1)
    i = 1
    while i <= nrow:
        k = order[i - 1]
        if (gamma == 2.0 and i + 3 <= nrow and order[i] == k + 1 and order[i + 1] == k + 2
                and order[i + 2] == k + 3):  # rows i..i+3 are lanes k-1..k+2: 4x4 tiles
            c = 0
            while c + 4 <= ncol:
                _transpose4(flat, i * size + c, size, X, c * RS + k - 1, RS)
                c += 4
            for t in range(4):
                for cc in range(c, ncol):
                    out_a[0, i + t, cc] = X[cc * RS + k - 1 + t]
            i += 4
            continue
        for c in range(ncol):
            v = X[c * RS + k - 1]
            if gamma != 2.0:
                v = alpha[k - 1] * v ** half
            out_a[0, i, c] = v
        i += 1
    for i in range(1, nrow + 1):
        k = order[i - 1]
        for ch in range(1, wtab.shape[0]):
            for c in range(ncol):
                d = X[c * RS + k - 1]
                v = d if gamma == 2.0 else alpha[k - 1] * d ** half
                out_a[ch, i, c] = v * wtab[ch, pc[k]] * wtab[ch, C[c * RS + k - 1]]


def _run_block(lo, hi, max_m, offsets, indices, distances, vectors, centre_codes, codes, wtab,
               size, gamma, beta, r_cut, nkind, nri, nrj, noff, out):
    """Atoms lo..hi-1 with one set of scratch arrays (a plain function: parfor bodies optimise
    worse)."""
    weighted = wtab.shape[0] > 1
    M = max_m + 1
    RSM = _lane_stride(M)
    px = np.empty(M + BLOCK)  # the last block of rows reads up to 15 points past the ball
    py = np.empty(M + BLOCK)
    pz = np.empty(M + BLOCK)
    pd = np.empty(M)
    pc = np.empty(M, dtype=np.int32)
    qx = np.empty(RSM)
    qy = np.empty(RSM)
    qz = np.empty(RSM)
    alpha = np.empty(RSM)
    X = np.empty((M + BLOCK) * RSM)
    Xi = X.view(np.int64)
    C = np.empty(M * RSM if weighted or M > len(noff) - 2 else 1, dtype=np.int32)
    order = np.empty(M, dtype=np.int64)
    sd = np.empty(M)
    si = np.empty(M, dtype=np.int64)
    rd = np.empty(M)
    rc = np.empty(M, dtype=np.int32)
    big = M > len(noff) - 2  # scratch of the row-by-row sort
    cnt = np.empty(4 * max_m + 2 if big else 1, dtype=np.int64)  # ~4 buckets per value
    tv = np.empty(M if big else 1)
    tc = np.empty(M if big else 1, dtype=np.int32)
    tb = np.empty(M if big else 1, dtype=np.int64)
    for a in range(lo, hi):
        _one_atom(offsets[a], offsets[a + 1], indices, distances, vectors, centre_codes[a],
                  codes, wtab, size, gamma, beta, r_cut, weighted, nkind, nri, nrj, noff,
                  px, py, pz, pd, pc, qx, qy, qz, X, Xi, C, alpha, order, sd, si, rd, rc,
                  cnt, tv, tc, tb, out[a])


_ATOMS_PER_BLOCK = 64  # scratch is allocated once per block of atoms; blocks balance the threads


def _nmap_loops(offsets, indices, distances, vectors, centre_codes, codes, wtab,
                size, gamma, beta, r_cut, out, nkind, nri, nrj, noff):
    n = len(offsets) - 1
    max_m = 0
    for a in range(n):
        max_m = max(max_m, offsets[a + 1] - offsets[a])
    n_blocks = min(1024, (n + _ATOMS_PER_BLOCK - 1) // _ATOMS_PER_BLOCK)
    for b in numba.prange(n_blocks):
        _run_block(b * n // n_blocks, (b + 1) * n // n_blocks, max_m, offsets, indices, distances,
                   vectors, centre_codes, codes, wtab, size, gamma, beta, r_cut, nkind, nri, nrj,
                   noff, out)


# numba is a core dependency; the plain-Python bodies above stay readable as the definitions
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")  # 1/0 -> inf, no check per division
(_sort_pairs, _sorted_row, _tie_sort_codes, _row_less, _lane_stride, _weighted_rows,
 _big_ball_rows, _one_atom, _run_block) = map(_jit, (
    _sort_pairs, _sorted_row, _tie_sort_codes, _row_less, _lane_stride, _weighted_rows,
    _big_ball_rows, _one_atom, _run_block))
nmap_parallel = numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")(_nmap_loops)
