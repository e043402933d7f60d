"""Leiden on a multilayer network: one structure label per (frame, atom), consistent in time.

The objective is the multislice quality of Mucha et al. (2010): every layer
keeps its own null model and layers are coupled by the inter-layer edges
(weight ``interslice_weight`` per atom)::

    H = sum_{edges inside communities} (w_intra + omega * w_inter)
        - sum_layers g_s / 2 * sum_communities M_{c,s}**2

* ``objective="cpm"``: ``M_{c,s}`` = node weight (atoms) of community c in layer
  s, ``g_s = resolution`` (constant Potts model; resolution-limit free).
* ``objective="modularity"``: ``M_{c,s}`` = intra-layer strength of c in layer s
  and ``g_s = resolution / (2 m_s)`` (configuration null model per layer).

The null term pairs only nodes of the same layer.  A single leidenalg CPM
partition over all layers would instead pair nodes of *different* frames too
(penalty ~ (atoms x frames)**2 per community), which chops long-lived
structures into time slabs; leidenalg can express the per-layer null only with
one partition per layer over all nodes (memory and time ~ frames x nodes, its
``slices_to_layers`` route).  So two engines:

* ``engine="numba"`` (default): :mod:`multilayer.network.leiden_core`, Leiden with
  per-slice masses in hash maps; memory O(nodes + edges).
* ``engine="leidenalg"``: ``Optimiser.optimise_partition_multiplex`` on one
  graph per layer (all nodes, that layer's edges, CPMVertexPartition with node
  sizes zero outside the layer, or RBConfigurationVertexPartition) plus the
  inter-layer graph (CPM, resolution 0).  Exact and slow: a reference for
  checks, for networks up to ~10^6 node-layers (n_nodes x n_frames).
"""
from __future__ import annotations

import itertools
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_scalar

from .leiden_core import (boundary_flows, canonical_labels, leiden_multislice,
                          match_lineage_labels)
from .leiden_core import multislice_quality as _core_quality
from .metrics import adjusted_rand
from .graph import MultilayerNetwork

__all__ = ["leiden", "leiden_nodes", "multislice_quality", "resolution_scan", "MultilayerLeiden",
           "default_resolution"]

_ENGINES = ("numba", "leidenalg")

# one source of truth: the functions below and the ``[leiden]`` section of ``analyze``
LEIDEN_DEFAULTS = {"objective": "cpm", "resolution": None, "interslice_weight": 0.03}


def _check(network, objective, resolution, interslice_weight, seed, n_iterations, engine):
    if not isinstance(network, MultilayerNetwork):
        raise ValueError(f"network must be a MultilayerNetwork (see build_network), got "
                         f"{type(network).__name__}")
    if objective not in ("cpm", "modularity"):
        raise ValueError(f"objective must be 'cpm' or 'modularity', got {objective!r}")
    if engine not in _ENGINES:
        raise ValueError(f"engine={engine!r} unknown; choose from {_ENGINES}")
    if resolution is not None:
        check_scalar(resolution, "resolution", Real, min_val=0)
        if not np.isfinite(resolution):
            raise ValueError(f"resolution must be finite, got {resolution!r}")
    check_scalar(interslice_weight, "interslice_weight", Real, min_val=0)
    if not np.isfinite(interslice_weight):
        raise ValueError(f"interslice_weight must be finite, got {interslice_weight!r}")
    check_scalar(seed, "seed", Integral, min_val=0)
    check_scalar(n_iterations, "n_iterations", Integral)
    if n_iterations == 0:
        raise ValueError("n_iterations must be positive, or negative to iterate to convergence")


def default_resolution(network, objective="cpm") -> float:
    """The resolution used when ``resolution=None``: ``0.1 * network.edge_density`` for CPM
    (communities at least a tenth as dense as a whole layer), 1 for modularity."""
    if objective not in ("cpm", "modularity"):
        raise ValueError(f"objective must be 'cpm' or 'modularity', got {objective!r}")
    return 0.1 * network.edge_density if objective == "cpm" else 1.0


def _null_model(network, objective, resolution):
    """Node masses (n_nodes,) and per-layer factors g (n_frames,), float64."""
    T = network.n_frames
    gamma = default_resolution(network, objective) if resolution is None else float(resolution)
    if objective == "cpm":
        return network.node_weight.astype(np.float64), np.full(T, gamma)
    e, w = network.intra_edges, network.intra_weights
    strength = np.bincount(e[:, 0], w, network.n_nodes) + np.bincount(e[:, 1], w, network.n_nodes)
    m = np.bincount(network.node_frame[e[:, 0]], w, minlength=T)
    g = np.divide(gamma, 2.0 * m, out=np.zeros(T), where=m > 0)
    return strength, g


