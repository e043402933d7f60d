"""Plots for notebooks: diagrams, barcodes, persistence images.  Each returns its Axes.

matplotlib is imported when a function is called, never at ``import tda``.
"""
from __future__ import annotations

import numpy as np

from .diagrams import Diagrams

__all__ = ["plot_diagram", "plot_barcode", "plot_persistence_image", "plot_diagrams_overlay"]

_COLORS = ("tab:blue", "tab:orange", "tab:green")


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _scale_label(diagrams):
    return "radius" if diagrams.complex == "alpha" else "edge length"


def _dims(diagrams, dims):
    return tuple(range(diagrams.max_dim + 1)) if dims is None else tuple(np.atleast_1d(dims))


def plot_diagram(diagrams: Diagrams, atom: int, *, dims=None, ax=None):
    """Persistence diagram of one atom: one colour per dimension, essential classes on a
    dashed line marked inf above the finite points.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from descriptors import make_lattice
    >>> from tda import local_persistence
    >>> ax = plot_diagram(local_persistence(make_lattice("fcc", 3), r_cut=1.2), 0)
    >>> ax.get_xlabel()
    'birth (radius)'
    """
    ax = _axes(ax)
    b, d, k = diagrams.of(atom)
    finite = np.isfinite(d)
    top = float(d[finite].max()) if finite.any() else 1.0
    inf_y = top * 1.1 if top > 0 else 1.0
    for q in _dims(diagrams, dims):
        sel = k == q
        ax.scatter(b[sel & finite], d[sel & finite], s=14, color=_COLORS[q % 3], label=f"H{q}")
        if np.any(sel & ~finite):
            ax.scatter(b[sel & ~finite], np.full((sel & ~finite).sum(), inf_y), s=14,
                       marker="^", color=_COLORS[q % 3])
    ax.axhline(inf_y, ls="--", lw=0.8, color="gray")
    ax.text(0, inf_y, " inf", va="bottom", color="gray")
    ax.plot([0, inf_y], [0, inf_y], lw=0.8, color="k")
    unit = _scale_label(diagrams)
    ax.set(xlabel=f"birth ({unit})", ylabel=f"death ({unit})", title=f"atom {atom}")
    ax.legend(loc="lower right")
    return ax


def plot_barcode(diagrams: Diagrams, atom: int, *, dims=None, ax=None):
    """Barcode of one atom: one bar per pair, grouped by dimension; essential bars end in an
    arrow at the right edge."""
    ax = _axes(ax)
    b, d, k = diagrams.of(atom)
    finite = np.isfinite(d)
    right = (float(d[finite].max()) if finite.any() else 1.0) * 1.1
    y = 0
    for q in _dims(diagrams, dims):
        idx = np.flatnonzero(k == q)
        for i in idx:
            end = d[i] if finite[i] else right
            ax.plot([b[i], end], [y, y], color=_COLORS[q % 3], lw=2,
                    label=f"H{q}" if i == idx[0] else None)
            if not finite[i]:
                ax.plot(end, y, marker=">", color=_COLORS[q % 3])
            y += 1
    ax.set(xlabel=f"filtration ({_scale_label(diagrams)})", ylabel="pair", yticks=[],
           title=f"atom {atom}")
    ax.legend(loc="lower right")
    return ax


def plot_persistence_image(diagrams: Diagrams, atoms=0, *, dim: int = 1, vectorizer=None,
                           resolution: int = 20, sigma: float = 1.0, ax=None):
    """Persistence image of one atom, or the mean image of a set of atoms.

    Parameters
    ----------
    atoms : int, array of int or bool
    vectorizer : DiagramVectorizer, optional
        A fitted ``method="image"`` vectoriser whose ranges to use (so images of
        different frames share axes); default: ranges of ``diagrams``.
    """
    from .vectorize import DiagramVectorizer

    if vectorizer is None:
        vectorizer = DiagramVectorizer("image", dims=(dim,), resolution=resolution,
                                       sigma=sigma).fit(diagrams)
    elif vectorizer.method != "image":
        raise ValueError(f"vectorizer.method must be 'image', got {vectorizer.method!r}")
    if dim not in vectorizer.dims_:
        raise ValueError(f"dim={dim} is not among the vectorizer's dims {vectorizer.dims_}")
    sub = diagrams.select(np.atleast_1d(atoms))
    feats = vectorizer.transform(sub).mean(axis=0)
    res = vectorizer.resolution
    sizes = [res if q == 0 else res * res for q in vectorizer.dims_]
    slot = vectorizer.dims_.index(dim)
    start = int(np.sum(sizes[:slot]))
    lo, hi = vectorizer.ranges_[slot]
    ax = _axes(ax)
    unit = _scale_label(diagrams)
    if dim == 0:
        centres = (np.arange(res) + 0.5) * (hi - lo) / res
        ax.plot(centres, feats[start:start + res])
        ax.set(xlabel=f"persistence ({unit})", ylabel="intensity")
    else:
        img = feats[start:start + res * res].reshape(res, res)
        ax.imshow(img, origin="lower", extent=(lo, hi, 0, hi - lo), aspect="auto", cmap="magma")
        ax.set(xlabel=f"birth ({unit})", ylabel=f"persistence ({unit})")
    n = len(np.atleast_1d(sub.offsets)) - 1
    ax.set_title(f"H{dim} persistence image" + (f", mean of {n} atoms" if n > 1 else ""))
    return ax


def plot_diagrams_overlay(diagrams, labels=None, *, dim: int = 1, max_points: int = 5000,
                          seed=0, ax=None):
    """Pooled diagrams of several structures (e.g. fcc, hcp, liquid) overlaid in one plot.

    Parameters
    ----------
    diagrams : sequence of Diagrams
    labels : sequence of str, optional
    max_points : int
        Pairs drawn per structure (a seeded random subset).
    """
    ax = _axes(ax)
    diagrams = list(diagrams)
    labels = [f"set {i}" for i in range(len(diagrams))] if labels is None else list(labels)
    if len(labels) != len(diagrams):
        raise ValueError(f"{len(labels)} labels for {len(diagrams)} diagram sets")
    rng = np.random.default_rng(seed)
    top = 0.0
    for i, (dg, lab) in enumerate(zip(diagrams, labels)):
        pts = dg.pooled(dim)
        pts = pts[np.isfinite(pts[:, 1])]
        if len(pts) > max_points:
            pts = pts[rng.choice(len(pts), max_points, replace=False)]
        if len(pts):
            top = max(top, float(pts[:, 1].max()))
        ax.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.3, color=f"C{i}", label=lab)
    ax.plot([0, top], [0, top], lw=0.8, color="k")
    unit = _scale_label(diagrams[0]) if diagrams else "filtration"
    ax.set(xlabel=f"birth ({unit})", ylabel=f"death ({unit})", title=f"H{dim}")
    ax.legend(loc="lower right", markerscale=3)
    return ax
