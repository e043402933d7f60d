"""Thread scaling of each kernel of the feature stage on one large frame (issue #16).

    python benchmarks/bench_threads.py                          # 10^6 atoms, 1 2 4 ... N threads
    python benchmarks/bench_threads.py --atoms 262144 --threads 1 2 --json threads.json
    python benchmarks/bench_threads.py --system lj              # replicated LJ nucleation frame
    python benchmarks/bench_threads.py --atoms 262144 --kernels transform --repeat 3 --heap both

Test system: a thermally noisy fcc lattice (Gaussian displacements of 0.05 nn, seed 0), or with
``--system lj`` frame 30 of the bundled Lennard-Jones nucleation run (liquid + crystallites)
replicated periodically to about ``--atoms`` atoms, each copy with independent seeded 0.02
sigma displacements (as benchmarks/bench_scale.py).  ``FeatureSet()`` (the default
Neighbors Map + persistence + Steinhardt sets, with the ten Wolde flags) is fitted once; its
fit time is printed.  Then, for each thread count p, each kernel of ``FeatureSet.transform``
is timed on its own, with the inputs the transform would give it (the truncated lists built
beforehand, untimed):

* ``neighbors``: :meth:`FeatureSet.neighbors` (the one list at ``search_radius``);
* ``neighbors_map``: ``neighbors_map_features`` (float32 row/column means + top-left block);
* ``persistence``: ``tda.local_persistence`` (alpha, H0..H2, every atom);
* ``vectorize``: the fitted ``DiagramVectorizer.transform`` of those diagrams;
* ``steinhardt``: ``steinhardt_and_solid`` (q̄_l, l = 4..12, and the ten Wolde flags);
* ``zarr_write``: ``FeatureStore.write`` of the frame's arrays (multilayer/app/store.py);
* ``transform``: the whole ``FeatureSet.transform(frame)``, neighbour list included.

p threads means ``numba.set_num_threads(p)``, ``freud.parallel.set_num_threads(p)``,
``threadpoolctl.threadpool_limits(p)`` and, unless ``--no-pin``, the main thread pinned to p
CPUs, so that nothing else (BLAS, OpenMP) runs on more; scipy's cKDTree search (the neighbour
list) uses ``numba.get_num_threads()`` workers.  Printed per kernel: best wall seconds of ``--repeat``,
CPU seconds, atoms/s, parallel efficiency t_1 / (p t_p) (relative to the smallest p given)
and the kernel's peak resident memory above what was resident before it.  ``transform`` and
``zarr_write`` run first, with nothing else held; per p, their peak RSS is printed in bytes
per atom above the RSS before the frame was made (the frame's working set: the frame itself
counts; later thread counts also carry what the allocator kept from earlier ones) and above
the RSS just before ``transform``; the issue's target is <= 4 GB per 10^6 atoms.  Peaks come
from Linux's VmHWM, reset before each measurement (/proc/self/clear_refs); elsewhere from
ru_maxrss, which cannot be reset (then only the first peak means anything).  On a shared
machine, compare CPU seconds too.  ``faults``: the minor page faults of the best run (the
first touches of freshly mapped memory, ``ru_minflt``).  ``--heap kept`` (the default) times
every kernel as the pipeline runs it, inside :func:`descriptors.heap.heap_kept` (memory freed
by one run is reused by the next instead of being mapped and faulted in afresh);
``--heap system`` with glibc's usual allocator; ``--heap both`` runs each thread count
both ways (system first).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

_CAN_RESET = False       # set by main: whether /proc/self/clear_refs resets the peak RSS
KERNELS = ("transform", "zarr_write", "neighbors", "neighbors_map", "persistence", "vectorize",
           "steinhardt")


# -- memory ---------------------------------------------------------------------------------

def _status_kb(key):
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    kb = _status_kb("VmRSS")
    return np.nan if kb is None else kb / 1024


def reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS; False where Linux does not let us."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    kb = _status_kb("VmHWM")
    if kb is None:  # not Linux: the lifetime peak (kB on Linux, bytes on macOS)
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kb = kb / 1024 if sys.platform == "darwin" else kb
    return kb / 1024


# -- the frame --------------------------------------------------------------------------------

def make_frame(system: str, atoms: float, seed: int = 0):
    from descriptors import Box, Frame, make_lattice
    from descriptors.io import demo_trajectory_path, read_trajectory

    if system == "fcc":
        cells = max(2, round((atoms / 4) ** (1 / 3)))
        return make_lattice("fcc", cells, noise=0.05, seed=seed), f"noisy fcc {cells}^3 cells"
    f = read_trajectory(demo_trajectory_path())[30]
    r = max(1, round((atoms / f.n_atoms) ** (1 / 3)))
    shifts = np.array(np.meshgrid(*[np.arange(r)] * 3, indexing="ij")).reshape(3, -1).T
    pos = (f.positions[None] + (shifts @ f.box.cell)[:, None, :]).reshape(-1, 3)
    pos = pos + np.random.default_rng(seed).normal(scale=0.02, size=pos.shape)
    n = len(pos)
    return (Frame(pos, Box(f.box.cell * r, f.box.origin), np.arange(1, n + 1),
                  np.ones(n, np.int32), timestep=f.timestep), f"LJ frame 30 x {r}^3")


# -- threads ----------------------------------------------------------------------------------

@contextmanager
def threads(p: int, pin: bool):
    import freud
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    numba.set_num_threads(p)
    freud.parallel.set_num_threads(p)
    try:
        if pin and cpus:
            os.sched_setaffinity(0, cpus[:p])
        with threadpool_limits(limits=p):
            yield
    finally:
        if pin and cpus:
            os.sched_setaffinity(0, cpus)
        numba.set_num_threads(before)
        freud.parallel.set_num_threads(None)   # None: all cores (freud's default)


def timed(fn, repeat):
    """``(best wall s, best cpu s, peak MB above the RSS before, peak RSS MB, result)``;
    the best run's minor page faults in ``timed.faults``."""
    best, best_cpu, peak, top, out = np.inf, np.inf, 0.0, 0.0, None
    for _ in range(repeat):
        out = None
        base = rss_mb()
        reset_peak()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        sec = time.perf_counter() - w
        if sec < best:
            best = sec
            timed.faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        best_cpu = min(best_cpu, time.process_time() - c)
        top = max(top, peak_mb())
        peak = max(peak, top - base)
    return best, best_cpu, peak, top, out


