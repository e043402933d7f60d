"""Comparing labelings: weighted adjusted Rand index and best-matching accuracy.

Labels are compared on the atoms present in both (entries >= 0); -1 marks an
absent atom, as in every ``(n_frames, n_atoms)`` label array of crystopo.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["adjusted_rand", "contingency", "matched_accuracy", "match_labels"]


def _present(a, b, weight):
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"labelings have different shapes {np.shape(a)} and {np.shape(b)}")
    w = np.ones(len(a)) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    keep = (a >= 0) & (b >= 0)
    return a[keep], b[keep], w[keep]


def contingency(a, b, weight=None):
    """Weighted contingency table of two labelings (absent entries, < 0, ignored).

    Returns
    -------
    table : ndarray (n_labels_a, n_labels_b), float64
    labels_a, labels_b : ndarray, int64
    """
    a, b, w = _present(a, b, weight)
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    table = np.zeros((len(ua), len(ub)))
    np.add.at(table, (ia, ib), w)
    return table, ua.astype(np.int64), ub.astype(np.int64)


def adjusted_rand(a, b, weight=None) -> float:
    """Adjusted Rand index (Hubert & Arabie), optionally with per-entry weights.

    With ``weight=None`` it equals :func:`sklearn.metrics.adjusted_rand_score`; weights
    count an entry (e.g. a microstate node) as that many atoms.

    Examples
    --------
    >>> adjusted_rand([0, 0, 1, 1], [5, 5, 2, 2])
    1.0
    """
    table, _, _ = contingency(a, b, weight)
    n = table.sum()
    if n <= 1:
        return 1.0
    comb = lambda x: x * (x - 1) / 2.0   # noqa: E731 (real-valued "n choose 2")
    s_ij = comb(table).sum()
    s_a, s_b = comb(table.sum(axis=1)).sum(), comb(table.sum(axis=0)).sum()
    expected = s_a * s_b / comb(n)
    top = 0.5 * (s_a + s_b)
    if top == expected:                  # both labelings trivial (one cluster or singletons)
        return 1.0
    return float((s_ij - expected) / (top - expected))


def matched_accuracy(labels, truth, weight=None) -> float:
    """Fraction of entries whose label equals the truth after the best one-to-one matching.

    Hungarian matching on the contingency table; unmatched labels count as errors.

    Examples
    --------
    >>> matched_accuracy([1, 1, 0, 0, 2], [0, 0, 1, 1, 1])
    0.8
    """
    table, _, _ = contingency(labels, truth, weight)
    if table.size == 0:
        return 1.0
    r, c = linear_sum_assignment(table, maximize=True)
    return float(table[r, c].sum() / table.sum())


def match_labels(labels, reference) -> np.ndarray:
    """Rename ``labels`` to the ``reference`` labels they overlap most, frame by frame.

    Parameters
    ----------
    labels, reference : ndarray (n_frames, n_atoms), int (-1: absent)
        E.g. per-frame baseline labels and multilayer labels of the same atoms.

    Returns
    -------
    matched : ndarray (n_frames, n_atoms), int64
        Per frame, each label is renamed to the reference label it is matched to by
        the Hungarian algorithm on the overlap counts; labels left unmatched (more
        clusters than reference labels in that frame) get fresh labels above
        ``reference.max()``; absent entries stay -1.

    Examples
    --------
    >>> match_labels([[7, 7, 3]], [[0, 0, 1]]).tolist()
    [[0, 0, 1]]
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=np.int64))
    reference = np.atleast_2d(np.asarray(reference, dtype=np.int64))
    if labels.shape != reference.shape:
        raise ValueError(f"labels.shape {labels.shape} != reference.shape {reference.shape}")
    out = np.full(labels.shape, -1, dtype=np.int64)
    fresh = int(reference.max(initial=-1)) + 1
    for t in range(len(labels)):
        table, ul, ur = contingency(labels[t], reference[t])
        new = {}
        if table.size:
            r, c = linear_sum_assignment(table, maximize=True)
            new = {int(ul[i]): int(ur[j]) for i, j in zip(r, c)}
        lut_keys = np.unique(labels[t][labels[t] >= 0])
        for lab in lut_keys:
            if int(lab) not in new:
                new[int(lab)] = fresh
                fresh += 1
            out[t, labels[t] == lab] = new[int(lab)]
    return out