def leiden_nodes(network, *, objective=LEIDEN_DEFAULTS["objective"], resolution=LEIDEN_DEFAULTS["resolution"],
                 interslice_weight=LEIDEN_DEFAULTS["interslice_weight"], seed=0,
                 n_iterations=2, engine="numba", match_lineages=True) -> np.ndarray:
    """Community of every node of the network.

    Parameters
    ----------
    network : MultilayerNetwork
    objective : {"cpm", "modularity"}
    resolution : float >= 0, optional
        CPM: default ``0.1 * network.edge_density`` (communities at least a tenth as dense
        as a whole layer); modularity: default 1, which splits uniform blobs of kNN graphs
        into patches (0.1-0.3 suits structure types).  See :func:`resolution_scan`.
    interslice_weight : float >= 0
        Coupling omega of an atom to itself one frame later.  Intra-layer weights are
        scaled so that an atom's intra-layer strength is 1 on average, so omega is a
        fraction of its ties within its own frame; 0.01-0.1 keeps identities through time
        without gluing distinct structures that exchange atoms.
    seed : int
    n_iterations : int
        Leiden iterations (negative: until no improvement), as in leidenalg.
    engine : {"numba", "leidenalg"}
    match_lineages : bool
        After each Leiden iteration, re-match identities across every layer boundary by
        the exact relabelling of all later layers that keeps the most inter-layer weight.

    Returns
    -------
    labels : ndarray (n_nodes,), int64
        0..C-1 by decreasing total node weight.
    """
    _check(network, objective, resolution, interslice_weight, seed, n_iterations, engine)
    mass, g = _null_model(network, objective, resolution)
    if engine == "leidenalg":
        memb = _leidenalg(network, objective, g, mass, interslice_weight, seed, n_iterations,
                          match_lineages)
        return canonical_labels(memb, network.node_weight)
    adj = network.adjacency(interslice_weight)
    adj.eliminate_zeros()
    labels = leiden_multislice(adj.indptr, adj.indices, adj.data, network.node_frame, mass, g,
                               n_iterations=n_iterations, seed=seed,
                               match_lineages=match_lineages)
    return canonical_labels(labels, network.node_weight)


def leiden(network, *, objective=LEIDEN_DEFAULTS["objective"], resolution=LEIDEN_DEFAULTS["resolution"],
                 interslice_weight=LEIDEN_DEFAULTS["interslice_weight"], seed=0,
           n_iterations=2, engine="numba", match_lineages=True) -> np.ndarray:
    """Multislice Leiden communities as one label per (frame, atom).

    Parameters are those of :func:`leiden_nodes`.

    Returns
    -------
    labels : ndarray (n_frames, n_atoms), int64
        Column ``j`` is atom ``network.atom_ids[j]``; -1 where the atom is absent from a
        frame (ragged trajectories).  ``network.frame_labels(labels, t)`` gives frame
        ``t``'s labels in its own row order.

    Examples
    --------
    >>> from multilayer import build_network
    >>> rng = np.random.default_rng(0)
    >>> x = [np.r_[rng.normal(0, 1, (20, 2)), rng.normal(9, 1, (20, 2))] for _ in range(3)]
    >>> labels = leiden(build_network(x, np.arange(40), k=5), seed=0)
    >>> labels.shape, np.unique(labels).tolist()
    ((3, 40), [0, 1])
    """
    node_labels = leiden_nodes(network, objective=objective, resolution=resolution,
                               interslice_weight=interslice_weight, seed=seed,
                               n_iterations=n_iterations, engine=engine,
                               match_lineages=match_lineages)
    return network.atom_labels(node_labels)


def multislice_quality(network, node_labels, *, objective="cpm", resolution=None,
                       interslice_weight=0.03) -> float:
    """The multislice quality ``H`` of node labels (n_nodes,), per undirected edge."""
    _check(network, objective, resolution, interslice_weight, 0, 1, "numba")
    mass, g = _null_model(network, objective, resolution)
    adj = network.adjacency(interslice_weight)
    return _core_quality(adj.indptr, adj.indices, adj.data, network.node_frame.astype(np.int64),
                         mass, g, np.asarray(node_labels, dtype=np.int64))


