"""The anchored structure labels (``analyze``'s default clustering) at scale: seconds, peak
memory and planted accuracy at up to 10^6 atoms x 100 frames.

    python benchmarks/bench_structures_scale.py [--atoms 1e6] [--frames 100] [--features 9]

Frames are ``multilayer.network.synthetic.LazyBlobFrames`` (generated on access, float32):
three Gaussian structures, atoms switching into the last one ("crystal") at a random frame, so
it grows through the run.  The references are 300 draws around each structure's centre, named
liquid, fcc and hcp.  The whole of :func:`multilayer.network.structures.fit_structures` is
timed -- pooled sample, standardisation, codebook, microstate assignment of every row of every
frame, the aggregated multilayer graph, anchored Leiden and the labels -- with the frames'
generation time measured apart and printed (it is not crystopo's work; the pipeline reads
frames from its Zarr store instead).  Accuracy: the fraction of (frame, atom) rows whose
structure name is the planted one.  Peak memory: the process's maximum resident set.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from multilayer.network.structures import fit_structures
from multilayer.network.synthetic import LazyBlobFrames

KINDS = ("liquid", "fcc", "hcp")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=float, default=1e6)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--features", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-microstates", type=int, default=None,
                    help="codebook size (default: [labels] n_microstates)")
    ap.add_argument("--interpolate", action=argparse.BooleanOptionalAction, default=None,
                    help="[labels] interpolate (default: the default)")
    args = ap.parse_args(argv)
    n, n_f = int(args.atoms), args.frames
    frames = LazyBlobFrames(n, n_f, n_features=args.features, n_structures=3, separation=10.0,
                            seed=args.seed)
    t0 = time.perf_counter()
    for t in range(n_f):
        frames[t]
    gen = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    x_ref = np.concatenate([c + rng.standard_normal((300, args.features)).astype(np.float32)
                            for c in frames.centres])
    kind = np.repeat(np.array(KINDS), 300)
    ids = np.arange(n, dtype=np.int64)
    t0 = time.perf_counter()
    kw = {} if args.n_microstates is None else {"n_microstates": args.n_microstates}
    if args.interpolate is not None:
        kw["interpolate"] = args.interpolate
    model, labels = fit_structures(frames, [ids] * n_f, (x_ref, kind), progress=True,
                                   seed=args.seed, **kw)
    secs = time.perf_counter() - t0
    names = np.asarray(model.names)
    hit = sum(int((names[labels[t]] == np.array(KINDS)[frames.labels(t)]).sum()) for t in range(n_f))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    data = n * n_f * args.features * 4 / 2**30
    print(f"{n:,} atoms x {n_f} frames x {args.features} features ({data:.1f} GB of float32 if "
          f"held, never held): fit_structures {secs:.1f} s including {2 * gen:.1f} s of frame "
          f"generation (read twice) -> {secs - 2 * gen:.1f} s of crystopo's work, "
          f"{n * n_f / max(secs - 2 * gen, 1e-9):.3g} rows/s; peak RSS {peak:.2f} GB; "
          f"planted accuracy {hit / (n * n_f):.4f}; structures {sorted(set(names[np.unique(np.concatenate([np.unique(x) for x in labels]))]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
