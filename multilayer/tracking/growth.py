"""Critical size from the fate of every tracked nucleus: the size at which a nucleus is as
likely to grow as to dissolve.

The mean first-passage time (:mod:`multilayer.tracking.mfpt`) reads the critical size off
one series, the largest nucleus of each frame.  The committor reads it off all the nuclei:
a nucleus of the critical size n* grows to the crystal with probability one half (Auer and
Frenkel, Nature 409, 1020, 2001; ten Wolde and Frenkel's pB = 1/2 surface).  A long
trajectory shows that probability directly: every nucleus a tracker follows
(:func:`multilayer.tracking.track_nuclei`, persistent ids) either grows past a size no
subcritical fluctuation reaches (``n_grown``) or vanishes, and at each size the fraction of
the nuclei seen there that went on to grow estimates P_grow(n) -- a committor with one trial
per observation.  A curve fitted to those outcomes (non-decreasing in n, no functional form)
gives n* where it crosses 1/2, with a bootstrap over the nuclei for its uncertainty.

On eleven held-out LAMMPS runs, brute-force shooting from the run's own frames
(``benchmarks/bench_committor.py``: fresh velocities, the same NPT protocol, every nucleus
followed) and this estimate on PTM's nuclei are 0.83-2.1 times apart (within each other's
spread on nine), where the MFPT fit to the largest nucleus is off by 1.6-4.7 times on six of
the eight runs it determines (benchmarks/LABELS.md, stops 44-48).

A nucleus whose id ends because it merged into another, split or reached the last frame
before either outcome is *censored* (not counted): its fate is not its own or not seen.
Growers are censored more often than nuclei that dissolve (a large nucleus meets others, a
late one outlasts the frames), so a grown size larger than needed biases n* up: choose the
smallest one past the barrier, where few grown nuclei fall back (:data:`MAX_FELL_BACK`).
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import check_scalar

__all__ = ["GrowthResult", "committor_size", "growth_probability", "nucleus_fates",
           "MAX_FELL_BACK"]

#: :attr:`GrowthResult.determined` needs at most this fraction of the grown nuclei to
#: dissolve afterwards: the grown size is then past the barrier (on the validation suite's
#: LAMMPS runs 1 of the 171 core nuclei that reached 52 atoms did; benchmarks/LABELS.md,
#: stop 45)
MAX_FELL_BACK = 0.1


def nucleus_fates(table: pd.DataFrame, n_grown: int, *, last_frame: int | None = None) -> pd.DataFrame:
    """The fate of every nucleus id of a tracked nuclei table.

    Parameters
    ----------
    table : DataFrame
        :attr:`NucleiResult.table` (columns ``frame``, ``nucleus``, ``size``, ``parents``).
    n_grown : int
        A nucleus that reaches this many atoms has grown.
    last_frame : int, optional
        The trajectory's last frame (default the table's): a nucleus still there has not
        ended.

    Returns
    -------
    fates : DataFrame indexed by nucleus id
        ``first``, ``last`` (frames), ``grown_at`` (first frame at ``n_grown`` or more, -1
        if never), ``fate``: "grew", "dissolved" (its id ends and no nucleus of the next
        frame has it among its parents) or "censored" (it merged into another nucleus or
        split into new ids, or the trajectory ended first); ``fell_back``: it grew and
        then dissolved all the same (``n_grown`` too small to mean growth).

    Examples
    --------
    >>> t = pd.DataFrame({"frame": [0, 0, 1, 1, 2], "nucleus": [0, 1, 0, 2, 2],
    ...                   "size": [5, 3, 9, 4, 30], "parents": [[], [], [0, 1], [], [2]]})
    >>> nucleus_fates(t, 20)["fate"].tolist()    # 1 merges into 0, which then vanishes
    ['dissolved', 'censored', 'grew']
    """
    check_scalar(n_grown, "n_grown", Integral, min_val=2)
    missing = {"frame", "nucleus", "size", "parents"} - set(table.columns)
    if missing:
        raise ValueError(f"the nuclei table lacks the columns {sorted(missing)} "
                         "(NucleiResult.table has them)")
    if table.empty:
        return pd.DataFrame({"first": [], "last": [], "grown_at": [], "fate": [],
                             "fell_back": []}, index=pd.Index([], name="nucleus"))
    frame = table["frame"].to_numpy(np.int64)
    nucleus = table["nucleus"].to_numpy(np.int64)
    size = table["size"].to_numpy(np.int64)
    end = int(frame.max()) if last_frame is None else int(last_frame)
    if end < frame.max():
        raise ValueError(f"last_frame={end} is before the table's last frame {frame.max()}")
    g = pd.DataFrame({"frame": frame, "nucleus": nucleus}).groupby("nucleus")["frame"]
    first, last = g.min(), g.max()
    grown = pd.Series(np.where(size >= n_grown, frame, np.iinfo(np.int64).max), index=nucleus)
    grown_at = grown.groupby(level=0).min().reindex(first.index)
    grown_at = grown_at.where(grown_at < np.iinfo(np.int64).max, -1).astype(np.int64)
    # (frame, parent) pairs: the parent had a successor in that frame
    succ = {(int(f), int(p)) for f, ps in zip(frame, table["parents"]) for p in ps}
    fate, fell_back = [], []
    for nid, lf in last.items():
        ended = not (lf >= end or (int(lf) + 1, int(nid)) in succ)   # vanished, no successor
        fate.append("grew" if grown_at[nid] >= 0 else "dissolved" if ended else "censored")
        fell_back.append(bool(grown_at[nid] >= 0 and ended))
    return pd.DataFrame({"first": first.astype(np.int64), "last": last.astype(np.int64),
                         "grown_at": grown_at, "fate": fate, "fell_back": fell_back},
                        index=first.index)


def committor_size(size, outcome, weight=None):
    """The size at which the probability of growing reaches 1/2, from outcomes.

    The isotonic (non-decreasing) regression of the outcomes (1 grew, 0 dissolved) on size;
    n* interpolated in log n between the last size where it is below 1/2 and the first
    where it is at or above.  No functional form is assumed.

    Parameters
    ----------
    size : array of shape (n_observations,)
    outcome : array of 0 / 1, same shape
    weight : array of float >= 0, same shape, optional
        How many times each observation counts (a bootstrap's multiplicities).

    Returns
    -------
    sizes : ndarray, the distinct sizes (sorted)
    p : ndarray, the fitted probability at each
    n_star : float
        NaN when the curve never crosses 1/2 from below (all outcomes alike, or 1/2 is
        reached at the smallest size already).

    Examples
    --------
    >>> round(committor_size([5, 5, 10, 10, 20, 20], [0, 0, 0, 1, 1, 1])[2], 6)
    10.0
    """
    size = np.asarray(size, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    if size.shape != y.shape or size.ndim != 1:
        raise ValueError(f"size and outcome must be 1-D of one length, got {size.shape}, {y.shape}")
    w = np.ones_like(y) if weight is None else np.asarray(weight, dtype=np.float64)
    u, inv = np.unique(size, return_inverse=True)
    return _crossing(u, inv, y, w)


def _crossing(u, inv, y, w):
    """:func:`committor_size` of observations already grouped by distinct size (``u``,
    ``inv``: ``np.unique(size, return_inverse=True)``), weighted by ``w``."""
    from sklearn.isotonic import IsotonicRegression

    # one point per distinct size (its weight and mean outcome): the same isotonic fit as on
    # every observation, at the cost of the distinct sizes
    n = np.bincount(inv, w, minlength=len(u))
    k = np.bincount(inv, w * y, minlength=len(u))
    seen = n > 0
    u, n, k = u[seen], n[seen], k[seen]
    if not len(u) or k.sum() in (0.0, n.sum()):
        return u, (k / n if len(u) else np.full(0, np.nan)), np.nan
    f = IsotonicRegression(increasing=True).fit(u, k / n, sample_weight=n).predict(u)
    j = int(np.argmax(f >= 0.5))
    if f[j] < 0.5 or j == 0:
        return u, f, np.nan
    a, b = np.log(u[j - 1]), np.log(u[j])
    x = a + (0.5 - f[j - 1]) / (f[j] - f[j - 1]) * (b - a)
    return u, f, float(np.exp(x))


@dataclass(frozen=True)
class GrowthResult:
    """P_grow(n), the probability that a nucleus seen with n atoms grows, and the critical
    size where it is 1/2 (:func:`growth_probability`).

    Attributes
    ----------
    n_star : float
        Where the fitted P_grow(n) (non-decreasing in n) first reaches 1/2, interpolated in
        log n (NaN when no nucleus grew, none dissolved, or it is 1/2 already at the
        smallest size).
    fit_sizes, fit_p : ndarray
        The fitted P_grow at every size observed (:meth:`curve` interpolates it).
    n_star_low, n_star_high : float
        16th and 84th percentiles of n* over a bootstrap of the nuclei (one standard
        deviation each side for a normal spread).
    sizes, p_grow, counts : ndarray
        Size bins (geometric means of their edges), the fraction of observations in each
        that belong to nuclei that grew, and how many observations each holds.
    n_grown : int
    n_grew, n_dissolved, n_censored : int
        Nuclei by fate (:func:`nucleus_fates`).
    n_fell_back : int
        Of the nuclei that grew, those that dissolved afterwards all the same.
    n_observations : int
        Nucleus-frames fitted: every frame of a decided nucleus before it grew.
    """

    n_star: float
    fit_sizes: np.ndarray
    fit_p: np.ndarray
    n_star_low: float
    n_star_high: float
    sizes: np.ndarray
    p_grow: np.ndarray
    counts: np.ndarray
    n_grown: int
    n_grew: int
    n_dissolved: int
    n_censored: int
    n_fell_back: int
    n_observations: int

    def curve(self, n):
        """The fitted P_grow at sizes ``n`` (float64 array shaped like ``n``)."""
        n = np.asarray(n, dtype=np.float64)
        if len(self.fit_sizes) == 0:
            return np.full(n.shape, np.nan)
        return np.interp(np.log(n), np.log(self.fit_sizes), self.fit_p)

    @property
    def determined(self) -> bool:
        """Whether the nuclei pin n* down: some grew and some dissolved, n* lies among the
        sizes observed and below ``n_grown``, the grown size is past the barrier -- at most
        :data:`MAX_FELL_BACK` of the nuclei that reached it dissolved afterwards all the same
        (a grown size where a fraction f falls back puts n* where P_grow is (1 - f) / 2,
        too low) --, and the bootstrap's 16-84 % interval is finite and no wider than n*
        itself."""
        s = np.asarray(self.sizes)[np.asarray(self.counts) > 0]
        return bool(self.n_grew and self.n_dissolved and np.isfinite(self.n_star)
                    and len(s) and s.min() <= self.n_star < self.n_grown
                    and self.n_fell_back <= MAX_FELL_BACK * self.n_grew
                    and np.isfinite(self.n_star_low) and np.isfinite(self.n_star_high)
                    and self.n_star_high - self.n_star_low <= self.n_star)


def growth_probability(table: pd.DataFrame, n_grown: int, *, last_frame: int | None = None,
                       n_boot: int = 200, seed: int = 0, n_bins: int = 12) -> GrowthResult:
    """Committor estimate of the critical size from tracked nuclei.

    Every frame of a nucleus that later grew to ``n_grown`` atoms (before it did) is an
    observation of outcome 1 at its size then, every frame of a nucleus that dissolved one
    of outcome 0; censored nuclei (:func:`nucleus_fates`) are left out.  The isotonic
    regression of the outcome on size (P_grow does not fall as n rises; no functional form
    assumed) gives P_grow(n) and n* where it reaches 1/2; the bootstrap resamples nuclei
    (their frames are not independent).

    Parameters
    ----------
    table : DataFrame
        :attr:`NucleiResult.table` of one trajectory.
    n_grown : int
        A size past the critical one that fluctuations do not reach: a nucleus that gets
        there has grown (its later frames are not observations).  Too small, and
        subcritical nuclei count as grown (n* biased low: :attr:`GrowthResult.determined`
        checks how many fall back); too large, and growers merge or outlast the frames
        before they get there (censored; n* biased high).  About 2-3 times n*.
    last_frame : int, optional
        The trajectory's last frame (default the table's).
    n_boot : int
        Bootstrap resamples (0: no interval).
    seed : int
        Of the bootstrap.
    n_bins : int
        Geometric size bins from the smallest size to ``n_grown`` for ``p_grow``, to plot
        (the fit uses every observation, not the bins).

    Returns
    -------
    result : GrowthResult

    Examples
    --------
    Nuclei rising one atom a frame from 2 atoms: four grow to 40, the others dissolve at
    the sizes listed; of the nuclei seen with 7 atoms, half grow.

    >>> tops = [40] * 4 + [2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 7, 8, 10, 12]
    >>> rows = [(k * 50 + s, k, s, [] if s == 2 else [k])
    ...         for k, top in enumerate(tops) for s in range(2, top + 1)]
    >>> t = pd.DataFrame(rows, columns=["frame", "nucleus", "size", "parents"])
    >>> r = growth_probability(t, 40, last_frame=1000, n_boot=0)
    >>> r.n_grew, r.n_dissolved, round(r.n_star, 2)
    (4, 15, 7.0)
    """
    check_scalar(n_boot, "n_boot", Integral, min_val=0)
    check_scalar(n_bins, "n_bins", Integral, min_val=1)
    fates = nucleus_fates(table, n_grown, last_frame=last_frame)
    counts_by_fate = fates["fate"].value_counts()
    decided = fates.index[fates["fate"] != "censored"]
    t = table[table["nucleus"].isin(decided)]
    grown_at = fates["grown_at"].reindex(t["nucleus"]).to_numpy()
    before = (grown_at < 0) | (t["frame"].to_numpy() < grown_at)
    t = t[before]
    nid = t["nucleus"].to_numpy(np.int64)
    size = t["size"].to_numpy(np.float64)
    y = (fates["fate"].reindex(nid).to_numpy() == "grew").astype(np.int64)
    lo = max(float(size.min()), 1.0) if len(size) else 1.0
    edges = np.geomspace(lo, max(float(n_grown), lo * 1.0001), n_bins + 1)
    which = np.clip(np.searchsorted(edges, size, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        p = np.bincount(which, y, minlength=n_bins) / counts
    centres = np.sqrt(edges[:-1] * edges[1:])
    fit_sizes, fit_p, n_star = committor_size(size, y)
    low = high = np.nan
    if n_boot and np.isfinite(n_star):
        ids, inv = np.unique(nid, return_inverse=True)
        u, by_size = np.unique(size, return_inverse=True)
        yf = y.astype(np.float64)
        rng = np.random.default_rng(seed)
        boot = []
        for _ in range(n_boot):            # resample nuclei: each row weighs its nucleus's picks
            picks = np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids))
            boot.append(_crossing(u, by_size, yf, picks[inv].astype(np.float64))[2])
        boot = np.asarray(boot)
        if np.isfinite(boot).mean() >= 0.9:        # most resamples cross 1/2
            low, high = (float(q) for q in np.nanpercentile(boot, [16, 84]))
    return GrowthResult(n_star, fit_sizes, fit_p, low, high, centres, p, counts,
                        int(n_grown), int(counts_by_fate.get("grew", 0)),
                        int(counts_by_fate.get("dissolved", 0)),
                        int(counts_by_fate.get("censored", 0)), int(fates["fell_back"].sum()),
                        int(len(y)))
