"""A Leiden optimiser (numba) for multislice objectives with per-slice null models.

Quality of a partition ``c`` of a multislice network (Mucha et al., Science 328,
876, 2010), written per undirected edge::

    H(c) = sum_{edges (i, j) inside a community} w_ij
           - sum_s g_s / 2 * sum_c M_{c,s}**2,    M_{c,s} = sum_{i in c, slice(i) = s} a_i

``w`` holds intra-layer weights and interslice couplings (already multiplied by
omega); ``a_i`` is the node mass and ``g_s`` the per-slice resolution factor:

* CPM: ``a_i`` = node weight, ``g_s`` = gamma;
* modularity (configuration null per slice): ``a_i`` = intra-slice strength
  ``k_i``, ``g_s = gamma / (2 m_s)`` with ``m_s`` the slice's total intra weight.

The null term only pairs nodes of the same slice, as the multislice objective
requires.  leidenalg can express that only with one partition per slice over
all nodes (memory and time ~ frames x nodes); here each (aggregated) node keeps
a sparse vector of masses per slice and communities keep an open-addressing
hash table ``(community, slice) -> mass``, so memory is O(nodes + edges).

The algorithm is Leiden (Traag, Waltman & van Eck, Sci. Rep. 9, 5233, 2019) as
leidenalg runs it: queue-based fast local moving (empty community allowed),
refinement by greedy constrained merging of singletons into well-connected
sub-communities, aggregation on the refined partition with the unrefined one as
initial partition, repeated while aggregation shrinks the graph.  After each
iteration, community identities are re-matched across every slice boundary
(an exact move Leiden cannot make: swapping the futures of two communities).
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["leiden_multislice", "multislice_quality"]


@numba.njit(cache=True)
def _seed(seed):
    np.random.seed(seed)


@numba.njit(cache=True)
def _perm(n):
    return np.random.permutation(n)


# --- (community, slice) -> mass: open-addressing hash table on numpy arrays -------------
# (numba's typed Dict is several times slower).  Keys are community * T + slice >= 0; -1
# marks an empty slot; entries are never deleted (a mass may return to 0).

@numba.njit(cache=True, inline="always")
def _ht_slot(keys, key):
    mask = len(keys) - 1
    i = np.int64((np.uint64(key) * np.uint64(11400714819323198485)) >> np.uint64(29)) & mask
    while keys[i] != key and keys[i] != -1:
        i = (i + 1) & mask
    return i


@numba.njit(cache=True, inline="always")
def _ht_get(keys, vals, key):
    i = _ht_slot(keys, key)
    return vals[i] if keys[i] == key else 0.0


@numba.njit(cache=True, inline="always")
def _ht_add(keys, vals, cnt, key, delta):
    i = _ht_slot(keys, key)
    if keys[i] == key:
        vals[i] += delta
    else:
        keys[i] = key
        vals[i] = delta
        cnt[0] += 1


@numba.njit(cache=True)
def _ht_grow(keys, vals):
    new_keys = np.full(2 * len(keys), -1, np.int64)
    new_vals = np.zeros(2 * len(keys))
    for i in range(len(keys)):
        if keys[i] != -1:
            j = _ht_slot(new_keys, keys[i])
            new_keys[j] = keys[i]
            new_vals[j] = vals[i]
    return new_keys, new_vals


@numba.njit(cache=True)
def _community_masses(memb, mptr, mslice, mval, T):
    cap = 16
    while cap < 4 * len(mslice):
        cap *= 2
    keys = np.full(cap, -1, np.int64)
    vals = np.zeros(cap)
    cnt = np.zeros(1, np.int64)
    for v in range(len(memb)):
        for p in range(mptr[v], mptr[v + 1]):
            _ht_add(keys, vals, cnt, memb[v] * T + mslice[p], mval[p])
    return keys, vals, cnt


@numba.njit(cache=True)
def _move_nodes(indptr, indices, weights, mptr, mslice, mval, g, T, memb, order, tol):
    """Fast local moving; ``memb`` (values < n) is updated in place.  Returns the gain."""
    n = len(indptr) - 1
    ck, cv, cc = _community_masses(memb, mptr, mslice, mval, T)
    count = np.zeros(n, np.int64)
    for v in range(n):
        count[memb[v]] += 1
    empties = np.empty(n, np.int64)
    n_empty = 0
    for c in range(n - 1, -1, -1):
        if count[c] == 0:
            empties[n_empty] = c
            n_empty += 1
    wto = np.zeros(n)
    seen = np.zeros(n, np.bool_)
    touched = np.empty(n, np.int64)
    queue = order.copy()
    in_queue = np.ones(n, np.bool_)
    head, size = 0, n
    total = 0.0
    while size > 0:
        v = queue[head]
        head = (head + 1) % n
        size -= 1
        in_queue[v] = False
        if 2 * (cc[0] + mptr[v + 1] - mptr[v]) > len(ck):
            ck, cv = _ht_grow(ck, cv)
        A = memb[v]
        nt = 0
        for p in range(indptr[v], indptr[v + 1]):
            u = indices[p]
            if u == v:
                continue
            c = memb[u]
            if not seen[c]:
                seen[c] = True
                touched[nt] = c
                nt += 1
            wto[c] += weights[p]
        null_a = 0.0
        for p in range(mptr[v], mptr[v + 1]):
            s = mslice[p]
            null_a += g[s] * mval[p] * (_ht_get(ck, cv, A * T + s) - mval[p])
        w_a = wto[A]
        best, best_gain = A, 0.0
        for i in range(nt):
            c = touched[i]
            if c == A:
                continue
            null_c = 0.0
            for p in range(mptr[v], mptr[v + 1]):
                s = mslice[p]
                null_c += g[s] * mval[p] * _ht_get(ck, cv, c * T + s)
            gain = wto[c] - w_a - null_c + null_a
            if gain > best_gain + tol:
                best, best_gain = c, gain
        if count[A] > 1 and n_empty > 0:
            gain = null_a - w_a
            if gain > best_gain + tol:
                best, best_gain = -1, gain
        for i in range(nt):
            wto[touched[i]] = 0.0
            seen[touched[i]] = False
        if best == A:
            continue
        if best == -1:
            n_empty -= 1
            best = empties[n_empty]
        for p in range(mptr[v], mptr[v + 1]):
            s = mslice[p]
            _ht_add(ck, cv, cc, A * T + s, -mval[p])
            _ht_add(ck, cv, cc, best * T + s, mval[p])
        count[A] -= 1
        count[best] += 1
        if count[A] == 0:
            empties[n_empty] = A
            n_empty += 1
        memb[v] = best
        total += best_gain
        for p in range(indptr[v], indptr[v + 1]):
            u = indices[p]
            if memb[u] != best and not in_queue[u]:
                queue[(head + size) % n] = u
                size += 1
                in_queue[u] = True
    return total


@numba.njit(cache=True)
def _refine(indptr, indices, weights, mptr, mslice, mval, g, T, memb, order, tol):
    """Refined partition nested in ``memb``: singletons merged greedily into well-connected
    sub-communities of their own community.  Returns refined labels (node ids)."""
    n = len(indptr) - 1
    pk, pv, _ = _community_masses(memb, mptr, mslice, mval, T)
    ref = np.arange(n)
    rk, rv, rc = _community_masses(ref, mptr, mslice, mval, T)
    rcount = np.ones(n, np.int64)
    ext = np.zeros(n)          # weight from refined community to the rest of its parent
    ncost = np.zeros(n)        # sum_s g_s R_s (M_s - R_s): its null cost within the parent
    for v in range(n):
        for p in range(indptr[v], indptr[v + 1]):
            u = indices[p]
            if u != v and memb[u] == memb[v]:
                ext[v] += weights[p]
        for p in range(mptr[v], mptr[v + 1]):
            s = mslice[p]
            ncost[v] += g[s] * mval[p] * (_ht_get(pk, pv, memb[v] * T + s) - mval[p])
    wto = np.zeros(n)
    seen = np.zeros(n, np.bool_)
    touched = np.empty(n, np.int64)
    for v in order:
        if rcount[ref[v]] != 1 or ext[v] < ncost[v] - tol:
            continue
        if 2 * (rc[0] + mptr[v + 1] - mptr[v]) > len(rk):
            rk, rv = _ht_grow(rk, rv)
        P = memb[v]
        nt = 0
        for p in range(indptr[v], indptr[v + 1]):
            u = indices[p]
            if u == v or memb[u] != P:
                continue
            c = ref[u]
            if not seen[c]:
                seen[c] = True
                touched[nt] = c
                nt += 1
            wto[c] += weights[p]
        best, best_gain = v, 0.0
        for i in range(nt):
            c = touched[i]
            if ext[c] < ncost[c] - tol:
                continue
            null_c = 0.0
            for p in range(mptr[v], mptr[v + 1]):
                null_c += g[mslice[p]] * mval[p] * _ht_get(rk, rv, c * T + mslice[p])
            gain = wto[c] - null_c
            if gain > best_gain + tol or (best == v and gain >= 0.0):
                best, best_gain = c, gain
        if best != v:
            ext[best] = ext[best] + ext[v] - 2.0 * wto[best]
            for p in range(mptr[v], mptr[v + 1]):
                s = mslice[p]
                a = mval[p]
                r_old = _ht_get(rk, rv, best * T + s)
                m_s = _ht_get(pk, pv, P * T + s)
                ncost[best] += g[s] * ((r_old + a) * (m_s - r_old - a) - r_old * (m_s - r_old))
                _ht_add(rk, rv, rc, best * T + s, a)
            rcount[best] += 1
            rcount[v] = 0
            ref[v] = best
        for i in range(nt):
            wto[touched[i]] = 0.0
            seen[touched[i]] = False
    return ref


def _aggregate(indptr, indices, weights, mptr, mslice, mval, T, ref):
    """Collapse nodes with the same ``ref`` (values 0..m-1); self-loops are dropped."""
    m = int(ref.max()) + 1
    n = len(indptr) - 1
    src = np.repeat(ref, np.diff(indptr))
    dst = ref[indices]
    keep = src != dst
    key, inv = np.unique(src[keep] * m + dst[keep], return_inverse=True)
    w = np.bincount(inv, weights[keep], minlength=len(key))
    new_indptr = np.zeros(m + 1, np.int64)
    np.add.at(new_indptr, key // m + 1, 1)
    owner = np.repeat(np.arange(n), np.diff(mptr))
    mkey, minv = np.unique(ref[owner] * T + mslice, return_inverse=True)
    mv = np.bincount(minv, mval, minlength=len(mkey))
    new_mptr = np.zeros(m + 1, np.int64)
    np.add.at(new_mptr, mkey // T + 1, 1)
    return (np.cumsum(new_indptr), (key % m).astype(np.int64), w, np.cumsum(new_mptr),
            (mkey % T).astype(np.int64), mv)


def _one_iteration(graph, memb, g, T, tol):
    """One Leiden iteration from base partition ``memb``; returns the new base partition."""
    indptr, indices, weights, mptr, mslice, mval = graph
    n = len(indptr) - 1
    base_to_level = np.arange(n)
    level_memb = np.unique(memb, return_inverse=True)[1].astype(np.int64)
    while True:
        n_level = len(indptr) - 1
        _move_nodes(indptr, indices, weights, mptr, mslice, mval, g, T, level_memb,
                    _perm(n_level), tol)
        level_memb = np.unique(level_memb, return_inverse=True)[1].astype(np.int64)
        n_comm = int(level_memb.max()) + 1
        ref = _refine(indptr, indices, weights, mptr, mslice, mval, g, T, level_memb,
                      _perm(n_level), tol)
        ref = np.unique(ref, return_inverse=True)[1].astype(np.int64)
        n_ref = int(ref.max()) + 1
        if not (n_ref < n_level and n_level > n_comm):
            return level_memb[base_to_level]
        new_memb = np.empty(n_ref, np.int64)
        new_memb[ref] = level_memb
        base_to_level = ref[base_to_level]
        indptr, indices, weights, mptr, mslice, mval = _aggregate(
            indptr, indices, weights, mptr, mslice, mval, T, ref)
        level_memb = new_memb


def boundary_flows(indptr, indices, weights, node_slice):
    """Inter-slice edges s -> s + 1 grouped by s: (src, dst, w, bounds)."""
    src = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    fwd = node_slice[indices] == node_slice[src] + 1
    src, dst, w = src[fwd], indices[fwd], weights[fwd]
    order = np.argsort(node_slice[src], kind="stable")
    src, dst, w = src[order], dst[order], w[order]
    bounds = np.searchsorted(node_slice[src], np.arange(int(node_slice.max(initial=0)) + 2))
    return src, dst, w, bounds


def match_lineage_labels(flows, node_slice, memb, tol):
    """Exact lineage re-matching: for each boundary s | s + 1, relabel every community of
    the slices after it by the permutation that maximises the interslice weight kept
    inside communities (Hungarian).  Intra-slice terms and per-slice null models are
    invariant under a relabelling applied to all later slices, so the gain is exact.
    Sweeps until no boundary improves; returns the number of relabellings."""
    from scipy.optimize import linear_sum_assignment
    src, dst, w, bounds = flows
    n_changes = 0
    for _sweep in range(10):
        changed = False
        for s in range(len(bounds) - 1):
            lo, hi = bounds[s], bounds[s + 1]
            if hi == lo:
                continue
            x, y = memb[src[lo:hi]], memb[dst[lo:hi]]
            ux, ix = np.unique(x, return_inverse=True)
            uy, iy = np.unique(y, return_inverse=True)
            flow = np.zeros((len(ux), len(uy)))
            np.add.at(flow, (ix, iy), w[lo:hi])
            kept = float(w[lo:hi][x == y].sum())
            r, c = linear_sum_assignment(flow, maximize=True)
            good = flow[r, c] > 0
            r, c = r[good], c[good]
            if flow[r, c].sum() <= kept + tol * (1.0 + kept):
                continue
            n_lab = int(memb.max()) + 1
            lut = np.full(n_lab, -1, dtype=np.int64)
            lut[uy[c]] = ux[r]
            taken = np.zeros(n_lab + len(uy) + 1, dtype=np.bool_)
            taken[ux[r]] = True
            later = node_slice > s
            rest = np.setdiff1d(np.unique(memb[later]), uy[c])
            fresh = n_lab
            for lab in rest:                 # unmatched later labels: keep, or take a fresh one
                if not taken[lab]:
                    lut[lab] = lab
                    taken[lab] = True
                else:
                    lut[lab] = fresh
                    fresh += 1
            memb[later] = lut[memb[later]]
            changed = True
            n_changes += 1
        if not changed:
            break
    return n_changes


def multislice_quality(indptr, indices, weights, node_slice, node_mass, g, memb) -> float:
    """``H(memb)`` as defined in the module docstring (float64)."""
    memb = np.asarray(memb, dtype=np.int64)
    src = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    inside = float(weights[memb[src] == memb[indices]].sum()) / 2.0
    T = len(g)
    key, inv = np.unique(memb * T + node_slice, return_inverse=True)
    msum = np.bincount(inv, node_mass, minlength=len(key))
    return inside - 0.5 * float((g[key % T] * msum ** 2).sum())


def leiden_multislice(indptr, indices, weights, node_slice, node_mass, g, *, n_iterations=2,
                      seed=0, initial=None, match_lineages=True):
    """Optimise ``H`` with Leiden.

    Parameters
    ----------
    indptr, indices, weights : CSR of a symmetric (n, n) matrix without self-loops
    node_slice : ndarray (n,), int64 in [0, T)
    node_mass : ndarray (n,), float64
    g : ndarray (T,), float64
    n_iterations : int
        Leiden iterations; negative: until an iteration brings no improvement.
    seed : int
    initial : ndarray (n,), int, optional
    match_lineages : bool
        After each iteration, re-match community identities across every slice boundary
        (:func:`match_lineage_labels`); fixes the local optimum where a small child of a split
        takes over its parent's identity.

    Returns
    -------
    membership : ndarray (n,), int64
        Labels 0..C-1, ordered by decreasing total node mass (ties: first node).
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    node_slice = np.ascontiguousarray(node_slice, dtype=np.int64)
    node_mass = np.ascontiguousarray(node_mass, dtype=np.float64)
    g = np.ascontiguousarray(g, dtype=np.float64)
    n = len(indptr) - 1
    if n == 0:
        return np.zeros(0, np.int64)
    T = len(g)
    graph = (indptr, indices, weights, np.arange(n + 1, dtype=np.int64), node_slice, node_mass)
    scale = float(np.abs(weights).max()) if len(weights) else 1.0
    tol = 1e-12 * max(scale, float(np.abs(g).max() * node_mass.max() ** 2), 1e-300)
    _seed(int(seed) % (2 ** 32))
    memb = np.arange(n, dtype=np.int64) if initial is None else np.asarray(initial, np.int64)
    q = multislice_quality(indptr, indices, weights, node_slice, node_mass, g, memb)
    it = 0
    flows = boundary_flows(indptr, indices, weights, node_slice)
    while n_iterations < 0 or it < n_iterations:
        memb = _one_iteration(graph, memb, g, T, tol)
        if match_lineages:
            match_lineage_labels(flows, node_slice, memb, tol)
        it += 1
        q_new = multislice_quality(indptr, indices, weights, node_slice, node_mass, g, memb)
        if n_iterations < 0 and q_new <= q + tol * n:
            break
        q = q_new
    return canonical_labels(memb, node_mass)


def canonical_labels(memb, weight):
    """Relabel 0..C-1 by decreasing total ``weight``, ties by first node (int64)."""
    _, first, inv = np.unique(memb, return_index=True, return_inverse=True)
    tot = np.bincount(inv, weight)
    rank = np.lexsort((first, -tot))
    new = np.empty(len(rank), np.int64)
    new[rank] = np.arange(len(rank))
    return new[inv]
