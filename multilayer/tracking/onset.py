"""Nucleation onset from the largest nucleus of every frame: the first frame after which it
stays above a threshold and grows (:func:`nucleation_onset`), or the first frame itself when
a nucleus already there persists (:class:`StartPersistence`: a seeded run, or frames chosen
after nucleation); how sharply a series defines it (:func:`onset_spread`) and whether growth
follows it (:func:`onset_growth`); the frame after which it stays past the critical size
(:func:`critical_onset`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real

import numpy as np
from sklearn.utils import check_scalar

__all__ = ["MIN_ONSET_THRESHOLD", "MIN_ONSET_GROWTH", "Onset", "nucleation_onset",
           "critical_onset", "onset_spread", "onset_growth", "NO_GROWTH", "START_PERSISTENCE", "StartPersistence",
           "AT_START"]

MIN_ONSET_THRESHOLD = 13   # atoms: one atom and its whole close-packed first shell
#: below this :func:`onset_growth`, ``crystopo analyze`` warns that no sustained growth
#: follows the onset (a run that has not crystallized within its frames)
MIN_ONSET_GROWTH = 3.0
#: what a growth under :data:`MIN_ONSET_GROWTH` means (analyze's warning, the report)
NO_GROWTH = ("no sustained growth in these frames, so the onset may mark a sub-critical "
             "cluster")
#: share of the first frame's largest nucleus that must be in a frame's largest nucleus, in
#: nine frames of ten, for :func:`nucleation_onset` to put the onset at the first frame (a
#: growing nucleus keeps its atoms; the largest is, for a frame or two, another cluster)
START_PERSISTENCE = 0.5
#: what an onset ``at_start`` means (analyze's line, its warning and the report)
AT_START = ("the first analysed frame already holds the nucleus, which persists and grows, so "
            "nucleation came before these frames")


@dataclass(frozen=True)
class Onset:
    """Nucleation onset: ``frame`` (int, or None when there is none) and the size ``threshold``;
    ``at_start``: the first frame already holds a nucleus that persists and grows, so
    nucleation precedes the frames (``frame`` is 0)."""

    frame: int | None
    threshold: float
    at_start: bool = field(default=False, repr=False)


class StartPersistence:
    """Per frame, the share of the first frame's largest nucleus that is in this frame's
    largest nucleus: a sub-critical cluster of the liquid dissolves within a few frames, a
    crystal that was there before the first frame (a seeded run, frames chosen after
    nucleation) keeps its atoms as it grows.

    ``add(ids, in_largest)`` once per frame, in order (``ids``: the frame's atom ids,
    ``in_largest``: boolean mask of its largest nucleus); ``values`` is the series.

    Examples
    --------
    >>> p = StartPersistence()
    >>> p.add([1, 2, 3, 4, 5], [True, True, False, False, False])   # nucleus {1, 2}
    >>> p.add([1, 2, 3, 4, 5], [True, False, True, True, False])    # {1, 3, 4}: half of it
    >>> p.values
    [1.0, 0.5]
    """

    def __init__(self):
        self._first = None
        self.values: list[float] = []

    def add(self, ids, in_largest) -> None:
        ids = np.asarray(ids)
        m = np.asarray(in_largest, dtype=bool)
        if m.shape != ids.shape:
            raise ValueError(f"frame {len(self.values)}: in_largest has shape {m.shape}, "
                             f"ids {ids.shape}")
        if self._first is None:
            self._first = ids[m]
            self.values.append(1.0 if m.any() else 0.0)
        elif self._first.size == 0:
            self.values.append(0.0)
        else:
            self.values.append(float(np.isin(self._first, ids[m]).mean()))


def nucleation_onset(largest, threshold=None, *, baseline=0.1, min_threshold=MIN_ONSET_THRESHOLD,
                     persistence=None):
    """First frame after which the largest nucleus stays at or above ``threshold`` and grows.

    Parameters
    ----------
    largest : array of shape (n_frames,)
        Largest-nucleus size per frame (``NucleiResult.largest``).
    threshold : float, optional
        Default: twice the 25th percentile of ``largest`` over the first ``baseline``
        fraction of the frames (the liquid's typical largest cluster; a low quantile,
        so a window that catches the start of growth still gives a liquid value), and at
        least ``min_threshold``.  A threshold given here is used as it is.
    baseline : float in (0, 1]
    min_threshold : float, default 13
        Floor of the default threshold, in atoms: 13 is the smallest cluster in which one
        atom has its whole close-packed first shell (12 neighbours) inside the nucleus.
        Without it, a run whose first frames hold no crystalline cluster (a largest
        nucleus of 0-2 atoms, as the crystalline core gives) gets a threshold of 2 atoms
        and an onset in a frame whose largest "nucleus" has 2-4 atoms.
    persistence : array of shape (n_frames,), optional
        :class:`StartPersistence` values of the nuclei (``crystopo analyze`` gives the
        crystalline core the crystal-like nuclei's: the same crystal, its atoms steadier).
        With the default threshold:
        when the largest nucleus stays at or above ``min_threshold`` from the first frame
        on, grows, and keeps at least :data:`START_PERSISTENCE` of the first frame's
        largest nucleus in nine frames of ten, the first frames are not liquid (their nucleus
        would double the threshold, and the onset would mark when the crystal doubled): the
        onset is frame 0 at ``min_threshold``, ``at_start`` True.  On the validation
        suite's seeded bcc iron (a 668-atom nucleus in the first frame, 4,510 in the last)
        this gives 0 where the baseline rule gave frame 35.

    Returns
    -------
    onset : Onset
        ``frame``: the first t with ``largest[s] >= threshold`` for every s >= t and
        ``largest[-1] > largest[t]`` (None when there is no such frame); ``threshold`` used.

    Examples
    --------
    >>> nucleation_onset([3, 5, 4, 12, 9, 15, 40, 90], threshold=8)
    Onset(frame=3, threshold=8.0)
    >>> nucleation_onset([3, 5, 4, 6], threshold=8).frame is None
    True
    >>> nucleation_onset([0, 0, 2, 3, 4, 6, 9, 14, 20, 35, 60])   # the floor, not 2 x 0
    Onset(frame=7, threshold=13.0)
    """
    s = np.asarray(largest, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"largest must be 1-D (one size per frame), got shape {s.shape}")
    check_scalar(baseline, "baseline", Real, min_val=0, max_val=1, include_boundaries="right")
    check_scalar(min_threshold, "min_threshold", Real, min_val=0)
    if threshold is None and persistence is not None:
        p = np.asarray(persistence, dtype=np.float64)
        if p.shape != s.shape:
            raise ValueError(f"persistence has shape {p.shape}, largest {s.shape}")
        if (np.all(s >= min_threshold) and s[0] < s[-1]
                and np.mean(p >= START_PERSISTENCE) >= 0.9):
            return Onset(0, float(min_threshold), at_start=True)
    if threshold is None:
        b = max(1, int(round(baseline * len(s))))
        threshold = max(2.0, float(min_threshold), 2.0 * float(np.percentile(s[:b], 25)))
    stays = np.logical_and.accumulate((s >= threshold)[::-1])[::-1]
    cand = np.flatnonzero(stays & (s < s[-1]))
    return Onset(int(cand[0]) if len(cand) else None, float(threshold))


def critical_onset(largest, n_star, *, min_threshold=MIN_ONSET_THRESHOLD):
    """The frame after which the largest nucleus stays at or above the critical size and grows.

    A nucleus past the critical size n* grows more often than it dissolves (n* is where half
    the nuclei grow: :func:`multilayer.tracking.growth_probability`), so the last time the
    largest nucleus crosses n* upwards is when the run commits to the crystal -- the
    nucleation event itself.  :func:`nucleation_onset`'s default threshold, twice the
    liquid's typical largest cluster, marks something earlier where n* lies above it: a
    near-critical cluster that appears and persists (on the LAMMPS run T* 0.53 P* 4 of the
    validation suite the crystalline core's largest nucleus stays at 15-46 atoms from frame
    8, above the 13-atom threshold, while its n* is 18 and it commits at frame 23).  A
    threshold read off each method's own n* is also the same point of the process for
    methods that count a nucleus's atoms differently (the crystalline core's nuclei hold
    1.05-1.27 times PTM's atoms) -- as far as each n* is right: on eight held-out LAMMPS runs
    the core's and PTM's growth-probability n* scatter enough that their onsets so read agree
    within 3 frames on four, against five at the liquid's threshold (benchmarks/LABELS.md,
    stop 46), so ``crystopo analyze`` reports this frame beside its onset, not instead.

    Parameters
    ----------
    largest : array of shape (n_frames,)
    n_star : float
        The critical size, in the atoms of the same series (finite and > 0).
    min_threshold : float, default 13
        Floor of the threshold (:func:`nucleation_onset`'s).

    Returns
    -------
    onset : Onset
        ``threshold`` max(n*, ``min_threshold``).

    Examples
    --------
    A cluster near the barrier from frame 2, past it for good from frame 5:

    >>> s = [2, 5, 16, 22, 15, 26, 30, 24, 41, 90, 200]
    >>> nucleation_onset(s).frame, critical_onset(s, 21.0).frame
    (2, 5)
    """
    n = float(n_star)
    if not np.isfinite(n) or n <= 0:
        raise ValueError(f"n_star must be a finite size > 0, got {n_star}")
    check_scalar(min_threshold, "min_threshold", Real, min_val=0)
    return nucleation_onset(largest, max(n, float(min_threshold)))


def onset_spread(largest, onset, rel=0.1):
    """How sharply a largest-nucleus series defines its onset: the onset frames at thresholds
    ``rel`` below and above ``onset.threshold`` (each None where there is none).

    A slowly rising, flickering series crosses a threshold where it happens to: on LAMMPS
    nucleation runs a 10 % change of PTM's threshold (20 -> 22 atoms) moves PTM's own onset
    by more than 3 frames on 6 runs of 16.  The spread says how far to trust one onset frame.

    Parameters
    ----------
    largest : array of shape (n_frames,)
    onset : Onset
        From :func:`nucleation_onset` on the same series.
    rel : float in [0, 1)

    Returns
    -------
    (low, high) : tuple of int or None
        Onsets at ``(1 - rel)`` and ``(1 + rel)`` times the threshold.

    Examples
    --------
    >>> s = [0, 1, 6, 12, 9, 14, 12, 13, 25, 60]
    >>> o = nucleation_onset(s)            # threshold 13: from frame 7 (13, 25, 60)
    >>> o.frame, onset_spread(s, o)        # 11.7: from frame 5 (14, 12, ...); 14.3: frame 8
    (7, (5, 8))
    """
    check_scalar(rel, "rel", Real, min_val=0, max_val=1, include_boundaries="left")
    t = float(onset.threshold)
    return (nucleation_onset(largest, (1 - rel) * t).frame,
            nucleation_onset(largest, (1 + rel) * t).frame)


def onset_growth(largest, onset, tail=0.1):
    """How much the largest nucleus grows after its onset: the median over the last ``tail``
    fraction of the frames over the median of as many frames from the onset on.

    An onset is the first frame from which a series stays above a threshold; a run that has
    not crystallized within its frames can hold a sub-critical cluster above it to the end
    and still get one.  Growth says which: on the validation suite's twenty-one LAMMPS
    nucleation runs the crystalline core grows 4.3- to 400-fold after its onset, and 1.7-fold
    on the one that barely crystallizes (bcc iron at 800 K, 0.5 % crystalline at its last
    frame).  ``crystopo analyze`` warns below :data:`MIN_ONSET_GROWTH`.

    Parameters
    ----------
    largest : array of shape (n_frames,)
    onset : Onset or int or None
        From :func:`nucleation_onset` on the same series, or its frame.
    tail : float in (0, 1]
        Fraction of the frames in each median (at least one frame).

    Returns
    -------
    float or None
        None without an onset; ``inf`` when the frames after the onset hold no nucleus (a
        given threshold of 0) but the last ones do.

    Examples
    --------
    >>> s = [0, 2, 3, 14, 15, 20, 40, 80, 150, 300]
    >>> onset_growth(s, nucleation_onset(s))   # from frame 3: 14 -> 300
    21.428571428571427
    >>> onset_growth([0, 1, 14, 15, 13, 16, 14, 17, 15, 16], 2)   # a plateau
    1.1428571428571428
    """
    check_scalar(tail, "tail", Real, min_val=0, max_val=1, include_boundaries="right")
    frame = getattr(onset, "frame", onset)
    if frame is None:
        return None
    s = np.asarray(largest, dtype=np.float64)
    if not 0 <= int(frame) < s.size:
        raise ValueError(f"onset frame {frame} is outside the series' {s.size} frames")
    k = max(1, int(round(tail * s.size)))
    head, last = float(np.median(s[int(frame):int(frame) + k])), float(np.median(s[-k:]))
    if head <= 0:
        return float("inf") if last > 0 else 1.0
    return last / head
