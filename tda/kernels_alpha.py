"""Batch alpha-complex persistence of many small point clouds (numba, parallel over clouds).

Scale: the kernel works with gudhi's filtration values, the *squared* radius of the
smallest empty circumsphere, and the batch output is their square root (a radius,
in length units).

Per cloud:

1. **Delaunay triangulation by gift-wrapping.**  From a first Delaunay tetrahedron
   through point 0, every open face ``abc`` is closed by the point ``d`` above it whose
   sphere through ``a, b, c, d`` has its centre lowest along the face normal (no other
   point is then inside); a face with no point above it is a hull face.
2. **Floating-point predicates with geometric tolerances.**  Heights above a plane and
   tie gaps are compared with ``1e-10 L``, powers with ``1e-10 L**2`` (``L`` the
   cloud's radius; float64 round-off is ~1e-14 L here).  Below that, a configuration
   counts as exactly degenerate: coplanar points never form a tetrahedron, and
   cospherical ties -- everywhere in perfect lattices -- are broken by the symbolic
   perturbation of Devillers & Teillaud (2011; CGAL's ``side_of_oriented_sphere`` with
   ``perturb=true``, point index as perturbation order), so the result is *one* valid
   Delaunay triangulation of the degenerate input.  Between ``1e-10`` and ``1e-7`` a
   predicate is too close to call: the cloud is flagged.
3. **Certificate, built during construction.**  A hull face is certified by the scan
   that found no point above it; a face closed by wrapping, by the two apexes' heights
   and powers from that scan; a face closed by meeting an open face, by an explicit
   local-Delaunay test; finally every point must be a vertex and the Euler
   characteristic ``V - E + F - T`` must be 1.  By the Delaunay lemma this certifies
   the triangulation.  Flagged or failed clouds (and those with fewer than four
   points, or flat) get status 3 and the caller computes them with gudhi
   (``precision="exact"``).  Against gudhi's exact mode the kernel agrees to ~1e-15
   on lattices, thermal noise and random clouds; clouds with noise ~1e-10..1e-7 of
   the cloud size are the ones deferred to gudhi.
4. **Alpha values from the true coordinates**, as gudhi's ``Alpha_complex``: a
   tetrahedron gets its squared circumradius; a triangle or an edge gets its own
   squared smallest-circumsphere radius unless a vertex of one of its cofaces lies
   strictly inside that sphere (it is *attached*), in which case it gets the smallest
   value of its cofaces.  The diagram does not depend on which Delaunay
   triangulation of a degenerate input is taken.
5. Pairs of dims 0 and 1 by :func:`tda._core.complex_pairs`; H2 by Alexander duality, a
   union-find of the tetrahedra and the outside over the triangles in reverse order
   (:func:`_void_pairs`): the same pairs as the cohomology reduction, at a fraction of
   its cost.

Speed: the hot helpers take their arrays without reference counting (``_LEAF``: compiled
without numba's runtime, they allocate nothing) or are inlined, since incref/decref of
every array argument on every call cost as much as the arithmetic on ~13 points.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import types as nt

from ._core import _LEAF, _find, _sort_pairs, complex_pairs, small_order, write_pairs
from ._geometry import (_I, _JIT, _P, _face_frame, _insphere_sos, _tet_radius2,
                        _tri_circumcentre)
from .kernels_rips import MAX_POINTS, load_cloud

__all__ = ["alpha_batch", "alpha_cloud", "delaunay"]

_EPS = 1e-10   # below this (relative to the cloud size L) a height, a power or a tie gap is
               # exact degeneracy; float64 round-off is ~1e-14 L here
_BAND = 1e-7   # between _EPS and _BAND a predicate is too close to call: the cloud goes to gudhi
_OPEN, _CLOSED, _HULL = 0, 1, 2


@numba.njit(nt.int64(_P, _P, _I, _I, _I, _I, nt.float64[::1], nt.boolean[::1], nt.float64[::1],
                     nt.float64[::1], nt.float64[:, ::1], _I), **_LEAF)
def _wrap(P, PT, a, b, c, o, tol, flag, hbuf, pbuf, circ, s):
    """The Delaunay apex on the positive side of face (a, b, c), or -1 for a hull face.

    Each point ``x`` above the face (distance ``h > 0``) defines the sphere through
    a, b, c, x whose centre is ``q + t n`` (``q`` the face's circumcentre, ``n`` its unit
    normal), ``t = pw / 2h`` with ``pw`` the power of x w.r.t. the face's circle; the
    apex has the smallest ``t``.  Near-ties go to :func:`_insphere_sos`.
    ``PT`` is P transposed (3, m); ``hbuf``, ``pbuf`` are float64 scratch of length m and
    return the heights of all points and the powers of all points unless every point
    but a, b, c is clearly below (a hull face), and those of ``o`` (the apex below, if any,
    ``o >= 0``).  Row ``s`` of ``circ`` (., 4) returns the face's circumcentre and squared
    radius, as :func:`_tri_circumcentre` gives them.
    """
    m = len(P)
    eps_h, band_h, L = tol[0], tol[3], tol[4]
    n0, n1, n2, off, q0, q1, q2, r2 = _face_frame(P, a, b, c)
    circ[s, 0] = q0
    circ[s, 1] = q1
    circ[s, 2] = q2
    circ[s, 3] = r2
    for x in range(m):  # heights: branch-free, vectorised
        hbuf[x] = n0 * PT[0, x] + n1 * PT[1, x] + n2 * PT[2, x] - off
    hbuf[a] = -np.inf
    hbuf[b] = -np.inf
    hbuf[c] = -np.inf
    top = -np.inf
    n_near = 0
    for x in range(m):  # the highest other point; how many lie nearly on the plane
        h = hbuf[x]
        top = h if h > top else top
        n_near += (h > -band_h) & (h <= eps_h)
    hbuf[a] = 0.0
    hbuf[b] = 0.0
    hbuf[c] = 0.0
    if top > -band_h:  # else every other point is clearly below: a hull face, no flag
        for x in range(m):  # powers w.r.t. the face's circle: branch-free, vectorised
            ex = PT[0, x] - q0
            ey = PT[1, x] - q1
            ez = PT[2, x] - q2
            pbuf[x] = ex * ex + ey * ey + ez * ez - r2
    if n_near > 0:
        for x in range(m):
            h = hbuf[x]
            if h > -band_h and h <= eps_h and x != a and x != b and x != c:
                pw = pbuf[x]
                if abs(pw) < band_h * L and abs(pw) > eps_h * L:
                    flag[0] = True  # nearly coplanar, nearly but not exactly cocircular
    if top <= eps_h:  # no point above: a hull face
        if o >= 0:
            pbuf[o] = (PT[0, o] - q0) ** 2 + (PT[1, o] - q1) ** 2 + (PT[2, o] - q2) ** 2 - r2
        return -1
    # the apex: the first x of smallest pw / h over h > 0 (pw * hb < pb * h), without
    # branches (pb = inf makes the first point above win)
    best = -1
    hb = 1.0
    pb = np.inf
    for x in range(m):
        h = hbuf[x]
        pw = pbuf[x]
        take = (h > eps_h) & (pw * hb < pb * h)
        best = x if take else best
        hb = h if take else hb
        pb = pw if take else pb
    if hb < band_h and abs(pb) < band_h * L:
        flag[0] = True  # the apex itself is nearly coplanar and cocircular
    t_best = pb / (2.0 * hb)
    lim = t_best + 1e-7 * (L + abs(t_best))  # t is exact to ~1e-14 L: this close is a tie
    first = best
    n_tie = 0
    for x in range(m):  # branch-free first: ties are rare outside perfect lattices
        n_tie += (hbuf[x] > eps_h) & (x != first) & (pbuf[x] <= 2.0 * hbuf[x] * lim)
    for x in range(m if n_tie > 0 else 0):
        h = hbuf[x]
        if (h > eps_h) & (x != first) & (pbuf[x] <= 2.0 * h * lim):
            if _insphere_sos(P, a, b, c, best, x, tol, flag) > 0:
                best = x
    if o >= 0:
        pbuf[o] = (PT[0, o] - q0) ** 2 + (PT[1, o] - q1) ** 2 + (PT[2, o] - q2) ** 2 - r2
    return best


@numba.njit(cache=True, nogil=True)
def _first_tet(P, PT, tol, flag, hbuf, pbuf):
    """A Delaunay tetrahedron (positively oriented) through point 0, or (-1,) * 4.

    Point 0's nearest neighbour b gives a Delaunay edge; the triangles (0, b, c) are tried
    by increasing circumradius, each closed by gift-wrapping on both sides, until a
    tetrahedron passes the empty-sphere test against every point.
    """
    m = len(P)
    L = tol[4]
    fail = (-1, -1, -1, -1)
    a = np.int64(0)
    b = np.int64(-1)
    best = np.inf
    for x in range(1, m):
        d2 = (P[x, 0] - P[a, 0]) ** 2 + (P[x, 1] - P[a, 1]) ** 2 + (P[x, 2] - P[a, 2]) ** 2
        if d2 < best:
            best = d2
            b = x
    if b < 0:
        return fail
    rad = np.full(m, np.inf)
    circ = np.empty((1, 4))
    ux = P[b, 0] - P[a, 0]
    uy = P[b, 1] - P[a, 1]
    uz = P[b, 2] - P[a, 2]
    for x in range(1, m):
        if x == b:
            continue
        vx = P[x, 0] - P[a, 0]
        vy = P[x, 1] - P[a, 1]
        vz = P[x, 2] - P[a, 2]
        w0 = uy * vz - uz * vy
        w1 = uz * vx - ux * vz
        w2 = ux * vy - uy * vx
        if w0 * w0 + w1 * w1 + w2 * w2 <= 1e-20 * L ** 4:  # collinear
            continue
        rad[x] = _tri_circumcentre(P, a, b, x)[3]
    for c in np.argsort(rad):
        if rad[c] == np.inf:
            break
        for side in range(2):
            f1 = b if side == 0 else c
            f2 = c if side == 0 else b
            d = _wrap(P, PT, a, f1, f2, -1, tol, flag, hbuf, pbuf, circ, 0)
            if d < 0:
                continue
            ok = True
            for x in range(m):
                if x != a and x != f1 and x != f2 and x != d:
                    if _insphere_sos(P, a, f1, f2, d, x, tol, flag) > 0:
                        ok = False
                        break
            if ok:
                return (a, int(f1), int(f2), int(d))
    return fail


@numba.njit(nt.int64(_I, _I, _I, _I), **_JIT)
def _face_key(m, i, j, k):
    if i > j:
        i, j = j, i
    if j > k:
        j, k = k, j
    if i > j:
        i, j = j, i
    return (i * m + j) * m + k


@numba.njit(cache=True, nogil=True)
def delaunay(P, face_table):
    """Delaunay tetrahedra of the cloud P (m, 3) with their faces, or n_tets = -1 on failure.

    ``face_table`` is int32 scratch of size >= m**3 filled with -1 (restored on return).
    Returns ``(n_tets, tets (.,4) vertices, tet_faces (.,4) face ids, n_faces,
    face_v (.,3), face_tet (.,2), face_opp (.,2), face_state)``.
    """
    return _delaunay(P, face_table)[:8]


@numba.njit(cache=True, nogil=True)
def _delaunay(P, face_table):
    """:func:`delaunay`, plus ``face_c`` (., 4) and ``face_has_c``: the circumcentre and
    squared radius of the faces that were wrapped or checked (as :func:`_tri_circumcentre`)."""
    m = len(P)
    L = 0.0
    for x in range(m):
        r = np.sqrt((P[x, 0] - P[0, 0]) ** 2 + (P[x, 1] - P[0, 1]) ** 2 + (P[x, 2] - P[0, 2]) ** 2)
        if r > L:
            L = r
    # (eps_h, eps_p, band_p, band_h, L): distances in L, powers in L**2
    tol = np.array([_EPS * L, _EPS * L * L, _BAND * L * L, _BAND * L, L])
    flag = np.zeros(1, dtype=np.bool_)
    hbuf = np.empty(m)
    pbuf = np.empty(m)
    PT = np.ascontiguousarray(P.T)
    cap_t = 8 * m + 16
    cap_f = 2 * cap_t + 8
    tets = np.empty((cap_t, 4), dtype=np.int64)
    tet_faces = np.empty((cap_t, 4), dtype=np.int32)
    face_v = np.empty((cap_f, 3), dtype=np.int64)
    face_tet = np.full((cap_f, 2), -1, dtype=np.int64)
    face_opp = np.full((cap_f, 2), -1, dtype=np.int64)
    face_state = np.empty(cap_f, dtype=np.int8)
    face_c = np.empty((cap_f, 4))  # circumcentre, squared radius of wrapped/checked faces
    face_has_c = np.zeros(cap_f, dtype=np.bool_)
    stack = np.empty(cap_f, dtype=np.int32)
    n_t = 0
    n_f = 0
    n_stack = 0
    failed = m < 4 or L == 0.0
    if not failed:
        a, b, c, d = _first_tet(P, PT, tol, flag, hbuf, pbuf)
        failed = a < 0
    if not failed:
        nxt = (int(a), int(b), int(c), int(d))
        src = -1  # the face whose wrapping gave nxt
        has_next = True
        while has_next and not failed:
            if n_t == cap_t:
                failed = True
                break
            v0, v1, v2, v3 = nxt
            t = n_t
            tets[t, 0] = v0
            tets[t, 1] = v1
            tets[t, 2] = v2
            tets[t, 3] = v3
            n_t += 1
            # outward faces of a positive tet (v0, v1, v2, v3), opposite v3, v2, v1, v0
            for q in range(4):
                if q == 0:
                    f0, f1, f2, opp = v0, v2, v1, v3
                elif q == 1:
                    f0, f1, f2, opp = v0, v1, v3, v2
                elif q == 2:
                    f0, f1, f2, opp = v0, v3, v2, v1
                else:
                    f0, f1, f2, opp = v1, v2, v3, v0
                key = _face_key(m, f0, f1, f2)
                s = face_table[key]
                if s >= 0:
                    # the face just wrapped (s == src) was checked from the scan's heights
                    # and powers, the same numbers _check_face would compute
                    if face_state[s] != _OPEN:
                        failed = True  # a third tetrahedron on a face, or a hull face reopened
                        break
                    if s != src:
                        if not _check_face(P, face_v[s, 0], face_v[s, 1], face_v[s, 2],
                                           face_opp[s, 0], opp, tol, face_c, s):
                            failed = True  # two tetrahedra not locally Delaunay
                            break
                        face_has_c[s] = True
                    face_state[s] = _CLOSED
                    face_tet[s, 1] = t
                    face_opp[s, 1] = opp
                else:
                    if n_f == cap_f:
                        failed = True
                        break
                    s = n_f
                    n_f += 1
                    face_table[key] = s
                    face_v[s, 0] = f0
                    face_v[s, 1] = f1
                    face_v[s, 2] = f2
                    face_state[s] = _OPEN
                    face_tet[s, 0] = t
                    face_opp[s, 0] = opp
                    stack[n_stack] = s
                    n_stack += 1
                tet_faces[t, q] = s
            has_next = False
            while n_stack > 0 and not failed:
                n_stack -= 1
                s = stack[n_stack]
                if face_state[s] != _OPEN:
                    continue
                d = _wrap(P, PT, face_v[s, 0], face_v[s, 1], face_v[s, 2], face_opp[s, 0], tol,
                          flag, hbuf, pbuf, face_c, s)
                face_has_c[s] = True
                if d < 0:  # no point above: the scan itself certifies the hull face
                    face_state[s] = _HULL
                    continue
                o = face_opp[s, 0]  # the scan also gave heights and powers of both apexes
                if hbuf[o] >= -tol[0] or pbuf[d] - hbuf[d] * pbuf[o] / hbuf[o] < -tol[1]:
                    failed = True
                    break
                nxt = (int(face_v[s, 0]), int(face_v[s, 1]), int(face_v[s, 2]), int(d))
                src = s
                has_next = True
                break
    if not failed:
        failed = flag[0] or not _all_used(m, n_t, tets, n_f, face_state)
    for s in range(n_f):  # restore the scratch table
        face_table[_face_key(m, face_v[s, 0], face_v[s, 1], face_v[s, 2])] = -1
    if failed:
        n_t = -1
    return n_t, tets, tet_faces, n_f, face_v, face_tet, face_opp, face_state, face_c, face_has_c


@numba.njit(nt.boolean(_P, _I, _I, _I, _I, _I, nt.float64[::1], nt.float64[:, ::1], _I),
            **_JIT)
def _check_face(P, a, b, c, o0, o1, tol, circ, s):
    """Two tetrahedra on face (a, b, c): o0 strictly below, o1 strictly above, and o1 not
    inside the sphere of (a, b, c, o0) by more than the tolerance (local Delaunay).
    Row ``s`` of ``circ`` (., 4) returns the face's circumcentre and squared radius."""
    n0, n1, n2, off, q0, q1, q2, r2 = _face_frame(P, a, b, c)
    circ[s, 0] = q0
    circ[s, 1] = q1
    circ[s, 2] = q2
    circ[s, 3] = r2
    h0 = n0 * P[o0, 0] + n1 * P[o0, 1] + n2 * P[o0, 2] - off
    p0 = (P[o0, 0] - q0) ** 2 + (P[o0, 1] - q1) ** 2 + (P[o0, 2] - q2) ** 2 - r2
    h1 = n0 * P[o1, 0] + n1 * P[o1, 1] + n2 * P[o1, 2] - off
    p1 = (P[o1, 0] - q0) ** 2 + (P[o1, 1] - q1) ** 2 + (P[o1, 2] - q2) ** 2 - r2
    if h0 >= -tol[0] or h1 <= tol[0]:
        return False
    # power of o1 w.r.t. the sphere through a, b, c, o0: 2 h1 (t1 - t0), t = p / 2h
    return p1 - h1 * p0 / h0 >= -tol[1]


