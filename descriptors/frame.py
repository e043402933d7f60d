"""Frames and periodic boxes: the one data structure every stage reads.

A :class:`Frame` holds one configuration: positions (float64), a periodic
:class:`Box` (orthogonal or triclinic), atom ids (int64, sorted), types (int32),
the timestep, and any extra per-atom columns.  Positions stay float64 from the
file to the filtrations, so ties are never broken by a cast to float32.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

__all__ = ["Box", "Frame", "TrajectoryFormatError", "as_frame", "check_positions"]


class TrajectoryFormatError(ValueError):
    """A trajectory file, frame or object that cannot be read as asked.

    The message names the file, the frame, the line (when known) and what was
    expected, e.g. ``dump.gz: frame 3 (timestep 3000), line 40017: expected 5
    numeric columns, got 'nan'``.
    """


def check_positions(x, name: str = "positions") -> np.ndarray:
    """Return ``x`` as a C-contiguous (n, 3) float64 array of finite values."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name}.shape must be (n_atoms, 3), got {arr.shape}; "
                         "pass one frame at a time")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise ValueError(f"{name} contains NaN or inf (first at row {bad})")
    return arr


@dataclass(frozen=True)
class Box:
    """A periodic simulation cell.

    Parameters
    ----------
    cell : array of shape (3, 3)
        Rows are the cell vectors a, b, c.  LAMMPS boxes are lower triangular
        (``a = (lx, 0, 0)``, ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)``); any
        right-handed cell (e.g. from ase) is accepted.
    origin : array of shape (3,)
        Lower corner of the cell (``xlo, ylo, zlo`` in LAMMPS).
    pbc : array of shape (3,), bool
        Periodicity along a, b, c.
    """

    cell: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))
    pbc: np.ndarray = field(default_factory=lambda: np.ones(3, dtype=bool))

    def __post_init__(self):
        cell = np.array(self.cell, dtype=np.float64)
        if cell.shape == (3,):
            cell = np.diag(cell)
        if cell.shape != (3, 3) or not np.isfinite(cell).all():
            raise ValueError(f"cell must be a finite (3, 3) matrix or 3 lengths, got {cell!r}")
        volume = float(np.linalg.det(cell))
        if not volume > 1e-12 * max(1.0, float(np.abs(cell).max()) ** 3):
            raise ValueError(f"box has zero or negative volume ({volume:g}); cell rows are "
                             f"a={cell[0]}, b={cell[1]}, c={cell[2]}")
        origin = np.array(self.origin, dtype=np.float64).reshape(3)
        pbc = np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,)).copy()
        object.__setattr__(self, "cell", cell)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "pbc", pbc)

    @classmethod
    def orthogonal(cls, lengths, origin=(0.0, 0.0, 0.0), pbc=True) -> "Box":
        """Box with edge lengths ``(lx, ly, lz)``."""
        return cls(np.diag(np.asarray(lengths, dtype=np.float64)), origin, pbc)

    @property
    def volume(self) -> float:
        return float(np.linalg.det(self.cell))

    @property
    def is_orthogonal(self) -> bool:
        return bool(np.all(self.cell[~np.eye(3, dtype=bool)] == 0.0))

    @property
    def widths(self) -> np.ndarray:
        """Distances between opposite faces (the largest sphere that fits is half the smallest)."""
        a, b, c = self.cell
        v = self.volume
        return np.array([v / np.linalg.norm(np.cross(b, c)),
                         v / np.linalg.norm(np.cross(c, a)),
                         v / np.linalg.norm(np.cross(a, b))])

    def to_fractional(self, positions) -> np.ndarray:
        return (np.asarray(positions, dtype=np.float64) - self.origin) @ np.linalg.inv(self.cell)

    def to_cartesian(self, fractional) -> np.ndarray:
        return np.asarray(fractional, dtype=np.float64) @ self.cell + self.origin

    def wrap(self, positions) -> np.ndarray:
        """Positions mapped into the cell along its periodic directions (float64).

        Each position moves by a whole lattice vector (``-floor(s) @ cell`` for fractional
        coordinates ``s``), so positions already inside the cell are returned unchanged and
        unwrapped ones come back to within rounding of their wrapped copies.
        """
        pos = np.array(positions, dtype=np.float64)
        # fractional coordinates; einsum: a BLAS call for an (n, 3) x (3, 3) product is slower
        s = np.einsum("ij,jk->ik", pos - self.origin, np.linalg.inv(self.cell))
        shift = np.zeros_like(s)
        shift[:, self.pbc] = np.floor(s[:, self.pbc])
        moved = np.flatnonzero(shift.any(axis=1))
        if len(moved):
            pos[moved] -= shift[moved] @ self.cell
        return pos

    def lammps_bounds(self):
        """``(lo, hi, tilts)`` as LAMMPS writes them: bounds of the orthogonal bounding box
        and the tilt factors ``(xy, xz, yz)``; needs a lower-triangular cell."""
        c = self.cell
        if abs(c[0, 1]) + abs(c[0, 2]) + abs(c[1, 2]) > 1e-12 * np.abs(c).max():
            raise ValueError("LAMMPS needs a lower-triangular cell (a along x, b in the xy plane); "
                             "use Box.canonical() first")
        xy, xz, yz = c[1, 0], c[2, 0], c[2, 1]
        lo = self.origin.copy()
        hi = lo + np.array([c[0, 0], c[1, 1], c[2, 2]])
        return lo, hi, np.array([xy, xz, yz])

    def canonical(self):
        """Return ``(box, rotation)``: an equivalent lower-triangular box and the 3x3 rotation
        ``R`` such that ``positions @ R`` are positions in the new box."""
        q, r = np.linalg.qr(self.cell.T)
        sign = np.sign(np.diag(r))
        sign[sign == 0] = 1
        q = q * sign
        rot = q  # cell @ q is lower triangular
        new_cell = self.cell @ rot
        new_cell[np.abs(new_cell) < 1e-14 * np.abs(new_cell).max()] = 0.0
        return Box(np.tril(new_cell), self.origin @ rot, self.pbc), rot


