"""Community life cycles and atom histories from labels that are consistent through time.

Labels come per frame: an int array over that frame's atoms, matched across frames
by atom id (atoms may appear and disappear).  Negative labels mean "unassigned"
and are ignored by the event and transition statistics.

* :func:`community_events` -- birth, death, growth, contraction, merge, split and
  continuation between consecutive frames, matched by Jaccard overlap of atom-id
  sets (Greene, Doyle, Cunningham, ASONAM 2010).
* what each atom went through (:func:`atom_histories`, :func:`transition_matrix`,
  :func:`lifetimes`, :func:`precursors`) is in :mod:`multilayer.tracking.histories`.
* :func:`crystal_communities` -- which communities are crystal-like (common at the end
  of a crystallizing run, rare at its start).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_scalar

from descriptors.arrays import unique_sorted

__all__ = ["community_events", "community_sizes", "check_labels", "CrystalCriterion",
           "crystal_communities", "CommunityTracker", "EVENT_TYPES"]

logger = logging.getLogger(__name__)

EVENT_TYPES = ("birth", "death", "growth", "contraction", "continuation", "merge", "split")
_EVENT_COLUMNS = ["frame", "event", "from_communities", "to_communities", "from_sizes",
                  "to_sizes", "overlap"]


def _frame_inputs(labels, ids):
    """``(labels, ids)`` as two equally long lists, one entry per frame (``None`` id = row index).

    Nothing is copied yet: frames are checked one at a time by :func:`_check_frame`.
    """
    labels = list(labels)  # the rows of a (n_frames, n_atoms) array are views
    if not labels:
        raise ValueError("labels is empty; pass one int array per frame")
    if ids is None:
        ids = [None] * len(labels)
    elif isinstance(ids, np.ndarray) and ids.ndim == 1:
        ids = [ids] * len(labels)
    else:
        ids = [np.asarray(getattr(x, "ids", x)) for x in ids]
    if len(ids) != len(labels):
        raise ValueError(f"ids has {len(ids)} frames but labels has {len(labels)}")
    return labels, ids


def _check_frame(t, i, lab, copy=True):
    """``(ids int64 or None, labels int64)`` of frame ``t``, atoms in the given order."""
    lab = np.asarray(lab)
    i = None if i is None else np.asarray(i)
    if lab.ndim != 1 or (i is not None and i.shape != lab.shape):
        raise ValueError(f"frame {t}: labels.shape {lab.shape} and ids.shape "
                         f"{lab.shape if i is None else i.shape} must be "
                         "equal and 1-D (one label per atom of the frame)")
    if lab.dtype.kind not in "iub" and lab.size and not np.all(lab == np.round(lab)):
        raise ValueError(f"frame {t}: labels must be integers, got dtype {lab.dtype}")
    lab = lab.astype(np.int64, copy=copy)
    i = None if i is None else i.astype(np.int64, copy=copy)
    return i, lab


def _sort_ids(t, i):
    """``(sorted ids, order)`` of frame ``t``'s ids (``order`` None when already sorted)."""
    if i.size > 1 and not np.all(i[1:] > i[:-1]):
        order = np.argsort(i)  # unique ids (else an error): no need for a stable sort
        i = i[order]
        if np.any(i[1:] == i[:-1]):
            raise ValueError(f"frame {t}: duplicate atom ids")
        return i, order
    return i, None


def check_labels(labels, ids=None):
    """Return a list of ``(ids int64 sorted unique, labels int64)``, one pair per frame."""
    labels, ids = _frame_inputs(labels, ids)
    out = []
    for t, (i, lab) in enumerate(zip(ids, labels)):
        i, lab = _check_frame(t, i, lab)
        if i is None:
            i = np.arange(len(lab), dtype=np.int64)
        i, order = _sort_ids(t, i)
        out.append((i, lab if order is None else lab[order]))
    return out


# Largest dense contingency table (cells) counted with np.bincount: _DENSE_TABLE_LIMIT, or
# _DENSE_TABLE_PER_ATOM cells per atom; past it the labels are first recoded to the kept
# communities, and if that is not enough the label pairs are counted by sorting their keys.
_DENSE_TABLE_LIMIT = 1 << 22
_DENSE_TABLE_PER_ATOM = 1


