"""Structure labels anchored in descriptor space and in reference crystals.

A label is a claim about local structure, so its meaning is fixed where structure lives: in
descriptor space and in prior crystal structures, not only in which atoms were together a
frame earlier.  The model:

1. **Shared microstates.**  One codebook (seeded k-means) over a pooled sample of all frames
   together with the reference environments (:mod:`descriptors.reference`: thermalised fcc,
   hcp, bcc, icosahedral and liquid environments at the run's first-neighbour distance,
   described by the very same fitted :class:`~multilayer.network.featureset.FeatureSet`;
   the thermalised crystals both at that lattice spacing and rescaled to it as measured, see
   :func:`describe_references`).
   The label features may hold each atom's own q_l beside the averaged q̄_l
   (:data:`LABEL_LOCAL_STEINHARDT`): averaged alone, a liquid atom next to a nucleus borrows
   its neighbours' order and looks crystal-like.
   The references guarantee microstates where crystals live even when the run holds only a
   few hundred crystalline atoms.
2. **The multilayer network in its strong-coupling limit.**  One layer per frame with the
   (frame, microstate) nodes; intra-layer edges are competitive-Hebbian (each atom joins its
   nearest and second-nearest microstates: the data-supported Delaunay graph of the
   centres); inter-layer edges are *structure identity* links (the same microstate one frame
   later) and atom flows (atoms moving from one microstate to another).  Identity links
   much stronger than the rest make every microstate one node across layers, so the
   multislice partition is that of the aggregated graph: the sum of the intra-layer graphs
   plus ``flow_weight`` times the symmetrised flows.  A microstate's label therefore does
   not depend on the frame, and a frame holding a single structure is described by its
   descriptors, not merged with its neighbours in time.
3. **Reference anchors.**  One anchor node per reference kind, joined to the microstates
   that hold its environments, with its community fixed (leidenalg's
   ``is_membership_fixed``) and distinct from the other anchors'.  Leiden (CPM on the
   normalised graph) then grows each anchor's community along the data and leaves
   structures no reference describes in communities of their own.  By default
   (``assign="harmonic"``) each microstate of an anchored community then goes to the anchor
   a random walk on the graph most likely reaches first
   (:func:`~multilayer.network.harmonic.anchor_probabilities`): the unique harmonic
   solution instead of one of the near-equal local optima of the cut.
   An atom then takes the kind its two nearest microstates' probabilities, weighted by
   inverse distance, make most likely (``interpolate``): the harmonic function carried from
   the centres to the space between them, so that where a boundary between two structures
   runs does not hang on where the codebook's cells happen to meet.
4. **Names.**  A community holding an anchor takes its kind (``fcc``, ``hcp``, ``bcc``,
   ``ico``, ``liquid``); the others are ``other-1``, ``other-2``, ... by size.  Label ids are
   canonical: the order of :data:`STRUCTURE_NAMES`, then the others, so a structure keeps its
   id whatever frames are analysed.  The hierarchy's first level is ``crystal``
   (fcc/hcp/bcc) against ``non-crystal`` (liquid, ico, other).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .features import FeatureTransform, as_feature_frames
from .graph import assign_microstates, fit_codebook
from .harmonic import anchor_probabilities, interpolated_labels, nearest_weight, novel_microstates
from .progress import progress_bar

__all__ = ["STRUCTURE_NAMES", "CRYSTAL_NAMES", "STRUCTURE_DEFAULTS", "LABEL_SETS",
           "anchor_probabilities",
           "REFERENCE_SPACINGS",
           "LABEL_LOCAL_STEINHARDT", "StructureModel",
           "fit_structures", "describe_references", "label_sets", "consensus_names",
           "interpolated_labels", "nearest_weight"]

logger = logging.getLogger(__name__)

STRUCTURE_NAMES = ("liquid", "fcc", "hcp", "bcc", "ico")
CRYSTAL_NAMES = ("fcc", "hcp", "bcc")

# the ``[labels]`` section of the ``analyze`` configuration: these are the defaults of
# :func:`fit_structures` and :func:`describe_references` too
STRUCTURE_DEFAULTS: dict = {
    "method": "anchored",          # anchored | multislice (the earlier identity-coupled network)
    "sets": None,                  # feature sets of the labels; None: those of LABEL_SETS that
                                   # the run computes (all of them if none is)
    "references": list(STRUCTURE_NAMES),
    "reference_noise": [0.0, 0.02, 0.04, 0.06, 0.08],  # Gaussian displacement of the
                                   # reference crystals, x d_nn: from ideal to near melting
    "reference_vacancies": [0.0],  # fractions of empty sites of the reference crystals
    "n_microstates": 300,
    "n_components": 16,
    "resolution": 0.0,             # CPM; 0: every structure grows from a reference anchor
    "assign": "harmonic",          # harmonic: each microstate of an anchored community goes to
                                   # the anchor a random walk on the graph most likely reaches
                                   # first (unique, steadier); leiden: Leiden's partition as is
    "interpolate": True,           # harmonic only: each atom takes the kind most likely under
                                   # its two nearest microstates' probabilities weighted by
                                   # inverse distance; false: its nearest microstate's label
    "flow_weight": 0.0,            # atom flows between layers, relative to intra-layer edges
    "novelty": 0.5,                # a microstate farther from every reference environment than
                                   # this times the largest liquid-crystal distance of the
                                   # references is a structure of its own (other-i), not given
                                   # to an anchor; 0: off (README, stop 48)
    "seed": 0,
    "n_seeds": 1,                  # > 1: codebooks seeded seed, seed + 1, ...; each atom takes
                                   # the majority name (consensus_names): steadier across frame
                                   # ranges, n_seeds times the cost (README)
}
_D = STRUCTURE_DEFAULTS
LABEL_SETS = ("steinhardt",)   # chosen on the validation suite (README)
# whether the Steinhardt label set holds each atom's own q_l beside the averaged q̄_l
# (``FeatureSet(steinhardt_both=True)``; the validation benchmarks read it, ``analyze`` does
# not offer it: its feature store holds the averaged q̄_l only).  Measured on the validation
# suite (benchmarks/bench_labels.py --both / --no-both, 6 nucleation runs): precision against
# PTM rises on every run (0.17-0.21 -> 0.19-0.35) and fcc/hcp on five of six, but recall
# falls (0.91-0.99 -> 0.83-0.93, under 0.9 on three) and the runs with a known truth (nucleus,
# slabs, phases) gain nothing; so it is not the default.
LABEL_LOCAL_STEINHARDT = False


def label_sets(sets, computed) -> list:
    """The feature sets labels are learnt on: ``sets``, or by default those of
    :data:`LABEL_SETS` among the ``computed`` ones (all computed sets if none is)."""
    if sets is not None:
        return list(sets)
    chosen = [s for s in LABEL_SETS if s in computed]
    return chosen or list(computed)


@dataclass(frozen=True, eq=False)
class StructureModel:
    """A fitted structure model: descriptor row -> microstate -> named structure.

    Attributes
    ----------
    transform : FeatureTransform
        Pooled standardisation (run sample and references) and leading principal axes.
    codebook : ndarray (n_microstates, p), float32
    microstate_label : ndarray (n_microstates,), int64
        Label id of every microstate.
    names : tuple of str
        ``names[label]``; the first ones are :data:`STRUCTURE_NAMES` (present or not).
    reference_share : ndarray (n_labels, n_kinds)
        Fraction of each reference kind's environments that land in each label.
    info : dict
        Graph size, resolution, timings.
    anchor_probability : ndarray (n_microstates, n_kinds), float64, or None
        ``assign="harmonic"``: per microstate, the probability that a random walk on the
        graph reaches each kind's anchor first (rows sum to 1; NaN where no anchor is
        reachable and on novel microstates, see ``fit_structures``' ``novelty``); None with
        ``assign="leiden"``.
    interpolate : bool
        Rows take the kind their two nearest microstates' ``anchor_probability`` rows,
        weighted by inverse distance, make most likely
        (:func:`~multilayer.network.harmonic.interpolated_labels`); False: the nearest
        microstate's label.
    """

    transform: FeatureTransform
    codebook: np.ndarray
    microstate_label: np.ndarray
    names: tuple
    kinds: tuple
    reference_share: np.ndarray
    info: dict = field(default_factory=dict)
    anchor_probability: np.ndarray | None = None
    interpolate: bool = False

    def microstates(self, x) -> np.ndarray:
        return assign_microstates(self.transform(x), self.codebook)

    def predict(self, x) -> np.ndarray:
        """Label id of each row of raw features ``x`` (n, d), int64: the labels
        :func:`fit_structures` gives the same rows."""
        z = self.transform(x)
        if not self._interpolating():
            return self.microstate_label[assign_microstates(z, self.codebook)]
        a, a2, d1, d2 = assign_microstates(z, self.codebook, second=True, distances=True)
        return interpolated_labels(a, a2, nearest_weight(d1, d2), self.microstate_label,
                                   self.anchor_probability, self._kind_labels())

    def _interpolating(self) -> bool:
        return self.interpolate and self.anchor_probability is not None

    def _kind_labels(self) -> np.ndarray:
        return np.array([self.names.index(k) for k in self.kinds], dtype=np.int64)

    def is_crystal(self, labels) -> np.ndarray:
        crystal = np.array([n in CRYSTAL_NAMES for n in self.names])
        return crystal[np.asarray(labels, dtype=np.int64)]

    def level(self, labels, level: int = 1) -> np.ndarray:
        """Level 0: 1 for crystal (fcc/hcp/bcc), 0 otherwise; level 1: the label itself."""
        return self.is_crystal(labels).astype(np.int64) if level == 0 else np.asarray(labels)


#: the nominal first-neighbour distance of each reference crystal, in units of the run's
#: (:func:`descriptors.reference.reference_frames`: bcc at the density of fcc)
_LATTICE_NN = {"fcc": 1.0, "hcp": 1.0, "bcc": 0.9720}
#: how the reference crystals are scaled (:func:`describe_references`)
REFERENCE_SPACINGS = ("lattice", "measured")


def describe_references(features, kinds=None, *, sets=None, noise=tuple(_D["reference_noise"]),
                        vacancies=tuple(_D["reference_vacancies"]), spacings=REFERENCE_SPACINGS,
                        n_per_kind=256, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Raw feature rows of the reference environments, through the fitted ``features``
    (a :class:`~multilayer.network.featureset.FeatureSet`).

    ``spacings``: how a reference crystal (fcc, hcp, bcc) meets the run's first-neighbour
    distance ``features.nn_distance_``, which :func:`descriptors.first_shell_distance`
    measured on the run and from which the shell cutoffs follow:

    * ``"lattice"``: the crystal's lattice has that nearest-neighbour distance (exact for a
      cold crystal);
    * ``"measured"``: the crystal is rescaled so that the same estimator, measured on it,
      gives that distance, as the reference liquid is.  The estimator reads a thermal
      crystal's first shell short (fcc at sigma = 0.06 / 0.08 d: by 3 / 7 %), so a run of
      hot or distorted crystals has cutoffs that are tight for its lattice: only references
      measured the same way share them.  With ``"lattice"`` alone, fcc at sigma = 0.08 d
      came out as hcp and, with 30 % vacancies too, fcc, hcp, bcc and diamond fell into
      one structure (``benchmarks/bench_distorted_labels.py``).

    Where both are asked for, each noisy crystal is described both ways; the variants of one
    kind and noise level (spacings, vacancy fractions) share its ``n_per_kind``
    environments, so that every kind and noise level weighs the same in the codebook, the
    graph and the anchors whatever the number of variants.  Ideal crystals (noise 0)
    measure exactly their lattice: one variant.

    Returns ``(x, kind)``: rows (n, d) float32, the feature sets ``sets`` (default: all of
    ``features.sets``) side by side, and the kind of each row.
    """
    from descriptors import Frame
    from descriptors.frame import Box
    from descriptors.neighbors import first_shell_distance
    from descriptors.reference import REFERENCE_KINDS, reference_frames

    kinds = REFERENCE_KINDS if kinds is None else tuple(kinds)
    sets = features.sets if sets is None else tuple(sets)
    spacings = tuple(spacings)
    bad = [s for s in spacings if s not in REFERENCE_SPACINGS]
    if bad or not spacings:
        raise ValueError(f"spacings must be a non-empty subset of {REFERENCE_SPACINGS}, got "
                         f"{list(spacings)}")
    nn = features.nn_distance_
    variants = []                       # (kind, noise, frame, rows)
    for ref in reference_frames(nn, kinds=kinds, noise=noise, vacancies=vacancies,
                                n_per_kind=n_per_kind, seed=seed):
        if ref.kind not in _LATTICE_NN or not ref.noise > 0:
            variants.append((ref.kind, ref.noise, ref.frame, ref.rows))
            continue
        for how in spacings:
            frame = ref.frame
            if how == "measured":
                scale = _LATTICE_NN[ref.kind] * nn / first_shell_distance(frame)
                frame = Frame(frame.positions * scale,
                              Box(frame.box.cell * scale, frame.box.origin * scale),
                              frame.ids, frame.types, frame.timestep)
            variants.append((ref.kind, ref.noise, frame, ref.rows))
    # the variants of one (kind, noise) share its environments: disjoint draws of its rows
    cell = [(k, nz) if k in _LATTICE_NN else i for i, (k, nz, _, _) in enumerate(variants)]
    count = {c: cell.count(c) for c in set(cell)}
    nth: dict = {}
    perm: dict = {}
    rng = np.random.default_rng([int(seed), 1])
    xs, ks = [], []
    for (kind, nz, frame, rows), c in zip(variants, cell):
        if count[c] > 1:
            j = nth[c] = nth.get(c, -1) + 1
            key = (c, len(rows))
            if key not in perm:
                perm[key] = rng.permutation(len(rows))
            rows = np.sort(rows[perm[key][j::count[c]]])
        x = features.transform(frame, sets=sets).matrix(sets)
        xs.append(x[rows])
        ks += [kind] * len(rows)
    return np.concatenate(xs).astype(np.float32), np.array(ks)