@dataclass(frozen=True)
class Frame:
    """One configuration of a trajectory; atoms are sorted by id.

    Parameters
    ----------
    positions : array of shape (n_atoms, 3), float64
    box : Box
    ids : array of shape (n_atoms,), int64, optional (default 1..n)
    types : array of shape (n_atoms,), int32, optional (default all 1)
    timestep : int
    extra : mapping of str to array of shape (n_atoms,)
        Further per-atom columns (velocities, charges, labels...).

    Examples
    --------
    >>> f = Frame(np.zeros((1, 3)), Box.orthogonal([2.0, 2.0, 2.0]))
    >>> f.n_atoms, f.ids.tolist(), f.types.tolist()
    (1, [1], [1])
    """

    positions: np.ndarray
    box: Box
    ids: np.ndarray | None = None
    types: np.ndarray | None = None
    timestep: int = 0
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        pos = check_positions(self.positions)
        n = len(pos)
        ids = np.arange(1, n + 1, dtype=np.int64) if self.ids is None else np.asarray(self.ids)
        types = np.ones(n, dtype=np.int32) if self.types is None else np.asarray(self.types)
        if not isinstance(self.box, Box):
            raise TypeError(f"box must be a crystopo Box, got {type(self.box).__name__}")
        for name, arr in (("ids", ids), ("types", types)):
            if arr.shape != (n,):
                raise ValueError(f"{name}.shape must be ({n},) to match positions, got {arr.shape}")
            if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
                raise ValueError(f"{name} must be integers")
        ids = ids.astype(np.int64)
        types = types.astype(np.int32)
        extra = {}
        for key, val in dict(self.extra).items():
            val = np.asarray(val)
            if len(val) != n:
                raise ValueError(f"extra column {key!r} has {len(val)} rows, expected {n}")
            extra[key] = val
        if n > 1 and not np.all(ids[1:] > ids[:-1]):
            order = np.argsort(ids, kind="stable")
            sids = ids[order]
            dup = np.flatnonzero(sids[1:] == sids[:-1])
            if len(dup):
                raise ValueError(f"duplicate atom id {int(sids[dup[0]])} ({len(dup)} duplicates)")
            pos, ids, types = pos[order], sids, types[order]
            extra = {k: v[order] for k, v in extra.items()}
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "timestep", int(self.timestep))
        object.__setattr__(self, "extra", extra)

    @property
    def n_atoms(self) -> int:
        return len(self.positions)

    def __len__(self) -> int:
        return self.n_atoms

    def wrapped(self) -> np.ndarray:
        """Positions wrapped into the box along its periodic directions."""
        return self.box.wrap(self.positions)

    def select(self, mask_or_index) -> "Frame":
        """A new frame with a subset of the atoms (boolean mask or indices)."""
        idx = np.asarray(mask_or_index)
        return Frame(self.positions[idx], self.box, self.ids[idx], self.types[idx],
                     self.timestep, {k: v[idx] for k, v in self.extra.items()})

    def with_columns(self, **columns) -> "Frame":
        """A new frame with extra per-atom columns added or replaced."""
        extra = dict(self.extra)
        extra.update(columns)
        return Frame(self.positions, self.box, self.ids, self.types, self.timestep, extra)

    def to_ase(self):
        """Convert to :class:`ase.Atoms` (types kept in the ``type`` array, ids in ``id``)."""
        import ase

        atoms = ase.Atoms(numbers=np.zeros(self.n_atoms, dtype=int),
                          positions=self.positions - self.box.origin,
                          cell=self.box.cell, pbc=self.box.pbc)
        atoms.new_array("id", self.ids)
        atoms.new_array("type", self.types)
        for key, val in self.extra.items():
            if key not in ("id", "type"):
                atoms.new_array(key, np.asarray(val))
        return atoms


