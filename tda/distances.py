"""Distances between persistence diagrams, and class-averaged (Frechet mean) diagrams.

* Bottleneck distance: ``gudhi.bottleneck_distance`` (exact, ``e=0``).
* Wasserstein distance: an optimal assignment on the augmented cost matrix
  (each point may also go to its projection on the diagonal) with
  ``scipy.optimize.linear_sum_assignment``; gudhi's own ``gudhi.wasserstein`` needs
  POT, which is not a crystopo dependency.  ``order`` is the exponent ``p`` and
  ``internal_p`` the ground metric (``inf``: the max norm, as gudhi's default).
* Essential points (``death = inf``) are matched among themselves by birth; diagrams
  with different numbers of essential points are at infinite distance.
* :func:`mean_diagram`: Frechet mean in the 2-Wasserstein sense (Turner, Mileyko,
  Mukherjee & Harer 2014): match every diagram to the current mean, move each mean
  point to the average of its partners (a diagonal partner counts as the mean
  point's own projection), repeat until the matchings stop changing.  Use it to
  compare *classes* of atoms: ``diagram_distances([mean_diagram(dg, atoms=c) for c in classes])``.
"""
from __future__ import annotations

from numbers import Real

import numpy as np

from .diagrams import Diagrams

__all__ = ["bottleneck_distance", "wasserstein_distance", "diagram_distances", "mean_diagram"]


def _as_points(x, name):
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name}.shape must be (n_points, 2) (birth, death), got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def _essential_cost(a, b, order):
    """Cost of matching essential points by birth (sorted); inf if counts differ."""
    ea = np.sort(a[~np.isfinite(a[:, 1]), 0])
    eb = np.sort(b[~np.isfinite(b[:, 1]), 0])
    if len(ea) != len(eb):
        return np.inf
    return float(np.sum(np.abs(ea - eb) ** order))


def bottleneck_distance(a, b) -> float:
    """Bottleneck distance between two diagrams (k, 2) (birth, death), exact.

    Examples
    --------
    >>> round(bottleneck_distance([[0.0, 1.0]], [[0.0, 1.25]]), 12)
    0.25
    """
    import gudhi

    a = _as_points(a, "a")
    b = _as_points(b, "b")
    return float(gudhi.bottleneck_distance(a, b, e=0))


def wasserstein_distance(a, b, *, order: float = 1.0, internal_p: float = np.inf) -> float:
    """p-Wasserstein distance between two diagrams (k, 2), ground metric L_internal_p.

    Examples
    --------
    >>> round(wasserstein_distance([[0.0, 1.0]], [[0.0, 1.25], [0.5, 0.75]]), 12)  # 0.25 + 0.125
    0.375
    """
    from scipy.optimize import linear_sum_assignment

    if not isinstance(order, Real) or not order >= 1:
        raise ValueError(f"order must be >= 1, got {order!r}")
    if not isinstance(internal_p, Real) or not internal_p >= 1:
        raise ValueError(f"internal_p must be >= 1 (or inf), got {internal_p!r}")
    a = _as_points(a, "a")
    b = _as_points(b, "b")
    ess = _essential_cost(a, b, order)
    if not np.isfinite(ess):
        return np.inf
    a = a[np.isfinite(a[:, 1])]
    b = b[np.isfinite(b[:, 1])]
    n, m = len(a), len(b)
    if n + m == 0:
        return float(ess ** (1.0 / order))
    diag_factor = 0.5 if np.isinf(internal_p) else 0.5 * 2.0 ** (1.0 / internal_p)
    da = (diag_factor * np.abs(a[:, 1] - a[:, 0])) ** order
    db = (diag_factor * np.abs(b[:, 1] - b[:, 0])) ** order
    cost = np.zeros((n + m, n + m))
    diff = np.abs(a[:, None, :] - b[None, :, :])
    ground = diff.max(axis=2) if np.isinf(internal_p) else \
        (diff ** internal_p).sum(axis=2) ** (1.0 / internal_p)
    cost[:n, :m] = ground ** order
    cost[:n, m:] = da[:, None]
    cost[n:, :m] = db[None, :]
    rows, cols = linear_sum_assignment(cost)
    return float((cost[rows, cols].sum() + ess) ** (1.0 / order))


def _diagram_list(x, dim, atoms, name):
    if isinstance(x, Diagrams):
        idx = range(x.n_atoms) if atoms is None else np.arange(x.n_atoms)[np.asarray(atoms)]
        return [x.diagram(int(i), dim) for i in np.atleast_1d(idx)]
    if atoms is not None:
        raise ValueError(f"atoms only applies when {name} is a Diagrams")
    return [_as_points(d, f"{name}[{i}]") for i, d in enumerate(x)]


