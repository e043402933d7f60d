"""Reference environments: ideal and thermalised fcc, hcp, bcc, icosahedral and liquid
neighbourhoods at a given first-neighbour distance.

They anchor structure labels (a community is named after the reference it holds) and check
that a descriptor separates what physics says is different.  Described by the same fitted
feature pipeline as the run, a reference crystal and a trajectory frame are comparable.

* ``fcc``, ``hcp``, ``bcc``: periodic lattices (:func:`descriptors.make_lattice`) with
  Gaussian displacements of ``noise`` first-neighbour distances per coordinate;
* ``ico``: centres of isolated 55-atom Mackay icosahedra (the local order of a simple
  undercooled liquid, Frank 1952);
* ``liquid``: Lennard-Jones liquids (T* = 1.0 at reduced density 0.95, and an undercooled one
  at T* = 0.7, density 1.0; Langevin dynamics, a small numba MD of 256 atoms, seeded),
  rescaled to the requested first-neighbour distance.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numba import njit

from .frame import Box, Frame
from .lattice import make_lattice
from .neighbors import first_shell_distance

__all__ = ["REFERENCE_KINDS", "ReferenceFrame", "reference_frames", "lj_liquid", "icosahedra"]

REFERENCE_KINDS = ("fcc", "hcp", "bcc", "ico", "liquid")


@dataclass(frozen=True)
class ReferenceFrame:
    """A frame holding environments of one kind; ``rows`` are the atoms that have them."""

    kind: str
    frame: Frame
    rows: np.ndarray
    noise: float


def icosahedra(n_clusters, nn, noise, rng) -> tuple[Frame, np.ndarray]:
    """Isolated 55-atom Mackay icosahedra on a grid in a large periodic box; centre rows."""
    phi = (1 + 5 ** 0.5) / 2
    v = np.array([[0, s1, s2 * phi] for s1 in (-1, 1) for s2 in (-1, 1)], dtype=float)
    verts = np.concatenate([np.roll(v, k, axis=1) for k in range(3)])
    verts /= np.linalg.norm(verts[0])
    edges = [(i, j) for i in range(12) for j in range(i + 1, 12)
             if abs(np.linalg.norm(verts[i] - verts[j]) - 1.0515) < 1e-3]
    mids = np.array([(verts[i] + verts[j]) for i, j in edges])         # second shell, 30 sites
    r1 = nn / 1.026          # mean nn (radial r1, tangential 1.0515 r1) equals nn
    cluster = np.concatenate([[np.zeros(3)], verts * r1, verts * 2 * r1, mids * r1])
    side = int(np.ceil(n_clusters ** (1 / 3)))
    spacing = 4 * r1 + 4 * nn
    grid = np.array(np.meshgrid(*[np.arange(side)] * 3, indexing="ij")).reshape(3, -1).T
    grid = grid[:n_clusters] * spacing + spacing / 2
    pos = (grid[:, None, :] + cluster[None]).reshape(-1, 3)
    pos = pos + rng.normal(scale=noise * nn, size=pos.shape)
    frame = Frame(pos, Box.orthogonal([side * spacing] * 3))
    return frame, np.arange(n_clusters) * len(cluster)


@njit(cache=True)
def _lj_forces(pos, side, rc2):
    n = pos.shape[0]
    f = np.zeros_like(pos)
    for i in range(n - 1):
        for j in range(i + 1, n):
            d0 = pos[j, 0] - pos[i, 0]
            d1 = pos[j, 1] - pos[i, 1]
            d2 = pos[j, 2] - pos[i, 2]
            d0 -= side * np.round(d0 / side)
            d1 -= side * np.round(d1 / side)
            d2 -= side * np.round(d2 / side)
            r2 = d0 * d0 + d1 * d1 + d2 * d2
            if r2 < rc2:
                ir6 = 1.0 / (r2 * r2 * r2)
                s = 24.0 * ir6 * (2.0 * ir6 - 1.0) / r2
                f[i, 0] -= s * d0
                f[i, 1] -= s * d1
                f[i, 2] -= s * d2
                f[j, 0] += s * d0
                f[j, 1] += s * d1
                f[j, 2] += s * d2
    return f


@njit(cache=True)
def _langevin(pos, vel, side, n_steps, dt, temperature, gamma, noise):
    """BAOAB Langevin dynamics of LJ atoms (mass 1, cutoff 2.5); ``noise`` (n_steps, n, 3)."""
    rc2 = 2.5 * 2.5
    c1 = np.exp(-gamma * dt)
    c2 = np.sqrt((1.0 - c1 * c1) * temperature)
    f = _lj_forces(pos, side, rc2)
    for s in range(n_steps):
        vel += 0.5 * dt * f
        pos += 0.5 * dt * vel
        vel = c1 * vel + c2 * noise[s]
        pos += 0.5 * dt * vel
        pos -= side * np.floor(pos / side)
        f = _lj_forces(pos, side, rc2)
        vel += 0.5 * dt * f
    return pos, vel


def lj_liquid(n_snapshots: int = 4, *, n_cells: int = 4, density: float = 0.95,
              temperature: float = 1.0, melt_time: float = 10.0, interval: float = 2.0,
              seed: int = 0) -> list[Frame]:
    """Snapshots of an equilibrium Lennard-Jones liquid (reduced units, ``4 n_cells**3`` atoms).

    Starts from fcc at ``density``, melts at T* = 3 for ``melt_time`` / 2, equilibrates at
    ``temperature`` for ``melt_time`` and writes ``n_snapshots`` frames ``interval`` apart.

    The positions of a given set of arguments are computed once per process and kept in
    ``$CRYSTOPO_CACHE`` (default ``~/.cache/crystopo``), ``reference/``: every ``analyze``
    run needs the same two liquids, 2.4 s of MD each time otherwise.

    Examples
    --------
    >>> f = lj_liquid(1, n_cells=3, melt_time=2.0, seed=0)[0]
    >>> f.n_atoms
    108
    """
    key = (int(n_snapshots), int(n_cells), float(density), float(temperature),
           float(melt_time), float(interval), int(seed))
    side, snaps = _liquid_positions(*key)
    return [Frame(p.copy(), Box.orthogonal([side] * 3), timestep=k) for k, p in enumerate(snaps)]


_LIQUID_VERSION = 1      # bump when the dynamics change: cached liquids are then recomputed


def _cache_root():
    import os
    from pathlib import Path

    return Path(os.environ.get("CRYSTOPO_CACHE") or Path.home() / ".cache" / "crystopo")


@functools.lru_cache(maxsize=16)
def _liquid_positions(n_snapshots, n_cells, density, temperature, melt_time, interval, seed):
    """``(side, tuple of (n, 3) arrays)`` of :func:`lj_liquid`, from the disk cache if there."""
    import os

    name = "lj_liquid_v%d_%s.npz" % (_LIQUID_VERSION, "_".join(
        repr(v) for v in (n_snapshots, n_cells, density, temperature, melt_time, interval, seed)))
    path = _cache_root() / "reference" / name
    want = (4 * n_cells ** 3, 3)
    try:
        with np.load(path, allow_pickle=False) as z:
            snaps = tuple(z[f"s{k}"] for k in range(n_snapshots))
            side = float(z["side"])
        if all(p.shape == want and np.isfinite(p).all() for p in snaps):
            return side, snaps
    except (OSError, KeyError, ValueError):
        pass
    side, snaps = _simulate_liquid(n_snapshots, n_cells, density, temperature, melt_time,
                                   interval, seed)
    try:                                 # a cache that cannot be written is no error
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, side=side, **{f"s{k}": p for k, p in enumerate(snaps)})
        os.replace(tmp, path)
    except OSError:
        pass
    return side, snaps


def _simulate_liquid(n_snapshots, n_cells, density, temperature, melt_time, interval, seed):
    rng = np.random.default_rng(seed)
    lat = make_lattice("fcc", n_cells, nn_distance=(np.sqrt(2.0) / density) ** (1 / 3))
    side = float(lat.box.cell[0, 0])
    pos = lat.positions.copy()
    vel = rng.normal(scale=np.sqrt(3.0), size=pos.shape)
    dt, gamma = 0.005, 1.0

    def run(time, temp):
        nonlocal pos, vel
        steps = max(1, int(round(time / dt)))
        pos, vel = _langevin(pos, vel, side, steps, dt, temp, gamma,
                             rng.normal(size=(steps, len(pos), 3)))

    run(melt_time / 2, 3.0)
    run(melt_time, temperature)
    out = []
    for k in range(n_snapshots):
        if k:
            run(interval, temperature)
        out.append(pos.copy())
    return side, tuple(out)


LIQUID_STATES = ((1.0, 0.95), (0.7, 1.0))     # (T*, density) of the reference LJ liquids


def reference_frames(nn_distance: float = 1.0, *, kinds=REFERENCE_KINDS,
                     noise=(0.0, 0.02, 0.04, 0.06, 0.08), n_per_kind: int = 256,
                     liquid_states=LIQUID_STATES, vacancies=(0.0,),
                     seed: int = 0) -> list[ReferenceFrame]:
    """Frames of reference environments at first-neighbour distance ``nn_distance``.

    Parameters
    ----------
    nn_distance : float
        The run's first-neighbour distance (e.g. ``FeatureSet.nn_distance_``).  fcc, hcp and
        icosahedra get it as their nearest-neighbour distance; bcc gets the one of the
        same density as fcc (0.9720 x); the liquid is rescaled so that its g(r) peak
        (:func:`first_shell_distance`) equals it.
    kinds : subset of :data:`REFERENCE_KINDS`
    noise : float or sequence of float
        Gaussian displacement per coordinate, in first-neighbour distances; one set of
        crystals per value (the liquid has its own thermal disorder).
    n_per_kind : int
        Environments (rows) per kind and noise value (liquid: per state).
    liquid_states : sequence of (temperature, density)
        Reduced Lennard-Jones states of the reference liquids (the hot liquid and an
        undercooled one, whose local order is higher).
    vacancies : sequence of float
        Fractions of sites left empty: fcc, hcp and bcc get one set of crystals per noise
        value and vacancy fraction.
    seed : int
    """
    bad = [k for k in kinds if k not in REFERENCE_KINDS]
    if bad or not len(kinds):
        raise ValueError(f"kinds must be drawn from {REFERENCE_KINDS}, got {list(kinds)}")
    if not (np.isfinite(nn_distance) and nn_distance > 0):
        raise ValueError(f"nn_distance must be a positive number, got {nn_distance!r}")
    noises = [float(noise)] if np.isscalar(noise) else [float(x) for x in noise]
    rng = np.random.default_rng(seed)
    out = []
    for kind in kinds:
        if kind == "liquid":
            snaps = [s for temp, rho in liquid_states
                     for s in lj_liquid(max(1, -(-n_per_kind // 256)), temperature=temp,
                                        density=rho, seed=seed)]
            for k, s in enumerate(snaps):
                scale = nn_distance / first_shell_distance(s)
                f = Frame(s.positions * scale, Box.orthogonal(np.diag(s.box.cell) * scale),
                          timestep=k)
                rows = np.sort(rng.choice(f.n_atoms, min(f.n_atoms, n_per_kind), replace=False))
                out.append(ReferenceFrame(kind, f, rows, float("nan")))
            continue
        for sigma in noises:
            if kind == "ico":
                f, rows = icosahedra(int(n_per_kind), nn_distance, sigma, rng)
                out.append(ReferenceFrame(kind, f, rows, sigma))
                continue
            nn = nn_distance if kind != "bcc" else nn_distance * 0.9720
            cells = {"fcc": 5, "hcp": (5, 3, 3), "bcc": 6}[kind]
            for vac in vacancies:
                f = make_lattice(kind, cells, nn_distance=nn, noise=sigma, vacancies=float(vac),
                                 seed=rng)
                rows = np.sort(rng.choice(f.n_atoms, min(f.n_atoms, n_per_kind), replace=False))
                out.append(ReferenceFrame(kind, f, rows, sigma))
    return out
