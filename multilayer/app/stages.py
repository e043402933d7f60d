"""The cluster, track and output stages of :func:`multilayer.analyze`."""
from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pandas as pd

from descriptors import NeighborList, neighbor_list, write_extxyz, write_lammps_dump
from descriptors.arrays import unique_sorted

from ..network.frameloop import FrameLoop
from ..network.leiden import default_resolution, leiden_nodes
from ..network.graph import build_network
from ..network.progress import progress_bar
from ..network.stacking import assign_crystal_types, assign_stacking, crystal_type_model
from ..network.structures import (CRYSTAL_NAMES, consensus_names, describe_references,
                                  fit_structures, label_sets)
from ..network.time_average import TimeAveragedFrames
from ..tracking.lifecycle import community_events, crystal_communities, resolve_criterion
from ..tracking.nuclei import NucleiAccumulator, mfpt_fit, nucleation_onset
from ..tracking.routes import route_summary
from .config import ConfigError, config_to_toml
from .outputs import commit_outputs, staging_dir
from .report import make_figures, make_route_figure, make_scan_figure, write_report
from .result import AnalysisResult, ClusterResult, TrackResult

logger = logging.getLogger(__name__)


def _merge_small(labels: list, min_fraction: float) -> list:
    """Renumber communities 0..C-1 by decreasing size; those holding less than ``min_fraction``
    of all atom-frames are pooled into one last community (C-1), so tiny fragments do not
    clutter tables and plots."""
    allv = np.concatenate(labels)
    ids, counts = np.unique(allv[allv >= 0], return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    keep = counts[np.argsort(-counts, kind="stable")] >= min_fraction * len(allv)
    lut = np.full(int(allv.max()) + 2 if len(allv) else 1, -1, dtype=np.int64)
    n_keep = int(keep.sum())
    lut[order[keep]] = np.arange(n_keep)
    lut[order[~keep]] = n_keep  # one "rare" community for all tiny ones
    return [np.where(lab >= 0, lut[lab], -1) for lab in labels]


def microstate_consistent_labels(net, node_labels) -> list:
    """Per-atom labels in which every microstate keeps one community in all frames.

    The multislice Leiden partition assigns each (frame, microstate) node a community; a
    microstate's label is the community holding most of its atoms over all frames (ties: the
    lower id).  Atoms then inherit their microstate's label, so one local structure carries
    one meaning throughout the run, and small crystal-like populations in early frames are
    not absorbed into the liquid of that frame.
    """
    node_labels = np.asarray(node_labels, dtype=np.int64)
    weight = np.zeros((len(net.codebook), int(node_labels.max()) + 1))
    np.add.at(weight, (net.node_index, node_labels), net.node_weight)
    micro = weight.argmax(axis=1)
    return [micro[np.asarray(a, dtype=np.int64)] for a in net.assignments]


def cluster_stage(store, cfg: dict, features=None, *, progress: bool = False) -> ClusterResult:
    """Structure labels of all stored frames.

    ``[labels] method = "anchored"`` (default): the microstate network anchored in reference
    environments (:func:`multilayer.network.structures.fit_structures`), named structures;
    ``"multislice"``: the identity-coupled multislice network and Leiden of earlier versions.
    Returns per-frame label arrays (rows as stored) and an info dict (``names`` when named).
    """
    if cfg["labels"]["method"] == "anchored":
        return _anchored_stage(store, cfg, features, progress=progress)
    net_cfg, lei = cfg["network"], cfg["leiden"]
    sets = cfg["features"]["sets"]
    n_total = sum(store.meta(i)["n_atoms"] for i in store.frames)
    nodes = net_cfg["nodes"]
    if nodes == "auto":
        nodes = "atoms" if n_total <= net_cfg["max_atom_nodes"] else "microstates"
    ids = [store.read(i, ["ids"])["ids"] for i in store.frames]
    t = time.perf_counter()
    feats = store.view(sets)
    ta = cfg["time_average"]
    if ta["window"] > 1:  # moving average over frames, matched by atom id (thermal noise)
        feats = TimeAveragedFrames(feats, ids, ta["window"], centered=ta["centered"])
    net = build_network(feats, ids, nodes=nodes, k=net_cfg["k"], feature_sets=sets,
                        n_microstates=net_cfg["n_microstates"], seed=net_cfg["seed"],
                        progress=progress)
    t_build = time.perf_counter() - t
    node_labels = leiden_nodes(net, objective=lei["objective"], resolution=lei["resolution"],
                               interslice_weight=lei["interslice_weight"], seed=lei["seed"])
    if nodes == "microstates" and lei["labels"] == "microstate":
        labels = microstate_consistent_labels(net, node_labels)
    else:
        lab = net.atom_labels(node_labels)
        labels = [net.frame_labels(lab, t) for t in range(net.n_frames)]
    labels = _merge_small(labels, lei["min_community"])
    info = {"nodes": nodes, "n_nodes": int(net.n_nodes), "n_intra_edges": int(len(net.intra_edges)),
            "n_inter_edges": int(len(net.inter_edges)), "build_s": t_build,
            "leiden_s": time.perf_counter() - t - t_build,
            "resolution": lei["resolution"] if lei["resolution"] is not None
            else default_resolution(net, lei["objective"]),
            "n_communities": int(max(int(x.max()) for x in labels) + 1)}
    logger.info("network: %d %s nodes, %d communities", info["n_nodes"], nodes, info["n_communities"])
    return ClusterResult(labels, info)


def _anchored_stage(store, cfg, features, *, progress=False) -> ClusterResult:
    lc = cfg["labels"]
    sets = label_sets(lc["sets"], cfg["features"]["sets"])
    ids = [store.read(i, ["ids"])["ids"] for i in store.frames]
    for a, b, fa, fb in zip(ids[:-1], ids[1:], store.frames[:-1], store.frames[1:]):
        if a is not b and not np.array_equal(a, b) and not np.intersect1d(a, b).size:
            logger.warning("frames %d and %d share no atom ids: analysed as independent "
                           "snapshots (no inter-layer links between them)", fa, fb)
    t = time.perf_counter()
    refs = describe_references(features, lc["references"], sets=sets,
                               noise=tuple(lc["reference_noise"]),
                               vacancies=tuple(lc["reference_vacancies"]), seed=lc["seed"])
    t_ref = time.perf_counter() - t
    feats = store.view(sets)
    ta = cfg["time_average"]
    if ta["window"] > 1:  # moving average over frames, matched by atom id (thermal noise)
        feats = TimeAveragedFrames(feats, ids, ta["window"], centered=ta["centered"])
    fits = [fit_structures(feats, ids, refs, feature_sets=sets,
                           n_microstates=lc["n_microstates"], n_components=lc["n_components"],
                           resolution=lc["resolution"], flow_weight=lc["flow_weight"],
                           seed=lc["seed"] + k, progress=progress)
            for k in range(lc["n_seeds"])]
    model, labels = fits[0]
    names = list(model.names)
    if len(fits) > 1:       # each atom takes the name most codebooks give it
        for m, _ in fits[1:]:
            names += [n for n in m.names if n not in names]
        index = {n: i for i, n in enumerate(names)}
        lookup = np.vectorize(index.__getitem__, otypes=[np.int64])
        labels = [lookup(v) for v in consensus_names(fits)]
    crystal_types = _crystal_types(store, features, lc, names, labels)
    if crystal_types is not None:
        labels = crystal_types
    present = sorted({int(v) for lab in labels for v in np.unique(lab)})
    info = {"nodes": "microstates", "method": "anchored", "names": names,
            "n_seeds": lc["n_seeds"],
            "present": present, "n_nodes": model.info["n_microstates"],
            "n_intra_edges": model.info["n_edges"], "n_inter_edges": 0,
            "build_s": t_ref, "leiden_s": time.perf_counter() - t - t_ref,
            "resolution": lc["resolution"], "n_communities": len(present),
            "reference_share": {model.names[i]: dict(zip(model.kinds, map(float, row)))
                                for i, row in enumerate(model.reference_share) if row.sum() > 0}}
    logger.info("structures: %s", ", ".join(f"{names[i]}" for i in present))
    if lc["scan"]:      # how many structures, with evidence: the labels above are unchanged
        info["scan"], info["scan_s"] = _structure_scan(feats, ids, refs, sets, lc)
    return ClusterResult(labels, info)


def _crystal_types(store, features, lc, names, labels):
    """The labels with each fcc or hcp atom's stacking decided atom by atom: ``[labels]
    crystal_types = "cna"`` from the common neighbours of its first-shell bonds (``"cna-strict"``:
    an fcc or hcp atom whose bonds do not vote is named liquid), ``"local"``
    from its own q_l (None: kept as they are, with the reason logged)."""
    how = lc["crystal_types"]
    if how == "communities":
        return None
    key = "ql_local" if how == "local" else "stacking"
    if key not in store.names(store.frames[0]):
        logger.warning("crystal types from the structures' names: the feature store holds no "
                       "%s (the Steinhardt set is off, or the store predates it)", key)
        return None
    arrays = (store.read(i, [key])[key] for i in store.frames)
    if how != "local":
        support = lc["cna_support"] if how == "cna" and lc["cna_support"] else None
        inherit = how == "cna" and lc["cna_inherit"]
        shells = None
        keys = ("shell_offsets", "shell_indices")
        if support is not None and "liquid" not in names:
            logger.warning("[labels] cna_support = %d not applied: no liquid reference to "
                           "name the unsupported atoms", support)
            support = None
        if (support is not None or inherit) and \
                not all(k in store.names(store.frames[0]) for k in keys):
            logger.warning("[labels] cna_support and cna_inherit not applied: the feature "
                           "store holds no first-shell lists (it predates them)")
            support, inherit = None, False
        if support is not None or inherit:
            shells = ((a[keys[0]], a[keys[1]]) for a in (store.read(i, keys)
                                                         for i in store.frames))
        return assign_stacking(labels, arrays, names, strict=how == "cna-strict",
                               support=support, shells=shells, inherit=inherit)
    model = crystal_type_model(features, noise=tuple(lc["reference_noise"]), seed=lc["seed"])
    if model is None:
        return None
    return assign_crystal_types(labels, arrays, names, model)


def _structure_scan(feats, ids, refs, sets, lc) -> tuple[list, float]:
    """``[labels] scan``: the resolution scan (the module's resolutions and the configured one;
    seeds seed, seed + 1, seed + 2) as table rows, the chosen one marked; and its seconds."""
    from ..network.structure_scan import SCAN_RESOLUTIONS, scan_resolutions, scan_table

    t = time.perf_counter()
    scan = scan_resolutions(feats, ids, refs, resolutions=(*SCAN_RESOLUTIONS, lc["resolution"]),
                            seeds=[lc["seed"] + k for k in range(3)], feature_sets=sets,
                            n_microstates=lc["n_microstates"], n_components=lc["n_components"],
                            flow_weight=lc["flow_weight"])
    table = scan_table(scan)
    chosen = next(r for r in table if r["chosen"])
    logger.info("structure scan: %d structures at resolution %g (stability %.3f); the labels "
                "use resolution %g", chosen["n_communities"], chosen["resolution"],
                chosen["stability"], lc["resolution"])
    return table, time.perf_counter() - t


def user_crystal(given, labels, names=None) -> np.ndarray:
    """``[tracking] crystal`` (community ids or structure names) as ids of communities the
    clustering found; a ConfigError naming what exists otherwise."""
    found = sorted({int(v) for lab in labels for v in np.unique(lab)})
    name_of = {c: (names[c] if names is not None and c < len(names) else f"community-{c}")
               for c in found}
    by_name = {}
    for c, n in name_of.items():
        by_name.setdefault(n, []).append(c)
    ids, missing = [], []
    for g in given:
        if isinstance(g, str):
            ids += by_name.get(g, [])
            missing += [] if g in by_name else [g]
        elif int(g) in name_of:
            ids.append(int(g))
        else:
            missing.append(g)
    if missing:
        have = ", ".join(f"{c} = {n}" for c, n in name_of.items())
        raise ConfigError(f"[tracking] crystal = {list(given)}: {missing} name no community of "
                          f"this run, which found {have}; the features and labels are kept: fix "
                          f"the value and rerun with --resume")
    return np.array(sorted(set(ids)), dtype=np.int64)


def track_stage(traj, good, store, labels, cfg, features, *, progress=False,
                names=None) -> TrackResult:
    """Crystal-like communities, nuclei tracked over frames, events, onset and MFPT.

    One pass over the frames: each frame's first-shell neighbour list is built once and
    shared by the crystal-like nuclei and the ten Wolde nuclei.
    """
    tr = cfg["tracking"]
    ids = [store.read(i, ["ids"])["ids"] for i in good]
    if tr["crystal"] == "auto" and names is not None:
        crystal = np.array([i for i, n in enumerate(names) if n in CRYSTAL_NAMES], dtype=np.int64)
        description = f"structures named {', '.join(CRYSTAL_NAMES)} (nearest reference crystals)"
    elif tr["crystal"] == "auto":
        crit_comms = crystal_communities(labels, ids)
        crystal = crit_comms.communities
        description = crit_comms.description
    else:
        crystal = user_crystal(tr["crystal"], labels, names)
        description = f"user-given crystal-like communities {crystal.tolist()}"
    labels = [np.asarray(x, dtype=np.int64) for x in labels]
    crit = resolve_criterion(labels, crystal, None)
    nuc_acc = NucleiAccumulator(crit, min_size=tr["min_nucleus"])
    tw_acc = NucleiAccumulator(resolve_criterion(None, "auto", True), min_size=tr["min_nucleus"],
                               keep_atoms=False)
    position = {i: t for t, i in enumerate(good)}

    def nuclei(i, frame, _):
        t = position[i]
        nl = _first_shell(store, i, frame, features.shell_cut_)
        nuc_acc.add(frame, nl, labels=labels[t])
        tw_acc.add(frame, nl, mask=store.read(i, ["solid"])["solid"].astype(bool))

    loop = FrameLoop(traj, good, progress=progress, desc="nuclei", skip=())
    for _ in loop.run(nuclei):
        pass
    nuc, tw = nuc_acc.result(), tw_acc.result()
    events = community_events(labels, ids, threshold=tr["min_overlap"])
    if len(events):
        events = events.assign(frame=np.asarray(good)[events["frame"].to_numpy()])
    onset = nucleation_onset(nuc.largest, tr["onset_threshold"])
    try:
        # one run: fit up to twice the nucleus size at onset (beyond it, growth, not nucleation,
        # sets the first-passage times)
        o = getattr(onset, "frame", None)
        n_max = int(2 * nuc.largest[o]) if o is not None and nuc.largest[o] > 0 else None
        mfpt = mfpt_fit(nuc.largest, np.asarray(good, dtype=float), volume=float(np.mean(nuc.volumes)),
                        n_max=n_max)
    except (ValueError, RuntimeError) as err:
        logger.warning("MFPT fit skipped: %s", err)
        mfpt = None
    onset_tw = nucleation_onset(tw.largest, tr["onset_threshold"])
    return TrackResult(nuclei=nuc, events=events, onset=onset, mfpt=mfpt, crystal=crystal,
                       crystal_rule=description, tenwolde=tw, onset_tenwolde=onset_tw)


def _threadsafe_numba() -> bool:
    """Whether two threads may launch numba's parallel kernels at once (the OpenMP and TBB
    layers; not workqueue).  Asked after the feature stage has run parallel kernels."""
    import numba

    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:           # no parallel kernel has run yet: the layer is not chosen
        return False


def _first_shell(store, i, frame, r_cut):
    """Frame ``i``'s first-shell neighbour list: the feature stage's, kept in the store (its
    vectors recomputed: 0.05 s for 264,000 atoms), else a new search (0.5 s)."""
    keys = ("shell_offsets", "shell_indices")
    if all(k in store.names(i) for k in keys):
        arr = store.read(i, keys)
        nl = NeighborList.from_indices(frame, arr[keys[0]], arr[keys[1]], r_cut)
        if nl is not None:
            return nl
    return neighbor_list(frame, r_cut=r_cut)


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
    if not cfg["mapper"]["enabled"] or not _threadsafe_numba():
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
    events = tracked.events
    nuclei = nuc.table.copy()
    if len(nuclei):
        nuclei["frame"] = np.asarray(good)[nuclei["frame"].to_numpy()]
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

    def labelled():
        for t, i in enumerate(progress_bar(good, progress, desc="write trajectory", unit="frame")):
            yield traj[i].with_columns(label=labels[t].astype(np.int64),
                                       nucleus=nuc.atom_nuclei[t].astype(np.int64))

    def background():
        if kind == "lammps":     # the input trajectory with label and nucleus columns, for OVITO
            write_lammps_dump(stage / "labelled.dump.gz", labelled(), columns=["label", "nucleus"])
        elif kind != "none":
            write_extxyz(stage / "labelled.extxyz", list(labelled()), columns=["label", "nucleus"])

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crystopo-output")
    jobs = [pool.submit(background)]
    mapper_here = cfg["mapper"]["enabled"] and mapper_job is None and not _threadsafe_numba()
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
        ptm = _ptm_composition(traj, good, labels, name_of, cfg["output"], progress)
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
                figures.update(_mapper_figures(stage, graph, ids, labels))
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


def _summary(good, store, ids, labels, info, tracked, cfg, features, skipped, timing,
             crystal, name_of, nuc) -> dict:
    """The run's summary, routes included (the Mapper graph's line is added by the caller)."""
    onset = _onset_frame(tracked.onset, good)
    onset_tw = _onset_frame(tracked.onset_tenwolde, good)
    mfpt = tracked.mfpt
    crit = None if mfpt is None else float(mfpt.n_star)
    if crit is not None and not (0 < crit < float(nuc.largest.max())):
        logger.warning("MFPT critical size %.1f lies outside the observed nucleus sizes: not reported",
                       crit)
        crit = None
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
        "largest_nucleus_final": int(nuc.largest[-1]),
        "crystalline_fraction_final": float(nuc.crystalline_fraction[-1]),
        "critical_size": crit,
        "zeldovich": None if crit is None else float(mfpt.z),
        "skipped_frames": {int(k): v for k, v in skipped.items()},
        "timing_s": {k: round(v, 2) for k, v in timing.items()},
        "leiden": {k: info[k] for k in ("resolution", "n_nodes", "n_intra_edges", "build_s", "leiden_s")},
    }
    if info.get("scan"):    # [labels] scan: one dict per resolution, the chosen one marked
        summary["structure_scan"] = info["scan"]
    # what the final crystal's atoms were before, and the moves between structures, by name
    summary["routes"] = route_summary(labels, ids, sorted(crystal), name_of,
                                      seed=cfg["labels"]["seed"])
    return summary


