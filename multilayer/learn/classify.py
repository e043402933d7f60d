"""Supervised structure labelling: train on a few labelled frames, label a whole trajectory.

The workflow of the Neighbors Map paper (Allera et al., Sec. 3.1-3.2): labels come from a
file, or from a trusted classic method (ten Wolde solid bonds, OVITO's PTM or adaptive CNA)
applied to frames where it is reliable (low temperature crystal, hot liquid); a classifier
learns them from per-atom features and then labels every atom of every frame.  Atoms whose
confidence falls below ``threshold`` get the label ``-1`` (*unknown*).

Features (:class:`StructureFeatures`) are computed on the frame rescaled to a first-neighbour
distance of 1 (``nn_distance``, default: :func:`descriptors.first_shell_distance` per frame):

* ``"neighbors_map"``: :func:`descriptors.neighbors_map_features` (default ball, which grows
  with vacancies so that it always holds about ``1.2**3 * 33`` atoms);
* ``"neighbors_map_image"``: the whole 32 x 32 map, flattened (for ``model="mlp"``);
* ``"persistence"``: alpha diagrams (H0-H2) of the atoms within ``shell_cut``, summary
  statistics on ranges fitted to the training frames (:class:`tda.DiagramVectorizer`);
* ``"steinhardt"``: q_4 ... q_12 and their Lechner-Dellago averages within ``shell_cut``.

``shell_cut = 1.82`` nn lies between the shells at 1.73 (fcc, hcp) and 1.91 (bcc, hcp,
diamond) and above those at 1.63 (bcc, hcp, diamond): no shell of the four lattices straddles
it, and diamond gets its second shell (4 + 12 atoms), fcc 42, bcc 26, hcp 38 atoms.  Boxes
should be wider than twice that (3.64 nn), or an atom's own images enter its neighbourhood.
The per-frame estimate of the first-neighbour distance drifts with strong noise (0.97 at
Gaussian noise 0.065 nn, 0.84 at 0.12): pass ``nn_distance`` where the scale is known.

Confidence is ``p_max * min(1, R / d)``: ``p_max`` the classifier's largest class
probability; ``d`` the atom's distance from the predicted class's training atoms --
Mahalanobis in the leading principal components of the standardised features, plus the
residual off those components in units of the class's mean training residual -- and ``R``
the distance within which a fraction ``1 - novelty`` of that class's training atoms lie.
At the default ``threshold`` 0.5, an atom more than twice as far as ``R`` is unknown however
sure the classifier is: a gas shown to a crystal classifier, and also crystals far hotter
than any trained on -- train on the range of conditions to be labelled, or use
``augment_noise`` (Gaussian noise on a copy of each training frame, as the paper's Sec. 3.2).
"""
from __future__ import annotations

import json
import logging
import pickle
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone
from threadpoolctl import threadpool_limits

from descriptors import (Box, Frame, as_frame, first_shell_distance, read_trajectory, write_lammps_dump)
from descriptors.neighbors_map import (iter_neighbors_map)

from ..network.frameloop import FrameLoop, select_frames
from .trusted import TRUSTED_METHODS, trusted_labels

__all__ = ["StructureFeatures", "StructureClassifier", "train_classifier", "classify_trajectory",
           "FEATURE_SETS", "MODELS"]

logger = logging.getLogger(__name__)

FEATURE_SETS = ("neighbors_map", "neighbors_map_image", "persistence", "steinhardt")
MODELS = ("hgb", "rf", "mlp")
_STEINHARDT_L = (4, 6, 8, 10, 12)


# -- features ----------------------------------------------------------------------------------
def _scaled(frame: Frame, nn_distance) -> Frame:
    """The frame with lengths divided by its first-neighbour distance."""
    d = first_shell_distance(frame) if nn_distance is None else float(nn_distance)
    box = Box(frame.box.cell / d, frame.box.origin / d, frame.box.pbc)
    return Frame(frame.positions / d, box, frame.ids, frame.types, frame.timestep)