class _Frame:
    """One frame reduced to what the matching needs.

    ``x[k]`` is the code of atom k's label; ``names[code]`` is the label (-1 for the
    unassigned, i.e. every negative label) and ``counts[code]`` its number of atoms in
    the frame (counted on demand, or summed from the contingency table when every atom
    of the frame was matched).  ``kept`` are the codes of the communities followed
    (label >= 0, at least ``min_size`` atoms).  ``ids`` is None for "row index".
    """

    __slots__ = ("_sorted", "compact", "counts", "hi", "ids", "kept", "lo", "lookup", "names",
                 "same_as_prev", "t", "x")

    def __init__(self, t, ids, lab):
        self.t, self.ids = t, ids
        self.counts = self.kept = self.lookup = self._sorted = None
        self.compact = self.same_as_prev = False
        if lab.size and lab.min() < 0:
            x = np.maximum(lab, np.int64(-1))
            x += 1                               # 0 = unassigned, label + 1 otherwise
            shift = 1
        else:
            x, shift = lab, 0                    # the caller's array, only ever read
        top = int(x.max()) if x.size else 0
        if top <= 2 * x.size + 65536:            # small labels are their own codes
            self.names = np.arange(-shift, top + 1 - shift, dtype=np.int64)
        else:                                    # large or sparse label values
            names, x = np.unique(x, return_inverse=True)
            self.names, x = names - shift, x.reshape(-1)
        self.x = x

    def set_counts(self, counts, min_size):
        self.counts = counts
        self.kept = np.flatnonzero((self.names >= 0) & (counts >= min_size))

    def count(self, min_size):
        if self.counts is None:
            self.set_counts(np.bincount(self.x, minlength=len(self.names)), min_size)

    def recode(self, min_size):
        """Codes 1..k for the kept communities and 0 for all other atoms."""
        self.count(min_size)
        if self.compact:
            return
        k = len(self.kept)
        lut = np.zeros(len(self.names), dtype=np.int64)
        lut[self.kept] = np.arange(1, k + 1)
        self.x = lut[self.x]
        counts = np.concatenate([[0], self.counts[self.kept]])
        counts[0] = self.x.size - counts.sum()
        self.names = np.concatenate([[-1], self.names[self.kept]])
        self.counts, self.kept, self.compact = counts, np.arange(1, k + 1), True

    def index_ids(self, prev):
        """Check the ids for duplicates, and index them for :func:`_matched_codes`.

        The same ids as ``prev`` (in the same order) are taken over from it; small
        non-negative ids get a lookup table id -> row (-1 where absent); others are sorted.
        """
        i = self.ids
        if i is None:
            return
        if prev is not None and (i is prev.ids or (i.shape == prev.ids.shape
                                                    and np.array_equal(i, prev.ids))):
            self.same_as_prev = True
            self.lo, self.hi = prev.lo, prev.hi
            self.lookup, self._sorted = prev.lookup, prev._sorted
            return
        self.lo, self.hi = (int(i.min()), int(i.max())) if i.size else (0, -1)
        if self.lo >= 0 and self.hi < 8 * i.size + 65536:
            pos = np.full(self.hi + 1, -1, dtype=np.int32 if i.size < 2**31 else np.int64)
            pos[i] = np.arange(i.size, dtype=pos.dtype)
            if np.count_nonzero(pos >= 0) != i.size:
                raise ValueError(f"frame {self.t}: duplicate atom ids")
            self.lookup = pos
        else:
            self.sorted_ids()

    def sorted_ids(self):
        if self._sorted is None:
            self._sorted = _sort_ids(self.t, self.ids)
        return self._sorted


