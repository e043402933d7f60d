"""Synthetic per-atom descriptors with a planted multilayer partition (tests, benchmarks, demos).

Structures are Gaussian blobs in descriptor space; atoms change blob over time so
that communities persist, grow, shrink, split and merge.  The planted label of
(frame, atom) is the blob the atom sits in, which is what a time-consistent
structure label must recover.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["planted_blobs", "LazyBlobFrames"]


def _centres(n_blobs, n_features, separation, rng):
    """Centres on random orthonormal directions: every pair exactly ``separation`` apart
    (when ``n_blobs <= n_features``; otherwise random directions, ~separation apart)."""
    c = rng.normal(size=(max(n_blobs, n_features), n_features))
    if n_blobs <= n_features:
        c = np.linalg.qr(c.T)[0].T
    c = c[:n_blobs] / np.linalg.norm(c[:n_blobs], axis=1, keepdims=True)
    return c * separation / np.sqrt(2.0)


def planted_blobs(n_atoms=300, n_frames=10, *, n_features=5, separation=10.0, seed=0):
    """Frames of Gaussian-blob descriptors with persisting, growing, splitting and merging blobs.

    Atoms by id (``n = n_atoms``):

    * the first quarter sits in blob 0 throughout (persists);
    * the second quarter sits in blob 1; its first quarter (n/16 atoms) moves to blob 0
      at ``0.3 n_frames`` (blob 0 grows, blob 1 shrinks);
    * the second half forms blob 2; at ``0.5 n_frames`` its first fifth (n/10 atoms)
      splits off into a new blob 3, which merges into blob 1 at ``0.8 n_frames``.

    A child is always smaller than what remains of its parent, and an absorbed blob
    smaller than the one absorbing it, so that the planted labels are what the
    multislice objective prefers (the larger flow keeps the identity).

    Returns
    -------
    features : list of ndarray (n_atoms, n_features), float32
    ids : ndarray (n_atoms,), int64 (1..n_atoms, shared by all frames)
    truth : ndarray (n_frames, n_atoms), int64: the planted blob of every (frame, atom)

    Examples
    --------
    >>> feats, ids, truth = planted_blobs(40, 10, seed=0)
    >>> feats[0].shape, sorted(set(truth[-1].tolist()))
    ((40, 5), [0, 1, 2])
    """
    rng = np.random.default_rng(seed)
    centres = _centres(4, n_features, separation, rng)
    q = n_atoms // 4
    base = np.repeat([0, 1, 2], [q, q, n_atoms - 2 * q])
    moved = np.arange(q, q + q // 4)
    split = np.arange(2 * q, 2 * q + (n_atoms - 2 * q) // 5)
    truth = np.empty((n_frames, n_atoms), dtype=np.int64)
    feats = []
    for t in range(n_frames):
        lab = base.copy()
        if t >= 0.3 * n_frames:
            lab[moved] = 0
        if t >= 0.5 * n_frames:
            lab[split] = 3
        if t >= 0.8 * n_frames:
            lab[split] = 1
        truth[t] = lab
        feats.append((centres[lab] + rng.normal(size=(n_atoms, n_features))).astype(np.float32))
    return feats, np.arange(1, n_atoms + 1, dtype=np.int64), truth


class LazyBlobFrames(Sequence):
    """A lazy sequence of large synthetic frames: ``frames[t]`` is generated on access.

    ``n_structures`` blobs; atom ``i`` sits in blob ``i % n_structures`` until frame
    ``t_i`` (drawn once per atom) and in the last blob ("crystal") afterwards, so the
    last blob grows through the run.  Float32, deterministic in (seed, t).

    Examples
    --------
    >>> frames = LazyBlobFrames(1000, 5, seed=0)
    >>> frames[4].shape, frames[4].dtype
    ((1000, 8), dtype('float32'))
    """

    def __init__(self, n_atoms, n_frames, *, n_features=8, n_structures=3, separation=10.0,
                 seed=0):
        self.n_atoms, self.n_frames = int(n_atoms), int(n_frames)
        self.n_features, self.n_structures = int(n_features), int(n_structures)
        self.seed = int(seed)
        rng = np.random.default_rng(seed)
        self.centres = _centres(n_structures, n_features, separation, rng).astype(np.float32)
        self.switch = rng.integers(0, 2 * n_frames, size=n_atoms).astype(np.int32)

    def __len__(self):
        return self.n_frames

    def labels(self, t) -> np.ndarray:
        """Planted structure (n_atoms,), int64, of frame ``t``."""
        own = np.arange(self.n_atoms) % self.n_structures
        return np.where(self.switch <= t, self.n_structures - 1, own).astype(np.int64)

    def __getitem__(self, t):
        if not 0 <= t < self.n_frames:
            raise IndexError(t)
        rng = np.random.default_rng([self.seed, int(t)])
        x = rng.standard_normal((self.n_atoms, self.n_features), dtype=np.float32)
        x += self.centres[self.labels(t)]
        return x
