"""The cluster and track stages of :func:`multilayer.analyze` (the output stage: `output_stage.py`)."""
from __future__ import annotations

import logging
import time

import numpy as np

from descriptors import NeighborList, neighbor_list

from ..network.frameloop import FrameLoop
from ..network.leiden import default_resolution, leiden_nodes
from ..network.graph import build_network
from ..network.stacking import assign_crystal_types, assign_stacking, crystal_type_model
from ..network.structures import (CRYSTAL_NAMES, consensus_names, describe_references,
                                  fit_structures, label_sets)
from ..network.time_average import TimeAveragedFrames
from ..tracking.lifecycle import community_events, crystal_communities, resolve_criterion
from ..tracking.onset import AT_START, StartPersistence, critical_onset
from ..tracking.growth import growth_probability
from ..tracking.mfpt import mfpt_after_onset
from ..tracking.nuclei import (NucleiAccumulator, crystalline_core,
                               nucleation_onset)
from .config import ConfigError, core_max_distortion, core_outside_tolerance
from .result import ClusterResult, TrackResult

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


def start_references(features, cfg: dict):
    """The reference environments of ``[labels] method = "anchored"`` described in a thread
    (a Future for :func:`cluster_stage`'s ``references``), started once the feature pipeline
    is fitted: they need nothing of the trajectory but its cutoffs, so they are made beside
    the feature stage (0.5 s) instead of at the start of the clustering.  None where the
    labels are not anchored or numba's threading layer does not let two threads launch
    parallel kernels (then :func:`cluster_stage` makes them itself)."""
    from concurrent.futures import ThreadPoolExecutor

    from .output_stage import threadsafe_numba

    if cfg["labels"]["method"] != "anchored" or not threadsafe_numba():
        return None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crystopo-references")
    try:
        return pool.submit(_references, features, cfg)
    finally:
        pool.shutdown(wait=False)


def _references(features, cfg):
    lc = cfg["labels"]
    return describe_references(features, lc["references"],
                               sets=label_sets(lc["sets"], cfg["features"]["sets"]),
                               noise=tuple(lc["reference_noise"]),
                               vacancies=tuple(lc["reference_vacancies"]), seed=lc["seed"])


def cluster_stage(store, cfg: dict, features=None, *, progress: bool = False,
                  references=None) -> ClusterResult:
    """Structure labels of all stored frames.

    ``[labels] method = "anchored"`` (default): the microstate network anchored in reference
    environments (:func:`multilayer.network.structures.fit_structures`), named structures;
    ``"multislice"``: the identity-coupled multislice network and Leiden of earlier versions.
    Returns per-frame label arrays (rows as stored) and an info dict (``names`` when named).
    """
    if cfg["labels"]["method"] == "anchored":
        return _anchored_stage(store, cfg, features, progress=progress, references=references)
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


