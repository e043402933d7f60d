"""``crystopo propensity``: the propensity model on an analysed run (runs or reuses :func:`analyze`)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from descriptors import read_trajectory

from ..learn.propensity import (PropensityResult, WithPast, check_horizons,
                                crystallization_propensity)
from .config import load_config
from .outputs import commit_outputs, staging_dir
from .pipeline import OutputLock, analyze, frame_selection

__all__ = ["propensity", "TARGETS"]

#: what an atom crystallizing means to :func:`propensity`: entering the crystalline core of
#: the crystal-like atoms (``labels.parquet``'s ``core``: their own first shell is a
#: crystal's), or becoming crystal-like
TARGETS = ("core", "crystal_like")
_NO_CORE = ("target 'core' needs the crystalline core, and there is none ({out}; [tracking] "
            "core_tolerance = 12 turns it off); use target='crystal_like' (--target crystal_like)")


def propensity(trajectory, out, *, horizon=5, config=None, frames=None, feature_sets=None,
               n_blocks=3, n_splits=5, model="hgb", max_train=30_000, seed=0, past=1,
               progress=False, write=True, force=False, target="core") -> PropensityResult:
    """Run (or reuse) :func:`multilayer.analyze` into ``out``, then the propensity model.

    Inputs are the run's stored feature sets (default: those of its config, plus the
    averaged q6 when Steinhardt's are not among them; Steinhardt columns are named ``q4``,
    ``q6``, ...); targets its labels (``target``).  Writes ``out/propensity.parquet``
    (frame, id, horizon, p_crystal) and ``out/propensity.json`` (ROC-AUC per horizon,
    positive rates, single-input ROC-AUCs and grouped permutation importances).

    Parameters
    ----------
    trajectory, out, config, frames, force
        As in :func:`multilayer.analyze` (called with ``resume=True``).
    horizon, feature_sets, n_blocks, n_splits, model, max_train, seed
        As in :func:`crystallization_propensity`.
    past : int
        Also give the model the atom's recent past (:class:`WithPast`): the causal average
        of every input over the last ``past`` analysed frames and the fraction of them in
        which it was crystal-like (1: the present frame only).  On the validation suite's
        LAMMPS runs this adds 0.01-0.02 of ROC-AUC (README).
    write : bool
        Write the two files.
    target : {"core", "crystal_like"}
        Which atoms are crystal, for the targets (and the distance to the nearest crystal
        atom and the crystal fraction of the neighbours among the inputs): the crystalline
        core (``labels.parquet``'s ``core``, the default: the atom's own first shell is a
        crystal's), or all
        crystal-like atoms.  The crystal-like set also holds the liquid on a nucleus's surface
        (its averaged q̄_l are a crystal's), and a model that learns when that halo forms
        predicts less of what crystallizes: scored against PTM-crystalline at t + 5, the core
        target gives ROC-AUC 0.868-0.907 on nine LJ runs and 0.872 / 0.950 / 0.944 on three
        EAM copper runs, the crystal-like one 0.867-0.902 and 0.840 / 0.945 / 0.940 (README).  The past inputs (``past``) count
        the crystal-like frames either way.
    """
    horizons = check_horizons(horizon)
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if isinstance(past, bool) or not isinstance(past, int) or past < 1:
        raise ValueError(f"past must be an integer >= 1 (frames of the atom's past), got {past!r}")
    out = Path(out)
    cfg0 = (load_config(None, {k: dict(v) for k, v in config.items()})
            if isinstance(config, dict) else load_config(config))
    if target == "core" and cfg0["tracking"]["core_tolerance"] >= 12:   # before any work
        raise ValueError(_NO_CORE.format(out=f"[tracking] core_tolerance = "
                                             f"{cfg0['tracking']['core_tolerance']}"))
    n_sel = len(frame_selection(len(read_trajectory(trajectory)), cfg0, frames))
    if max(horizons) >= n_sel:     # checked before the analysis, not after it
        raise ValueError(f"horizon {max(horizons)} frames: the selection holds only {n_sel} "
                         f"frame(s), so no atom has a future that far; use horizons < {n_sel}")
    res = analyze(trajectory, out, config=config, frames=frames, resume=True, progress=progress,
                  force=force)
    cfg = res.config
    good = list(res.frames)
    store = res.feature_store()
    if feature_sets is None:    # the run's sets; the averaged q6 unless Steinhardt holds it
        sets = list(cfg["features"]["sets"])
        sets += [] if "steinhardt" in sets and 6 in cfg["steinhardt"]["l"] else ["q6"]
    else:
        sets = list(feature_sets)
    avail = set(store.names(good[0]))
    unknown = [s for s in sets if s not in avail or s in ("ids", "types")]
    if unknown:
        raise ValueError(f"unknown feature set name(s) {unknown} in feature_sets; this run "
                         f"stored {sorted(avail - {'ids', 'types'})}")
    import pyarrow.parquet as pq

    stored = pq.read_schema(out / "labels.parquet").names
    if target == "core" and "core" not in stored:
        raise ValueError(_NO_CORE.format(out=f"{out}'s labels.parquet has no core column"))
    labels = pd.read_parquet(out / "labels.parquet",
                             columns=["frame", "id", "crystal_like"]
                             + (["core"] if target == "core" else []))
    by_frame = dict(tuple(labels.groupby("frame")))
    traj = read_trajectory(trajectory)

    class _Lazy:
        def __init__(self, fn):
            self.fn = fn

        def __len__(self):
            return len(good)

        def __getitem__(self, t):
            return self.fn(good[t])

    def mask(i, column):
        df = by_frame[i]
        ids = store.read(i, ["ids"])["ids"]
        return df.set_index("id")[column].reindex(ids).fillna(False).to_numpy(bool)

    def crystal(i):
        return mask(i, "crystal_like")

    def crystallized(i):
        return mask(i, target)

    r_cut = cfg["neighbors"]["shell_factor"] * res.summary["nn_distance"]
    inputs, use = _Lazy(lambda i: store.read(i, sets)), sets
    if past > 1:
        inputs = WithPast(inputs, _Lazy(lambda i: store.read(i, ["ids"])["ids"]),
                          _Lazy(crystal), sets, past)
        use = sets + inputs.past_names
    result = crystallization_propensity(
        _Lazy(lambda i: traj[i]), _Lazy(crystallized), inputs,
        horizon=horizons, feature_sets=use, frame_index=good, r_cut=r_cut, n_blocks=n_blocks,
        n_splits=n_splits, model=model, max_train=max_train, seed=seed, progress=progress)
    if "steinhardt" in sets:     # name the bond-order columns by their l (q4, q6, ...)
        ls = cfg["steinhardt"]["l"]
        names = [f"q{l}" for l in ls] + [f"w{l}" for l in cfg["steinhardt"].get("w") or []]
        ren = {f"{pre}steinhardt[{k}]": f"{pre}{name}" for pre in ("", "nbr:", "past:")
               for k, name in enumerate(names)}
        result.feature_names = [ren.get(n, n) for n in result.feature_names]
        for d in (result.importances, result.single_auc):
            for h in d:
                d[h] = {ren.get(k, k): v for k, v in d[h].items()}
    if write:       # staged, then swapped in beside the analysis's outputs (both or neither)
        with OutputLock(out):
            stage = staging_dir(out)
            result.table[["frame", "id", "horizon", "p_crystal"]].to_parquet(
                stage / "propensity.parquet", index=False)
            (stage / "propensity.json").write_text(json.dumps(dict(result.to_json(), target=target),
                                                              indent=2))
            commit_outputs(out, replace_all=False)
    return result
