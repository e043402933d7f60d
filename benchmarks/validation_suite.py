"""Read the cached validation suite that ``benchmarks/validation_data.py`` builds.

The scorers (``bench_labels.py``, ``bench_onset_references.py``, the propensity and label
benchmarks) need only this: where the cache is (:func:`cache_dir`), what it holds
(:func:`load_suite`, one :class:`Dataset` per trajectory with its PTM types and truth per
frame) and the names of the stored codes.  Building the suite (LAMMPS, OVITO) stays in
``validation_data.py``, which re-exports these names.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CACHE_ENV", "PTM_NAMES", "PTM_STRUCTURES", "PHASE_NAMES", "NUCLEUS_NAMES",
           "Dataset", "cache_dir", "held_out_dir", "load_suite", "read_manifest"]

CACHE_ENV = "CRYSTOPO_CACHE"
#: OVITO PTM structure codes (as stored in the ``ptm_*`` arrays)
PTM_NAMES = ("other", "fcc", "hcp", "bcc", "ico")
PTM_STRUCTURES = ("fcc", "hcp", "bcc", "ico")
#: truth codes of the ``phases`` and ``slabs`` datasets
PHASE_NAMES = ("fcc", "hcp", "bcc", "liquid")
NUCLEUS_NAMES = ("liquid", "seed")


def cache_dir(quick: bool = False, root=None) -> Path:
    """The suite's directory: ``root``, ``$CRYSTOPO_CACHE`` or ``~/.cache/crystopo/validation``."""
    base = Path(root) if root is not None else Path(
        os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "crystopo" / "validation")
    return base / "quick" if quick else base


def held_out_dir(quick: bool = False, root=None) -> Path:
    """Where ``--held-out`` builds: the suite's ``held_out/`` folder -- or the suite's directory
    itself when that already is one (``$CRYSTOPO_CACHE`` set to it, as for scoring), rather
    than a ``held_out/held_out/`` that no scorer reads."""
    base = cache_dir(quick, root)
    return base if base.name == "held_out" else base / "held_out"


def read_manifest(root: Path) -> dict:
    path = root / "manifest.json"
    if path.exists():
        return json.loads(path.read_text())
    return {"cache": str(root), "datasets": {}}


@dataclass
class Dataset:
    """One cached dataset: trajectory path, PTM types and truth per frame (atom-id order)."""

    name: str
    kind: str
    path: Path
    labels_path: Path
    meta: dict = field(repr=False)
    _labels: object = field(default=None, repr=False)

    @property
    def n_frames(self) -> int:
        return int(self.meta["n_frames"])

    @property
    def n_atoms(self):
        return self.meta["n_atoms"]

    @property
    def truth_names(self):
        return self.meta.get("truth_names")

    @property
    def has_truth(self) -> bool:
        return self.truth_names is not None

    def _npz(self):
        if self._labels is None:
            self._labels = np.load(self.labels_path)
        return self._labels

    def trajectory(self):
        """The frames (a lazy :class:`descriptors.LammpsDumpTrajectory`)."""
        from descriptors import read_trajectory

        return read_trajectory(self.path)

    def ptm(self, i: int) -> np.ndarray:
        """PTM codes (``PTM_NAMES``) of frame ``i``."""
        return self._npz()[f"ptm_{int(i) % self.n_frames:04d}"]

    def truth(self, i: int):
        """Truth codes (``truth_names``) of frame ``i``, or None where unknown."""
        key = f"truth_{int(i) % self.n_frames:04d}"
        npz = self._npz()
        return npz[key] if key in npz.files else None

    def ids(self, i: int) -> np.ndarray:
        """Atom ids of frame ``i`` (the order of ``ptm`` and ``truth``)."""
        return self._npz()[f"ids_{int(i) % self.n_frames:04d}"]

    def interface(self, i: int, r_cut: float) -> np.ndarray | None:
        """Atoms of frame ``i`` (atom-id order) with an atom of another truth class within
        ``r_cut`` (an interface atom: its first shell spans two slabs); None without a
        per-atom truth."""
        from descriptors import neighbor_list

        truth = self.truth(i)
        if truth is None or self.meta.get("truth", {}) == "frame" or self.kind != "slabs":
            return None
        frame = self.trajectory()[int(i) % self.n_frames]
        if not np.array_equal(frame.ids, self.ids(i)):
            raise ValueError(f"{self.name} frame {i}: ids differ from the labels file")
        nl = neighbor_list(frame, r_cut=float(r_cut))
        rows = np.repeat(np.arange(frame.n_atoms), np.diff(nl.offsets))
        other = truth[rows] != truth[nl.indices]
        return np.bincount(rows[other], minlength=frame.n_atoms) > 0

    def frame_info(self, i: int) -> dict:
        """Per-frame metadata (``phases``: the phase and temperature of frame ``i``)."""
        frames = self.meta.get("frames")
        return dict(frames[int(i) % self.n_frames]) if frames else {}


def load_suite(quick: bool = False, root=None, kinds=None) -> dict[str, Dataset]:
    """The cached datasets by name (build them first with ``python benchmarks/validation_data.py``).

    Parameters
    ----------
    quick : bool
        The ``--quick`` suite instead of the full one.
    root : path, optional
        Cache directory (default ``$CRYSTOPO_CACHE`` or ``~/.cache/crystopo/validation``).
    kinds : iterable of str, optional
        Only these kinds (``nucleation``, ``phases``, ``slabs``, ``nucleus``, ``growth``).

    Examples
    --------
    >>> suite = load_suite()                                    # doctest: +SKIP
    >>> ds = suite["slabs"]; frame = ds.trajectory()[0]         # doctest: +SKIP
    >>> ds.ptm(0), ds.truth(0)                                  # doctest: +SKIP
    """
    out_root = cache_dir(quick, root)
    manifest = read_manifest(out_root)
    out = {}
    for name, meta in manifest["datasets"].items():
        if kinds is not None and meta["kind"] not in set(kinds):
            continue
        path, labels = out_root / meta["path"], out_root / meta["labels"]
        if path.exists() and labels.exists():
            out[name] = Dataset(name, meta["kind"], path, labels, meta)
    return out
