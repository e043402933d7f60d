"""Structure labels scored against PTM on inherent structures (energy-minimised frames).

Instantaneous PTM (OVITO, RMSD cutoff 0.1; the truth of ``bench_labels.py``) misses
thermally distorted crystal atoms and flickers from frame to frame (``bench_label_ceiling.py``:
PTM half a time unit later recovers only 35-48 % of its own crystalline atoms).  The standard
way to remove the thermal noise is the inherent structure: minimise each frame's potential
energy at fixed box and identify the structure on the quenched positions.

For every nucleation run of the validation suite (``validation_data.py``) this script

1. quenches the frames with LAMMPS (the run's potential: ``units lj``, ``lj/cut 2.5``, or
   for a metal run its EAM potential in ``units metal``, :func:`quench_settings`; the
   frame's box, triclinic if it is one, fixed; atoms created at the frame's positions;
   ``min_style fire``, ``minimize 0 1e-8 1000 10000``; one OpenMP thread by default) and runs
   PTM on the quenched positions with the suite's settings
   (:func:`validation_data.ptm_types`: fcc, hcp, bcc and ico templates, RMSD cutoff 0.1).  The
   inherent-structure PTM types are cached per dataset in the suite's cache directory
   (``inherent_ptm_<dataset>.npz``, rewritten atomically after every frame, so an interrupted
   run resumes and a rerun is instant; the quench settings are stored and checked);
2. scores against IS-PTM crystalline (fcc/hcp/bcc) over the growth frames (frames where IS-PTM
   sees >= 1 % crystal; ``bench_labels``' rule with IS-PTM as the truth):

   * ``ptm``: instantaneous PTM crystalline (recall / precision);
   * ``anchored``: crystopo's default labels, crystal-like (fcc/hcp/bcc), fitted on all the
     run's frames as ``bench_labels.py`` does (``features_of`` with the Steinhardt set, cached;
     ``method_anchored`` with the defaults), scored on the quenched frames;
   * ``qbar6@n``: averaged q6 above the threshold that calls as many atoms as IS-PTM does over
     the growth frames (an oracle threshold);
   * ``tenwolde``: the ten Wolde solid-like flag of the cached features;
   * ``fcc/hcp``: among atoms IS-PTM calls fcc or hcp and the predictor calls fcc or hcp (over
     the quenched frames), the fraction where both agree (crystopo's labels and instantaneous
     PTM);
   * onsets: the frame from which the largest crystal-like cluster (bonds within 1.35 x the
     first-shell distance of frame 0, the graphs of ``bench_label_ceiling.py``; ``onset_of``'s
     rule) holds >= 20 atoms for good, of crystopo's crystal-like, instantaneous PTM and IS-PTM,
     over the quenched frames;
   * ``other->IS``: the fraction of the atoms instantaneous PTM calls ``other`` (and ``ico``)
     over the growth frames that IS-PTM calls crystalline, and of PTM-crystalline atoms that stay
     crystalline (``keep``).

The quench uses ``pair_modify shift yes``: the forces, hence the descent, are those of the
MD's truncated potential, but the energy has no jumps at the cutoff.  It does not converge
(the truncated force still jumps at 2.5 sigma, which may be why): on a 16,384-atom
nucleating frame the energy keeps falling slowly (frame 79 of T* 0.55 s1: FIRE 300 / 1000 /
3000 steps give pe/N -6.905 / -6.914 / -6.920, |F|max ~ 1, IS-PTM crystalline 0.205 / 0.214 /
0.225; CG 1000 / 2000 iterations 0.248 / 0.270), so the 1000 FIRE steps (about 15 s a
frame on one core) are a fixed-length quench: the vibrations are gone after a few hundred
steps, and the crystalline set of the 1000-step quench holds 84 % of the 3000-step one's
(precision 0.89).  FIRE follows the steepest-descent path more closely than CG, whose line
searches jump further and order more.

One row per run is printed; ``--json`` writes everything.  ``--every K`` quenches every K-th
frame (always including the last) when quenching all 80 frames would take too long; the
scores are then over those frames only.

    python benchmarks/bench_label_truth.py [--only NAME] [--every K] [--threads 1]
        [--quench-only] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

from multilayer.network.stacking import INHERIT_ROUNDS

sys.path.insert(0, str(Path(__file__).resolve().parent))

CRYSTAL_CODES = (1, 2, 3)           # PTM fcc, hcp, bcc (validation_data.PTM_NAMES)
QUENCH = {"min_style": "fire", "timestep": 0.005, "etol": 0.0, "ftol": 1e-8, "maxiter": 1000,
          "maxeval": 10000, "pair": "lj/cut 2.5", "pair_modify": "shift yes", "box": "fixed",
          "ptm_rmsd_cutoff": 0.1}
ONSET_ATOMS = 20


def quench_settings(ds) -> dict:
    """The quench of a dataset: :data:`QUENCH` for the LJ runs; for a metal run (its manifest
    names ``metal``, :data:`descriptors.md.EAM_METALS`) the same FIRE minimisation with the
    run's EAM potential in ``units metal`` (FIRE timestep 1 fs)."""
    metal = ds.meta.get("metal")
    if not metal:
        return QUENCH
    from descriptors.md import eam_potential

    pair = eam_potential(metal).splitlines()[1].removeprefix("pair_style ")
    return dict(QUENCH, metal=metal, pair=pair, pair_modify=None, timestep=0.001)


