"""``crystopo analyze``: trajectory -> descriptors -> multilayer network -> Leiden -> tracking -> outputs.

Stages and their checkpoints (under ``OUT/.crystopo/``):

1. **fit**: the feature pipeline (:class:`~multilayer.network.featureset.FeatureSet`): cutoffs
   from the first-neighbour distance, vectorisation ranges from a sample of atoms of the first
   selected frame (``featureset.pkl``);
2. **features**: per frame, the neighbour list and the per-atom feature sets, one Zarr group
   per frame written atomically (``features/frame_XXXXXXX``); a bad frame is logged and skipped;
3. **cluster**: the multilayer network and Leiden labels (``labels.npz``);
4. **track**: nuclei, life-cycle events, onset and MFPT; then the outputs are written to a
   staging directory and swapped into ``OUT`` as one set under a journal
   (:mod:`multilayer.app.outputs`): a reader, or a run killed at any moment, never leaves a
   mix of two runs' outputs.

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
from pathlib import Path

import numpy as np

from descriptors import read_trajectory
from descriptors.heap import heap_kept

from ..network.featureset import FeatureSet
from ..network.frameloop import FrameLoop, select_frames
from .config import ConfigError, load_config
from .outputs import foreign_files, recover_outputs
from .result import AnalysisResult
from .output_stage import output_stage, start_mapper
from .stages import cluster_stage, start_references, track_stage
from .store import BackgroundWriter, FeatureStore, atomic_save_npz, atomic_write_bytes

__all__ = ["analyze", "AnalysisResult", "fit_features", "check_shells", "content_key",
           "features_config", "frame_selection", "OutputError", "OutputLock"]

logger = logging.getLogger(__name__)


# -- stage 1: the fitted feature pipeline ---------------------------------------------------
def fit_features(frame, cfg: dict) -> FeatureSet:
    """The configuration's :class:`~multilayer.network.featureset.FeatureSet`, fitted on one
    frame (cutoffs from its first-neighbour distance, vectoriser ranges from a sample); a
    ConfigError when a shell factor leaves no sensible neighbourhood (see
    :func:`check_shells`)."""
    fs = FeatureSet.from_config(cfg)
    check_shells(frame, cfg, sets=fs.sets)      # before the (costly) fit of the vectorisers
    return fs.fit(frame)


#: mean neighbours per atom a cutoff should give: a first shell holds 4 (diamond) to 14 (bcc);
#: below 1 (empty shells) or above the upper bound the run is refused, between 1 and the
#: lower bound it is warned about
SHELL_RANGE = {"neighbors": (4.0, 40.0), "persistence": (4.0, 80.0)}


def check_shells(frame, cfg: dict, *, sets=("persistence",), sample: int = 500,
                 seed: int = 0) -> None:
    """Refuse shell factors whose cutoff holds too few or too many neighbours per atom (mean
    over a seeded sample of ``frame``; cutoffs as :class:`FeatureSet` sets them, factor x the
    first-neighbour distance), so that a wrong factor ends in one message instead of
    descriptors of empty (or far too wide) neighbourhoods labelled as a structure."""
    from descriptors import first_shell_distance, neighbor_list

    d1 = first_shell_distance(frame)
    atoms = np.sort(np.random.default_rng(seed).choice(
        frame.n_atoms, min(sample, frame.n_atoms), replace=False))
    cuts = {"neighbors": cfg["neighbors"]["shell_factor"] * d1}
    if "persistence" in sets:
        cuts["persistence"] = cfg["persistence"]["shell_factor"] * d1
    for section, cut in cuts.items():
        mean = float(neighbor_list(frame, r_cut=cut, query=atoms).counts.mean())
        lo, hi = SHELL_RANGE[section]
        factor = cfg[section]["shell_factor"]
        if 1.0 <= mean < lo:         # sparse (a slab in vacuum, a gas): say so, go on
            logger.warning("[%s] shell_factor = %g: the cutoff %.4g holds only %.1f neighbours "
                           "per atom in the first selected frame (a condensed first shell holds "
                           "%g-%g)", section, factor, cut, mean, lo, hi)
        elif not lo <= mean <= hi:
            raise ConfigError(
                f"[{section}] shell_factor = {factor:g}: the cutoff {cut:.4g} ({factor:g} x the "
                f"first-neighbour distance {d1:.4g}) holds {mean:.1f} neighbours per "
                f"atom in the first selected frame; a first shell needs {lo:g}-{hi:g} (about 12 in "
                f"fcc/hcp, 14 in bcc): use a factor around 1.2-1.5")


# -- helpers ---------------------------------------------------------------------------------
class OutputError(ValueError):
    """An output directory crystopo cannot use; the message says which and why."""


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"--out {out}: cannot create the output directory "
                          f"({err.strerror or err})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: the output directory is not writable")


def _check_foreign(out: Path, force: bool) -> None:
    foreign = foreign_files(out)
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputError(f"--out {out}: holds files crystopo did not write ({shown}); choose a "
                          f"new or empty directory, or pass --force to write beside them (files "
                          f"of the same names as outputs are replaced)")


class OutputLock:
    """One run per output directory: an exclusive lock on ``OUT/.crystopo.lock`` (fcntl),
    released when the run ends or its process dies; a second run refuses at once."""

    def __init__(self, out: Path):
        self.path = Path(out) / ".crystopo.lock"
        self._fh = None

    def __enter__(self):
        import fcntl

        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise OutputError(f"--out {self.path.parent}: another crystopo run (pid {holder}) is "
                              f"writing there; wait for it or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc):
        import fcntl

        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
        return False
def content_key(path, *, block: int = 1 << 20, n_blocks: int = 8) -> str | None:
    """A key of a file's content, not of its name or modification time: its size and a
    SHA-256 of ``n_blocks`` blocks spread over it (first and last included).  The same file
    under another path, copied or touched, gets the same key; an edited one almost surely
    not.  ``None`` for in-memory frames."""
    if not isinstance(path, (str, os.PathLike)):
        return None
    size = os.stat(path).st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        starts = sorted({int(k * max(0, size - block) / max(1, n_blocks - 1))
                         for k in range(n_blocks)})
        for start in starts:
            fh.seek(start)
            h.update(fh.read(block))
    return h.hexdigest()[:24]


def features_config(cfg: dict) -> dict:
    """The sections the features depend on, as the checkpoints' fingerprint sees them.
    ``[steinhardt] w = []`` (no ŵ_l column, the default) is left out, so checkpoints made
    before that key existed are still reused by ``--resume``."""
    out = {k: cfg[k] for k in ("neighbors", "features", "neighbors_map", "persistence",
                               "steinhardt", "soap", "acsf") if k in cfg}
    if "steinhardt" in out and not out["steinhardt"].get("w"):
        out["steinhardt"] = {k: v for k, v in out["steinhardt"].items() if k != "w"}
    return out


def _fingerprint(key, cfg) -> str:
    text = json.dumps({"cfg": cfg, "content": key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def frame_selection(n_frames: int, cfg: dict, frames=None) -> list[int]:
    """The input frames a run with config ``cfg`` (validated) and ``frames`` analyses; a
    ConfigError for a selection the trajectory cannot give, or one shorter than the
    configuration's time window."""
    sel = _select(n_frames, cfg, frames)
    window = cfg["time_average"]["window"]
    if window > len(sel):
        raise ConfigError(f"[time_average] window = {window} is longer than the {len(sel)} "
                          f"selected frame(s); use a window <= {len(sel)} or select more frames")
    return sel


