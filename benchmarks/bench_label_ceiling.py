"""How well can any per-atom rule agree with instantaneous PTM on the nucleation runs?

PTM (OVITO, RMSD cutoff 0.1) on one frame is the truth ``bench_labels.py`` scores against,
but PTM itself misses thermally distorted crystal atoms and flickers from frame to frame.
This script measures, per nucleation run of the validation suite (``validation_data.py``),
recall and precision of crystal-like against PTM-crystalline (fcc/hcp/bcc) over the growth
frames (PTM crystalline fraction >= 1 %), and the onset (the frame from which the largest
crystal-like cluster holds >= 20 atoms for good), of

* ``ptm[t-1]``: PTM of the previous frame (how well PTM agrees with itself 0.5 tau later);
* ``tenwolde``: the ten Wolde solid-like flag (>= 7 bonds with q6 dot product > 0.5);
* ``qbar6@n``: averaged q6 above the threshold that calls as many atoms crystal-like as PTM
  does over the growth frames (an oracle threshold); ``qbar6@r.9``: the threshold that gives
  recall 0.9 (the precision there is the best any q̄6 cut can do at the issue's recall);
* ``q6@n``, ``q6@r.9``: the same for the non-averaged local q6;
* ``ptm[t+-1]``: PTM-crystalline at t-1 or t+1 (PTM's own flicker, forgiving);
* ``gbt@r.9``: a gradient-boosted classifier trained on PTM itself (every other growth frame,
  scored on the others) on q_l, q̄_l and the ten Wolde flag, cut at recall 0.9: roughly the
  best precision these per-atom features allow at the issue's recall;
* ``gbt+cna@r.9``: the same classifier given also the first shell's bond signatures of the
  frame itself (adaptive-CNA (4, 2, 1) / (4, 2, 2) counts of the 12 nearest neighbours,
  (6, 6, 6) / (4, 4, 4) of the 14 nearest, the atom's and its neighbours' mean: the inputs of
  crystopo's crystalline core and of a-CNA, which PTM's templates resemble most);
* ``gbt+cna+shell@r.9``: the same again, given also the first shell's *geometry*
  (:func:`descriptors.shell.shell_distortion` to fcc, hcp, bcc and ico, and the smaller of
  fcc and hcp averaged over the first shell): what PTM's RMSD test sees and the bond
  signatures do not;
* ``shell@r.9``: the shell distortion alone (the smaller of fcc and hcp), cut at recall 0.9;
* ``rows@r.9``, ``rows@0.084``: the same neighbour by neighbour (``method="rows"``, stop 36,
  cached in ``shellrows_<run>.npz``), cut at recall 0.9 or at analyze's
  ``core_max_distortion``; ``core-all``: analyze's crystalline core rule (that cut, and at
  most ``core_tolerance`` bonds lacking the signature) applied to every atom, not only the
  crystal-like ones; ``gbt+cna+rows@r.9``: ``gbt+cna+shell@r.9`` given the rows
  distortions as well;
* ``acna-tol{k}``: adaptive CNA of the frame itself with ``k`` bonds of tolerance (at least
  12 - k close-packed signatures among the 12 nearest, or 14 - k bcc signatures among the
  14 nearest; ``k`` = 0 is Stukowski's a-CNA, 3 the tolerance of crystopo's crystalline
  core, which applies this test to crystal-like atoms): unsupervised instantaneous rules;
* ``anchored-avg``, ``anchored-both``: crystopo's anchored labels (``fit_structures``) on the
  averaged Steinhardt q̄_l, and on q_l beside q̄_l (the option ``LABEL_LOCAL_STEINHARDT``,
  off by default).

    python benchmarks/bench_label_ceiling.py [--only NAME] [--no-anchored] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

STEINHARDT_L = (4, 6, 8, 10, 12)      # FEATURE_DEFAULTS["steinhardt"]["l"]


def load_run(ds, cache: Path):
    """Per-frame ``both`` Steinhardt features (q_l then averaged q_l), the ten Wolde flag,
    PTM crystalline masks and first-shell neighbour graphs (cached), the FeatureSet."""
    from bench_labels import features_of

    feats, fs = features_of(ds, ["steinhardt"], cache, progress=False, both=True)
    graphs = neighbour_graphs(ds, cache)
    return feats, fs, graphs


def per_frame_cached(ds, cache: Path, stem: str, compute):
    """``compute(nl)`` for every frame's 14-nearest-neighbour list, cached in
    ``<stem>_<run>.npz`` (written atomically); one array per frame."""
    from descriptors import neighbor_list

    path = cache / f"{stem}_{ds.name}.npz"
    key = stem[0]
    if not path.exists():
        traj = ds.trajectory()
        out = {}
        for t in range(len(traj)):
            fr = traj[t]
            if not np.array_equal(fr.ids, ds.ids(t)):
                raise ValueError(f"{ds.name} frame {t}: atom order differs from the labels'")
            out[f"{key}{t}"] = compute(neighbor_list(fr, k=14))
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(path)
    z = np.load(path)
    return [z[f"{key}{t}"] for t in range(ds.n_frames)]


def shell_mean(values, graph):
    """Mean of per-atom ``values`` (n,) or (n, k) over each atom's first shell."""
    off, idx = graph
    cnt = np.diff(off)
    row = np.repeat(np.arange(len(values)), cnt)
    nbr = np.zeros(values.shape, np.float64)
    np.add.at(nbr, row, values[idx])
    return (nbr.T / np.maximum(cnt, 1)).T


