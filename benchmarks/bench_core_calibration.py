"""Does the crystalline core's cut, calibrated on shaken ideal crystals, hold on crystals
thermalised by molecular dynamics?

The core (:func:`multilayer.tracking.crystalline_core`) accepts an atom when its shell
distortion (:func:`descriptors.shell.shell_distortion`, neighbour by neighbour) from the
nearer of fcc and hcp, or from bcc, is at most ``CORE_MAX_DISTORTION`` (0.084) and half its
bonds carry the crystal's common-neighbour signature.  The cut is PTM's standard RMSD cutoff
(0.1) in that measure: the distortion at which half the atoms of a *shaken ideal* crystal
(independent Gaussian displacements) pass PTM (``tests/test_nuclei.py``).  Thermal
vibrations are not independent: neighbours move together, and the shell deforms in the
crystal's own soft modes.  This script asks whether the calibration transfers, on the
validation suite's one-phase-per-frame set (``validation_data.py``, ``phases``: LJ fcc, hcp
and bcc crystals equilibrated by LAMMPS at T* 0.1-0.7, liquids at T* 1.0-1.5), data the cut
was not made on.

Per phase and temperature it prints, over the set's frames:

* ``PTM``: the fraction OVITO's PTM (fcc, hcp, bcc and ico templates, RMSD cutoff 0.1, the
  suite's cached types) calls crystalline (fcc, hcp or bcc);
* ``core``: the fraction the core calls crystalline, every atom examined as a crystal-like
  atom (``crystalline_core(all atoms, 14-nearest list)``, the defaults);
* ``rec`` / ``prec``: the core against PTM, atom by atom;
* ``equal-rate cut``: the distortion cut at which the core (its geometric test alone, from
  the nearer of the phase's templates) would accept as many atoms as PTM does -- the cut a
  calibration on this frame would give (only where PTM rejects at least 1 %: below that the
  quantile is the tail of a few atoms);

then the same for shaken ideal crystals at three noise levels, the calibration's own data.

    python benchmarks/bench_core_calibration.py [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from descriptors import make_lattice, neighbor_list  # noqa: E402
from descriptors.shell import shell_distortion  # noqa: E402
from multilayer.tracking import crystalline_core  # noqa: E402
from multilayer.tracking.nuclei import CORE_MAX_DISTORTION  # noqa: E402

CRYSTALLINE = (1, 2, 3)          # PTM_NAMES of validation_suite: fcc, hcp, bcc
TEMPLATES = {"fcc": ("fcc", "hcp"), "hcp": ("fcc", "hcp"), "bcc": ("bcc",),
             "liquid": ("fcc", "hcp", "bcc")}
SHAKEN = (("fcc", 6), ("hcp", (7, 4, 5)), ("bcc", 8))


def score(frames) -> dict:
    """Pool (ptm, core, distortion) over frames and score the core against PTM."""
    ptm = np.concatenate([f[0] for f in frames])
    core = np.concatenate([f[1] for f in frames])
    dist = np.concatenate([f[2] for f in frames])
    row = {"atoms": int(ptm.size), "ptm": float(ptm.mean()), "core": float(core.mean()),
           "recall": float(core[ptm].mean()) if ptm.any() else None,
           "precision": float(ptm[core].mean()) if core.any() else None,
           "equal_rate_cut": None}
    if 0.01 <= ptm.mean() <= 0.99:
        row["equal_rate_cut"] = float(np.quantile(np.nan_to_num(dist, nan=np.inf), ptm.mean()))
    return row


def judge(frame, ptm_crystalline, kinds) -> tuple:
    nl = neighbor_list(frame, k=14)
    core = crystalline_core(np.ones(frame.n_atoms, bool), nl, frame=frame)
    dist = shell_distortion(nl, kinds=kinds).min(axis=1)
    return ptm_crystalline, core, dist


def thermal_rows() -> list[dict]:
    from validation_suite import load_suite

    try:
        ds = load_suite(kinds=["phases"])["phases"]
    except (FileNotFoundError, KeyError) as err:
        raise SystemExit(f"no cached phases set ({err}); build it with "
                         "`python benchmarks/validation_data.py --only phases` (about 2 min)")
    traj, groups = ds.trajectory(), {}
    for i in range(ds.n_frames):
        info = ds.frame_info(i)
        frame = traj[i]
        if not np.array_equal(frame.ids, ds.ids(i)):
            raise SystemExit(f"phases frame {i}: ids differ from the cached PTM types")
        ptm = np.isin(ds.ptm(i), CRYSTALLINE)
        key = (info["phase"], float(info["temperature"]))
        groups.setdefault(key, []).append(judge(frame, ptm, TEMPLATES[info["phase"]]))
    return [{"set": "LAMMPS", "phase": p, "T": T, **score(groups[(p, T)])}
            for p, T in sorted(groups)]


def shaken_rows(noises=(0.05, 0.06, 0.07)) -> list[dict]:
    from multilayer.learn.trusted import ovito_structures

    rows = []
    for kind, cells in SHAKEN:
        for noise in noises:
            f = make_lattice(kind, cells, noise=noise, seed=1)
            types = ovito_structures(f, "ptm", rmsd_cutoff=0.1,
                                     structures=("fcc", "hcp", "bcc", "ico"))
            ptm = np.isin(types, CRYSTALLINE)
            rows.append({"set": "shaken", "phase": kind, "T": noise,
                         **score([judge(f, ptm, TEMPLATES[kind])])})
    return rows


def _fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = thermal_rows() + shaken_rows()
    print(f"core cut {CORE_MAX_DISTORTION} (shell distortion); PTM RMSD cutoff 0.1")
    print(f"{'set':7s} {'phase':6s} {'T* / noise':>10s} {'atoms':>7s} {'PTM':>6s} {'core':>6s} "
          f"{'rec':>6s} {'prec':>6s} {'equal-rate cut':>14s}")
    for r in rows:
        print(f"{r['set']:7s} {r['phase']:6s} {r['T']:>10g} {r['atoms']:>7d} {r['ptm']:6.3f} "
              f"{r['core']:6.3f} {_fmt(r['recall']):>6s} {_fmt(r['precision']):>6s} "
              f"{_fmt(r['equal_rate_cut'], '.4f'):>14s}")
    print(f"{time.perf_counter() - t0:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
