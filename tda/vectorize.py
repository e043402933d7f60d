"""Fixed-length per-atom features from persistence diagrams (numba, parallel over atoms).

Four methods, each computed per homology dimension and concatenated in ``dims`` order:

* ``"image"``: persistence images (Adams et al. 2017) in (birth, persistence)
  coordinates: each pair is a Gaussian of width ``sigma`` pixels, weighted by its
  persistence relative to the range, integrated over each pixel.  Births in H0 are
  all 0 for alpha and Rips filtrations, so H0 gets a 1-d profile over persistence
  (``resolution`` features); higher dimensions get ``resolution**2`` features
  (row-major, rows = persistence, columns = birth).
* ``"betti"``: Betti curves ``beta(t) = #{pairs: birth <= t < death}`` at ``resolution``
  bin centres of the range.
* ``"landscape"``: the ``n_layers`` largest tent functions ``max(0, min(t - b, d - t))``
  at the same ``resolution`` points (layer-major).
* ``"stats"``: count, total / max / mean / std of persistence, persistent entropy,
  mean birth, mean death, then the ``quantiles`` of births and of deaths.  An atom with
  no pair in a dimension gets zeros.

**Infinite deaths are dropped** before any vectorisation: the one essential H0 class
(birth 0, death inf) is the same for every atom and carries no information, and no
other essential class occurs for alpha or (coned) Rips neighbourhoods.

**Ranges** (``[t_min, t_max]`` per dimension: the smallest finite birth and the largest
finite death) set the grids.  For features comparable across frames, learn them once
with :class:`DiagramVectorizer` ``.fit`` on a sample (e.g. atoms of several frames
via :meth:`Diagrams.concatenate`) and ``transform`` every frame with them; the
function :func:`vectorize` learns them from its own input when ``ranges`` is None.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numba
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .diagrams import Diagrams

__all__ = ["vectorize", "diagram_ranges", "DiagramVectorizer", "METHODS", "STATS"]

METHODS = ("image", "betti", "landscape", "stats")
STATS = ("count", "total_persistence", "max_persistence", "mean_persistence",
         "std_persistence", "entropy", "mean_birth", "mean_death")
_DEFAULT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


# ------------------------------------------------------------------------------------------
# numba kernels: (offsets, birth, death, dim[pair], slot_of[dim], ...) -> out (n_atoms, n_features) float32
# ------------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def _pixel_mass(lo, width, n, centre, sigma, out):
    """Gaussian mass N(centre, sigma) in pixels [lo + i w, lo + (i+1) w), i < n -> out."""
    inv = 1.0 / (sigma * math.sqrt(2.0))
    prev = 0.5 * math.erfc(-(lo - centre) * inv)
    for i in range(n):
        cur = 0.5 * math.erfc(-(lo + (i + 1) * width - centre) * inv)
        out[i] = cur - prev
        prev = cur


@numba.njit(cache=True, parallel=True)
def _images(offsets, birth, death, dim, slot_of, start, minp, flat, lo, hi, res, sigma, weighted, out):
    n = len(offsets) - 1
    for a in numba.prange(n):
        gx = np.empty(res)
        gy = np.empty(res)
        for q in range(offsets[a], offsets[a + 1]):
            s = slot_of[dim[q]]
            if s < 0 or not math.isfinite(death[q]) or death[q] - birth[q] <= minp[s]:
                continue
            span = hi[s] - lo[s]
            pers = death[q] - birth[q]
            weight = min(pers / span, 1.0) if weighted else 1.0
            _pixel_mass(0.0, span / res, res, pers, sigma * span / res, gy)
            base = start[s]
            if flat[s]:
                for i in range(res):
                    out[a, base + i] += weight * gy[i]
            else:
                _pixel_mass(lo[s], span / res, res, birth[q], sigma * span / res, gx)
                for i in range(res):
                    wy = weight * gy[i]
                    if wy == 0.0:  # erfc underflows beyond ~38 sigma
                        continue
                    row = base + i * res
                    for j in range(res):
                        out[a, row + j] += wy * gx[j]


@numba.njit(cache=True, parallel=True)
def _betti(offsets, birth, death, dim, slot_of, start, minp, lo, hi, res, out):
    n = len(offsets) - 1
    for a in numba.prange(n):
        for q in range(offsets[a], offsets[a + 1]):
            s = slot_of[dim[q]]
            if s < 0 or not math.isfinite(death[q]) or death[q] - birth[q] <= minp[s]:
                continue
            step = (hi[s] - lo[s]) / res
            for i in range(res):
                t = lo[s] + (i + 0.5) * step
                if birth[q] <= t < death[q]:
                    out[a, start[s] + i] += 1.0


@numba.njit(cache=True, parallel=True)
def _landscapes(offsets, birth, death, dim, slot_of, start, minp, lo, hi, res, n_layers, out):
    n = len(offsets) - 1
    for a in numba.prange(n):
        top = np.zeros(n_layers)
        for s in range(len(lo)):
            step = (hi[s] - lo[s]) / res
            for i in range(res):
                t = lo[s] + (i + 0.5) * step
                top[:] = 0.0
                for q in range(offsets[a], offsets[a + 1]):
                    if slot_of[dim[q]] != s or not math.isfinite(death[q]) \
                            or death[q] - birth[q] <= minp[s]:
                        continue
                    v = min(t - birth[q], death[q] - t)
                    if v <= top[n_layers - 1]:
                        continue
                    j = n_layers - 1  # insert into the sorted (descending) top list
                    while j > 0 and top[j - 1] < v:
                        top[j] = top[j - 1]
                        j -= 1
                    top[j] = v
                for k in range(n_layers):
                    out[a, start[s] + k * res + i] = top[k]


@numba.njit(cache=True, nogil=True)
def _quantile_sorted(x, n, p):
    """numpy's default (linear) quantile of the sorted x[:n]."""
    pos = p * (n - 1)
    i = int(math.floor(pos))
    if i >= n - 1:
        return x[n - 1]
    return x[i] + (pos - i) * (x[i + 1] - x[i])