def _matched_codes(a, b):
    """Label codes at ``a`` and at ``b`` of the atoms present in both frames."""
    if b.ids is None:                        # row index ids: the common prefix
        n = min(len(a.x), len(b.x))
        return a.x[:n], b.x[:n]
    if b.same_as_prev:
        return a.x, b.x
    if b.lookup is not None:                 # rows of b by id lookup
        if a.lo >= 0 and a.hi <= b.hi:
            rows = b.lookup[a.ids]
        else:
            ok = (a.ids >= 0) & (a.ids <= b.hi)
            rows = np.full(len(a.ids), -1, dtype=b.lookup.dtype)
            rows[ok] = b.lookup[a.ids[ok]]
        hit = rows >= 0
        if hit.all():
            return a.x, b.x[rows]
        return a.x[hit], b.x[rows[hit]]
    ia, oa = a.sorted_ids()                  # else by sorted ids
    ib, ob = b.sorted_ids()
    pos = np.searchsorted(ib, ia)
    hit = pos < len(ib)
    hit[hit] = ib[pos[hit]] == ia[hit]
    rows_a, rows_b = np.flatnonzero(hit), pos[hit]
    if oa is not None:
        rows_a = oa[rows_a]
    if ob is not None:
        rows_b = ob[rows_b]
    return a.x[rows_a], b.x[rows_b]


def _overlap_pairs(a, b, min_size):
    """Shared atoms of every (kept community of a, kept community of b) pair with some.

    Returns ``(i, j, n)``: indices into ``a.kept`` and ``b.kept`` and counts > 0, from
    one contingency table of the label codes of the atoms present in both frames
    (a dense count of the keys ``code_a * n_codes_b + code_b`` when it is small, else
    a sort of the keys).  Counts ``b``'s communities on the way.
    """
    limit = max(_DENSE_TABLE_LIMIT, _DENSE_TABLE_PER_ATOM * len(b.x))
    if len(a.names) * len(b.names) > limit:
        a.recode(min_size)
        b.recode(min_size)
    ca, cb = _matched_codes(a, b)
    na, nb = len(a.names), len(b.names)
    key = ca * nb
    key += cb
    if na * nb <= limit:
        table = np.bincount(key, minlength=na * nb).reshape(na, nb)
        if b.counts is None:                 # every atom of b also in a: counts for free
            b.set_counts(table.sum(axis=0) if len(cb) == len(b.x) else
                         np.bincount(b.x, minlength=nb), min_size)
        table = table[np.ix_(a.kept, b.kept)]
        i, j = np.nonzero(table)
        return i, j, table[i, j]
    key, n = np.unique(key, return_counts=True)  # a and b were recoded, hence counted
    i, j = np.divmod(key, nb)
    pos_a = np.full(na, -1)
    pos_a[a.kept] = np.arange(len(a.kept))
    pos_b = np.full(nb, -1)
    pos_b[b.kept] = np.arange(len(b.kept))
    i, j = pos_a[i], pos_b[j]
    ok = (i >= 0) & (j >= 0)
    return i[ok], j[ok], n[ok]


