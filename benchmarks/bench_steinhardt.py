"""Lechner-Dellago q̄_l (l = 4, 6, 8, 10, 12) + ten Wolde solid flags: numba kernels vs freud.

    python benchmarks/bench_steinhardt.py                         # ~256k atoms, current threads
    python benchmarks/bench_steinhardt.py --atoms 1e5 --threads 1 2 --repeat 3
    python benchmarks/bench_steinhardt.py --w                     # also w̄4, w̄6 vs freud's wl

On a thermally noisy fcc frame (noise 0.05 nn), with one neighbour list at the
default shell cutoff built beforehand (not timed), each configuration times:

* ``numba``: ``steinhardt_and_solid(frame, nl, average=True)``: the q_lm computed once,
  q̄_l and the ten Wolde bonds from them (float64);
* ``freud``: the reference path, ``steinhardt(..., average=True, backend="freud")`` then
  ``solid_liquid(..., backend="freud")`` (freud's float32 harmonics, twice, on crystopo's
  bonds, averages and coherences in numpy/scipy);
* ``freud_raw`` (``--raw``): freud's own ``Steinhardt(average=True)`` + ``SolidLiquid``
  on a freud NeighborList made from the same bonds, its native kernels alone;
* ``--w``: the third-order invariants w̄4, w̄6, ``steinhardt_w(frame, nl, l=(4, 6),
  average=True)`` (float64) against freud's own ``Steinhardt([4, 6], average=True, wl=True,
  wl_normalize=True)`` on the same bonds.

The best of ``--repeat`` wall-clock times is reported (after a warm-up call that
compiles numba), with atoms/s, CPU seconds and the ratio freud / numba.  ``--threads``
sets numba's and freud's (TBB) thread counts; on a shared machine, compare CPU time too.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _timed(fn, repeat):
    best, best_cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=float, default=2.56e5, help="approximate atom count (fcc)")
    ap.add_argument("--threads", type=int, nargs="*", default=None,
                    help="thread counts to run (default: numba's current count)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--raw", action="store_true", help="also time freud's own Steinhardt + SolidLiquid")
    ap.add_argument("--no-freud", action="store_true", help="numba only")
    ap.add_argument("--w", action="store_true", help="also time w̄4, w̄6 against freud's wl")
    args = ap.parse_args(argv)

    import freud
    import numba

    from descriptors import make_lattice, neighbor_list
    from descriptors.steinhardt import (default_shell_cutoff, solid_liquid, steinhardt,
                                        steinhardt_and_solid, steinhardt_w)

    cells = max(1, int(round((args.atoms / 4) ** (1 / 3))))
    frame = make_lattice("fcc", cells, noise=args.noise, seed=0)
    n = frame.n_atoms
    nl = neighbor_list(frame, r_cut=default_shell_cutoff(frame))
    ls = (4, 6, 8, 10, 12)
    print(f"fcc {cells}^3 cells, {n} atoms, noise {args.noise}, {len(nl.indices) / n:.2f} bonds/atom, "
          f"cpus available {len(os.sched_getaffinity(0))}, numba {numba.__version__} "
          f"({numba.threading_layer() if hasattr(numba, 'threading_layer') else '?'}), "
          f"freud {freud.__version__}")

    steinhardt_and_solid(make_lattice("fcc", 3, noise=0.05, seed=0), average=True)  # compile
    try:
        numba.threading_layer()
    except ValueError:
        pass

    def run_numba():
        return steinhardt_and_solid(frame, nl, l=ls, average=True)

    def run_freud():
        return (steinhardt(frame, nl, l=ls, average=True, backend="freud"),
                solid_liquid(frame, nl, backend="freud"))

    raw = None
    if args.raw:
        box = freud.box.Box.from_matrix(frame.box.cell.T)
        pts = box.wrap(frame.positions - frame.box.origin - frame.box.cell.sum(0) / 2)
        fnl = freud.locality.NeighborList.from_arrays(n, n, nl.query_indices(), nl.indices, nl.vectors)

        def raw():
            st = freud.order.Steinhardt(list(ls), average=True)
            st.compute((box, pts), neighbors=fnl)
            sl = freud.order.SolidLiquid(6, q_threshold=0.5, solid_threshold=7, normalize_q=True)
            sl.compute((box, pts), neighbors=fnl)
            return st.particle_order, np.asarray(sl.num_connections) >= 7

    threads = args.threads or [numba.get_num_threads()]
    before = numba.get_num_threads()
    print(f"{'threads':>7} {'method':>10} {'seconds':>9} {'cpu_s':>8} {'atoms/s':>12} {'ratio':>7}")
    try:
        for t in threads:
            numba.set_num_threads(t)
            freud.parallel.set_num_threads(t)
            sec, cpu, (q, solid) = _timed(run_numba, args.repeat)
            print(f"{t:>7} {'numba':>10} {sec:>9.3f} {cpu:>8.3f} {n / sec:>12.4g} {1.0:>7.2f}")
            rows = []
            if not args.no_freud:
                rows.append(("freud", run_freud))
            if raw is not None:
                rows.append(("freud_raw", raw))
            for name, fn in rows:
                fs, fcpu, (fq, fsolid) = _timed(fn, max(1, min(args.repeat, 2)))
                print(f"{t:>7} {name:>10} {fs:>9.3f} {fcpu:>8.3f} {n / fs:>12.4g} {fs / sec:>7.2f}"
                      f"   max|dq|={np.abs(q - fq).max():.1e} solid flags differ: "
                      f"{int((solid != fsolid).sum())}")
            if args.w:
                steinhardt_w(make_lattice("fcc", 3, noise=0.05, seed=0), l=(4, 6))  # compile
                ws, wcpu, w = _timed(lambda: steinhardt_w(frame, nl, l=(4, 6), average=True),
                                     args.repeat)
                print(f"{t:>7} {'w numba':>10} {ws:>9.3f} {wcpu:>8.3f} {n / ws:>12.4g} {1.0:>7.2f}")
                box = freud.box.Box.from_matrix(frame.box.cell.T)
                pts = box.wrap(frame.positions - frame.box.origin - frame.box.cell.sum(0) / 2)
                fnl = freud.locality.NeighborList.from_arrays(n, n, nl.query_indices(),
                                                              nl.indices, nl.vectors)

                def freud_w():
                    st = freud.order.Steinhardt([4, 6], average=True, wl=True,
                                                wl_normalize=True)
                    st.compute((box, pts), neighbors=fnl)
                    return np.real(st.particle_order)
                fs, fcpu, fw = _timed(freud_w, max(1, min(args.repeat, 2)))
                print(f"{t:>7} {'w freud':>10} {fs:>9.3f} {fcpu:>8.3f} {n / fs:>12.4g} "
                      f"{fs / ws:>7.2f}   max|dw|={np.abs(w - fw).max():.1e}")
    finally:
        numba.set_num_threads(before)
    print(f"solid fraction {solid.mean():.3f}, mean q6bar {q[:, 1].mean():.4f}")


if __name__ == "__main__":
    main()
