"""Moving averages of per-atom features over frames, matched by atom id.

Thermal vibrations blur per-frame descriptors; averaging each atom's descriptor
over a few frames sharpens crystal against liquid (Becker et al. and the SOAP /
PaCMAP study average descriptors over 0.4-0.8 ps).  Atoms may appear and vanish:
each atom of frame t is averaged over the frames of its window in which it exists.

:func:`moving_average` streams: it reads each input frame once, holds at most
``window`` frames, and keeps running sums (float64) over the union of the ids in
the window, so its cost per frame does not grow with the window.
:class:`TimeAveragedFrames` is the random-access twin (a lazy sequence, as
:func:`multilayer.build_network` reads) that re-reads the window for every frame.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from numbers import Integral

import numpy as np

from descriptors.arrays import has_duplicates

__all__ = ["moving_average", "TimeAveragedFrames", "window_bounds"]


def window_bounds(t: int, n_frames: int, window: int, centered: bool = True) -> tuple[int, int]:
    """Frames ``[lo, hi)`` averaged into frame ``t`` (clipped at the ends of the run).

    Centred windows take ``(window - 1) // 2`` frames before ``t`` and ``window // 2``
    after; causal windows take ``window - 1`` frames before ``t``.

    Examples
    --------
    >>> window_bounds(0, 10, 3), window_bounds(5, 10, 3), window_bounds(5, 10, 3, centered=False)
    ((0, 2), (4, 7), (3, 6))
    """
    before = (window - 1) // 2 if centered else window - 1
    after = window // 2 if centered else 0
    return max(0, t - before), min(n_frames, t + after + 1)


def _check_window(window, n_frames=None):
    if isinstance(window, bool) or not isinstance(window, Integral) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got window={window!r}")
    if n_frames is not None and window > n_frames:
        raise ValueError(f"window={window} is longer than the trajectory ({n_frames} frames)")
    return int(window)


def _split(item, t):
    """(ids int64 (n,), x float (n, d), rebuild) from an (ids, features) pair."""
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        raise ValueError(f"frame {t}: expected an (ids, features) pair, got {type(item).__name__}")
    ids, feats = item
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"frame {t}: ids must be a 1-d integer array, got shape {ids.shape} "
                         f"dtype {ids.dtype}")
    if has_duplicates(ids):
        raise ValueError(f"frame {t}: duplicate atom ids")
    if isinstance(feats, Mapping):
        names = list(feats)
        parts = [np.asarray(feats[k]) for k in names]
        shapes = [p.shape[1:] for p in parts]
        flat = [p.reshape(len(p), -1) for p in parts]
        widths = [f.shape[1] for f in flat]
        x = np.concatenate(flat, axis=1) if flat else np.zeros((len(ids), 0))
        dtypes = [p.dtype if p.dtype.kind == "f" else np.dtype(np.float32) for p in parts]

        def rebuild(y):
            out, s = {}, 0
            for k, w, shp, dt in zip(names, widths, shapes, dtypes):
                out[k] = y[:, s:s + w].reshape((len(y),) + shp).astype(dt, copy=False)
                s += w
            return out
    else:
        arr = np.asarray(feats)
        shape = arr.shape[1:]
        dt = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
        x = arr.reshape(len(arr), -1) if arr.ndim else arr

        def rebuild(y):
            return y.reshape((len(y),) + shape).astype(dt, copy=False)
    if x.ndim != 2 or len(x) != len(ids):
        raise ValueError(f"frame {t}: features have {len(x) if x.ndim else 0} rows but ids has "
                         f"{len(ids)}")
    if not np.isfinite(x).all():
        raise ValueError(f"frame {t}: features contain NaN or inf")
    return ids.astype(np.int64), x, rebuild


def moving_average(frames, window: int, *, centered: bool = True):
    """Stream the moving average of per-atom features over ``window`` frames.

    Parameters
    ----------
    frames : iterable of (ids, features)
        ``ids`` (n_t,) int, ``features`` an array (n_t, ...) or a mapping of them
        (every array averaged).  Read once each, in order; a generator is fine.
    window : int
        Frames per average (1: unchanged).  With a ``len`` the check that the window
        fits the trajectory happens at once, otherwise before the first frame is yielded.
    centered : bool
        Centred window (``t - (w-1)//2 .. t + w//2``), or causal (``t - w + 1 .. t``).

    Yields
    ------
    (ids, averaged) : ndarray (n_t,) int64 and features shaped as given (floating dtypes
        kept, integer and bool inputs averaged into float32), rows as in frame ``t``.

    Examples
    --------
    >>> ids = np.array([1, 2])
    >>> seq = [(ids, np.array([[0.0], [1.0]])), (ids, np.array([[2.0], [1.0]])),
    ...        (ids[:1], np.array([[4.0]]))]
    >>> [a.ravel().tolist() for _, a in moving_average(seq, 3)]
    [[1.0, 1.0], [2.0, 1.0], [3.0]]
    """
    window = _check_window(window, len(frames) if hasattr(frames, "__len__") else None)
    return _stream(frames, window, bool(centered))


def _stream(frames, window, centered):
    after = window // 2 if centered else 0
    before = window - 1 - after
    it = iter(frames)
    buf: deque = deque()       # frames [lo, next_in) held: (ids, x, rebuild)
    universe = np.zeros(0, dtype=np.int64)
    sums = np.zeros((0, 0))
    counts = np.zeros(0, dtype=np.int64)
    pending: deque = deque()   # frames read ahead, not yet in the window
    next_in, n_read, lo, t, done = 0, 0, 0, 0, False

    def add(ids, x, sign):
        nonlocal universe, sums, counts
        if sign > 0:
            new = np.setdiff1d(ids, universe, assume_unique=True)
            if len(new) or sums.shape[1] != x.shape[1]:
                if len(universe) and sums.shape[1] != x.shape[1]:
                    raise ValueError(f"frame {next_in}: {x.shape[1]} feature columns, earlier "
                                     f"frames have {sums.shape[1]}")
                grown = np.union1d(universe, new)
                s2 = np.zeros((len(grown), x.shape[1]))
                c2 = np.zeros(len(grown), dtype=np.int64)
                at = np.searchsorted(grown, universe)
                if len(universe):
                    s2[at], c2[at] = sums, counts
                universe, sums, counts = grown, s2, c2
        slots = np.searchsorted(universe, ids)
        sums[slots] += sign * x          # ids are unique within a frame: no repeated slots
        counts[slots] += sign
        if sign < 0:
            sums[slots[counts[slots] == 0]] = 0.0   # no round-off left for an atom that returns

    sized = hasattr(frames, "__len__")
    while True:
        # read until frame t + after is in (a generator: the first `window` frames, so that a
        # window longer than the input is reported before anything is yielded)
        need = t + after + 1 if sized or t > 0 else max(window, after + 1)
        while not done and n_read < need:
            try:
                item = next(it)
            except StopIteration:
                done = True
                break
            pending.append(_split(item, n_read))
            n_read += 1
        if t == 0 and done and n_read < window:
            raise ValueError(f"window={window} is longer than the trajectory ({n_read} frames)")
        while pending and next_in <= t + after:     # frames entering the window
            ids, x, rebuild = pending.popleft()
            add(ids, x, +1)
            buf.append((ids, x, rebuild))
            next_in += 1
        if t >= next_in:
            return
        # drop frames before t - before
        while lo < t - before:
            ids, x, _ = buf.popleft()
            add(ids, x, -1)
            lo += 1
        if len(universe) > 4 * max(1, sum(len(b[0]) for b in buf)):  # compact vanished ids
            keep = counts > 0
            universe, sums, counts = universe[keep], sums[keep], counts[keep]
        ids, _, rebuild = buf[t - lo]
        slots = np.searchsorted(universe, ids)
        yield ids, rebuild(sums[slots] / counts[slots, None])
        t += 1


class TimeAveragedFrames:
    """Random-access moving average of a lazy sequence of per-frame feature mappings.

    ``TimeAveragedFrames(features, ids, window)[t]`` is frame ``t``'s mapping with every
    array averaged over the frames of its window, matched by id (as :func:`moving_average`,
    which it equals frame by frame).  It can stand in for a FeatureStore view in
    :func:`multilayer.build_network`; each access reads the ``window`` frames again.

    Parameters
    ----------
    features : sequence of mappings {name: ndarray (n_t, ...)} or of arrays
    ids : sequence of int arrays (n_t,), or one array shared by all frames
    window : int
    centered : bool
    """

    def __init__(self, features, ids, window, *, centered=True):
        self.features = features
        self.ids = ids
        self.window = window
        self.centered = centered

    def __len__(self):
        return len(self.features)

    def _ids(self, t):
        ids = self.ids
        return np.asarray(ids if isinstance(ids, np.ndarray) and ids.ndim == 1 else ids[t])

    def __getitem__(self, t):
        n = len(self)
        _check_window(self.window, n)
        if not -n <= t < n:
            raise IndexError(f"frame {t} out of range for {n} frames")
        t = t % n
        lo, hi = window_bounds(t, n, self.window, self.centered)
        seq = [(self._ids(s), self.features[s]) for s in range(lo, hi)]
        return _average_for(seq, t - lo)


def _average_for(seq, k):
    ids_t, x_t, rebuild = _split(seq[k], k)
    sums = np.zeros(x_t.shape)
    counts = np.zeros(len(ids_t), dtype=np.int64)
    order = np.argsort(ids_t)
    sorted_ids = ids_t[order]
    for s, item in enumerate(seq):
        ids, x, _ = _split(item, s)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), len(ids_t) - 1)
        hit = sorted_ids[pos] == ids
        rows = order[pos[hit]]
        sums[rows] += x[hit]
        counts[rows] += 1
    return rebuild(sums / counts[:, None])