def _check_sets(feature_sets):
    sets = (feature_sets,) if isinstance(feature_sets, str) else tuple(feature_sets)
    bad = [s for s in sets if s not in FEATURE_SETS]
    if not sets or bad or len(set(sets)) != len(sets):
        raise ValueError(f"feature_sets={feature_sets!r}: give distinct names from {FEATURE_SETS}")
    return sets


class StructureFeatures(BaseEstimator):
    """Per-atom feature matrix of a frame, the same for training and labelling.

    Parameters
    ----------
    feature_sets : sequence of str
        From ``FEATURE_SETS`` (see the module docstring), concatenated in this order.
    nn_distance : float, optional
        First-neighbour distance that lengths are divided by; default: estimated per frame.
    shell_cut : float
        Neighbourhood of persistence and Steinhardt, in first-neighbour distances.
    map_size, map_block : int
        Neighbors Map side and the block of :func:`descriptors.neighbors_map_features`.
    fit_sample : int
        Atoms (over all frames) whose diagrams fix the persistence vectorisation ranges.
    seed : int

    Attributes
    ----------
    slices_ : dict of str to slice
        Columns of each feature set.
    n_features_out_ : int

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> fr = make_lattice("bcc", 3, noise=0.05, seed=0)
    >>> StructureFeatures(["steinhardt"]).fit([fr]).transform(fr).shape
    (54, 10)
    """

    def __init__(self, feature_sets=("neighbors_map", "steinhardt"), *, nn_distance=None,
                 shell_cut=1.82, map_size=32, map_block=8, fit_sample=4000, seed=0):
        self.feature_sets = feature_sets
        self.nn_distance = nn_distance
        self.shell_cut = shell_cut
        self.map_size = map_size
        self.map_block = map_block
        self.fit_sample = fit_sample
        self.seed = seed

    def _check_params(self):
        sets = _check_sets(self.feature_sets)
        if self.nn_distance is not None and not (isinstance(self.nn_distance, Real)
                                                 and self.nn_distance > 0):
            raise ValueError(f"nn_distance must be None or > 0, got nn_distance={self.nn_distance!r}")
        if not isinstance(self.shell_cut, Real) or not 1.0 < self.shell_cut < 5.0:
            raise ValueError(f"shell_cut must be in (1, 5) first-neighbour distances, "
                             f"got shell_cut={self.shell_cut!r}")
        for name in ("map_size", "map_block", "fit_sample"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, Integral) or val < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {name}={val!r}")
        return sets

    def _featureset(self):
        from ..network.featureset import FeatureSet

        sets = [s for s in self.feature_sets_ if s != "neighbors_map_image"]
        config = {"neighbors": {"shell_factor": self.shell_cut},
                  "neighbors_map": {"size": self.map_size, "block": self.map_block},
                  "persistence": {"shell_factor": self.shell_cut, "fit_sample": self.fit_sample},
                  "steinhardt": {"l": list(_STEINHARDT_L)}}
        return FeatureSet(sets or ["steinhardt"], config=config, nn_distance=1.0,
                          steinhardt_both=True, classic=False, seed=self.seed)

    def fit(self, frames, y=None):
        """Fix the column layout and the fitted feature pipeline (cutoffs, persistence ranges)
        on frames rescaled to unit first-neighbour distance."""
        self.feature_sets_ = self._check_params()
        frames = [as_frame(f) for f in ([frames] if isinstance(frames, Frame) else frames)]
        if not frames:
            raise ValueError("frames is empty; give at least one frame to fit on")
        self.features_ = self._featureset().fit([_scaled(f, self.nn_distance) for f in frames])
        if "neighbors_map_image" in self.feature_sets_ and self.features_.map_cut_ is None:
            from descriptors.neighbors_map import default_map_cutoff

            self.features_.map_cut_ = default_map_cutoff(_scaled(frames[0], self.nn_distance),
                                                         self.map_size)
        widths = {"neighbors_map": self.map_block ** 2 + 2 * self.map_size,
                  "neighbors_map_image": self.map_size ** 2, "steinhardt": 2 * len(_STEINHARDT_L)}
        if "persistence" in self.feature_sets_:
            widths["persistence"] = self.features_.vectorizer_.n_features_out_
        start, self.slices_ = 0, {}
        for s in self.feature_sets_:
            self.slices_[s] = slice(start, start + widths[s])
            start += widths[s]
        self.n_features_out_ = start
        return self

    def iter_transform(self, frame, *, chunk: int = 65536):
        """Yield ``(slice of atoms, features (n, n_features_out_) float32)`` block by block.

        Only ``"neighbors_map_image"`` (4 KB per atom) is made block by block; the other
        sets are computed for the whole frame at once, by the fitted feature pipeline.
        """
        if not hasattr(self, "slices_"):
            raise ValueError("StructureFeatures is not fitted; call fit(frames) first")
        f = _scaled(as_frame(frame), self.nn_distance)
        n = f.n_atoms
        if n == 0:
            return
        fs = self.features_
        nl = fs.neighbors(f)
        full = fs.transform(f, nl).sets
        if "neighbors_map_image" in self.slices_:
            mnl = nl.truncate(fs.map_cut_) if fs.map_cut_ < nl.r_cut else nl
            blocks = ((s, im.reshape(len(im), -1))
                      for s, im in iter_neighbors_map(f, mnl, chunk=chunk, size=self.map_size))
        else:
            blocks = ((slice(a, min(n, a + chunk)), None) for a in range(0, n, chunk))
        for atoms, image in blocks:
            x = np.empty((atoms.stop - atoms.start, self.n_features_out_), dtype=np.float32)
            for s, cols in self.slices_.items():
                x[:, cols] = image if s == "neighbors_map_image" else full[s][atoms]
            yield atoms, x

    def transform(self, frame) -> np.ndarray:
        """Features of every atom, (n_atoms, n_features_out_) float32."""
        blocks = [x for _, x in self.iter_transform(frame)]
        return np.vstack(blocks) if blocks else np.zeros((0, self.n_features_out_), np.float32)


