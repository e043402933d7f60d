"""Critical size, Zeldovich factor and rate by the mean first-passage-time method (Wedekind,
Strey, Reguera, J. Chem. Phys. 126, 134103, 2007), from the largest nucleus of each frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy.special import erf
from sklearn.utils import check_scalar

__all__ = ["first_passage_times", "MFPTResult", "mfpt_fit", "mfpt_after_onset"]


def _as_runs(largest, times):
    runs = [largest] if np.ndim(largest[0]) == 0 else list(largest)
    runs = [np.asarray(r, dtype=np.float64) for r in runs]
    if not runs or any(r.ndim != 1 or r.size == 0 for r in runs):
        raise ValueError("largest must be one non-empty 1-D array of sizes per run")
    if times is None:
        times = [np.arange(len(r), dtype=np.float64) for r in runs]
    elif np.ndim(times[0]) == 0:
        times = [times] * len(runs)
    times = [np.asarray(t, dtype=np.float64) for t in times]
    if len(times) != len(runs) or any(len(t) < len(r) for t, r in zip(times, runs)):
        raise ValueError("times must give one time per frame of every run")
    return runs, [t[:len(r)] - t[0] for t, r in zip(times, runs)]


def first_passage_times(largest, times=None, *, n=None):
    """Mean first-passage time tau(n): mean over runs of the first time the largest nucleus is >= n.

    Parameters
    ----------
    largest : array of shape (n_frames,) for one run, or a list of them (or 2-D array)
    times : array of shape (n_frames,) or list of them, optional
        Time of each frame (default the frame index); measured from each run's first frame.
    n : array of int, optional
        Sizes; default 1 .. the smallest maximum over runs (every run reaches them).

    Returns
    -------
    n : ndarray of shape (n_sizes,), int64
    tau : ndarray of shape (n_sizes,), float64
        NaN where some run never reaches the size.

    Examples
    --------
    >>> first_passage_times([[1, 3, 2, 5], [2, 2, 4, 6]])
    (array([1, 2, 3, 4, 5]), array([0. , 0.5, 1.5, 2.5, 3. ]))
    """
    runs, times = _as_runs(largest, times)
    if n is None:
        n = np.arange(1, int(min(r.max() for r in runs)) + 1)
    n = np.asarray(n, dtype=np.int64)
    tau = np.zeros(len(n))
    for r, t in zip(runs, times):
        idx = np.searchsorted(np.maximum.accumulate(r), n, side="left")
        tau += np.where(idx < len(r), t[np.minimum(idx, len(r) - 1)], np.nan)
    return n, tau / len(runs)


_MFPT_POINTS = 4096   # sizes fitted at most (evenly spaced over n_min..n_max)


def _mfpt_model(n, n_star, z, tau_j):
    return 0.5 * tau_j * (1.0 + erf(z * np.sqrt(np.pi) * (n - n_star)))


@dataclass(frozen=True)
class MFPTResult:
    """Fit of tau(n) = (tau_J / 2) [1 + erf(Z sqrt(pi) (n - n*))] (Wedekind et al. 2007).

    Attributes
    ----------
    n_star, z, tau_j : float
        Critical size, Zeldovich factor, nucleation time (in the units of ``times``).
    rate : float
        J = 1 / (tau_J V) (NaN without a volume).
    n_star_err, z_err, tau_j_err, rate_err : float
        One standard deviation from the fit covariance (all tau(n) share the same runs,
        so these understate the run-to-run error of tau_J, ~ tau_J / sqrt(n_runs)).
    n : ndarray of int64, tau : ndarray of float64 (the fitted points); n_runs : int;
    volume : float or None
    """

    n_star: float
    z: float
    tau_j: float
    rate: float
    n_star_err: float
    z_err: float
    tau_j_err: float
    rate_err: float
    n: np.ndarray
    tau: np.ndarray
    n_runs: int
    volume: float | None

    def curve(self, n):
        """The fitted tau(n), float64 array shaped like ``n``."""
        return _mfpt_model(np.asarray(n, dtype=np.float64), self.n_star, self.z, self.tau_j)

    @property
    def determined(self) -> bool:
        """Whether the fitted sizes pin n* down: it lies among them (the inflection of tau(n)
        is inside the data, not extrapolated past its last size) and its standard error is
        at most half of it.  One run's staircase of first passages that is still rising at
        the last size fitted gives an n* past it, often with an error as large as itself: of
        fifty-three fits on nineteen LAMMPS runs (``benchmarks/bench_labels.py --onset``,
        ``mfpt_n_star``: the crystal-like nuclei, their core and PTM's clusters), five are not
        determined, PTM's on two runs among them; four fail both tests, one (PTM's clusters
        on magnesium at 475 K: 41.5 +- 13.9 past its last size, 34) the first alone."""
        n = np.asarray(self.n)
        return bool(len(n) and n.min() <= self.n_star <= n.max()
                    and np.isfinite(self.n_star_err) and self.n_star_err <= 0.5 * self.n_star)


def mfpt_fit(largest, times=None, *, volume=None, n_min=1, n_max=None):
    """Critical size, Zeldovich factor and rate by the mean first-passage-time method.

    Fits ``tau(n) = (tau_J/2)[1 + erf(Z sqrt(pi) (n - n*))]`` (scipy ``curve_fit``) to
    :func:`first_passage_times` over one or several runs; ``J = 1 / (tau_J V)``.

    Parameters
    ----------
    largest, times : as in :func:`first_passage_times`
    volume : float, optional
        Volume of the system (e.g. ``frame.box.volume``) for the rate.
    n_min, n_max : int, optional
        Sizes fitted; ``n_max`` defaults to the smallest maximum over runs.  Past the
        critical size tau(n) keeps rising by the growth time: cap ``n_max`` (e.g.
        2-3 n*) when growth is slow compared to tau_J.  Over a range of more than
        4,096 sizes, 4,096 evenly spaced ones are fitted.

    Returns
    -------
    result : MFPTResult

    Examples
    --------
    >>> from scipy.special import erfinv
    >>> t = np.linspace(0, 100, 1001)  # two runs crossing the barrier at t = 60 and 90
    >>> runs = [np.floor(30 + erfinv(np.clip(2 * t / T - 1, -0.999, 0.999))
    ...                  / (0.1 * np.sqrt(np.pi))) for T in (60, 90)]
    >>> fit = mfpt_fit(runs, t)
    >>> round(fit.n_star, 1), round(fit.z, 2), round(fit.tau_j)
    (30.0, 0.1, 75)
    """
    runs, _ = _as_runs(largest, times)
    top = int(min(r.max() for r in runs))
    n_max = top if n_max is None else min(int(n_max), top)
    check_scalar(n_min, "n_min", Integral, min_val=0)
    n, tau = first_passage_times(largest, times, n=np.arange(n_min, n_max + 1))
    ok = np.isfinite(tau)
    n, tau = n[ok], tau[ok]
    if len(n) < 4:
        raise ValueError(f"only {len(n)} sizes to fit (n_min={n_min}, n_max={n_max}); "
                         "the runs must reach larger nuclei")
    from scipy.optimize import curve_fit

    if len(n) > _MFPT_POINTS:   # a 10^5-atom nucleus gives 10^5 sizes: fit an even subset
        keep = np.unique(np.linspace(0, len(n) - 1, _MFPT_POINTS).round().astype(np.int64))
        n, tau = n[keep], tau[keep]
    tau_j0 = max(float(tau.max()), 1e-12)
    n_star0 = float(n[np.argmax(tau >= tau_j0 / 2)])
    slope = float(np.max(np.gradient(tau, n))) if len(n) > 1 else 0.0
    z0 = slope / tau_j0 if slope > 0 else 1.0 / max(n[-1] - n[0], 1)
    span = float(n[-1] - n[0])
    with np.errstate(all="ignore"):
        popt, pcov = curve_fit(_mfpt_model, n.astype(np.float64), tau, p0=[n_star0, z0, tau_j0],
                               bounds=([n[0] - span, 1e-9, 1e-12], [n[-1] + span, np.inf, np.inf]),
                               maxfev=20000)
    err = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.full(3, np.nan)
    n_star, z, tau_j = (float(x) for x in popt)
    rate = 1.0 / (tau_j * volume) if volume else np.nan
    return MFPTResult(n_star, z, tau_j, rate, *map(float, err), float(rate * err[2] / tau_j),
                      n, tau, len(runs), volume)


def mfpt_after_onset(largest, onset, times=None, *, volume=None):
    """:func:`mfpt_fit` of one run's largest-nucleus series as ``crystopo analyze`` makes it:
    the sizes fitted reach twice the nucleus at ``onset`` (past it, growth, not nucleation,
    sets the first-passage times); None when there is no onset object or the onset is at the
    first frame (``onset.at_start``: a nucleus before the frames, whose first passages are
    growth's).  ``onset``: a :class:`~multilayer.tracking.onset.Onset` of ``largest`` (its
    ``frame`` None: every size is fitted).  A fit that fails raises as :func:`mfpt_fit` does.

    Examples
    --------
    >>> from multilayer.tracking.onset import Onset
    >>> sizes = np.array([3, 5, 4, 6, 9, 14, 22, 35, 60, 90, 140, 220])
    >>> fit = mfpt_after_onset(sizes, Onset(frame=6, threshold=13))
    >>> int(fit.n.max())                        # twice the 22 atoms at the onset
    44
    >>> mfpt_after_onset(sizes, Onset(frame=0, threshold=13, at_start=True)) is None
    True
    """
    if onset is None or getattr(onset, "at_start", False):
        return None
    largest = np.asarray(largest)
    o = getattr(onset, "frame", None)
    n_max = int(2 * largest[o]) if o is not None and largest[o] > 0 else None
    return mfpt_fit(largest, times, volume=volume, n_max=n_max)
