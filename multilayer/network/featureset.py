"""One fitted feature pipeline: frame + neighbour list -> named per-atom feature matrices.

:class:`FeatureSet` is the only place where crystopo turns atoms into features.  ``analyze``,
``classify``, ``propensity``, the embeddings and the reference environments all use it, so a
reference crystal and a trajectory frame are described identically.

Fitting learns, from a sample of atoms (never a whole 10^6-atom frame):

* the first-neighbour distance ``nn_distance_`` (unless given), from which every cutoff
  follows (``shell_cut_``, ``ph_cut_``, ``map_cut_``; :attr:`FeatureSet.search_radius` is the
  largest, the radius of the one neighbour list a frame needs);
* the Neighbors Map ball radius (the reference rule, :func:`descriptors.neighbors_map.default_map_cutoff`);
* the ranges of the persistence vectoriser (:class:`tda.DiagramVectorizer`), from the diagrams
  of ``fit_sample`` atoms;
* the species present (SOAP/ACSF columns are the same in every frame).

Every default lives in :data:`FEATURE_DEFAULTS`; the ``analyze`` configuration's descriptor
sections are these very dictionaries.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from descriptors import NeighborList, as_frame, neighbor_list
from descriptors.neighbors import CHUNK_SIZE, neighbor_chunks

__all__ = ["FeatureSet", "FrameFeatures", "FEATURE_DEFAULTS", "FEATURE_SETS"]

FEATURE_SETS = ("neighbors_map", "neighbors_map_image", "persistence", "steinhardt", "soap",
                "acsf")

# the descriptor sections of the ``analyze`` configuration, with their defaults (lengths in
# first-neighbour distances)
FEATURE_DEFAULTS: dict = {
    "neighbors": {
        "shell_factor": 1.35,      # first-shell cutoff = shell_factor x first-neighbour distance
    },
    "features": {
        "sets": ["neighbors_map", "persistence", "steinhardt"],
    },
    "neighbors_map": {"size": 32, "gamma": 2.0, "beta": 3.0, "block": 8},
    "persistence": {
        "complex": "alpha",        # or "rips"
        "max_dim": 2,
        "shell_factor": 1.25,      # neighbourhood cutoff in first-neighbour distances
        "method": "stats",         # vectorisation: stats | image | betti | landscape
        "fit_sample": 4000,        # atoms whose diagrams fix the vectorisation ranges
    },
    # w: the l of Steinhardt's third-order invariants ŵ_l (w̄_l when averaged), as columns
    # after the q_l; none by default (benchmarks/LABELS.md, stop 50: w̄6 lifts the distorted
    # crystals and costs the nucleation runs' crystal-like recall)
    "steinhardt": {"l": [4, 6, 8, 10, 12], "average": True, "w": []},
    # dscribe SOAP / ACSF (descriptors.soap); lengths in first-neighbour distances
    "soap": {"r_cut": 1.5, "sigma": 0.125, "n_max": 8, "l_max": 6},
    "acsf": {"r_cut": 1.55},
}


@dataclass
class FrameFeatures:
    """The features of one frame, rows in the frame's atom order (sorted by id).

    ``sets`` maps each feature-set name to an (n_atoms, d) float32 matrix; ``q6`` is the
    averaged q6 and ``solid`` the ten Wolde solid-like flag, the classic per-atom signature
    every run reports beside its labels; ``ql_local`` is each atom's own (not averaged) q_l of
    the Steinhardt set's ``l`` (float32), from the same harmonics, which tells the crystal
    type of a crystal-like atom (:func:`multilayer.network.stacking.crystal_type_model`);
    ``stacking`` is each atom's fcc / hcp / bcc vote from the common neighbours of its
    first-shell bonds (:func:`descriptors.cna.stacking` with ``bcc=True``, int8); ``shell`` the first-shell neighbour list
    these came from (stored as its CSR ``shell_offsets`` and ``shell_indices``, so that the
    nuclei need not search again: :meth:`descriptors.NeighborList.from_indices`).
    """

    ids: np.ndarray
    types: np.ndarray
    sets: dict = field(default_factory=dict)
    q6: np.ndarray | None = None
    solid: np.ndarray | None = None
    ql_local: np.ndarray | None = None
    stacking: np.ndarray | None = None
    shell: NeighborList | None = None

    def arrays(self) -> dict:
        """Everything as one flat dict of arrays (what the feature store writes)."""
        out = {"ids": self.ids, "types": self.types, **self.sets}
        if self.q6 is not None:
            out["q6"] = self.q6
        if self.solid is not None:
            out["solid"] = self.solid
        if self.ql_local is not None:
            out["ql_local"] = self.ql_local
        if self.stacking is not None:
            out["stacking"] = self.stacking
        if self.shell is not None:
            out["shell_offsets"] = self.shell.offsets
            out["shell_indices"] = self.shell.indices
        return out

    def matrix(self, names=None) -> np.ndarray:
        """The named sets side by side, (n_atoms, d) float32."""
        names = list(self.sets) if names is None else list(names)
        return np.hstack([np.asarray(self.sets[s], dtype=np.float32).reshape(len(self.ids), -1)
                          for s in names])


def _section(sections, name):
    table = copy.deepcopy(FEATURE_DEFAULTS[name])
    table.update((sections or {}).get(name, {}))
    return table


# -- calibration from a sample of atoms --------------------------------------------------
# FeatureSet.fit reproduces, from ONE k-nearest search of sampled atoms, what
# descriptors.first_shell_distance and descriptors.default_map_cutoff compute (each from its
# own k-nearest search of the same 2000 atoms, seed 0) and the neighbour rows of the atoms
# whose diagrams fit the vectoriser.  Building the search tree of a 10^6-atom frame is the
# cost (~0.5 s each), so one search instead of two plus a whole-frame list (~4 s) makes fit
# ~10x faster (measured 8 s -> 0.8 s CPU) with identical results (tests/test_featureset.py
# compares the two bitwise).
_SHELL_SAMPLE = 2000       # first_shell_distance / default_map_cutoff: sample=2000, seed=0
_SHELL_K = 12              # first_shell_distance: the 12 nearest ...
_SHELL_SPAN = 1.2          # ... closer than 1.2 x the median nearest distance
_MAP_FACTOR = 1.2          # default_map_cutoff: 1.2 x median distance of neighbour size + 1


def _shell_rows(n: int) -> np.ndarray:
    """The atoms first_shell_distance and default_map_cutoff sample (same rng, same draw)."""
    if n <= _SHELL_SAMPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, _SHELL_SAMPLE, replace=False))


def _first_frame_calibration(frame, nn_distance, size, ph_rows):
    """``(d1, map_cut, knl, kph)`` from one k-nearest search of the sampled atoms.

    ``d1`` is ``nn_distance`` or first_shell_distance(frame); ``map_cut`` is
    default_map_cutoff(frame, size) (None when ``size`` is None); ``knl`` (or None) is the
    k-nearest list of the rows ``ph_rows`` and ``kph`` its rows' positions in it.
    """
    n = frame.n_atoms
    k = 0
    if nn_distance is None:
        k = min(_SHELL_K, 8 * n)
    if size is not None:
        k = max(k, int(size) + 1)
    if k == 0:
        return float(nn_distance), None, None, None
    shell = _shell_rows(n)
    rows = shell if ph_rows is None else np.union1d(shell, ph_rows)
    nl = neighbor_list(frame, k=k, query=rows)
    dist = nl.distances.reshape(len(rows), k)            # exactly k per row
    at = np.searchsorted(rows, shell)
    if nn_distance is None:
        near = dist[at, :min(_SHELL_K, 8 * n)]
        d1 = float(np.median(near[near < _SHELL_SPAN * np.median(near[:, 0])]))
    else:
        d1 = float(nn_distance)
    map_cut = None if size is None else float(_MAP_FACTOR * np.median(dist[at, int(size)]))
    kph = None if ph_rows is None else np.searchsorted(rows, ph_rows)
    return d1, map_cut, nl, kph


def _rows_within(frame, atoms, r_cut, knl=None, at=None):
    """A frame-sized neighbour list at ``r_cut`` whose only non-empty rows are ``atoms``.

    The rows come from the k-nearest list ``knl`` (rows ``at``) when its k-th neighbour lies
    beyond ``r_cut`` for every one of them, else from a cutoff search of those atoms.
    """
    off = None if knl is None else knl.offsets
    # the margin keeps a neighbour tied (within float64 noise) with the k-th one out of doubt
    if off is not None and np.all(knl.distances[off[at + 1] - 1] > r_cut * (1 + 1e-9)):
        counts = knl.counts[at]
        new = np.zeros(len(at) + 1, np.int64)
        np.cumsum(counts, out=new[1:])
        take = np.repeat(off[at] - new[:-1], counts) + np.arange(new[-1])
        rows = NeighborList(new, knl.indices[take], knl.distances[take], knl.vectors[take],
                            None, knl.k).truncate(r_cut)
    else:
        rows = neighbor_list(frame, r_cut=r_cut, query=atoms)
    return _frame_rows(rows, atoms, frame.n_atoms)


class FeatureSet:
    """The fitted per-atom feature pipeline.

    Parameters
    ----------
    sets : sequence of str, optional
        Feature sets from :data:`FEATURE_SETS`, in column order (default
        ``FEATURE_DEFAULTS["features"]["sets"]``).
    config : dict of sections, optional
        Overrides of :data:`FEATURE_DEFAULTS` (the ``analyze`` TOML sections ``neighbors``,
        ``neighbors_map``, ``persistence``, ``steinhardt``, ``soap``, ``acsf``).
    nn_distance : float, optional
        First-neighbour distance; default: learnt by :meth:`fit`.
    steinhardt_both : bool
        Steinhardt set holds q_l and the averaged q̄_l side by side (the classifier's
        convention) instead of the one chosen by ``[steinhardt] average``.
    classic : bool
        Also compute the averaged q6 and the ten Wolde flag (:attr:`FrameFeatures.q6`,
        :attr:`FrameFeatures.solid`).
    seed : int
        Seeds the atom sample of :meth:`fit`.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> fr = make_lattice("fcc", 3, noise=0.03, seed=0)
    >>> fs = FeatureSet(["steinhardt"]).fit(fr)
    >>> round(fs.nn_distance_, 2), fs.transform(fr).sets["steinhardt"].shape
    (1.0, (108, 5))
    """

    def __init__(self, sets=None, *, config=None, nn_distance=None, steinhardt_both=False,
                 classic=True, seed=0):
        self.sets = tuple(FEATURE_DEFAULTS["features"]["sets"] if sets is None else
                          ((sets,) if isinstance(sets, str) else sets))
        bad = [s for s in self.sets if s not in FEATURE_SETS]
        if not self.sets or bad or len(set(self.sets)) != len(self.sets):
            raise ValueError(f"sets={sets!r}: give distinct names from {FEATURE_SETS}")
        self.config = {k: _section(config, k) for k in FEATURE_DEFAULTS}
        self.config["features"]["sets"] = list(self.sets)
        if nn_distance is not None and not (np.isfinite(nn_distance) and nn_distance > 0):
            raise ValueError(f"nn_distance must be None or a positive number, got {nn_distance!r}")
        self.nn_distance = nn_distance
        self.steinhardt_both = steinhardt_both
        self.classic = classic
        self.seed = seed

    @classmethod
    def from_config(cls, cfg: dict, **kw) -> "FeatureSet":
        """The feature pipeline an ``analyze`` configuration describes."""
        return cls(cfg["features"]["sets"], config=cfg, **kw)

    # -- fitting --------------------------------------------------------------------------
    def fit(self, frames) -> "FeatureSet":
        """Learn the cutoffs and vectoriser ranges from the first frame (or a list of frames).

        Only sampled atoms are searched (one k-nearest search of the first frame, see
        ``_first_frame_calibration``): the result equals, bit for bit, the calibration from
        whole-frame neighbour lists, at a tenth of the cost (10^6 atoms: 0.8 s CPU).
        """
        frames = [as_frame(frames)] if not isinstance(frames, (list, tuple)) else \
            [as_frame(f) for f in frames]
        if not frames:
            raise ValueError("fit needs at least one frame")
        first = frames[0]
        if first.n_atoms < 2:
            raise ValueError(f"cannot fit the features on a frame of {first.n_atoms} atom(s)")
        c = self.config
        want_map = bool({"neighbors_map", "neighbors_map_image"} & set(self.sets))
        want_ph = "persistence" in self.sets
        pc = c["persistence"]
        rng = np.random.default_rng(self.seed)
        per = max(1, pc["fit_sample"] // len(frames))
        # the atoms whose diagrams fix the vectoriser ranges, drawn as ever (same seed, same atoms)
        ph_rows = [np.sort(rng.choice(f.n_atoms, min(f.n_atoms, per), replace=False))
                   for f in frames] if want_ph else []
        size = c["neighbors_map"]["size"] if want_map else None
        d1, self.map_cut_, knl, kph = _first_frame_calibration(
            first, self.nn_distance, size, ph_rows[0] if want_ph else None)
        self.nn_distance_ = d1
        self.shell_cut_ = c["neighbors"]["shell_factor"] * d1
        self.ph_cut_ = pc["shell_factor"] * d1
        self.species_ = np.unique(np.concatenate([f.types for f in frames]))
        self.vectorizer_ = None
        if want_ph:
            import tda

            parts = []
            for i, (fr, atoms) in enumerate(zip(frames, ph_rows)):
                # the first frame's rows from its k-nearest search when that reaches ph_cut_
                nl = _rows_within(fr, atoms, self.ph_cut_, *((knl, kph) if i == 0 else ()))
                parts.append(tda.local_persistence(fr, nl, complex=pc["complex"],
                                                   max_dim=pc["max_dim"], atoms=atoms))
            dg = parts[0] if len(parts) == 1 else tda.Diagrams.concatenate(parts)
            self.vectorizer_ = tda.DiagramVectorizer(method=pc["method"]).fit(dg)
        return self

    def _check_fitted(self):
        if not hasattr(self, "nn_distance_"):
            raise ValueError("FeatureSet is not fitted; call fit(frame) first")

    @property
    def search_radius(self) -> float:
        """Radius of the one neighbour list :meth:`transform` needs."""
        self._check_fitted()
        return max(r for r in (self.shell_cut_, self.ph_cut_ if "persistence" in self.sets else 0,
                               self.map_cut_ or 0) if r)

    def neighbors(self, frame):
        """The frame's neighbour list at :attr:`search_radius` (share it with other stages)."""
        return neighbor_list(frame, r_cut=self.search_radius)

    # -- transforming ---------------------------------------------------------------------
    def transform(self, frame, neighbors=None, *, chunk_size: int | None = None,
                  sets=None) -> FrameFeatures:
        """Every feature set of one frame (``sets``: only these of :attr:`sets`, e.g. the
        label sets of reference environments; the others are not computed).

        Without ``neighbors`` the frame is described ``chunk_size`` atoms at a time
        (default :data:`descriptors.neighbors.CHUNK_SIZE`) from one search
        (:func:`descriptors.neighbors.neighbor_chunks`): the Neighbors Map and the
        persistence of a chunk are made from its rows, and only the first-shell pairs that
        the Steinhardt averages need are kept for the whole frame, so the wide list at the
        Neighbors Map's radius (2 GB at 10^6 atoms) is never held.  With ``neighbors``
        (from :meth:`neighbors`, shared with other stages) the same features come from that
        list; both ways give the same numbers, bit for bit.
        """
        self._check_fitted()
        frame = as_frame(frame)
        reach = self.search_radius
        if neighbors is not None:
            if neighbors.r_cut is None or neighbors.r_cut < reach * (1 - 1e-12):
                raise ValueError(f"neighbors reach {neighbors.r_cut}, the features need {reach:.6g}")
            chunks = [(0, frame.n_atoms, neighbors)]
        else:
            chunks = neighbor_chunks(frame, reach, chunk_size=chunk_size or CHUNK_SIZE)
        wanted = self.sets if sets is None else tuple(s for s in self.sets if s in sets)
        if sets is not None and len(wanted) != len(set(sets)):
            raise ValueError(f"sets={list(sets)!r}: this FeatureSet computes {list(self.sets)}")
        out = FrameFeatures(frame.ids, frame.types)
        local = [s for s in wanted if s in ("neighbors_map", "neighbors_map_image", "persistence")]
        need_shell = "steinhardt" in wanted or self.classic
        cols, shells = {}, []
        for start, stop, nl in chunks:
            for name, x in self._local_sets(frame, nl, slice(start, stop), local):
                if name not in cols:
                    cols[name] = np.empty((frame.n_atoms,) + x.shape[1:], dtype=x.dtype)
                cols[name][start:stop] = x
            if need_shell:
                shells.append(nl.truncate(self.shell_cut_) if self.shell_cut_ < nl.r_cut else nl)
            del nl
        shell = _join_lists(shells) if need_shell else None
        del shells
        for name in wanted:
            if name in cols:
                out.sets[name] = cols.pop(name)
            elif name == "steinhardt":
                self._steinhardt(frame, shell, out)
            elif name in ("soap", "acsf"):
                out.sets[name] = self._dscribe(frame, name)
        if self.classic:
            from descriptors.steinhardt import solid_liquid, steinhardt

            c = self.config
            ls = list(c["steinhardt"]["l"])
            q = out.sets.get("steinhardt")
            if q is not None and not self.steinhardt_both and c["steinhardt"]["average"] and 6 in ls:
                out.q6 = q[:, ls.index(6)]
            else:
                out.q6 = steinhardt(frame, shell, l=[6], average=True)[:, 0]
            if out.solid is None:
                out.solid = solid_liquid(frame, shell)
        if shell is not None and shell.r_cut is not None:
            out.shell = shell
        return out

    def _local_sets(self, frame, nl, rows, names):
        """``(name, matrix)`` of the sets made from each atom's own rows: the atoms ``rows``
        of ``frame``, whose neighbour rows ``nl`` holds (the whole frame or one chunk)."""
        c = self.config
        nm = c["neighbors_map"]
        whole = rows.start == 0 and rows.stop == frame.n_atoms
        map_nl = None
        if self.map_cut_ is not None:
            map_nl = nl.truncate(self.map_cut_) if self.map_cut_ < nl.r_cut else nl
        for name in names:
            if name == "neighbors_map":
                from descriptors.neighbors_map import neighbors_map_features

                yield name, neighbors_map_features(frame, map_nl, block=nm["block"],
                                                   size=nm["size"], gamma=nm["gamma"],
                                                   beta=nm["beta"], rows=None if whole else rows)
            elif name == "neighbors_map_image":
                from descriptors.neighbors_map import neighbors_map

                im = neighbors_map(frame, map_nl, size=nm["size"], gamma=nm["gamma"],
                                   beta=nm["beta"], rows=None if whole else rows)
                yield name, im.reshape(len(im), -1)
            elif name == "persistence":
                import tda

                pc = c["persistence"]
                ph_nl = nl.truncate(self.ph_cut_) if self.ph_cut_ < nl.r_cut else nl
                dg = tda.local_persistence(frame, ph_nl, complex=pc["complex"],
                                           max_dim=pc["max_dim"],
                                           atoms=None if whole else np.arange(rows.start, rows.stop))
                yield name, self.vectorizer_.transform(dg)

    def _steinhardt(self, frame, shell, out):
        from descriptors.cna import stacking
        from descriptors.steinhardt import steinhardt, steinhardt_and_solid

        c = self.config
        ls = c["steinhardt"]["l"]
        if self.steinhardt_both:
            out.sets["steinhardt"] = np.hstack([steinhardt(frame, shell, l=ls),
                                                steinhardt(frame, shell, l=ls, average=True)])
        elif self.classic:       # the q_lm harmonics once for q_l, ten Wolde and own q_l
            out.sets["steinhardt"], out.solid, local = steinhardt_and_solid(
                frame, shell, l=ls, average=c["steinhardt"]["average"], return_local=True)
            out.ql_local = np.asarray(local, dtype=np.float32)
            out.stacking = stacking(shell, bcc=True)
        else:
            out.sets["steinhardt"] = steinhardt(frame, shell, l=ls,
                                                average=c["steinhardt"]["average"])
        w = c["steinhardt"].get("w") or []    # absent from FeatureSets pickled before it
        if w:
            from descriptors.steinhardt import steinhardt_w

            q = out.sets["steinhardt"]
            out.sets["steinhardt"] = np.hstack([q, steinhardt_w(
                frame, shell, l=w, average=c["steinhardt"]["average"]).astype(q.dtype)])

    def _dscribe(self, frame, name):
        from descriptors.soap import acsf_features, soap_features

        c, d1 = self.config, self.nn_distance_
        if name == "soap":
            sc = c["soap"]
            return soap_features(frame, r_cut=sc["r_cut"] * d1, sigma=sc["sigma"] * d1,
                                 n_max=sc["n_max"], l_max=sc["l_max"], species=self.species_,
                                 nn_distance=d1)
        return acsf_features(frame, r_cut=c["acsf"]["r_cut"] * d1, species=self.species_,
                             nn_distance=d1)

    def __repr__(self):
        fitted = f", nn_distance_={self.nn_distance_:.4g}" if hasattr(self, "nn_distance_") else ""
        return f"FeatureSet(sets={list(self.sets)}{fitted})"


def _join_lists(parts) -> NeighborList:
    """One frame's list from the lists of consecutive chunks of its rows."""
    if len(parts) == 1:
        return parts[0]
    sizes = np.array([len(p.indices) for p in parts], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    offsets = np.concatenate([[0]] + [p.offsets[1:] + b for p, b in zip(parts, base)])
    return NeighborList(offsets.astype(np.int64), np.concatenate([p.indices for p in parts]),
                        np.concatenate([p.distances for p in parts]),
                        np.concatenate([p.vectors for p in parts]), parts[0].r_cut, None)


def _frame_rows(nl, rows, n) -> NeighborList:
    """A frame-sized list holding the rows of the atoms ``rows`` (a chunk); others empty."""
    counts = np.zeros(n, np.int64)
    counts[rows] = nl.counts
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return NeighborList(offsets, nl.indices, nl.distances, nl.vectors, nl.r_cut, nl.k)
