"""Crystallization propensity: for atoms not crystal-like at frame t, P(crystal-like at t + H).

The run teaches itself: targets are crystopo's own labels H frames later (the mask
passed as ``crystal_like``: ``crystopo propensity`` passes the crystalline core of the
crystal-like atoms by default, see :data:`multilayer.app.propensity.TARGETS`); inputs are
present-frame descriptors of the atom, their mean over its
neighbours, the distance to the nearest crystal-like atom, the crystal-like
fraction of its neighbours and its coordination number.  A seeded
:class:`~sklearn.ensemble.HistGradientBoostingClassifier` (or a logistic model)
is trained out of fold over spatial blocks: the box is cut into a grid of
blocks, whole blocks (all their atom-frames) go to one of ``n_splits`` folds
(:class:`~sklearn.model_selection.GroupKFold`), and every atom is scored by the
model that was trained without its block.  Grouped permutation importances (drop
in ROC-AUC when one named group of inputs is shuffled) name the precursors.

Frames stream: per-frame inputs are written to a temporary directory as ``.npy``
files and memory-mapped back; only a row sample (``max_train``) is held to train.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import check_scalar

from descriptors import as_frame, first_shell_distance, neighbor_list

from ..network.frameloop import FrameLoop

__all__ = ["PropensityResult", "WithPast", "crystallization_propensity", "spatial_blocks", "block_folds",
           "distance_to_marked", "check_horizons"]

logger = logging.getLogger(__name__)
_GEOMETRIC = ("distance_to_crystal", "crystal_neighbors", "coordination")


@dataclass
class PropensityResult:
    """Out-of-fold crystallization propensities and how good they are.

    Attributes
    ----------
    table : DataFrame
        One row per (frame, horizon, not-crystal-like atom): ``frame`` (input index),
        ``id``, ``horizon``, ``p_crystal`` (float32), ``target`` (int8: 1/0 crystal-like
        H frames later, -1 where the atom is gone), ``block`` and ``fold``.
    roc_auc : dict {horizon: float or None}
        Over rows with a target (None if only one class occurs).
    importances : dict {horizon: {input group: mean ROC-AUC drop}}
    single_auc : dict {horizon: {input: ROC-AUC}}
        Each input column of a narrow set or a geometric input, used alone as the score
        (distance negated), on the same rows.
    positive_rate : dict {horizon: float}
    feature_names : list of str
        Input columns: ``set[j]`` (``set[pcj]`` for reduced sets), ``nbr:set[j]``, then the
        geometric inputs.
    folds : dict {horizon: list of (train_blocks, test_blocks)}
    train_rows : dict {horizon: list of ndarray}
        Per fold, the rows of ``table`` (restricted to that horizon, positions) used to fit.
    """

    table: pd.DataFrame
    roc_auc: dict
    importances: dict
    single_auc: dict
    positive_rate: dict
    feature_names: list
    folds: dict = field(default_factory=dict)
    train_rows: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"roc_auc": {str(h): v for h, v in self.roc_auc.items()},
                "positive_rate": {str(h): v for h, v in self.positive_rate.items()},
                "single_feature_auc": {str(h): v for h, v in self.single_auc.items()},
                "importances": {str(h): v for h, v in self.importances.items()},
                "n_rows": {str(h): int((self.table["horizon"] == h).sum()) for h in self.roc_auc},
                "feature_names": self.feature_names}


# -- geometry ------------------------------------------------------------------------------
def spatial_blocks(frame, n_blocks=3) -> np.ndarray:
    """Block id of each atom on a grid of ``n_blocks`` cells per box axis (fractional coords).

    Returns
    -------
    blocks : ndarray of shape (n_atoms,), int64, in ``[0, n_blocks**3)``

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> np.bincount(spatial_blocks(make_lattice("sc", 4), 2)).tolist()
    [8, 8, 8, 8, 8, 8, 8, 8]
    """
    n = np.broadcast_to(np.asarray(n_blocks, dtype=np.int64), (3,))
    if np.any(n < 1):
        raise ValueError(f"n_blocks must be >= 1, got n_blocks={n_blocks!r}")
    frame = as_frame(frame)
    s = frame.box.to_fractional(frame.positions)
    s = s - np.floor(s)
    cell = np.minimum((s * n).astype(np.int64), n - 1)
    return (cell[:, 0] * n[1] + cell[:, 1]) * n[2] + cell[:, 2]


def block_folds(blocks, n_splits=5) -> dict:
    """Assign whole blocks to folds (GroupKFold on the blocks' row counts).

    Returns
    -------
    fold_of_block : dict {block id: fold}
    """
    from sklearn.model_selection import GroupKFold

    blocks = np.asarray(blocks, dtype=np.int64)
    uniq = np.unique(blocks)
    k = min(int(n_splits), len(uniq))
    if k < 2:
        raise ValueError(f"need at least 2 spatial blocks for out-of-fold scores, got {len(uniq)}; "
                         "raise n_blocks")
    out = {}
    for f, (_, test) in enumerate(GroupKFold(k).split(blocks, groups=blocks)):
        for b in np.unique(blocks[test]):
            out[int(b)] = f
    return out


def distance_to_marked(frame, marked, max_distance: float) -> np.ndarray:
    """Periodic distance from every atom to the nearest marked atom (itself excluded), capped.

    Returns
    -------
    distance : ndarray of shape (n_atoms,), float64; ``max_distance`` where none is nearer.
    """
    import freud

    frame = as_frame(frame)
    marked = np.asarray(marked, dtype=bool)
    out = np.full(frame.n_atoms, float(max_distance))
    if not marked.any():
        return out
    box, rot = frame.box.canonical()
    pos = frame.positions @ rot if not frame.box.is_orthogonal else frame.positions
    pos = box.wrap(pos) - (box.origin + box.cell.sum(axis=0) / 2)
    r_max = min(float(max_distance), 0.499 * float(np.min(box.widths[box.pbc], initial=np.inf)))
    fbox = freud.box.Box.from_matrix(box.cell.T)
    fbox.periodic = [bool(p) for p in box.pbc]
    pts = fbox.wrap(pos)
    idx = np.flatnonzero(marked)
    nl = freud.locality.AABBQuery(fbox, pts[idx]).query(
        pts, {"r_max": r_max, "num_neighbors": 2}).toNeighborList()
    q = np.asarray(nl.query_point_indices)
    d = np.asarray(nl.distances, dtype=np.float64)
    self_hit = idx[np.asarray(nl.point_indices)] == q
    q, d = q[~self_hit], d[~self_hit]
    np.minimum.at(out, q, d)
    return out


def _frame_inputs(frame, nl, crystal, feats, d1, max_distance):
    """(n, p) float32: own features, neighbour means, geometric inputs (``nl``: first shell)."""
    counts = nl.counts
    qi = nl.query_indices()
    cols = []
    if feats is not None and feats.shape[1]:
        sums = np.zeros(feats.shape, dtype=np.float64)
        np.add.at(sums, qi, feats[nl.indices])
        cols += [feats, (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)]
    cn = np.zeros(frame.n_atoms)
    np.add.at(cn, qi, crystal[nl.indices])
    dist = distance_to_marked(frame, crystal, max_distance * d1) / d1
    geo = np.stack([dist, cn / np.maximum(counts, 1), counts], axis=1).astype(np.float32)
    return np.concatenate(cols + [geo], axis=1)


def _stack_features(item, feature_sets, t):
    if item is None:
        return None
    if isinstance(item, dict):
        missing = [s for s in feature_sets if s not in item]
        if missing:
            raise ValueError(f"feature_sets {missing} not in features[{t}] (has {sorted(item)})")
        parts = [np.asarray(item[s], dtype=np.float32).reshape(len(item[s]), -1)
                 for s in feature_sets]
        return np.concatenate(parts, axis=1) if parts else None
    return np.asarray(item, dtype=np.float32).reshape(len(item), -1)


def _names(widths, set_names, reduced):
    names, groups = [], []
    for prefix in ("", "nbr:"):
        for s, w in zip(set_names, widths):
            for j in range(w):
                col = f"pc{j}" if s in reduced else str(j)
                names.append(f"{prefix}{s}[{col}]" if w > 1 else f"{prefix}{s}")
                # narrow sets: one importance per column; wide (reduced) sets: one per set
                groups.append(f"{prefix}{s}" if s in reduced else names[-1])
    names += list(_GEOMETRIC)
    groups += list(_GEOMETRIC)
    return names, groups


# -- model ---------------------------------------------------------------------------------
def _propensity_model(model, seed):
    from sklearn.base import clone

    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # small trees, slow learning and leaves of >= 1 % of the rows (set in _fit): the
        # targets are rare (1-3 % of the rows on the validation suite's runs) and 31-leaf
        # trees at rate 0.1 overfit them, scoring below their own best input (the
        # neighbours' q6) on held-out rows; see bench_propensity_ptm.py
        return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=7,
                                              l2_regularization=1.0, early_stopping=False,
                                              random_state=seed)
    if model == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    if hasattr(model, "fit") and hasattr(model, "predict_proba"):
        return clone(model)
    raise ValueError(f"model must be 'hgb', 'logistic' or a classifier with predict_proba, "
                     f"got model={model!r}")


class _Constant:
    def __init__(self, p):
        self.p = float(p)

    def predict_proba(self, x):
        return np.column_stack([np.full(len(x), 1 - self.p), np.full(len(x), self.p)])


def _fit(model, seed, x, y):
    if len(y) == 0 or y.min() == y.max():
        return _Constant(float(y[0]) if len(y) else 0.0)
    est = _propensity_model(model, seed)
    if model == "hgb":
        est.set_params(min_samples_leaf=max(20, len(y) // 100))
    return est.fit(x, y)


def _auc(y, p):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(y) and 0 < y.sum() < len(y) else None


def _permutation_importance(models, x, y, fold, groups, seed, n_repeats=3):
    """Mean ROC-AUC drop per group of columns, shuffled jointly, on each fold's held-out rows."""
    rng = np.random.default_rng(seed)
    uniq = list(dict.fromkeys(groups))
    cols = {g: [j for j, gg in enumerate(groups) if gg == g] for g in uniq}
    drops = {g: [] for g in uniq}
    for f, m in models.items():
        sel = fold == f
        base = _auc(y[sel], m.predict_proba(x[sel])[:, 1])
        if base is None:
            continue
        for g in uniq:
            for _ in range(n_repeats):
                xp = x[sel].copy()
                perm = rng.permutation(len(xp))
                xp[:, cols[g]] = xp[perm][:, cols[g]]
                drops[g].append(base - _auc(y[sel], m.predict_proba(xp)[:, 1]))
    return {g: float(np.mean(v)) for g, v in drops.items() if v}


def crystallization_propensity(frames, crystal_like, features=None, *, horizon=5,
                               feature_sets=None, frame_index=None, r_cut=None, n_blocks=3,
                               n_splits=5, model="hgb", max_train=30_000, max_distance=4.0,
                               max_width=8, importance=True, seed=0,
                               progress=False) -> PropensityResult:
    """Out-of-fold P(crystal-like at t + H) for every atom not crystal-like at t.

    Parameters
    ----------
    frames : sequence of Frame (read once each, in order)
    crystal_like : sequence of bool arrays (n_t,)
        Row-aligned with ``frames`` (rows in id order, as Frames are).
    features : sequence of arrays (n_t, ...) or of mappings {name: array}, optional
        Present-frame per-atom descriptors, row-aligned; None: geometric inputs only.
    horizon : int or sequence of int
        H, in input frames: the target of frame ``frame_index[t]`` is the frame whose
        index is ``frame_index[t] + H``.
    feature_sets : list of str, optional
        Names to use when ``features`` are mappings (default: all of frame 0's).
    frame_index : sequence of int, optional
        Input index of each frame (default 0, 1, ...).
    r_cut : float, optional
        Neighbourhood cutoff (default 1.35 first-neighbour distances of frame 0).
    n_blocks : int or 3 ints
        Spatial blocks per box axis; n_splits : folds over the blocks.
    model : {"hgb", "logistic"} or a scikit-learn classifier
    max_train : int
        Rows sampled (seeded) to fit each fold's model.
    max_distance : float
        Cap of the distance to the nearest crystal-like atom, in first-neighbour distances.
    max_width : int or None
        Feature sets wider than this are z-scored and projected on their ``max_width``
        leading principal axes (fitted on 5 frames spread over the run) before use; their
        importance is reported per set.  None: use every column.
    importance : bool
        Grouped permutation importances (ROC-AUC drop), on each fold's held-out rows.
    seed : int

    Returns
    -------
    PropensityResult
    """
    horizons = check_horizons(horizon)
    check_scalar(n_splits, "n_splits", Integral, min_val=2)
    check_scalar(max_train, "max_train", Integral, min_val=10)
    check_scalar(seed, "seed", Integral, min_val=0)
    _propensity_model(model, seed)
    n = len(frames)
    if len(crystal_like) != n or (features is not None and len(features) != n):
        raise ValueError(f"frames ({n}), crystal_like ({len(crystal_like)}) and features "
                         f"({'-' if features is None else len(features)}) must have equal length")
    index = np.arange(n) if frame_index is None else np.asarray(frame_index, dtype=np.int64)
    if len(index) != n or np.any(np.diff(index) <= 0):
        raise ValueError("frame_index must hold one increasing input index per frame")
    pos = {int(i): t for t, i in enumerate(index)}
    for h in horizons:
        if not any(int(i) + h in pos for i in index):
            raise ValueError(f"horizon={h} reaches beyond the trajectory: no frame has a frame "
                             f"{h} later (input frames {index[0]}..{index[-1]})")
    first = features[0] if features is not None else None
    if isinstance(first, dict):
        feature_sets = list(first) if feature_sets is None else list(feature_sets)
        unknown = [s for s in feature_sets if s not in first]
        if unknown:
            raise ValueError(f"unknown feature set name(s) {unknown} in feature_sets; "
                             f"available: {sorted(first)}")
    elif feature_sets is not None:
        raise ValueError("feature_sets needs features given as mappings {name: array}")
    from threadpoolctl import threadpool_limits

    reduce, widths, set_names, reduced = (None, [], [], set()) if features is None else \
        _fit_reducer(features, feature_sets, max_width, seed)
    with tempfile.TemporaryDirectory(prefix="crystopo-propensity-") as tmp:
        rows = _input_pass(frames, crystal_like, features, feature_sets, r_cut, n_blocks,
                           max_distance, Path(tmp), progress, reduce)
        names, groups = _names(widths, set_names, reduced)
        n_rows = sum(int(r["keep"].sum()) for r in rows)
        # small fits: OpenMP start-up per tree costs more than it saves (10x on a busy machine)
        with threadpool_limits(limits=1 if min(n_rows, max_train) < 20_000 else None):
            results = [_one_horizon(h, rows, index, pos, model, n_splits, max_train, groups,
                                    importance, seed) for h in horizons]
    table = pd.concat([r[0] for r in results], ignore_index=True)
    get = lambda k: {h: r[k] for h, r in zip(horizons, results)}  # noqa: E731
    return PropensityResult(table, get(1), get(2), get(3), get(4), names, get(5), get(6))


class WithPast:
    """Per-frame inputs plus the atom's recent past, for :func:`crystallization_propensity`.

    ``with_past[t]`` is ``features[t]`` plus, for every set ``k`` of ``names``, ``past:k``:
    the causal average of the atom's ``k`` over frames ``t - window + 1 .. t`` (the frames it
    is present in, matched by id), and ``past:crystalline``: the fraction of those frames in
    which it was crystal-like.  Nothing after t is read.

    Parameters
    ----------
    features : sequence, ``features[t]`` a dict of row-aligned arrays (with ``names``)
    ids : sequence of int arrays, ``ids[t]`` the atom ids of frame t's rows
    crystal_like : sequence of bool arrays
    names : list of str
    window : int >= 1

    Examples
    --------
    >>> f = [{"q": np.array([1.0, 2.0])}, {"q": np.array([3.0, 6.0])}]
    >>> p = WithPast(f, [np.array([5, 7]), np.array([7, 5])],
    ...              [np.array([True, False]), np.array([False, False])], ["q"], 2)
    >>> p[1]["past:q"].tolist(), p[1]["past:crystalline"].tolist()  # atom 7, then atom 5
    ([[2.5], [3.5]], [0.0, 0.5])
    """

    def __init__(self, features, ids, crystal_like, names, window):
        if isinstance(window, bool) or not isinstance(window, Integral) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        self.features, self.ids, self.crystal = features, ids, crystal_like
        self.names, self.window = list(names), int(window)

    def __len__(self):
        return len(self.features)

    @property
    def past_names(self) -> list:
        return [f"past:{k}" for k in self.names] + ["past:crystalline"]

    def __getitem__(self, t):
        now = self.features[t]
        ids = np.asarray(self.ids[t])
        acc = {k: np.zeros(np.shape(now[k]), dtype=np.float64) for k in self.names}
        hits = np.zeros(len(ids))
        cry = np.zeros(len(ids))
        for u in range(max(0, t - self.window + 1), t + 1):
            f = now if u == t else self.features[u]
            uid = np.asarray(self.ids[u])
            order = np.argsort(uid, kind="stable")
            pos = order[np.searchsorted(uid, ids, sorter=order).clip(0, len(uid) - 1)]
            ok = uid[pos] == ids
            for k in self.names:
                acc[k][ok] += np.asarray(f[k], dtype=np.float64)[pos[ok]]
            hits += ok
            cry[ok] += np.asarray(self.crystal[u], dtype=bool)[pos[ok]]
        h = np.maximum(hits, 1)
        past = {f"past:{k}": (v / h.reshape((-1,) + (1,) * (v.ndim - 1))).reshape(len(ids), -1)
                for k, v in acc.items()}
        return dict(now) | past | {"past:crystalline": cry / h}


def check_horizons(horizon):
    hs = [horizon] if isinstance(horizon, Integral) or np.ndim(horizon) == 0 else list(horizon)
    if not hs or any(isinstance(h, bool) or not isinstance(h, Integral) or h < 1 for h in hs):
        raise ValueError(f"horizon must be an integer >= 1 (or a list of them), got "
                         f"horizon={horizon!r}")
    return sorted({int(h) for h in hs})


def _fit_reducer(features, feature_sets, max_width, seed):
    """Per wide feature set (more than ``max_width`` columns): z-score + PCA to ``max_width``,
    fitted on up to 5 frames spread over the run.  Linear, so neighbour means commute with it.

    Returns (reduce: callable (n, D) -> (n, D'), widths', names of reduced sets)."""
    n = len(features)
    picks = sorted(set(np.linspace(0, n - 1, min(n, 5)).round().astype(int).tolist()))
    first = features[0]
    if isinstance(first, dict):
        set_names = list(feature_sets)
        widths = [int(np.prod(np.shape(first[s])[1:], dtype=np.int64)) for s in set_names]
    else:
        set_names, widths = ["features"], [int(np.prod(np.shape(first)[1:], dtype=np.int64))]
    if max_width is None or all(w <= max_width for w in widths):
        return None, widths, set_names, set()
    x = np.concatenate([_stack_features(features[t], feature_sets, t) for t in picks])
    rng = np.random.default_rng(seed)
    x = x[np.sort(rng.choice(len(x), min(len(x), 20000), replace=False))].astype(np.float64)
    maps, new_widths, reduced, start = [], [], set(), 0
    for s, w in zip(set_names, widths):
        block = slice(start, start + w)
        start += w
        if w <= max_width:
            maps.append((block, None, None, None))
            new_widths.append(w)
            continue
        mu, sd = x[:, block].mean(0), x[:, block].std(0)
        sd = np.where(sd > 1e-12, sd, 1.0)
        _, _, vt = np.linalg.svd((x[:, block] - mu) / sd, full_matrices=False)
        comps = vt[:max_width].T
        comps *= np.where(comps[np.abs(comps).argmax(axis=0), np.arange(comps.shape[1])] < 0,
                          -1, 1)
        maps.append((block, mu, sd, comps))
        new_widths.append(comps.shape[1])
        reduced.add(s)

    def reduce(v):
        out = [v[:, b] if c is None else ((v[:, b] - m) / d) @ c for b, m, d, c in maps]
        return np.concatenate(out, axis=1).astype(np.float32)
    return reduce, new_widths, set_names, reduced


def _input_pass(frames, crystal_like, features, feature_sets, r_cut, n_blocks, max_distance,
                tmp, progress, reduce=None):
    d1 = first_shell_distance(as_frame(frames[0]))
    r_cut = 1.35 * d1 if r_cut is None else float(r_cut)

    def inputs_of(t, frame, nl):
        frame = as_frame(frame)
        crystal = np.asarray(crystal_like[t], dtype=bool)
        if crystal.shape != (frame.n_atoms,):
            raise ValueError(f"crystal_like[{t}] has shape {crystal.shape}, frame {t} has "
                             f"{frame.n_atoms} atoms")
        item = None if features is None else features[t]
        x = _stack_features(item, feature_sets, t)
        if x is not None and x.shape[0] != frame.n_atoms:
            raise ValueError(f"features[{t}] has {x.shape[0]} rows, frame {t} has "
                             f"{frame.n_atoms} atoms")
        if x is not None and not np.isfinite(x).all():
            raise ValueError(f"features[{t}] contain NaN or inf")
        if x is not None and reduce is not None:
            x = reduce(x)
        inputs = _frame_inputs(frame, nl, crystal, x, d1, max_distance)
        if not np.isfinite(inputs).all():
            raise ValueError(f"features[{t}] contain NaN or inf")
        keep = ~crystal
        path = tmp / f"x{t}.npy"
        np.save(path, np.ascontiguousarray(inputs[keep]))
        return {"ids": frame.ids, "crystal": crystal, "keep": keep, "x": path,
                "blocks": spatial_blocks(frame, n_blocks)[keep]}

    loop = FrameLoop(frames, range(len(frames)), progress=progress, desc="propensity inputs",
                     neighbors=lambda f: neighbor_list(f, r_cut=r_cut), skip=())
    return [row for _, row in loop.run(inputs_of)]


def _one_horizon(h, rows, index, pos, model, n_splits, max_train, groups, importance, seed):
    rng = np.random.default_rng([seed, h])
    parts = []
    for t, i in enumerate(index):
        if int(i) + h not in pos:
            continue
        r, later = rows[t], rows[pos[int(i) + h]]
        ids = r["ids"][r["keep"]]
        if len(later["ids"]) == 0:
            target = np.full(len(ids), -1, dtype=np.int8)
        else:
            j = np.minimum(np.searchsorted(later["ids"], ids), len(later["ids"]) - 1)
            found = later["ids"][j] == ids
            target = np.where(found, later["crystal"][j], -1).astype(np.int8)
        parts.append((t, ids, target, r["blocks"]))
    frame_col = np.concatenate([np.full(len(p[1]), index[p[0]], np.int64) for p in parts])
    tpos = np.concatenate([np.full(len(p[1]), p[0], np.int64) for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    target = np.concatenate([p[2] for p in parts])
    blocks = np.concatenate([p[3] for p in parts])
    local = np.concatenate([np.arange(len(p[1])) for p in parts])
    fold_of = block_folds(blocks, n_splits)
    fold = np.array([fold_of[int(b)] for b in blocks], dtype=np.int64) if len(blocks) else blocks
    n_folds = max(fold_of.values()) + 1
    # training sample: rows with a target, drawn without regard to fold, then split by fold
    known = np.flatnonzero(target >= 0)
    sample = np.sort(rng.choice(known, min(len(known), max_train), replace=False))
    xs = _gather(rows, tpos[sample], local[sample])
    ys = target[sample].astype(np.int64)
    models, train_rows, folds = {}, [], []
    for f in range(n_folds):
        tr = fold[sample] != f
        models[f] = _fit(model, seed, xs[tr], ys[tr])
        train_rows.append(sample[tr])
        folds.append((sorted(set(blocks[sample[tr]].tolist())),
                      sorted(b for b, ff in fold_of.items() if ff == f)))
    p = np.empty(len(ids), dtype=np.float32)
    for t in np.unique(tpos):
        sel = np.flatnonzero(tpos == t)
        x = np.load(rows[t]["x"], mmap_mode="r")[local[sel]]
        for f in np.unique(fold[sel]):
            m = fold[sel] == f
            p[sel[m]] = models[int(f)].predict_proba(np.asarray(x[m]))[:, 1]
    ok = target >= 0
    auc = _auc(target[ok], p[ok])
    single = {}
    cols = [j for j, g in enumerate(groups) if groups.count(g) == 1]
    known_all = np.flatnonzero(ok)
    x_one = _gather(rows, tpos[known_all], local[known_all], cols)
    for c, j in enumerate(cols):        # one-column inputs alone, on every row with a target
        score = -x_one[:, c] if groups[j] == "distance_to_crystal" else x_one[:, c]
        single[groups[j]] = _auc(target[known_all], score)
    imp = {}
    if importance and auc is not None:
        held = rng.choice(len(sample), min(len(sample), 5000), replace=False)
        imp = _permutation_importance(models, xs[held], ys[held], fold[sample][held], groups,
                                      seed)
        imp = dict(sorted(imp.items(), key=lambda kv: -kv[1]))
    table = pd.DataFrame({"frame": frame_col, "id": ids, "horizon": np.full(len(ids), h, np.int64),
                          "p_crystal": p, "target": target, "block": blocks, "fold": fold})
    rate = float(target[ok].mean()) if ok.any() else None
    logger.info("horizon %d: %d rows, positive rate %s, ROC-AUC %s", h, len(ids), rate, auc)
    return table, auc, imp, single, rate, folds, train_rows


def _gather(rows, tpos, local, cols=None):
    out = None
    for t in np.unique(tpos):
        sel = np.flatnonzero(tpos == t)
        x = np.load(rows[t]["x"], mmap_mode="r")
        x = x[local[sel]] if cols is None else x[local[sel]][:, cols]
        if out is None:
            out = np.empty((len(tpos), x.shape[1]), dtype=np.float32)
        out[sel] = x
    return out if out is not None else np.zeros((0, 0), np.float32)