def _leidenalg(network, objective, g, mass, omega, seed, n_iterations, match_lineages):
    import igraph as ig
    import leidenalg as la
    n, T = network.n_nodes, network.n_frames
    e, w = network.intra_edges, network.intra_weights
    slice_of_edge = network.node_frame[e[:, 0]]
    order = np.argsort(slice_of_edge, kind="stable")
    bounds = np.searchsorted(slice_of_edge[order], np.arange(T + 1))
    parts, layer_weights = [], []
    for s in range(T):
        sel = order[bounds[s]:bounds[s + 1]]
        graph = ig.Graph(n=n, edges=e[sel].tolist(), directed=False)
        if objective == "cpm":
            sizes = np.zeros(n, dtype=np.int64)
            lo, hi = network.frame_offsets[s], network.frame_offsets[s + 1]
            sizes[lo:hi] = np.rint(mass[lo:hi]).astype(np.int64)
            parts.append(la.CPMVertexPartition(graph, weights=w[sel].tolist(),
                                               node_sizes=sizes.tolist(),
                                               resolution_parameter=float(g[s])))
        else:
            parts.append(la.RBConfigurationVertexPartition(
                graph, weights=w[sel].tolist(), resolution_parameter=float(g[s] * 2 *
                                                                           w[sel].sum())))
        layer_weights.append(1.0)
    inter = ig.Graph(n=n, edges=network.inter_edges.tolist(), directed=False)
    parts.append(la.CPMVertexPartition(inter, weights=(omega * network.inter_weights).tolist(),
                                       resolution_parameter=0.0))
    layer_weights.append(1.0)
    opt = la.Optimiser()
    opt.set_rng_seed(int(seed))
    adj = network.adjacency(omega)
    flows = boundary_flows(adj.indptr, adj.indices, adj.data, network.node_frame.astype(np.int64))
    it = 0
    while n_iterations < 0 or it < n_iterations:
        gain = opt.optimise_partition_multiplex(parts, layer_weights=layer_weights,
                                                n_iterations=1)
        it += 1
        memb = np.asarray(parts[0].membership, dtype=np.int64)
        if match_lineages and match_lineage_labels(flows, network.node_frame, memb, 1e-12):
            memb = canonical_labels(memb, network.node_weight)
            for p in parts:
                p.set_membership(memb.tolist())
        elif n_iterations < 0 and gain <= 0:
            break
    return np.asarray(parts[0].membership, dtype=np.int64)


def resolution_scan(network, resolutions, *, seeds=(0, 1, 2), objective="cpm",
                    interslice_weight=0.03, engine="numba") -> pd.DataFrame:
    """Number of communities and stability across seeds at each resolution.

    Returns
    -------
    table : DataFrame, one row per resolution
        ``resolution``, ``n_communities`` (mean over seeds), ``n_communities_min``,
        ``n_communities_max``, ``mean_ari`` (mean adjusted Rand index over pairs of seeds,
        nodes weighted by their atom counts; NaN for one seed), ``quality`` (mean H).
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty")
    rows = []
    for res in np.atleast_1d(np.asarray(resolutions, dtype=np.float64)):
        runs = [leiden_nodes(network, objective=objective, resolution=float(res),
                             interslice_weight=interslice_weight, seed=s, engine=engine)
                for s in seeds]
        n_comm = np.array([r.max() + 1 for r in runs])
        aris = [adjusted_rand(a, b, network.node_weight) for a, b in
                itertools.combinations(runs, 2)]
        q = [multislice_quality(network, r, objective=objective, resolution=float(res),
                                interslice_weight=interslice_weight) for r in runs]
        rows.append({"resolution": float(res), "n_communities": float(n_comm.mean()),
                     "n_communities_min": int(n_comm.min()),
                     "n_communities_max": int(n_comm.max()),
                     "mean_ari": float(np.mean(aris)) if aris else np.nan,
                     "quality": float(np.mean(q))})
    return pd.DataFrame(rows)


class MultilayerLeiden(BaseEstimator):
    """Estimator twin of :func:`leiden`: ``fit(network)`` sets ``labels_`` (n_frames, n_atoms)
    and ``node_labels_`` (n_nodes,)."""

    def __init__(self, objective=LEIDEN_DEFAULTS["objective"], *,
                 resolution=LEIDEN_DEFAULTS["resolution"],
                 interslice_weight=LEIDEN_DEFAULTS["interslice_weight"], seed=0,
                 n_iterations=2, engine="numba", match_lineages=True):
        self.objective = objective
        self.resolution = resolution
        self.interslice_weight = interslice_weight
        self.seed = seed
        self.n_iterations = n_iterations
        self.engine = engine
        self.match_lineages = match_lineages

    def fit(self, network, y=None):
        self.node_labels_ = leiden_nodes(network, **self.get_params())
        self.labels_ = network.atom_labels(self.node_labels_)
        return self
