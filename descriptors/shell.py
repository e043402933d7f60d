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


@numba.njit(cache=True, parallel=True)
def _kernel(offsets, vectors, rows, m, templates, out):
    """``out[r, c]``: RMS difference of row ``rows[r]``'s sorted, scaled distances among its
    ``m`` nearest neighbours from ``templates[c]`` (each shell sorted once for all)."""
    n_pairs = m * (m - 1) // 2
    for r in numba.prange(len(rows)):
        a = rows[r]
        s = offsets[a]
        if offsets[a + 1] - s < m:
            out[r, :] = np.nan
            continue
        mean = 0.0
        for i in range(m):
            mean += np.sqrt(vectors[s + i, 0] ** 2 + vectors[s + i, 1] ** 2
                            + vectors[s + i, 2] ** 2)
        mean /= m
        d = np.empty(n_pairs)
        k = 0
        for i in range(m):
            for j in range(i + 1, m):
                d[k] = np.sqrt((vectors[s + i, 0] - vectors[s + j, 0]) ** 2
                               + (vectors[s + i, 1] - vectors[s + j, 1]) ** 2
                               + (vectors[s + i, 2] - vectors[s + j, 2]) ** 2) / mean
                k += 1
        d.sort()
        for c in range(templates.shape[0]):
            acc = 0.0
            for k in range(n_pairs):
                acc += (d[k] - templates[c, k]) ** 2
            out[r, c] = np.sqrt(acc / n_pairs)


def shell_distortion(nl, kinds=("fcc", "hcp"), atoms=None) -> np.ndarray:
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

    Returns
    -------
    distortion : ndarray (n_atoms, len(kinds)), float64
        0 for an ideal shell; NaN where an atom has too few neighbours.  Gaussian
        displacements of ``s`` nearest-neighbour distances per coordinate give a median of
        about ``1.3 s`` in fcc and hcp for ``s`` up to 0.05; ideal hcp is 0.048 from fcc.

    Examples
    --------
    >>> from descriptors import make_lattice, neighbor_list
    >>> nl = neighbor_list(make_lattice("fcc", 4), k=14)
    >>> shell_distortion(nl, kinds=("fcc", "hcp")).max(axis=0).round(3)
    array([0.   , 0.048])
    """
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
        templates = np.array([_sorted_distances(ideal_shell(kinds[c])) for c in cols])
        buf = np.empty((len(rows), len(cols)))
        _kernel(offsets, vectors, rows, m, templates, buf)
        out[np.ix_(rows, cols)] = buf
    return out
