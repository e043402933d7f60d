"""One frame loop for every per-frame pass (features, tracking, classification, propensity
inputs, the labelled trajectory): a progress bar, bad frames skipped and named, and the
frame's neighbour list built once and handed to every consumer of that pass.

In the spirit of MDAnalysis's ``AnalysisBase.run(start, stop, step)``: the loop owns the
iteration, the caller owns the per-frame work.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from descriptors import TrajectoryFormatError

from .progress import progress_bar

__all__ = ["FrameLoop", "select_frames"]

logger = logging.getLogger(__name__)


def select_frames(n_frames: int, frames=None) -> list[int]:
    """Input-frame indices chosen by ``frames``: None (all), a ``slice``, a ``range`` or a
    sequence of ints (negative counts from the end); errors name what was asked."""
    every = range(n_frames)
    if frames is None:
        return list(every)
    if isinstance(frames, slice):
        sel = list(every[frames])
    elif isinstance(frames, range):
        sel = list(frames)
    elif isinstance(frames, str):
        raise TypeError(f"frames={frames!r}: the Python API takes a slice, range or list of "
                        f"ints, e.g. frames=slice(0, None, 5); 'START:STOP:STEP' is the CLI's")
    else:
        sel = [int(i) for i in frames]
    out = []
    for i in sel:
        j = i + n_frames if i < 0 else i
        if not 0 <= j < n_frames:
            raise IndexError(f"frame {i} is out of range for a trajectory of {n_frames} frames")
        out.append(j)
    if not out:
        raise ValueError(f"frames={frames!r} selects no frame of {n_frames}")
    return out


class FrameLoop:
    """Run ``work(i, frame, neighbors)`` over frames ``indices`` of ``trajectory``.

    Parameters
    ----------
    trajectory : indexable sequence of frames (``read_trajectory`` result or a list)
    indices : sequence of int
    neighbors : callable ``frame -> NeighborList``, optional
        Built once per frame and passed to ``work``; None passes None.
    progress : bool
    desc : str
        Label of the progress bar.
    skip : tuple of exception types
        A frame whose reading or work raises one of these is skipped, logged and
        recorded in :attr:`skipped` (``{index: message}``); anything else propagates.
    prefetch : bool
        Read frame i + 1 in a thread while ``work`` runs on frame i (the reader's parser
        runs without the GIL): one frame more is held.  Errors of a read are raised when
        its frame's turn comes, as without prefetching.
    given : mapping of int to frame, optional
        Frames already read by the caller (the first frame, which the feature pipeline was
        fitted on): used instead of reading them again.
    """

    def __init__(self, trajectory, indices: Sequence[int], *, neighbors: Callable | None = None,
                 progress: bool = False, desc: str = "frames",
                 skip: tuple = (TrajectoryFormatError, ValueError), prefetch: bool = False,
                 given=None):
        self.trajectory = trajectory
        self.indices = list(indices)
        self.neighbors = neighbors
        self.progress = progress
        self.desc = desc
        self.skip = skip
        self.prefetch = prefetch
        self.given = dict(given or {})
        self.skipped: dict[int, str] = {}

    def _reads(self):
        """``(i, get)`` in order, ``get()`` returning frame i (read ahead by one with
        ``prefetch``; a read's error is raised by its ``get``)."""
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="crystopo-read") if self.prefetch else None

        def fetch(i):
            if i in self.given:
                frame = self.given.pop(i)
                return lambda: frame
            if pool is None:
                return lambda: self.trajectory[i]
            return pool.submit(self.trajectory.__getitem__, i).result

        try:
            ahead = None
            for k, i in enumerate(self.indices):
                get = ahead or fetch(i)
                ahead = fetch(self.indices[k + 1]) if pool is not None and k + 1 < len(self.indices) \
                    else None
                yield i, get
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def run(self, work: Callable) -> Iterator:
        """Yield ``(i, work(i, frame, neighbors))`` for every frame that is not skipped."""
        reads = self._reads()
        try:
            for i, get in progress_bar(reads, self.progress, desc=self.desc, unit="frame",
                                       total=len(self.indices)):
                try:
                    frame = get()
                    nl = self.neighbors(frame) if self.neighbors is not None else None
                    result = work(i, frame, nl)
                except self.skip as err:
                    logger.warning("frame %d skipped: %s", i, err)
                    self.skipped[i] = str(err)
                    continue
                yield i, result
        finally:
            reads.close()