def as_frame(obj, timestep: int = 0) -> Frame:
    """Accept a :class:`Frame`, an :class:`ase.Atoms` or a ``(cell, positions)`` tuple.

    ase atoms keep their ``id``/``type`` arrays when present (as ase's LAMMPS
    reader sets them); otherwise ids are 1..n and types are the atomic numbers
    (all 1 for unknown species).
    """
    if isinstance(obj, Frame):
        return obj
    path = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if path == "ase.atoms.Atoms":
        arrays = obj.arrays
        n = len(obj)
        if not np.any(obj.pbc) or obj.cell.rank < 3:
            raise TrajectoryFormatError("ase.Atoms has no 3D periodic cell; crystopo needs a box "
                                        f"(got pbc={obj.pbc.tolist()}, cell rank {obj.cell.rank})")
        ids = arrays.get("id", np.arange(1, n + 1))
        if "type" in arrays:
            types = arrays["type"]
        else:
            numbers = obj.get_atomic_numbers()
            types = np.where(numbers > 0, numbers, 1)
        skip = {"id", "type", "numbers", "positions"}
        extra = {k: v.copy() for k, v in arrays.items() if k not in skip and v.ndim == 1}
        ts = obj.info.get("timestep", timestep)
        return Frame(obj.get_positions().copy(), Box(obj.cell.array.copy(), np.zeros(3), obj.pbc),
                     np.asarray(ids).copy(), np.asarray(types).copy(), int(ts), extra)
    if isinstance(obj, tuple) and len(obj) == 2:
        cell, positions = obj
        return Frame(check_positions(positions), Box(cell), timestep=timestep)
    raise TypeError(f"cannot make a Frame from {path}; pass a Frame, ase.Atoms or (cell, positions)")