def _step_events(t, a, b, pairs, ref_a, threshold, size_tol):
    """Events seen at frame ``t`` (frame ``a`` = t-1, ``b`` = t) and the reference sizes at t.

    ``pairs`` = ``(i, j, n)`` from :func:`_overlap_pairs`; ``ref_a[i]`` is the size of
    kept community i of ``a`` at its last reported event (births, merges, splits, growths
    and contractions reset it, continuations carry it over).
    """
    i, j, n = pairs
    ka, kb = len(a.kept), len(b.kept)
    sa, sb = a.counts[a.kept], b.counts[b.kept]
    jac = n / (sa[i] + sb[j] - n)
    best_a, best_b = np.zeros(ka), np.zeros(kb)
    np.maximum.at(best_a, i, jac)
    np.maximum.at(best_b, j, jac)
    m = jac >= threshold
    mi, mj, mn, mjac = i[m], j[m], n[m], jac[m]
    n_children = np.bincount(mi, minlength=ka)
    n_parents = np.bincount(mj, minlength=kb)
    shared_a = np.bincount(mi, weights=mn, minlength=ka)  # atoms shared with all matches
    shared_b = np.bincount(mj, weights=mn, minlength=kb)
    by_a = np.lexsort((mj, mi))                           # matches grouped by a, then b
    by_b = np.lexsort((mi, mj))
    start_a = np.searchsorted(mi[by_a], np.arange(ka + 1))
    start_b = np.searchsorted(mj[by_b], np.arange(kb + 1))
    name_a, name_b = a.names[a.kept].tolist(), b.names[b.kept].tolist()
    size_a, size_b = sa.tolist(), sb.tolist()
    ref_b = sb.copy()
    rows = []

    def row(event, src, dst, overlap):
        rows.append((t, event, [name_a[p] for p in src], [name_b[q] for q in dst],
                     [size_a[p] for p in src], [size_b[q] for q in dst], float(overlap)))

    def union_jaccard(src, dst, shared):
        total = sum(size_a[p] for p in src) + sum(size_b[q] for q in dst)
        return shared / (total - shared)

    for p in np.flatnonzero(n_children != 1).tolist():
        if n_children[p] == 0:
            row("death", [p], [], best_a[p])
        else:
            dst = mj[by_a[start_a[p]:start_a[p + 1]]].tolist()
            row("split", [p], dst, union_jaccard([p], dst, int(shared_a[p])))
    one_to_one = np.zeros(kb, dtype=bool)
    sel = n_parents[mj] == 1
    one_to_one[mj[sel][n_children[mi[sel]] == 1]] = True
    parent = np.zeros(kb, dtype=np.int64)
    parent[mj] = mi                                  # the parent, where there is one
    overlap = np.zeros(kb)
    overlap[mj] = mjac
    for q in np.flatnonzero((n_parents != 1) | one_to_one).tolist():
        if n_parents[q] == 0:
            row("birth", [], [q], best_b[q])
        elif n_parents[q] >= 2:
            src = mi[by_b[start_b[q]:start_b[q + 1]]].tolist()
            row("merge", src, [q], union_jaccard(src, [q], int(shared_b[q])))
        else:
            p = int(parent[q])
            ratio = size_b[q] / int(ref_a[p])
            event = ("growth" if ratio > 1 + size_tol else
                     "contraction" if ratio < 1 - size_tol else "continuation")
            if event == "continuation":
                ref_b[q] = ref_a[p]
            row(event, [p], [q], overlap[q])
    return rows, ref_b