def bond_signatures(ds, cache: Path):
    """Per frame (n, 8) float32: the atom's (n421, n422, n666, n444) (``descriptors.cna``,
    -1 where too few neighbours) and their mean over its first shell (``neighbour_graphs``),
    cached in one npz per dataset."""
    from descriptors.cna import bcc_counts, cna_counts

    counts = per_frame_cached(ds, cache, "bonds", lambda nl: np.concatenate(
        [cna_counts(nl), bcc_counts(nl)], axis=1))
    graphs = neighbour_graphs(ds, cache)
    return [np.concatenate([c, shell_mean(c.astype(np.float32), g)], axis=1).astype(np.float32)
            for c, g in zip(counts, graphs)]


def shell_geometry(ds, cache: Path):
    """Per frame (n, 5) float32: :func:`descriptors.shell.shell_distortion` (``pooled``, stop
    35's measure) to fcc, hcp, bcc and ico (14 nearest neighbours), and the smaller of fcc and
    hcp averaged over the first shell (``neighbour_graphs``), cached in one npz per dataset."""
    from descriptors.shell import shell_distortion

    dist = per_frame_cached(ds, cache, "shell", lambda nl: shell_distortion(
        nl, kinds=("fcc", "hcp", "bcc", "ico"), method="pooled").astype(np.float32))
    graphs = neighbour_graphs(ds, cache)
    return [np.column_stack([d, shell_mean(d[:, :2].min(axis=1), g)]).astype(np.float32)
            for d, g in zip(dist, graphs)]


def neighbour_graphs(ds, cache: Path):
    """First-shell graphs (1.35 x first-shell distance of frame 0, as ``onset_of``) per frame,
    as ``(offsets, indices)`` in atom-id order, cached in one npz per dataset."""
    from descriptors import first_shell_distance, neighbor_list

    path = cache / f"graphs_{ds.name}.npz"
    if not path.exists():
        traj = ds.trajectory()
        r_cut = None
        out = {}
        for t in range(len(traj)):
            fr = traj[t]
            if r_cut is None:
                r_cut = 1.35 * first_shell_distance(fr)
            if not np.array_equal(fr.ids, ds.ids(t)):
                raise ValueError(f"{ds.name} frame {t}: atom order differs from the labels'")
            nl = neighbor_list(fr, r_cut=r_cut)
            out[f"o{t}"] = nl.offsets.astype(np.int64)
            out[f"i{t}"] = nl.indices.astype(np.int32)
        np.savez(path, **out)
    z = np.load(path)
    return [(z[f"o{t}"], z[f"i{t}"]) for t in range(ds.n_frames)]