@numba.njit(cache=True, nogil=True)
def _all_used(m, n_t, tets, n_f, face_state):
    """Every point is a vertex, and no face was left open."""
    used = np.zeros(m, dtype=np.bool_)
    for t in range(n_t):
        for q in range(4):
            used[tets[t, q]] = True
    for x in range(m):
        if not used[x]:
            return False
    for s in range(n_f):
        if face_state[s] == _OPEN:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def alpha_cloud(P, max_dim, face_table, edge_table):
    """Alpha pairs of one cloud (squared radii), or ``n = -1`` arrays on failure.

    Returns ``(ok, birth, death, dim)``; ``face_table`` (>= m**3) and ``edge_table``
    (>= m**2) are int32 scratch filled with -1 and restored.
    """
    m = len(P)
    (n_t, tets, tet_faces, n_f, face_v, face_tet, face_opp, face_state, face_c,
     face_has_c) = _delaunay(P, face_table)
    if n_t < 0:
        e = np.empty(0)
        return False, e, e, np.empty(0, dtype=np.int8)
    # tetrahedra
    k_val = np.empty(n_t)
    for t in range(n_t):
        k_val[t] = _tet_radius2(P, tets[t, 0], tets[t, 1], tets[t, 2], tets[t, 3])
    # triangles: own radius unless attached by a coface's opposite vertex
    t_val = np.empty(n_f)
    t_e = np.empty((n_f, 3), dtype=np.int32)
    e_v = np.empty((3 * n_f, 2), dtype=np.int32)
    e_mid = np.empty((3 * n_f, 3))  # centre of each edge's diametral ball,
    e_val = np.empty(3 * n_f)       # and its squared radius (the edge's own value)
    E = 0
    for s in range(n_f):
        if face_has_c[s]:  # found while wrapping or checking the face
            q0, q1, q2, r2 = face_c[s, 0], face_c[s, 1], face_c[s, 2], face_c[s, 3]
        else:
            q0, q1, q2, r2 = _tri_circumcentre(P, face_v[s, 0], face_v[s, 1], face_v[s, 2])
        attached = False
        lowest = np.inf
        for side in range(2):
            t = face_tet[s, side]
            if t < 0:
                continue
            lowest = min(lowest, k_val[t])
            x = face_opp[s, side]
            d2 = (P[x, 0] - q0) ** 2 + (P[x, 1] - q1) ** 2 + (P[x, 2] - q2) ** 2
            if d2 < r2:
                attached = True
        t_val[s] = lowest if attached else min(r2, lowest)
        for k in range(3):
            i = face_v[s, k]
            j = face_v[s, k + 1 if k < 2 else 0]
            if i > j:
                i, j = j, i
            key = i * m + j
            if edge_table[key] < 0:
                edge_table[key] = E
                e_v[E, 0] = i
                e_v[E, 1] = j
                er2 = 0.0
                for c in range(3):
                    e_mid[E, c] = 0.5 * (P[i, c] + P[j, c])
                    er2 += (0.5 * (P[j, c] - P[i, c])) ** 2
                e_val[E] = er2
                E += 1
            t_e[s, k] = edge_table[key]
    ok = 1 + E - n_f + n_t == m  # Euler characteristic of a 3-ball: V - E + F - T = 1
    e_v = e_v[:E]
    e_val = e_val[:E]
    e_att = np.zeros(E, dtype=np.bool_)
    e_low = np.full(E, np.inf)
    for s in range(n_f):
        for k in range(3):
            e = t_e[s, k]
            x = face_v[s, k - 1 if k > 0 else 2]  # the vertex opposite edge (k, k+1)
            e_low[e] = min(e_low[e], t_val[s])
            d2 = 0.0
            for c in range(3):
                d2 += (P[x, c] - e_mid[e, c]) ** 2
            if d2 < e_val[e]:
                e_att[e] = True
    for e in range(E):
        e_val[e] = e_low[e] if e_att[e] else min(e_val[e], e_low[e])
        edge_table[e_v[e, 0] * m + e_v[e, 1]] = -1
    if not ok:
        e = np.empty(0)
        return False, e, e, np.empty(0, dtype=np.int8)
    order_t = small_order(t_val) if max_dim >= 1 else np.empty(0, dtype=np.int64)
    b, d, k = complex_pairs(m, e_v, e_val, small_order(e_val), t_e, t_val, order_t,
                            tet_faces[:0], k_val, np.empty(0, dtype=np.int64),
                            np.int64(min(max_dim, 1)))
    if max_dim < 2:
        return True, b, d, k
    n = len(b)
    out_b = np.empty(n + n_f)
    out_d = np.empty(n + n_f)
    out_k = np.empty(n + n_f, dtype=np.int8)
    out_b[:n] = b
    out_d[:n] = d
    out_k[:n] = k
    n2 = _void_pairs(t_val, order_t, face_tet, k_val, np.arange(n_t + 1), out_b, out_d, out_k, n)
    return True, out_b[:n2], out_d[:n2], out_k[:n2]


