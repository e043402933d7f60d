"""numba kernels behind :mod:`descriptors.steinhardt`: q_lm, q_l, Lechner-Dellago q̄_l, ten Wolde bonds.

Everything is float64.  Only ``m >= 0`` is computed and stored: for every bond
``Y_l,-m = (-1)^m conj(Y_lm)``, so ``q_l,-m = (-1)^m conj(q_lm)`` holds exactly for
the per-atom means and their neighbour averages, and the sums over ``m`` become
``|q_l0|^2 + 2 sum_{m>0} |q_lm|^2`` (norms) and
``Re(q_l0(i) q_l0(j)*) + 2 sum_{m>0} Re(q_lm(i) q_lm(j)*)`` (bond coherences).

Spherical harmonics: ``Y_lm(r) = P~_l^m(cos theta) ((x + i y) / r)^m`` where
``P~_l^m = Pbar_l^m / sin^m theta`` is the orthonormalised associated Legendre
function divided by ``sin^m``, a polynomial in ``cos theta``.  It obeys the same
three-term recurrence in ``l`` as ``Pbar`` (stable upwards in ``l``) and its
diagonal ``P~_m^m`` is a constant, so no ``sin theta``, ``atan2`` or pole special
case is needed.  Condon-Shortley phase included (irrelevant to every quantity here).

Each atom is handled by one thread from start to end, in the CSR order of its
bonds, so the results do not depend on the number of threads (bitwise).
"""
from __future__ import annotations

import math

import numba
import numpy as np

CHUNK = 128  # atoms per parallel work item


def legendre_tables(lmax: int):
    """Recurrence coefficients ``a[l, m]``, ``b[l, m]`` and diagonal ``pmm[m]`` up to ``lmax``.

    ``P~_m^m = pmm[m]``, ``P~_l^m = a[l, m] (x P~_{l-1}^m - b[l, m] P~_{l-2}^m)`` (l > m).
    """
    a = np.zeros((lmax + 1, lmax + 1))
    b = np.zeros((lmax + 1, lmax + 1))
    for m in range(lmax + 1):
        for l in range(m + 1, lmax + 1):
            a[l, m] = math.sqrt((4.0 * l * l - 1.0) / (l * l - m * m))
            b[l, m] = math.sqrt(((l - 1.0) ** 2 - m * m) / (4.0 * (l - 1.0) ** 2 - 1.0))
    pmm = np.empty(lmax + 1)
    pmm[0] = math.sqrt(1.0 / (4.0 * math.pi))
    for m in range(1, lmax + 1):
        pmm[m] = -math.sqrt((2.0 * m + 1.0) / (2.0 * m)) * pmm[m - 1]
    return a, b, pmm


