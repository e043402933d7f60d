"""How many structures: a resolution scan of the anchored structure labels, judged by stability.

:func:`~multilayer.network.structures.fit_structures` grows one community from every
reference anchor and, at a CPM ``resolution`` above 0, leaves parts of descriptor space that
no reference describes in communities of their own (``other-1``, ``other-2``, ...).  How many
of those are structures and how many are an artefact of one codebook is a question of
evidence: a structure that is really there comes back whatever the seed and whichever part of
the run is analysed.  :func:`scan_resolutions` fits the labels at each resolution

* with every seed of ``seeds`` (codebook, sample and Leiden seeded alike) and measures the
  mean pairwise adjusted Rand index (ARI) of the per-atom labels across seeds
  (``seed_ari``), and
* when ``frame_split``, once more on the second half of the frames only (first seed) and
  measures the ARI of those labels with the all-frames labels of the first seed on the
  frames both fits contain (``split_ari``): a structure seen only because of the first half,
  or a split that depends on which frames feed the codebook, lowers it.

``stability`` is the smaller of the two.  :func:`choose_resolution` takes the largest number of
communities that is stable (see its rule), :func:`plot_scan` draws the scan.

Cost: ``len(resolutions) * (len(seeds) + frame_split)`` calls of ``fit_structures`` (each
builds its own codebook): with the defaults 24 fits, so ``analyze`` runs it only on request
(``[labels] scan = true``).  ARIs are computed on at most ``max_rows`` (frame, atom) rows drawn
with a seeded generator; only those rows of every fit's labels are kept.
"""
from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .structures import fit_structures

__all__ = ["SCAN_RESOLUTIONS", "STABILITY_THRESHOLD", "ScanRow", "scan_resolutions",
           "choose_resolution", "scan_table", "plot_scan"]

logger = logging.getLogger(__name__)

SCAN_RESOLUTIONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
STABILITY_THRESHOLD = 0.9


@dataclass(frozen=True)
class ScanRow:
    """The structure labels at one resolution.

    Attributes
    ----------
    resolution : float
    n_communities : int
        Structures present in the labels of the first seed's all-frames fit.
    names : tuple of str
        Their names (``fit_structures``' canonical order).
    n_communities_seeds : tuple of int
        Structures present in each seed's fit (order of ``seeds``).
    seed_ari : float or None
        Mean ARI over pairs of seeds; None with a single seed.
    split_ari : float or None
        ARI of the second-half fit with the all-frames fit on the second half; None when
        ``frame_split`` is off or there is a single frame.
    stability : float
        The smaller of ``seed_ari`` and ``split_ari`` (those measured).
    seconds : float
        Wall time of this resolution's fits.
    """

    resolution: float
    n_communities: int
    names: tuple
    n_communities_seeds: tuple
    seed_ari: float | None
    split_ari: float | None
    stability: float
    seconds: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["names"] = list(self.names)
        d["n_communities_seeds"] = list(self.n_communities_seeds)
        return d


class _FrameRange(Sequence):
    """Frames ``start..`` of a lazy sequence, read on access (no copy of the features)."""

    def __init__(self, source, start):
        self.source, self.start = source, int(start)

    def __len__(self):
        return len(self.source) - self.start

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(len(self)))]
        if not -len(self) <= t < len(self):
            raise IndexError(t)
        return self.source[self.start + (t % len(self))]


