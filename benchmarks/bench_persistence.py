"""Per-atom persistent homology (H0-H2): numba batch kernels beside per-atom library loops.

    python benchmarks/bench_persistence.py                       # 1e5 atoms, 1 and 2 threads
    python benchmarks/bench_persistence.py --atoms 2e4 --shells 1.2 --threads 1   # quick look

Frames: a thermally noisy fcc crystal (Gaussian displacements of 5 % of the
nearest-neighbour distance ``nn``) and a liquid-like frame (random points relaxed
until no pair is closer than 0.85, at density 1.1: dense, disordered, no lattice).
Neighbourhoods: the atom plus its neighbours within ``r_cut = shell * nn``, with ``nn``
the nearest-neighbour distance of an fcc crystal at the frame's number density (the
true nn for the crystal; for the liquid its hard-core contact is smaller):

* ``1.2``  first shell (13 points in fcc),
* ``1.55`` second shell (19 points in fcc),
* ``1.8``  up to the third shell (43 points in fcc), the "~43-55 points" size.

Per configuration:

* ``numba`` -- :func:`tda.local_persistence` on the whole frame, 1 and 2 threads
  (each run in a fresh subprocess pinned to that many CPUs, neighbour list built
  beforehand, compiled kernels loaded beforehand; ``peak MB`` is that process's
  ``ru_maxrss``, ``+MB`` its rise during the call);
* ``ripser``, ``gudhi-rips``, ``gudhi-alpha`` -- one library call per atom in a
  Python loop (gudhi's default ``precision="safe"``), timed on a random sample of
  atoms for a few seconds and extrapolated.

Atoms per CPU-second is the fair per-core figure on a shared machine; wall-clock
rates are printed too.  ``x lib`` compares the kernel's CPU rate with the faster
library loop of the same filtration.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

PRELUDE = """
import json, os, resource, time, logging
import numpy as np
os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:THREADS]))
import numba
numba.set_num_threads(THREADS)
from descriptors import Box, Frame, make_lattice, neighbor_list
from tda import local_persistence
if FRAME == "fcc":
    frame = make_lattice("fcc", CELLS, noise=0.05, seed=0)
else:
    data = np.load(LIQUID)
    frame = Frame(data["positions"], Box(data["cell"]))
nn = (np.sqrt(2.0) * frame.box.volume / frame.n_atoms) ** (1 / 3)  # fcc nn at this density
nl = neighbor_list(frame, r_cut=SHELL * nn)
warm = make_lattice("fcc", 2, noise=0.05, seed=1)
local_persistence(warm, r_cut=1.2, complex=COMPLEX)   # load compiled kernels
out = {"n": frame.n_atoms, "points": float(nl.counts.mean() + 1)}
"""

KERNEL = """
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c = time.process_time(); t = time.perf_counter()
dg = local_persistence(frame, nl, complex=COMPLEX)
out["wall"] = time.perf_counter() - t; out["cpu"] = time.process_time() - c
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["rise_mb"] = out["peak_mb"] - rss0 / 1024
out["pairs"] = dg.n_pairs / dg.n_atoms
out["atoms"] = frame.n_atoms
"""

LIBRARY = """
import gudhi, ripser
rng = np.random.default_rng(0)
order = rng.permutation(frame.n_atoms)
clouds = (np.vstack([np.zeros((1, 3)), nl.of(int(i))[2]]) for i in order)
def run(P):
    if LIB == "ripser":
        ripser.ripser(P, maxdim=2)
    elif LIB == "gudhi-rips":
        st = gudhi.RipsComplex(points=P).create_simplex_tree(max_dimension=3)
        st.compute_persistence()
    else:
        st = gudhi.AlphaComplex(points=P).create_simplex_tree()
        st.compute_persistence()
    return st if LIB != "ripser" else None
done = 0
c = time.process_time(); t = time.perf_counter()
for P in clouds:
    run(P)
    done += 1
    if time.perf_counter() - t > BUDGET or done >= MAXN:
        break