def diagram_distances(a, b=None, *, dim: int = 1, metric: str = "bottleneck",
                      order: float = 1.0, internal_p: float = np.inf, atoms=None,
                      atoms_b=None) -> np.ndarray:
    """Matrix of distances between the diagrams of atoms, or of any diagrams.

    Parameters
    ----------
    a, b : Diagrams or sequence of (k, 2) arrays
        ``b`` defaults to ``a`` (a symmetric matrix with a zero diagonal).
    dim : int
        Homology dimension compared (when ``a``/``b`` are Diagrams).
    metric : {"bottleneck", "wasserstein"}
    order, internal_p : float
        Wasserstein parameters (see :func:`wasserstein_distance`).
    atoms, atoms_b : array of int or bool, optional
        Atoms of ``a`` / ``b`` to compare (default all; one gudhi or scipy call per pair,
        so keep this to hundreds of atoms).

    Returns
    -------
    distances : ndarray of shape (n_a, n_b), float64

    Examples
    --------
    >>> diagram_distances([[[0.0, 1.0]], [[0.0, 1.5]]], dim=0).tolist()
    [[0.0, 0.5], [0.5, 0.0]]
    """
    if metric not in ("bottleneck", "wasserstein"):
        raise ValueError(f"metric={metric!r}; choose 'bottleneck' or 'wasserstein'")
    la = _diagram_list(a, dim, atoms, "a")
    symmetric = b is None
    lb = la if symmetric else _diagram_list(b, dim, atoms_b, "b")
    out = np.zeros((len(la), len(lb)))
    for i, da in enumerate(la):
        for j in range(i + 1 if symmetric else 0, len(lb)):
            if metric == "bottleneck":
                out[i, j] = bottleneck_distance(da, lb[j])
            else:
                out[i, j] = wasserstein_distance(da, lb[j], order=order, internal_p=internal_p)
            if symmetric:
                out[j, i] = out[i, j]
    return out


def _match(y, x):
    """Optimal W2 matching of mean points y (n, 2) to diagram x (m, 2): partner of each y
    (index into x, or -1 for the diagonal)."""
    from scipy.optimize import linear_sum_assignment

    n, m = len(y), len(x)
    cost = np.zeros((n + m, n + m))
    cost[:n, :m] = ((y[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    cost[:n, m:] = ((y[:, 1] - y[:, 0]) ** 2 / 2.0)[:, None]
    cost[n:, :m] = ((x[:, 1] - x[:, 0]) ** 2 / 2.0)[None, :]
    rows, cols = linear_sum_assignment(cost)
    partner = np.full(n, -1)
    sel = (rows < n) & (cols < m)
    partner[rows[sel]] = cols[sel]
    return partner


def mean_diagram(diagrams, *, dim: int = 1, atoms=None, max_iter: int = 50,
                 seed=0) -> np.ndarray:
    """Frechet mean (2-Wasserstein) of several diagrams' finite points, (k, 2) float64.

    Parameters
    ----------
    diagrams : Diagrams or sequence of (k, 2) arrays
    dim : int
    atoms : array of int or bool, optional
        The atoms (e.g. one structural class) whose diagrams are averaged.
    max_iter : int
    seed : int or Generator
        Picks the starting diagram among those with the median number of points.

    Examples
    --------
    >>> mean_diagram([[[0.0, 1.0]], [[0.0, 2.0]]], dim=0).tolist()
    [[0.0, 1.5]]
    """
    dgs = [d[np.isfinite(d[:, 1])] for d in _diagram_list(diagrams, dim, atoms, "diagrams")]
    if not dgs:
        raise ValueError("no diagrams to average")
    rng = np.random.default_rng(seed)
    sizes = np.array([len(d) for d in dgs])
    median = np.flatnonzero(sizes == np.sort(sizes)[len(sizes) // 2])
    y = dgs[int(rng.choice(median))].copy()
    if len(y) == 0:
        return np.zeros((0, 2))
    previous = None
    for _ in range(max_iter):
        partners = [_match(y, x) for x in dgs]
        proj = np.repeat(((y[:, 0] + y[:, 1]) / 2.0)[:, None], 2, axis=1)
        total = np.zeros_like(y)
        for x, p in zip(dgs, partners):
            total += np.where((p >= 0)[:, None], x[np.maximum(p, 0)], proj)
        y = total / len(dgs)
        key = np.concatenate(partners)
        if previous is not None and np.array_equal(key, previous):
            break
        previous = key
    keep = y[:, 1] - y[:, 0] > 1e-12 * max(1.0, float(np.abs(y).max()))
    y = y[keep]
    return y[np.lexsort((y[:, 1], y[:, 0]))]