_PTM_WHOLE = 65_536     # frames up to this size are typed whole; larger ones by a sample
_PTM_PER_NAME = 1_000   # of this many atoms per structure name (all of a rarer one)


def _ptm_composition(traj, good, labels, name_of, oc, progress=False) -> dict | None:
    """Per structure name: the fractions of its (frame, atom) rows that OVITO's PTM (fcc, hcp,
    bcc and ico templates, RMSD cutoff 0.1) calls other, fcc, hcp, bcc, ico -- the check a
    physicist reads beside each name.  None when switched off or OVITO is not installed.

    Frames are spread over the run (the last one always) up to ``ptm_atoms`` rows.  A frame
    of more than 65,536 atoms is typed on a seeded random sample of 1,000 atoms of each name
    (exactly: :func:`ovito_structures` with ``atoms=``), weighted by the name's rows."""
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
        types = ovito_structures(traj[good[t]], "ptm", structures=["fcc", "hcp", "bcc", "ico"],
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


def _mapper_figures(folder, graph, ids, labels) -> dict:
    import matplotlib.pyplot as plt

    from ..network.plot import plot_mapper

    atom_ids, dense = _dense_labels(ids, labels)
    out = {}
    for how, name in (("community", "mapper_community.png"), ("time", "mapper_time.png")):
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        try:
            plot_mapper(graph, color_by=how, labels=dense, atom_ids=atom_ids, ax=ax)
            fig.tight_layout()
            fig.savefig(folder / name)
            out[f"Mapper graph coloured by {how}"] = name
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