@numba.njit(cache=True, parallel=True)
def qlm_kernel(offsets, vectors, a, b, pmm, acc_col, width, col_l, store_col, store_width,
               solid_l):
    """Per-atom mean ``q_lm`` (m >= 0) over its bonds, and what follows from it alone.

    Parameters
    ----------
    offsets, vectors : CSR offsets (n + 1,) and bond vectors (n_pairs, 3)
    a, b, pmm : :func:`legendre_tables` up to ``lmax``
    acc_col : (lmax + 1,) int64
        Column of ``q_l0`` in an atom's accumulator row, or -1 if ``l`` is not needed.
    width : int, accumulator row length (sum of ``l + 1`` over the needed ``l``)
    col_l : (n_cols,) int64, the ``l`` of each output column of ``q``
    store_col : (lmax + 1,) int64
        Complex column of ``q_l0`` in the stored rows, or -1 if block ``l`` is not stored.
    store_width : int, complex entries per stored row
    solid_l : int, ``l`` of the ten Wolde coherence (its inverse norm is returned), -1 for none

    Returns
    -------
    q : (n, n_cols) float64, Steinhardt q_l of each atom (0 without bonds)
    qlm : (n, 2 * store_width) float64, the stored blocks of q_lm (m = 0..l) as
        interleaved (re, im) pairs: the memory layout of complex128 (n, store_width)
    inv_norm : (n,) float64, ``1 / sqrt(sum_m |q_lm|^2)`` at ``l = solid_l`` (0 if the norm is 0)
    """
    n = len(offsets) - 1
    lmax = len(pmm) - 1
    n_cols = len(col_l)
    q = np.zeros((n, n_cols))
    qlm = np.zeros((n, 2 * store_width))
    inv_norm = np.zeros(n)
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in numba.prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        mx = 0
        for i in range(lo, hi):
            mx = max(mx, offsets[i + 1] - offsets[i])
        # per bond of the current atom: cos(theta), (x + i y) / r, its m-th power, P~_{l-1}, P~_l;
        # each recurrence step runs over all bonds at once (independent chains, SIMD)
        ct = np.empty(mx)
        wr = np.empty(mx)
        wi = np.empty(mx)
        er = np.empty(mx)
        ei = np.empty(mx)
        pp = np.empty(mx)
        pc = np.empty(mx)
        acc_re = np.empty(width)
        acc_im = np.empty(width)
        for i in range(lo, hi):
            start = offsets[i]
            nb = 0
            for p in range(start, offsets[i + 1]):
                x = vectors[p, 0]
                y = vectors[p, 1]
                z = vectors[p, 2]
                r = math.sqrt(x * x + y * y + z * z)
                if r == 0.0:  # never in a crystopo list (no atom at zero distance)
                    continue
                ir = 1.0 / r
                ct[nb] = z * ir
                wr[nb] = x * ir
                wi[nb] = y * ir
                er[nb] = 1.0
                ei[nb] = 0.0
                nb += 1
            if nb == 0:
                continue
            for m in range(lmax + 1):
                pm = pmm[m]
                for t in range(nb):
                    pp[t] = 0.0
                    pc[t] = pm
                for l in range(m, lmax + 1):
                    if l > m:
                        al = a[l, m]
                        bl = b[l, m]
                        for t in range(nb):
                            pn = al * (ct[t] * pc[t] - bl * pp[t])
                            pp[t] = pc[t]
                            pc[t] = pn
                    k = acc_col[l]
                    if k >= 0:
                        sr = 0.0
                        si = 0.0
                        for t in range(nb):
                            sr += pc[t] * er[t]
                            si += pc[t] * ei[t]
                        acc_re[k + m] = sr
                        acc_im[k + m] = si
                if m < lmax:
                    for t in range(nb):
                        e = er[t] * wr[t] - ei[t] * wi[t]
                        ei[t] = er[t] * wi[t] + ei[t] * wr[t]
                        er[t] = e
            inv = 1.0 / nb
            for k in range(width):
                acc_re[k] *= inv
                acc_im[k] *= inv
            for col in range(n_cols):
                l = col_l[col]
                k = acc_col[l]
                s0 = acc_re[k] * acc_re[k] + acc_im[k] * acc_im[k]
                s1 = 0.0
                for m in range(1, l + 1):
                    s1 += acc_re[k + m] * acc_re[k + m] + acc_im[k + m] * acc_im[k + m]
                q[i, col] = math.sqrt(4.0 * math.pi / (2 * l + 1) * (s0 + 2.0 * s1))
            for l in range(lmax + 1):
                d = store_col[l]
                if d >= 0:
                    k = acc_col[l]
                    for m in range(l + 1):
                        qlm[i, 2 * (d + m)] = acc_re[k + m]
                        qlm[i, 2 * (d + m) + 1] = acc_im[k + m]
            if solid_l >= 0:
                k = acc_col[solid_l]
                s0 = acc_re[k] * acc_re[k] + acc_im[k] * acc_im[k]
                s1 = 0.0
                for m in range(1, solid_l + 1):
                    s1 += acc_re[k + m] * acc_re[k + m] + acc_im[k + m] * acc_im[k + m]
                norm = math.sqrt(s0 + 2.0 * s1)
                inv_norm[i] = 1.0 / norm if norm > 0.0 else 0.0
    return q, qlm, inv_norm