def _pick(sizes, max_rows, rng) -> list:
    """Row indices per frame of a uniform draw of at most ``max_rows`` pooled rows (sorted)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    if total <= max_rows:
        return [np.arange(n) for n in sizes]
    flat = np.sort(rng.choice(total, size=max_rows, replace=False))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [flat[(flat >= a) & (flat < b)] - a for a, b in zip(bounds[:-1], bounds[1:])]


def _take(labels, picks, first=0) -> np.ndarray:
    return np.concatenate([np.asarray(labels[first + t])[p] for t, p in enumerate(picks)])


def _present(labels) -> list:
    return sorted({int(v) for lab in labels for v in np.unique(lab)})


def scan_resolutions(features, ids, references, *, resolutions=SCAN_RESOLUTIONS, seeds=(0, 1, 2),
                     feature_sets=None, frame_split=True, max_rows=200_000, subsample_seed=0,
                     **fit_kwargs) -> list:
    """Fit the anchored structure labels at each resolution with several seeds; measure how
    many structures there are and how stable they are.

    Parameters
    ----------
    features, ids, references, feature_sets : as for
        :func:`~multilayer.network.structures.fit_structures` (``features`` may be lazy; it is
        read once per fit)
    resolutions : sequence of float >= 0
        CPM resolutions, scanned in increasing order (duplicates dropped).
    seeds : sequence of int
        One all-frames fit per seed and resolution (``fit_structures(seed=...)``).
    frame_split : bool
        Also fit the second half of the frames (first seed) and compare it with the
        all-frames fit on those frames.  Needs at least two frames (ignored otherwise).
    max_rows : int
        ARIs use at most this many (frame, atom) rows, a uniform draw seeded by
        ``subsample_seed`` (the same rows for every fit).
    **fit_kwargs
        Passed on to ``fit_structures`` (``n_microstates``, ``n_components``,
        ``flow_weight``, ...; not ``resolution`` or ``seed``).

    Returns
    -------
    list of :class:`ScanRow`, one per resolution, increasing resolution.  Same input and
    seeds, same rows (``seconds`` aside).
    """
    from sklearn.metrics import adjusted_rand_score

    for key in ("resolution", "seed"):
        if key in fit_kwargs:
            raise TypeError(f"scan_resolutions sets {key!r} itself: pass resolutions=/seeds=")
    res_list = sorted({float(r) for r in np.atleast_1d(np.asarray(resolutions, dtype=float))})
    if not res_list or not all(np.isfinite(r) and r >= 0 for r in res_list):
        raise ValueError(f"resolutions must be a non-empty list of finite numbers >= 0, got "
                         f"{resolutions!r}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds!r}")
    if int(max_rows) < 2:
        raise ValueError(f"max_rows must be >= 2, got {max_rows!r}")
    n_frames = len(features)
    if isinstance(ids, np.ndarray) and ids.ndim == 1:
        ids = [ids] * n_frames
    ids = list(ids)
    split = bool(frame_split) and n_frames >= 2
    if len(seeds) < 2 and not split:
        raise ValueError("nothing to measure stability with: pass at least two seeds or "
                         "frame_split=True with at least two frames")
    half = n_frames // 2
    sizes = [len(i) for i in ids]
    picks_all = _pick(sizes, int(max_rows), np.random.default_rng(subsample_seed))
    picks_half = _pick(sizes[half:], int(max_rows), np.random.default_rng(subsample_seed + 1))
    rows = []
    for res in res_list:
        t0 = time.perf_counter()
        kept, counts, first = [], [], None
        for k, seed in enumerate(seeds):
            model, labels = fit_structures(features, ids, references, feature_sets=feature_sets,
                                           resolution=res, seed=seed, **fit_kwargs)
            present = _present(labels)
            counts.append(len(present))
            kept.append(_take(labels, picks_all))
            if k == 0:
                first = (model, present, _take(labels, picks_half, half) if split else None)
            del labels
        aris = [adjusted_rand_score(a, b) for a, b in itertools.combinations(kept, 2)]
        seed_ari = float(np.mean(aris)) if aris else None
        split_ari = None
        if split:
            _, lab_half = fit_structures(_FrameRange(features, half), ids[half:], references,
                                         feature_sets=feature_sets, resolution=res,
                                         seed=seeds[0], **fit_kwargs)
            split_ari = float(adjusted_rand_score(first[2], _take(lab_half, picks_half)))
        stability = min(v for v in (seed_ari, split_ari) if v is not None)
        model, present, _ = first
        row = ScanRow(res, len(present), tuple(model.names[i] for i in present), tuple(counts),
                      seed_ari, split_ari, float(stability), time.perf_counter() - t0)
        logger.info("structure scan: resolution %g, %d structures (%s), seed ARI %s, split ARI "
                    "%s, %.1f s", res, row.n_communities, ", ".join(row.names),
                    "n/a" if seed_ari is None else f"{seed_ari:.3f}",
                    "n/a" if split_ari is None else f"{split_ari:.3f}", row.seconds)
        rows.append(row)
    return rows


def _rows(scan) -> list:
    """Scan rows as dicts (accepts :class:`ScanRow` or the dicts of :func:`scan_table`)."""
    return [r.to_dict() if isinstance(r, ScanRow) else dict(r) for r in scan]


def choose_resolution(scan, threshold=STABILITY_THRESHOLD):
    """The resolution whose structures the evidence supports.

    Rule: among the rows whose ``stability`` (the smaller of the seed ARI and the split ARI)
    is at least ``threshold`` (0.9), the one with the **largest number of communities**; ties
    go to the **smallest resolution**.  More structures are only kept when they come back
    whatever the seed and whichever half of the run is analysed; among equally many, the
    smallest resolution is the least fragmented graph cut.  When no row reaches the threshold,
    the most stable row (ties: fewer communities, then the smallest resolution) -- the caller
    can tell from its ``stability``.

    Parameters
    ----------
    scan : list of :class:`ScanRow` (or their dicts)

    Returns
    -------
    The chosen row (the same type as the input's rows).

    Examples
    --------
    >>> rows = [{"resolution": 0.0, "n_communities": 3, "stability": 1.0},
    ...         {"resolution": 0.05, "n_communities": 4, "stability": 0.97},
    ...         {"resolution": 0.1, "n_communities": 4, "stability": 0.95},
    ...         {"resolution": 0.2, "n_communities": 7, "stability": 0.6}]
    >>> choose_resolution(rows)["resolution"]
    0.05
    """
    scan = list(scan)
    if not scan:
        raise ValueError("the scan is empty")
    d = _rows(scan)
    ok = [i for i, r in enumerate(d) if r["stability"] >= threshold]
    if ok:
        best = min(ok, key=lambda i: (-d[i]["n_communities"], d[i]["resolution"]))
    else:
        best = min(range(len(d)), key=lambda i: (-d[i]["stability"], d[i]["n_communities"],
                                                  d[i]["resolution"]))
    return scan[best]


def scan_table(scan, threshold=STABILITY_THRESHOLD) -> list:
    """The scan as a list of JSON-ready dicts, ``chosen`` marking :func:`choose_resolution`."""
    d = _rows(scan)
    chosen = choose_resolution(d, threshold)
    return [r | {"chosen": r is chosen} for r in d]


def plot_scan(scan, *, threshold=STABILITY_THRESHOLD, ax=None):
    """Number of communities (left axis) and the seed and split stabilities (right axis)
    against the resolution; the chosen resolution (:func:`choose_resolution`) is marked.

    The resolutions are drawn evenly spaced (the scan's own points, 0 included), labelled with
    their values.  ``scan``: rows of :func:`scan_resolutions` or :func:`scan_table`.
    Returns the Axes.
    """
    import matplotlib.pyplot as plt

    d = sorted(_rows(scan), key=lambda r: r["resolution"])
    if not d:
        raise ValueError("the scan is empty")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    x = np.arange(len(d))
    chosen = choose_resolution(d, threshold)
    ax.plot(x, [r["n_communities"] for r in d], "o-", color="C0", label="structures")
    ax.set_ylabel("structures (communities)", color="C0")
    ax.set_xticks(x, [f"{r['resolution']:g}" for r in d])
    ax.set_xlabel("CPM resolution")
    top = max(r["n_communities"] for r in d)
    ax.set_ylim(0, top + 1)
    ax.yaxis.get_major_locator().set_params(integer=True)
    twin = ax.twinx()
    nan = float("nan")
    for key, style, color, label in (("seed_ari", "s--", "C1", "ARI across seeds"),
                                     ("split_ari", "^:", "C2", "ARI all frames vs 2nd half")):
        y = [nan if r.get(key) is None else r[key] for r in d]
        if not all(np.isnan(y)):
            twin.plot(x, y, style, color=color, label=label)
    twin.axhline(threshold, color="0.6", lw=0.8, label=f"stability {threshold:g}")
    twin.set_ylim(-0.05, 1.05)
    twin.set_ylabel("stability (ARI)")
    i = d.index(chosen)
    ax.axvline(x[i], color="C3", lw=1.2, alpha=0.7)
    weak = "" if chosen["stability"] >= threshold else f" (stability < {threshold:g})"
    ax.annotate(f"chosen: {chosen['n_communities']} at {chosen['resolution']:g}{weak}",
                (x[i], top + 0.5), color="C3", ha="center" if 0 < i < len(d) - 1 else
                ("left" if i == 0 else "right"), fontsize=8)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    twin.legend(handles, [h.get_label() for h in handles], loc="lower left", fontsize=8)
    return ax
