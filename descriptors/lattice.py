"""Ideal lattices with seeded noise and vacancies, for tests, benchmarks and notebooks."""
from __future__ import annotations

import numpy as np

from .frame import Box, Frame

__all__ = ["make_lattice", "LATTICES"]

# conventional cell (in units of a; hcp: a, sqrt(3) a, c), basis (fractional), nn distance / a
_S3 = np.sqrt(3.0)
_C_HCP = np.sqrt(8.0 / 3.0)
LATTICES = {
    "fcc": (np.ones(3), [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]], 1 / np.sqrt(2)),
    "bcc": (np.ones(3), [[0, 0, 0], [0.5, 0.5, 0.5]], _S3 / 2),
    "sc": (np.ones(3), [[0, 0, 0]], 1.0),
    "diamond": (np.ones(3), [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
                             [0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75],
                             [0.25, 0.75, 0.75]], _S3 / 4),
    "hcp": (np.array([1.0, _S3, _C_HCP]),
            [[0, 0, 0], [0.5, 0.5, 0], [0.5, 1 / 6, 0.5], [0, 2 / 3, 0.5]], 1.0),
}


def make_lattice(kind: str, n_cells=4, *, nn_distance: float = 1.0, noise: float = 0.0,
                 vacancies: float = 0.0, seed=None, types=None) -> Frame:
    """A periodic ideal crystal, optionally with Gaussian noise and vacancies.

    Parameters
    ----------
    kind : {"fcc", "bcc", "hcp", "diamond", "sc"}
    n_cells : int or 3 ints
        Repetitions of the conventional (hcp: orthorhombic, 4-atom) cell.
    nn_distance : float
        Nearest-neighbour distance; the lattice constant follows from it.
    noise : float
        Standard deviation of each Cartesian displacement, in units of ``nn_distance``.
    vacancies : float in [0, 1)
        Fraction of atoms removed at random (ids of the others are kept).
    seed : int or numpy Generator, optional
    types : array-like of int, optional
        Atom types, broadcast to the full lattice before vacancies are made.

    Examples
    --------
    >>> make_lattice("fcc", 3).n_atoms
    108
    >>> make_lattice("hcp", (3, 2, 2), vacancies=0.25, seed=0).n_atoms  # 48 sites, 12 removed
    36
    """
    if kind not in LATTICES:
        raise ValueError(f"kind={kind!r} unknown; choose from {sorted(LATTICES)}")
    reps = np.broadcast_to(np.asarray(n_cells, dtype=int), (3,))
    if np.any(reps < 1):
        raise ValueError(f"n_cells must be >= 1, got {n_cells!r}")
    if not nn_distance > 0:
        raise ValueError(f"nn_distance must be > 0, got {nn_distance!r}")
    if not 0 <= noise:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if not 0 <= vacancies < 1:
        raise ValueError(f"vacancies must be in [0, 1), got {vacancies!r}")
    lengths, basis, nn_over_a = LATTICES[kind]
    a = nn_distance / nn_over_a
    cell_len = lengths * a
    grid = np.array(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij")).reshape(3, -1).T
    frac = (grid[:, None, :] + np.asarray(basis, dtype=float)[None, :, :]).reshape(-1, 3)
    positions = frac * cell_len
    box = Box.orthogonal(cell_len * reps)
    n = len(positions)
    rng = np.random.default_rng(seed)
    if noise > 0:
        positions = positions + rng.normal(scale=noise * nn_distance, size=positions.shape)
        positions = box.wrap(positions)
    all_types = np.ones(n, dtype=np.int32) if types is None else np.resize(np.asarray(types), n)
    ids = np.arange(1, n + 1, dtype=np.int64)
    if vacancies > 0:
        keep = np.sort(rng.choice(n, size=n - int(round(vacancies * n)), replace=False))
        positions, ids, all_types = positions[keep], ids[keep], all_types[keep]
    return Frame(positions, box, ids, all_types)