@numba.njit(cache=True, parallel=True)
def neighbor_kernel(offsets, indices, qlm, col_l, store_col, average, solid_l, inv_norm,
                    q_threshold):
    """Lechner-Dellago ``q̄_l`` and ten Wolde solid-bond counts from the stored ``q_lm``.

    ``q̄_lm(i) = (q_lm(i) + sum_j q_lm(j)) / (1 + N_b(i))`` over the bonds of ``i`` (one
    term per bond); a bond ``i-j`` is solid-like when
    ``Re sum_m q_lm(i) q_lm(j)* / (|q_l(i)| |q_l(j)|) >= q_threshold`` at ``l = solid_l``
    (0 when either norm is 0).  ``qlm``: (n, 2 * store_width) float64 from :func:`qlm_kernel`.

    Returns
    -------
    qbar : (n, n_cols) float64 (no columns unless ``average``)
    counts : (n,) int32 (zeros unless ``solid_l >= 0``)
    """
    n = len(offsets) - 1
    n_cols = len(col_l) if average else 0
    qbar = np.zeros((n, n_cols))
    counts = np.zeros(n, dtype=np.int32)
    width = qlm.shape[1]
    n_chunks = (n + CHUNK - 1) // CHUNK
    ks = 2 * store_col[solid_l] if solid_l >= 0 else 0  # float columns of the solid block
    ke = ks + 2 * (solid_l + 1)
    for c in numba.prange(n_chunks):
        acc = np.empty(width)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            start, stop = offsets[i], offsets[i + 1]
            qi = qlm[i]
            if average:
                for k in range(width):
                    acc[k] = qi[k]
            ni = inv_norm[i] if solid_l >= 0 else 0.0
            cnt = 0
            for p in range(start, stop):
                j = indices[p]
                qj = qlm[j]
                if average:
                    for k in range(width):
                        acc[k] += qj[k]
                if solid_l >= 0:
                    s0 = qi[ks] * qj[ks] + qi[ks + 1] * qj[ks + 1]
                    s1 = 0.0
                    for k in range(ks + 2, ke):
                        s1 += qi[k] * qj[k]
                    if (s0 + 2.0 * s1) * ni * inv_norm[j] >= q_threshold:
                        cnt += 1
            counts[i] = cnt
            if average:
                inv = 1.0 / (1.0 + (stop - start))
                for col in range(n_cols):
                    l = col_l[col]
                    k = 2 * store_col[l]
                    s0 = (acc[k] * inv) ** 2 + (acc[k + 1] * inv) ** 2
                    s1 = 0.0
                    for t in range(k + 2, k + 2 * (l + 1)):
                        s1 += (acc[t] * inv) ** 2
                    qbar[i, col] = math.sqrt(4.0 * math.pi / (2 * l + 1) * (s0 + 2.0 * s1))
    return qbar, counts


@numba.njit(cache=True, parallel=True)
def wl_kernel(qlm, store_col, col_l, t_off, t_m, t_c):
    """Normalised third-order invariants ``ŵ_l`` from the stored ``q_lm`` (m >= 0).

    ``ŵ_l = sum_{m1+m2+m3=0} (l l l; m1 m2 m3) q_lm1 q_lm2 q_lm3 / (sum_m |q_lm|^2)^(3/2)``,
    with ``q_l,-m = (-1)^m conj(q_lm)``; the sum is real (the imaginary parts cancel
    pairwise), its real part is taken.  ``t_off`` (n_cols + 1,): the triples of column
    ``col`` are rows ``t_off[col]:t_off[col + 1]`` of ``t_m`` (m1, m2, m3) and ``t_c``
    (their Wigner 3j symbols).  Atoms whose ``sum_m |q_lm|^2`` is at most ``1e-24`` (no
    neighbours, or a shell whose ``q_l`` vanishes by symmetry, as an icosahedron's at
    l = 4: ``ŵ_l`` is then 0/0, rounding noise) get 0.
    """
    n = qlm.shape[0]
    n_cols = len(col_l)
    w = np.zeros((n, n_cols))
    for i in numba.prange(n):
        for col in range(n_cols):
            l = col_l[col]
            d = 2 * store_col[l]
            s = qlm[i, d] * qlm[i, d] + qlm[i, d + 1] * qlm[i, d + 1]
            for m in range(1, l + 1):
                s += 2.0 * (qlm[i, d + 2 * m] ** 2 + qlm[i, d + 2 * m + 1] ** 2)
            if s <= 1e-24:
                continue
            acc = 0.0
            for t in range(t_off[col], t_off[col + 1]):
                r1, i1 = _qlm_at(qlm, i, d, t_m[t, 0])
                r2, i2 = _qlm_at(qlm, i, d, t_m[t, 1])
                r3, i3 = _qlm_at(qlm, i, d, t_m[t, 2])
                pr = r1 * r2 - i1 * i2
                pi = r1 * i2 + i1 * r2
                acc += t_c[t] * (pr * r3 - pi * i3)
            w[i, col] = acc / (s * math.sqrt(s))
    return w


@numba.njit(cache=True, inline="always")
def _qlm_at(qlm, i, d, m):
    """(re, im) of ``q_lm`` for any ``m`` from the stored ``m >= 0`` block at column ``d``."""
    if m >= 0:
        return qlm[i, d + 2 * m], qlm[i, d + 2 * m + 1]
    k = -m
    sign = 1.0 if k % 2 == 0 else -1.0
    return sign * qlm[i, d + 2 * k], -sign * qlm[i, d + 2 * k + 1]
