"""Structure labels on LAMMPS runs crystopo was not tuned on, beside PTM and simple baselines.

Data: the validation suite of ``benchmarks/validation_data.py`` (LAMMPS Lennard-Jones runs
made by ``descriptors.md``, cached outside the repository; never the bundled demo):
homogeneous nucleation at several state points and seeds, one phase per frame (bcc, fcc,
hcp, liquid; shared atom ids), fcc | hcp | bcc | liquid slabs.

Per dataset and method it prints:

* ``acc``: accuracy of the structure names against the truth (phases, slabs; ``ico`` and
  ``other-*`` count as liquid), baselines matched to the truth by the Hungarian method;
  ``acc_bulk`` / ``acc_iface`` (slabs): over the atoms whose first shell lies in their own
  slab / spans two slabs (``Dataset.interface``), and ``iface``: the interface's share;
* ``rec``/``prec``: recall and precision of crystal-like (fcc/hcp/bcc) against
  PTM-crystalline atoms over the growth frames (PTM crystalline fraction >= 1 %);
* ``fcc/hcp``: among atoms PTM calls fcc or hcp and the method calls fcc or hcp, the
  fraction where both agree;
* ``range``: agreement of the labels of the last half of the frames between an analysis of
  all frames and one of the last half only (``range_detail``: where they differ,
  :func:`range_detail`); ``seed``: between seeds 0 and 1;
* ``types``: the same among atoms both call fcc, hcp or bcc (PTM's type against the name);
* ``composition`` (nucleation runs): PTM's classes by name over the last quarter of the
  frames, the crystal-like fraction of the first eighth, and each name by PTM on the quenched
  frames where ``bench_label_truth.py`` has made them (:func:`composition`);
* ``onset``: frame where the largest crystal-like nucleus passes 20 atoms for good, the same
  for the nuclei of its crystalline core (``onset_core``, analyze's ``[tracking]
  core_tolerance``) and PTM's; ``onset_rule``: the three by analyze's own rule
  (``nucleation_onset``: its threshold from the liquid's fluctuations, >= 13 atoms); ``onset_med3``: the
  core's and PTM's with each largest-nucleus series first smoothed by a running median of
  three frames (:func:`median3`: one frame's flicker of PTM's largest cluster below 20 atoms
  then no longer moves PTM's onset); ``onset_ptm_at``: PTM's onset at 16-24 atoms instead of
  20 (how sharply the reference itself defines it); ``onset_core_scaled``: the core's onset
  at 20 atoms times ``core_ptm_ratio`` (its atoms over PTM's in the growth frames), which
  compares the two at the same size scale -- a diagnostic that uses PTM; ``onset_growth``:
  how much each of the three grows after its ``onset_rule`` onset
  (:func:`multilayer.tracking.onset_growth`; ``crystopo analyze`` warns under 3-fold);
  ``mfpt_n_star``: the MFPT critical size of each of the three series as ``crystopo
  analyze`` fits it (:func:`multilayer.tracking.mfpt_after_onset`; analyze reports the
  core's); ``growth_n_star``: the committor critical size of the core's and PTM's nuclei,
  tracked through the frames (:func:`multilayer.tracking.growth_probability`: the size at
  which half the nuclei seen there grow to ``label_onsets.GROWN`` atoms, 50 and 100),
  ``[n*, 16th, 84th percentile, determined, grew, dissolved, grew and then dissolved]``;
  ``largest``: the largest nucleus of every frame for the crystal-like atoms, the core and
  PTM; ``onset_critical``: ``crystopo analyze``'s frame of commitment (``committed_frame_core``)
  for the core and for PTM alike -- the frame after which the largest nucleus stays past the
  series' own growth-probability n* (:func:`label_onsets.critical_onsets`).

Methods: ``anchored`` (crystopo's labels: :func:`multilayer.network.structures.fit_structures`),
``gmm`` (pooled Gaussian mixture, BIC over 2..6 components, on the averaged q4..q12; its
components named by their majority PTM class -- an oracle the unsupervised method does not
get), ``multislice`` (the previous ``analyze`` default: microstate network, modularity 0.5,
omega 0.1, crystal-like by growth), ``soap`` (the descriptor-space route the field uses:
SOAP -> PCA -> UMAP -> HDBSCAN, :func:`method_soap`, SOAP cached per frame; clusters named by
their majority PTM class, the same oracle as ``gmm``), ``ptm`` (OVITO's PTM itself, scored
against the truth of the phases, slabs and seed: the per-atom standard on the same frames).

``--both``: the Steinhardt set is q_l beside averaged q_l (default
``LABEL_LOCAL_STEINHARDT``; ``--no-both`` for averaged q_l only); ``gmm`` always sees the
averaged columns.
``--feature-sets steinhardt`` skips the slow Neighbors Map and persistence sets, which the
default labels do not use.

    python benchmarks/bench_labels.py [--quick] [--only NAME] [--methods anchored,gmm]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

PTM_NAMES = {0: "liquid", 1: "fcc", 2: "hcp", 3: "bcc", 4: "liquid"}
from multilayer.network.structures import (  # noqa: E402
    LABEL_LOCAL_STEINHARDT,
    LABEL_SETS,
    STRUCTURE_DEFAULTS,
)

from multilayer.app.config import DEFAULTS as _ANALYZE  # noqa: E402
from multilayer.app.config import core_max_distortion, core_outside_tolerance  # noqa: E402
from label_onsets import (COUNT_TOLERANCE, core_scores, critical_onsets,  # noqa: E402
                          growth_n_star, onset_diagnostics, onset_of)
from label_scores import (KINDS, PTM_CLASSES, _as_phase, _crystal,  # noqa: E402,F401
                          composition, range_detail, score)

ANALYZE_LABELS = _ANALYZE["labels"]          # analyze's [labels] (crystal_types, cna_support)
ANALYZE = _ANALYZE
NOISE = tuple(STRUCTURE_DEFAULTS["reference_noise"])
VACANCIES = tuple(STRUCTURE_DEFAULTS["reference_vacancies"])


class Lazy:
    def __init__(self, fn, n):
        self.fn, self.n = fn, n

    def __len__(self):
        return self.n

    def __getitem__(self, t):
        if t < 0 or t >= self.n:
            raise IndexError(t)
        return self.fn(t)


def features_of(ds, sets, cache: Path, progress=True, both=False, w=()):
    """Per-frame feature dicts (cached as .npy per frame), ids, and the fitted FeatureSet;
    ``w``: ``[steinhardt] w``, the l of the ŵ_l columns after the q_l (none by default)."""
    import pickle

    from multilayer.network.featureset import FeatureSet

    # the dataset's build time is in the key: a rebuilt dataset never meets stale features
    key = hashlib.sha256(json.dumps([ds.name, sorted(sets)] + (["both"] if both else [])
                                    + [ds.meta.get("built")]
                                    + ([f"w={list(w)}"] if w else [])).encode()).hexdigest()[:10]
    folder = cache / f"features_{ds.name}_{key}"
    folder.mkdir(parents=True, exist_ok=True)
    traj = ds.trajectory()
    fs_file = folder / "featureset.pkl"
    if fs_file.exists():
        fs = pickle.loads(fs_file.read_bytes())
    else:
        fs = FeatureSet(sets, steinhardt_both=both,
                        config={"steinhardt": {"w": list(w)}} if w else None).fit(traj[0])
        fs_file.write_bytes(pickle.dumps(fs))
    t0 = time.perf_counter()
    for t in range(len(traj)):
        done = folder / f"f{t:04d}.npz"
        if done.exists():
            continue
        fr = traj[t]
        out = fs.transform(fr)
        np.savez(done, ids=fr.ids, q6=out.q6, solid=out.solid, **out.sets)
        if progress and t % 10 == 0:
            print(f"    features {ds.name} frame {t}/{len(traj)} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)

    def load(t):
        with np.load(folder / f"f{t:04d}.npz") as z:
            return {k: z[k] for k in z.files}
    return Lazy(load, len(traj)), fs


def truth_names(ds, t):
    names = ds.truth_names
    tr = np.asarray(ds.truth(t))
    return np.array([names[int(i)] if isinstance(names, (list, tuple)) else names[str(int(i))]
                     for i in tr]) if names is not None else None


def method_anchored(feats, fs, frames, sets, seed=0, window=1, n_seeds=1, **kw):
    """Names per frame; ``n_seeds`` > 1: the per-atom majority of the fits with seeds
    ``seed * n_seeds ... seed * n_seeds + n_seeds - 1`` (``consensus_names``)."""
    from multilayer.network.structures import (
        consensus_names,
        describe_references,
        fit_structures,
    )
    from multilayer.network.time_average import TimeAveragedFrames

    sub = Lazy(lambda t: {s: feats[frames[t]][s] for s in sets}, len(frames))
    ids = [feats[f]["ids"] for f in frames]
    if window > 1:
        sub = TimeAveragedFrames(sub, ids, window, centered=True)
    fits = []
    for k in range(n_seeds):
        s = seed * n_seeds + k if n_seeds > 1 else seed
        refs = describe_references(fs, sets=sets, seed=s, noise=NOISE, vacancies=VACANCIES)
        fits.append(fit_structures(sub, ids, refs, feature_sets=sets, seed=s, **kw))
    if n_seeds == 1:
        model, labels = fits[0]
        names = np.array(model.names)
        return [names[lab] for lab in labels], model
    return consensus_names(fits), fits[0][0]


def local_stacking(ds, names, frames, cache):
    """``[labels] crystal_types = "local"`` applied to per-frame structure ``names``: atoms
    named fcc or hcp take the stacking their own q_l give (the q_l columns of the cached
    ``--both`` features, the ones ``FrameFeatures.ql_local`` holds)."""
    from multilayer.network.stacking import assign_crystal_types, crystal_type_model
    from multilayer.network.structures import STRUCTURE_NAMES

    both, _ = features_of(ds, ["steinhardt"], cache, progress=False, both=True)
    _, fs = features_of(ds, ["steinhardt"], cache, progress=False)
    model = crystal_type_model(fs, noise=NOISE)
    order = list(STRUCTURE_NAMES) + sorted({str(n) for x in names for n in np.unique(x)}
                                           - set(STRUCTURE_NAMES))
    index = {n: i for i, n in enumerate(order)}
    labels = []
    for x in names:
        kinds, inverse = np.unique(x, return_inverse=True)
        labels.append(np.array([index[str(k)] for k in kinds])[inverse])
    ql = [both[f]["steinhardt"][:, :5] for f in frames]
    return [np.array(order)[lab] for lab in assign_crystal_types(labels, ql, order, model)]


def cna_stacking(ds, names, frames, fs, strict=False, support=None, inherit=False,
                 inherit_rounds=ANALYZE_LABELS.get("cna_inherit_rounds", 1)):
    """``[labels] crystal_types = "cna"`` applied to per-frame structure ``names``: atoms named
    fcc or hcp take the stacking vote of their first-shell bonds (descriptors.cna) where it
    decides, from the same first-shell list as ``analyze`` (rows in atom-id order); ``strict``
    (``"cna-strict"``): where it abstains, they are named liquid; ``support``
    (``[labels] cna_support``): named liquid unless that many first-shell neighbours are
    core atoms; ``inherit`` (``[labels] cna_inherit``): an abstaining atom that stays takes
    its voting neighbours' majority stacking, spread in ``inherit_rounds`` rounds (default
    analyze's; None: until none changes; 1: the voting neighbours only, until stop 48)
    (:func:`multilayer.network.stacking.assign_stacking`)."""
    from descriptors import neighbor_list
    from descriptors.cna import stacking
    from multilayer.network.stacking import assign_stacking

    traj = ds.trajectory()
    vocab = sorted(set(np.concatenate([np.unique(x) for x in names]).tolist())
                   | {"liquid", "fcc", "hcp"})
    code = {n: k for k, n in enumerate(vocab)}
    out = []
    for x, t in zip(names, frames):
        frame = traj[t]
        if not np.all(np.diff(frame.ids) > 0):
            raise ValueError(f"{ds.name} frame {t}: rows not in atom-id order")
        nl = neighbor_list(frame, r_cut=fs.shell_cut_)
        lab = np.array([code[n] for n in x], dtype=np.int64)
        new = assign_stacking([lab], [stacking(nl, bcc=True)], vocab, strict=strict,
                              support=support, shells=[(nl.offsets, nl.indices)],
                              inherit=inherit, inherit_rounds=inherit_rounds)[0]
        out.append(np.asarray(vocab, dtype=object)[new])
    return out


def method_gmm(feats, frames, ptm, seed=0, n_w=0):
    from sklearn.mixture import GaussianMixture

    # the baseline is on the averaged q4..q12: the last five columns when the Steinhardt set
    # holds q_l and averaged q_l side by side (--both), before the n_w ŵ_l columns
    x = [feats[f]["steinhardt"][:, :feats[f]["steinhardt"].shape[1] - n_w][:, -5:]
         for f in frames]
    pooled = np.concatenate(x)
    rng = np.random.default_rng(seed)
    sample = pooled[rng.choice(len(pooled), min(len(pooled), 40000), replace=False)]
    best = None
    for k in range(2, 7):
        g = GaussianMixture(k, random_state=seed, n_init=2).fit(sample)
        bic = g.bic(sample)
        if best is None or bic < best[0]:
            best = (bic, g)
    g = best[1]
    return _oracle_names([g.predict(xi) for xi in x], ptm)


def soap_of(ds, cache: Path, progress=True):
    """Per-frame SOAP power spectra (:func:`descriptors.soap.soap_features`, crystopo's
    defaults: r_cut 1.5 d, sigma 0.125 d, n_max 8, l_max 6, ``d`` the first-shell distance of
    frame 0), cached as float16 .npy per frame (the route's input; 252 columns)."""
    from descriptors import first_shell_distance
    from descriptors.soap import SOAP_DEFAULTS, soap_features

    key = hashlib.sha256(json.dumps([ds.name, "soap", SOAP_DEFAULTS, ds.meta.get("built")],
                                    sort_keys=True).encode()).hexdigest()[:10]
    folder = cache / f"soap_{ds.name}_{key}"
    folder.mkdir(parents=True, exist_ok=True)
    traj = ds.trajectory()
    d = None
    t0 = time.perf_counter()
    for t in range(len(traj)):
        done = folder / f"s{t:04d}.npy"
        if done.exists():
            continue
        if d is None:
            d = first_shell_distance(traj[0])
        x = soap_features(traj[t], nn_distance=d).astype(np.float16)
        tmp = folder / f"s{t:04d}.tmp.npy"
        np.save(tmp, x)
        tmp.replace(done)                       # never a half-written frame
        if progress and t % 10 == 0:
            print(f"    SOAP {ds.name} frame {t}/{len(traj)} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    return Lazy(lambda t: np.load(folder / f"s{t:04d}.npy").astype(np.float32), len(traj))


def method_soap(soap, frames, ptm, seed=0, sample_size=20000, min_cluster_size=50):
    """The route the field uses (../shared/papers/003): SOAP -> standardised, 30 principal
    axes (pooled over all frames, :func:`multilayer.network.features.fit_transform_stats`) ->
    UMAP in 2-d on ``sample_size`` rows drawn from all frames (crystopo's
    :mod:`multilayer.learn.embedding` settings) -> HDBSCAN on the sample's embedding (noise is
    one more cluster); every other atom takes the cluster of its nearest sampled row in the
    30-d PCA space (an out-of-sample UMAP transform of 10^6 rows would take longer than
    everything else).  Clusters are named by their majority PTM class, the same oracle naming
    as ``gmm``."""
    from sklearn.cluster import HDBSCAN
    from sklearn.neighbors import KNeighborsClassifier

    from multilayer.learn.embedding import _fit
    from multilayer.network.features import as_feature_frames, fit_transform_stats

    sub = Lazy(lambda t: soap[frames[t]], len(frames))
    ff = as_feature_frames(sub, [np.arange(len(p)) for p in ptm])
    scaler, sample, _ = fit_transform_stats(ff, n_components=30, sample_size=sample_size,
                                            seed=seed)
    _, coords = _fit("umap", sample, 2, 15, seed)
    lab = HDBSCAN(min_cluster_size=min_cluster_size).fit_predict(coords)
    print(f"    soap: {lab.max() + 1} HDBSCAN clusters, {np.mean(lab < 0):.1%} of the sample "
          "noise", flush=True)
    lab = np.where(lab < 0, lab.max() + 1, lab)
    knn = KNeighborsClassifier(1).fit(sample, lab)
    comp = [knn.predict(scaler(sub[t])) for t in range(len(frames))]
    return _oracle_names(comp, ptm)


def _oracle_names(comp, ptm):
    """Each cluster named by the majority PTM class of its atoms (an oracle the unsupervised
    baselines do not get)."""
    allc, allp = np.concatenate(comp), np.concatenate(ptm)
    name = {}
    for c in np.unique(allc):
        vals, cnt = np.unique(allp[allc == c], return_counts=True)
        name[c] = PTM_NAMES.get(int(vals[cnt.argmax()]), "liquid")
    return [np.array([name[c] for c in ci]) for ci in comp]


def method_multislice(feats, frames, sets, seed=0):
    from multilayer.network.graph import build_network
    from multilayer.network.leiden import leiden_nodes
    from multilayer.tracking.lifecycle import crystal_communities

    sub = Lazy(lambda t: {s: feats[frames[t]][s] for s in sets}, len(frames))
    ids = [feats[f]["ids"] for f in frames]
    net = build_network(sub, ids, nodes="microstates", k=12, feature_sets=sets,
                        n_microstates=400, seed=seed)
    node = leiden_nodes(net, objective="modularity", resolution=0.5, interslice_weight=0.1,
                        seed=seed)
    weight = np.zeros((len(net.codebook), int(node.max()) + 1))
    np.add.at(weight, (net.node_index, node), net.node_weight)
    micro = weight.argmax(axis=1)
    labels = [micro[np.asarray(a, dtype=np.int64)] for a in net.assignments]
    crystal = set(crystal_communities(labels, ids).communities.tolist())
    return [np.where(np.isin(lab, list(crystal)), "crystal", "liquid") for lab in labels]


def method_ptm(ptm):
    """OVITO's PTM itself as a labelling (fcc, hcp, bcc, ico; everything else ``other``),
    scored like the others against the truth of the phases, slabs and seed: what the field's
    per-atom standard gets on the same frames (against PTM itself, rec / prec are 1)."""
    from multilayer.learn.trusted import TRUSTED_METHODS

    names = TRUSTED_METHODS["ptm"]
    table = np.array([names[k] if names[k] in ("fcc", "hcp", "bcc", "ico") else "other"
                      for k in range(max(names) + 1)])
    return [table[p] for p in ptm]


def _outside_tolerance(text: str):
    """``--core-outside-tolerance``: an integer in [0, 12], or 'none' / 'false'."""
    if text.strip().lower() in ("none", "false"):
        return "none"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 12:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 12] or 'none', got {text!r}")
    return value


def main(argv=None) -> int:
    global NOISE, VACANCIES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", action="append")
    ap.add_argument("--methods", default="anchored,gmm,multislice")
    ap.add_argument("--sets", default=",".join(STRUCTURE_DEFAULTS["sets"] or LABEL_SETS))
    ap.add_argument("--feature-sets", default="neighbors_map,persistence,steinhardt",
                    help="sets computed (and cached)")
    ap.add_argument("--resolution", type=float, default=STRUCTURE_DEFAULTS["resolution"])
    ap.add_argument("--assign", choices=("harmonic", "leiden"), default=STRUCTURE_DEFAULTS["assign"],
                    help="microstates to structures: harmonic (default) or Leiden's partition")
    ap.add_argument("--interpolate", action=argparse.BooleanOptionalAction,
                    default=STRUCTURE_DEFAULTS["interpolate"],
                    help="[labels] interpolate: an atom's kind from its two nearest microstates")
    ap.add_argument("--flow-weight", type=float, default=STRUCTURE_DEFAULTS["flow_weight"])
    ap.add_argument("--n-microstates", type=int, default=STRUCTURE_DEFAULTS["n_microstates"],
                    help="anchored: [labels] n_microstates (codebook size)")
    ap.add_argument("--no-stability", action="store_true")
    ap.add_argument("--both", action=argparse.BooleanOptionalAction,
                    default=LABEL_LOCAL_STEINHARDT,
                    help="Steinhardt set = q_l and averaged q_l (default: "
                         "LABEL_LOCAL_STEINHARDT); --no-both: averaged q_l only")
    ap.add_argument("--steinhardt-w", default="",
                    help="[steinhardt] w: the l of the ŵ_l columns added to the Steinhardt set, "
                         "comma-separated (e.g. 4,6; default none; features cached apart)")
    ap.add_argument("--window", type=int, default=1, help="time averaging window (frames)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="anchored: per-atom majority over this many codebook seeds")
    ap.add_argument("--crystal-types", default="communities",
                    choices=["communities", "local", "cna", "cna-strict"],
                    help="anchored: [labels] crystal_types (local: fcc/hcp from own q_l; cna: "
                         "from the common neighbours of the first-shell bonds)")
    ap.add_argument("--cna-support", type=int, default=ANALYZE_LABELS["cna_support"],
                    help="cna: [labels] cna_support (an undecided fcc/hcp atom stays crystal-like "
                         "with at least this many core first-shell neighbours; 0: all stay)")
    ap.add_argument("--cna-inherit", action=argparse.BooleanOptionalAction,
                    default=ANALYZE_LABELS.get("cna_inherit", False),
                    help="cna: [labels] cna_inherit (an undecided fcc/hcp atom that stays takes "
                         "its voting neighbours' majority stacking; default: analyze's)")
    ap.add_argument("--inherit-rounds", type=int,
                    default=ANALYZE_LABELS.get("cna_inherit_rounds", 1),
                    help="cna: [labels] cna_inherit_rounds, the rounds over which inherited "
                         "names spread (default: analyze's; 1: the voting neighbours only, "
                         "until stop 48; 0: until none changes)")
    ap.add_argument("--onset", action="store_true")
    ap.add_argument("--core-max-distortion", type=float, action="append", default=[],
                    help="with --onset: also score the core with this [tracking] "
                         "core_max_distortion (repeatable; core_rec/core_prec/onset_core@VALUE)")
    ap.add_argument("--core-tolerance", type=int,
                    help="with --onset: the core's [tracking] core_tolerance (default analyze's)")
    ap.add_argument("--core-outside-tolerance", default=None, type=_outside_tolerance,
                    help="with --onset: the core's [tracking] core_outside_tolerance, an integer "
                         "or 'none' (crystal-like atoms only, stop 36); default analyze's")
    ap.add_argument("--json", help="write the table here")
    ap.add_argument("--reference-vacancies", default=",".join(map(str, VACANCIES)),
                    help="[labels] reference_vacancies, comma-separated")
    ap.add_argument("--noise", default=",".join(map(str, NOISE)),
                    help="reference crystal noises (x d_nn)")
    args = ap.parse_args(argv)
    core_tol = (ANALYZE["tracking"]["core_tolerance"] if args.core_tolerance is None
                else args.core_tolerance)
    outside = "analyze" if args.core_outside_tolerance is None else args.core_outside_tolerance
    outside = None if outside == "none" else outside
    NOISE = tuple(float(v) for v in args.noise.split(","))
    VACANCIES = tuple(float(v) for v in args.reference_vacancies.split(","))
    from validation_suite import cache_dir, load_suite

    suite = load_suite(quick=args.quick)
    cache = cache_dir(args.quick)
    sets = args.sets.split(",")
    methods = args.methods.split(",")
    rows = []
    for name, ds in sorted(suite.items()):
        if args.only and name not in args.only:
            continue
        print(f"== {name} ({ds.kind}, {ds.n_atoms} atoms, {ds.n_frames} frames)", flush=True)
        w_l = [int(v) for v in args.steinhardt_w.split(",") if v]
        feats, fs = features_of(ds, args.feature_sets.split(","), cache, both=args.both, w=w_l)
        frames = list(range(ds.n_frames))
        ptm = [ds.ptm(t) for t in frames]
        truth = [truth_names(ds, t) for t in frames] if ds.has_truth else None
        iface = ([ds.interface(t, fs.shell_cut_) for t in frames] if ds.kind == "slabs"
                 else None)

        def stack(names, frames):
            if args.crystal_types == "local":
                return local_stacking(ds, names, frames, cache)
            if args.crystal_types in ("cna", "cna-strict"):
                strict = args.crystal_types == "cna-strict"     # cna_support is cna's alone
                return cna_stacking(ds, names, frames, fs, strict=strict,
                                    support=None if strict else args.cna_support,
                                    inherit=args.cna_inherit,
                                    inherit_rounds=args.inherit_rounds or None)
            return names

        for meth in methods:
            t0 = time.perf_counter()
            if meth == "anchored":
                names, model = method_anchored(feats, fs, frames, sets, resolution=args.resolution, assign=args.assign, interpolate=args.interpolate,
                                               flow_weight=args.flow_weight, n_microstates=args.n_microstates, window=args.window,
                                               n_seeds=args.seeds)
                names = stack(names, frames)
            elif meth == "gmm":
                names = method_gmm(feats, frames, ptm, n_w=len(w_l))
            elif meth == "soap":
                names = method_soap(soap_of(ds, cache), frames, ptm)
            elif meth == "ptm":
                names = method_ptm(ptm)
            elif meth == "multislice":
                names = method_multislice(feats, frames, args.feature_sets.split(","))
            else:
                raise SystemExit(f"unknown method {meth}")
            res = {"dataset": name, "method": meth, "s": round(time.perf_counter() - t0, 1)}
            res.update(score(ds, frames, names, ptm, truth, iface))
            if meth == "anchored" and not args.no_stability:
                half = frames[len(frames) // 2:]
                names_h, _ = method_anchored(feats, fs, half, sets, resolution=args.resolution, assign=args.assign, interpolate=args.interpolate,
                                             flow_weight=args.flow_weight, n_microstates=args.n_microstates, window=args.window,
                                             n_seeds=args.seeds)
                a = np.concatenate(names[len(frames) // 2:])
                b = np.concatenate(stack(names_h, half))
                res["range"] = float(np.mean(a == b))
                res["range_detail"] = range_detail(
                    a, b, np.concatenate([ptm[t] for t in half]))
                names_s, _ = method_anchored(feats, fs, frames, sets, seed=1,
                                             resolution=args.resolution, assign=args.assign, interpolate=args.interpolate,
                                             flow_weight=args.flow_weight, n_microstates=args.n_microstates, window=args.window,
                                             n_seeds=args.seeds)
                res["seed"] = float(np.mean(np.concatenate(names)
                                            == np.concatenate(stack(names_s, frames))))
            if args.onset and ds.kind in ("nucleation", "growth"):
                masks = [_crystal(n) for n in names]
                po, pp = [], []
                o, lo = onset_of(ds, frames, masks, persistence=po)
                cores, tables = [], []
                oc, lc = onset_of(ds, frames, masks, core=True, keep=cores, tolerance=core_tol,
                                  max_distortion=core_max_distortion(ANALYZE),
                                  outside_tolerance=outside, tables=tables)
                pc = [np.isin(p, [1, 2, 3]) for p in ptm]
                grow = [t for t in range(len(frames)) if pc[t].mean() >= 0.01]
                res.update(core_scores(cores, pc, grow))
                for v in args.core_max_distortion:
                    more = []
                    res[f"onset_core@{v}"], _ = onset_of(ds, frames, masks, core=True, keep=more,
                                                         tolerance=core_tol,
                                                         max_distortion=v,
                                                         outside_tolerance=outside)
                    res.update(core_scores(more, pc, grow, f"@{v}"))
                op, lp = onset_of(ds, frames, [np.isin(p, [1, 2, 3]) for p in ptm],
                                  persistence=pp, tables=tables)
                res["growth_n_star"] = {k: growth_n_star(tab, len(frames))
                                        for k, tab in zip(("core", "ptm"), tables)}
                res["onset"], res["onset_core"], res["onset_ptm"] = o, oc, op
                # analyze's frame of commitment (past each series' own growth-probability
                # n*) for the core and for PTM
                res["onset_critical"] = critical_onsets((lc, lp), tables, frames, (po, pp))
                # the core counted as PTM counts (a subset of it: the crystal-like atoms
                # with at most COUNT_TOLERANCE bonds lacking the signature)
                lcount = None
                out_tol = core_outside_tolerance(ANALYZE) if outside == "analyze" else outside
                if core_tol > COUNT_TOLERANCE and (out_tol is None or out_tol <= COUNT_TOLERANCE):
                    _, lcount = onset_of(ds, frames, masks, core=True, tolerance=COUNT_TOLERANCE,
                                         max_distortion=core_max_distortion(ANALYZE),
                                         outside_tolerance=outside)
                res.update(onset_diagnostics(lo, lc, lp, frames, cores, pc, grow, (po, pp),
                                             counted=lcount))
            if ds.kind in ("nucleation", "growth"):
                res["composition"] = composition(ds, names, ptm, cache)
            u, c = np.unique(np.concatenate(names), return_counts=True)   # every method's
            res["names"] = {str(k): int(v) for k, v in zip(u, c)}         # calls, in all
            rows.append(res)
            print("   ", json.dumps(res), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