out["wall"] = time.perf_counter() - t; out["cpu"] = time.process_time() - c
out["atoms"] = done
"""


def liquid_like(n_atoms, seed=0, density=1.1, core=0.85, sweeps=40):
    """Random points pushed apart until no pair is closer than ``core``."""
    import numpy as np

    from descriptors import Box, Frame, neighbor_list

    rng = np.random.default_rng(seed)
    box = Box.orthogonal([(n_atoms / density) ** (1 / 3)] * 3)
    pos = rng.random((n_atoms, 3)) @ box.cell
    for _ in range(sweeps):
        nl = neighbor_list(Frame(pos, box), r_cut=core)
        if nl.indices.size == 0:
            break
        push = (nl.vectors / nl.distances[:, None]) * (nl.distances - core)[:, None] * 0.5
        np.add.at(pos, nl.query_indices(), push)
        pos = box.wrap(pos)
    return pos, box.cell


def run_case(code, **params):
    src = PRELUDE + code
    for key, val in params.items():
        src = src.replace(key, repr(val) if isinstance(val, str) else str(val))
    src += "\nprint('RESULT', json.dumps(out))\n"
    env = dict(os.environ, OMP_NUM_THREADS=str(params["THREADS"]))
    proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(proc.stderr[-3000:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=float, default=1e5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--shells", default="1.2,1.55,1.8")
    ap.add_argument("--frames", default="fcc,liquid")
    ap.add_argument("--complexes", default="alpha,rips")
    ap.add_argument("--budget", type=float, default=4.0, help="seconds per library loop")
    args = ap.parse_args(argv)
    n_atoms = int(args.atoms)
    cells = max(2, round((n_atoms / 4) ** (1 / 3)))
    threads = [int(t) for t in args.threads.split(",")]
    tmp = tempfile.mkdtemp()
    liquid = os.path.join(tmp, "liquid.npz")
    if "liquid" in args.frames:
        import numpy as np

        pos, cell = liquid_like(n_atoms)
        np.savez(liquid, positions=pos, cell=cell)
    print(f"{'frame':7s} {'r_cut':>5s} {'pts':>5s} {'complex':7s} {'method':12s} "
          f"{'atoms/s':>9s} {'atoms/cpu-s':>11s} {'x lib':>6s} {'peak MB':>8s} {'+MB':>6s}")
    for frame in args.frames.split(","):
        for shell in [float(s) for s in args.shells.split(",")]:
            for complex in args.complexes.split(","):
                common = dict(FRAME=frame, CELLS=cells, LIQUID=liquid, SHELL=shell,
                              COMPLEX=complex)
                libs = ["gudhi-alpha"] if complex == "alpha" else ["ripser", "gudhi-rips"]
                lib_rate = 0.0
                rows = []
                for lib in libs:
                    r = run_case(LIBRARY, THREADS=1, LIB=lib, BUDGET=args.budget, MAXN=5000,
                                 **common)
                    rate = r["atoms"] / r["cpu"]
                    lib_rate = max(lib_rate, rate)
                    rows.append((f"{lib} loop", r["atoms"] / r["wall"], rate, None, None, None, r))
                for t in threads:
                    r = run_case(KERNEL, THREADS=t, **common)
                    rows.append((f"numba {t}t", r["n"] / r["wall"], r["n"] / r["cpu"], True,
                                 r["peak_mb"], r["rise_mb"], r))
                for name, wall, cpu, kern, peak, rise, r in rows:
                    x = f"{cpu / lib_rate:6.1f}" if kern else "      "
                    mem = f"{peak:8.0f} {rise:6.0f}" if kern else " " * 15
                    print(f"{frame:7s} {shell:5.2f} {r['points']:5.1f} {complex:7s} {name:12s} "
                          f"{wall:9.0f} {cpu:11.0f} {x} {mem}", flush=True)
    print(f"frames of {n_atoms} atoms requested (fcc: {4 * cells ** 3}); library loops: "
          f"<= {args.budget:g} s on a random sample, extrapolated")


if __name__ == "__main__":
    main()
