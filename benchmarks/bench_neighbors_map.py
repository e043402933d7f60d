"""Neighbors Map throughput on a thermally noisy fcc frame, beside OVITO's PTM and the old kernel.

    python benchmarks/bench_neighbors_map.py                       # 2.5e5 atoms, 1 thread
    python benchmarks/bench_neighbors_map.py --atoms 1e6 --threads 1 2 --cases map ptm iter

Every configuration runs in a fresh subprocess pinned to ``threads`` CPUs
(``sched_setaffinity``; numba, OVITO, freud and scipy then use no more), so that its
peak memory (``ru_maxrss``) and its timing are its own.  Measured per frame:

* ``neighbors``: the periodic neighbour list at the default ball radius;
* ``map``: :func:`neighbors_map` given that list (the full float32 stack, its allocation
  included; best of two calls); ``kernel alone`` in its line: the numba kernel into memory
  already touched;
* ``legacy``: the same call (best of two) through the module of an earlier commit
  (``--legacy-rev``, read with ``git show``): the row-by-row kernel, for comparison;
* ``iter``: :func:`iter_neighbors_map` end to end, neighbour search included and
  done block by block, images consumed chunk by chunk (what a 10^6-atom run does);
* ``ptm``: OVITO's PolyhedralTemplateMatchingModifier, when ``ovito`` imports;
* ``shell``: :func:`descriptors.shell.shell_distortion` to fcc, hcp, bcc and ico on a
  14-nearest-neighbour list (built beforehand, not timed), neighbour by neighbour (the
  default; the ``pooled`` method's CPU seconds in ``pooled_cpu_s``): the shell-geometry half
  of PTM's test, compared with ``ptm`` in the ratios;
* ``kdtree_loop``: the reference code's approach, one ``cKDTree`` ball query plus a
  small periodic tree per atom, in a Python loop over a sample, extrapolated.

Both wall-clock and CPU time are reported: on a shared machine, atoms per CPU-second is the
fairer per-core figure, and the ratios at the end use it.  The load average is printed before
and after.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEGACY_REV = "2be915b"  # the last commit with the row-by-row kernel (bucket + insertion sorts)

PRELUDE = """
import json, os, resource, time
import numpy as np
os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:THREADS]))
import numba
numba.set_num_threads(THREADS)
from descriptors import make_lattice
from descriptors.neighbors_map import default_map_cutoff, iter_neighbors_map, neighbors_map
from descriptors import neighbor_list
frame = make_lattice("fcc", CELLS, noise=NOISE, seed=0)
n = frame.n_atoms
r_cut = default_map_cutoff(frame, SIZE)
warm = make_lattice("fcc", 3, noise=NOISE, seed=1)
neighbors_map(warm, size=SIZE, r_cut=r_cut)   # load the compiled kernel before timing
extra = {}
"""

CASES = {
    "neighbors": """
c = time.process_time(); t = time.perf_counter(); nl = neighbor_list(frame, r_cut=r_cut)
dt = time.perf_counter() - t; cpu = time.process_time() - c
extra["pairs_per_atom"] = len(nl.indices) / n
""",
    "map": """
nl = neighbor_list(frame, r_cut=r_cut)
cpu = dt = np.inf
for rep in range(2):  # best of two: a VM's first touch of fresh memory can cost as much as the work
    im = None
    c = time.process_time(); t = time.perf_counter(); im = neighbors_map(frame, nl, size=SIZE)
    dt = min(dt, time.perf_counter() - t); cpu = min(cpu, time.process_time() - c)
extra["checksum"] = float(im.astype(np.float64).sum())
import sys; nmap_mod = sys.modules["descriptors.neighbors_map"]  # the package attribute is the function
codes = np.zeros(n, dtype=np.int32)
c = time.process_time()
nmap_mod._nmap_numba(nl.offsets, nl.indices, nl.distances, nl.vectors, codes, codes, np.ones((1, 1)),
                     SIZE, 2.0, 3.0, float(nl.r_cut), im)
