"""Routes to the crystal by structure name: what the final crystal's atoms were before they
joined it, and the frame-to-frame transitions between named structures.

The report's answer to "which structures are precursors": :func:`route_summary` puts
:func:`~multilayer.tracking.histories.precursors` and
:func:`~multilayer.tracking.histories.transition_matrix` in the structures' names, on every
atom of small runs and on a seeded sample of atom ids of large ones (the per-atom histories
are a dense frames x atoms table).
"""
from __future__ import annotations

import numpy as np

from descriptors.arrays import unique_sorted

from .histories import precursors, transition_matrix
from .lifecycle import check_labels

__all__ = ["route_summary", "plot_transitions", "ROUTE_MAX_ROWS"]

ROUTE_MAX_ROWS = 20_000_000     # (frame, atom) rows held by the histories; past it, sampled


def route_summary(labels, ids, crystal, names, *, max_rows=ROUTE_MAX_ROWS, seed=0) -> dict:
    """Precursors and transitions of a labelled run, by structure name (JSON-ready).

    Parameters
    ----------
    labels, ids : per-frame label and atom-id arrays (as for ``community_events``)
    crystal : sequence of int
        The crystal-like labels.
    names : sequence of str
        ``names[label]``.
    max_rows : int
        Frames x atoms held at most: past it, a seeded sample of atom ids is followed.
    seed : int

    Returns
    -------
    dict with
        ``atoms``: atoms followed (``sampled_from``: how many there were, when sampled);
        ``precursors``: per name, ``time_fraction`` (mean share of an atom's frames before it
        joined the final crystal spent in it), ``first_nonliquid`` and ``last_before``
        (fractions of those atoms whose first non-liquid / last structure before joining it
        was), for the atoms crystal-like in the last frame (``n_crystal_atoms``);
        ``transitions``: ``names`` and ``matrix`` (row: structure at t, column: at t + 1, rows
        sum to 1) and ``counts`` (atom moves per row).

    Examples
    --------
    >>> lab = [np.array([0, 0, 0, 0]), np.array([0, 2, 2, 0]), np.array([1, 1, 1, 0])]
    >>> r = route_summary(lab, [np.arange(4)] * 3, crystal=[1], names=["liquid", "fcc", "ico"])
    >>> r["precursors"]["ico"]["last_before"], r["transitions"]["matrix"][2]
    (0.6667, [0.0, 1.0, 0.0])
    """
    frames = check_labels(labels, ids)
    names = [str(n) for n in names]
    all_ids = unique_sorted(np.concatenate([i for i, _ in frames])) if frames else np.zeros(0, np.int64)
    out = {"atoms": int(len(all_ids))}
    if len(frames) * len(all_ids) > max_rows:
        keep = max(1, int(max_rows) // max(1, len(frames)))
        chosen = np.sort(np.random.default_rng(seed).choice(all_ids, keep, replace=False))
        frames = [(i[np.isin(i, chosen)], lab[np.isin(i, chosen)]) for i, lab in frames]
        out.update(atoms=int(keep), sampled_from=int(len(all_ids)))
    lab, idl = [x for _, x in frames], [i for i, _ in frames]
    crystal = [int(c) for c in crystal]
    seen = unique_sorted(np.concatenate([x[x >= 0] for x in lab])) if lab else np.zeros(0, np.int64)
    liquid = [k for k in seen if names[k] == "liquid"] or None
    if crystal and np.isin(lab[-1], crystal).any():
        table = precursors(lab, idl, crystal=crystal, liquid=liquid)
        out["n_crystal_atoms"] = int(table.attrs["n_atoms"])
        out["precursors"] = {
            names[int(r.community)]: {"time_fraction": round(float(r.time_fraction), 4),
                                      "first_nonliquid": round(float(r.first_nonliquid), 4),
                                      "last_before": round(float(r.last_before), 4)}
            for r in table.itertuples() if int(r.community) not in crystal}
    else:
        out["n_crystal_atoms"], out["precursors"] = 0, {}
    if len(lab) > 1:
        counts, comm = transition_matrix(lab, idl, normalize=False)
        total = counts.sum(axis=1)
        prob = np.divide(counts, total[:, None], out=np.zeros_like(counts), where=total[:, None] > 0)
        out["transitions"] = {"names": [names[int(c)] for c in comm],
                              "matrix": [[round(float(v), 4) for v in row] for row in prob],
                              "counts": [int(v) for v in total]}
    return out


def plot_transitions(summary: dict, ax=None):
    """Heat map of ``route_summary(...)["transitions"]`` (log colour scale: the diagonal, atoms
    staying, dominates); the per-step probabilities are written in the cells."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    tr = summary["transitions"]
    m = np.asarray(tr["matrix"], dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * len(m) + 2.5, 1.0 * len(m) + 1.5))
    shown = np.where(m > 0, m, np.nan)
    im = ax.imshow(shown, norm=LogNorm(vmin=max(1e-4, np.nanmin(shown) if np.isfinite(shown).any()
                                                else 1e-4), vmax=1.0), cmap="viridis")
    ax.set_xticks(range(len(m)), tr["names"], rotation=45, ha="right")
    ax.set_yticks(range(len(m)), [f"{n} ({c:,})" for n, c in zip(tr["names"], tr["counts"])])
    for a in range(len(m)):
        for b in range(len(m)):
            if m[a, b] > 0:
                r, g, bl, _ = im.cmap(im.norm(m[a, b]))
                ax.text(b, a, f"{m[a, b]:.3f}", ha="center", va="center", fontsize=7,
                        color="k" if 0.299 * r + 0.587 * g + 0.114 * bl > 0.5 else "w")
    ax.set_xlabel("structure at t + 1")
    ax.set_ylabel("structure at t (atom moves)")
    ax.figure.colorbar(im, ax=ax, label="P(t → t + 1)")
    return ax