# -- classifier --------------------------------------------------------------------------------
def _classifier_model(model, seed, n_jobs):
    if not isinstance(model, str):
        if not hasattr(model, "fit") or not hasattr(model, "predict_proba"):
            raise ValueError(f"model must be one of {MODELS} or a classifier with predict_proba, "
                             f"got model={model!r}")
        est = clone(model)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        return est
    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier
        return HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=seed)
    if model == "rf":
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier(n_estimators=200, min_samples_leaf=2, n_jobs=n_jobs,
                                      random_state=seed)
    if model == "mlp":
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        return make_pipeline(StandardScaler(), MLPClassifier(
            (256, 64), early_stopping=True, max_iter=200, random_state=seed))
    raise ValueError(f"model={model!r}; choose from {MODELS} or pass a scikit-learn classifier")


def _frame_labels(frames, labels):
    """One int64 array per frame (-1 = not used) and default class names."""
    if isinstance(labels, str):
        if labels not in TRUSTED_METHODS:
            raise ValueError(f"labels={labels!r}: a trusted method is one of "
                             f"{sorted(TRUSTED_METHODS)}; or pass one label array per frame")
        return [trusted_labels(f, labels) for f in frames], dict(TRUSTED_METHODS[labels])
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and len(frames) == 1 \
            and len(labels) == frames[0].n_atoms:
        labels = [labels]
    labels = list(labels)
    if len(labels) != len(frames):
        raise ValueError(f"labels has {len(labels)} entries for {len(frames)} frames; give one "
                         "per frame (an int for the whole frame, or an array per atom)")
    out = []
    for t, (fr, lab) in enumerate(zip(frames, labels)):
        arr = np.asarray(lab)
        if arr.ndim == 0:
            arr = np.full(fr.n_atoms, arr)
        if arr.shape != (fr.n_atoms,) or (arr.size and not np.all(arr == np.round(arr))):
            raise ValueError(f"labels[{t}] must be an int or {fr.n_atoms} integers (frame {t} "
                             f"has {fr.n_atoms} atoms), got shape {arr.shape}, dtype {arr.dtype}")
        out.append(arr.astype(np.int64))
    return out, {}


