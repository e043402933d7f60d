"""Read one large LAMMPS dump frame and build its neighbour list; compare with ase, OVITO and scipy.

    python benchmarks/bench_io_neighbors.py --cells 63      # 1,000,188 atoms (fcc, 5 % noise)
    python benchmarks/bench_io_neighbors.py --atoms 262144 --rcut 2.1 --cases crystopo_neighbors

Each measurement runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own;
reads are timed as the best of 3 after a warm-up (on a shared machine the best run is the
least disturbed one).  Printed per case: wall seconds, CPU seconds of the timed part (user +
system; on a loaded machine compare these), atoms/s, the process's peak RSS and, for
crystopo's list, the size of the finished list (offsets + indices + distances + vectors):
the peak minus the frame is the build's memory overhead (issue #16: under 4 GB at 10^6 atoms).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CASES = {
    "crystopo_read": """
from descriptors import read_frame
read_frame(PATH)  # warm-up: numba's cached tokenizer, pandas import
dt = min(timed(lambda: read_frame(PATH)) for _ in range(REPEAT))
n = read_frame(PATH).n_atoms
""",
    "ase_read": """
import ase.io
ase.io.read(PATH, format="lammps-dump-text", index=0)
dt = min(timed(lambda: ase.io.read(PATH, format="lammps-dump-text", index=0)) for _ in range(REPEAT))
n = len(ase.io.read(PATH, format="lammps-dump-text", index=0))
""",
    "ovito_read": """
from ovito.io import import_file
import_file(PATH).compute(0)
dt = min(timed(lambda: import_file(PATH).compute(0)) for _ in range(REPEAT))
n = import_file(PATH).compute(0).particles.count
""",
    "crystopo_neighbors": """
from descriptors import make_lattice, read_frame, neighbor_list
neighbor_list(make_lattice("fcc", 6, noise=0.05, seed=0), r_cut=RCUT)  # warm-up: numba's cache
f = read_frame(PATH)
c0 = cpu(); t = time.perf_counter(); nl = neighbor_list(f, r_cut=RCUT); dt = time.perf_counter() - t
n = f.n_atoms; extra = {"pairs": int(len(nl.indices)), "cpu": cpu() - c0,
                        "list_gb": sum(a.nbytes for a in (nl.offsets, nl.indices, nl.distances,
                                                          nl.vectors)) / 1e9}
""",
    "freud_raw_neighbors": """
import freud, numpy as np
from descriptors import read_frame
f = read_frame(PATH)
box = freud.box.Box.from_matrix(f.box.cell.T)
pts = box.wrap(f.positions - f.box.origin - f.box.cell.sum(0) / 2)
t = time.perf_counter()
nl = freud.locality.AABBQuery(box, pts).query(pts, dict(r_max=RCUT, exclude_ii=True)).toNeighborList()
dt = time.perf_counter() - t; n = f.n_atoms; extra = {"pairs": int(len(nl.distances))}
""",
    "scipy_ckdtree_neighbors": """
import numpy as np
from scipy.spatial import cKDTree
from descriptors import read_frame
f = read_frame(PATH)
L = np.diag(f.box.cell); pts = np.mod(f.positions - f.box.origin, L)
t = time.perf_counter()
tree = cKDTree(pts, boxsize=L); pairs = tree.query_pairs(RCUT, output_type="ndarray")
dt = time.perf_counter() - t; n = f.n_atoms; extra = {"pairs": 2 * int(len(pairs))}
""",
}


def run_case(name, path, r_cut, threads):
    code = ("import time, json, resource, os\nPATH = %r\nRCUT = %r\nREPEAT = 3\nextra = {}\n"
            "def timed(fn):\n    t = time.perf_counter(); fn(); return time.perf_counter() - t\n"
            "def cpu():\n    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime\n"
            % (str(path), r_cut)
            + CASES[name]
            + "\nprint(json.dumps({'dt': dt, 'n': n, 'rss_gb': resource.getrusage(resource.RUSAGE_SELF)"
              ".ru_maxrss / 1e6, **extra}))\n")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return None, last
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=63, help="fcc cells per edge (4 n^3 atoms)")
    ap.add_argument("--atoms", type=float, help="approximate atom count (sets --cells)")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES),
                    help="cases to run (default: all)")
    ap.add_argument("--path", help="an existing dump to read instead of a generated one")
    ap.add_argument("--rcut", type=float, default=1.5, help="cutoff in nearest-neighbour distances")
    args = ap.parse_args()
    if args.atoms is not None:
        args.cells = max(2, round((args.atoms / 4) ** (1 / 3)))
    from descriptors import make_lattice, write_lammps_dump

    tmpdir = tempfile.TemporaryDirectory()
    path = args.path
    if path is None:
        frame = make_lattice("fcc", args.cells, noise=0.05, seed=0)
        path = os.path.join(tmpdir.name, "big.dump")
        t = time.perf_counter()
        write_lammps_dump(path, frame)
        print(f"wrote {frame.n_atoms} atoms ({os.path.getsize(path) / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t:.1f} s")
    results = {}
    for name in args.cases:
        for threads in ([1, 2] if name.endswith("neighbors") and "scipy" not in name else [1]):
            res, err = run_case(name, path, args.rcut, threads)
            key = f"{name} ({threads} thr)"
            if res is None:
                print(f"{key:36s} skipped: {err}")
                continue
            results[key] = res
            rate = res["n"] / res["dt"]
            print(f"{key:36s} {res['dt']:8.2f} s  {rate:12.3g} atoms/s  peak RSS {res['rss_gb']:.2f} GB"
                  + (f"  cpu {res['cpu']:.2f} s" if "cpu" in res else "")
                  + (f"  list {res['list_gb']:.2f} GB" if "list_gb" in res else "")
                  + (f"  pairs {res['pairs']}" if "pairs" in res else ""))
    ours = results.get("crystopo_read (1 thr)")
    for other in ("ase_read (1 thr)", "ovito_read (1 thr)"):
        if ours and other in results:
            print(f"crystopo read is {results[other]['dt'] / ours['dt']:.1f}x faster than {other.split()[0]}")


if __name__ == "__main__":
    main()