def _anchored_stage(store, cfg, features, *, progress=False, references=None) -> ClusterResult:
    lc = cfg["labels"]
    sets = label_sets(lc["sets"], cfg["features"]["sets"])
    ids = [store.read(i, ["ids"])["ids"] for i in store.frames]
    for a, b, fa, fb in zip(ids[:-1], ids[1:], store.frames[:-1], store.frames[1:]):
        if a is not b and not np.array_equal(a, b) and not np.intersect1d(a, b).size:
            logger.warning("frames %d and %d share no atom ids: analysed as independent "
                           "snapshots (no inter-layer links between them)", fa, fb)
    t = time.perf_counter()
    refs = references.result() if references is not None else _references(features, cfg)
    t_ref = time.perf_counter() - t
    feats = store.view(sets)
    ta = cfg["time_average"]
    if ta["window"] > 1:  # moving average over frames, matched by atom id (thermal noise)
        feats = TimeAveragedFrames(feats, ids, ta["window"], centered=ta["centered"])
    fits = [fit_structures(feats, ids, refs, feature_sets=sets,
                           n_microstates=lc["n_microstates"], n_components=lc["n_components"],
                           resolution=lc["resolution"], flow_weight=lc["flow_weight"],
                           assign=lc["assign"], interpolate=lc["interpolate"],
                           novelty=lc["novelty"], seed=lc["seed"] + k, progress=progress)
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
                               support=support, shells=shells, inherit=inherit,
                               inherit_rounds=lc["cna_inherit_rounds"] or None)
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
                            flow_weight=lc["flow_weight"], assign=lc["assign"],
                            interpolate=lc["interpolate"], novelty=lc["novelty"])
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
    tol = tr["core_tolerance"]
    core_largest = [] if tol < 12 else None
    core_atoms = [] if tol < 12 else None        # per frame, bit-packed (1 bit per atom)
    # the core's nuclei tracked too, for the fate of each (the growth-probability n*)
    core_acc = (NucleiAccumulator(resolve_criterion(None, "auto", True),
                                  min_size=tr["min_nucleus"], keep_atoms=False)
                if tol < 12 else None)
    position = {i: t for t, i in enumerate(good)}
    # does the first frame's largest nucleus persist (a crystal before the first frame)?  The
    # core's onset asks the crystal-like nuclei: the same crystal, whose atoms keep their
    # averaged labels, where a core's atoms flicker in and out of it (copper at 800 K: half of
    # the first core is in the largest core in 72 % of the frames, of the nucleus in 96 %)
    persist = {"nuclei": StartPersistence(), "tenwolde": StartPersistence()}

    def nuclei(i, frame, _):
        t = position[i]
        nl = _first_shell(store, i, frame, features.shell_cut_)
        persist["nuclei"].add(frame.ids, nuc_acc.add(frame, nl, labels=labels[t]) == 0)
        tw = tw_acc.add(frame, nl, mask=store.read(i, ["solid"])["solid"].astype(bool))
        persist["tenwolde"].add(frame.ids, tw == 0)
        if core_largest is not None:      # sizes only: the core's onset, beside the nuclei's
            core = crystalline_core(np.isin(labels[t], crit.communities), nl, tolerance=tol,
                                    max_distortion=core_max_distortion(cfg),
                                    outside_tolerance=core_outside_tolerance(cfg), frame=frame)
            cn = core_acc.add(frame, nl, mask=core)
            core_largest.append(int((cn == 0).sum()))
            core_atoms.append(np.packbits(core))

    loop = FrameLoop(traj, good, progress=progress, desc="nuclei", skip=(), prefetch=True)
    for _ in loop.run(nuclei):
        pass
    nuc, tw = nuc_acc.result(), tw_acc.result()
    events = community_events(labels, ids, threshold=tr["min_overlap"])
    if len(events):
        events = events.assign(frame=np.asarray(good)[events["frame"].to_numpy()])

    def onset_of(largest, which):
        return nucleation_onset(largest, tr["onset_threshold"], persistence=persist[which].values)

    onset = onset_of(nuc.largest, "nuclei")
    volume = float(np.mean(nuc.volumes))
    mfpt_halo = _mfpt(nuc.largest, onset, good, volume, "crystal-like nuclei")
    onset_tw = onset_of(tw.largest, "tenwolde")
    core = None if core_largest is None else np.asarray(core_largest, dtype=np.int64)
    onset_core = None if core is None else onset_of(core, "nuclei")
    # the critical size of the crystal itself: the core's nuclei where it is tracked (the
    # crystal-like ones carry a halo of liquid atoms: on the validation suite's LAMMPS runs
    # their n* is 0.7-5.8 times that of PTM's clusters, median 2.5, the core's 0.6-1.7
    # times, median 1.2; benchmarks/LABELS.md, stop 43)
    mfpt = (mfpt_halo if core is None
            else _mfpt(core, onset_core, good, volume, "crystalline core"))
    growth = (None if core is None
              else _growth(core_acc.result().table, grown_size(tr, onset_core), len(good),
                           cfg["labels"]["seed"]))
    # beside the onset (the first persistent cluster, above the liquid's fluctuations): when
    # the core's largest nucleus passes its critical size for good
    committed = (None if core is None
                 else committed_onset(core, onset_core, growth, tr["onset_threshold"]))
    return TrackResult(nuclei=nuc, events=events, onset=onset, mfpt=mfpt, crystal=crystal,
                       crystal_rule=description, tenwolde=tw, onset_tenwolde=onset_tw,
                       core=core, onset_core=onset_core, core_atoms=core_atoms,
                       mfpt_crystal_like=None if core is None else mfpt_halo, growth=growth,
                       committed_core=committed)


