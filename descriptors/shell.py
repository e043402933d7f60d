"""How far an atom's first shell is from an ideal crystal shell, as a shape: no rotation fit.

An ideal fcc shell is 12 neighbours at one distance whose 66 inter-neighbour distances take
four values (24 at d, 12 at sqrt(2) d, 24 at sqrt(3) d, 6 at 2 d); hcp, bcc (8 + 6 neighbours)
and the icosahedron have their own sorted lists.  :func:`shell_distortion` compares, for each
atom, the sorted distances among its ``m`` nearest neighbours (``m`` = 12, or 14 for bcc),
divided by the mean distance from the atom to those ``m``, with the same list of the ideal
shell: the root-mean-square difference.  It is 0 for an ideal shell at any scale, orientation
or order of the neighbours, and grows with thermal displacement: in the spirit of the RMSD
that Polyhedral Template Matching (Larsen, Schmidt & Schiotz, Modelling Simul. Mater. Sci.
Eng. 24, 055007, 2016) thresholds, but from the sorted distances alone (the first row of the
atom's Neighbors Map, before its image is drawn), so it needs no rotation fit and no
neighbour correspondence.  It is the shell's *geometry*, where the common-neighbour
signatures of :mod:`descriptors.cna` are its *topology*: an atom whose bonds all carry fcc's
signature can still sit in a shell too distorted for any template.

Two ways of comparing (``method``):

* ``"rows"`` (default): neighbour by neighbour.  Each of the ``m`` neighbours has its own
  sorted distances to the other ``m - 1``: one row of the shell's Neighbors Map.  The ideal
  shell's rows are of one kind (fcc, icosahedron: every vertex alike) or two (hcp: the six
  of the central plane and the six above and below; bcc: the 8 nearest and the 6 next), so
  the atom's rows are matched to the template's by an exact balanced assignment (sort the
  rows by how much nearer they are to the first kind).  A liquid shell can have fcc's
  *histogram* of distances without any one neighbour seeing fcc's surroundings; this sees
  it.  On noisy ideal fcc and hcp it is 0.84 times the RMSD that PTM fits, and PTM's
  standard cutoff (RMSD 0.1) falls at 0.084 (half the atoms at that distortion pass it).
* ``"pooled"``: the ``m (m - 1) / 2`` distances sorted together (one histogram per shell),
  the measure of stop 35; rotation- and permutation-free too, but blind to which
  neighbour has which distances.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["SHELL_KINDS", "shell_distortion", "ideal_shell"]

SHELL_KINDS = ("fcc", "hcp", "bcc", "ico")
_SIZE = {"fcc": 12, "hcp": 12, "bcc": 14, "ico": 12}


def ideal_shell(kind: str) -> np.ndarray:
    """Neighbour vectors of an ideal first shell, nearest-neighbour distance 1.

    ``fcc``, ``hcp`` (ideal c/a), ``ico``: 12 vectors; ``bcc``: 14, the 8 nearest first.

    Examples
    --------
    >>> v = ideal_shell("bcc")
    >>> v.shape, round(float(np.linalg.norm(v[8])), 4)      # second shell at 2/sqrt(3)
    ((14, 3), 1.1547)
    """
    if kind == "fcc":
        v = [(a, b, 0) for a in (1, -1) for b in (1, -1)]
        v = np.array(v + [(a, 0, b) for a, b, _ in v] + [(0, a, b) for a, b, _ in v], float)
        v /= np.sqrt(2.0)
    elif kind == "hcp":
        s3, c = np.sqrt(3.0), np.sqrt(2.0 / 3.0)
        ring = [(np.cos(k * np.pi / 3), np.sin(k * np.pi / 3), 0.0) for k in range(6)]
        tri = [(0.0, 1 / s3), (0.5, -0.5 / s3), (-0.5, -0.5 / s3)]
        v = np.array(ring + [(x, y, c) for x, y in tri] + [(x, y, -c) for x, y in tri])
    elif kind == "bcc":
        near = [(a, b, c) for a in (1, -1) for b in (1, -1) for c in (1, -1)]
        far = [tuple(2 * s * (i == j) for j in range(3)) for i in range(3) for s in (1, -1)]
        v = np.array(near + far, float) / np.sqrt(3.0)
    elif kind == "ico":
        p = (1.0 + np.sqrt(5.0)) / 2.0
        v = np.array([x for s in (1, -1) for t in (1, -1)
                      for x in ((0, s, t * p), (s, t * p, 0), (t * p, 0, s))], float)
        v /= np.linalg.norm(v[0])
    else:
        raise ValueError(f"kind must be one of {SHELL_KINDS}, got kind={kind!r}")
    return v


def _sorted_distances(v: np.ndarray) -> np.ndarray:
    """Sorted inter-neighbour distances of one shell over its mean radial distance."""
    m = len(v)
    d = np.linalg.norm(v[:, None] - v[None], axis=-1)[np.triu_indices(m, 1)]
    return np.sort(d / np.linalg.norm(v, axis=1).mean())


@numba.njit(cache=True)
def _scaled_distances(offsets, vectors, a, m):
    """(m, m) distances among atom ``a``'s ``m`` nearest neighbours, over their mean distance
    to the atom; (0, 0) when it has fewer than ``m``."""
    s = offsets[a]
    if offsets[a + 1] - s < m:
        return np.zeros((0, 0))
    mean = 0.0
    for i in range(m):
        mean += np.sqrt(vectors[s + i, 0] ** 2 + vectors[s + i, 1] ** 2 + vectors[s + i, 2] ** 2)
    mean /= m
    d = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            d[i, j] = d[j, i] = np.sqrt((vectors[s + i, 0] - vectors[s + j, 0]) ** 2
                                        + (vectors[s + i, 1] - vectors[s + j, 1]) ** 2
                                        + (vectors[s + i, 2] - vectors[s + j, 2]) ** 2) / mean
    return d


@numba.njit(cache=True, parallel=True)
def _kernel(offsets, vectors, rows, m, templates, out):
    """``out[r, c]``: RMS difference of row ``rows[r]``'s sorted, scaled distances among its
    ``m`` nearest neighbours from ``templates[c]`` (each shell sorted once for all)."""
    n_pairs = m * (m - 1) // 2
    for r in numba.prange(len(rows)):
        full = _scaled_distances(offsets, vectors, rows[r], m)
        if full.shape[0] == 0:
            out[r, :] = np.nan
            continue
        d = np.empty(n_pairs)
        k = 0
        for i in range(m):
            for j in range(i + 1, m):
                d[k] = full[i, j]
                k += 1
        d.sort()
        for c in range(templates.shape[0]):
            acc = 0.0
            for k in range(n_pairs):
                acc += (d[k] - templates[c, k]) ** 2
            out[r, c] = np.sqrt(acc / n_pairs)


def _template_rows(kind: str):
    """The ideal shell's rows (each neighbour's sorted, scaled distances to the others): the
    distinct rows (1 or 2) and how many neighbours have each."""
    v = ideal_shell(kind)
    d = np.linalg.norm(v[:, None] - v[None], axis=-1) / np.linalg.norm(v, axis=1).mean()
    rows = np.array([np.sort(np.delete(d[i], i)) for i in range(len(v))])
    kinds, which = np.unique(rows.round(9), axis=0, return_inverse=True)
    counts = np.bincount(np.ravel(which))
    if len(kinds) > 2:                       # no template here has more; the kernel needs <= 2
        raise AssertionError(f"{kind}: {len(kinds)} kinds of neighbour")
    return np.array([rows[np.ravel(which) == k][0] for k in range(len(kinds))]), counts


@numba.njit(cache=True, parallel=True)
def _rows_kernel(offsets, vectors, rows, m, templates, counts, n_kinds, out):
    """``out[r, c]``: RMS difference of row ``rows[r]``'s neighbour-by-neighbour sorted,
    scaled distances from template ``c`` (``n_kinds[c]`` kinds of neighbour, the first
    ``counts[c, 0]`` of them of kind 0), neighbours assigned to kinds optimally."""
    for r in numba.prange(len(rows)):
        full = _scaled_distances(offsets, vectors, rows[r], m)
        if full.shape[0] == 0:
            out[r, :] = np.nan
            continue
        d = np.empty((m, m - 1))
        for i in range(m):
            k = 0
            for j in range(m):
                if j != i:
                    d[i, k] = full[i, j]
                    k += 1
            d[i].sort()
        cost = np.empty((m, 2))
        for c in range(templates.shape[0]):
            for i in range(m):
                for t in range(n_kinds[c]):
                    acc = 0.0
                    for k in range(m - 1):
                        acc += (d[i, k] - templates[c, t, k]) ** 2
                    cost[i, t] = acc
            total = 0.0
            if n_kinds[c] == 1:
                for i in range(m):
                    total += cost[i, 0]
            else:     # two kinds, counts[c, 0] of kind 0: the rows most in favour of kind 0
                order = np.argsort(cost[:, 0] - cost[:, 1])
                for q in range(m):
                    total += cost[order[q], 0 if q < counts[c, 0] else 1]
            out[r, c] = np.sqrt(total / (m * (m - 1)))


def shell_distortion(nl, kinds=("fcc", "hcp"), atoms=None,
                     method: str = "rows") -> np.ndarray:
    """RMS difference of each atom's sorted, scaled inter-neighbour distances from ideal shells.

    Parameters
    ----------
    nl : NeighborList
        Neighbours sorted by distance (any list of :func:`descriptors.neighbor_list`), with
        at least 12 per atom (14 for ``"bcc"``): a ``k=14`` list serves every kind.
    kinds : sequence of {"fcc", "hcp", "bcc", "ico"}
        One column per kind.
    atoms : array of bool (n_atoms,), optional
        Only these atoms (the others get NaN).
    method : {"rows", "pooled"}
        Neighbour by neighbour (default) or all distances sorted together (module
        docstring).

    Returns
    -------
    distortion : ndarray (n_atoms, len(kinds)), float64
        0 for an ideal shell; NaN where an atom has too few neighbours.  Gaussian
        displacements of ``s`` nearest-neighbour distances per coordinate give a median of
        about ``1.3 s`` in fcc and hcp for ``s`` up to 0.05, by either method; ideal hcp is
        0.048 from fcc.

    Examples
    --------
    >>> from descriptors import make_lattice, neighbor_list
    >>> nl = neighbor_list(make_lattice("fcc", 4), k=14)
    >>> shell_distortion(nl, kinds=("fcc", "hcp")).max(axis=0).round(3)
    array([0.   , 0.048])
    """
    if method not in ("rows", "pooled"):
        raise ValueError(f"method must be 'rows' or 'pooled', got method={method!r}")
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in SHELL_KINDS]
    if bad or not kinds:
        raise ValueError(f"kinds must be drawn from {SHELL_KINDS}, got kinds={list(kinds)}")
    n = nl.n_atoms
    if atoms is None:
        rows = np.arange(n, dtype=np.int64)
    else:
        atoms = np.asarray(atoms, dtype=bool)
        if atoms.shape != (n,):
            raise ValueError(f"atoms.shape must be ({n},), got {atoms.shape}")
        rows = np.flatnonzero(atoms).astype(np.int64)
    offsets = np.ascontiguousarray(nl.offsets, dtype=np.int64)
    vectors = np.ascontiguousarray(nl.vectors, dtype=np.float64)
    out = np.full((n, len(kinds)), np.nan)
    for m in sorted({_SIZE[k] for k in kinds}):          # 12-neighbour shells, then bcc's 14
        cols = [c for c, k in enumerate(kinds) if _SIZE[k] == m]
        buf = np.empty((len(rows), len(cols)))
        if method == "pooled":
            templates = np.array([_sorted_distances(ideal_shell(kinds[c])) for c in cols])
            _kernel(offsets, vectors, rows, m, templates, buf)
        else:
            templates = np.zeros((len(cols), 2, m - 1))
            counts = np.zeros((len(cols), 2), dtype=np.int64)
            n_kinds = np.zeros(len(cols), dtype=np.int64)
            for q, c in enumerate(cols):
                rows_c, counts_c = _template_rows(kinds[c])
                n_kinds[q] = len(rows_c)
                templates[q, :len(rows_c)], counts[q, :len(rows_c)] = rows_c, counts_c
            _rows_kernel(offsets, vectors, rows, m, templates, counts, n_kinds, buf)
        out[np.ix_(rows, cols)] = buf
    return out