def largest_cluster(mask, graph) -> int:
    """Atoms in the largest connected cluster of ``mask`` (bonds of the first-shell graph)."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    off, idx = graph
    n = len(mask)
    if not mask.any():
        return 0
    row = np.repeat(np.arange(n), np.diff(off))
    keep = mask[row] & mask[idx]
    m = sparse.coo_matrix((np.ones(keep.sum()), (row[keep], idx[keep])), shape=(n, n))
    _, comp = connected_components(m, directed=False)
    return int(np.bincount(comp[mask]).max())


def onset(masks, graphs, threshold=20):
    big = np.array([largest_cluster(m, g) for m, g in zip(masks, graphs)])
    ok = big >= threshold
    idx = [i for i in range(len(ok)) if ok[i:].all()]
    return (idx[0] if idx else None), big


def growth_frames(ptm_masks):
    return np.array([p.mean() >= 0.01 for p in ptm_masks])


def rec_prec(masks, ptm_masks, grow):
    c = np.concatenate([m for m, g in zip(masks, grow) if g])
    p = np.concatenate([m for m, g in zip(ptm_masks, grow) if g])
    tp = (c & p).sum()
    return float(tp / max(p.sum(), 1)), float(tp / max(c.sum(), 1))


def threshold_at(values, ptm_masks, grow, *, count=None, recall=None):
    """Threshold on ``values`` pooled over the growth frames: the one calling as many atoms
    as PTM (``count``) or the one reaching ``recall`` of PTM's atoms."""
    v = np.concatenate([x for x, g in zip(values, grow) if g])
    p = np.concatenate([m for m, g in zip(ptm_masks, grow) if g])
    if count:
        return float(np.sort(v)[::-1][p.sum() - 1])
    return float(np.quantile(v[p], 1 - recall))


