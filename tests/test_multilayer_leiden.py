"""Multislice Leiden: planted partitions, determinism, permutations, the objective, bad input."""
import numpy as np
import numpy.testing as npt
import pytest

from multilayer.network import synthetic
from multilayer.network.leiden_core import boundary_flows, match_lineage_labels
from multilayer.network.leiden import (MultilayerLeiden, leiden, leiden_nodes, multislice_quality,
                               resolution_scan)
from multilayer.network.metrics import adjusted_rand
from multilayer.network.graph import build_network


@pytest.fixture(scope="module")
def planted():
    feats, ids, truth = synthetic.planted_blobs(400, 12, seed=0)
    return feats, ids, truth, build_network(feats, ids, k=10)


@pytest.mark.parametrize("objective,resolution", [("cpm", None), ("modularity", 0.3)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_partition_recovered_atoms(planted, objective, resolution, seed):
    feats, ids, truth, net = planted
    labels = leiden(net, objective=objective, resolution=resolution, seed=seed)
    # planted blobs persist, grow, split and merge; 0.95: at most a few atoms in the
    # blob tails may sit closer to another blob's kNN patch
    assert adjusted_rand(labels, truth) >= 0.95


@pytest.mark.parametrize("data_seed", [1, 2])
def test_planted_partition_recovered_microstates(data_seed):
    feats, ids, truth = synthetic.planted_blobs(600, 12, seed=data_seed)
    net = build_network(feats, ids, nodes="microstates", n_microstates=60, k=6, seed=0)
    labels = leiden(net, seed=0)
    # microstates never straddle two blobs 10 sigma apart, so recovery is essentially exact
    assert adjusted_rand(labels, truth) >= 0.95


def test_leidenalg_engine_agrees(planted):
    feats, ids, truth, net = planted
    ref = leiden_nodes(net, engine="leidenalg", seed=0)
    ours = leiden_nodes(net, engine="numba", seed=0)
    q_ref = multislice_quality(net, ref)
    q_ours = multislice_quality(net, ours)
    assert adjusted_rand(ref, truth.ravel()) >= 0.95
    assert q_ours >= q_ref - 1e-6 * abs(q_ref)   # both reach the planted optimum here


@pytest.mark.parametrize("objective", ["cpm", "modularity"])
def test_quality_matches_leidenalg_up_to_constant(planted, objective):
    """H differences between partitions equal half leidenalg's multiplex quality differences
    (leidenalg counts every edge twice) for the per-slice null model."""
    import igraph as ig
    import leidenalg as la
    _, _, truth, net = planted
    rng = np.random.default_rng(0)
    parts = [truth.ravel(), rng.integers(0, 5, net.n_nodes), np.zeros(net.n_nodes, int)]
    res = 0.7 if objective == "modularity" else 0.003
    ours = [multislice_quality(net, p, objective=objective, resolution=res,
                               interslice_weight=0.2) for p in parts]
    theirs = []
    for p in parts:
        q = 0.0
        for s in range(net.n_frames):
            sel = net.node_frame[net.intra_edges[:, 0]] == s
            g = ig.Graph(n=net.n_nodes, edges=net.intra_edges[sel].tolist())
            w = net.intra_weights[sel].tolist()
            if objective == "cpm":
                sizes = (net.node_frame == s).astype(int).tolist()
                q += la.CPMVertexPartition(g, p.tolist(), w, sizes, res).quality()
            else:
                q += la.RBConfigurationVertexPartition(g, p.tolist(), w, res).quality()
        gi = ig.Graph(n=net.n_nodes, edges=net.inter_edges.tolist())
        q += la.CPMVertexPartition(gi, p.tolist(), (0.2 * net.inter_weights).tolist(),
                                   resolution_parameter=0.0).quality()
        theirs.append(q)
    # CPM's binom(n, 2) and modularity's self-pairs add partition-independent constants
    npt.assert_allclose(np.diff(ours), np.diff(theirs) / 2, rtol=1e-9, atol=1e-6)


def test_same_seed_same_labels(planted):
    net = planted[3]
    a = leiden(net, seed=3, resolution=0.01)
    b = leiden(net, seed=3, resolution=0.01)
    npt.assert_array_equal(a, b)


def test_permuting_atoms_permutes_labels_only():
    feats, ids, truth = synthetic.planted_blobs(200, 8, seed=4)
    rng = np.random.default_rng(1)
    perms = [rng.permutation(len(ids)) for _ in feats]
    net = build_network(feats, ids, k=8)
    pnet = build_network([f[p] for f, p in zip(feats, perms)], [ids[p] for p in perms], k=8)
    labels, plabels = leiden(net, seed=0), leiden(pnet, seed=0)
    # label arrays are indexed by atom id, so they are identical ...
    npt.assert_array_equal(labels, plabels)
    # ... and row-aligned labels of each frame follow the permutation exactly
    for t, p in enumerate(perms):
        npt.assert_array_equal(pnet.frame_labels(plabels, t), net.frame_labels(labels, t)[p])


def test_lineage_matching_swaps_futures():
    """A child that took its parent's identity is swapped back, exactly (hand-made flows)."""
    # 3 slices of 4 nodes; slice 0: community 0; in slices 1 and 2, nodes 4 and 8 are the
    # small child (labelled 0, the parent's id) and nodes 5-7, 9-11 the large remainder (1)
    node_slice = np.repeat([0, 1, 2], 4)
    memb = np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1])
    src = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    dst = np.array([4, 5, 6, 7, 8, 9, 10, 11])
    import scipy.sparse as sp
    a = sp.coo_matrix((np.ones(16), (np.r_[src, dst], np.r_[dst, src])), shape=(12, 12)).tocsr()
    flows = boundary_flows(a.indptr, a.indices, a.data, node_slice)
    assert match_lineage_labels(flows, node_slice, memb, 1e-12) == 1
    # the parent keeps the larger flow; the child gets a fresh label in all later slices
    npt.assert_array_equal(memb, [0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0])


def test_resolution_scan_table(planted):
    net = planted[3]
    d = net.edge_density
    table = resolution_scan(net, [0.25 * d, 4 * d], seeds=(0, 1))
    assert list(table.columns) == ["resolution", "n_communities", "n_communities_min",
                                   "n_communities_max", "mean_ari", "quality"]
    assert table.loc[0, "n_communities"] == 4                 # the four planted blobs
    assert table.loc[0, "mean_ari"] == pytest.approx(1.0)     # stable across seeds
    assert table.loc[1, "n_communities"] > 4                  # high resolution splits blobs


def test_estimator_twin(planted):
    net = planted[3]
    est = MultilayerLeiden(seed=0).fit(net)
    npt.assert_array_equal(est.labels_, leiden(net, seed=0))
    assert est.node_labels_.shape == (net.n_nodes,)


@pytest.mark.parametrize("kwargs,match", [
    ({"resolution": -0.1}, "resolution"),
    ({"interslice_weight": -1.0}, "interslice_weight"),
    ({"objective": "potts"}, "objective"),
    ({"engine": "networkx"}, "engine"),
    ({"n_iterations": 0}, "n_iterations"),
    ({"resolution": float("nan")}, "resolution"),
])
def test_bad_parameters(planted, kwargs, match):
    with pytest.raises(ValueError, match=match):
        leiden(planted[3], **kwargs)


def test_not_a_network():
    with pytest.raises(ValueError, match="network must be a MultilayerNetwork"):
        leiden(np.zeros((3, 3)))
