"""fcc or hcp stacking from the common neighbours of each first-shell bond (adaptive CNA).

fcc and hcp both give an atom 12 nearest neighbours; they differ in how the neighbours
bond to each other.  For the bond from an atom to one of its 12 nearest neighbours, the
*common neighbours* are the other members of the 12 that lie within a local cutoff of both,
and the signature (c, b, l) counts them (c), the bonds among them (b) and the longest
chain those bonds form (l).  Every bond of fcc is (4, 2, 1); hcp has six (4, 2, 1) and six
(4, 2, 2) (Honeycutt & Andersen 1987).  The cutoff is adaptive, as in Stukowski's a-CNA
(Modelling Simul. Mater. Sci. Eng. 20, 045021, 2012): ``(1 + sqrt 2) / 2`` times the mean
distance of the 12 nearest neighbours, so it needs no global cutoff and follows density and
temperature.  The counts come from the 12 neighbour vectors of the atom alone.

:func:`stacking` turns the counts into a vote that tolerates thermal noise: where at least 8
of the 12 bonds carry a close-packed signature, fcc when at most one of them is (4, 2, 2) and
hcp when at least three are; undecided otherwise (an atom of neither crystal, or too
distorted to tell).  On the validation suite's LJ runs (``benchmarks/bench_labels.py``) it
decides 97-98 % of the atoms PTM calls fcc or hcp and agrees with PTM on every one of them,
and in thermal fcc and hcp crystals up to T* 0.7 it never votes for the other stacking.

:func:`bcc_counts` does the same for bcc, whose first shell is 14 atoms (8 at d and 6 at
2d/sqrt(3)): each bond of bcc is (6, 6, 6) to the 8 nearest and (4, 4, 4) to the other 6,
with Stukowski's bcc cutoff ``(1 + sqrt 2) / 2 x (2/sqrt 3 x the 8 nearest + the 6 next)
distances / 14``.
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["cna_counts", "bcc_counts", "stacking", "UNDECIDED", "FCC", "HCP", "BCC",
           "BCC_TOLERANCE"]

UNDECIDED, FCC, HCP, BCC = 0, 1, 2, 3
BCC_TOLERANCE = 3    # bonds of the 14 that may lack bcc's signature in a bcc vote
_CUT = (1.0 + np.sqrt(2.0)) / 2.0
_MIN_CLOSE = 8     # close-packed bond signatures an atom needs before it votes
_BCC_SCALE = 2.0 / np.sqrt(3.0)   # the 8 nearest bcc neighbours, scaled to the 6 next


@numba.njit(cache=True, nogil=True)
def _popcount(x):
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _lowest_bit(x):
    """Index of the lowest set bit of x > 0."""
    return _popcount((x & -x) - 1)


@numba.njit(cache=True, nogil=True)
def _adjacency(v, n, rc2):
    """Bit b of ``adj[a]``: neighbours a and b of the first ``n`` vectors ``v`` are closer
    than ``sqrt(rc2)`` to each other."""
    adj = np.zeros(n, dtype=np.int64)
    for a in range(n):
        for b in range(a + 1, n):
            d2 = ((v[a, 0] - v[b, 0]) ** 2 + (v[a, 1] - v[b, 1]) ** 2
                  + (v[a, 2] - v[b, 2]) ** 2)
            if d2 < rc2:
                adj[a] |= 1 << b
                adj[b] |= 1 << a
    return adj


@numba.njit(cache=True, nogil=True)
def _atom_counts(v, out):
    """(n421, n422) of one atom from its 12 nearest neighbour vectors ``v`` (12, 3)."""
    mean = 0.0
    for a in range(12):
        mean += np.sqrt(v[a, 0] ** 2 + v[a, 1] ** 2 + v[a, 2] ** 2)
    adj = _adjacency(v, 12, (_CUT * mean / 12.0) ** 2)
    n421 = 0
    n422 = 0
    for a in range(12):
        common = adj[a]
        n_common = 0
        n_bonds = 0
        degree_max = 0
        rest = common
        while rest:                              # each common neighbour b of a
            b = _lowest_bit(rest)
            rest &= rest - 1
            n_common += 1
            deg = _popcount(common & adj[b])     # its bonds to the other common neighbours
            n_bonds += deg
            degree_max = max(degree_max, deg)
        n_bonds //= 2
        if n_common == 4 and n_bonds == 2:
            # two bonds among four atoms: apart (chain 1) or sharing an atom (chain 2)
            if degree_max == 1:
                n421 += 1
            else:
                n422 += 1
    out[0] = n421
    out[1] = n422




def _rows(nl, atoms) -> np.ndarray:
    if atoms is None:
        return np.arange(nl.n_atoms, dtype=np.int64)
    atoms = np.asarray(atoms, dtype=bool)
    if atoms.shape != (nl.n_atoms,):
        raise ValueError(f"atoms.shape must be ({nl.n_atoms},), got {atoms.shape}")
    return np.flatnonzero(atoms).astype(np.int64)


def cna_counts(nl, atoms=None) -> np.ndarray:
    """Per atom, how many of the bonds to its 12 nearest neighbours are (4, 2, 1) and how
    many (4, 2, 2).

    Parameters
    ----------
    nl : descriptors.NeighborList
        Rows sorted by distance (as :func:`descriptors.neighbor_list` gives them), holding
        at least the 12 nearest neighbours (a k = 12 list, or a first-shell cutoff list).
    atoms : bool array (n_atoms,), optional
        Only these atoms are examined (the others get ``(0, 0)``); default all.

    Returns
    -------
    counts : ndarray (n_atoms, 2), int8
        ``(n421, n422)``; ``(-1, -1)`` for an atom with fewer than 12 neighbours listed.

    Examples
    --------
    >>> from descriptors import make_lattice, neighbor_list
    >>> cna_counts(neighbor_list(make_lattice("fcc", 3), k=12))[0].tolist()
    [12, 0]
    >>> cna_counts(neighbor_list(make_lattice("hcp", (4, 3, 3)), k=12))[0].tolist()
    [6, 6]
    """
    out = np.zeros((nl.n_atoms, 2), dtype=np.int64)
    _counts_kernel(np.asarray(nl.offsets, dtype=np.int64),
                   np.ascontiguousarray(nl.vectors, dtype=np.float64), _rows(nl, atoms), out,
                   False)
    return out.astype(np.int8)


@numba.njit(cache=True, nogil=True)
def _ring(members, adj):
    """Whether the atoms of bitmask ``members`` form one ring: each bonded to exactly two of
    the others, all connected."""
    rest = members
    while rest:
        b = _lowest_bit(rest)
        rest &= rest - 1
        if _popcount(members & adj[b]) != 2:
            return False
    seen = members & -members                    # flood fill from the lowest member
    grow = seen
    while grow:
        nxt = 0
        r = grow
        while r:
            b = _lowest_bit(r)
            r &= r - 1
            nxt |= adj[b] & members
        grow = nxt & ~seen
        seen |= nxt
    return seen == members


@numba.njit(cache=True, nogil=True)
def _atom_bcc_counts(v, out):
    """(n666, n444) of one atom from its 14 nearest neighbour vectors ``v`` (14, 3)."""
    s = 0.0
    for a in range(14):
        r = np.sqrt(v[a, 0] ** 2 + v[a, 1] ** 2 + v[a, 2] ** 2)
        s += r * (_BCC_SCALE if a < 8 else 1.0)
    adj = _adjacency(v, 14, (_CUT * s / 14.0) ** 2)
    n666 = 0
    n444 = 0
    for a in range(14):
        common = adj[a]
        n = _popcount(common)
        if (n == 6 or n == 4) and _ring(common, adj):
            # a ring of n atoms has n bonds and its longest chain is n: (6,6,6) or (4,4,4)
            if n == 6:
                n666 += 1
            else:
                n444 += 1
    out[0] = n666
    out[1] = n444


@numba.njit(cache=True, parallel=True, nogil=True)
def _counts_kernel(offsets, vectors, rows, out, bcc):
    """Counts of the atoms ``rows``: close-packed from 12 neighbours, or ``bcc`` from 14."""
    n = 14 if bcc else 12
    for r in numba.prange(len(rows)):
        i = rows[r]
        if offsets[i + 1] - offsets[i] < n:
            out[i, 0] = -1
            out[i, 1] = -1
        elif bcc:
            _atom_bcc_counts(vectors[offsets[i]:offsets[i] + n], out[i])
        else:
            _atom_counts(vectors[offsets[i]:offsets[i] + n], out[i])


def bcc_counts(nl, atoms=None) -> np.ndarray:
    """Per atom, how many of the bonds to its 14 nearest neighbours are (6, 6, 6) and how
    many (4, 4, 4): ideal bcc has 8 and 6 (Stukowski's adaptive CNA for bcc).

    Parameters
    ----------
    nl : descriptors.NeighborList
        Rows sorted by distance, holding at least the 14 nearest neighbours (a k = 14
        list, or a cutoff list reaching past the second bcc shell, e.g. the first-shell
        list of :class:`multilayer.FeatureSet`).
    atoms : bool array (n_atoms,), optional
        Only these atoms are examined (the others get ``(0, 0)``); default all.

    Returns
    -------
    counts : ndarray (n_atoms, 2), int8
        ``(n666, n444)``; ``(-1, -1)`` for an atom with fewer than 14 neighbours listed.

    Examples
    --------
    >>> from descriptors import make_lattice, neighbor_list
    >>> bcc_counts(neighbor_list(make_lattice("bcc", 4), k=14))[0].tolist()
    [8, 6]
    >>> int(bcc_counts(neighbor_list(make_lattice("fcc", 3), k=14)).sum(axis=1).max())  # of 14
    3
    """
    out = np.zeros((nl.n_atoms, 2), dtype=np.int64)
    _counts_kernel(np.asarray(nl.offsets, dtype=np.int64),
                   np.ascontiguousarray(nl.vectors, dtype=np.float64), _rows(nl, atoms), out,
                   True)
    return out.astype(np.int8)


def stacking(nl, *, bcc: bool = False) -> np.ndarray:
    """fcc / hcp / undecided vote of every atom from :func:`cna_counts`; with ``bcc``, also
    a bcc vote from :func:`bcc_counts` where the close-packed vote abstains.

    Returns
    -------
    vote : ndarray (n_atoms,), int8
        Where ``n421 + n422 >= 8``: ``FCC`` (1) if ``n422 <= 1``, ``HCP`` (2) if
        ``n422 >= 3``; with ``bcc``, an atom left undecided whose ``n666 + n444`` is at
        least ``14 - BCC_TOLERANCE``: ``BCC`` (3) (the tolerance of the nuclei's crystalline
        core); ``UNDECIDED`` (0) otherwise.

    Examples
    --------
    >>> from descriptors import make_lattice, neighbor_list
    >>> [int(stacking(neighbor_list(make_lattice(k, 4), k=14), bcc=True)[0])
    ...  for k in ("fcc", "hcp", "bcc")]
    [1, 2, 3]
    """
    c = cna_counts(nl).astype(np.int64)
    close = c[:, 0] + c[:, 1] >= _MIN_CLOSE
    vote = np.full(len(c), UNDECIDED, dtype=np.int8)
    vote[close & (c[:, 1] <= 1)] = FCC
    vote[close & (c[:, 1] >= 3)] = HCP
    if bcc:
        rest = vote == UNDECIDED
        b = bcc_counts(nl, rest).astype(np.int64).sum(axis=1)
        vote[rest & (b >= 14 - BCC_TOLERANCE)] = BCC
    return vote