extra["kernel_cpu"] = time.process_time() - c
""",
    "legacy": """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("descriptors._nmap_legacy", LEGACY_PATH)
legacy = importlib.util.module_from_spec(spec); sys.modules[spec.name] = legacy
spec.loader.exec_module(legacy)
legacy.neighbors_map(warm, size=SIZE, r_cut=r_cut)   # compile
nl = neighbor_list(frame, r_cut=r_cut)
cpu = dt = np.inf
for rep in range(2):  # as "map"
    im = None
    c = time.process_time(); t = time.perf_counter(); im = legacy.neighbors_map(frame, nl, size=SIZE)
    dt = min(dt, time.perf_counter() - t); cpu = min(cpu, time.process_time() - c)
extra["checksum"] = float(im.astype(np.float64).sum())
extra["same_as_map"] = bool(np.array_equal(im, neighbors_map(frame, nl, size=SIZE)))
""",
    "iter": """
c = time.process_time(); t = time.perf_counter(); total = 0.0
for atoms, im in iter_neighbors_map(frame, chunk=16384, size=SIZE, r_cut=r_cut):
    total += float(im[:, 0, 0, 0].sum())
dt = time.perf_counter() - t; cpu = time.process_time() - c
extra["checksum"] = total / n
""",
    "ptm": """
from ovito.data import DataCollection, Particles, SimulationCell
from ovito.modifiers import PolyhedralTemplateMatchingModifier
from ovito.pipeline import Pipeline, StaticSource
data = DataCollection()
cell = np.zeros((3, 4)); cell[:, :3] = frame.box.cell.T; cell[:, 3] = frame.box.origin
data.create_cell(cell, pbc=(True, True, True))
data.create_particles(count=n).create_property("Position", data=frame.positions)
pipe = Pipeline(source=StaticSource(data=data))
pipe.modifiers.append(PolyhedralTemplateMatchingModifier())
c = time.process_time(); t = time.perf_counter(); out = pipe.compute()
dt = time.perf_counter() - t; cpu = time.process_time() - c
extra["fcc_fraction"] = float(np.mean(np.asarray(out.particles["Structure Type"]) == 1))
""",
    "shell": """
from descriptors.shell import shell_distortion
nl14 = neighbor_list(frame, k=14)
shell_distortion(nl14, kinds=("fcc", "bcc"), atoms=np.arange(n) < 64)   # compile
shell_distortion(nl14, kinds=("fcc", "bcc"), atoms=np.arange(n) < 64, method="pooled")
c = time.process_time(); t = time.perf_counter()
d = shell_distortion(nl14, kinds=("fcc", "hcp", "bcc", "ico"))
dt = time.perf_counter() - t; cpu = time.process_time() - c
extra["median_fcc_distortion"] = float(np.median(d[:, 0]))
c0 = time.process_time()
shell_distortion(nl14, kinds=("fcc", "hcp", "bcc", "ico"), method="pooled")
extra["pooled_cpu_s"] = round(time.process_time() - c0, 3)
""",
    "kdtree_loop": """
from scipy.spatial import cKDTree
L = np.diag(frame.box.cell); pos = np.mod(frame.positions, L)
rng = np.random.default_rng(0); sample = rng.choice(n, min(n, SAMPLE), replace=False)
c = time.process_time(); t = time.perf_counter()
tree = cKDTree(pos, boxsize=L)
t_tree, c_tree = time.perf_counter() - t, time.process_time() - c
c = time.process_time(); t = time.perf_counter()
for i in sample:
    ball = pos[tree.query_ball_point(pos[i], r_cut)]          # the centre is in its own ball
    small = cKDTree(ball, boxsize=L)
    kk = np.arange(2, min(SIZE, len(ball)) + 2)
    d0, j0 = small.query(pos[i], k=kk)                        # row 0
    rows, _ = small.query(ball[j0[:-1]], k=kk)                # rows 1 .. S-1
    img = np.vstack([d0, rows]) ** -2.0
