"""Community life cycles and atom histories from labels that are consistent through time.

Labels come per frame: an int array over that frame's atoms, matched across frames
by atom id (atoms may appear and disappear).  Negative labels mean "unassigned"
and are ignored by the event and transition statistics.

* :func:`community_events` -- birth, death, growth, contraction, merge, split and
  continuation between consecutive frames, matched by Jaccard overlap of atom-id
  sets (Greene, Doyle, Cunningham, ASONAM 2010).
* :func:`atom_histories`, :func:`transition_matrix`, :func:`lifetimes`,
  :func:`precursors` -- what each atom went through.
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

__all__ = ["community_events", "community_sizes", "atom_histories", "transition_matrix",
           "lifetimes", "precursors", "CrystalCriterion", "crystal_communities",
           "CommunityTracker", "EVENT_TYPES"]

logger = logging.getLogger(__name__)

EVENT_TYPES = ("birth", "death", "growth", "contraction", "continuation", "merge", "split")
_EVENT_COLUMNS = ["frame", "event", "from_communities", "to_communities", "from_sizes",
                  "to_sizes", "overlap"]


def check_labels(labels, ids=None):
    """Return a list of ``(ids int64 sorted unique, labels int64)``, one pair per frame."""
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        labels = list(labels)
    labels = [np.asarray(lab) for lab in labels]
    if not labels:
        raise ValueError("labels is empty; pass one int array per frame")
    if ids is None:
        ids = [np.arange(len(lab), dtype=np.int64) for lab in labels]
    elif isinstance(ids, np.ndarray) and ids.ndim == 1:
        ids = [ids] * len(labels)
    else:
        ids = [np.asarray(getattr(x, "ids", x)) for x in ids]
    if len(ids) != len(labels):
        raise ValueError(f"ids has {len(ids)} frames but labels has {len(labels)}")
    out = []
    for t, (i, lab) in enumerate(zip(ids, labels)):
        if lab.ndim != 1 or i.shape != lab.shape:
            raise ValueError(f"frame {t}: labels.shape {lab.shape} and ids.shape {i.shape} must be "
                             "equal and 1-D (one label per atom of the frame)")
        if lab.dtype.kind not in "iub":
            if lab.size and not np.all(lab == np.round(lab)):
                raise ValueError(f"frame {t}: labels must be integers, got dtype {lab.dtype}")
        i = i.astype(np.int64)
        lab = lab.astype(np.int64)
        if i.size > 1 and not np.all(i[1:] > i[:-1]):
            order = np.argsort(i, kind="stable")
            i, lab = i[order], lab[order]
            if np.any(i[1:] == i[:-1]):
                raise ValueError(f"frame {t}: duplicate atom ids")
        out.append((i, lab))
    return out


def _sizes(lab, min_size):
    comm, size = np.unique(lab[lab >= 0], return_counts=True)
    keep = size >= min_size
    return dict(zip(comm[keep].tolist(), size[keep].tolist()))


def _overlaps(a, b, size_a, size_b):
    """Shared atoms of every (community at a, community at b) pair: dict (ca, cb) -> count."""
    _, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    la, lb = a[1][ia], b[1][ib]
    ok = np.isin(la, list(size_a)) & np.isin(lb, list(size_b))
    if not ok.any():
        return {}
    pairs, count = np.unique(np.stack([la[ok], lb[ok]], axis=1), axis=0, return_counts=True)
    return {(int(p), int(q)): int(c) for (p, q), c in zip(pairs, count)}


def _jaccard(src, dst, size_a, size_b, inter):
    n_src = sum(size_a[c] for c in src)
    n_dst = sum(size_b[c] for c in dst)
    shared = sum(inter.get((p, q), 0) for p in src for q in dst)
    return shared / (n_src + n_dst - shared) if n_src + n_dst else 0.0


def _step_events(t, size_a, size_b, inter, threshold, size_tol):
    """Events observed at frame ``t`` (communities ``size_a`` at t-1, ``size_b`` at t)."""
    jac = {k: v / (size_a[k[0]] + size_b[k[1]] - v) for k, v in inter.items()}
    parents = {c: [] for c in size_b}
    children = {c: [] for c in size_a}
    for (p, q), j in jac.items():
        if j >= threshold:
            parents[q].append(p)
            children[p].append(q)
    rows = []

    def row(event, src, dst, overlap):
        rows.append((t, event, sorted(src), sorted(dst), [size_a[c] for c in sorted(src)],
                     [size_b[c] for c in sorted(dst)], float(overlap)))

    for p in sorted(size_a):
        if not children[p]:
            best = max((j for (a, _), j in jac.items() if a == p), default=0.0)
            row("death", [p], [], best)
        elif len(children[p]) >= 2:
            row("split", [p], children[p], _jaccard([p], children[p], size_a, size_b, inter))
    for q in sorted(size_b):
        src = parents[q]
        if not src:
            best = max((j for (_, b), j in jac.items() if b == q), default=0.0)
            row("birth", [], [q], best)
        elif len(src) >= 2:
            row("merge", src, [q], _jaccard(src, [q], size_a, size_b, inter))
        elif len(children[src[0]]) == 1:
            ratio = size_b[q] / size_a[src[0]]
            event = ("growth" if ratio > 1 + size_tol else
                     "contraction" if ratio < 1 - size_tol else "continuation")
            row(event, src, [q], jac[(src[0], q)])
    return rows


def community_events(labels, ids=None, *, threshold=0.3, size_tol=0.05, min_size=1):
    """Life cycle of communities between consecutive frames (Greene et al. 2010).

    Communities of frames t-1 and t are matched when the Jaccard overlap of their
    atom-id sets is at least ``threshold``.  At frame t a community with no match
    in t-1 is born; one of t-1 with no match in t dies; several matches make a
    merge (many to one) or a split (one to many, both recorded when they mix); a
    one-to-one match is a growth, a contraction or a continuation depending on the
    size ratio.  Every community of frame 0 is a birth.  A small community that is
    absorbed by a much larger one overlaps it by less than ``threshold``: it dies.

    Parameters
    ----------
    labels : sequence of int arrays of shape (n_atoms_t,), or array (n_frames, n_atoms)
        Community of each atom, consistent through time; negative = unassigned.
    ids : sequence of int arrays (n_atoms_t,), or of Frames, or one array, optional
        Atom ids matching ``labels``; default: row index (the same atoms in every frame).
    threshold : float in (0, 1]
        Minimum Jaccard overlap for two communities to be matched.
    size_tol : float >= 0
        One-to-one matches whose size ratio stays within ``1 +- size_tol`` are continuations.
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
    """
    check_scalar(threshold, "threshold", Real, min_val=0, max_val=1, include_boundaries="right")
    check_scalar(size_tol, "size_tol", Real, min_val=0)
    check_scalar(min_size, "min_size", Integral, min_val=1)
    frames = check_labels(labels, ids)
    sizes = [_sizes(lab, min_size) for _, lab in frames]
    rows = [(0, "birth", [], [c], [], [s], 0.0) for c, s in sorted(sizes[0].items())]
    for t in range(1, len(frames)):
        inter = _overlaps(frames[t - 1], frames[t], sizes[t - 1], sizes[t])
        rows.extend(_step_events(t, sizes[t - 1], sizes[t], inter, threshold, size_tol))
    order = {e: k for k, e in enumerate(EVENT_TYPES)}
    rows.sort(key=lambda r: (r[0], order[r[1]], r[2] or r[3]))
    df = pd.DataFrame(rows, columns=_EVENT_COLUMNS)
    df["frame"] = df["frame"].astype(np.int64)
    df["overlap"] = df["overlap"].astype(np.float64)
    logger.debug("%d events over %d frames", len(df), len(frames))
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
    comm = np.unique(np.concatenate([lab[lab >= 0] for _, lab in frames]))
    out = np.zeros((len(frames), len(comm)), dtype=np.int64)
    for t, (_, lab) in enumerate(frames):
        lab = lab[lab >= 0]
        out[t] = np.bincount(np.searchsorted(comm, lab), minlength=len(comm))
    return pd.DataFrame(out, index=pd.RangeIndex(len(frames), name="frame"), columns=comm.tolist())


def atom_histories(labels, ids=None, *, fill=-1):
    """Per-atom label sequences: a (frames x atoms) matrix, atoms ordered by id.

    Returns
    -------
    history : ndarray of shape (n_frames, n_unique_atoms), int64
        ``history[t, k]`` is the label of atom ``atom_ids[k]`` in frame t, ``fill`` where absent.
    atom_ids : ndarray of shape (n_unique_atoms,), int64

    Examples
    --------
    >>> h, ids = atom_histories([np.array([3, 4]), np.array([5])],
    ...                         [np.array([1, 2]), np.array([2])])
    >>> h.tolist(), ids.tolist()
    ([[3, 4], [-1, 5]], [1, 2])
    """
    frames = check_labels(labels, ids)
    atom_ids = np.unique(np.concatenate([i for i, _ in frames]))
    history = np.full((len(frames), len(atom_ids)), fill, dtype=np.int64)
    for t, (i, lab) in enumerate(frames):
        history[t, np.searchsorted(atom_ids, i)] = lab
    return history, atom_ids


def transition_matrix(labels, ids=None, *, lag=1, communities=None, normalize=True):
    """Counts (or probabilities) of an atom going from community a at t to b at t + lag.

    Summed over all frame pairs (t, t + lag) and the atoms present in both with
    non-negative labels.

    Returns
    -------
    matrix : ndarray of shape (n_communities, n_communities), float64
        Row a, column b; rows sum to 1 when ``normalize`` (rows with no atoms stay 0).
    communities : ndarray of shape (n_communities,), int64
        The labels of the rows and columns (all non-negative labels seen, by default).

    Examples
    --------
    >>> m, c = transition_matrix(np.array([[0, 0, 1], [0, 1, 1]]))
    >>> m.tolist(), c.tolist()
    ([[0.5, 0.5], [0.0, 1.0]], [0, 1])
    """
    check_scalar(lag, "lag", Integral, min_val=1)
    frames = check_labels(labels, ids)
    if communities is None:
        communities = np.unique(np.concatenate([lab[lab >= 0] for _, lab in frames]))
    communities = np.asarray(communities, dtype=np.int64)
    k = len(communities)
    counts = np.zeros(k * k, dtype=np.float64)
    for t in range(len(frames) - lag if k else 0):
        (ia, la), (ib, lb) = frames[t], frames[t + lag]
        _, xa, xb = np.intersect1d(ia, ib, assume_unique=True, return_indices=True)
        a, b = la[xa], lb[xb]
        pa = np.minimum(np.searchsorted(communities, a), k - 1)
        pb = np.minimum(np.searchsorted(communities, b), k - 1)
        ok = (communities[pa] == a) & (communities[pb] == b)
        counts += np.bincount(pa[ok] * k + pb[ok], minlength=k * k)
    matrix = counts.reshape(k, k)
    if normalize:
        total = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, total, out=np.zeros_like(matrix), where=total > 0)
    return matrix, communities


def lifetimes(labels, ids=None):
    """Runs of consecutive frames each atom spends in one community (local-structure lifetimes).

    Returns
    -------
    runs : DataFrame
        ``id`` (int64), ``community`` (int64), ``start`` (first frame), ``length``
        (frames), ``censored`` (bool: the run touches the first or last frame, so its
        true length is unknown).  Absent atoms and negative labels end a run.

    Examples
    --------
    >>> runs = lifetimes(np.array([[0, 1], [0, 1], [2, 1]]))
    >>> runs.values.tolist()
    [[0, 0, 0, 2, True], [0, 2, 2, 1, True], [1, 1, 0, 3, True]]
    >>> runs[~runs.censored].groupby("community").length.mean().size  # all censored here
    0
    """
    history, atom_ids = atom_histories(labels, ids)
    n_frames, n_atoms = history.shape
    x = np.ascontiguousarray(history.T)
    change = np.ones(x.shape, dtype=bool)
    change[:, 1:] = x[:, 1:] != x[:, :-1]
    starts = np.flatnonzero(change.ravel())
    length = np.diff(np.append(starts, x.size))
    atom, start = np.divmod(starts, n_frames)
    comm = x.ravel()[starts]
    keep = comm >= 0
    atom, start, length, comm = atom[keep], start[keep], length[keep], comm[keep]
    return pd.DataFrame({"id": atom_ids[atom], "community": comm, "start": start.astype(np.int64),
                         "length": length.astype(np.int64),
                         "censored": (start == 0) | (start + length == n_frames)})


def precursors(labels, ids=None, *, crystal=None, mask=None, liquid=None):
    """Which communities the atoms of the final crystal went through before joining it.

    The atoms considered are those crystal-like in the last frame.  Each joins the
    crystal at the start of its final uninterrupted crystal-like run; the frames
    before that are its history.

    Parameters
    ----------
    labels, ids : as in :func:`community_events`
    crystal : array-like of int, optional
        Crystal-like communities (an atom is crystal-like when its label is one of them).
    mask : sequence of bool arrays of shape (n_atoms_t,), optional
        Instead of ``crystal``: crystal-like per atom and frame (e.g. ``atom_nuclei >= 0``
        from :func:`~multilayer.nuclei.track_nuclei`, or ten Wolde solid-like atoms).
    liquid : array-like of int, optional
        Liquid communities; default: the most populous community of frame 0.

    Returns
    -------
    table : DataFrame, one row per community
        ``community``; ``time_fraction``: mean over atoms of the fraction of their
        pre-join frames spent in it; ``first_nonliquid``: fraction of atoms whose first
        non-liquid label before joining is it; ``last_before``: fraction whose label
        just before joining is it.  ``table.attrs["n_atoms"]`` counts the atoms.

    Examples
    --------
    >>> lab = np.array([[0, 0, 0], [1, 0, 0], [2, 2, 0]])
    >>> precursors(lab, crystal=[2]).values.tolist()
    [[0.0, 0.75, 0.0, 0.5], [1.0, 0.25, 0.5, 0.5], [2.0, 0.0, 0.0, 0.0]]
    """
    if (crystal is None) == (mask is None):
        raise ValueError("pass exactly one of crystal (community ids) and mask (per-frame bools)")
    frames = check_labels(labels, ids)
    frames_labels = [lab for _, lab in frames]
    history, atom_ids = atom_histories(frames_labels, [i for i, _ in frames])
    if crystal is not None:
        is_crystal = np.isin(history, np.asarray(crystal, dtype=np.int64))
    else:
        if len(mask) != len(frames):
            raise ValueError(f"mask has {len(mask)} frames but labels has {len(frames)}")
        m = [np.asarray(x, dtype=bool) for x in mask]
        is_crystal = atom_histories([x.astype(np.int64) for x in m], [i for i, _ in frames],
                                    fill=0)[0].astype(bool)
    if liquid is None:
        first = frames_labels[0][frames_labels[0] >= 0]
        liquid = [int(np.bincount(first).argmax())] if first.size else []
    sel = is_crystal[-1]
    h, c = history[:, sel], is_crystal[:, sel]
    n_frames, n_atoms = h.shape
    last_non = n_frames - 1 - np.argmax(~c[::-1], axis=0)  # last frame not crystal-like
    join = np.where((~c).any(axis=0), last_non + 1, 0)
    pre = (np.arange(n_frames)[:, None] < join[None, :]) & (h >= 0)
    comm = np.unique(history[history >= 0])
    k = len(comm)
    n_pre = pre.sum(axis=0)
    has = n_pre > 0
    n_has = max(int(has.sum()), 1)
    w = np.where(pre, 1.0 / np.maximum(n_pre, 1)[None, :], 0.0)
    pos = np.searchsorted(comm, np.where(pre, h, comm[0] if k else 0))
    time_frac = np.bincount(pos[pre], weights=w[pre], minlength=k) / n_has
    nonliq = pre & ~np.isin(h, np.asarray(liquid, dtype=np.int64))
    anyn = nonliq.any(axis=0)
    first_lab = h[np.argmax(nonliq, axis=0), np.arange(n_atoms)][anyn]
    first_frac = np.bincount(np.searchsorted(comm, first_lab), minlength=k) / n_has
    before = h[np.maximum(join - 1, 0), np.arange(n_atoms)]
    okb = (join > 0) & (before >= 0)
    last_frac = np.bincount(np.searchsorted(comm, before[okb]), minlength=k) / n_has
    table = pd.DataFrame({"community": comm, "time_fraction": time_frac,
                          "first_nonliquid": first_frac, "last_before": last_frac})
    table.attrs["n_atoms"] = int(n_atoms)
    return table


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
    comm = np.unique(np.concatenate([lab[lab >= 0] for _, lab in frames]))

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