def supervised_masks(feats, ptm_masks, grow, seed=0, recall=0.9, extra=None):
    """Oracle: a classifier fitted on PTM over the even growth frames, applied to all; cut
    at ``recall`` over the odd ones.  Returns the masks and the frames to score it on (the
    odd growth frames: those it was not fitted on).  ``extra``: more per-frame columns."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    n = len(ptm_masks)
    x = [np.column_stack([feats[t]["steinhardt"], feats[t]["solid"]]
                         + ([] if extra is None else [extra[t]])) for t in range(n)]
    g = np.flatnonzero(grow)
    train, test = g[::2], g[1::2]
    rng = np.random.default_rng(seed)
    xs = np.concatenate([x[t] for t in train])
    ys = np.concatenate([ptm_masks[t] for t in train])
    pick = rng.choice(len(xs), min(len(xs), 200_000), replace=False)
    clf = HistGradientBoostingClassifier(max_iter=200, random_state=seed).fit(xs[pick], ys[pick])
    proba = [clf.predict_proba(x[t])[:, 1] for t in range(n)]
    test_mask = np.zeros(n, bool)
    test_mask[test] = True
    thr = threshold_at(proba, ptm_masks, test_mask, recall=recall)
    return [p >= thr for p in proba], test_mask


def anchored_masks(feats, fs, n_frames, seed=0, local=None):
    """The default anchored labels, crystal-like masks; ``local``: q_l beside averaged q_l
    (default :data:`~multilayer.network.structures.LABEL_LOCAL_STEINHARDT`), else averaged
    q_l only."""
    from multilayer.network.structures import (
        CRYSTAL_NAMES,
        LABEL_LOCAL_STEINHARDT,
        STRUCTURE_DEFAULTS,
        describe_references,
        fit_structures,
    )

    local = LABEL_LOCAL_STEINHARDT if local is None else local
    cols = slice(None) if local else slice(len(STEINHARDT_L), None)
    x, kind = describe_references(fs, sets=["steinhardt"], seed=seed,
                                  noise=tuple(STRUCTURE_DEFAULTS["reference_noise"]))
    refs = (x[:, cols], kind)
    rows = [{"steinhardt": feats[t]["steinhardt"][:, cols]} for t in range(n_frames)]
    ids = [feats[t]["ids"] for t in range(n_frames)]
    model, labels = fit_structures(rows, ids, refs, feature_sets=["steinhardt"], seed=seed)
    crystal = np.isin(np.array(model.names), CRYSTAL_NAMES)
    return [crystal[lab] for lab in labels]


def ceiling(ds, cache, anchored=True):
    feats, fs, graphs = load_run(ds, cache)
    n = ds.n_frames
    ptm = [np.isin(ds.ptm(t), [1, 2, 3]) for t in range(n)]
    for t in (0, n - 1):
        if not np.array_equal(feats[t]["ids"], ds.ids(t)):
            raise ValueError(f"{ds.name}: feature rows and PTM rows are in different orders")
    grow = growth_frames(ptm)
    i6 = STEINHARDT_L.index(6)
    q6 = [feats[t]["steinhardt"][:, i6] for t in range(n)]
    qb6 = [feats[t]["steinhardt"][:, len(STEINHARDT_L) + i6] for t in range(n)]
    preds = {"ptm[t-1]": [ptm[0]] + ptm[:-1],
             "ptm[t+-1]": [ptm[max(t - 1, 0)] | ptm[min(t + 1, n - 1)] for t in range(n)],
             "tenwolde": [feats[t]["solid"].astype(bool) for t in range(n)]}
    for name, v in (("qbar6", qb6), ("q6", q6)):
        for tag, kw in (("@n", {"count": True}), ("@r.9", {"recall": 0.9})):
            thr = threshold_at(v, ptm, grow, **kw)
            preds[f"{name}{tag}"] = [x >= thr for x in v]
    preds["gbt@r.9"], scored = supervised_masks(feats, ptm, grow, seed=0)
    bonds = bond_signatures(ds, cache)
    preds["gbt+cna@r.9"], _ = supervised_masks(feats, ptm, grow, seed=0, extra=bonds)
    shell = shell_geometry(ds, cache)
    preds["gbt+cna+shell@r.9"], _ = supervised_masks(
        feats, ptm, grow, seed=0, extra=[np.column_stack([b, s]) for b, s in zip(bonds, shell)])
    dist = [-s[:, :2].min(axis=1) for s in shell]
    thr = threshold_at(dist, ptm, grow, recall=0.9)
    preds["shell@r.9"] = [d >= thr for d in dist]
    from descriptors.shell import shell_distortion
    from multilayer.app.config import DEFAULTS as ANALYZE

    rowd = per_frame_cached(ds, cache, "shellrows", lambda nl: shell_distortion(
        nl, kinds=("fcc", "hcp", "bcc"), method="rows").astype(np.float32))
    close = [-np.nan_to_num(r[:, :2].min(axis=1), nan=np.inf) for r in rowd]
    thr = threshold_at(close, ptm, grow, recall=0.9)
    preds["rows@r.9"] = [d >= thr for d in close]
    cut, tol = ANALYZE["tracking"]["core_max_distortion"], ANALYZE["tracking"]["core_tolerance"]
    preds[f"rows@{cut}"] = [d >= -cut for d in close]
    core = []
    for b, r in zip(bonds, rowd):
        cp = ((b[:, 0] + b[:, 1] >= 12 - tol)
              & (np.nan_to_num(r[:, :2].min(axis=1), nan=np.inf) <= cut))
        core.append(cp | (~cp & (b[:, 2] + b[:, 3] >= 14 - tol)
                          & (np.nan_to_num(r[:, 2], nan=np.inf) <= cut)))
    preds["core-all"] = core
    preds["gbt+cna+rows@r.9"], _ = supervised_masks(
        feats, ptm, grow, seed=0, extra=[np.column_stack([b, s, r]) for b, s, r
                                         in zip(bonds, shell, rowd)])
    for k in (0, 3, 4):
        preds[f"acna-tol{k}"] = [(b[:, 0] + b[:, 1] >= 12 - k) | (b[:, 2] + b[:, 3] >= 14 - k)
                                 for b in bonds]
    if anchored:
        preds["anchored-avg"] = anchored_masks(feats, fs, n, local=False)
        preds["anchored-both"] = anchored_masks(feats, fs, n, local=True)
    o_ptm, _ = onset(ptm, graphs)
    rows = []
    for name, masks in preds.items():
        rec, prec = rec_prec(masks, ptm, scored if name.startswith("gbt") else grow)
        o, _ = onset(masks, graphs)
        rows.append({"dataset": ds.name, "rule": name, "rec": round(rec, 3),
                     "prec": round(prec, 3), "onset": o, "onset_ptm": o_ptm})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append")
    ap.add_argument("--no-anchored", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    from validation_suite import cache_dir, load_suite

    suite = load_suite(kinds=["nucleation"])
    out = []
    print(f"{'dataset':26s} {'rule':17s} {'rec':>6s} {'prec':>6s} {'onset':>6s} {'ptm':>4s}")
    for name, ds in sorted(suite.items()):
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        for r in ceiling(ds, cache_dir(False), anchored=not args.no_anchored):
            out.append(r)
            print(f"{r['dataset']:26s} {r['rule']:17s} {r['rec']:6.3f} {r['prec']:6.3f} "
                  f"{r['onset']!s:>6s} {r['onset_ptm']!s:>4s}", flush=True)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
