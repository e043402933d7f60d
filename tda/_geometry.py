"""Floating-point geometric predicates and constructions for the alpha kernel.

All take the cloud ``P`` (m, 3) float64 C-contiguous and int64 point indices, and have
explicit signatures: one compilation each, whatever integer types the callers hold.
Tolerances are geometric (see :mod:`tda.kernels_alpha`): ``tol = (eps_h, eps_p, band_p,
band_h, L)`` with heights and tie gaps in length units and powers in length**2.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import types as nt

from ._core import _LEAF

_P = nt.float64[:, ::1]
_I = nt.int64
_F = nt.float64
# The predicates are inlined into their callers: a call to a compiled function increfs and
# decrefs each array argument (atomic operations of numba's reference-counting runtime),
# which would cost as much as the arithmetic.  _insphere_sos, with its loop and rare use,
# is a leaf compiled without that runtime (it allocates nothing).
_JIT = dict(cache=True, nogil=True, inline="always")


@numba.njit(nt.float64(_P, _I, _I, _I, _I), **_JIT)
def _orient_det(P, a, b, c, d):
    """det[b - a, c - a, d - a]: > 0 when d is on the side (b - a) x (c - a) points to."""
    bx = P[b, 0] - P[a, 0]
    by = P[b, 1] - P[a, 1]
    bz = P[b, 2] - P[a, 2]
    cx = P[c, 0] - P[a, 0]
    cy = P[c, 1] - P[a, 1]
    cz = P[c, 2] - P[a, 2]
    dx = P[d, 0] - P[a, 0]
    dy = P[d, 1] - P[a, 1]
    dz = P[d, 2] - P[a, 2]
    return bx * (cy * dz - cz * dy) - by * (cx * dz - cz * dx) + bz * (cx * dy - cy * dx)


@numba.njit(nt.int64(_P, _I, _I, _I, _I, _F), **_JIT)
def _orient(P, a, b, c, d, eps_h):
    """Sign of the distance from d to the plane of (a, b, c), zero within ``eps_h``."""
    bx = P[b, 0] - P[a, 0]
    by = P[b, 1] - P[a, 1]
    bz = P[b, 2] - P[a, 2]
    cx = P[c, 0] - P[a, 0]
    cy = P[c, 1] - P[a, 1]
    cz = P[c, 2] - P[a, 2]
    n0 = by * cz - bz * cy
    n1 = bz * cx - bx * cz
    n2 = bx * cy - by * cx
    nn = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    h = n0 * (P[d, 0] - P[a, 0]) + n1 * (P[d, 1] - P[a, 1]) + n2 * (P[d, 2] - P[a, 2])
    if h > eps_h * nn:
        return 1
    if h < -eps_h * nn:
        return -1
    return 0


@numba.njit(nt.float64(_P, _I, _I, _I, _I, _I), **_JIT)
def _insphere_det(P, a, b, c, d, e):
    """> 0 when e is inside the circumsphere of the positively oriented tet (a, b, c, d)."""
    # rows (v - e, |v - e|**2) for v = a, b, c, d, in scalars (no heap array)
    m00 = P[a, 0] - P[e, 0]
    m01 = P[a, 1] - P[e, 1]
    m02 = P[a, 2] - P[e, 2]
    m10 = P[b, 0] - P[e, 0]
    m11 = P[b, 1] - P[e, 1]
    m12 = P[b, 2] - P[e, 2]
    m20 = P[c, 0] - P[e, 0]
    m21 = P[c, 1] - P[e, 1]
    m22 = P[c, 2] - P[e, 2]
    m30 = P[d, 0] - P[e, 0]
    m31 = P[d, 1] - P[e, 1]
    m32 = P[d, 2] - P[e, 2]
    m03 = 0.0 + m00 * m00 + m01 * m01 + m02 * m02
    m13 = 0.0 + m10 * m10 + m11 * m11 + m12 * m12
    m23 = 0.0 + m20 * m20 + m21 * m21 + m22 * m22
    m33 = 0.0 + m30 * m30 + m31 * m31 + m32 * m32
    # 4x4 determinant by cofactor expansion on 2x2 minors of the first two columns
    s0 = m00 * m11 - m10 * m01
    s1 = m00 * m12 - m10 * m02
    s2 = m00 * m13 - m10 * m03
    s3 = m01 * m12 - m11 * m02
    s4 = m01 * m13 - m11 * m03
    s5 = m02 * m13 - m12 * m03
    c5 = m22 * m33 - m32 * m23
    c4 = m21 * m33 - m31 * m23
    c3 = m21 * m32 - m31 * m22
    c2 = m20 * m33 - m30 * m23
    c1 = m20 * m32 - m30 * m22
    c0 = m20 * m31 - m30 * m21
    det = s0 * c5 - s1 * c4 + s2 * c3 + s3 * c2 - s4 * c1 + s5 * c0
    return -det


@numba.njit(nt.float64(_P, _I, _I, _I, _I, _I), **_JIT)
def _power(P, a, b, c, d, e):
    """Power of e w.r.t. the circumsphere of tet (a, b, c, d): |e - centre|**2 - R**2."""
    return -_insphere_det(P, a, b, c, d, e) / _orient_det(P, a, b, c, d)


@numba.njit(nt.int64(_I, _I, _I, _I, _I, _I), **_JIT)
def _below(v, a, b, c, d, e):
    """The largest of a, b, c, d, e that is smaller than v (-1 if none)."""
    w = -1
    w = a if a < v and a > w else w
    w = b if b < v and b > w else w
    w = c if c < v and c > w else w
    w = d if d < v and d > w else w
    w = e if e < v and e > w else w
    return w


@numba.njit(nt.int64(_P, _I, _I, _I, _I, _I, nt.float64[::1], nt.boolean[::1]), **_LEAF)
def _insphere_sos(P, a, b, c, d, e, tol, flag):
    """+1 if e is inside the sphere of the positive tet (a, b, c, d), else -1, ties perturbed.

    ``tol = (eps_h, eps_p, band_p)``: a power within ``eps_p`` is a tie, broken by
    Devillers & Teillaud's symbolic perturbation (CGAL's rule, with a larger index
    meaning a larger perturbation); a power between ``eps_p`` and ``band_p`` is too
    close to call in floating point and sets ``flag[0]``.
    """
    pw = _power(P, a, b, c, d, e)
    if abs(pw) > tol[1]:
        if abs(pw) < tol[2]:
            flag[0] = True
        return 1 if pw < 0 else -1
    v = a + b + c + d + e + 1  # above all five (distinct, >= 0) indices
    for _ in range(3):  # the largest, second and third largest of the five indices
        v = _below(v, a, b, c, d, e)
        if v == e:
            return -1
        if v == d:
            o = _orient(P, a, b, c, e, tol[0])
        elif v == c:
            o = _orient(P, a, b, e, d, tol[0])
        elif v == b:
            o = _orient(P, a, e, c, d, tol[0])
        else:
            o = _orient(P, e, b, c, d, tol[0])
        if o != 0:
            return o
    return -1


@numba.njit(nt.UniTuple(_F, 4)(_P, _I, _I, _I), **_JIT)
def _tri_circumcentre(P, a, b, c):
    """Circumcentre ``(qx, qy, qz)`` of triangle abc and its squared radius."""
    ux = P[b, 0] - P[a, 0]
    uy = P[b, 1] - P[a, 1]
    uz = P[b, 2] - P[a, 2]
    vx = P[c, 0] - P[a, 0]
    vy = P[c, 1] - P[a, 1]
    vz = P[c, 2] - P[a, 2]
    w0 = uy * vz - uz * vy
    w1 = uz * vx - ux * vz
    w2 = ux * vy - uy * vx
    f = 0.5 / (w0 * w0 + w1 * w1 + w2 * w2)
    uu = ux * ux + uy * uy + uz * uz
    vv = vx * vx + vy * vy + vz * vz
    # (|u|^2 v x w + |v|^2 w x u) / (2 |w|^2)
    q0 = (uu * (vy * w2 - vz * w1) + vv * (w1 * uz - w2 * uy)) * f
    q1 = (uu * (vz * w0 - vx * w2) + vv * (w2 * ux - w0 * uz)) * f
    q2 = (uu * (vx * w1 - vy * w0) + vv * (w0 * uy - w1 * ux)) * f
    return q0 + P[a, 0], q1 + P[a, 1], q2 + P[a, 2], q0 * q0 + q1 * q1 + q2 * q2


@numba.njit(nt.UniTuple(_F, 8)(_P, _I, _I, _I), **_JIT)
def _face_frame(P, a, b, c):
    """Unit normal (n0, n1, n2) of (b - a) x (c - a), its offset n.a, circumcentre, radius**2."""
    ux = P[b, 0] - P[a, 0]
    uy = P[b, 1] - P[a, 1]
    uz = P[b, 2] - P[a, 2]
    vx = P[c, 0] - P[a, 0]
    vy = P[c, 1] - P[a, 1]
    vz = P[c, 2] - P[a, 2]
    n0 = uy * vz - uz * vy
    n1 = uz * vx - ux * vz
    n2 = ux * vy - uy * vx
    inv = 1.0 / np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    n0 *= inv
    n1 *= inv
    n2 *= inv
    q0, q1, q2, r2 = _tri_circumcentre(P, a, b, c)
    return n0, n1, n2, n0 * P[a, 0] + n1 * P[a, 1] + n2 * P[a, 2], q0, q1, q2, r2


@numba.njit(nt.float64(_P, _I, _I, _I, _I), **_JIT)
def _tet_radius2(P, a, b, c, d):
    ux = P[b, 0] - P[a, 0]
    uy = P[b, 1] - P[a, 1]
    uz = P[b, 2] - P[a, 2]
    vx = P[c, 0] - P[a, 0]
    vy = P[c, 1] - P[a, 1]
    vz = P[c, 2] - P[a, 2]
    wx = P[d, 0] - P[a, 0]
    wy = P[d, 1] - P[a, 1]
    wz = P[d, 2] - P[a, 2]
    uu = ux * ux + uy * uy + uz * uz
    vv = vx * vx + vy * vy + vz * vz
    ww = wx * wx + wy * wy + wz * wz
    a0 = vy * wz - vz * wy  # v x w
    a1 = vz * wx - vx * wz
    a2 = vx * wy - vy * wx
    b0 = wy * uz - wz * uy  # w x u
    b1 = wz * ux - wx * uz
    b2 = wx * uy - wy * ux
    c0 = uy * vz - uz * vy  # u x v
    c1 = uz * vx - ux * vz
    c2 = ux * vy - uy * vx
    f = 0.5 / (ux * a0 + uy * a1 + uz * a2)
    x0 = (uu * a0 + vv * b0 + ww * c0) * f
    x1 = (uu * a1 + vv * b1 + ww * c1) * f
    x2 = (uu * a2 + vv * b2 + ww * c2) * f
    return x0 * x0 + x1 * x1 + x2 * x2
