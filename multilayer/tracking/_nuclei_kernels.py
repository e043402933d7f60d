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
def _both_ways(offsets, indices, nuclei):
    """The pairs inside one nucleus as an adjacency list of both directions: atom u's
    entries ``start[u]:start[u + 1]`` hold the atom at the far end and the half-edge 2p
    (from pair p's row atom) or 2p + 1 (from its neighbour), in pair order."""
    n = len(offsets) - 1
    start = np.zeros(n + 1, dtype=np.int64)
    for u in range(n):
        if nuclei[u] < 0:
            continue
        for p in range(offsets[u], offsets[u + 1]):
            w = indices[p]
            if nuclei[w] == nuclei[u]:
                start[u + 1] += 1
                start[w + 1] += 1
    for v in range(n):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    half = np.empty(start[n], dtype=np.int64)
    other = np.empty(start[n], dtype=indices.dtype)
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
    return start, other, half


@numba.njit(cache=True, nogil=True)
def _grow_trees(start, other, half, rows, vectors, positions, inv, nuclei):
    """Breadth-first trees of the nuclei, each from its lowest atom (image 0), over the
    entries ``start[u]:start[u + 1]`` of each atom u (far atom ``other[q]``; half-edge
    ``2q`` where ``rows``, the list's own rows, else ``half[q]``); an atom takes its tree
    parent's image plus the bond's.  Returns the images and the number of trees."""
    n = len(start) - 1
    image = np.zeros((n, 3), dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    trees = 0
    for root in range(n):
        if nuclei[root] < 0 or seen[root]:
            continue
        trees += 1
        seen[root] = True
        queue[0] = root
        head, tail = 0, 1
        while head < tail:
            u = queue[head]
            head += 1
            for q in range(start[u], start[u + 1]):
                w = other[q]
                if seen[w] or nuclei[w] != nuclei[u]:
                    continue
                seen[w] = True
                h = 2 * q if rows else half[q]
                p = h >> 1
                if h & 1:                        # w is pair p's row atom, u its neighbour
                    for c in range(3):
                        image[w, c] = image[u, c] - _bond_image(vectors, positions, inv, p, w, u, c)
                else:
                    for c in range(3):
                        image[w, c] = image[u, c] + _bond_image(vectors, positions, inv, p, u, w, c)
                queue[tail] = w
                tail += 1
    return image, trees


@numba.njit(cache=True, nogil=True, parallel=True)
def unwrap_csr(offsets, indices, vectors, positions, inv, nuclei, n_nuc):
    """Integer cell image of every atom and the percolation flag of every nucleus, from a
    CSR neighbour list (either direction of a pair is a bond; a k-nearest list works too).

    A bond's image is ``rint((vector - (r_j - r_i)) @ inv)``.  The breadth-first tree of a
    nucleus grows from its lowest-index atom (image 0) along each atom's own row (along
    both directions of every pair where a one-way pair leaves atoms out), and an atom takes
    its tree parent's image plus the bond's.  A nucleus percolates (wraps around the
    periodic box) when some bond disagrees with the tree images, whichever tree was grown;
    the images of a nucleus that does not percolate are the same for every tree (those of
    a percolating one are of one unwrapping, not meaningful).  O(atoms + pairs) and no bond arrays (until stop 26 the bonds were
    gathered as three int64 arrays and their images, 0.8 GB at 10^6 atoms)."""
    n = len(offsets) - 1
    present = np.zeros(n_nuc, dtype=np.bool_)
    for u in range(n):
        if nuclei[u] >= 0:
            present[nuclei[u]] = True
    # along the rows (3x faster).  trees >= connected pieces >= nuclei, so one tree per
    # nucleus means each was reached whole from its first atom; else (one-way pairs left
    # atoms out, or a nucleus in pieces) along both directions of every pair
    image, trees = _grow_trees(offsets, indices, np.empty(0, dtype=np.int64), True,
                               vectors, positions, inv, nuclei)
    if trees != present.sum():
        start, other, half = _both_ways(offsets, indices, nuclei)
        image, trees = _grow_trees(start, other, half, False, vectors, positions, inv, nuclei)
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
