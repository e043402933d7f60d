"""The output stage of :func:`multilayer.analyze`: per-atom and per-community tables, the
labelled trajectory, the Mapper graph (started beside the clustering, see
:func:`start_mapper`), OVITO's PTM composition of each named structure, the summary, the
figures and the report, written to a staging folder and swapped in as one set."""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pandas as pd

from descriptors import write_extxyz, write_lammps_dump
from descriptors.arrays import unique_sorted

from ..network.plot import legend_names
from ..network.progress import progress_bar
from ..tracking.onset import (MIN_ONSET_GROWTH, NO_GROWTH, critical_onset, onset_growth,
                              onset_spread)
from ..tracking.routes import route_summary
from .config import config_to_toml
from .outputs import commit_outputs, staging_dir
from .report import (make_figures, make_route_figure, make_scan_figure, mfpt_outside_regime,
                     write_report)
from .result import AnalysisResult, TrackResult

__all__ = ["output_stage", "start_mapper", "threadsafe_numba"]

logger = logging.getLogger(__name__)


def threadsafe_numba() -> bool:
    """Whether two threads may launch numba's parallel kernels at once (the OpenMP and TBB
    layers; not workqueue).  Asked after the feature stage has run parallel kernels."""
    import numba

    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:           # no parallel kernel has run yet: the layer is not chosen
        return False


def _onset_frame(onset, good):
    idx = getattr(onset, "frame", onset)
    if idx is None or (isinstance(idx, (int, np.integer)) and idx < 0):
        return None
    return int(good[int(idx)])


def start_mapper(store, good, cfg):
    """The Mapper graph (it needs the features only, no label) started in a background
    thread as soon as the feature stage is done, so that it runs beside the clustering,
    the tracking and the output stage's main thread instead of after them: a Future for
    :func:`output_stage`, or None where Mapper is off or numba's threading layer does not
    allow two threads to launch parallel kernels (then the output stage runs it itself)."""
    if not cfg["mapper"]["enabled"] or not threadsafe_numba():
        return None
    ids = [store.read(i, ["ids"])["ids"] for i in good]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crystopo-mapper")
    try:
        return pool.submit(_mapper_graph, store, ids, None, cfg)
    finally:
        pool.shutdown(wait=False)