def _select(n_frames: int, cfg: dict, frames) -> list[int]:
    if frames is None:
        fr = cfg["frames"]
        frames = slice(fr["start"], fr["stop"], fr["step"])
    try:
        return select_frames(n_frames, frames)
    except (ValueError, IndexError) as err:
        raise ConfigError(str(err)) from None


def analyze(trajectory, out, *, config=None, frames=None, resume: bool = False,
            progress: bool = False, workers: int | None = None,
            scheduler: str | None = None, force: bool = False) -> AnalysisResult:
    """Run the whole chain on a trajectory and write the outputs to ``out``.

    Parameters
    ----------
    trajectory : path or sequence of frames
    out : path of the output directory (created; finished outputs are replaced only when a
        new complete set exists)
    config : path of a TOML file, or a dict of sections (validated before any work)
    frames : slice, range or list of int, optional
        Input frames to analyse (0-based); overrides ``[frames]``.  E.g. ``slice(0, None, 5)``.
    resume : reuse the checkpoints of an interrupted run with the same config and input
    progress : tqdm bars per stage and per frame
    workers, scheduler : run the feature stage on Dask (a local cluster of ``workers``
        processes, or the cluster at ``scheduler``); results equal the serial run.
    force : write into an ``out`` that holds files crystopo did not write (refused otherwise);
        files of the same names as outputs are replaced, the others are left alone.
    """
    if isinstance(config, dict):
        cfg = load_config(None, {s: dict(t) for s, t in config.items()})
    else:
        cfg = load_config(config)
    out = Path(out)
    traj = read_trajectory(trajectory)
    sel = frame_selection(len(traj), cfg, frames)
    _check_out(out)
    _check_foreign(out, force)        # before the lock file is made: a refusal leaves no trace
    _prefetch_imports()
    with OutputLock(out):
        recover_outputs(out)          # a swap of outputs that a killed run left half done
        _check_foreign(out, force)
        if frames is not None:     # record the selection in the config written with the outputs
            cfg["frames"] = {"start": sel[0], "stop": sel[-1] + 1,
                             "step": (sel[1] - sel[0]) if len(sel) > 1 else 1}
        work = out / ".crystopo"
        # checkpoints are kept per stage: features depend on the descriptor sections only, so a
        # resumed run with new clustering or tracking parameters reuses them
        feat_cfg = features_config(cfg)
        # keyed by content; the feature pipeline is fitted on the first selected frame, so a
        # resume that starts elsewhere recomputes the features (as a fresh run would)
        key = content_key(trajectory)
        fp_feat = _fingerprint(key, feat_cfg | {"fitted_on": sel[0]})
        fp_clu = _fingerprint(key, {k: cfg[k] for k in ("frames", "labels", "network", "leiden",
                                                               "time_average")} | feat_cfg)
        state_file = work / "state.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        if work.exists() and not (resume and state.get("features") == fp_feat):
            if resume:
                logger.warning("the checkpoints in %s were made from another input, other descriptor "
                               "settings or another first frame: recomputing them", work)
            for child in work.iterdir():      # the checkpoints; the list of outputs stays
                if child.name != "outputs.json":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        work.mkdir(parents=True, exist_ok=True)
        if (state.get("cluster") != fp_clu or state.get("frames") != sel) and \
                (work / "labels.npz").exists():
            logger.info("clustering parameters or frames changed: recomputing the labels")
            (work / "labels.npz").unlink()
        atomic_write_bytes(state_file, json.dumps({"features": fp_feat, "cluster": fp_clu,
                                                   "frames": sel}).encode())
        t0 = time.perf_counter()

        # 1. the fitted feature pipeline
        fs_file = work / "featureset.pkl"
        at_hand = {}                  # the first frame, read once for the fit and the features
        if fs_file.exists():
            fs = pickle.loads(fs_file.read_bytes())
        else:
            at_hand[sel[0]] = traj[sel[0]]
            fs = fit_features(at_hand[sel[0]], cfg)
            atomic_write_bytes(fs_file, pickle.dumps(fs))
        logger.info("first-neighbour distance %.4g; shell cutoff %.4g", fs.nn_distance_, fs.shell_cut_)

        # the reference environments of the labels, made beside the feature stage
        refs_job = None if (work / "labels.npz").exists() else start_references(fs, cfg)

        # 2. features, per frame, checkpointed
        store = FeatureStore(work / "features")
        skipped = _load_skipped(work)
        todo = [i for i in sel if not store.has(i) and i not in skipped]
        if todo and (workers or scheduler):
            from .distributed import features_on_dask

            skipped.update(features_on_dask(trajectory, todo, fs, store, workers=workers,
                                            scheduler=scheduler, progress=progress))
        elif todo:
            # transform searches the neighbours chunk by chunk itself (never the whole list);
            # every frame reuses the memory the one before it freed (descriptors.heap)
            loop = FrameLoop(traj, todo, progress=progress, desc="features", prefetch=True,
                             given={i: f for i, f in at_hand.items() if i in todo})
            with heap_kept(), BackgroundWriter(store) as writer:
                def features(i, frame, _):
                    writer.write(i, fs.transform(frame).arrays(),
                                 {"timestep": frame.timestep, "n_atoms": frame.n_atoms})

                for i, _ in loop.run(features):
                    pass
            skipped.update(loop.skipped)
        at_hand.clear()               # the loop held it until its turn, then let it go
        _save_skipped(work, skipped)
        good = [i for i in sel if store.has(i)]
        if len(good) < 2:
            raise ConfigError(f"only {len(good)} readable frame(s) selected; need at least 2"
                              + (f" (skipped: {skipped})" if skipped else ""))
        store.frames = good
        t_feat = time.perf_counter() - t0
        mapper_job = start_mapper(store, good, cfg)

        # 3. network + Leiden
        labels_file = work / "labels.npz"
        if labels_file.exists():
            with np.load(labels_file) as z:
                labels = [z[f"f{i}"] for i in good]
                info = json.loads(str(z["info"]))
        else:
            clustered = cluster_stage(store, cfg, fs, progress=progress, references=refs_job)
            labels, info = clustered.labels, clustered.info
            atomic_save_npz(labels_file, info=json.dumps(info),
                            **{f"f{i}": lab for i, lab in zip(good, labels)})
        t_clu = time.perf_counter() - t0 - t_feat

        # 4. tracking and outputs
        tracked = track_stage(traj, good, store, labels, cfg, fs, progress=progress,
                              names=info.get("names"))
        timing = {"features_s": t_feat, "cluster_s": t_clu,
                  "track_s": time.perf_counter() - t0 - t_feat - t_clu}
        return output_stage(traj, out, good, store, labels, info, tracked, cfg, fs, skipped,
                            timing, progress=progress, mapper_job=mapper_job)


def _prefetch_imports() -> None:
    """Import leidenalg (with igraph and matplotlib: 0.4 s) in a thread while the feature
    stage runs, instead of on the main thread when the clustering first needs it."""
    import sys
    import threading

    if "leidenalg" not in sys.modules:
        threading.Thread(target=lambda: __import__("leidenalg"), name="crystopo-imports").start()


def _load_skipped(work: Path) -> dict:
    f = work / "skipped.json"
    return {int(k): v for k, v in json.loads(f.read_text()).items()} if f.exists() else {}


def _save_skipped(work: Path, skipped: dict) -> None:
    atomic_write_bytes(work / "skipped.json", json.dumps({str(k): v for k, v in skipped.items()}).encode())
