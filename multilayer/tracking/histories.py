"""What each atom went through, from labels consistent through time (matched by atom id,
as for :func:`multilayer.tracking.lifecycle.community_events`).

* :func:`atom_histories` -- the (frames x atoms) label matrix;
* :func:`transition_matrix` -- moves between communities at a lag;
* :func:`lifetimes` -- how long atoms stay in a community;
* :func:`precursors` -- what the final crystal's atoms were before they joined it.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import check_scalar

from descriptors.arrays import unique_sorted

from .lifecycle import check_labels

__all__ = ["atom_histories", "transition_matrix", "lifetimes", "precursors"]


def atom_histories(labels, ids=None, *, fill=-1):
    """Per-atom label sequences: a (frames x atoms) matrix, atoms ordered by id.

    Returns
    -------
    history : ndarray of shape (n_frames, n_unique_atoms), int64
        ``history[t, k]`` is the label of atom ``atom_ids[k]`` in frame t, ``fill`` where absent.
    atom_ids : ndarray of shape (n_unique_atoms,), int64

    Examples
    --------
    >>> h, ids = atom_histories([np.array([3, 4]), np.array([5])],
    ...                         [np.array([1, 2]), np.array([2])])
    >>> h.tolist(), ids.tolist()
    ([[3, 4], [-1, 5]], [1, 2])
    """
    frames = check_labels(labels, ids)
    atom_ids = unique_sorted(np.concatenate([i for i, _ in frames]))
    history = np.full((len(frames), len(atom_ids)), fill, dtype=np.int64)
    for t, (i, lab) in enumerate(frames):
        history[t, np.searchsorted(atom_ids, i)] = lab
    return history, atom_ids


def transition_matrix(labels, ids=None, *, lag=1, communities=None, normalize=True):
    """Counts (or probabilities) of an atom going from community a at t to b at t + lag.

    Summed over all frame pairs (t, t + lag) and the atoms present in both with
    non-negative labels.

    Returns
    -------
    matrix : ndarray of shape (n_communities, n_communities), float64
        Row a, column b; rows sum to 1 when ``normalize`` (rows with no atoms stay 0).
    communities : ndarray of shape (n_communities,), int64
        The labels of the rows and columns (all non-negative labels seen, by default).

    Examples
    --------
    >>> m, c = transition_matrix(np.array([[0, 0, 1], [0, 1, 1]]))
    >>> m.tolist(), c.tolist()
    ([[0.5, 0.5], [0.0, 1.0]], [0, 1])
    """
    check_scalar(lag, "lag", Integral, min_val=1)
    frames = check_labels(labels, ids)
    if communities is None:
        communities = unique_sorted(np.concatenate([lab[lab >= 0] for _, lab in frames]))
    communities = np.asarray(communities, dtype=np.int64)
    k = len(communities)
    counts = np.zeros(k * k, dtype=np.float64)
    for t in range(len(frames) - lag if k else 0):
        (ia, la), (ib, lb) = frames[t], frames[t + lag]
        _, xa, xb = np.intersect1d(ia, ib, assume_unique=True, return_indices=True)
        a, b = la[xa], lb[xb]
        pa = np.minimum(np.searchsorted(communities, a), k - 1)
        pb = np.minimum(np.searchsorted(communities, b), k - 1)
        ok = (communities[pa] == a) & (communities[pb] == b)
        counts += np.bincount(pa[ok] * k + pb[ok], minlength=k * k)
    matrix = counts.reshape(k, k)
    if normalize:
        total = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, total, out=np.zeros_like(matrix), where=total > 0)
    return matrix, communities


def lifetimes(labels, ids=None):
    """Runs of consecutive frames each atom spends in one community (local-structure lifetimes).

    Returns
    -------
    runs : DataFrame
        ``id`` (int64), ``community`` (int64), ``start`` (first frame), ``length``
        (frames), ``censored`` (bool: the run touches the first or last frame, so its
        true length is unknown).  Absent atoms and negative labels end a run.

    Examples
    --------
    >>> runs = lifetimes(np.array([[0, 1], [0, 1], [2, 1]]))
    >>> runs.values.tolist()
    [[0, 0, 0, 2, True], [0, 2, 2, 1, True], [1, 1, 0, 3, True]]
    >>> runs[~runs.censored].groupby("community").length.mean().size  # all censored here
    0
    """
    history, atom_ids = atom_histories(labels, ids)
    n_frames, n_atoms = history.shape
    x = np.ascontiguousarray(history.T)
    change = np.ones(x.shape, dtype=bool)
    change[:, 1:] = x[:, 1:] != x[:, :-1]
    starts = np.flatnonzero(change.ravel())
    length = np.diff(np.append(starts, x.size))
    atom, start = np.divmod(starts, n_frames)
    comm = x.ravel()[starts]
    keep = comm >= 0
    atom, start, length, comm = atom[keep], start[keep], length[keep], comm[keep]
    return pd.DataFrame({"id": atom_ids[atom], "community": comm, "start": start.astype(np.int64),
                         "length": length.astype(np.int64),
                         "censored": (start == 0) | (start + length == n_frames)})


def precursors(labels, ids=None, *, crystal=None, mask=None, liquid=None):
    """Which communities the atoms of the final crystal went through before joining it.

    The atoms considered are those crystal-like in the last frame.  Each joins the
    crystal at the start of its final uninterrupted crystal-like run; the frames
    before that are its history.

    Parameters
    ----------
    labels, ids : as in :func:`community_events`
    crystal : array-like of int, optional
        Crystal-like communities (an atom is crystal-like when its label is one of them).
    mask : sequence of bool arrays of shape (n_atoms_t,), optional
        Instead of ``crystal``: crystal-like per atom and frame (e.g. ``atom_nuclei >= 0``
        from :func:`~multilayer.tracking.nuclei.track_nuclei`, or ten Wolde solid-like atoms).
    liquid : array-like of int, optional
        Liquid communities; default: the most populous community of frame 0.

    Returns
    -------
    table : DataFrame, one row per community
        ``community``; ``time_fraction``: mean over atoms of the fraction of their
        pre-join frames spent in it; ``first_nonliquid``: fraction of atoms whose first
        non-liquid label before joining is it; ``last_before``: fraction whose label
        just before joining is it.  ``table.attrs["n_atoms"]`` counts the atoms.

    Examples
    --------
    >>> lab = np.array([[0, 0, 0], [1, 0, 0], [2, 2, 0]])
    >>> precursors(lab, crystal=[2]).values.tolist()
    [[0.0, 0.75, 0.0, 0.5], [1.0, 0.25, 0.5, 0.5], [2.0, 0.0, 0.0, 0.0]]
    """
    if (crystal is None) == (mask is None):
        raise ValueError("pass exactly one of crystal (community ids) and mask (per-frame bools)")
    frames = check_labels(labels, ids)
    frames_labels = [lab for _, lab in frames]
    history, atom_ids = atom_histories(frames_labels, [i for i, _ in frames])
    if crystal is not None:
        is_crystal = np.isin(history, np.asarray(crystal, dtype=np.int64))
    else:
        if len(mask) != len(frames):
            raise ValueError(f"mask has {len(mask)} frames but labels has {len(frames)}")
        m = [np.asarray(x, dtype=bool) for x in mask]
        is_crystal = atom_histories([x.astype(np.int64) for x in m], [i for i, _ in frames],
                                    fill=0)[0].astype(bool)
    if liquid is None:
        first = frames_labels[0][frames_labels[0] >= 0]
        liquid = [int(np.bincount(first).argmax())] if first.size else []
    sel = is_crystal[-1]
    h, c = history[:, sel], is_crystal[:, sel]
    n_frames, n_atoms = h.shape
    last_non = n_frames - 1 - np.argmax(~c[::-1], axis=0)  # last frame not crystal-like
    join = np.where((~c).any(axis=0), last_non + 1, 0)
    pre = (np.arange(n_frames)[:, None] < join[None, :]) & (h >= 0)
    comm = unique_sorted(history[history >= 0])
    k = len(comm)
    n_pre = pre.sum(axis=0)
    has = n_pre > 0
    n_has = max(int(has.sum()), 1)
    w = np.where(pre, 1.0 / np.maximum(n_pre, 1)[None, :], 0.0)
    pos = np.searchsorted(comm, np.where(pre, h, comm[0] if k else 0))
    time_frac = np.bincount(pos[pre], weights=w[pre], minlength=k) / n_has
    nonliq = pre & ~np.isin(h, np.asarray(liquid, dtype=np.int64))
    anyn = nonliq.any(axis=0)
    first_lab = h[np.argmax(nonliq, axis=0), np.arange(n_atoms)][anyn]
    first_frac = np.bincount(np.searchsorted(comm, first_lab), minlength=k) / n_has
    before = h[np.maximum(join - 1, 0), np.arange(n_atoms)]
    okb = (join > 0) & (before >= 0)
    last_frac = np.bincount(np.searchsorted(comm, before[okb]), minlength=k) / n_has
    table = pd.DataFrame({"community": comm, "time_fraction": time_frac,
                          "first_nonliquid": first_frac, "last_before": last_frac})
    table.attrs["n_atoms"] = int(n_atoms)
    return table