def _augmented(frame, noise, fraction, nn_distance, rng):
    """A copy with Gaussian noise (``noise`` nn distances) on a random ``fraction`` of atoms."""
    d = first_shell_distance(frame) if nn_distance is None else float(nn_distance)
    pos = frame.positions.copy()
    hit = rng.random(frame.n_atoms) < fraction
    pos[hit] += rng.normal(scale=noise * d, size=(int(hit.sum()), 3))
    return Frame(frame.box.wrap(pos), frame.box, frame.ids, frame.types, frame.timestep)


class StructureClassifier(BaseEstimator):
    """Per-atom structure classifier with an ``unknown`` (-1) label; see :func:`train_classifier`.

    Attributes
    ----------
    features_ : StructureFeatures
    model_ : fitted scikit-learn classifier
    classes_ : ndarray of int64
    class_names_ : dict of int to str
    """

    def __init__(self, feature_sets=("neighbors_map", "steinhardt"), *, model="hgb",
                 nn_distance=None, shell_cut=1.82, max_per_class=2000, augment_noise=0.0,
                 augment_fraction=0.33, novelty=0.005, n_components=10, seed=0, n_jobs=1):
        self.feature_sets = feature_sets
        self.model = model
        self.nn_distance = nn_distance
        self.shell_cut = shell_cut
        self.max_per_class = max_per_class
        self.augment_noise = augment_noise
        self.augment_fraction = augment_fraction
        self.novelty = novelty
        self.n_components = n_components
        self.seed = seed
        self.n_jobs = n_jobs

    def _check_params(self):
        _check_sets(self.feature_sets)
        if self.max_per_class is not None and (isinstance(self.max_per_class, bool) or not
                                               isinstance(self.max_per_class, Integral)
                                               or self.max_per_class < 1):
            raise ValueError(f"max_per_class must be None or an integer >= 1, "
                             f"got max_per_class={self.max_per_class!r}")
        for name, lo, hi in (("augment_noise", 0, 1), ("augment_fraction", 0, 1),
                             ("novelty", 0, 1)):
            val = getattr(self, name)
            if not isinstance(val, Real) or not lo <= val <= hi:
                raise ValueError(f"{name} must be a number in [{lo}, {hi}], got {name}={val!r}")
        if isinstance(self.n_components, bool) or not isinstance(self.n_components, Integral) \
                or self.n_components < 1:
            raise ValueError(f"n_components must be an integer >= 1, got {self.n_components!r}")
        if not isinstance(self.seed, Integral):
            raise ValueError(f"seed must be an integer, got seed={self.seed!r}")

    def fit(self, frames, labels, *, class_names=None):
        """Train on ``frames`` (a trajectory or list of frames) and their ``labels``.

        ``labels``: a trusted method name (``TRUSTED_METHODS``), or one entry per frame --
        an int (every atom) or an int array per atom; -1 entries are not used.
        """
        self._check_params()
        frames = [as_frame(f) for f in ([frames] if isinstance(frames, Frame) else frames)]
        if not frames:
            raise ValueError("frames is empty; give at least one labelled frame")
        ys, names = _frame_labels(frames, labels)
        rng = np.random.default_rng(self.seed)
        if self.augment_noise > 0:
            extra = [_augmented(f, self.augment_noise, self.augment_fraction, self.nn_distance, rng)
                     for f in frames]
            frames, ys = frames + extra, ys + ys
        feats = StructureFeatures(self.feature_sets, nn_distance=self.nn_distance,
                                  shell_cut=self.shell_cut, seed=self.seed).fit(frames)
        xs, yk = [], []
        for fr, y in zip(frames, ys):
            rows = []
            for c in np.unique(y[y >= 0]):
                idx = np.flatnonzero(y == c)
                if self.max_per_class is not None and len(idx) > self.max_per_class:
                    idx = rng.choice(idx, self.max_per_class, replace=False)
                rows.append(idx)
            rows = np.sort(np.concatenate(rows)) if rows else np.zeros(0, np.int64)
            for atoms, x in feats.iter_transform(fr):
                sel = rows[(rows >= atoms.start) & (rows < atoms.stop)]
                xs.append(x[sel - atoms.start])
            yk.append(y[rows])
        names = {**names, **(class_names or {})}
        logger.debug("training on %d atoms of %d frames", sum(map(len, yk)), len(frames))
        return self.fit_features(np.vstack(xs), np.concatenate(yk), class_names=names,
                                 features=feats)

    def fit_features(self, X, y, *, class_names=None, features=None):
        """Train on a feature matrix you already have, (n, d), and labels (n,) (-1 skipped)."""
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        self._check_params()
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        if X.ndim != 2 or y.shape != (len(X),) or not np.isfinite(X).all():
            raise ValueError(f"X must be a finite (n, d) matrix and y (n,) labels, got X "
                             f"{X.shape}, y {y.shape}")
        keep = y >= 0
        X, y = X[keep], y[keep].astype(np.int64)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"labels hold {len(self.classes_)} class(es) {self.classes_.tolist()}"
                             "; a classifier needs at least 2")
        with threadpool_limits(limits=self.n_jobs):
            self.model_ = _classifier_model(self.model, int(self.seed), self.n_jobs).fit(X, y)
            self.scaler_ = StandardScaler().fit(X)
            # at least 10 training atoms per principal component in the smallest class
            n_min = int(np.bincount(np.searchsorted(self.classes_, y)).min())
            k = int(max(1, min(self.n_components, X.shape[1], n_min // 10)))
            self.pca_ = PCA(k, random_state=int(self.seed)).fit(self.scaler_.transform(X))
            z = self.pca_.transform(self.scaler_.transform(X))
        # floors: 0.1 % of the mean principal variance, of the total standardised variance
        floor = (1e-3 * float(np.mean(self.pca_.explained_variance_)) + 1e-12, 1e-3 * X.shape[1])
        res = self._residual2(X)
        rng = np.random.default_rng(int(self.seed))
        self.centres_, self.precisions_, self.res_scale_, self.radius2_ = {}, {}, {}, {}
        for c in self.classes_:
            c, zc, rc = int(c), z[y == c], res[y == c]
            # R from out-of-fold distances (2 folds): in-sample ones are too small
            half = rng.permutation(len(zc)) < len(zc) // 2
            oof = [self._class_model(zc[a], rc[a], floor, zc[~a], rc[~a]) for a in (half, ~half)]
            d2 = np.concatenate([o for o in oof if o is not None] or [np.zeros(1)])
            self.radius2_[c] = float(np.quantile(d2, 1.0 - self.novelty)) + 1e-12
            self.centres_[c], self.precisions_[c], self.res_scale_[c] = self._class_model(
                zc, rc, floor)
        self.class_names_ = {int(c): str((class_names or {}).get(int(c), int(c)))
                             for c in self.classes_}
        if features is not None:
            self.features_ = features
        return self

    @staticmethod
    def _class_model(z, res, floor, z_eval=None, res_eval=None):
        """(centre, precision, residual scale) of one class; or the distances of ``z_eval``.

        ``floor = (variance ridge, residual scale floor)``: classes trained on perfect lattices
        alone are point masses.
        """
        from sklearn.covariance import LedoitWolf

        if z_eval is not None and (len(z) < 2 or len(z_eval) == 0):
            return None
        k = z.shape[1]
        cov = LedoitWolf().fit(z).covariance_ if len(z) > 1 else np.zeros((k, k))
        model = (z.mean(axis=0), np.linalg.inv(cov + floor[0] * np.eye(k)),
                 max(float(res.mean()), floor[1]))
        if z_eval is None:
            return model
        diff = z_eval - model[0]
        return np.einsum("ij,jk,ik->i", diff, model[1], diff) + res_eval / model[2]

    def _residual2(self, X):
        """Squared distance of standardised rows from the principal subspace."""
        zs = self.scaler_.transform(np.asarray(X, dtype=np.float64))
        return ((zs - self.pca_.inverse_transform(self.pca_.transform(zs))) ** 2).sum(axis=1)

    def _d2(self, z, res, c):
        diff = z - self.centres_[c]
        return np.einsum("ij,jk,ik->i", diff, self.precisions_[c], diff) + res / self.res_scale_[c]

    def classify_features(self, X, *, threshold: float = 0.5):
        """``(labels int64, confidence float32)`` of feature rows; -1 below ``threshold``."""
        if not hasattr(self, "model_"):
            raise ValueError("StructureClassifier is not fitted; call fit first")
        if not isinstance(threshold, Real) or not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be a number in [0, 1], got threshold={threshold!r}")
        X = np.asarray(X, dtype=np.float32)
        if len(X) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        with threadpool_limits(limits=self.n_jobs):
            proba = self.model_.predict_proba(X)
            z = self.pca_.transform(self.scaler_.transform(X))
            res = self._residual2(X)
        best = np.argmax(proba, axis=1)
        labels = np.asarray(self.model_.classes_)[best].astype(np.int64)
        conf = proba[np.arange(len(X)), best]
        if self.novelty > 0:
            for c in np.unique(labels):
                m = labels == c
                d2 = self._d2(z[m], res[m], int(c))
                conf[m] *= np.minimum(1.0, np.sqrt(self.radius2_[int(c)] / np.maximum(d2, 1e-300)))
        return np.where(conf >= threshold, labels, -1), conf.astype(np.float32)

    def classify(self, frame, *, threshold: float = 0.5):
        """``(labels int64 (n_atoms,), confidence float32 (n_atoms,))`` of one frame."""
        if not hasattr(self, "features_"):
            raise ValueError("classifier was fitted with fit_features and no features=; "
                             "use classify_features, or fit on frames")
        frame = as_frame(frame)
        labels = np.empty(frame.n_atoms, np.int64)
        conf = np.empty(frame.n_atoms, np.float32)
        for atoms, x in self.features_.iter_transform(frame):
            labels[atoms], conf[atoms] = self.classify_features(x, threshold=threshold)
        return labels, conf

    def save(self, path) -> Path:
        """Pickle the fitted classifier (load with :meth:`load`; trusted files only)."""
        path = Path(path)
        path.write_bytes(pickle.dumps(self))
        return path

    @staticmethod
    def load(path) -> "StructureClassifier":
        try:
            obj = pickle.loads(Path(path).read_bytes())
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as err:
            raise ValueError(f"{path}: not a saved StructureClassifier ({err!r})") from err
        if not isinstance(obj, StructureClassifier):
            raise ValueError(f"{path} holds a {type(obj).__name__}, not a StructureClassifier")
        return obj


def train_classifier(frames, labels, *, feature_sets=("neighbors_map", "steinhardt"),
                     model="hgb", class_names=None, **params) -> StructureClassifier:
    """Train a per-atom structure classifier on labelled frames.

    Parameters
    ----------
    frames : Frame, list of Frame, or a trajectory (e.g. ``read_trajectory(path)[0:5]``)
    labels : str or sequence
        A trusted method (``"tenwolde"``, ``"ptm"``, ``"acna"``; applied to ``frames``,
        which should be frames where it is reliable), or one entry per frame: an int (every
        atom of the frame) or an int array (n_atoms,); -1 = not used.
    feature_sets : sequence of str
        From ``FEATURE_SETS``.
    model : {"hgb", "rf", "mlp"} or scikit-learn classifier
        Histogram gradient boosting, random forest, or an MLP (for ``"neighbors_map_image"``).
    class_names : dict of int to str, optional
    **params
        ``nn_distance``, ``shell_cut``, ``max_per_class`` (atoms per class and frame, 2000),
        ``augment_noise`` (Gaussian noise in nn distances on a copy of each frame, on
        ``augment_fraction`` = 0.33 of its atoms, as the paper's Sec. 3.2), ``novelty``
        (fraction of training atoms outside the radius beyond which confidence falls, 0.005;
        0 = no novelty check), ``n_components``,
        ``seed``, ``n_jobs``: see :class:`StructureClassifier`.

    Returns
    -------
    StructureClassifier

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> train = [make_lattice(k, 4, noise=0.04, seed=1) for k in ("fcc", "bcc")]
    >>> clf = train_classifier(train, [0, 1], feature_sets=["steinhardt"], seed=0)
    >>> labels, conf = clf.classify(make_lattice("bcc", 4, noise=0.04, seed=2))
    >>> float((labels == 1).mean())
    1.0
    """
    return StructureClassifier(feature_sets, model=model, **params).fit(
        frames, labels, class_names=class_names)


def classify_trajectory(classifier: StructureClassifier, trajectory, *, frames=None,
                        threshold: float = 0.5, out=None, dump: bool = True,
                        progress: bool = False):
    """Label every atom of every selected frame; optionally write the results to ``out``.

    Parameters
    ----------
    classifier : StructureClassifier
    trajectory : path, Frame, list of Frame, or trajectory object
    frames : slice or sequence of int, optional
        Frames to label (default all).
    threshold : float in [0, 1]
        Atoms with lower confidence get label -1 (unknown).
    out : path, optional
        Directory receiving ``labels.parquet`` (frame, id, label, confidence),
        ``classes.json`` and, with ``dump``, ``labelled.dump`` (LAMMPS dump with ``label``
        and ``confidence`` columns, for OVITO).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        Columns ``frame`` (index in the trajectory), ``id``, ``label``, ``confidence``
        (about 15 bytes per atom and frame).
    """
    import pandas as pd
    if not isinstance(classifier, StructureClassifier):
        raise TypeError(f"classifier must be a StructureClassifier, got {type(classifier).__name__}")
    traj = trajectory if hasattr(trajectory, "__getitem__") and not isinstance(
        trajectory, (str, Path, Frame)) else read_trajectory(trajectory)
    sel = select_frames(len(traj), frames)
    parts = []

    def one(t, fr, _):
        fr = as_frame(fr)
        lab, conf = classifier.classify(fr, threshold=threshold)
        parts.append(pd.DataFrame({"frame": np.full(fr.n_atoms, t, np.int32), "id": fr.ids,
                                   "label": lab.astype(np.int16), "confidence": conf}))
        return fr.with_columns(label=lab, confidence=conf)

    def labelled():
        loop = FrameLoop(traj, sel, progress=progress, desc="classify", skip=())
        for _, fr in loop.run(one):
            yield fr

    if out is not None and dump:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_lammps_dump(out / "labelled.dump", labelled(), columns=["label", "confidence"])
    else:
        for _ in labelled():
            pass
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"frame": np.zeros(0, np.int32), "id": np.zeros(0, np.int64),
         "label": np.zeros(0, np.int16), "confidence": np.zeros(0, np.float32)})
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        table.to_parquet(out / "labels.parquet", index=False)
        names = {"-1": "unknown", **{str(k): v for k, v in classifier.class_names_.items()}}
        (out / "classes.json").write_text(json.dumps(names, indent=1) + "\n")
    return table

