"""numba kernel of the nucleus unwrapping (:func:`multilayer.tracking.nuclei.nucleus_properties`)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def unwrap_nuclei(n, i, j, k, vectors, positions, inv, nuclei, n_nuc):
    """Integer cell image of every atom and the percolation flag of every nucleus.

    ``(i[e], j[e])`` are the bonds inside nuclei (pair ``k[e]`` of the neighbour list, one
    direction or both).  A bond's image is ``rint((vector - (r_j - r_i)) @ inv)``.  The
    breadth-first tree of a nucleus grows from its lowest-index atom (image 0) and an atom
    takes its tree parent's image plus the bond's; a nucleus percolates (wraps around the
    periodic box) when some bond disagrees with the tree images, whichever tree was grown.
    O(atoms + bonds); atoms outside nuclei keep image 0.
    """
    m = len(i)
    bimg = np.empty((m, 3), dtype=np.int64)
    for e in range(m):
        d0 = vectors[k[e], 0] - (positions[j[e], 0] - positions[i[e], 0])
        d1 = vectors[k[e], 1] - (positions[j[e], 1] - positions[i[e], 1])
        d2 = vectors[k[e], 2] - (positions[j[e], 2] - positions[i[e], 2])
        for c in range(3):
            bimg[e, c] = np.int64(np.rint(d0 * inv[0, c] + d1 * inv[1, c] + d2 * inv[2, c]))
    # undirected adjacency: bond e is 2e (i -> j) and 2e + 1 (j -> i, image negated)
    off = np.zeros(n + 1, dtype=np.int64)
    for e in range(m):
        off[i[e] + 1] += 1
        off[j[e] + 1] += 1
    for v in range(n):
        off[v + 1] += off[v]
    fill = off[:-1].copy()
    adj = np.empty(2 * m, dtype=np.int64)
    for e in range(m):
        adj[fill[i[e]]] = 2 * e
        fill[i[e]] += 1
        adj[fill[j[e]]] = 2 * e + 1
        fill[j[e]] += 1
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
            for p in range(off[u], off[u + 1]):
                h = adj[p]
                e = h >> 1
                w = i[e] if h & 1 else j[e]
                if not seen[w]:
                    seen[w] = True
                    sign = -1 if h & 1 else 1
                    for c in range(3):
                        image[w, c] = image[u, c] + sign * bimg[e, c]
                    queue[tail] = w
                    tail += 1
    percolating = np.zeros(n_nuc, dtype=np.bool_)
    for e in range(m):
        for c in range(3):
            if image[j[e], c] - image[i[e], c] != bimg[e, c]:
                percolating[nuclei[i[e]]] = True
                break
    return image, percolating