# --------------------------------------------------------------------------- #
# quenching
# --------------------------------------------------------------------------- #
def quench_frame(frame, *, n_threads: int = 1, settings=QUENCH):
    """Minimise the energy of ``frame`` at fixed box with LAMMPS (LJ, or the EAM metal that
    ``settings["metal"]`` names, see :func:`quench_settings`).

    Returns the quenched frame (same box, ids and order) and a dict of the quench
    (potential energies per atom before and after -- of the shifted potential --, iterations,
    final force norm, rms displacement).
    """
    from descriptors.frame import Frame
    from descriptors.lammps_engine import lammps_session
    from descriptors.md_phases import LJ_CUTOFF

    box, rot = frame.box, None
    try:
        lo, hi, tilt = box.lammps_bounds()
    except ValueError:               # not lower triangular: rotate into LAMMPS' convention
        box, rot = box.canonical()
        lo, hi, tilt = box.lammps_bounds()
    pos = frame.positions @ rot if rot is not None else frame.positions
    pos = box.wrap(pos)
    n = frame.n_atoms
    bounds = " ".join(f"{a:.15g} {b:.15g}" for a, b in zip(lo, hi))
    if np.any(tilt != 0):
        region = f"region box prism {bounds} {tilt[0]:.15g} {tilt[1]:.15g} {tilt[2]:.15g}"
    else:
        region = f"region box block {bounds}"
    pbc = " ".join("p" if p else "f" for p in box.pbc)
    metal = settings.get("metal")
    with lammps_session(n_threads) as lmp:
        lmp.commands_string(f"""
            units {"metal" if metal else "lj"}
            atom_style atomic
            atom_modify map array
            boundary {pbc}
            {region}
            create_box 1 box
        """)
        ids = np.asarray(frame.ids, dtype=np.int64)
        created = lmp.create_atoms(n, ids.tolist(), [1] * n, pos.ravel().tolist())
        if created != n:
            raise RuntimeError(f"LAMMPS created {created} of {n} atoms")
        if metal:
            from descriptors.md import eam_potential

            potential = eam_potential(metal) + "neighbor 1.0 bin\n"
        else:
            potential = f"""
                mass 1 1.0
                pair_style lj/cut {LJ_CUTOFF}
                pair_coeff 1 1 1.0 1.0 {LJ_CUTOFF}
                pair_modify {settings['pair_modify']}
                neighbor 0.3 bin"""
        lmp.commands_string(potential)
        lmp.commands_string("""
            neigh_modify every 1 delay 0 check yes
            thermo_style custom step pe fnorm fmax
            thermo_modify norm yes
            thermo 0
            run 0 post no
        """)
        e0 = float(lmp.get_thermo("pe"))
        s = settings
        lmp.command(f"timestep {s['timestep']}")
        lmp.command(f"min_style {s['min_style']}")
        lmp.command(f"minimize {s['etol']} {s['ftol']} {s['maxiter']} {s['maxeval']}")
        e1, fnorm = float(lmp.get_thermo("pe")), float(lmp.get_thermo("fnorm"))
        steps = int(lmp.get_thermo("step"))
        nlocal = int(lmp.extract_global("nlocal"))
        x = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)
        got = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
    order = np.argsort(got)
    if not np.array_equal(got[order], ids):
        raise RuntimeError("LAMMPS returned different atom ids")
    x = x[order]
    if rot is not None:
        x = x @ rot.T                # back to the frame's orientation
    # displacement by the minimum image
    d = box.to_fractional(x) - frame.box.to_fractional(frame.positions) if rot is None else None
    if d is not None:
        d[:, box.pbc] -= np.round(d[:, box.pbc])
        rms = float(np.sqrt(np.mean(np.sum((d @ box.cell) ** 2, axis=1))))
    else:
        rms = float("nan")
    info = {"e0": e0, "e1": e1, "iterations": steps, "fnorm": fnorm, "rms_disp": rms}
    return Frame(x, frame.box, frame.ids, frame.types, frame.timestep), info


