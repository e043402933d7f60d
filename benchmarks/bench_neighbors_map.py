"""Neighbors Map throughput on thermally noisy fcc frames, beside PTM and a per-atom KD-tree loop.

    python benchmarks/bench_neighbors_map.py                     # 1e5 and 1e6 atoms, 1 and 2 threads
    python benchmarks/bench_neighbors_map.py --atoms 1e5 --threads 1

Every configuration runs in a fresh subprocess pinned to ``threads`` CPUs
(``sched_setaffinity``; numba, freud and scipy then use no more), so that its
peak memory (``ru_maxrss``) and its timing are its own.  Measured per frame:

* ``neighbors``: the periodic neighbour list at the default ball radius;
* ``map``: :func:`neighbors_map` given that list (the full float32 stack);
* ``iter``: :func:`iter_neighbors_map` end to end, neighbour search included and
  done block by block, images consumed chunk by chunk (what a 10^6-atom run does);
* ``ptm``: OVITO's PolyhedralTemplateMatchingModifier, when ``ovito`` imports;
* ``kdtree_loop``: the reference code's approach, one ``cKDTree`` ball query plus a
  small periodic tree per atom, in a Python loop over a sample, extrapolated.

Both wall-clock and CPU time are reported: on a shared machine, atoms per
CPU-second is the fairer per-core figure.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

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
c = time.process_time(); t = time.perf_counter(); im = neighbors_map(frame, nl, size=SIZE)
dt = time.perf_counter() - t; cpu = time.process_time() - c
extra["checksum"] = float(im[:, 0, 0, 0].mean())
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


def run_case(name, cells, threads, args):
    code = (f"THREADS, CELLS, NOISE, SIZE, SAMPLE = {threads}, {cells}, {args.noise}, {args.size}, "
            f"{args.sample}\n" + PRELUDE + CASES[name]
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
    ap.add_argument("--atoms", type=float, nargs="+", default=[1e5, 1e6],
                    help="approximate frame sizes (fcc, 4 n^3 atoms)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--noise", type=float, default=0.05, help="thermal noise, in nn distances")
    ap.add_argument("--size", type=int, default=32, help="image side S")
    ap.add_argument("--sample", type=int, default=2000, help="atoms timed in the KD-tree loop")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    have_ovito = importlib.util.find_spec("ovito") is not None
    results = []
    for target in args.atoms:
        cells = max(3, round((target / 4) ** (1 / 3)))
        for name in args.cases:
            if name == "ptm" and not have_ovito:
                print(f"{'ptm':12s} skipped: ovito is not importable (pip install ovito)")
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
                print(f"{key}  {res['dt']:7.2f} s wall {rate:9.3g} atoms/s | {res['cpu']:7.2f} s CPU "
                      f"{per_cpu:9.3g} atoms/CPU-s | peak RSS {res['rss_gb']:5.2f} GB", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
