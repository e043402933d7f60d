"""Community life-cycle events (``community_events``) on planted labels: time and memory.

The labels are the planted truth of ``multilayer.network.synthetic.planted_blobs``
(without its descriptors, which would not fit at 10^6 atoms x 100 frames): blobs 0 and 1
hold a quarter of the atoms each, blob 2 the other half; at 0.3 n_frames a quarter of
blob 1 moves to blob 0 (growth of 0, contraction of 1), at 0.5 n_frames a fifth of blob 2
splits off as blob 3, which merges into blob 1 at 0.8 n_frames.  The events found must be
exactly these (the split child overlaps its parent by a Jaccard of 0.2, so with
``--threshold`` above 0.2 it is seen as the birth of 3 and a contraction of 2), and
continuations everywhere else.

    python benchmarks/bench_lifecycles.py [--atoms 1000000] [--frames 100] [--threshold 0.3]
                                          [--shuffle]

``--shuffle`` gives every frame its own random atom order (ids permuted with the labels),
so that atoms are matched by id instead of by row.  Prints the seconds of one call,
the peak of memory allocated during a second call (tracemalloc, on top of the labels
passed in) and the process's peak resident memory (which includes the labels).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np


def planted_truth(n_atoms, n_frames):
    """The ``truth`` of ``planted_blobs(n_atoms, n_frames)``: (n_frames, n_atoms) int64."""
    q = n_atoms // 4
    base = np.repeat(np.array([0, 1, 2], dtype=np.int64), [q, q, n_atoms - 2 * q])
    moved = slice(q, q + q // 4)
    split = slice(2 * q, 2 * q + (n_atoms - 2 * q) // 5)
    truth = np.empty((n_frames, n_atoms), dtype=np.int64)
    for t in range(n_frames):
        lab = truth[t]
        lab[:] = base
        if t >= 0.3 * n_frames:
            lab[moved] = 0
        if t >= 0.5 * n_frames:
            lab[split] = 3
        if t >= 0.8 * n_frames:
            lab[split] = 1
    return truth


def expected_events(n_atoms, n_frames, threshold, size_tol):
    """The discrete events of the planted run, by hand: {(frame, event, from, to)}."""
    q = n_atoms // 4
    moved, rest, split = q // 4, n_atoms - 2 * q, (n_atoms - 2 * q) // 5
    t_move, t_split, t_merge = (next(t for t in range(n_frames) if t >= f * n_frames)
                                for f in (0.3, 0.5, 0.8))
    ev = {(0, "birth", (), (0,)), (0, "birth", (), (1,)), (0, "birth", (), (2,))}
    assert (q + moved) / q > 1 + size_tol and (q - moved) / q < 1 - size_tol
    ev |= {(t_move, "growth", (0,), (0,)), (t_move, "contraction", (1,), (1,))}
    assert (rest - split) / rest < 1 - size_tol and (rest - split) / rest >= threshold
    if split / rest >= threshold:  # Jaccard of the split-off part with its parent
        ev.add((t_split, "split", (2,), (2, 3)))
    else:
        ev |= {(t_split, "birth", (), (3,)), (t_split, "contraction", (2,), (2,))}
    into = q - moved  # what is left of blob 1 when blob 3 joins it
    assert into / (into + split) >= threshold
    if split / (into + split) >= threshold:
        ev.add((t_merge, "merge", (1, 3), (1,)))
    else:
        ev |= {(t_merge, "death", (3,), ()), (t_merge, "growth", (1,), (1,))}
    return ev


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, default=1_000_000)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--size-tol", type=float, default=0.05)
    ap.add_argument("--shuffle", action="store_true",
                    help="a random atom order per frame (atoms matched by id, not by row)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.frames < 10 or args.atoms < 40:
        ap.error("need --frames >= 10 and --atoms >= 40 for the four planted events")

    from multilayer.network.synthetic import planted_blobs
    from multilayer.tracking.lifecycle import community_events

    small = planted_blobs(400, args.frames, n_features=1)[2]
    assert np.array_equal(planted_truth(400, args.frames), small), "generator drifted"

    n, n_frames = args.atoms, args.frames
    t0 = time.perf_counter()
    truth = planted_truth(n, n_frames)
    ids = np.arange(1, n + 1, dtype=np.int64)
    if args.shuffle:
        rng = np.random.default_rng(args.seed)
        perms = [rng.permutation(n) for _ in range(n_frames)]
        labels, ids = [truth[t, p] for t, p in enumerate(perms)], [ids[p] for p in perms]
        del truth, perms
    else:
        labels = truth
    print(f"{n} atoms x {n_frames} frames{' (shuffled)' if args.shuffle else ''}: labels built "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)

    given = sum(x.nbytes for x in (labels if args.shuffle else [labels]))
    given += sum(x.nbytes for x in (ids if args.shuffle else [ids]))
    kw = {"threshold": args.threshold, "size_tol": args.size_tol}
    t0, c0 = time.perf_counter(), time.process_time()
    events = community_events(labels, ids, **kw)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0

    tracemalloc.start()
    t0 = time.perf_counter()
    again = community_events(labels, ids, **kw)
    traced_seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB

    found = {(r.frame, r.event, tuple(r.from_communities), tuple(r.to_communities))
             for r in events.itertuples() if r.event != "continuation"}
    want = expected_events(n, n_frames, args.threshold, args.size_tol)
    n_cont = int((events.event == "continuation").sum())
    print(f"community_events: {seconds:.2f} s ({cpu:.2f} s CPU); peak traced memory "
          f"{peak / 2**30:.3f} GiB "
          f"(second call, {traced_seconds:.2f} s under tracemalloc); process max RSS "
          f"{maxrss:.2f} GiB (labels and ids passed in: {given / 2**30:.2f} GiB)")
    print(f"{len(events)} events: {len(found)} discrete, {n_cont} continuations")
    for f, e, a, b in sorted(found - {x for x in found if x[0] == 0}):
        print(f"  frame {f:3d}  {e:12s} {list(a)} -> {list(b)}")
    ok = found == want and again.equals(events)
    print("planted events found exactly" if ok else
          f"MISMATCH: missing {sorted(want - found)}, unexpected {sorted(found - want)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
