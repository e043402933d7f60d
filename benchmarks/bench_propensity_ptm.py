"""Crystallization propensity on the validation suite's LAMMPS nucleation runs, scored against
PTM: for every atom that OVITO's PTM does not call crystalline (fcc, hcp, bcc) at frame t, the
out-of-fold P(PTM-crystalline at t + H) (``--truth inherent``: PTM of the frames' inherent
structures, quenched by LAMMPS, so that thermal noise does not decide what is crystal), beside the classic single predictors computed on the
same rows in the same run (averaged q6 of the atom and its neighbours' mean, coordination,
crystalline fraction of the neighbours, distance to the nearest crystalline atom).

    python benchmarks/bench_propensity_ptm.py [--runs nucleation_T0.55_P5_s1 ...] [--horizon 5]
                                              [--sets steinhardt] [--model hgb|logistic]

The inputs are the run's stored feature sets (``--sets``, computed once by the very
``FeatureSet`` that ``analyze`` uses and cached beside the suite) and the averaged q6; targets
and the "not crystalline now" mask both come from PTM, so nothing here depends on crystopo's
own labels.  Data: ``benchmarks/validation_data.py`` (built once; never the bundled demo).
Prints a Markdown table: model ROC-AUC, averaged q6 alone, and the margin (the issue's aim:
model >= q6 + 0.05 at H = 5).

``--peek`` adds a ceiling: the same model given, beside the present inputs, the atom's PTM
state in the frames around the target (t + H - 2, t + H - 1, t + H + 1, t + H + 2: the
fraction of them in which it is crystalline), and that fraction alone.  Knowing the near
future of the atom except the target frame itself, how well can PTM-crystalline at t + H be
told?  It sees everything the present model sees and more, so where it stays below
q6 + 0.05 the present model cannot reach it with these inputs; what is left of the gap is
PTM's own frame-to-frame flicker.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_labels import Lazy, features_of  # noqa: E402
from validation_suite import PTM_NAMES, cache_dir, load_suite  # noqa: E402

from multilayer.learn.propensity import WithPast, crystallization_propensity  # noqa: E402

CRYSTAL = [PTM_NAMES.index(n) for n in ("fcc", "hcp", "bcc")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", default=None, help="suite names (default: every "
                    "nucleation run whose features are cached, else the s1 runs)")
    ap.add_argument("--horizon", type=int, nargs="+", default=[5])
    ap.add_argument("--sets", default="steinhardt", help="comma-separated feature sets")
    ap.add_argument("--model", default="hgb", choices=["hgb", "logistic"])
    ap.add_argument("--max-train", type=int, default=60_000)
    ap.add_argument("--step", type=int, default=1, help="use every STEP-th frame")
    ap.add_argument("--truth", default="instant", choices=["instant", "inherent"],
                    help="crystalline = PTM of the frame (instant) or of its inherent structure "
                    "(the frame quenched by LAMMPS, cached by benchmarks/bench_label_truth.py for "
                    "every 5th frame; only those frames are used, H stays in input frames, e.g. 5)")
    ap.add_argument("--past", type=int, default=1, help="also give the model the causal "
                    "average of every input over the last PAST frames (t-PAST+1 .. t, matched "
                    "by id) and the fraction of them in which the atom was crystalline")
    ap.add_argument("--steinhardt-w", default="",
                    help="[steinhardt] w: the l of the ŵ_l columns added to the Steinhardt set, "
                    "comma-separated (e.g. 6; default none; features cached apart)")
    ap.add_argument("--peek", action="store_true", help="also fit the future-peeking ceiling "
                    "(present inputs + the atom's PTM around t + H, not at it; one horizon, "
                    "--truth instant)")
    args = ap.parse_args(argv)
    if args.peek and (len(args.horizon) != 1 or args.truth != "instant" or args.step != 1):
        ap.error("--peek needs one --horizon, --truth instant and --step 1")
    suite = load_suite()
    runs = args.runs or [n for n in sorted(suite) if n.startswith("nucleation") and n.endswith("s1")]
    sets = args.sets.split(",")
    print(f"model={args.model}; inputs: {sets} + averaged q6 (+ neighbour means, geometry); "
          f"targets: PTM crystalline (fcc/hcp/bcc) H frames later, for atoms PTM does not call "
          f"crystalline now\n")
    print(f"past window: {args.past} frame(s); truth: {args.truth} PTM\n")
    print("| run | H | rows | positive rate | model ROC-AUC | q6 (avg) | q6 over nbrs | "
          "crystalline nbr fraction | -distance to crystal | past q6 | past crystalline "
          "| model - q6 | s |" + (" peek alone | present + peek (ceiling) | ceiling - q6 |"
                                   if args.peek else ""))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
          + ("---:|---:|---:|" if args.peek else ""))
    worst = np.inf
    for name in runs:
        ds = suite[name]
        t0 = time.perf_counter()
        feats, fs = features_of(ds, sets, cache_dir(), progress=False,
                                w=[int(v) for v in args.steinhardt_w.split(",") if v])
        frames_idx = list(range(0, ds.n_frames, args.step))
        traj = ds.trajectory()
        quenched = None
        if args.truth == "inherent":
            path = cache_dir() / f"inherent_ptm_{name}.npz"
            if not path.exists():
                raise SystemExit(f"{path} missing: run benchmarks/bench_label_truth.py first")
            quenched = np.load(path)
            frames_idx = sorted(int(k[3:]) for k in quenched.files if k.startswith("is_"))

        def crystal(t, ds=ds, quenched=quenched):
            i = frames_idx[t]
            ptm = ds.ptm(i) if quenched is None else quenched[f"is_{i:04d}"]
            ids = ds.ids(i)
            assert np.array_equal(ids, feats[i]["ids"]), "PTM and features disagree on atom order"
            return np.isin(ptm, CRYSTAL)

        n = len(frames_idx)
        names = sets + ["q6"]

        inputs, use = Lazy(lambda t: {k: feats[frames_idx[t]][k] for k in names}, n), names
        if args.past > 1:
            inputs = WithPast(inputs, Lazy(lambda t: feats[frames_idx[t]]["ids"], n),
                              Lazy(crystal, n), names, args.past)
            use = names + inputs.past_names
        res = crystallization_propensity(
            Lazy(lambda t: traj[frames_idx[t]], n), Lazy(crystal, n), inputs,
            horizon=args.horizon, feature_sets=use, frame_index=frames_idx,
            r_cut=fs.shell_cut_, model=args.model, max_train=args.max_train, seed=0)
        peek = None
        if args.peek:
            peek = crystallization_propensity(
                Lazy(lambda t: traj[frames_idx[t]], n), Lazy(crystal, n),
                PeekAround(inputs, Lazy(crystal, n), args.horizon[0],
                           Lazy(lambda t: feats[frames_idx[t]]["ids"], n)),
                horizon=args.horizon, feature_sets=use + ["peek"], frame_index=frames_idx,
                r_cut=fs.shell_cut_, model=args.model, max_train=args.max_train, seed=0,
                importance=False)
        secs = time.perf_counter() - t0
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"   # noqa: E731
        for h in res.roc_auc:
            s = res.single_auc[h]
            margin = None if res.roc_auc[h] is None or s.get("q6") is None else \
                res.roc_auc[h] - s["q6"]
            worst = min(worst, margin if margin is not None else np.inf)
            rows = int((res.table["horizon"] == h).sum())
            print(f"| {name} | {h} | {rows} | {fmt(res.positive_rate[h])} | "
                  f"**{fmt(res.roc_auc[h])}** | {fmt(s.get('q6'))} | {fmt(s.get('nbr:q6'))} | "
                  f"{fmt(s.get('crystal_neighbors'))} | {fmt(s.get('distance_to_crystal'))} | "
                  f"{fmt(s.get('past:q6'))} | {fmt(s.get('past:crystalline'))} | "
                  f"{fmt(margin)} | {secs:.0f} |" + ("" if peek is None else
                  f" {fmt(peek.single_auc[h].get('peek'))} | {fmt(peek.roc_auc[h])} | "
                  f"{fmt(peek.roc_auc[h] - s['q6'])} |"), flush=True)
    print(f"\nsmallest margin over q6: {worst:.3f}")
    return 0


class PeekAround:
    """``inputs[t]`` plus ``peek``: the fraction of the frames t + H - 2, t + H - 1, t + H + 1,
    t + H + 2 (those in the run) in which the atom is crystalline.  Rows must hold the same
    atoms in the same order in every frame (``ids``), as the suite's runs do.  Reads the
    future: a ceiling, not a model."""

    def __init__(self, inputs, crystal, horizon, ids):
        self.inputs, self.crystal, self.h, self.ids = inputs, crystal, int(horizon), ids

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, t):
        now = self.inputs[t]
        around = [u for u in (t + self.h - 2, t + self.h - 1, t + self.h + 1, t + self.h + 2)
                  if 0 <= u < len(self.inputs)]
        for u in around:
            if not np.array_equal(self.ids[u], self.ids[t]):
                raise ValueError(f"--peek: frames {t} and {u} hold different atoms or a "
                                 f"different row order; the peek needs fixed rows")
        frac = np.mean([np.asarray(self.crystal[u], dtype=np.float32) for u in around], axis=0) \
            if around else np.zeros(len(self.crystal[t]), dtype=np.float32)
        return dict(now) | {"peek": frac}


if __name__ == "__main__":
    sys.exit(main())
