"""The critical size of a LAMMPS run three ways: the mean first-passage time of its largest
nucleus, the growth probability of its tracked nuclei, and brute-force committor shooting
from its own frames.

``crystopo analyze`` reports the critical size n* from the mean first-passage time (MFPT) of
the largest nucleus (:func:`multilayer.tracking.mfpt_after_onset`).
:func:`multilayer.tracking.growth_probability` reads it instead off the fate of every
nucleus the trajectory shows: the size at which half the nuclei seen there grow.  On the
validation suite the two can differ by a factor of three.  This script decides between them
the way the field measures a committor (ten Wolde and Frenkel; Auer and Frenkel, Nature 409,
1020, 2001): from frames of the run, it shoots ``--trials`` new MD trajectories with fresh
Maxwell-Boltzmann velocities at the run's temperature and pressure (LAMMPS, the run's own
protocol: ``lj/cut`` 2.5, Nose-Hoover NPT, tdamp 0.5, pdamp 5, dt 0.005) and follows every
PTM nucleus of the frame (OVITO's PTM, fcc/hcp/bcc/ico templates at RMSD 0.1; crystalline
fcc, hcp, bcc; clusters as ``bench_labels.py`` makes them, bonds within 1.35 first-shell
distances) at the run's own frame interval, each to the cluster that holds most of its
atoms: it *grew* when that reaches ``--grown`` atoms, *dissolved* when none holds any of
them; it is *absorbed* (left out, as :func:`multilayer.tracking.nucleus_fates` censors it)
when a larger nucleus of the frame ends in the same cluster, *undecided* (left out) at
``--horizon``.  P_B(n) over all nuclei and trials, and n* where it reaches 1/2
(:func:`multilayer.tracking.committor_size`), with a bootstrap over frames.

The frames shot from: ``--frames`` of the run before PTM's largest cluster first has
``--grown`` atoms, whose largest clusters are nearest to sizes spread evenly in log from 8
to 0.8 ``--grown`` (:func:`shot_frames`); every nucleus of 4 atoms or more in them is followed.  Each trial is seeded
(``--seed`` + frame + trial): the same command gives the same numbers.

    python benchmarks/bench_committor.py --only NAME [--frames 8] [--trials 6] [--grown 50]
        [--horizon 20] [--threads 2] [--json out.json]

with ``CRYSTOPO_CACHE`` pointing at the cache that holds ``NAME`` (held-out runs: its
``held_out/``).  An LJ run's row also gives the MFPT n* of PTM's largest cluster (analyze's
fit, from PTM's onset by analyze's rule) and the growth-probability n* of PTM's tracked
nuclei, for the same run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

DT, TDAMP, PDAMP = 0.005, 0.5, 5.0       # descriptors.md.run_lj_nucleation's defaults
CRYSTALLINE = (1, 2, 3)
PTM_STRUCTURES = ("fcc", "hcp", "bcc", "ico")


def ptm_clusters(frame, r_cut):
    """PTM-crystalline clusters of a frame (find_nuclei ids, -1 outside)."""
    from descriptors import neighbor_list
    from multilayer.learn.trusted import ovito_structures
    from multilayer.tracking import find_nuclei

    crystalline = np.isin(ovito_structures(frame, "ptm", structures=PTM_STRUCTURES), CRYSTALLINE)
    return find_nuclei(frame, crystalline, neighbor_list(frame, r_cut=r_cut), min_size=2)


def shoot(frame, *, temperature, pressure, seed, interval, n_checks, n_threads):
    """Frames of a new trajectory from ``frame``'s positions with fresh velocities: one every
    ``interval`` tau, ``n_checks`` of them (a generator, so the caller can stop early)."""
    from descriptors.frame import Box, Frame
    from descriptors.lammps_engine import lammps_session, n_steps
    from descriptors.md_validation import create_lj_atoms

    cell = frame.box.cell
    if np.any(cell[~np.eye(3, dtype=bool)] != 0):
        raise ValueError("committor shooting needs an orthogonal box (the LJ runs' boxes)")
    pos = frame.box.wrap(frame.positions) - frame.box.origin
    hi = np.diag(cell)
    with lammps_session(n_threads) as lmp:
        create_lj_atoms(lmp, pos, hi, ids=frame.ids)
        lmp.commands_string(f"""
            velocity all create {temperature} {seed} dist gaussian mom yes rot no
            fix md all npt temp {temperature} {temperature} {TDAMP} iso {pressure} {pressure} {PDAMP}
            timestep {DT}
        """)
        steps = n_steps(interval, DT)
        for _ in range(n_checks):
            lmp.command(f"run {steps} post no")
            nlocal = int(lmp.extract_global("nlocal"))
            x = np.array(lmp.numpy.extract_atom("x")[:nlocal], dtype=np.float64)
            got = np.array(lmp.numpy.extract_atom("id")[:nlocal], dtype=np.int64)
            lo, hi_, *_ = lmp.extract_box()
            order = np.argsort(got)
            box = Box.orthogonal(np.asarray(hi_) - np.asarray(lo))
            yield Frame(x[order] - np.asarray(lo), box, got[order])


def outcomes(frame, start, trial_frames, *, r_cut, grown, min_size):
    """Fate of each nucleus of ``start`` (find_nuclei ids of ``frame``) of at least
    ``min_size`` atoms along one trial: {nucleus: (size, "grew" | "dissolved" | "absorbed" |
    "undecided")}."""
    sizes = np.bincount(start[start >= 0])
    track = {k: np.flatnonzero(start == k) for k in np.flatnonzero(sizes >= min_size)}
    fate = {}
    for f in trial_frames:
        if not track:
            break
        nuc = ptm_clusters(f, r_cut)
        counts = np.bincount(nuc[nuc >= 0]) if (nuc >= 0).any() else np.zeros(0, np.int64)
        where = {}
        for k, rows in list(track.items()):
            hit = nuc[rows]
            hit = hit[hit >= 0]
            if not len(hit):
                fate[k] = "dissolved"
                del track[k]
                continue
            where.setdefault(int(np.bincount(hit).argmax()), []).append(k)
        for c, ks in where.items():
            ks.sort(key=lambda k: -sizes[k])        # the largest nucleus keeps the cluster
            for k in ks[1:]:
                fate[k] = "absorbed"
                del track[k]
            k = ks[0]
            if counts[c] >= grown:
                fate[k] = "grew"
                del track[k]
            else:
                track[k] = np.flatnonzero(nuc == c)
    for k in track:
        fate[k] = "undecided"
    return {int(k): (int(sizes[k]), v) for k, v in fate.items()}


def shot_frames(largest, n_frames, grown):
    """Frames to shoot from: before the largest cluster first reaches ``grown`` atoms, those
    whose largest cluster is nearest (in log size) to ``n_frames`` sizes spread evenly in
    log from 8 to 0.8 ``grown`` atoms, one frame each (sorted)."""
    largest = np.asarray(largest, dtype=float)
    end = int(np.argmax(largest >= grown)) if (largest >= grown).any() else len(largest)
    free = [t for t in range(end) if largest[t] >= 8]
    shots = []
    for target in np.geomspace(8, 0.8 * grown, n_frames):
        if not free:
            break
        t = min(free, key=lambda t: (abs(np.log(largest[t] / target)), t))
        shots.append(t)
        free.remove(t)
    return np.array(sorted(shots), dtype=int)


def run_comparison(ds, *, n_frames, trials, grown, horizon, n_threads, seed, min_size=4,
                   progress=True):
    from descriptors import first_shell_distance
    from multilayer.tracking import (committor_size, growth_probability, mfpt_after_onset,
                                     nucleation_onset)
    from label_onsets import onset_of

    traj = ds.trajectory()
    frames = list(range(ds.n_frames))
    ptm_masks = [np.isin(ds.ptm(t), CRYSTALLINE) for t in frames]
    tables = []
    _, largest = onset_of(ds, frames, ptm_masks, tables=tables)
    times = np.array([traj[t].timestep for t in (0, 1)], dtype=float) * DT
    interval = float(times[1] - times[0])
    onset = nucleation_onset(largest)
    fit = mfpt_after_onset(largest, onset, np.asarray(frames, dtype=float))
    gp = growth_probability(tables[0], grown, last_frame=ds.n_frames - 1, n_boot=200, seed=0)
    shots = shot_frames(largest, n_frames, grown)
    if not len(shots):
        raise SystemExit(f"{ds.name}: no frame before PTM's largest cluster reaches {grown} "
                         "atoms holds one of 8 or more")
    r_cut = 1.35 * first_shell_distance(traj[0])
    n_checks = max(1, int(np.ceil(horizon / interval)))
    rows, t0 = [], time.perf_counter()
    for f in shots:
        frame = traj[int(f)]
        start = ptm_clusters(frame, r_cut)
        for k in range(trials):
            s = int(seed + 1000 * int(f) + k) % 900_000_000 + 1
            gen = shoot(frame, temperature=ds.meta["temperature"], pressure=ds.meta["pressure"],
                        seed=s, interval=interval, n_checks=n_checks, n_threads=n_threads)
            res = outcomes(frame, start, gen, r_cut=r_cut, grown=grown, min_size=min_size)
            gen.close()
            for nuc, (size, fate) in res.items():
                rows.append({"frame": int(f), "trial": k, "nucleus": nuc, "size": size,
                             "fate": fate})
            if progress:
                print(f"    frame {f} (largest {int(largest[f])}) trial {k}: "
                      f"{sum(1 for r in res.values() if r[1] == 'grew')} grew, "
                      f"{sum(1 for r in res.values() if r[1] == 'dissolved')} dissolved "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    decided = [r for r in rows if r["fate"] in ("grew", "dissolved")]
    size = np.array([r["size"] for r in decided], dtype=float)
    y = np.array([r["fate"] == "grew" for r in decided], dtype=np.int64)
    _, _, n_star = committor_size(size, y)
    rng = np.random.default_rng(seed)
    frame_of = np.array([r["frame"] for r in decided])
    boot = []
    for _ in range(200):                       # resample the frames shot from
        pick = np.concatenate([np.flatnonzero(frame_of == f)
                               for f in rng.choice(shots, len(shots))])
        boot.append(committor_size(size[pick], y[pick])[2])
    boot = np.asarray(boot)
    lo, hi = (np.nanpercentile(boot, [16, 84]) if np.isfinite(boot).mean() >= 0.9
              else (np.nan, np.nan))
    bins = [(4, 8), (8, 12), (12, 16), (16, 24), (24, 32), (32, 48), (48, grown)]
    p_by_size = {f"{a}-{b - 1}": [float(y[(size >= a) & (size < b)].mean())
                                  if ((size >= a) & (size < b)).any() else None,
                                  int(((size >= a) & (size < b)).sum())] for a, b in bins}
    fates = {k: sum(1 for r in rows if r["fate"] == k)
             for k in ("grew", "dissolved", "absorbed", "undecided")}
    return {"dataset": ds.name, "frames_shot": shots.tolist(),
            "largest_at_shots": [int(largest[f]) for f in shots], "trials": trials,
            "grown": grown, "interval_tau": interval, "horizon_tau": n_checks * interval,
            "committor_n_star": [round(n_star, 1), round(float(lo), 1), round(float(hi), 1)],
            "p_b_by_size": p_by_size, "fates": fates,
            "mfpt_n_star": None if fit is None else [round(fit.n_star, 1),
                                                     round(fit.n_star_err, 1), fit.determined],
            "growth_n_star": [round(gp.n_star, 1), round(gp.n_star_low, 1),
                              round(gp.n_star_high, 1), gp.determined, gp.n_grew, gp.n_dissolved,
                              gp.n_fell_back],
            "seconds": round(time.perf_counter() - t0, 1), "observations": rows}


def main(argv=None) -> int:
    from validation_suite import load_suite

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", required=True, help="nucleation run name(s), comma-separated")
    ap.add_argument("--frames", type=int, default=8, help="frames shot from")
    ap.add_argument("--trials", type=int, default=6, help="trajectories per frame")
    ap.add_argument("--grown", type=int, default=50, help="atoms of a grown nucleus")
    ap.add_argument("--horizon", type=float, default=20.0,
                    help="tau per trajectory at most; the nuclei still undecided then are "
                         "mostly slow growers, so keep them few (T* 0.6 P* 5.6: 57 of 420 at "
                         "15 tau left n* undetermined, 12 at 30 tau did not)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    suite = load_suite(kinds=["nucleation"])
    out = []
    for name in args.only.split(","):
        if name not in suite:
            raise SystemExit(f"{name}: not in the cache (have: {', '.join(sorted(suite))})")
        ds = suite[name]
        if ds.meta.get("metal"):
            raise SystemExit(f"{name}: shooting is written for the LJ runs only")
        print(f"== {name}", flush=True)
        r = run_comparison(ds, n_frames=args.frames, trials=args.trials, grown=args.grown,
                           horizon=args.horizon, n_threads=args.threads, seed=args.seed)
        out.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "observations"}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