@numba.njit(**_LEAF)
def _void_pairs(t_val, order_t, face_tet, k_val, parent, out_b, out_d, out_k, n):
    """Appends the H2 pairs to the n pairs of dims 0, 1 in ``out_*``, sorted as
    :func:`tda._core.complex_pairs` sorts them; returns the new count.

    By Alexander duality a void is a bounded component of the complement: H2 is the H0
    of the dual graph (the tetrahedra and the outside, node ``n_t``, joined across their
    triangles) in the reverse filtration.  Triangles are added from the last to the first;
    a component lives from its largest tetrahedron value (the outside: inf), and when a
    triangle joins two, the younger one dies: the pair (triangle value, its largest
    value).  A triangle's cofaces have values at least its own and come after it in the
    filtration order, so all tetrahedra can be present from the start.  ``parent`` is
    ``arange(n_t + 1)``, scratch of the union-find.
    """
    n_t = len(k_val)
    n2 = n
    for r in range(len(order_t) - 1, -1, -1):
        s = order_t[r]
        x = _find(parent, face_tet[s, 0])
        y = _find(parent, face_tet[s, 1] if face_tet[s, 1] >= 0 else n_t)
        if x == y:
            continue
        top_x = k_val[x] if x < n_t else np.inf  # roots carry their component's largest value
        top_y = k_val[y] if y < n_t else np.inf
        if top_x < top_y:
            x, y = y, x
            top_y = top_x
        parent[y] = x  # y, the younger component, dies
        if top_y > t_val[s]:
            out_b[n2] = t_val[s]
            out_d[n2] = top_y
            out_k[n2] = 2
            n2 += 1
    _sort_pairs(out_b[n:], out_d[n:], out_k[n:], n2 - n)
    return n2


