"""Trajectory reading and writing: one lazy interface for LAMMPS dumps, ase formats and objects."""
from __future__ import annotations

import gzip
import logging
import os
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from .frame import Frame, TrajectoryFormatError, as_frame
from .lammps_dump import LammpsDumpTrajectory, GzipStream, is_gzip, write_lammps_dump

__all__ = ["read_trajectory", "read_frame", "write_extxyz", "write_lammps_dump",
           "FrameSequence", "AseTrajectory", "demo_trajectory_path"]

logger = logging.getLogger(__name__)


class FrameSequence:
    """Frames already in memory (a list of :class:`Frame` or ``ase.Atoms``) behind the trajectory API."""

    def __init__(self, frames, name: str = "<frames>"):
        self._frames = [as_frame(f) for f in frames]
        self.path = Path(name)

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, item):
        return self._frames[item]

    def __iter__(self):
        return iter(self._frames)

    def header(self, i):
        f = self._frames[i]
        return {"timestep": f.timestep, "n_atoms": f.n_atoms, "box": f.box,
                "columns": ["id", "type", "x", "y", "z", *f.extra]}


class AseTrajectory:
    """Any format ``ase.io`` reads (extxyz, POSCAR, ...), lazily: frames are read on demand.

    ``len`` counts frames once by a streaming pass (``ase.io.iread``) without
    keeping them.
    """

    def __init__(self, path, format: str | None = None):
        import ase.io

        self.path = Path(path)
        self.format = format
        try:
            self._n = sum(1 for _ in ase.io.iread(str(self.path), index=":", format=format))
        except Exception as err:  # ase raises many kinds; name the file and the format
            raise TrajectoryFormatError(f"{self.path}: ase.io could not read it "
                                        f"(format={format or 'guessed'}): {err}") from err
        if self._n == 0:
            raise TrajectoryFormatError(f"{self.path}: no frames found")

    def __len__(self):
        return self._n

    def _frame(self, i):
        import ase.io

        try:
            atoms = ase.io.read(str(self.path), index=i, format=self.format)
            return as_frame(atoms)
        except TrajectoryFormatError as err:
            raise TrajectoryFormatError(f"{self.path.name}: frame {i}: {err}") from None
        except (ValueError, EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise TrajectoryFormatError(f"{self.path.name}: frame {i}: {err}") from None

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self._frame(i) for i in range(*item.indices(self._n))]
        i = int(item) + (self._n if int(item) < 0 else 0)
        if not 0 <= i < self._n:
            raise IndexError(f"frame {item} out of range for {self._n} frames in {self.path.name}")
        return self._frame(i)

    def __iter__(self):
        import ase.io

        i = 0
        try:
            for i, atoms in enumerate(ase.io.iread(str(self.path), index=":", format=self.format)):
                try:
                    yield as_frame(atoms)
                except (TrajectoryFormatError, ValueError) as err:
                    raise TrajectoryFormatError(f"{self.path.name}: frame {i}: {err}") from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:  # a damaged compressed file
            raise TrajectoryFormatError(f"{self.path.name}: after frame {i}: {err}") from None

    def header(self, i):
        f = self[i]
        return {"timestep": f.timestep, "n_atoms": f.n_atoms, "box": f.box,
                "columns": ["id", "type", "x", "y", "z", *f.extra]}


def _looks_like_lammps_dump(path: Path) -> bool:
    """Whether the file (plain or gzip, by content) starts with ``ITEM: TIMESTEP``.

    A gzip file damaged before its first 14 bytes of text raises
    :class:`TrajectoryFormatError` naming the file and the damage.
    """
    try:
        if not is_gzip(path):
            with open(path, "rb") as fh:
                return fh.read(14) == b"ITEM: TIMESTEP"
        with GzipStream(path) as fh:
            head = fh.read(14)
            damage = fh.damage
    except OSError:
        return False
    if len(head) < 14 and damage and b"ITEM: TIMESTEP".startswith(head):
        raise TrajectoryFormatError(f"{path}: {damage}; nothing is readable")
    return head == b"ITEM: TIMESTEP"


def read_trajectory(source, *, format: str | None = None):
    """Open a trajectory lazily.

    Parameters
    ----------
    source : path, Frame, ase.Atoms, or a list of them
        LAMMPS text dumps (plain or ``.gz``; recognised by content) use crystopo's
        fast reader; every other file goes through ``ase.io``.
    format : str, optional
        ``"lammps-dump"`` to force crystopo's reader, or any ``ase.io`` format name.

    Returns
    -------
    trajectory
        Supports ``len``, integer and slice indexing (slices give lists of
        :class:`Frame`), iteration, and ``header(i)`` (timestep, atom count, box,
        columns) without parsing atoms.

    Examples
    --------
    >>> traj = read_trajectory(demo_trajectory_path())
    >>> len(traj) > 10, traj[0].n_atoms > 1000
    (True, True)
    """
    if isinstance(source, Frame) or type(source).__name__ == "Atoms":
        return FrameSequence([source])
    if isinstance(source, (list, tuple)):
        return FrameSequence(source)
    path = Path(os.fspath(source))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise TrajectoryFormatError(f"{path}: is a directory, expected a trajectory file")
    if format in ("lammps-dump", "lammps-dump-text") or (format is None and _looks_like_lammps_dump(path)):
        return LammpsDumpTrajectory(path)
    return AseTrajectory(path, format=format)


def read_frame(source, index: int = 0, **kwargs) -> Frame:
    """One frame of a trajectory (``read_trajectory(source)[index]``)."""
    return read_trajectory(source, **kwargs)[index]


def write_extxyz(path, frames, *, columns=None, type_names=None) -> Path:
    """Write frames as extended XYZ with extra per-atom columns (OVITO and ase read it).

    Species are written as ``type_names[type]`` when given (a dict type -> symbol),
    otherwise as ``X``; the ``type`` and ``id`` columns are always written.  The file is
    written to a temporary name and moved into place.
    """
    import ase.io

    path = Path(path)
    if isinstance(frames, Frame):
        frames = [frames]
    images = []
    for frame in frames:
        frame = as_frame(frame)
        if columns is not None:
            missing = [c for c in columns if c not in frame.extra]
            if missing:
                raise KeyError(f"frame (timestep {frame.timestep}) has no column {missing}")
            frame = Frame(frame.positions, frame.box, frame.ids, frame.types, frame.timestep,
                          {c: frame.extra[c] for c in columns})
        atoms = frame.to_ase()
        if type_names is not None:
            unknown = sorted(set(np.unique(frame.types).tolist()) - set(type_names))
            if unknown:
                raise ValueError(f"type_names has no symbol for types {unknown}")
            atoms.set_chemical_symbols([type_names[t] for t in frame.types.tolist()])
        atoms.info["timestep"] = frame.timestep
        images.append(atoms)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        ase.io.write(str(tmp), images, format="extxyz")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def demo_trajectory_path() -> Path:
    """Path of the bundled Lennard-Jones nucleation trajectory (gzip LAMMPS dump)."""
    path = Path(str(resources.files("descriptors") / "data" / "lj_nucleation.dump.gz"))
    if not path.exists():
        raise FileNotFoundError(f"{path}: the bundled demo trajectory is missing; regenerate it "
                                "with `python -m descriptors.md` (needs crystopo[lammps])")
    return path
