"""The full `analyze` chain at 1.25e5 ... 1e6 atoms per frame, serial and on a 2-worker Dask cluster.

    python benchmarks/bench_scale.py                       # all four sizes, 3 frames each
    python benchmarks/bench_scale.py --sizes 125000 --frames 2 --no-dask
    python benchmarks/bench_scale.py --md                  # decorrelate the copies with LAMMPS MD
    python benchmarks/bench_scale.py --sizes 262144 --frames 6 --no-dask --defaults

By default Mapper takes a sample of 20,000 points and no labelled trajectory is written;
--defaults runs `crystopo analyze` with every default instead.  --frames above 3 spreads the
frames evenly over the demo run: the difference between two frame counts is the marginal cost
of a frame, what a run of hundreds of frames pays.

Test system: frames of the bundled Lennard-Jones nucleation run (liquid, nucleating, growing)
replicated periodically to the target size.  By default each copy gets an independent seeded
Gaussian displacement of 0.02 sigma so that no two copies are identical; with --md
(needs crystopo[lammps]) each replicated frame is run for a short LAMMPS NVT segment
(descriptors.md.replicate_and_decorrelate) instead, which is slower but real dynamics.

Each configuration runs `crystopo analyze` in a fresh subprocess; the script prints seconds per
frame for each stage (from OUT/summary.json) and the peak resident memory of the whole run
(the largest ru_maxrss among the run's processes: the main process or one Dask worker).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = (125_000, 250_000, 500_000, 1_000_000)
SOURCE_FRAMES = (10, 30, 49)  # undercooled liquid, nucleating, growing


def source_frames(n_frames: int) -> list:
    """Demo frames replicated: SOURCE_FRAMES for up to 3, else n evenly spaced from 10 to 49
    (the marginal cost of a frame: compare 3 with 6 or 12)."""
    if n_frames <= len(SOURCE_FRAMES):
        return list(SOURCE_FRAMES[:n_frames])
    return sorted({int(round(k)) for k in np.linspace(10, 49, n_frames)})


def replicas_for(target: int, n0: int):
    """Integer replication (a, b, c) whose atom count is closest to ``target``."""
    best = None
    for a in range(1, 12):
        for b in range(a, 12):
            for c in range(b, 12):
                err = abs(a * b * c * n0 - target)
                if best is None or err < best[0]:
                    best = (err, (a, b, c))
    return best[1]


def make_system(target: int, n_frames: int, path: Path, *, md: bool, seed: int = 0) -> int:
    from descriptors import Box, Frame, demo_trajectory_path, read_trajectory, write_lammps_dump

    traj = read_trajectory(demo_trajectory_path())
    reps = replicas_for(target, traj[0].n_atoms)
    rng = np.random.default_rng(seed)
    frames = []
    for k in source_frames(n_frames):
        f = traj[k]
        if md:
            from descriptors.md import replicate_and_decorrelate

            tmp = path.with_suffix(f".md{k}.dump")
            src = path.with_suffix(f".src{k}.dump")
            write_lammps_dump(src, f)
            replicate_and_decorrelate(src, tmp, replicas=reps, temperature=0.65, time=1.0, seed=seed + k)
            big = read_trajectory(tmp)[-1]
            frames.append(Frame(big.positions, big.box, big.ids, big.types, timestep=f.timestep))
            continue
        shifts = np.array(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij")).reshape(3, -1).T
        cell = f.box.cell
        pos = (f.positions[None] + (shifts @ cell)[:, None, :]).reshape(-1, 3)
        pos = pos + rng.normal(scale=0.02, size=pos.shape)
        n = len(pos)
        frames.append(Frame(pos, Box(cell * np.asarray(reps)[:, None], f.box.origin),
                            np.arange(1, n + 1), np.ones(n, np.int32), timestep=f.timestep))
    write_lammps_dump(path, frames)
    return frames[0].n_atoms


def run(path: Path, out: Path, workers: int | None, defaults: bool = False):
    cfg = out.with_suffix(".toml")
    cfg.write_text("" if defaults else "[mapper]\nsample = 20000\n[output]\ntrajectory = \"none\"\n")
    cmd = [sys.executable, "-m", "multilayer.app.cli", "analyze", str(path), "--out", str(out),
           "--config", str(cfg), "--quiet"]
    if workers:
        cmd += ["--workers", str(workers)]
    # a wrapper process reports the peak RSS of its own descendants only
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
               "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r)")
    t = time.perf_counter()
    # bytecode cached as in a user's environment (PYTHONDONTWRITEBYTECODE, set on some CI
    # machines, recompiles crystopo's modules at every start: 0.3 s)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True,
                          env=dict(env, OMP_WAIT_POLICY="PASSIVE"))
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    peak = int(proc.stdout.split("PEAK")[-1].split()[0])
    summary = json.loads((out / "summary.json").read_text())
    return wall, peak / 1e6, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--frames", type=int, default=3,
                    help="frames per run, 1-40 (3: liquid, nucleating, growing)")
    ap.add_argument("--no-dask", action="store_true", help="serial runs only")
    ap.add_argument("--defaults", action="store_true",
                    help="every analyze default (Mapper on all points, the labelled dump written)")
    ap.add_argument("--md", action="store_true", help="decorrelate replicas with LAMMPS MD")
    ap.add_argument("--workdir", help="keep the generated dumps here (default: a temp dir)")
    args = ap.parse_args()
    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="crystopo-scale-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"{'atoms':>9} {'mode':>7} {'features s/fr':>13} {'cluster s':>9} {'track s/fr':>10} "
          f"{'wall s':>7} {'wall s/fr':>9} {'peak GB':>7}")
    for size in args.sizes:
        path = tmp / f"lj_{size}x{args.frames}.dump"
        if not path.exists():
            n = make_system(size, args.frames, path, md=args.md)
        else:
            from descriptors import read_trajectory
            n = read_trajectory(path).header(0)["n_atoms"]
        modes = [None] if args.no_dask else [None, 2]
        for workers in modes:
            out = tmp / f"out_{size}_{workers or 'serial'}"
            wall, peak, s = run(path, out, workers, args.defaults)
            tm = s["timing_s"]
            nf = s["frames"]
            print(f"{n:>9} {('dask' + str(workers)) if workers else 'serial':>7} "
                  f"{tm['features_s'] / nf:>13.1f} {tm['cluster_s']:>9.1f} {tm['track_s'] / nf:>10.1f} "
                  f"{wall:>7.0f} {wall / nf:>9.1f} {peak:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