def inherent_path(ds, cache: Path) -> Path:
    return cache / f"inherent_ptm_{ds.name}.npz"


def inherent_ptm(ds, frames, cache: Path, *, n_threads: int = 1, progress=True):
    """IS-PTM types (atom-id order) of ``frames``: from the cache, quenching the missing ones.

    Returns ``{frame: types}`` and ``{frame: quench info}`` (with ``s``: seconds of the quench
    and ``ptm_s``: of PTM).
    """
    from validation_data import ptm_types, write_npz

    path = inherent_path(ds, cache)
    arrays: dict[str, np.ndarray] = {}
    settings = quench_settings(ds)
    key = json.dumps(settings, sort_keys=True)
    if path.exists():
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        if str(arrays.get("settings", "")) != key:
            print(f"    {path.name}: other quench settings, starting again", flush=True)
            arrays = {}
    arrays["settings"] = np.array(key)
    arrays["dataset"] = np.array(ds.name)
    missing = [f for f in frames if f"is_{f:04d}" not in arrays]
    if missing:
        traj = ds.trajectory()
        t_all = time.perf_counter()
        for k, f in enumerate(missing):
            fr = traj[f]
            if not np.array_equal(fr.ids, ds.ids(f)):
                raise ValueError(f"{ds.name} frame {f}: atom order differs from the labels'")
            t0 = time.perf_counter()
            q, info = quench_frame(fr, n_threads=n_threads, settings=settings)
            t1 = time.perf_counter()
            types = ptm_types(q, rmsd_cutoff=QUENCH["ptm_rmsd_cutoff"])
            t2 = time.perf_counter()
            info.update(s=t1 - t0, ptm_s=t2 - t1)
            arrays[f"is_{f:04d}"] = types
            arrays[f"info_{f:04d}"] = np.array(json.dumps(info))
            write_npz(path, arrays)
            if progress:
                inst = ds.ptm(f)
                print(f"    {ds.name} frame {f:2d} ({k + 1}/{len(missing)}): quench "
                      f"{info['s']:5.1f} s ({info['iterations']} it, pe/N "
                      f"{info['e0']:.3f} -> {info['e1']:.3f}, "
                      f"rms disp {info['rms_disp']:.3f}), PTM {info['ptm_s']:.1f} s; "
                      f"crystalline {np.isin(inst, CRYSTAL_CODES).mean():.3f} -> "
                      f"{np.isin(types, CRYSTAL_CODES).mean():.3f}  "
                      f"[{time.perf_counter() - t_all:.0f} s]", flush=True)
    types = {f: arrays[f"is_{f:04d}"] for f in frames}
    infos = {f: json.loads(str(arrays[f"info_{f:04d}"])) for f in frames}
    return types, infos


