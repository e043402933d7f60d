"""How well do the field's own crystal calls agree on the nucleation onset?

The issue asks crystopo's onset to fall within 3 frames of PTM's.  This script asks the same
of the methods a materials scientist would pick instead of crystopo, on the same runs:

- OVITO's adaptive common neighbour analysis (a-CNA: fcc, hcp, bcc);
- OVITO's PTM at RMSD cutoffs 0.08 and 0.12 instead of its default 0.10;
- ten Wolde's solid-like atoms (at least 7 bonds with q6 . q6 > 0.5, the neighbour list of
  the nuclei).

Each method's crystalline atoms are clustered into nuclei exactly as ``bench_labels.py``
clusters PTM's and crystopo's (the same neighbour list, 1.35 first-shell distances, and
:func:`multilayer.tracking.find_nuclei`), and its onset is the frame from which the largest
nucleus stays at or above ``--threshold`` atoms (20, as ``bench_labels.py --onset``).  A
fixed threshold favours no method only where their liquids look alike; ten Wolde's and PTM's
at 0.12 find 20-atom "nuclei" in a deeply undercooled liquid.  So each onset is also given by
``crystopo analyze``'s own rule (:func:`multilayer.tracking.nucleation_onset`: the threshold
twice the method's typical largest cluster in the first tenth of the frames, at least 13
atoms; the first frame when the first frame's largest nucleus persists and grows), and by
``crystopo analyze``'s frame of commitment: the frame after which the largest nucleus stays past the
method's own critical size (the growth-probability n* of its tracked nuclei;
:func:`label_onsets.critical_onsets`).  With
``--labels FILE|DIR ...`` (the JSON files of ``bench_labels.py --onset
--json``) crystopo's crystalline core joins the table, from its ``largest`` series.

Prints, per run, every method's onset and its distance from PTM's; then for each method on
how many runs it is within 3 frames of PTM's.  ``--json`` keeps the largest-nucleus series.

    python benchmarks/bench_onset_references.py --labels /path/to/bench_labels_json_dir
    CRYSTOPO_CACHE=~/.cache/crystopo/validation/held_out python benchmarks/bench_onset_references.py

Needs the validation suite (``python benchmarks/validation_data.py``, ``--held-out``) and
OVITO (``pip install ovito``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_onsets import critical_onsets, stays  # noqa: E402

#: the crystal calls compared (their masks: :func:`crystal_masks`)
METHODS = ("ptm", "acna", "ptm_0.08", "ptm_0.12", "tenwolde")
CRYSTAL_CODES = (1, 2, 3)   # fcc, hcp, bcc in OVITO's PTM and a-CNA numbering
WITHIN = 3


def crystal_masks(frame, neighbors, r_cut):
    """Crystalline atoms of one frame by every method of :data:`METHODS`."""
    from descriptors import solid_liquid
    from multilayer.learn.trusted import ovito_structures
    from validation_suite import PTM_STRUCTURES

    types, rmsd = ovito_structures(frame, "ptm", rmsd_cutoff=0.0, structures=PTM_STRUCTURES,
                                   rmsd=True)
    crystal = np.isin(types, CRYSTAL_CODES)
    out = {f"ptm_{c:.2f}": crystal & (rmsd <= c) for c in (0.08, 0.10, 0.12)}
    out["ptm"] = out.pop("ptm_0.10")
    out["acna"] = np.isin(ovito_structures(frame, "acna"), CRYSTAL_CODES)
    out["tenwolde"] = solid_liquid(frame, neighbors, r_cut=r_cut)
    return out


def largest_series(ds, tables=None):
    """Largest nucleus of every frame for every method; the agreement of this PTM with the
    suite's cached one (the same OVITO call, to check the pipeline); and every method's
    :class:`multilayer.tracking.StartPersistence` (for ``crystopo analyze``'s rule).
    ``tables``: a dict, given every method's nuclei tracked through the frames
    (:attr:`multilayer.tracking.NucleiResult.table`, for its growth-probability n*)."""
    from descriptors import first_shell_distance, neighbor_list
    from multilayer.tracking import StartPersistence
    from multilayer.tracking.nuclei import NucleiAccumulator

    traj = ds.trajectory()
    r_cut = None
    series = {m: [] for m in METHODS}
    persist = {m: StartPersistence() for m in METHODS}
    acc = {m: NucleiAccumulator(None, min_size=2, keep_atoms=False) for m in METHODS}
    agree = []
    for t in range(ds.n_frames):
        fr = traj[t]
        if r_cut is None:
            r_cut = 1.35 * first_shell_distance(fr)
        nl = neighbor_list(fr, r_cut=r_cut)
        masks = crystal_masks(fr, nl, r_cut)
        agree.append(float(np.mean(masks["ptm"] == np.isin(ds.ptm(t), CRYSTAL_CODES))))
        for m in METHODS:
            nuc = acc[m].add(fr, nl, mask=masks[m])        # find_nuclei, and tracked
            series[m].append(int(np.bincount(nuc[nuc >= 0]).max()) if (nuc >= 0).any() else 0)
            persist[m].add(fr.ids, nuc == 0)
    if tables is not None:
        tables.update({m: a.result().table for m, a in acc.items()})
    return ({m: np.array(s) for m, s in series.items()}, min(agree),
            {m: p.values for m, p in persist.items()})


def onset(largest, threshold):
    """First frame from which ``largest`` stays at or above ``threshold`` (None: never);
    ``bench_labels.py``'s rule."""
    o = stays(np.asarray(largest), threshold, np.arange(len(largest)))
    return None if o is None else int(o)


def _cell(ons, m):
    o, p = ons.get(m), ons["ptm"]
    if o is None or p is None:
        return f"{str(o):>10s}"
    return f"{o:>4d} ({o - p:+3d})"


def _tally(pairs):
    d = [a - b for a, b in pairs if a is not None and b is not None]
    ok = sum(abs(x) <= WITHIN for x in d)
    return (f"{ok:2d} of {len(pairs):2d}   early {sum(x < -WITHIN for x in d)}, "
            f"late {sum(x > WITHIN for x in d)}, no onset {len(pairs) - len(d)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", help="run name (repeatable)")
    ap.add_argument("--threshold", type=float, default=20.0)
    ap.add_argument("--labels", nargs="+",
                    help="bench_labels.py --onset --json files, or directories of them (the "
                         "'largest' series of their 'anchored' rows give crystopo's core)")
    ap.add_argument("--json", help="write the series and onsets here")
    args = ap.parse_args(argv)
    from multilayer.tracking import nucleation_onset
    from validation_suite import load_suite

    suite = load_suite(kinds=["nucleation"])
    missing = sorted(set(args.only or ()) - set(suite))
    if missing:
        raise SystemExit(f"no nucleation run {missing} in the suite's cache (held-out runs: set "
                         f"CRYSTOPO_CACHE to its held_out/ folder); it has {sorted(suite)}")
    core, core_persist, core_critical = {}, {}, {}
    for f in args.labels or ():
        f = Path(f)
        for g in sorted(f.glob("*.json")) if f.is_dir() else [f]:
            for row in json.loads(g.read_text()):
                # crystopo's own rows (the baselines' rows carry a "core" of their own)
                if (isinstance(row, dict) and row.get("method") == "anchored"
                        and "core" in row.get("largest", {})):
                    if row["dataset"] in core:
                        raise SystemExit(f"{g}: a second anchored row for {row['dataset']}; "
                                         f"give the files one by one")
                    core[row["dataset"]] = np.array(row["largest"]["core"])
                    if "onset_critical" in row:    # analyze's commitment, past the core's n*
                        core_critical[row["dataset"]] = row["onset_critical"]["onset"][0]
                    # analyze gives the core the crystal-like nuclei's persistence
                    core_persist[row["dataset"]] = row.get("persistence", {}).get("crystal_like")
    rows = []
    names = [m for m in METHODS if m != "ptm"] + (["core"] if core else [])
    print(f"{'run':28s} {'PTM':>4s} " + " ".join(f"{m:>10s}" for m in names))
    for name, ds in sorted(suite.items()):
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        tables = {}
        series, agree, persist = largest_series(ds, tables)
        frames = list(range(ds.n_frames))
        crit = critical_onsets([series[m] for m in METHODS], [tables[m] for m in METHODS],
                               frames, [persist[m] for m in METHODS])
        critical = dict(zip(METHODS, crit["onset"]))
        n_star = dict(zip(METHODS, crit["n_star"]))
        if name in core and len(core[name]) == ds.n_frames:
            series["core"] = core[name]
            persist["core"] = core_persist[name]
            if name in core_critical:
                critical["core"] = core_critical[name]
        ons = {m: onset(s, args.threshold) for m, s in series.items()}
        rule = {m: nucleation_onset(s, persistence=persist[m]).frame for m, s in series.items()}
        for tag, o in ((f"{args.threshold:g} atoms", ons), ("own rule", rule),
                       ("own n*", critical)):
            print(f"{name:28s} {str(o['ptm']):>4s} " + " ".join(_cell(o, m) for m in names)
                  + f"   [{tag}]")
        print(f"{'':28s} {time.perf_counter() - t0:.0f} s; PTM as cached: {agree:.4f}",
              flush=True)
        rows.append({"dataset": name, "onsets": ons, "onsets_rule": rule,
                     "onsets_critical": critical, "n_star": n_star,
                     "ptm_agreement_min": agree,
                     "largest": {m: s.tolist() for m, s in series.items()}})
    for key, tag in (("onsets", f"at {args.threshold:g} atoms"), ("onsets_rule", "own rule"),
                     ("onsets_critical", "past each method's own n* (analyze's commitment)")):
        print(f"\nwithin {WITHIN} frames of PTM's onset, {tag}:")
        for m in names:
            print(f"  {m:10s} " + _tally([(r[key].get(m), r[key]["ptm"]) for r in rows
                                          if m in r[key]]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