def _standardise(sample, ref, widths, n_components, balance_sets):
    both = np.concatenate([sample, ref]).astype(np.float64)
    mean = both.mean(axis=0)
    std = both.std(axis=0)
    scale = np.where(std > 1e-12 * max(1.0, float(np.abs(mean).max(initial=0))), std, 1.0)
    if balance_sets and len(widths) > 1:
        scale = scale * np.concatenate([np.full(w, np.sqrt(w)) for w in widths])
    tr = FeatureTransform(mean, scale)
    if n_components is None or n_components >= sample.shape[1]:
        return tr
    z = tr(both)
    pca_mean = z.mean(axis=0)
    _, _, vt = np.linalg.svd(z - pca_mean, full_matrices=False)
    comps = vt[:n_components].T.astype(np.float32)
    comps *= np.where(comps[np.abs(comps).argmax(axis=0), np.arange(n_components)] < 0, -1, 1)
    return FeatureTransform(mean, scale, comps, pca_mean.astype(np.float32))


def _sym_counts(counts, n):
    """``_sym`` of the pairs counted in ``counts`` (flat n x n table of a * n + b)."""
    nz = np.flatnonzero(counts)
    return _sym(nz // n, nz % n, counts[nz].astype(np.float64), n)


def _sym(keys_a, keys_b, w, n):
    from scipy import sparse

    m = sparse.coo_matrix((w, (keys_a, keys_b)), shape=(n, n)).tocsr()
    m = m + m.T
    m.setdiag(0)
    m.eliminate_zeros()
    return m


def fit_structures(features, ids, references, *, feature_sets=None,
                   n_microstates=_D["n_microstates"], n_components=_D["n_components"],
                   sample_size=100_000, flow_weight=_D["flow_weight"], anchor_weight=1.0,
                   knn_weight=0.05,
                   resolution=_D["resolution"], assign=_D["assign"],
                   interpolate=_D["interpolate"], novelty=_D["novelty"], balance_sets=True,
                   seed=_D["seed"], progress=False):
    """Fit the anchored structure model on all frames; return it and the per-frame labels.

    Parameters
    ----------
    features : sequence of per-frame arrays or ``{set: array}`` mappings (read lazily)
    ids : sequence of int arrays (atom ids per frame)
    references : tuple ``(x, kind)`` from :func:`describe_references`
    feature_sets : sets used (mappings), in the order ``x`` of the references has them
    n_microstates, n_components, sample_size : codebook size, principal axes kept, pooled
        sample of atoms (drawn evenly over frames, in id order)
    flow_weight : weight of atom flows relative to the intra-layer (competitive Hebbian)
        edges, both normalised to the same total
    anchor_weight : total weight of anchor edges relative to the same total
    resolution : CPM resolution on the normalised aggregated graph
    assign : ``"harmonic"`` (default) or ``"leiden"``.  Leiden's partition decides which
        microstates form structures no reference describes (``other-i``: none at resolution
        0 unless a part of the graph reaches no anchor); with ``"harmonic"`` every
        microstate that Leiden puts in an anchor's community then goes to the anchor a
        random walk on the graph most likely reaches first
        (:func:`~multilayer.network.harmonic.anchor_probabilities`).
        Why: at resolution 0 the partition is a minimum multiway cut between the anchors,
        which Leiden's local moves solve to one of many near-equal optima; the microstates
        of a nucleus' halo, between crystal and liquid, then went one way or the other with
        the seed and the frames analysed.  On the validation suite
        (``benchmarks/bench_labels.py``, README) the harmonic assignment raised the worst
        agreement between frame ranges from 0.927 to 0.956 (EAM copper at 800 K) and between
        seeds from 0.930 to 0.957; accuracies moved within the codebook seed's scatter.
    interpolate : with ``"harmonic"``, each atom takes the kind its two nearest microstates'
        probabilities make most likely, weighted by inverse distance
        (:func:`~multilayer.network.harmonic.interpolated_labels`); False: its nearest
        microstate's label.
    novelty : float >= 0
        A microstate whose centre lies farther from every reference environment than
        ``novelty`` times the largest distance between the liquid references' centroid and a
        crystal's (same standardised space) is described by no reference: it is kept out
        of the anchored structures, and the novel microstates form structures of their own
        (``other-i``), one per connected part of the graph among them
        (:func:`~multilayer.network.harmonic.novel_microstates`).  0 (or references without
        a liquid or without a crystal): off.  Why: at resolution 0 every structure grows
        from an anchor, so a structure no reference describes went to whichever anchor a
        weak edge reached first; on distorted crystals
        (``benchmarks/bench_distorted_labels.py``, cubic diamond beside fcc, hcp and bcc,
        sigma 0.08 d, 30 % vacancies) diamond was named
        liquid on one draw of the crystals, fcc on two and a structure of its own on one.
        A blend of the liquid and any crystal stays within half their distance of one of
        them, so 0.5 keeps every such blend (a nucleus' halo, an interface) anchored; on
        the LAMMPS runs of the validation suite no microstate comes near it (largest ratio
        0.17 on nucleation runs, 0.25 on the slabs); on the distorted crystals 99.0-99.6 % of
        the diamond atoms lie past it, at most 0.14 % of another crystal's.
    seed : seeds the sample, the codebook and Leiden

    Returns
    -------
    model : StructureModel
    labels : list of int64 arrays, one per frame (rows in the caller's order)
    """
    import igraph as ig
    import leidenalg

    if assign not in ("harmonic", "leiden"):
        raise ValueError(f"assign must be 'harmonic' or 'leiden', got {assign!r}")
    frames = as_feature_frames(features, ids, feature_sets)
    x_ref, kind_ref = references
    kinds = tuple(k for k in STRUCTURE_NAMES if k in set(kind_ref.tolist()))
    n_f = frames.n_frames
    rows = frames.n_rows
    quota = np.minimum(np.ceil(sample_size * rows / max(1, rows.sum())).astype(np.int64), rows)
    seeds = np.random.SeedSequence(seed).spawn(n_f)
    sample = []
    for t in range(n_f):
        x = frames.raw(t)
        order = np.argsort(frames.ids[t], kind="stable")
        pick = np.sort(np.random.default_rng(seeds[t]).choice(len(x), quota[t], replace=False))
        sample.append(x[order[pick]])
    sample = np.concatenate(sample)
    if x_ref.shape[1] != sample.shape[1]:
        raise ValueError(f"references have {x_ref.shape[1]} feature columns, the frames "
                         f"{sample.shape[1]}: describe them with the same FeatureSet and sets")
    tr = _standardise(sample, x_ref, frames.set_widths, n_components, balance_sets)
    z_ref = tr(x_ref)
    codebook = fit_codebook(np.concatenate([tr(sample), np.repeat(z_ref, 4, axis=0)]),
                            n_microstates, seed)
    n_c = len(codebook)
    # aggregated multilayer graph: competitive Hebbian edges summed over layers, atom flows
    # edges are counted per frame into n_c x n_c tables (memory independent of atoms x frames)
    chl_count = np.zeros(n_c * n_c, dtype=np.int64)
    flow_count = np.zeros(n_c * n_c, dtype=np.int64)
    assignments, pop = [], np.zeros(n_c)
    # the second-nearest microstate (compact) and the nearest's weight, to interpolate
    second, near_w = [], []
    keep_second = interpolate and assign == "harmonic"
    a2_type = np.uint16 if n_c <= np.iinfo(np.uint16).max else np.int32
    prev = None
    for t in progress_bar(range(n_f), progress, "microstates"):
        a, a2, d1, d2 = assign_microstates(tr(frames.raw(t)), codebook, second=True,
                                           distances=True)
        assignments.append(a)
        if keep_second:
            second.append(a2.astype(a2_type))
            near_w.append(nearest_weight(d1, d2))
        pop += np.bincount(a, minlength=n_c)
        chl_count += np.bincount(a.astype(np.int64) * n_c + a2, minlength=n_c * n_c)
        ids_t = frames.ids[t]
        same = prev is not None and np.array_equal(prev[0], ids_t)
        if same:                        # the same atoms in the same rows: no matching needed
            pa, sa = prev[1], a
        elif prev is not None:
            order = np.argsort(ids_t, kind="stable")
            pord = np.argsort(prev[0], kind="stable")
            _, i0, i1 = np.intersect1d(prev[0][pord], ids_t[order], assume_unique=True,
                                       return_indices=True)
            pa, sa = prev[1][pord][i0], a[order][i1]
        if prev is not None:
            moved = pa != sa
            flow_count += np.bincount(pa[moved].astype(np.int64) * n_c + sa[moved],
                                      minlength=n_c * n_c)
        prev = (ids_t, a)
    r1, r2 = assign_microstates(z_ref, codebook, second=True)
    chl_count += np.bincount(r1.astype(np.int64) * n_c + r2, minlength=n_c * n_c)
    chl = _sym_counts(chl_count, n_c)
    graph = chl / max(chl.sum(), 1e-300)
    # a weak k-nearest backbone among the centres keeps every microstate reachable (perfect
    # crystals put all their atoms on one pair of centres, an island otherwise)
    from sklearn.neighbors import NearestNeighbors

    kk = min(5, n_c - 1)
    if kk >= 1:
        dist, idx = NearestNeighbors(n_neighbors=kk + 1).fit(codebook).kneighbors(codebook)
        sig = np.maximum(dist[:, -1], 1e-12)
        rows_k = np.repeat(np.arange(n_c), kk)
        cols_k = idx[:, 1:].ravel()
        w_k = np.exp(-dist[:, 1:].ravel() ** 2 / (sig[rows_k] * sig[cols_k]))
        knn = _sym(rows_k, cols_k, w_k, n_c)
        graph = graph + knn_weight * knn / max(knn.sum(), 1e-300)
    if n_f > 1 and flow_weight > 0:
        fl = _sym_counts(flow_count, n_c)
        if fl.sum() > 0:
            graph = graph + flow_weight * fl / fl.sum()
    # anchors: one node per kind, joined to the microstates holding its environments
    anchor = np.zeros((len(kinds), n_c))
    for k, kind in enumerate(kinds):
        anchor[k] = np.bincount(r1[kind_ref == kind], minlength=n_c)
    anchor = anchor_weight * anchor / max(anchor.sum(), 1e-300)
    g = graph.tocoo()
    keep = g.row < g.col
    n_nodes = n_c + len(kinds)
    ak, am = np.nonzero(anchor)
    edges = np.concatenate([np.stack([g.row[keep], g.col[keep]], 1),
                            np.stack([am, n_c + ak], 1)])
    weights = np.concatenate([g.data[keep], anchor[ak, am]])
    weights = weights / weights.mean()
    ig_graph = ig.Graph(n=n_nodes, edges=edges.tolist())
    ig_graph.es["weight"] = weights.tolist()
    initial = np.arange(n_nodes)
    fixed = np.zeros(n_nodes, bool)
    fixed[n_c:] = True
    part = leidenalg.CPMVertexPartition(ig_graph, initial_membership=initial.tolist(),
                                        weights="weight", resolution_parameter=resolution)
    opt = leidenalg.Optimiser()
    opt.set_rng_seed(int(seed))
    opt.optimise_partition(part, n_iterations=-1, is_membership_fixed=fixed.tolist())
    memb = np.asarray(part.membership)
    proba = None
    if assign == "harmonic":
        from scipy import sparse

        w = sparse.coo_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n_nodes, n_nodes))
        proba = anchor_probabilities((w + w.T).tocsr(), n_c)
        anchored = np.isin(memb[:n_c], memb[n_c:]) & ~np.isnan(proba[:, 0])
        memb[:n_c][anchored] = memb[n_c:][proba[anchored].argmax(axis=1)]
    novel = novel_microstates(codebook, z_ref, kind_ref, novelty)
    if novel.any():     # structures no reference describes: one per connected part
        from scipy.sparse.csgraph import connected_components

        _, part_of = connected_components(graph.tocsr()[novel][:, novel], directed=False)
        memb[:n_c][novel] = memb.max() + 1 + part_of
        if proba is not None:
            proba[novel] = np.nan
        logger.info("%d microstate(s) of %d described by no reference (novelty %g): %d "
                    "structure(s) of their own", int(novel.sum()), n_c, novelty,
                    int(part_of.max()) + 1)
    # names: communities with an anchor take its kind; the others "other-i" by population
    comm_name = {}
    for k, kind in enumerate(kinds):
        comm_name.setdefault(int(memb[n_c + k]), kind)
    names = list(STRUCTURE_NAMES)
    free = [c for c in np.unique(memb[:n_c]) if int(c) not in comm_name]
    free_pop = {int(c): pop[memb[:n_c] == c].sum() for c in free}
    for j, c in enumerate(sorted(free, key=lambda c: (-free_pop[int(c)], int(c)))):
        comm_name[int(c)] = f"other-{j + 1}"
        names.append(f"other-{j + 1}")
    micro_label = np.array([names.index(comm_name[int(c)]) for c in memb[:n_c]], dtype=np.int64)
    share = np.zeros((len(names), len(kinds)))
    for k, kind in enumerate(kinds):
        np.add.at(share[:, k], micro_label[r1[kind_ref == kind]], 1.0)
        share[:, k] /= max(1, (kind_ref == kind).sum())
    model = StructureModel(tr, codebook, micro_label, tuple(names), kinds, share,
                           {"n_microstates": int(n_c), "n_edges": int(len(edges)),
                            "resolution": float(resolution), "flow_weight": float(flow_weight),
                            "assign": assign, "interpolate": bool(keep_second)}, proba,
                           bool(keep_second))
    if model._interpolating():
        kind_labels = model._kind_labels()
        labels = [interpolated_labels(a, a2, w, micro_label, proba, kind_labels)
                  for a, a2, w in zip(assignments, second, near_w)]
    else:
        labels = [micro_label[a] for a in assignments]
    return model, labels