# --------------------------------------------------------------------------- #
# scoring
# --------------------------------------------------------------------------- #
def rec_prec(pred, truth, grow):
    c = np.concatenate([m for m, g in zip(pred, grow) if g])
    p = np.concatenate([m for m, g in zip(truth, grow) if g])
    tp = int((c & p).sum())
    return float(tp / max(p.sum(), 1)), float(tp / max(c.sum(), 1))


def fcc_hcp(names, is_types):
    """Among atoms IS-PTM calls fcc/hcp and ``names`` calls fcc/hcp: the fraction agreeing."""
    nn, pp = np.concatenate(names), np.concatenate(is_types)
    m = np.isin(pp, [1, 2]) & np.isin(nn, ["fcc", "hcp"])
    return float(np.mean(np.where(pp[m] == 1, "fcc", "hcp") == nn[m])) if m.any() else None


def onset_frame(masks, graphs, frames):
    from bench_label_ceiling import onset

    i, big = onset(masks, [graphs[f] for f in frames], threshold=ONSET_ATOMS)
    return (frames[i] if i is not None else None), big


def truth_score(ds, cache: Path, *, every: int = 1, n_threads: int = 1, anchored=True,
                both=False, n_seeds=1, crystal_types="communities", cna_support=None,
                cna_inherit=False, inherit_rounds=INHERIT_ROUNDS):
    from bench_label_ceiling import neighbour_graphs, threshold_at
    from bench_labels import _crystal, cna_stacking, features_of, local_stacking, method_anchored

    from multilayer.network.structures import LABEL_SETS, STRUCTURE_DEFAULTS

    n = ds.n_frames
    frames = sorted(set(range(0, n, every)) | {n - 1})
    t0 = time.perf_counter()
    is_types, infos = inherent_ptm(ds, frames, cache, n_threads=n_threads)
    t_quench = time.perf_counter() - t0
    q_s = np.array([infos[f]["s"] for f in frames])
    truth = [np.isin(is_types[f], CRYSTAL_CODES) for f in frames]
    inst_types = [ds.ptm(f) for f in frames]
    inst = [np.isin(p, CRYSTAL_CODES) for p in inst_types]
    grow = np.array([m.mean() >= 0.01 for m in truth])
    row = {"dataset": ds.name, "frames": len(frames), "every": every,
           "growth_frames": int(grow.sum()),
           "quench_s_per_frame": round(float(q_s.mean()), 2),
           "quench_iterations": round(float(np.mean([infos[f]["iterations"] for f in frames])), 1),
           "rms_disp": round(float(np.nanmean([infos[f]["rms_disp"] for f in frames])), 4),
           "is_crystal_last": round(float(truth[-1].mean()), 4),
           "ptm_crystal_last": round(float(inst[-1].mean()), 4)}
    if not grow.any():
        row["note"] = "IS-PTM sees < 1 % crystal in every frame"
        return row
    # what quenching does to instantaneous PTM's calls (growth frames)
    it = np.concatenate([p for p, g in zip(inst_types, grow) if g])
    tt = np.concatenate([m for m, g in zip(truth, grow) if g])
    row["other->IS"] = round(float(tt[it == 0].mean()), 4)
    row["ico->IS"] = round(float(tt[it == 4].mean()), 4) if (it == 4).any() else None
    row["keep"] = round(float(tt[np.isin(it, CRYSTAL_CODES)].mean()), 4)
    row["IS/ptm count"] = round(float(tt.sum() / max(np.isin(it, CRYSTAL_CODES).sum(), 1)), 3)
    preds = {"ptm": inst}
    names = None
    feats, fs = features_of(ds, ["steinhardt"], cache, progress=False, both=both)
    if anchored:
        t1 = time.perf_counter()
        sets = list(STRUCTURE_DEFAULTS["sets"] or LABEL_SETS)
        names_all, _ = method_anchored(feats, fs, list(range(n)), sets, n_seeds=n_seeds)
        if crystal_types == "local":
            names_all = local_stacking(ds, names_all, list(range(n)), cache)
        elif crystal_types in ("cna", "cna-strict"):
            names_all = cna_stacking(ds, names_all, list(range(n)), fs,
                                     strict=crystal_types == "cna-strict",
                                     support=cna_support if crystal_types == "cna" else None,
                                     inherit=cna_inherit and crystal_types == "cna",
                                     inherit_rounds=inherit_rounds)
        names = [names_all[f] for f in frames]
        preds["anchored"] = [_crystal(x) for x in names]
        row["anchored_s"] = round(time.perf_counter() - t1, 1)
    for f in frames:
        if not np.array_equal(feats[f]["ids"], ds.ids(f)):
            raise ValueError(f"{ds.name} frame {f}: feature rows in another order")
    qb6 = [feats[f]["q6"] for f in frames]
    thr = threshold_at(qb6, truth, grow, count=True)
    preds["qbar6@n"] = [x >= thr for x in qb6]
    row["qbar6_threshold"] = round(thr, 4)
    preds["tenwolde"] = [feats[f]["solid"].astype(bool) for f in frames]
    for name, masks in preds.items():
        r, p = rec_prec(masks, truth, grow)
        row[f"{name}_rec"], row[f"{name}_prec"] = round(r, 3), round(p, 3)
    if "anchored" in preds:
        # crystopo's crystal-like atoms instantaneous PTM does not call crystalline: the share
        # IS-PTM calls crystalline (its false positives against PTM that the quench confirms)
        a = np.concatenate([m for m, g in zip(preds["anchored"], grow) if g])
        i = np.concatenate([m for m, g in zip(inst, grow) if g])
        row["anchored_fp_ptm->IS"] = round(float(tt[a & ~i].mean()), 4) if (a & ~i).any() else None
        row["anchored_prec_ptm"] = round(float((a & i).sum() / max(a.sum(), 1)), 3)
    row["fcc/hcp_anchored"] = (None if names is None else
                               round(fcc_hcp(names, [is_types[f] for f in frames]), 3))
    inst_names = [np.array(["other", "fcc", "hcp", "bcc", "ico"])[p] for p in inst_types]
    row["fcc/hcp_ptm"] = round(fcc_hcp(inst_names, [is_types[f] for f in frames]), 3)
    graphs = neighbour_graphs(ds, cache)
    if names is not None:
        row["onset_anchored"], _ = onset_frame(preds["anchored"], graphs, frames)
    row["onset_ptm"], _ = onset_frame(inst, graphs, frames)
    row["onset_is"], big = onset_frame(truth, graphs, frames)
    # at full frame resolution (no quench needed): crystopo's and instantaneous PTM's
    everything = list(range(n))
    if names is not None:
        row["onset_anchored_all"], _ = onset_frame([_crystal(x) for x in names_all], graphs,
                                                   everything)
    row["onset_ptm_all"], _ = onset_frame([np.isin(ds.ptm(f), CRYSTAL_CODES) for f in everything],
                                          graphs, everything)
    row["largest_is"] = big.tolist()
    row["frames_list"] = frames
    row["is_fraction"] = [round(float(m.mean()), 4) for m in truth]
    row["ptm_fraction"] = [round(float(m.mean()), 4) for m in inst]
    row["quench_total_s"] = round(t_quench, 1)
    return row