@numba.njit(cache=True, parallel=True, nogil=True)
def alpha_batch(vectors, offsets, with_origin, max_dim, cap_off, out_b, out_d, out_k, out_n,
                status, n_chunks):
    """Alpha pairs (radii) of every cloud, as :func:`tda.kernels_rips.rips_batch`.

    ``status[a]``: 0 ok, 1 capacity too small, 2 cloud too large, 3 triangulation not
    certified (too few points, flat cloud, or a near-degeneracy at the tolerance).
    """
    n = len(offsets) - 1
    m_max = 1
    for a in range(n):
        m = offsets[a + 1] - offsets[a] + with_origin
        if m > m_max and m <= MAX_POINTS:
            m_max = m
    n_chunks = min(n, n_chunks)  # a few chunks per thread balance the load
    for c in numba.prange(n_chunks):
        face_table = np.full(m_max * m_max * m_max, -1, dtype=np.int32)
        edge_table = np.full(m_max * m_max, -1, dtype=np.int32)
        for a in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            status[a] = 0
            out_n[a] = 0
            if offsets[a + 1] - offsets[a] + with_origin > MAX_POINTS:
                status[a] = 2
                continue
            P = load_cloud(vectors, offsets, a, with_origin)
            ok, b, d, k = alpha_cloud(P, max_dim, face_table, edge_table)
            if not ok:
                status[a] = 3
                continue
            write_pairs(b, d, k, np.bool_(True), a, cap_off, out_b, out_d, out_k, out_n, status)
