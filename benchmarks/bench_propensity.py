"""Crystallization propensity on the bundled LJ nucleation run: ROC-AUC per horizon.

For H = 2, 5, 10, 20 frames (3 tau per frame), every atom not crystal at frame t is scored
P(crystal at t + H) by a model trained out of fold over 27 spatial blocks
(5 folds; inputs: the run's Steinhardt q4..q12, Neighbors Map and persistence features
-- the wide sets reduced to 8 principal axes -- their means over the neighbours, and the
geometric inputs); beside it, single classic predictors computed in the same run on the
same rows: averaged q6 (Lechner-Dellago) of the atom and its neighbours' mean, coordination
number (neighbours within 1.35 d), crystal fraction of the neighbours and distance to
the nearest crystal atom.  Crystal: ``crystopo propensity``'s default target, the
crystalline core (``--target crystal_like``: all crystal-like
atoms, the target until stop 31).

    python benchmarks/bench_propensity.py [--out DIR] [--model hgb|logistic]
                                          [--target core|crystal_like]

Runs (or, with the same DIR, reuses) ``analyze`` with the default configuration.
Prints a Markdown table ready for the README.
"""
from __future__ import annotations

import argparse
import time

from descriptors import demo_trajectory_path
from multilayer.app.propensity import propensity

HORIZONS = [2, 5, 10, 20]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/crystopo-bench-propensity")
    ap.add_argument("--model", default="hgb", choices=["hgb", "logistic"])
    ap.add_argument("--max-train", type=int, default=60_000)
    ap.add_argument("--target", default="core", choices=["core", "crystal_like"])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = propensity(demo_trajectory_path(), args.out, horizon=HORIZONS, model=args.model,
                     max_train=args.max_train, seed=0, target=args.target)
    wall = time.perf_counter() - t0
    print(f"bundled LJ trajectory (4000 atoms, 50 frames), model={args.model}, "
          f"target={args.target}, "
          f"inputs: {len(res.feature_names)} columns; {wall:.0f} s in all (analyze reused "
          f"when {args.out} holds it)\n")
    print("| H (frames) | rows | positive rate | model ROC-AUC | q6 (avg) | q6 (avg) over nbrs "
          "| coordination | crystal nbr fraction | -distance to crystal "
          "| top inputs (permutation ROC-AUC drop) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"   # noqa: E731
    for h in HORIZONS:
        s = res.single_auc[h]
        n = int((res.table["horizon"] == h).sum())
        top = ", ".join(f"{k} ({v:.3f})" for k, v in list(res.importances[h].items())[:3])
        print(f"| {h} | {n} | {fmt(res.positive_rate[h])} | **{fmt(res.roc_auc[h])}** | "
              f"{fmt(s.get('q6'))} | {fmt(s.get('nbr:q6'))} | {fmt(s.get('coordination'))} | "
              f"{fmt(s.get('crystal_neighbors'))} | {fmt(s.get('distance_to_crystal'))} | {top} |")


if __name__ == "__main__":
    main()