def _one_thread_count(p, args, fs, frame, store, written, rows, per_atom, base_mb, heap):
    """Time every kernel asked for at ``p`` threads (appending to ``rows``), the heap
    ``heap`` (``"kept"`` or ``"system"``)."""
    import tda
    from descriptors.neighbors_map import neighbors_map_features
    from descriptors.steinhardt import steinhardt_and_solid

    n = frame.n_atoms
    cfg = fs.config
    nm, pc, ls = cfg["neighbors_map"], cfg["persistence"], cfg["steinhardt"]["l"]
    meta = {"timestep": frame.timestep, "n_atoms": n}
    got = {}

    def report(name, sec, cpu, peak):
        first = next((r for r in rows if r["kernel"] == name and r["heap"] == heap), None)
        eff = 1.0 if first is None else first["threads"] * first["seconds"] / (p * sec)
        rows.append({"threads": p, "heap": heap, "kernel": name, "seconds": sec, "cpu_s": cpu,
                     "atoms_per_s": n / sec, "efficiency": eff, "peak_mb": peak,
                     "faults": timed.faults})
        print(f"{p:>7} {heap:>6} {name:>14} {sec:>9.3f} {cpu:>8.2f} {n / sec:>11.4g} {eff:>6.2f} "
              f"{peak:>8.0f} {timed.faults:>8}", flush=True)

    # 1. the whole transform and its write, first, with nothing else held: their peak is the
    #    frame's working set (what the pipeline holds per frame)
    if {"transform", "zarr_write"} & set(args.kernels):
        before = rss_mb()
        sec, cpu, peak, top, res = timed(lambda: fs.transform(frame), args.repeat)
        arrays = res.arrays()
        del res
        if "transform" in args.kernels:
            report("transform", sec, cpu, peak)
        if "zarr_write" in args.kernels:
            sec, cpu, peak, top2, _ = timed(lambda: store.write(next(written), arrays, meta),
                                            args.repeat)
            top = max(top, top2)
            report("zarr_write", sec, cpu, peak)
        del arrays
        if _CAN_RESET or not per_atom:
            per_atom[(p, heap)] = ((top - base_mb) * 2 ** 20 / n, (top - before) * 2 ** 20 / n)

    # 2. each kernel alone, on the lists transform derives from the one neighbour list
    rest = [k for k in args.kernels if k not in ("transform", "zarr_write")]
    if not rest:
        return
    sec, cpu, peak, _, full = timed(lambda: fs.neighbors(frame), args.repeat)
    if "neighbors" in rest:
        report("neighbors", sec, cpu, peak)
    shell, map_nl, ph_nl = (full.truncate(r) for r in (fs.shell_cut_, fs.map_cut_, fs.ph_cut_))
    del full

    def persistence():
        return tda.local_persistence(frame, ph_nl, complex=pc["complex"], max_dim=pc["max_dim"])

    fns = {
        "neighbors_map": lambda: neighbors_map_features(frame, map_nl, block=nm["block"],
                                                        size=nm["size"], gamma=nm["gamma"],
                                                        beta=nm["beta"]),
        "persistence": persistence,
        "vectorize": lambda: fs.vectorizer_.transform(got["dg"]),
        "steinhardt": lambda: steinhardt_and_solid(frame, shell, l=ls, average=True),
    }
    for name in rest:
        if name == "neighbors":
            continue
        if name == "vectorize" and "dg" not in got:
            got["dg"] = persistence()                  # its input, untimed
        sec, cpu, peak, _, res = timed(fns[name], args.repeat)
        if name == "persistence" and "vectorize" in rest:
            got["dg"] = res
        del res
        report(name, sec, cpu, peak)
    got.clear()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=float, default=1e6, help="approximate atom count")
    ap.add_argument("--system", choices=("fcc", "lj"), default="fcc")
    ap.add_argument("--threads", type=int, nargs="+", default=None,
                    help="thread counts (default 1, 2, 4, ... up to numba's maximum)")
    ap.add_argument("--kernels", nargs="+", choices=KERNELS, default=list(KERNELS))
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs per kernel")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the main thread to p CPUs")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--workdir", help="where the Zarr store goes (default: a temp dir)")
    ap.add_argument("--heap", choices=("kept", "system", "both"), default="kept",
                    help="time the kernels inside descriptors.heap.heap_kept (as the pipeline "
                         "runs them), with glibc's usual allocator, or both ways")
    args = ap.parse_args(argv)

    import numba

    from descriptors import make_lattice
    from descriptors.heap import heap_kept
    from multilayer.app.store import FeatureStore
    from multilayer.network.featureset import FeatureSet

    n_max = numba.config.NUMBA_NUM_THREADS
    plist = args.threads or [p for p in (1, 2, 4, 8, 16, 32, 64, 128) if p < n_max] + [n_max]
    if max(plist) > n_max or min(plist) < 1:
        ap.error(f"--threads must lie in 1..{n_max} (NUMBA_NUM_THREADS), got {plist}")
    pin = not args.no_pin and hasattr(os, "sched_setaffinity")
    if pin and max(plist) > len(os.sched_getaffinity(0)):
        ap.error(f"--threads {max(plist)} exceeds the {len(os.sched_getaffinity(0))} CPUs "
                 "this process may use; pass --no-pin to oversubscribe")

    # compile every numba kernel on a small frame first, then note the resident baseline
    small = make_lattice("fcc", 4, noise=0.05, seed=1)
    FeatureSet().fit(small).transform(small)
    base_mb = rss_mb()
    frame, desc = make_frame(args.system, args.atoms)
    n = frame.n_atoms
    global _CAN_RESET
    _CAN_RESET = reset_peak()
    print(f"{desc}: {n} atoms; cpus available {len(os.sched_getaffinity(0))}, numba "
          f"{numba.__version__} threads max {n_max}, pinned {pin}; baseline RSS {base_mb:.0f} MB"
          + ("" if _CAN_RESET else "; peak RSS cannot be reset here (ru_maxrss)"), flush=True)

    t, c = time.perf_counter(), time.process_time()
    fs = FeatureSet().fit(frame)
    fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
    print(f"fit (calibration): {fit_s:.2f} s wall, {fit_cpu:.2f} s cpu; search radius "
          f"{fs.search_radius:.4g}", flush=True)

    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="crystopo-threads-"))
    store = FeatureStore(tmp / "features")
    written = iter(range(10 ** 6))
    rows, per_atom = [], {}
    heaps = ("system", "kept") if args.heap == "both" else (args.heap,)
    print(f"{'threads':>7} {'heap':>6} {'kernel':>14} {'seconds':>9} {'cpu_s':>8} {'atoms/s':>11} "
          f"{'effic.':>6} {'peak MB':>8} {'faults':>8}", flush=True)
    try:
        for p in plist:
            for heap in heaps:
                with threads(p, pin), (heap_kept() if heap == "kept" else nullcontext()):
                    _one_thread_count(p, args, fs, frame, store, written, rows, per_atom,
                                      base_mb, heap)
                for d in (tmp / "features").glob("frame_*"):
                    shutil.rmtree(d)
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)
    for (p, heap), (total, transient) in per_atom.items():
        print(f"peak RSS, one frame's transform + write, {p} thread(s), {heap} heap: {total:.0f} B/atom above "
              f"the RSS before the frame was made ({total / 1e3:.2f} GB per 10^6 atoms; "
              f"target <= 4 GB), {transient:.0f} B/atom above the RSS just before transform")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "system": desc, "n_atoms": n, "cpus": len(os.sched_getaffinity(0)),
            "numba": numba.__version__, "pinned": pin, "baseline_rss_mb": base_mb,
            "fit_s": fit_s, "fit_cpu_s": fit_cpu, "rows": rows,
            "working_set_bytes_per_atom": {f"{p} {h}": b[0] for (p, h), b in per_atom.items()},
            "transform_transient_bytes_per_atom": {f"{p} {h}": b[1]
                                                   for (p, h), b in per_atom.items()}},
            indent=1))


if __name__ == "__main__":
    main()