@numba.njit(cache=True, nogil=True)
def _sort_small(x, n):
    """Sort x[:n] in place: insertion sort for the few dozen pairs of one atom."""
    if n > 64:
        x[:n] = np.sort(x[:n])
        return
    for i in range(1, n):
        v = x[i]
        j = i - 1
        while j >= 0 and x[j] > v:
            x[j + 1] = x[j]
            j -= 1
        x[j + 1] = v


@numba.njit(cache=True, parallel=True)
def _stats(offsets, birth, death, dim, slot_of, start, minp, n_slots, quantiles, out, n_chunks):
    """Stats per slot, written once per feature: ``out`` may be float32 (one rounding).

    One pass sorts each atom's pairs into per-slot buffers (kept in pair order, so every
    sum runs in the same order as a scan per slot); buffers live per chunk of atoms
    (``n_chunks``: a few per thread balance the load; the result does not depend on it).
    """
    n = len(offsets) - 1
    nq = len(quantiles)
    longest = 0
    for a in range(n):
        longest = max(longest, offsets[a + 1] - offsets[a])
    n_chunks = min(n, n_chunks)
    for ch in numba.prange(n_chunks):
        bs = np.empty((n_slots, longest))
        ds = np.empty((n_slots, longest))
        ps = np.empty((n_slots, longest))
        cnt = np.empty(n_slots, dtype=np.int64)
        tot = np.empty(n_slots)
        mx = np.empty(n_slots)
        sb = np.empty(n_slots)
        sd = np.empty(n_slots)
        for a in range(ch * n // n_chunks, (ch + 1) * n // n_chunks):
            cnt[:] = 0
            tot[:] = 0.0
            mx[:] = 0.0
            sb[:] = 0.0
            sd[:] = 0.0
            for q in range(offsets[a], offsets[a + 1]):
                s = slot_of[dim[q]]
                if s < 0 or not math.isfinite(death[q]) or death[q] - birth[q] <= minp[s]:
                    continue
                p = death[q] - birth[q]
                c = cnt[s]
                bs[s, c] = birth[q]
                ds[s, c] = death[q]
                ps[s, c] = p
                cnt[s] = c + 1
                tot[s] += p
                mx[s] = max(mx[s], p)
                sb[s] += birth[q]
                sd[s] += death[q]
            for s in range(n_slots):
                c = cnt[s]
                o = start[s]
                if c == 0:
                    for k in range(8 + 2 * nq):
                        out[a, o + k] = 0.0
                    continue
                t = tot[s]
                mean = t / c
                var = 0.0
                ent = 0.0
                for k in range(c):
                    p = ps[s, k]
                    var += (p - mean) ** 2
                    if p > 0 and t > 0:
                        ent -= (p / t) * math.log(p / t)
                out[a, o + 0] = c
                out[a, o + 1] = t
                out[a, o + 2] = mx[s]
                out[a, o + 3] = mean
                out[a, o + 4] = math.sqrt(var / c)
                out[a, o + 5] = ent
                out[a, o + 6] = sb[s] / c
                out[a, o + 7] = sd[s] / c
                b = bs[s]
                d = ds[s]
                _sort_small(b, c)
                _sort_small(d, c)
                for k in range(nq):
                    out[a, o + 8 + k] = _quantile_sorted(b, c, quantiles[k])
                    out[a, o + 8 + nq + k] = _quantile_sorted(d, c, quantiles[k])


# ------------------------------------------------------------------------------------------
# the function
# ------------------------------------------------------------------------------------------

def _check_dims(diagrams, dims):
    if dims is None:
        return tuple(range(diagrams.max_dim + 1))
    dims = tuple(int(q) for q in np.atleast_1d(dims))
    if not dims or any(not 0 <= q <= 2 for q in dims) or len(set(dims)) != len(dims):
        raise ValueError(f"dims must be distinct homology dimensions in 0..2, got {dims!r}")
    return dims


def diagram_ranges(diagrams: Diagrams, dims=None) -> np.ndarray:
    """``[t_min, t_max]`` per dimension over the finite pairs, float64 (len(dims), 2).

    ``t_min`` is the smallest birth and ``t_max`` the largest finite death; a
    dimension without finite pairs gets ``[0, 1]``, an empty interval is widened.

    Examples
    --------
    >>> dg = Diagrams([0, 3], [0.0, 0.5, 0.6], [np.inf, 1.0, 0.9], [0, 1, 1])
    >>> diagram_ranges(dg, dims=(0, 1)).tolist()
    [[0.0, 1.0], [0.5, 1.0]]
    """
    if not isinstance(diagrams, Diagrams):
        raise TypeError(f"diagrams must be a Diagrams, got {type(diagrams).__name__}")
    dims = _check_dims(diagrams, dims)
    out = np.zeros((len(dims), 2))
    finite = np.isfinite(diagrams.death)
    for s, q in enumerate(dims):
        sel = finite & (diagrams.dim == q)
        if not sel.any():
            out[s] = (0.0, 1.0)
            continue
        lo, hi = float(diagrams.birth[sel].min()), float(diagrams.death[sel].max())
        if hi <= lo:
            hi = lo + max(abs(lo), 1.0) * 1e-6
        out[s] = (lo, hi)
    return out


def _n_features(method, dims, resolution, n_layers, n_quantiles):
    if method == "image":
        return [resolution if q == 0 else resolution ** 2 for q in dims]
    if method == "betti":
        return [resolution] * len(dims)
    if method == "landscape":
        return [n_layers * resolution] * len(dims)
    return [len(STATS) + 2 * n_quantiles] * len(dims)


def _check_params(method, resolution, sigma, n_layers, quantiles, weight, min_persistence=None):
    if method not in METHODS:
        raise ValueError(f"method={method!r} unknown; choose from {METHODS}")
    if not isinstance(resolution, Integral) or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    if not isinstance(sigma, Real) or not sigma > 0:
        raise ValueError(f"sigma must be > 0 (in pixels), got {sigma!r}")
    if not isinstance(n_layers, Integral) or n_layers < 1:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
    q = np.asarray(quantiles, dtype=np.float64).ravel()
    if q.size == 0 or np.any((q < 0) | (q > 1)):
        raise ValueError(f"quantiles must be values in [0, 1], got {quantiles!r}")
    if weight not in ("persistence", "none"):
        raise ValueError(f"weight={weight!r}; choose 'persistence' or 'none'")
    if min_persistence is not None and not (isinstance(min_persistence, Real)
                                            and min_persistence >= 0):
        raise ValueError(f"min_persistence must be None or a number >= 0, got {min_persistence!r}")
    return q


def vectorize(diagrams: Diagrams, method: str = "image", *, dims=None, ranges=None,
              resolution: int = 20, sigma: float = 1.0, n_layers: int = 3,
              quantiles=_DEFAULT_QUANTILES, weight: str = "persistence",
              min_persistence=None) -> np.ndarray:
    """Per-atom feature vectors of fixed length from persistence diagrams.

    Parameters
    ----------
    diagrams : Diagrams
    method : {"image", "betti", "landscape", "stats"}
    dims : sequence of int, optional
        Homology dimensions to include, in this order (default ``0..max_dim``).
    ranges : array of shape (len(dims), 2), optional
        ``[t_min, t_max]`` per dimension; default :func:`diagram_ranges` of
        ``diagrams`` (so features are *not* comparable across calls: fit a
        :class:`DiagramVectorizer` instead).
    resolution : int
        Pixels per axis (image) or sample points (betti, landscape).
    sigma : float
        Gaussian width of persistence images, in pixels.
    n_layers : int
        Landscape layers.
    quantiles : sequence of float in [0, 1]
        Quantiles of births and deaths for ``"stats"``.
    weight : {"persistence", "none"}
        Image weight: persistence / (t_max - t_min), capped at 1, or 1.
    min_persistence : float, optional
        Ignore pairs with ``death - birth <= min_persistence``.  Default: ``1e-9`` of
        each dimension's range, which removes the few-ulp pairs that round-off leaves
        where exact values tie (perfect lattices) and nothing else.

    Returns
    -------
    features : ndarray of shape (n_atoms, n_features), float32
        Finite; infinite deaths are dropped (see the module docstring).

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> from tda import local_persistence
    >>> dg = local_persistence(make_lattice("fcc", 3), r_cut=1.2)
    >>> vectorize(dg, "betti", resolution=10).shape
    (108, 30)
    """
    if not isinstance(diagrams, Diagrams):
        raise TypeError(f"diagrams must be a Diagrams, got {type(diagrams).__name__}")
    q = _check_params(method, resolution, sigma, n_layers, quantiles, weight, min_persistence)
    dims = _check_dims(diagrams, dims)
    if ranges is None:
        ranges = diagram_ranges(diagrams, dims)
    ranges = np.asarray(ranges, dtype=np.float64)
    if ranges.shape != (len(dims), 2) or not np.isfinite(ranges).all() \
            or np.any(ranges[:, 1] <= ranges[:, 0]):
        raise ValueError(f"ranges must be finite [t_min < t_max] rows, one per dim in {dims}, "
                         f"got {ranges.tolist()}")
    sizes = _n_features(method, dims, resolution, n_layers, len(q))
    start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    slot_of = np.full(256, -1, dtype=np.int64)     # by dim as uint8: other dims are skipped
    slot_of[list(dims)] = np.arange(len(dims))
    span = ranges[:, 1] - ranges[:, 0]
    if min_persistence is None:
        minp = 1e-9 * span
    else:
        minp = np.full(len(dims), float(min_persistence))
    if method == "stats":  # every feature written once: round to float32 on the way
        out = np.empty((diagrams.n_atoms, int(start[-1])), dtype=np.float32)
    else:
        out = np.zeros((diagrams.n_atoms, int(start[-1])))
    # each pair's slot looked up in the kernels (slot_of[dim]): no gathered int64 array of all
    # pairs (280 MB and a serial pass at 10^6 atoms)
    args = (diagrams.offsets, diagrams.birth, diagrams.death, diagrams.dim.view(np.uint8), slot_of,
            start[:-1], minp)
    lo = np.ascontiguousarray(ranges[:, 0])
    hi = np.ascontiguousarray(ranges[:, 1])
    if method == "image":
        flat = np.array([q_ == 0 for q_ in dims])
        _images(*args, flat, lo, hi, int(resolution), float(sigma), weight == "persistence", out)
    elif method == "betti":
        _betti(*args, lo, hi, int(resolution), out)
    elif method == "landscape":
        _landscapes(*args, lo, hi, int(resolution), int(n_layers), out)
    else:
        _stats(*args, len(dims), q, out, 64 * numba.get_num_threads())
    return out if out.dtype == np.float32 else out.astype(np.float32)


def feature_names(method, dims, *, resolution=20, n_layers=3, quantiles=_DEFAULT_QUANTILES):
    """Names of the columns :func:`vectorize` returns, e.g. ``"H1_image_3_4"``."""
    names = []
    for qd in dims:
        h = f"H{qd}"
        if method == "image":
            names += ([f"{h}_image_{i}" for i in range(resolution)] if qd == 0 else
                      [f"{h}_image_{i}_{j}" for i in range(resolution) for j in range(resolution)])
        elif method == "betti":
            names += [f"{h}_betti_{i}" for i in range(resolution)]
        elif method == "landscape":
            names += [f"{h}_landscape_{k}_{i}" for k in range(n_layers) for i in range(resolution)]
        else:
            names += [f"{h}_{s}" for s in STATS]
            names += [f"{h}_birth_q{p:g}" for p in quantiles]
            names += [f"{h}_death_q{p:g}" for p in quantiles]
    return names


class DiagramVectorizer(TransformerMixin, BaseEstimator):
    """Learn filtration ranges on a sample once, then vectorise every frame with them.

    Parameters are those of :func:`vectorize`.

    Attributes
    ----------
    dims_ : tuple of int
    ranges_ : ndarray of shape (len(dims_), 2), float64
    n_features_out_ : int

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> from tda import local_persistence
    >>> fit_dg = local_persistence(make_lattice("fcc", 3, noise=0.05, seed=0), r_cut=1.2)
    >>> vec = DiagramVectorizer("stats", dims=(1, 2)).fit(fit_dg)
    >>> vec.transform(local_persistence(make_lattice("bcc", 3), r_cut=1.2)).shape
    (54, 36)
    """

    def __init__(self, method="image", *, dims=None, resolution=20, sigma=1.0, n_layers=3,
                 quantiles=_DEFAULT_QUANTILES, weight="persistence", min_persistence=None):
        self.method = method
        self.dims = dims
        self.resolution = resolution
        self.sigma = sigma
        self.n_layers = n_layers
        self.quantiles = quantiles
        self.weight = weight
        self.min_persistence = min_persistence

    def fit(self, diagrams, y=None):
        """Learn ``ranges_`` from ``diagrams`` (a :class:`Diagrams`, e.g. a sample of frames)."""
        if not isinstance(diagrams, Diagrams):
            raise TypeError(f"diagrams must be a Diagrams, got {type(diagrams).__name__}")
        q = _check_params(self.method, self.resolution, self.sigma, self.n_layers,
                          self.quantiles, self.weight, self.min_persistence)
        self.dims_ = _check_dims(diagrams, self.dims)
        self.ranges_ = diagram_ranges(diagrams, self.dims_)
        self.n_features_out_ = int(sum(_n_features(self.method, self.dims_, self.resolution,
                                                   self.n_layers, len(q))))
        return self

    def transform(self, diagrams):
        """Features (n_atoms, n_features_out_) float32 on the fitted ranges."""
        check_is_fitted(self, "ranges_")
        return vectorize(diagrams, self.method, dims=self.dims_, ranges=self.ranges_,
                         resolution=self.resolution, sigma=self.sigma, n_layers=self.n_layers,
                         quantiles=self.quantiles, weight=self.weight,
                         min_persistence=self.min_persistence)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "ranges_")
        return np.asarray(feature_names(self.method, self.dims_, resolution=self.resolution,
                                        n_layers=self.n_layers, quantiles=tuple(self.quantiles)),
                          dtype=object)
