"""``crystopo analyze``: trajectory -> descriptors -> multilayer network -> Leiden -> tracking -> outputs.

Stages and their checkpoints (under ``OUT/.crystopo/``):

1. **calibrate**: first-neighbour distance, cutoffs and fixed vectorisation ranges, from the
   first selected frame (``calibration.pkl``);
2. **features**: per frame, the neighbour list and the per-atom feature sets, one Zarr group
   per frame written atomically (``features/frame_XXXXXXX``); a bad frame is logged and skipped;
3. **cluster**: the multilayer network and Leiden labels (``labels.npz``);
4. **track**: nuclei, life-cycle events, onset and MFPT; then the outputs are written to a
   staging directory and moved into ``OUT`` only when all of them exist.

``--resume`` reuses every checkpoint made with the same configuration and input.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from descriptors import (TrajectoryFormatError, first_shell_distance, neighbor_list,
                         read_trajectory)

from .config import ConfigError, config_to_toml, load_config
from .store import FeatureStore, atomic_save_npz, atomic_write_bytes

__all__ = ["analyze", "AnalysisResult", "compute_frame_features", "calibrate"]

logger = logging.getLogger(__name__)


@dataclass
class AnalysisResult:
    """What :func:`analyze` found; the same tables are written as Parquet in ``out``."""

    out: Path
    frames: list
    labels: object            # DataFrame: frame, timestep, id, label, nucleus, scores (None above
                              # 5e6 rows: read OUT/labels.parquet in pieces instead)
    communities: object       # DataFrame: per community and frame
    events: object            # DataFrame
    nuclei: object            # DataFrame
    summary: dict             # onset, critical size, crystalline fraction, ...
    skipped: list = field(default_factory=list)
    config: dict = field(default_factory=dict)


def _progress(iterable, progress, **kw):
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not progress, **kw)


# -- stage 1: calibration ------------------------------------------------------------------
def calibrate(frame, cfg: dict) -> dict:
    """Cutoffs (from the first-neighbour distance) and fitted vectorisers, from one frame."""
    d1 = first_shell_distance(frame)
    cal = {"nn_distance": d1,
           "shell_cut": cfg["neighbors"]["shell_factor"] * d1,
           "ph_cut": cfg["persistence"]["shell_factor"] * d1,
           "species": np.unique(frame.types)}   # SOAP/ACSF columns: the same in every frame
    sets = cfg["features"]["sets"]
    if "neighbors_map" in sets:
        from descriptors.neighbors_map import default_map_cutoff

        cal["map_cut"] = default_map_cutoff(frame, size=cfg["neighbors_map"]["size"])
    if "persistence" in sets:
        import tda

        pc = cfg["persistence"]
        rng = np.random.default_rng(0)
        n = frame.n_atoms
        sample = np.sort(rng.choice(n, min(n, pc["fit_sample"]), replace=False))
        nl = neighbor_list(frame, r_cut=cal["ph_cut"])
        dg = tda.local_persistence(frame, nl, complex=pc["complex"], max_dim=pc["max_dim"])
        cal["vectorizer"] = tda.DiagramVectorizer(method=pc["method"]).fit(dg.select(sample))
    return cal


# -- stage 2: features ---------------------------------------------------------------------
def compute_frame_features(frame, cfg: dict, cal: dict) -> dict:
    """Every configured feature set of one frame, plus the per-atom classic signature.

    Returns a dict of arrays with ``n_atoms`` rows: ``ids``, one float32 matrix per
    feature set, ``q6`` (averaged q6) and ``solid`` (ten Wolde solid-like, bool).
    """
    from descriptors.steinhardt import solid_liquid, steinhardt

    sets = cfg["features"]["sets"]
    reach = max(v for k, v in cal.items() if k.endswith("_cut"))
    nl = neighbor_list(frame, r_cut=reach)
    shell = nl.truncate(cal["shell_cut"])
    out = {"ids": frame.ids, "types": frame.types}
    if "neighbors_map" in sets:
        from descriptors.neighbors_map import neighbors_map_features

        nm = cfg["neighbors_map"]
        out["neighbors_map"] = neighbors_map_features(
            frame, nl.truncate(cal["map_cut"]) if cal["map_cut"] < reach else nl,
            block=nm["block"], size=nm["size"], gamma=nm["gamma"], beta=nm["beta"])
    if "persistence" in sets:
        import tda

        pc = cfg["persistence"]
        dg = tda.local_persistence(frame, nl.truncate(cal["ph_cut"]), complex=pc["complex"],
                                   max_dim=pc["max_dim"])
        out["persistence"] = cal["vectorizer"].transform(dg)
    if "soap" in sets or "acsf" in sets:
        from descriptors.soap import acsf_features, soap_features

        d1, species = cal["nn_distance"], cal.get("species")
        if "soap" in sets:
            sc = cfg["soap"]
            out["soap"] = soap_features(frame, r_cut=sc["r_cut"] * d1, sigma=sc["sigma"] * d1,
                                        n_max=sc["n_max"], l_max=sc["l_max"], species=species,
                                        nn_distance=d1)
        if "acsf" in sets:
            out["acsf"] = acsf_features(frame, r_cut=cfg["acsf"]["r_cut"] * d1, species=species,
                                        nn_distance=d1)
    q = steinhardt(frame, shell, l=cfg["steinhardt"]["l"], average=cfg["steinhardt"]["average"])
    if "steinhardt" in sets:
        out["steinhardt"] = q
    ls = list(cfg["steinhardt"]["l"])
    out["q6"] = q[:, ls.index(6)] if 6 in ls else steinhardt(frame, shell, l=[6], average=True)[:, 0]
    out["solid"] = solid_liquid(frame, shell)
    return out


# -- helpers ---------------------------------------------------------------------------------
def _fingerprint(path, cfg) -> str:
    st = os.stat(path) if isinstance(path, (str, os.PathLike)) else None
    key = json.dumps({"cfg": cfg, "file": str(path), "size": st.st_size if st else None,
                      "mtime": st.st_mtime_ns if st else None}, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _select(n_frames: int, fr: dict) -> list[int]:
    sel = list(range(n_frames))[slice(fr["start"], fr["stop"], fr["step"])]
    if not sel:
        raise ConfigError(f"[frames] start={fr['start']} stop={fr['stop']} step={fr['step']} "
                          f"selects no frame of {n_frames}")
    return sel


def analyze(trajectory, out, *, config=None, frames: str | None = None, resume: bool = False,
            progress: bool = False, workers: int | None = None, scheduler: str | None = None,
            _interrupt_after: int | None = None) -> AnalysisResult:
    """Run the whole chain on a trajectory and write the outputs to ``out``.

    Parameters
    ----------
    trajectory : path or sequence of frames
    out : path of the output directory (created; finished outputs are replaced only when a
        new complete set exists)
    config : path of a TOML file, or a dict of sections (validated before any work)
    frames : "START:STOP:STEP", optional, overrides ``[frames]``
    resume : reuse the checkpoints of an interrupted run with the same config and input
    progress : tqdm bars per stage and per frame
    workers, scheduler : run the feature stage on Dask (a local cluster of ``workers``
        processes, or the cluster at ``scheduler``); results equal the serial run.
    """
    from .config import parse_frames

    overrides = parse_frames(frames)
    if isinstance(config, dict):
        merged = {s: dict(t) for s, t in config.items()}
        for s, t in ({"frames": overrides} if overrides else {}).items():
            merged.setdefault(s, {}).update(t)
        cfg = load_config(None, merged)
    else:
        cfg = load_config(config, {"frames": overrides} if overrides else None)
    out = Path(out)
    traj = read_trajectory(trajectory)
    sel = _select(len(traj), cfg["frames"])
    work = out / ".crystopo"
    # checkpoints are kept per stage: features depend on the descriptor sections only, so a
    # resumed run with new clustering or tracking parameters reuses them
    feat_cfg = {k: cfg[k] for k in ("neighbors", "features", "neighbors_map", "persistence",
                                    "steinhardt", "soap", "acsf") if k in cfg}
    fp_feat = _fingerprint(trajectory, feat_cfg)
    fp_clu = _fingerprint(trajectory, {k: cfg[k] for k in ("frames", "network", "leiden")} | feat_cfg)
    state_file = work / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if work.exists() and not (resume and state.get("features") == fp_feat):
        if resume:
            logger.warning("no checkpoint of these descriptor settings and input in %s: starting "
                           "afresh", work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if state.get("cluster") != fp_clu and (work / "labels.npz").exists():
        logger.info("clustering parameters changed: recomputing the labels")
        (work / "labels.npz").unlink()
    atomic_write_bytes(state_file, json.dumps({"features": fp_feat, "cluster": fp_clu,
                                               "frames": sel}).encode())
    t0 = time.perf_counter()

    # 1. calibration
    cal_file = work / "calibration.pkl"
    if cal_file.exists():
        cal = pickle.loads(cal_file.read_bytes())
    else:
        cal = calibrate(traj[sel[0]], cfg)
        atomic_write_bytes(cal_file, pickle.dumps(cal))
    logger.info("first-neighbour distance %.4g; shell cutoff %.4g", cal["nn_distance"], cal["shell_cut"])

    # 2. features, per frame, checkpointed
    store = FeatureStore(work / "features")
    skipped = _load_skipped(work)
    todo = [i for i in sel if not store.has(i) and i not in skipped]
    if todo and (workers or scheduler):
        from .distributed import features_on_dask

        skipped.update(features_on_dask(trajectory, todo, cfg, cal, store, workers=workers,
                                        scheduler=scheduler, progress=progress))
    else:
        for count, i in enumerate(_progress(todo, progress, desc="features", unit="frame")):
            if _interrupt_after is not None and count >= _interrupt_after:
                raise KeyboardInterrupt  # test hook: a run killed mid-stage
            try:
                frame = traj[i]
                arrays = compute_frame_features(frame, cfg, cal)
            except (TrajectoryFormatError, ValueError) as err:
                logger.warning("frame %d skipped: %s", i, err)
                skipped[i] = str(err)
                _save_skipped(work, skipped)
                continue
            store.write(i, arrays, {"timestep": frame.timestep, "n_atoms": frame.n_atoms})
    _save_skipped(work, skipped)
    good = [i for i in sel if store.has(i)]
    if len(good) < 2:
        raise ConfigError(f"only {len(good)} readable frame(s) selected; need at least 2 "
                          f"(skipped: {skipped})")
    store.frames = good
    t_feat = time.perf_counter() - t0

    # 3. network + Leiden
    from .stages import cluster_stage, output_stage, track_stage

    labels_file = work / "labels.npz"
    if labels_file.exists():
        with np.load(labels_file) as z:
            labels = [z[f"f{i}"] for i in good]
            info = json.loads(str(z["info"]))
    else:
        labels, info = cluster_stage(store, cfg, progress=progress)
        atomic_save_npz(labels_file, info=json.dumps(info), **{f"f{i}": lab for i, lab in zip(good, labels)})
    t_clu = time.perf_counter() - t0 - t_feat

    # 4. tracking and outputs
    tracked = track_stage(traj, good, store, labels, cfg, cal, progress=progress)
    timing = {"features_s": t_feat, "cluster_s": t_clu,
              "track_s": time.perf_counter() - t0 - t_feat - t_clu}
    result = output_stage(traj, trajectory, out, good, store, labels, info, tracked, cfg, cal,
                          skipped, timing, progress=progress)
    (out / "config.toml").write_text(config_to_toml(cfg))
    return result


def _load_skipped(work: Path) -> dict:
    f = work / "skipped.json"
    return {int(k): v for k, v in json.loads(f.read_text()).items()} if f.exists() else {}


def _save_skipped(work: Path, skipped: dict) -> None:
    atomic_write_bytes(work / "skipped.json", json.dumps({str(k): v for k, v in skipped.items()}).encode())
