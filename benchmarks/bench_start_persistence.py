"""Does the first frame's largest nucleus persist?  From a ``crystopo analyze`` output.

For the crystal-like atoms and the crystalline core of every frame of ``DIR/labels.parquet``
(``crystal_like`` and ``core`` columns), the nuclei are found as ``analyze`` finds them
(:func:`multilayer.tracking.find_nuclei` over first-shell neighbour lists, 1.35 times the
run's first-neighbour distance from ``DIR/summary.json``) and
:class:`multilayer.tracking.StartPersistence` follows the first frame's largest nucleus.
Prints, per series, the range of the share over the later frames and in how many of them it
is at least :data:`multilayer.tracking.START_PERSISTENCE` (``nucleation_onset`` puts the
onset at the first frame from nine in ten).

    python benchmarks/bench_start_persistence.py TRAJ DIR
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    import pandas as pd

    from descriptors import neighbor_list, read_trajectory
    from multilayer.tracking import START_PERSISTENCE, StartPersistence, find_nuclei

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trajectory")
    ap.add_argument("out", type=Path, help="the crystopo analyze output directory")
    args = ap.parse_args(argv)
    summary = json.loads((args.out / "summary.json").read_text())
    r_cut = 1.35 * float(summary["nn_distance"])
    lab = pd.read_parquet(args.out / "labels.parquet", columns=["frame", "id", "core",
                                                                 "crystal_like"])
    traj = read_trajectory(args.trajectory)
    series = ("crystal_like", "core")
    persist = {k: StartPersistence() for k in series}
    for t, g in lab.groupby("frame", sort=True):
        frame = traj[int(t)]
        g = g.sort_values("id")
        if not np.array_equal(g["id"].to_numpy(), frame.ids):
            raise SystemExit(f"{args.out}: frame {t}'s ids differ from {args.trajectory}'s")
        nl = neighbor_list(frame, r_cut=r_cut)
        for k in series:
            nuc = find_nuclei(frame, g[k].to_numpy(bool), nl, min_size=2)
            persist[k].add(frame.ids, nuc == 0)
    for k in series:
        v = np.asarray(persist[k].values[1:])
        print(f"{k:13s} share of the first largest nucleus in later frames' largest: "
              f"{v.min():.2f}-{v.max():.2f}; >= {START_PERSISTENCE:g} in "
              f"{100 * np.mean(v >= START_PERSISTENCE):.0f} % of {len(v)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
