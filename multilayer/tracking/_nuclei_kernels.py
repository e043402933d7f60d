"""numba kernels of the nuclei: their clusters (:func:`multilayer.tracking.nuclei.find_nuclei`)
and their unwrapping (:func:`multilayer.tracking.nuclei.nucleus_properties`), both read
straight from the CSR neighbour list (no bond arrays, no sparse matrix)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _find(parent, a):
    while parent[a] != a:                        # path halving
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@numba.njit(cache=True, nogil=True)
def cluster_roots(offsets, indices, mask):
    """Connected clusters of the ``mask`` atoms through the pairs of a CSR neighbour list
    (either direction of a pair joins its atoms, so a k-nearest list works too): each
    masked atom's cluster as its lowest atom index, -1 outside ``mask``.  Union-find with
    the lower root kept, so the labels do not depend on the order of the pairs."""
    n = len(offsets) - 1
    parent = np.arange(n, dtype=np.int64)
    for u in range(n):
        if not mask[u]:
            continue
        for p in range(offsets[u], offsets[u + 1]):
            w = indices[p]
            if not mask[w]:
                continue
            a = _find(parent, u)
            b = _find(parent, w)
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b
    root = np.full(n, -1, dtype=np.int64)
    for u in range(n):
        if mask[u]:
            root[u] = _find(parent, u)
    return root


@numba.njit(cache=True, nogil=True, inline="always")
def _bond_image(vectors, positions, inv, p, a, b, c):
    """Cell image (component c) of pair p, from atom a to atom b = indices[p]."""
    d0 = vectors[p, 0] - (positions[b, 0] - positions[a, 0])
    d1 = vectors[p, 1] - (positions[b, 1] - positions[a, 1])
    d2 = vectors[p, 2] - (positions[b, 2] - positions[a, 2])
    return np.int64(np.rint(d0 * inv[0, c] + d1 * inv[1, c] + d2 * inv[2, c]))


@numba.njit(cache=True, nogil=True)
def _csr_tree_images(offsets, indices, vectors, positions, inv, nuclei):
    n = len(offsets) - 1
    # bonds: the pairs p (in list order) whose two atoms are in the same nucleus; bond p is
    # the half-edges 2p (from its row's atom) and 2p + 1 (from its neighbour), listed per
    # atom in bond order -- the same tree as a bond-list breadth-first search
    deg = np.zeros(n + 1, dtype=np.int64)
    for u in range(n):
        if nuclei[u] < 0:
            continue
        for p in range(offsets[u], offsets[u + 1]):
            w = indices[p]
            if nuclei[w] == nuclei[u]:
                deg[u + 1] += 1
                deg[w + 1] += 1
    for v in range(n):
        deg[v + 1] += deg[v]
    fill = deg[:-1].copy()
    half = np.empty(deg[n], dtype=np.int64)
    other = np.empty(deg[n], dtype=np.int32)     # the atom at the far end
    for u in range(n):
        if nuclei[u] < 0:
            continue
        for p in range(offsets[u], offsets[u + 1]):
            w = indices[p]
            if nuclei[w] == nuclei[u]:
                half[fill[u]] = 2 * p
                other[fill[u]] = w
                fill[u] += 1
                half[fill[w]] = 2 * p + 1
                other[fill[w]] = u
                fill[w] += 1
    image = np.zeros((n, 3), dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    for root in range(n):                        # ascending: a nucleus' first atom is its root
        if nuclei[root] < 0 or seen[root]:
            continue
        seen[root] = True
        queue[0] = root
        head, tail = 0, 1
        while head < tail:
            u = queue[head]
            head += 1
            for q in range(deg[u], deg[u + 1]):
                w = other[q]
                if seen[w]:
                    continue
                seen[w] = True
                h = half[q]
                p = h >> 1
                if h & 1:                        # w is pair p's row atom, u its neighbour
                    for c in range(3):
                        image[w, c] = image[u, c] - _bond_image(vectors, positions, inv, p, w, u, c)
                else:
                    for c in range(3):
                        image[w, c] = image[u, c] + _bond_image(vectors, positions, inv, p, u, w, c)
                queue[tail] = w
                tail += 1
    return image


@numba.njit(cache=True, nogil=True, parallel=True)
def unwrap_csr(offsets, indices, vectors, positions, inv, nuclei, n_nuc):
    """Integer cell image of every atom and the percolation flag of every nucleus, from a
    CSR neighbour list (either direction of a pair is a bond; a k-nearest list works too).

    A bond's image is ``rint((vector - (r_j - r_i)) @ inv)``.  The breadth-first tree of a
    nucleus grows from its lowest-index atom (image 0), each atom's bonds taken in list
    order, and an atom takes its tree parent's image plus the bond's; a nucleus percolates
    (wraps around the periodic box) when some bond disagrees with the tree images, whichever
    tree was grown.  O(atoms + pairs) and no bond arrays (until stop 26 the bonds were
    gathered as three int64 arrays and their images, 0.8 GB at 10^6 atoms)."""
    n = len(offsets) - 1
    image = _csr_tree_images(offsets, indices, vectors, positions, inv, nuclei)
    flag = np.zeros(n, dtype=np.bool_)
    for u in numba.prange(n):
        if nuclei[u] < 0:
            continue
        for p in range(offsets[u], offsets[u + 1]):
            w = indices[p]
            if nuclei[w] != nuclei[u]:
                continue
            for c in range(3):
                if image[w, c] - image[u, c] != _bond_image(vectors, positions, inv, p, u, w, c):
                    flag[u] = True
                    break
            if flag[u]:
                break
    percolating = np.zeros(n_nuc, dtype=np.bool_)
    for u in range(n):
        if flag[u]:
            percolating[nuclei[u]] = True
    return image, percolating