def committed_onset(largest, first, growth, threshold=None):
    """When the crystalline core's largest nucleus passes its critical size for good:
    :func:`~multilayer.tracking.critical_onset` at the growth-probability n* where that is
    determined; None where it is not, where the onset ``first`` is at the first frame
    (nucleation before the frames: no barrier is crossed in them) or where ``[tracking]
    onset_threshold`` fixes the threshold.

    Not the headline onset: on eight held-out LAMMPS runs the core's and PTM's onsets, each
    read at its own n* this way, fall within 3 frames of each other on four, against five by
    the liquid's threshold -- each run's two n* are noisy estimates (benchmarks/LABELS.md,
    stop 46).
    """
    if (first is None or getattr(first, "at_start", False) or threshold is not None
            or growth is None or not growth.determined):
        return None
    return critical_onset(largest, float(growth.n_star))


#: ``[tracking] grown_size`` when not given: at least this many atoms
GROWN_SIZE = 50


def grown_size(tracking: dict, onset) -> int:
    """The size at which a core nucleus has grown: ``[tracking] grown_size``, else
    :data:`GROWN_SIZE` or four times the onset threshold (twice the liquid's typical largest
    cluster) where that is larger -- well past what fluctuations reach.  On LAMMPS runs whose
    critical size brute-force shooting measured (benchmarks/bench_committor.py), PTM's n* is
    15-28 atoms, and of the core nuclei that reached 52 atoms 1 in 171 dissolved afterwards.
    A larger grown size is no safer: more of the growing nuclei merge or outlast the frames
    before they reach it, are censored, and n* comes out high (benchmarks/LABELS.md,
    stop 45)."""
    if tracking.get("grown_size") is not None:
        return int(tracking["grown_size"])
    threshold = getattr(onset, "threshold", None)
    return max(GROWN_SIZE, int(np.ceil(4 * threshold)) if threshold else 0)


def _growth(table, n_grown, n_frames, seed):
    """:func:`~multilayer.tracking.growth_probability` of the core's tracked nuclei, with a
    warning where it does not determine n*."""
    if table.empty:
        logger.warning("growth-probability critical size skipped: no core nuclei")
        return None
    result = growth_probability(table, n_grown, last_frame=n_frames - 1, seed=seed)
    if not result.determined:
        logger.warning("growth-probability critical size not determined (%d core nuclei grew "
                       "to %d atoms, %d dissolved, %d of the grown fell back; n* %.1f): not "
                       "reported", result.n_grew, result.n_grown, result.n_dissolved,
                       result.n_fell_back, result.n_star)
    return result


def _mfpt(largest, onset, good, volume, what):
    """:func:`~multilayer.tracking.mfpt_after_onset` of one largest-nucleus series, with a
    warning where it is skipped (onset at the first frame) or fails."""
    if onset is not None and onset.at_start:
        logger.warning("MFPT fit of the %s skipped: %s", what, AT_START)
    try:
        return mfpt_after_onset(largest, onset, np.asarray(good, dtype=float), volume=volume)
    except (ValueError, RuntimeError) as err:
        logger.warning("MFPT fit of the %s skipped: %s", what, err)
        return None


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
