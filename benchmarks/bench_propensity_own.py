"""Crystallization propensity learnt from crystopo's own labels, scored against PTM.

``crystopo propensity`` learns P(crystal at t + H) from the run's own future: its targets are
crystopo's labels, not PTM's.  This scores that model, on the validation suite's LAMMPS runs,
against what OVITO's PTM says: for every atom PTM does not call crystalline (fcc, hcp, bcc)
at frame t, the score is the model's out-of-fold P(crystal at t + H) -- 1 where crystopo
already calls the atom crystal, as such an atom has no row of its own -- and the target is
PTM-crystalline at t + H.  Two kinds of own target:

* ``crystal-like``: the structure labels (``analyze``'s defaults, as ``bench_labels.py``
  makes them);
* ``core``: their crystalline core (:func:`multilayer.tracking.crystalline_core`, the
  atoms whose own first shell is a crystal's).

Beside them, in the same run and on the same rows: averaged q6 alone and the model trained on
PTM's own targets (``bench_propensity_ptm.py``'s question).  Inputs: the averaged Steinhardt
set and q6 with their neighbour means and the geometric inputs, as in ``bench_propensity_ptm.py``.

    python benchmarks/bench_propensity_own.py [--runs NAME ...] [--horizon 5]

Data: ``benchmarks/validation_data.py`` (``$CRYSTOPO_CACHE`` for another cache, e.g. its
``held_out/``).  Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_labels import (ANALYZE_LABELS, LABEL_SETS, STRUCTURE_DEFAULTS, Lazy,  # noqa: E402
                          _crystal, cna_stacking, features_of, method_anchored)
from validation_suite import cache_dir, load_suite  # noqa: E402

from multilayer.learn.propensity import crystallization_propensity  # noqa: E402

CRYSTAL = (1, 2, 3)          # PTM fcc, hcp, bcc


def own_masks(ds, feats, fs):
    """Per frame: crystopo's crystal-like atoms and their crystalline core."""
    from descriptors import neighbor_list
    from multilayer.tracking.nuclei import crystalline_core

    frames = list(range(ds.n_frames))
    names, _ = method_anchored(feats, fs, frames, STRUCTURE_DEFAULTS["sets"] or LABEL_SETS)
    names = cna_stacking(ds, names, frames, fs, support=ANALYZE_LABELS["cna_support"],
                         inherit=ANALYZE_LABELS.get("cna_inherit", False))
    like = [_crystal(n) for n in names]
    traj = ds.trajectory()
    core = [crystalline_core(m, neighbor_list(traj[t], r_cut=fs.shell_cut_), frame=traj[t])
            for t, m in enumerate(like)]
    return like, core


def score_against_ptm(res, masks, ptm, ids, horizon):
    """ROC-AUC of the propensity against PTM-crystalline at t + H, over the atoms PTM does not
    call crystalline at t (score 1 where ``masks`` already holds the atom), the number of
    rows scored and their positive rate."""
    from sklearn.metrics import roc_auc_score

    tab = res.table[res.table["horizon"] == horizon]
    scores, targets = [], []
    for t in range(len(ptm) - horizon):
        now = ~ptm[t]
        p = np.where(masks[t], 1.0, np.nan)
        sub = tab[tab["frame"] == t]
        p[np.searchsorted(ids[t], sub["id"].to_numpy())] = sub["p_crystal"].to_numpy()
        assert np.array_equal(ids[t], ids[t + horizon]), "atom ids change between frames"
        scores.append(p[now])
        targets.append(ptm[t + horizon][now])
    s, y = np.concatenate(scores), np.concatenate(targets)
    ok = np.isfinite(s)
    return float(roc_auc_score(y[ok], s[ok])), int(ok.sum()), float(y[ok].mean())


def main(argv=None) -> int:
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", default=None)
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--max-train", type=int, default=60_000)
    args = ap.parse_args(argv)
    suite = load_suite()
    runs = args.runs or [n for n in sorted(suite) if n.startswith("nucleation")]
    h = args.horizon
    print(f"H = {h}; scored against PTM-crystalline at t + H, atoms PTM does not call "
          "crystalline at t\n")
    print("| run | rows | positive rate | trained on crystal-like | trained on core | "
          "trained on PTM | q6 (avg) | s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in runs:
        ds = suite[name]
        t0 = time.perf_counter()
        feats, fs = features_of(ds, ["steinhardt"], cache_dir(), progress=False)
        n = ds.n_frames
        traj = ds.trajectory()
        ids = [feats[t]["ids"] for t in range(n)]
        ptm = [np.isin(ds.ptm(t), CRYSTAL) for t in range(n)]
        like, core = own_masks(ds, feats, fs)
        inputs = Lazy(lambda t: {k: feats[t][k] for k in ("steinhardt", "q6")}, n)
        out = {}
        for kind, masks in (("like", like), ("core", core), ("ptm", ptm)):
            res = crystallization_propensity(
                Lazy(lambda t: traj[t], n), masks, inputs, horizon=h,
                feature_sets=["steinhardt", "q6"], r_cut=fs.shell_cut_,
                max_train=args.max_train, importance=False, seed=0)
            out[kind] = score_against_ptm(res, masks, ptm, ids, h)
        q6 = np.concatenate([feats[t]["q6"][~ptm[t]] for t in range(n - h)])
        y = np.concatenate([ptm[t + h][~ptm[t]] for t in range(n - h)])
        auc_q6 = float(roc_auc_score(y, q6))
        rows, rate = out["ptm"][1], out["ptm"][2]
        print(f"| {name} | {rows} | {rate:.3f} | {out['like'][0]:.3f} | {out['core'][0]:.3f} | "
              f"{out['ptm'][0]:.3f} | {auc_q6:.3f} | {time.perf_counter() - t0:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
