"""What each community is: sizes through time, mean descriptors, classic signatures.

One row per community, so that a person can name it ("fcc-like, q6 0.5, 90 %
solid-like, grows from frame 40").  Frames are streamed: per-frame sums only.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse

from .features import as_feature_frames

__all__ = ["summary"]


def _onehot(lab, n_comm):
    keep = lab >= 0
    rows = lab[keep]
    return sparse.csr_matrix((np.ones(len(rows)), (rows, np.flatnonzero(keep))),
                             shape=(n_comm, len(lab))), keep


def summary(labels, *, ids=None, atom_ids=None, network=None, features=None,
            feature_sets=None, per_atom=None) -> pd.DataFrame:
    """Summarise every community of a (n_frames, n_atoms) labelling.

    Parameters
    ----------
    labels : ndarray (n_frames, n_atoms), int
        As returned by :func:`multilayer.network.leiden` (-1: atom absent).
    ids : sequence of int arrays (n_t,), optional
        Ids of the rows of ``features`` and ``per_atom`` in each frame (default:
        ``network.frame_ids``, else ``atom_ids`` in every frame).
    atom_ids : ndarray (n_atoms,), int, optional
        Column ids of ``labels`` (default ``network.atom_ids``, else 0..n_atoms-1).
    network : MultilayerNetwork, optional
        Supplies ``ids`` and ``atom_ids``.
    features : sequence of arrays (n_t, ...) or of mappings {set: array}, optional
        Mean descriptors per community (raw values, e.g. the mean Neighbors Map).
    feature_sets : list of str, optional
        Sets to average when frames are mappings (default: all).
    per_atom : mapping {name: sequence of (n_t,) arrays}, optional
        Scalar per-atom quantities (e.g. ``{"q6": ..., "solid": ...}``); booleans give
        fractions.

    Returns
    -------
    table : DataFrame indexed by community
        ``n_atom_frames``, ``first_frame``, ``last_frame``, ``n_frames_present``,
        ``mean_size``, ``max_size``, ``sizes`` (ndarray (n_frames,) per row),
        ``mean_<set>`` (ndarray of the set's per-atom shape) and ``mean_<name>`` (float).

    Examples
    --------
    >>> labels = np.array([[0, 0, 1], [0, 1, 1]])
    >>> q6 = [np.array([0.5, 0.4, 0.1]), np.array([0.5, 0.2, 0.1])]
    >>> t = summary(labels, per_atom={"q6": q6})
    >>> t["sizes"][1].tolist(), round(float(t.loc[1, "mean_q6"]), 3)
    ([1, 2], 0.133)
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer array (n_frames, n_atoms), got shape "
                         f"{labels.shape} dtype {labels.dtype}")
    n_frames, n_atoms = labels.shape
    if network is not None:
        atom_ids = network.atom_ids if atom_ids is None else atom_ids
        ids = network.frame_ids if ids is None else ids
    atom_ids = np.arange(n_atoms) if atom_ids is None else np.asarray(atom_ids)
    if len(atom_ids) != n_atoms:
        raise ValueError(f"atom_ids has {len(atom_ids)} entries, labels has {n_atoms} columns")
    if ids is None:
        ids = [atom_ids] * n_frames
    if len(ids) != n_frames:
        raise ValueError(f"ids has {len(ids)} frames, labels has {n_frames}")
    n_comm = int(labels.max(initial=-1)) + 1
    sizes = np.stack([np.bincount(row[row >= 0], minlength=n_comm) for row in labels], axis=1)
    table = pd.DataFrame({"n_atom_frames": sizes.sum(axis=1)})
    present = sizes > 0
    table["first_frame"] = np.where(present.any(axis=1), present.argmax(axis=1), -1)
    table["last_frame"] = np.where(present.any(axis=1),
                                   n_frames - 1 - present[:, ::-1].argmax(axis=1), -1)
    table["n_frames_present"] = present.sum(axis=1)
    table["mean_size"] = sizes.sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    table["max_size"] = sizes.max(axis=1, initial=0)
    table["sizes"] = list(sizes.astype(np.int64))
    counts = np.maximum(table["n_atom_frames"].to_numpy(), 1)[:, None]
    if features is not None:
        frames = as_feature_frames(features, ids, feature_sets)
        if frames.n_frames != n_frames:
            raise ValueError(f"features has {frames.n_frames} frames, labels has {n_frames}")
        sums = np.zeros((n_comm, frames.n_features))
        for t in range(n_frames):
            oh, keep = _onehot(_row_labels(labels, atom_ids, frames.ids[t], t), n_comm)
            sums += oh @ frames.raw(t).astype(np.float64)
        means = sums / counts
        names = frames.feature_sets or ("features",)
        shapes = _set_shapes(features[0], frames)
        start = 0
        for name, width, shape in zip(names, frames.set_widths, shapes):
            block = means[:, start:start + width]
            table[f"mean_{name}"] = [row.reshape(shape) for row in block]
            start += width
    if per_atom is not None:
        if not isinstance(per_atom, Mapping):
            raise ValueError("per_atom must be a mapping {name: per-frame arrays}")
        for name, seq in per_atom.items():
            if len(seq) != n_frames:
                raise ValueError(f"per_atom[{name!r}] has {len(seq)} frames, labels has "
                                 f"{n_frames}")
            tot = np.zeros(n_comm)
            for t in range(n_frames):
                v = np.asarray(seq[t], dtype=np.float64).ravel()
                if len(v) != len(ids[t]) or not np.isfinite(v).all():
                    raise ValueError(f"per_atom[{name!r}][{t}] must hold {len(ids[t])} finite "
                                     f"values, got {len(v)}")
                oh, _ = _onehot(_row_labels(labels, atom_ids, ids[t], t), n_comm)
                tot += oh @ v
            table[f"mean_{name}"] = tot / counts[:, 0]
    table.index.name = "community"
    return table


def _row_labels(labels, atom_ids, frame_ids, t):
    cols = np.searchsorted(atom_ids, frame_ids)
    if np.any(cols >= len(atom_ids)) or np.any(atom_ids[np.minimum(cols, len(atom_ids) - 1)]
                                               != frame_ids):
        raise ValueError(f"ids[{t}] holds ids that are not among the label columns (atom_ids)")
    return labels[t, cols]


def _set_shapes(first, frames):
    if isinstance(first, Mapping):
        return [np.shape(first[s])[1:] for s in frames.feature_sets]
    return [np.shape(first)[1:]]