def community_events(labels, ids=None, *, threshold=0.3, size_tol=0.05, min_size=1):
    """Life cycle of communities between consecutive frames (Greene et al. 2010).

    Communities of frames t-1 and t are matched when the Jaccard overlap of their
    atom-id sets is at least ``threshold``.  At frame t a community with no match
    in t-1 is born; one of t-1 with no match in t dies; several matches make a
    merge (many to one) or a split (one to many, both recorded when they mix); a
    one-to-one match is a growth, a contraction or a continuation depending on the
    size ratio.  Every community of frame 0 is a birth.  A small community that is
    absorbed by a much larger one overlaps it by less than ``threshold``: it dies.

    Growth and contraction are measured against the community's *reference size*:
    its size at its last reported event (birth, merge, split, growth or contraction;
    a continuation carries the reference over, along one-to-one matches even when the
    label changes).  A one-to-one match whose size at t exceeds ``(1 + size_tol)``
    times the reference is a growth, one below ``(1 - size_tol)`` times it a
    contraction, and both reset the reference to the new size.  A community that
    grows slowly and steadily (say 1 % per frame with ``size_tol = 0.05``) is thus
    reported as growing every few frames, once its accumulated growth passes the
    tolerance, instead of never; a jump larger than the tolerance is reported at
    the frame where it happens, as before.  ``from_sizes`` stays the size at t-1.

    The overlaps of consecutive frames are one contingency table of the label pairs
    of the atoms present in both (matched by id): linear in the number of atoms,
    two frames in memory at a time.

    Parameters
    ----------
    labels : sequence of int arrays of shape (n_atoms_t,), or array (n_frames, n_atoms)
        Community of each atom, consistent through time; negative = unassigned.
    ids : sequence of int arrays (n_atoms_t,), or of Frames, or one array, optional
        Atom ids matching ``labels``; default: row index (the same atoms in every frame).
    threshold : float in (0, 1]
        Minimum Jaccard overlap for two communities to be matched.
    size_tol : float >= 0
        One-to-one matches whose size stays within ``1 +- size_tol`` times the
        reference size (see above) are continuations.
    min_size : int >= 1
        Communities with fewer atoms are ignored in that frame.

    Returns
    -------
    events : DataFrame
        One row per event, sorted by frame: ``frame`` (int, where the event is seen),
        ``event`` (one of :data:`EVENT_TYPES`), ``from_communities`` / ``to_communities``
        (lists of labels at t-1 / t), ``from_sizes`` / ``to_sizes`` (lists of atom counts),
        ``overlap`` (Jaccard of the union of the from- and to-sets; for births and deaths
        the best overlap found, which is below ``threshold``).

    Examples
    --------
    >>> lab = [np.array([0, 0, 0, 0, 1, 1]), np.array([0, 0, 2, 2, 1, 1])]
    >>> ev = community_events(lab)
    >>> [(r.frame, r.event, r.from_communities, r.to_communities)
    ...  for r in ev.itertuples()]  # doctest: +NORMALIZE_WHITESPACE
    [(0, 'birth', [], [0]), (0, 'birth', [], [1]),
     (1, 'continuation', [1], [1]), (1, 'split', [0], [0, 2])]

    Slow growth (3 % a frame) is reported once it has accumulated past 5 %:

    >>> lab = [np.r_[np.zeros(n, int), np.ones(200 - n, int)] for n in (100, 103, 106, 109)]
    >>> ev = community_events(lab)
    >>> ev[ev.event == "growth"][["frame", "from_sizes", "to_sizes"]].values.tolist()
    [[2, [103], [106]]]
    """
    check_scalar(threshold, "threshold", Real, min_val=0, max_val=1, include_boundaries="right")
    check_scalar(size_tol, "size_tol", Real, min_val=0)
    check_scalar(min_size, "min_size", Integral, min_val=1)
    labels, ids = _frame_inputs(labels, ids)
    prev = None
    rows = []
    for t, (i, lab) in enumerate(zip(ids, labels)):
        i, lab = _check_frame(t, i, lab, copy=False)
        cur = _Frame(t, i, lab)
        cur.index_ids(prev)
        if prev is None:
            cur.count(min_size)
            ref = cur.counts[cur.kept]
            rows.extend((0, "birth", [], [c], [], [s], 0.0)
                        for c, s in zip(cur.names[cur.kept].tolist(), ref.tolist()))
        else:
            pairs = _overlap_pairs(prev, cur, min_size)
            new_rows, ref = _step_events(t, prev, cur, pairs, ref, threshold, size_tol)
            rows.extend(new_rows)
        prev = cur
    order = {e: k for k, e in enumerate(EVENT_TYPES)}
    rows.sort(key=lambda r: (r[0], order[r[1]], r[2] or r[3]))
    df = pd.DataFrame(rows, columns=_EVENT_COLUMNS)
    df["frame"] = df["frame"].astype(np.int64)
    df["overlap"] = df["overlap"].astype(np.float64)
    logger.debug("%d events over %d frames", len(df), len(labels))
    return df


def community_sizes(labels, ids=None):
    """Number of atoms in each community per frame.

    Returns
    -------
    sizes : DataFrame of shape (n_frames, n_communities), int64
        Index ``frame``; one column per community label (negative labels left out).

    Examples
    --------
    >>> community_sizes([np.array([0, 0, 1]), np.array([1, 1, 1])]).to_numpy().tolist()
    [[2, 1], [0, 3]]
    """
    frames = check_labels(labels, ids)
    comm = unique_sorted(np.concatenate([lab[lab >= 0] for _, lab in frames]))
    out = np.zeros((len(frames), len(comm)), dtype=np.int64)
    for t, (_, lab) in enumerate(frames):
        lab = lab[lab >= 0]
        out[t] = np.bincount(np.searchsorted(comm, lab), minlength=len(comm))
    return pd.DataFrame(out, index=pd.RangeIndex(len(frames), name="frame"), columns=comm.tolist())


@dataclass(frozen=True)
class CrystalCriterion:
    """How atoms were declared crystal-like.

    Attributes
    ----------
    method : {"auto", "communities", "mask"}
    communities : ndarray of int64 or None
        Crystal-like communities (``None`` for a per-atom mask).
    table : DataFrame or None
        For ``"auto"``: per community, ``start_fraction``, ``end_fraction``, ``crystal``.
    description : str
        The rule in words, with its parameters.
    """

    method: str
    communities: np.ndarray | None
    table: pd.DataFrame | None
    description: str