COLUMNS = (("ptm", "ptm"), ("anchored", "crystopo"), ("qbar6@n", "qbar6@n"),
           ("tenwolde", "tenWolde"))


def _fmt(v, w=5, p=2):
    return f"{'-':>{w}s}" if v is None else f"{v:{w}.{p}f}" if isinstance(v, float) else \
        f"{v!s:>{w}s}"


def print_header():
    cols = " ".join(f"{lab + ' r/p':>11s}" for _, lab in COLUMNS)
    print(f"{'dataset':24s} {'fr':>3s} {'s/fr':>5s} {cols} {'fh-cry':>6s} {'fh-ptm':>6s} "
          f"{'onset c/p/IS':>12s} {'oth->IS':>7s} {'keep':>5s}", flush=True)


def print_row(r):
    cols = " ".join(f"{_fmt(r.get(k + '_rec'))}/{_fmt(r.get(k + '_prec'))}" for k, _ in COLUMNS)
    on = "/".join(str(r.get(k)) for k in ("onset_anchored", "onset_ptm", "onset_is"))
    print(f"{r['dataset']:24s} {r['frames']:3d} {r['quench_s_per_frame']:5.1f} {cols} "
          f"{_fmt(r.get('fcc/hcp_anchored'), 6)} {_fmt(r.get('fcc/hcp_ptm'), 6)} {on:>12s} "
          f"{_fmt(r.get('other->IS'), 7, 3)} {_fmt(r.get('keep'), 5)}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="dataset name (repeatable)")
    ap.add_argument("--every", type=int, default=1, help="quench every K-th frame (and the last)")
    ap.add_argument("--threads", type=int, default=1, help="LAMMPS OpenMP threads")
    ap.add_argument("--quench-only", action="store_true", help="quench and cache, no scores")
    ap.add_argument("--no-anchored", action="store_true", help="skip crystopo's labels")
    ap.add_argument("--both", action="store_true",
                    help="labels on q_l beside the averaged q_l (LABEL_LOCAL_STEINHARDT's option)")
    ap.add_argument("--seeds", type=int, default=1, help="labels: majority of this many seeds")
    ap.add_argument("--crystal-types", default="communities",
                    choices=["communities", "local", "cna", "cna-strict"],
                    help="labels: [labels] crystal_types (local: fcc/hcp from own q_l; cna, "
                         "cna-strict: from the common neighbours of the first-shell bonds)")
    ap.add_argument("--cna-support", type=int, default=None,
                    help="cna: [labels] cna_support (default: analyze's)")
    ap.add_argument("--cna-inherit", action=argparse.BooleanOptionalAction, default=None,
                    help="cna: [labels] cna_inherit (default: analyze's)")
    ap.add_argument("--inherit-rounds", type=int, default=None,
                    help="cna: [labels] cna_inherit_rounds (default: analyze's; 0: until none "
                         "changes)")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    from multilayer.app.config import DEFAULTS
    if args.cna_support is None:
        args.cna_support = DEFAULTS["labels"]["cna_support"]
    if args.cna_inherit is None:
        args.cna_inherit = DEFAULTS["labels"]["cna_inherit"]
    if args.inherit_rounds is None:
        args.inherit_rounds = DEFAULTS["labels"]["cna_inherit_rounds"]
    if args.every < 1:
        ap.error("--every must be >= 1")
    from validation_suite import cache_dir, load_suite

    suite = load_suite(kinds=["nucleation"])
    cache = cache_dir(False)
    names = sorted(n for n in suite if not args.only or n in args.only)
    if not names:
        raise SystemExit(f"no nucleation dataset matches {args.only}; have {sorted(suite)}")
    rows = []
    for name in names:
        ds = suite[name]
        print(f"== {name} ({ds.n_atoms} atoms, {ds.n_frames} frames, every {args.every})",
              flush=True)
        t0 = time.perf_counter()
        if args.quench_only:
            frames = sorted(set(range(0, ds.n_frames, args.every)) | {ds.n_frames - 1})
            inherent_ptm(ds, frames, cache, n_threads=args.threads)
            continue
        row = truth_score(ds, cache, every=args.every, n_threads=args.threads,
                          anchored=not args.no_anchored, both=args.both, n_seeds=args.seeds,
                          crystal_types=args.crystal_types, cna_support=args.cna_support,
                          cna_inherit=args.cna_inherit,
                          inherit_rounds=args.inherit_rounds or None)
        row["s"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print("   ", json.dumps({k: v for k, v in row.items()
                                 if k not in ("largest_is", "frames_list", "is_fraction",
                                              "ptm_fraction")}), flush=True)
    if rows:
        print()
        print_header()
        for r in rows:
            print_row(r)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