def output_stage(traj, out: Path, good, store, labels, info, tracked: TrackResult, cfg, features,
                 skipped, timing, *, progress=False, mapper_job=None) -> AnalysisResult:
    """Write tables, the labelled trajectory, figures and the report; swap them in at the end.
    ``mapper_job``: the Future of :func:`start_mapper`, when Mapper was started early."""
    out.mkdir(parents=True, exist_ok=True)
    stage = staging_dir(out)
    nuc = tracked.nuclei
    crystal = set(np.asarray(tracked.crystal).tolist())

    # per-atom labels, written frame by frame (never the whole table in memory)
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = info.get("names")
    name_of = np.array(names if names else [f"community-{c}" for c in
                                             range(max(int(x.max()) for x in labels) + 1)])
    writer, comm_parts, n_rows = None, [], 0
    try:
        for t, i in enumerate(good):
            arr = store.read(i, ["ids", "q6", "solid"])
            part = pd.DataFrame({
                "frame": np.full(len(arr["ids"]), i, dtype=np.int64),
                "timestep": np.full(len(arr["ids"]), store.meta(i)["timestep"], dtype=np.int64),
                "id": arr["ids"], "label": labels[t].astype(np.int64),
                "structure": name_of[labels[t]],
                "nucleus": nuc.atom_nuclei[t] if nuc.atom_nuclei is not None else -1,
                "crystal_like": np.isin(labels[t], list(crystal)),
                "q6_avg": arr["q6"].astype(np.float32), "solid_tenwolde": arr["solid"].astype(bool)})
            core = tracked.core_of(t, len(arr["ids"]))
            if core is not None:
                part.insert(part.columns.get_loc("crystal_like") + 1, "core", core)
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(stage / "labels.parquet", table.schema)
            writer.write_table(table)
            comm_parts.append(_community_table(part, crystal))
            n_rows += len(part)
    finally:
        if writer is not None:
            writer.close()
    communities = pd.concat(comm_parts, ignore_index=True)
    events = _named_events(tracked.events, name_of)
    nuclei = nuc.table.copy()
    if len(nuclei):
        nuclei["frame"] = np.asarray(good)[nuclei["frame"].to_numpy()]
    nuclei = _named_composition(nuclei, name_of)
    for name, df in (("communities", communities), ("events", events),
                     ("nuclei", _parquet_safe(nuclei))):
        df.to_parquet(stage / f"{name}.parquet", index=False)

    # three threads: one writes the labelled trajectory (text formatting and gzip), one builds
    # the Mapper graph (k-means, DBSCAN: numba and scikit-learn, mostly without the GIL), and
    # this one makes the summary, the figures and OVITO's PTM composition (OVITO must stay on
    # the main thread: it crashed when first used off it).  The trajectory reader serialises
    # its reads; where numba's threading layer is not thread safe (workqueue), Mapper runs
    # here, after the figures, so that no two threads launch parallel kernels at once.
    kind = cfg["output"]["trajectory"]
    last = traj[good[-1]] if cfg["output"]["figures"] else None
    ids = [store.read(i, ["ids"])["ids"] for i in good]

    extra = ["label", "nucleus"] + (["core"] if tracked.core_atoms is not None else [])

    def labelled():
        for t, i in enumerate(progress_bar(good, progress, desc="write trajectory", unit="frame")):
            frame = traj[i]
            cols = {"label": labels[t].astype(np.int64),
                    "nucleus": nuc.atom_nuclei[t].astype(np.int64)}
            if "core" in extra:
                cols["core"] = tracked.core_of(t, frame.n_atoms).astype(np.int64)
            yield frame.with_columns(**cols)

    def background():
        if kind == "lammps":     # the input trajectory with label and nucleus columns, for OVITO
            write_lammps_dump(stage / "labelled.dump.gz", labelled(), columns=extra)
        elif kind != "none":
            write_extxyz(stage / "labelled.extxyz", list(labelled()), columns=extra)

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crystopo-output")
    jobs = [pool.submit(background)]
    mapper_here = cfg["mapper"]["enabled"] and mapper_job is None and not threadsafe_numba()
    if mapper_job is not None:
        jobs.append(mapper_job)
    elif cfg["mapper"]["enabled"] and not mapper_here:
        jobs.append(pool.submit(_mapper_graph, store, ids, labels, cfg))
    pool.shutdown(wait=False)
    try:
        summary = _summary(good, store, ids, labels, info, tracked, cfg, features, skipped, timing,
                           crystal, name_of, nuc)
        figures, scan_figure = {}, None
        if cfg["output"]["figures"]:
            figures = make_figures(stage, labels, ids, good, tracked, last, names=names)
            scan_figure = make_scan_figure(stage, summary.get("structure_scan"))
            figures.update(make_route_figure(stage, summary["routes"]))
        if getattr(traj, "compressed", False):
            jobs[0].result()     # a gzip input is read in one pass: the writer's, then PTM's
        ptm = _ptm_composition(traj, good, labels, name_of, cfg["output"], progress,
                               at_hand={} if last is None else {good[-1]: last})
        graph = None
        if mapper_here:
            graph = _mapper_graph(store, ids, labels, cfg)
        elif len(jobs) > 1:
            graph = jobs[1].result()
        if graph is not None:
            summary["mapper"] = {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
                                 "points": sum(len(x) for x in ids),
                                 "sampled": graph.graph.get("sampled"),
                                 "n_microstates": graph.graph.get("n_microstates")}
            if cfg["output"]["figures"]:
                figures.update(_mapper_figures(stage, graph, ids, labels, names))
    except BaseException:
        wait(jobs)               # nothing left writing into the staging folder
        raise
    jobs[0].result()             # the writer's error, if any, is raised here
    if ptm is not None:
        summary["ptm_composition"] = ptm
    if cfg["output"]["report"]:
        write_report(stage / "report.html", summary, communities, figures, cfg, tracked,
                     scan_figure=scan_figure)
    (stage / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (stage / "config.toml").write_text(config_to_toml(cfg))
    # all outputs exist: swap them in as one set (the previous set, files this run did not
    # produce included, goes as a whole; a kill during the swap leaves the previous set)
    commit_outputs(out, replace_all=True)
    # the per-atom table comes back in memory for small runs only (it is on disk anyway)
    labels_df = pd.read_parquet(out / "labels.parquet") if n_rows <= 5_000_000 else None
    return AnalysisResult(out, list(good), labels_df, communities, events, nuclei, summary,
                          sorted(skipped), cfg)


def _critical_size(mfpt, largest):
    """``mfpt``'s n*, None where there is no fit, or the sizes fitted do not determine it
    (:attr:`~multilayer.tracking.MFPTResult.determined`), or it lies outside the sizes
    observed."""
    if mfpt is None:
        return None
    crit = float(mfpt.n_star)
    if not mfpt.determined:
        logger.warning("MFPT critical size %.1f +- %.1f is not determined by the sizes fitted "
                       "(%d-%d atoms; the first passages still rise at the last): not reported",
                       crit, mfpt.n_star_err, int(np.min(mfpt.n)), int(np.max(mfpt.n)))
        return None
    if not 0 < crit < float(np.max(largest)):
        logger.warning("MFPT critical size %.1f lies outside the observed nucleus sizes: not reported",
                       crit)
        return None
    return crit


def _summary(good, store, ids, labels, info, tracked, cfg, features, skipped, timing,
             crystal, name_of, nuc) -> dict:
    """The run's summary, routes included (the Mapper graph's line is added by the caller)."""
    onset = _onset_frame(tracked.onset, good)
    onset_tw = _onset_frame(tracked.onset_tenwolde, good)
    core = tracked.core
    mfpt = tracked.mfpt
    # the MFPT critical size of the crystalline core's nuclei (the default), else the
    # crystal-like ones'; with the core, the crystal-like nuclei's beside it (halo included)
    crit_mfpt = _critical_size(mfpt, nuc.largest if core is None else core)
    crit_halo = (None if core is None
                 else _critical_size(tracked.mfpt_crystal_like, nuc.largest))
    # the headline, with the core: the size at which half its tracked nuclei grow (on nine
    # LAMMPS runs 0.93-1.88 times brute-force shooting, where the MFPT of the largest nucleus
    # is off by 2-5 times on four; benchmarks/LABELS.md, stops 44-47)
    growth = tracked.growth
    crit = (crit_mfpt if core is None
            else (round(float(growth.n_star), 1) if growth is not None and growth.determined
                  else None))
    summary = {
        "frames": len(good), "first_frame": int(good[0]), "last_frame": int(good[-1]),
        "atoms_first_frame": int(store.meta(good[0])["n_atoms"]),
        "nn_distance": float(features.nn_distance_), "n_communities": info["n_communities"],
        "network_nodes": info["nodes"], "crystal_communities": sorted(int(c) for c in crystal),
        "structures": {int(c): str(name_of[c]) for c in
                       sorted({int(v) for lab in labels for v in np.unique(lab)})},
        "crystal_structures": sorted(str(name_of[c]) for c in crystal),
        "crystal_rule": tracked.crystal_rule,
        "onset_frame": onset, "onset_frame_tenwolde": onset_tw,
        "onset_frame_core": None if core is None else _onset_frame(tracked.onset_core, good),
        # and when the core's largest nucleus passes its critical size for good (where the
        # growth probability determines n*): the hovering near the barrier lies in between
        "committed_frame_core": _onset_frame(tracked.committed_core, good),
        # the same past the ends of n*'s 16-84 % interval: how far n*'s spread moves it
        "committed_frame_core_range": _committed_range(tracked, good),
        # the first frame already holds a nucleus that persists and grows: nucleation came
        # before the analysed frames (a seeded run, or frames chosen after the onset)
        "onset_at_start": bool(getattr(tracked.onset, "at_start", False)),
        "onset_core_at_start": None if core is None else
        bool(getattr(tracked.onset_core, "at_start", False)),
        # the onsets at thresholds 10 % below and above: how sharply the series defines it
        "onset_frame_spread": [_onset_frame(o, good) for o in onset_spread(nuc.largest, tracked.onset)],
        "onset_frame_core_spread": None if core is None else
        [_onset_frame(o, good) for o in onset_spread(core, tracked.onset_core)],
        # how much the largest nucleus grows after the onset (last frames over the onset's):
        # below MIN_ONSET_GROWTH the frames show no sustained growth (warned below)
        "onset_growth": _rounded(onset_growth(nuc.largest, tracked.onset)),
        "onset_growth_core": None if core is None else
        _rounded(onset_growth(core, tracked.onset_core)),
        "largest_nucleus_final": int(nuc.largest[-1]),
        "largest_core_final": None if core is None else int(core[-1]),
        # the crystal-like atoms' share (halo included) and the crystalline core's, the
        # per-atom crystal call (on the LJ and metal runs of the validation suite the first is
        # 2-3 times PTM's crystalline fraction, the second close to it)
        "crystalline_fraction_final": float(nuc.crystalline_fraction[-1]),
        "core_fraction_final": None if core is None else _core_fraction(tracked, labels[-1]),
        "critical_size": crit,
        "critical_size_method": "MFPT" if core is None else "growth probability",
        # the bootstrap's 16-84 % interval of the growth-probability n* (over the nuclei)
        "critical_size_range": (None if core is None or crit is None else
                                [round(float(growth.n_star_low), 1),
                                 round(float(growth.n_star_high), 1)]),
        "grown_size": None if growth is None else int(growth.n_grown),
        # how many of the core's nuclei grew to it: more than one, and the MFPT of the largest
        # nucleus is outside its regime (one nucleation event in the frames)
        "grown_nuclei": None if growth is None else int(growth.n_grew),
        "critical_size_mfpt": crit_mfpt,
        "critical_size_crystal_like": crit_halo,
        "zeldovich": None if crit_mfpt is None else float(mfpt.z),
        "skipped_frames": {int(k): v for k, v in skipped.items()},
        "timing_s": {k: round(v, 2) for k, v in timing.items()},
        "leiden": {k: info[k] for k in ("resolution", "n_nodes", "n_intra_edges", "build_s", "leiden_s")},
    }
    for warning in (growth_warning(summary), critical_size_warning(summary)):
        if warning:
            logger.warning(warning)
    if info.get("scan"):    # [labels] scan: one dict per resolution, the chosen one marked
        summary["structure_scan"] = info["scan"]
    # what the final crystal's atoms were before, and the moves between structures, by name
    summary["routes"] = route_summary(labels, ids, sorted(crystal), name_of,
                                      seed=cfg["labels"]["seed"])
    return summary


def _committed_range(tracked, good) -> list | None:
    """The core's frame of commitment at the low and high ends of its n*'s bootstrap
    interval (each None where the nucleus never stays past it); None without one."""
    committed, growth = tracked.committed_core, tracked.growth
    if committed is None or growth is None:
        return None
    ends = (growth.n_star_low, growth.n_star_high)
    if not all(np.isfinite(v) and v > 0 for v in ends):
        return None
    return [_onset_frame(critical_onset(tracked.core, float(v)), good) for v in ends]


def _core_fraction(tracked, last_labels) -> float:
    """The crystalline core's share of the last frame's atoms."""
    n = len(last_labels)
    return float(tracked.core_of(len(tracked.core_atoms) - 1, n).sum() / max(n, 1))


def _rounded(x, digits=2):
    return None if x is None else round(float(x), digits)


#: the two critical sizes (growth probability, MFPT) disagree past this ratio: warn
CRITICAL_SIZE_RATIO = 1.5


def critical_size_warning(summary) -> str | None:
    """The warning for a run whose two critical sizes of the crystalline core disagree by
    more than :data:`CRITICAL_SIZE_RATIO` where both are in their regime (on six held-out
    LAMMPS runs the growth probability is up to 1.9 times, the MFPT up to 4.7 times off
    brute-force shooting: benchmarks/LABELS.md, stops 44 and 45); None when they agree, one
    is missing, or several nuclei grew (:func:`mfpt_outside_regime`: the disagreement then
    says nothing of the growth probability -- it fired on four of those six runs, each
    time with the MFPT the one off)."""
    a, b = summary.get("critical_size"), summary.get("critical_size_mfpt")
    if summary.get("largest_core_final") is None or a is None or b is None or min(a, b) <= 0:
        return None
    if mfpt_outside_regime(summary):
        return None
    if max(a, b) / min(a, b) <= CRITICAL_SIZE_RATIO:
        return None
    return (f"the critical size is uncertain on this run: {a:.1f} atoms where half the "
            f"crystalline core's nuclei grow, {b:.1f} by the MFPT of its largest nucleus "
            f"({max(a, b) / min(a, b):.1f} times apart); measure it by shooting "
            f"(benchmarks/bench_committor.py) before relying on it")


def growth_warning(summary) -> str | None:
    """The warning for an onset that no sustained growth follows (its nuclei grow less than
    :data:`~multilayer.tracking.MIN_ONSET_GROWTH`-fold from the onset to the last frames):
    of the headline onset, the crystalline core's where the core is on; None when it grows."""
    core = summary.get("largest_core_final") is not None
    g = summary.get("onset_growth_core" if core else "onset_growth")
    if g is None or g >= MIN_ONSET_GROWTH:
        return None
    frame = summary["onset_frame_core"] if core else summary["onset_frame"]
    final = summary["largest_core_final"] if core else summary["largest_nucleus_final"]
    what = "the crystalline core's" if core else "the"
    return (f"after the onset (frame {frame}) {what} largest nucleus grows only {g:.1f}-fold "
            f"(to {final} atoms in the last frame; under {MIN_ONSET_GROWTH:g}-fold): "
            f"{NO_GROWTH}; analyse a longer part of the run")


_PTM_WHOLE = 65_536     # frames up to this size are typed whole; larger ones by a sample
_PTM_PER_NAME = 1_000   # of this many atoms per structure name (all of a rarer one)


def _ptm_composition(traj, good, labels, name_of, oc, progress=False, at_hand=None) -> dict | None:
    """Per structure name: the fractions of its (frame, atom) rows that OVITO's PTM (fcc, hcp,
    bcc and ico templates, RMSD cutoff 0.1) calls other, fcc, hcp, bcc, ico -- the check a
    physicist reads beside each name.  None when switched off or OVITO is not installed.

    Frames are spread over the run (the last one always) up to ``ptm_atoms`` rows.  A frame
    of more than 65,536 atoms is typed on a seeded random sample of 1,000 atoms of each name
    (exactly: :func:`ovito_structures` with ``atoms=``), weighted by the name's rows.
    ``at_hand``: frames already read, by input index (the last one, read for the figures)."""
    if oc["ptm"] == "off":
        return None
    try:
        from ..learn.trusted import TRUSTED_METHODS, ovito_structures

        import ovito  # noqa: F401
    except ImportError:
        if oc["ptm"] == "on":
            raise ImportError("[output] ptm = \"on\" needs OVITO: pip install ovito") from None
        return None
    sizes = np.array([len(lab) for lab in labels])
    step = max(1, int(np.ceil(sizes.sum() / oc["ptm_atoms"])))
    picks = list(range(len(good) - 1, -1, -step))[::-1]   # the last frame always
    kinds = ("other", "fcc", "hcp", "bcc", "ico")
    ptm_names = TRUSTED_METHODS["ptm"]
    kind = np.array([kinds.index(ptm_names[k]) if ptm_names[k] in kinds else 0
                     for k in range(max(ptm_names) + 1)])
    names = sorted({str(name_of[v]) for t in picks for v in np.unique(labels[t])})
    counts = {n: np.zeros(len(kinds)) for n in names}
    rows = dict.fromkeys(names, 0)
    typed = 0
    for t in progress_bar(picks, progress, desc="PTM", unit="frame"):
        lab_names = name_of[labels[t]]
        sample = len(lab_names) > _PTM_WHOLE
        rng = np.random.default_rng(int(good[t]))
        groups = {str(n): np.flatnonzero(lab_names == n) for n in np.unique(lab_names)}
        n_rows = {n: len(idx) for n, idx in groups.items()}
        if sample:
            groups = {n: np.sort(rng.choice(idx, min(len(idx), _PTM_PER_NAME), replace=False))
                      for n, idx in groups.items()}
            atoms = np.sort(np.concatenate(list(groups.values())))
        frame = (at_hand or {}).get(good[t])
        frame = traj[good[t]] if frame is None else frame
        types = ovito_structures(frame, "ptm", structures=["fcc", "hcp", "bcc", "ico"],
                                 atoms=atoms if sample else None)
        typed += len(types)
        for n, idx in groups.items():
            k = kind[types[np.searchsorted(atoms, idx)] if sample else types[idx]]
            counts[n] += np.bincount(k, minlength=len(kinds)) * (n_rows[n] / len(idx))
            rows[n] += n_rows[n]
    out = {"frames": [int(good[t]) for t in picks], "structures": {
        n: {k: round(float(c[i]) / max(1.0, float(c.sum())), 4) for i, k in enumerate(kinds)} | {
            "atom_frames": rows[n]} for n, c in counts.items()}}
    if typed < sum(rows.values()):
        out["typed"] = typed
    return out


def _dense_labels(ids, labels):
    atom_ids = unique_sorted(np.concatenate(ids))
    dense = np.full((len(ids), len(atom_ids)), -1, dtype=np.int64)
    for t, (i, lab) in enumerate(zip(ids, labels)):
        dense[t, np.searchsorted(atom_ids, i)] = lab
    return atom_ids, dense


def _mapper_graph(store, ids, labels, cfg):
    """Mapper graph (lens: time and the first principal component) of a sample of all frames."""
    from ..network.mapper import mapper

    mc = cfg["mapper"]
    try:
        return mapper(store.view(cfg["features"]["sets"]), ids, cover=(mc["n_intervals"], mc["overlap"]),
                      feature_sets=cfg["features"]["sets"], max_points=mc["sample"],
                      n_microstates=mc["n_microstates"], min_points=3, seed=mc["seed"])
    except (ValueError, RuntimeError) as err:
        logger.warning("Mapper skipped: %s", err)
        return None


def _named_composition(nuclei: pd.DataFrame, name_of) -> pd.DataFrame:
    """The nuclei table's composition by structure name: ``community_<c>`` (atoms of
    community c in the nucleus) becomes ``atoms_<name>``, e.g. ``atoms_fcc``."""
    prefix = "community_"
    ids = [int(c[len(prefix):]) for c in nuclei.columns if c.startswith(prefix)]
    return nuclei.rename(columns={f"{prefix}{c}": f"atoms_{n}"
                                  for c, n in zip(ids, legend_names(ids, name_of))})


def _named_events(events: pd.DataFrame, name_of) -> pd.DataFrame:
    """The community events with the structures' names beside their ids:
    ``from_structures`` and ``to_structures`` after ``to_communities``."""
    if events is None or "from_communities" not in events:
        return events
    events = events.copy()
    at = events.columns.get_loc("to_communities") + 1
    for k, side in enumerate(("from", "to")):
        events.insert(at + k, f"{side}_structures",
                      [legend_names(cs, name_of) for cs in events[f"{side}_communities"]])
    return events


def _mapper_figures(folder, graph, ids, labels, names=None) -> dict:
    import matplotlib.pyplot as plt

    from ..network.plot import plot_mapper

    atom_ids, dense = _dense_labels(ids, labels)
    out = {}
    for how, name in (("community", "mapper_community.png"), ("time", "mapper_time.png")):
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        try:
            plot_mapper(graph, color_by=how, labels=dense, atom_ids=atom_ids, names=names,
                        ax=ax)
            fig.tight_layout()
            fig.savefig(folder / name)
            out[ax.get_title()] = name
        except Exception as err:  # a figure must not sink the analysis
            logger.warning("Mapper figure skipped: %s", err)
        finally:
            plt.close(fig)
    return out


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: list(map(int, v)) if isinstance(v, (list, tuple, np.ndarray)) else v)
    return df


def _community_table(labels_df: pd.DataFrame, crystal) -> pd.DataFrame:
    """Per community and frame: size, fraction, mean q6, solid-like fraction, crystal-like flag."""
    g = labels_df.groupby(["frame", "label", "structure"])
    table = g.agg(size=("id", "size"), q6_mean=("q6_avg", "mean"),
                  solid_fraction=("solid_tenwolde", "mean")).reset_index()
    totals = labels_df.groupby("frame")["id"].size()
    table["fraction"] = table["size"] / table["frame"].map(totals).to_numpy()
    table["crystal_like"] = table["label"].isin(list(crystal))
    return table