def crystal_communities(labels, ids=None, *, window=None, min_final=0.05, min_enrichment=3.0):
    """Crystal-like communities of a crystallizing run: common at the end, rare at the start.

    A community is crystal-like when it holds at least ``min_final`` of the labelled
    atoms over the last ``window`` frames and at least ``min_enrichment`` times its
    share over the first ``window`` frames.  The liquid (shrinking) and the noise
    that stays constant are left out.  A run that does not crystallize gives none.

    Parameters
    ----------
    labels, ids : as in :func:`community_events`
    window : int, optional
        Frames averaged at each end; default ``max(1, n_frames // 10)``.
    min_final : float in [0, 1]
    min_enrichment : float >= 1

    Returns
    -------
    criterion : CrystalCriterion (``method="auto"``)

    Examples
    --------
    >>> lab = np.array([[0, 0, 0, 0, 1], [0, 0, 2, 2, 1], [2, 2, 2, 2, 1]])
    >>> crystal_communities(lab, window=1).communities.tolist()
    [2]
    """
    check_scalar(min_final, "min_final", Real, min_val=0, max_val=1)
    check_scalar(min_enrichment, "min_enrichment", Real, min_val=1)
    frames = check_labels(labels, ids)
    n = len(frames)
    window = max(1, n // 10) if window is None else window
    check_scalar(window, "window", Integral, min_val=1, max_val=n)
    comm = unique_sorted(np.concatenate([lab[lab >= 0] for _, lab in frames]))

    def share(sel):
        lab = np.concatenate([frames[t][1] for t in sel])
        lab = lab[lab >= 0]
        return np.bincount(np.searchsorted(comm, lab), minlength=len(comm)) / max(lab.size, 1)

    start, end = share(range(window)), share(range(n - window, n))
    crystal = (end >= min_final) & (end >= min_enrichment * start) & (end > start)
    table = pd.DataFrame({"community": comm, "start_fraction": start, "end_fraction": end,
                          "crystal": crystal})
    chosen = comm[crystal]
    desc = (f"auto: communities holding >= {min_final:g} of the atoms over the last {window} "
            f"frame(s) and >= {min_enrichment:g} x their share over the first {window}: "
            f"{chosen.tolist()}")
    logger.info("crystal-like %s", desc)
    return CrystalCriterion("auto", chosen, table, desc)


def resolve_criterion(labels, communities="auto", mask=None):
    """The :class:`CrystalCriterion` of a mask, a list of community ids or "auto"."""
    if mask is not None:
        return CrystalCriterion("mask", None, None, "mask: per-atom booleans given by the "
                                f"caller ({getattr(mask, '__name__', 'arrays')})")
    if isinstance(communities, str):
        if communities != "auto":
            raise ValueError(f"communities must be 'auto' or a list of ids, got {communities!r}")
        return crystal_communities(labels)
    comm = np.atleast_1d(np.asarray(communities, dtype=np.int64))
    return CrystalCriterion("communities", comm, None,
                            f"communities: crystal-like ids given by the caller {comm.tolist()}")


class CommunityTracker(BaseEstimator):
    """Estimator wrapper of :func:`community_events`.

    Attributes
    ----------
    events_ : DataFrame (see :func:`community_events`)
    sizes_ : DataFrame (frames x communities, see :func:`community_sizes`)

    Examples
    --------
    >>> CommunityTracker(0.5).fit(np.array([[0, 0], [0, 0]])).events_.event.tolist()
    ['birth', 'continuation']
    """

    def __init__(self, threshold=0.3, *, size_tol=0.05, min_size=1):
        self.threshold = threshold
        self.size_tol = size_tol
        self.min_size = min_size

    def fit(self, labels, ids=None, y=None):
        self.events_ = community_events(labels, ids, threshold=self.threshold,
                                        size_tol=self.size_tol, min_size=self.min_size)
        self.sizes_ = community_sizes(labels, ids)
        return self
