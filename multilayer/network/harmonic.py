"""Harmonic assignment of microstates to reference structures, and its interpolation to
atoms.

The anchored structure model (:mod:`multilayer.network.structures`) joins the codebook's
microstates in one graph with an anchor node per reference kind.  Each microstate's kind
comes from the random walk on that graph (:func:`anchor_probabilities`, the harmonic function
with the anchors as boundary); each atom's from the probabilities of its two nearest
microstates, weighted by inverse distance (:func:`nearest_weight`,
:func:`interpolated_labels`).  Microstates that no reference describes are kept out of
the anchors (:func:`novel_microstates`).  Plain numpy and scipy: no graph library, no state.
"""
from __future__ import annotations

import numpy as np

__all__ = ["anchor_probabilities", "nearest_weight", "interpolated_labels", "novel_microstates"]


def anchor_probabilities(weights, n_free: int) -> np.ndarray:
    """Absorption probabilities of a random walk on a weighted graph whose last nodes are
    anchors: row i gives, for a walk started at free node i (``i < n_free``) that steps to a
    neighbour with probability proportional to the edge weight, the probability that the
    first anchor it reaches is each of them.

    This is the harmonic function with the anchors as boundary (Zhu, Ghahramani & Lafferty,
    ICML 2003): the unique minimiser of the Dirichlet energy sum w_ij (f_i - f_j)^2 with
    f fixed to one-hot on the anchors, i.e. the solution of ``L_ff F = W_fa``.  Unlike a
    partition found by moving nodes between communities (Leiden on a multiway cut, a
    non-convex problem with many local optima), it is unique and changes continuously with
    the weights, so a microstate between two structures is not thrown to one side or the
    other by the seed or by which frames built the graph.

    Parameters
    ----------
    weights : scipy sparse or ndarray (n, n), symmetric, >= 0
        Nodes ``n_free ..`` are the anchors.
    n_free : int

    Returns
    -------
    p : ndarray (n_free, n - n_free), float64
        Rows sum to 1; rows of free nodes that no path joins to an anchor are NaN.

    Examples
    --------
    A path a - x - y - b with anchors a and b (the last two nodes): x is twice as likely
    to reach a first as b.

    >>> w = np.zeros((4, 4))
    >>> for i, j in [(0, 2), (0, 1), (1, 3)]:
    ...     w[i, j] = w[j, i] = 1.0
    >>> anchor_probabilities(w, 2).round(3).tolist()
    [[0.667, 0.333], [0.333, 0.667]]
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import splu

    w = sparse.csr_matrix(weights, dtype=np.float64)
    n = w.shape[0]
    if w.shape != (n, n) or not 0 <= n_free <= n:
        raise ValueError(f"weights must be square with at least n_free = {n_free} rows, got "
                         f"{w.shape}")
    n_anchor = n - n_free
    out = np.full((n_free, n_anchor), np.nan)
    if n_free == 0 or n_anchor == 0:
        return out
    _, comp = connected_components(w, directed=False)
    reached = np.isin(comp[:n_free], comp[n_free:])   # free nodes an anchor's component holds
    free = np.flatnonzero(reached)
    if not len(free):
        return out
    wf = w[free]
    lap = sparse.diags(np.asarray(wf.sum(axis=1)).ravel()) - wf[:, free]
    rhs = wf[:, n_free:].toarray()
    p = splu(sparse.csc_matrix(lap)).solve(rhs)
    p = np.clip(p, 0.0, None)
    out[free] = p / p.sum(axis=1, keepdims=True)
    return out


def nearest_weight(d1_sq, d2_sq) -> np.ndarray:
    """Inverse-distance weight of each row's nearest centre against its second-nearest,
    ``d2 / (d1 + d2)`` in [0.5, 1] from the squared distances
    (:func:`~multilayer.network.graph.assign_microstates` with ``distances=True``),
    quantised to uint8 (``round(255 w)``): a fit keeps one byte per atom and frame, and a
    later :meth:`~multilayer.network.structures.StructureModel.predict` of the same rows
    gives the same labels."""
    d1 = np.sqrt(np.asarray(d1_sq, dtype=np.float32))
    d2 = np.sqrt(np.maximum(np.asarray(d2_sq, dtype=np.float32), d1 * d1))
    total = d1 + d2
    w = np.divide(d2, total, out=np.ones_like(d1), where=total > 0)
    return np.rint(255.0 * w).astype(np.uint8)


def interpolated_labels(a, a2, weight, microstate_label, probability, kind_labels):
    """Per-row labels from the harmonic probabilities interpolated between the two nearest
    microstates.

    A row whose nearest microstate ``a`` and second-nearest ``a2`` both belong to anchored
    structures takes the kind with the largest ``w p[a] + (1 - w) p[a2]`` (``w = weight /
    255``, :func:`nearest_weight`); any other row keeps ``microstate_label[a]``.  At a
    centre (w = 1) this is the microstate's own label, half-way between two centres the two
    probability rows count alike.

    Why: with the nearest microstate alone, an atom's name changes where the Voronoi cells
    of the codebook meet, and the codebook moves with the sample of frames it was fitted
    on; between crystal and liquid (a nucleus' halo) that put the same atom-frames on either
    side in analyses of different frame ranges.  On the validation suite (LAMMPS runs,
    ``benchmarks/bench_labels.py``; benchmarks/LABELS.md, stop 42) interpolation raised the
    agreement between frame ranges on all thirteen nucleation runs scored, by 0.005-0.020
    (LJ T* 0.55 s1 0.969 -> 0.986, T* 0.62 s12 0.945 -> 0.965), with the crystalline core's
    recall and precision moved by -0.003 to +0.002; with a single codebook, at no extra
    cost, it did more than a three-codebook vote (``n_seeds = 3``).

    Parameters
    ----------
    a, a2 : int arrays (n,), nearest and second-nearest microstate
    weight : uint8 array (n,), :func:`nearest_weight`
    microstate_label : int64 array (n_microstates,)
    probability : float array (n_microstates, n_kinds), NaN rows where no anchor is reached
    kind_labels : int64 array (n_kinds,), the label id of each column's kind

    Examples
    --------
    >>> p = np.array([[1.0, 0.0], [0.4, 0.6], [0.0, 1.0]])
    >>> lab = np.array([0, 1, 1])
    >>> a, a2 = np.array([1, 1, 0]), np.array([0, 0, 1])
    >>> interpolated_labels(a, a2, np.array([255, 128, 255], np.uint8), lab, p, np.array([0, 1])).tolist()
    [1, 0, 0]
    """
    a = np.asarray(a, dtype=np.int64)
    a2 = np.asarray(a2, dtype=np.int64)
    label = np.asarray(microstate_label, dtype=np.int64)
    out = label[a]
    prob = np.asarray(probability, dtype=np.float64)
    anchored = ~np.isnan(prob).any(axis=1) & np.isin(label, kind_labels)
    # two microstates of one anchored structure (their most probable kind) mix to that kind:
    # only rows between two structures can change
    both = anchored[a] & anchored[a2] & (out != label[a2])
    if both.any():
        w = weight[both].astype(np.float64)[:, None] / 255.0
        mix = w * prob[a[both]] + (1.0 - w) * prob[a2[both]]
        out[both] = np.asarray(kind_labels, dtype=np.int64)[mix.argmax(axis=1)]
    return out


def novel_microstates(centres, z_ref, kind_ref, novelty=0.5) -> np.ndarray:
    """Which microstates no reference environment describes (bool per centre).

    A centre is novel when its distance to the nearest reference environment exceeds
    ``novelty`` times the largest distance between the centroid of the liquid references
    and the centroid of a crystal kind's (fcc, hcp, bcc), all in the same standardised
    space: the scale is set by the references themselves, so the rule does not depend on
    the feature sets or on the run.  Half that distance (``novelty = 0.5``) is the farthest
    a blend of the liquid and a crystal can lie from both; a centre beyond it is not between
    known structures but away from all of them.  No liquid or no crystal among the
    references, or ``novelty`` 0: none is novel.

    Examples
    --------
    Liquid references at 0, fcc at 4: a centre at 2 (half-way) is a blend, one at 10 and
    one off to the side at (2, 3) are novel.

    >>> z_ref = np.array([[0.0, 0.0], [4.0, 0.0]])
    >>> kind = np.array(["liquid", "fcc"])
    >>> novel_microstates(np.array([[2.0, 0.0], [10.0, 0.0], [2.0, 3.0]]), z_ref, kind).tolist()
    [False, True, True]
    """
    from scipy.spatial import cKDTree

    centres = np.asarray(centres, dtype=np.float64)
    out = np.zeros(len(centres), dtype=bool)
    if isinstance(novelty, bool) or not np.isfinite(novelty) or novelty < 0:
        raise ValueError(f"novelty must be a finite number >= 0, got {novelty!r}")
    kind_ref = np.asarray(kind_ref)
    crystals = [k for k in ("fcc", "hcp", "bcc") if np.any(kind_ref == k)]
    if novelty == 0 or not len(centres) or not crystals or not np.any(kind_ref == "liquid"):
        return out
    z_ref = np.asarray(z_ref, dtype=np.float64)
    liquid = z_ref[kind_ref == "liquid"].mean(axis=0)
    scale = max(float(np.linalg.norm(z_ref[kind_ref == k].mean(axis=0) - liquid))
                for k in crystals)
    if scale <= 0:
        return out
    d, _ = cKDTree(z_ref).query(centres)
    return d > novelty * scale