dt = t_tree + (time.perf_counter() - t) * n / len(sample)     # extrapolated to every atom
cpu = c_tree + (time.process_time() - c) * n / len(sample)
extra["sampled_atoms"] = int(len(sample))
""",
}


def legacy_source(rev):
    """Path of a temporary copy of descriptors/neighbors_map.py at ``rev``, or None."""
    try:
        src = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:descriptors/neighbors_map.py"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = tempfile.mkdtemp(prefix="nmap_legacy_")
    path = os.path.join(folder, "neighbors_map_legacy.py")
    with open(path, "w") as fh:
        fh.write(src)
    return path


def run_case(name, cells, threads, args):
    code = (f"THREADS, CELLS, NOISE, SIZE, SAMPLE = {threads}, {cells}, {args.noise}, {args.size}, "
            f"{args.sample}\nLEGACY_PATH = {args.legacy_path!r}\n" + PRELUDE + CASES[name]
            + "\nprint(json.dumps({'dt': dt, 'cpu': cpu, 'n': n, 'rss_gb': "
              "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 'r_cut': r_cut, **extra}))\n")
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OVITO_THREAD_COUNT=str(threads))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return None, last
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--atoms", type=float, nargs="+", default=[2.5e5],
                    help="approximate frame sizes (fcc, 4 n^3 atoms)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--noise", type=float, default=0.05, help="thermal noise, in nn distances")
    ap.add_argument("--size", type=int, default=32, help="image side S")
    ap.add_argument("--sample", type=int, default=2000, help="atoms timed in the KD-tree loop")
    ap.add_argument("--cases", nargs="+", default=["map", "legacy", "ptm"], choices=list(CASES))
    ap.add_argument("--legacy-rev", default=LEGACY_REV, help="commit whose kernel 'legacy' times")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    args.legacy_path = legacy_source(args.legacy_rev) if "legacy" in args.cases else None
    try:
        run_all(args)
    finally:
        if args.legacy_path:
            shutil.rmtree(os.path.dirname(args.legacy_path), ignore_errors=True)


def run_all(args):
    have_ovito = importlib.util.find_spec("ovito") is not None
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)", flush=True)
    results = []
    for target in args.atoms:
        cells = max(3, round((target / 4) ** (1 / 3)))
        for name in args.cases:
            if name == "ptm" and not have_ovito:
                print(f"{'ptm':12s} skipped: ovito is not importable (pip install ovito)")
                continue
            if name == "legacy" and args.legacy_path is None:
                print(f"{'legacy':12s} skipped: no git checkout with commit {args.legacy_rev}")
                continue
            for threads in (args.threads if name != "kdtree_loop" else [1]):
                res, err = run_case(name, cells, threads, args)
                key = f"{name:12s} {4 * cells ** 3:>9d} atoms, {threads} thr"
                if res is None:
                    print(f"{key}  failed: {err}")
                    continue
                res.update(case=name, threads=threads)
                results.append(res)
                rate, per_cpu = res["n"] / res["dt"], res["n"] / res["cpu"]
                note = ""
                if "kernel_cpu" in res:
                    note = f" | kernel alone {res['n'] / res['kernel_cpu']:9.3g} atoms/CPU-s"
                if "same_as_map" in res:
                    note = f" | images {'bitwise equal to' if res['same_as_map'] else 'DIFFER from'} map's"
                print(f"{key}  {res['dt']:7.2f} s wall {rate:9.3g} atoms/s | {res['cpu']:7.2f} s CPU "
                      f"{per_cpu:9.3g} atoms/CPU-s | peak RSS {res['rss_gb']:5.2f} GB{note}", flush=True)
    per_cpu = {(r["case"], r["n"], r["threads"]): r["n"] / r["cpu"] for r in results}
    for (case, n, threads), rate in per_cpu.items():
        if case not in ("map", "shell"):
            continue
        for other in ("ptm", "legacy") if case == "map" else ("ptm",):
            if (other, n, threads) in per_cpu:
                print(f"{case:5s} / {other:6s} {n:>9d} atoms, {threads} thr: "
                      f"{rate / per_cpu[other, n, threads]:5.2f}x per CPU-second")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