def consensus_names(fits) -> list:
    """Per-atom majority vote of the structure names of several fits (codebook seeds).

    A single codebook puts the microstates at the liquid/crystal boundary on one side or the
    other by chance; voting over seeds removes most of that chance.  On the validation suite
    (``benchmarks/bench_labels.py``, three seeds against one) it raised the agreement between
    analyses of different frame ranges from 0.91-0.94 to 0.93-0.97 and between seed sets
    from 0.93-0.97 to 0.96-0.98, crystal-like recall and precision unchanged within 0.04.

    Parameters
    ----------
    fits : sequence of ``(model, labels)`` from :func:`fit_structures` on the same frames
        (different ``seed``); the first one breaks ties.

    Returns
    -------
    names : list of str arrays, one per frame

    Examples
    --------
    >>> class M: names = ("liquid", "fcc")
    >>> fits = [(M, [np.array([0, 1, 1])]), (M, [np.array([1, 1, 0])]), (M, [np.array([0, 0, 1])])]
    >>> consensus_names(fits)[0].tolist()
    ['liquid', 'fcc', 'fcc']
    """
    fits = list(fits)
    if not fits:
        raise ValueError("fits must hold at least one (model, labels) pair, got none")
    n_frames = {len(lab) for _, lab in fits}
    if len(n_frames) != 1:
        raise ValueError(f"fits must label the same frames, got frame counts {sorted(n_frames)}")
    out = []
    for t in range(n_frames.pop()):
        votes = np.stack([np.asarray(model.names)[np.asarray(lab[t], dtype=np.int64)]
                          for model, lab in fits])
        kinds = np.unique(votes)
        count = np.stack([(votes == k).sum(axis=0) for k in kinds])
        best = count.max(axis=0)
        # ties go to the first fit's name when it is among the most voted
        first = (votes[0][None] == kinds[:, None]).argmax(axis=0)
        winner = np.where(count[first, np.arange(votes.shape[1])] == best, first,
                          count.argmax(axis=0))
        out.append(kinds[winner])
    return out
