"""Community summaries, Mapper graphs and their plots."""
import matplotlib
import numpy as np
import numpy.testing as npt
import pytest

from multilayer.network.leiden import leiden, resolution_scan
from multilayer.network.mapper import mapper
from multilayer.network.graph import build_network
from multilayer.network.plot import mapper_node_values, plot_mapper, plot_resolution_scan
from multilayer.network.summary import summary
from multilayer.network.synthetic import planted_blobs

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def run():
    feats, ids, truth = planted_blobs(160, 10, seed=5)
    net = build_network(feats, ids, k=8)
    return feats, ids, truth, net, leiden(net, seed=0)


def test_summary_sizes_and_means(run):
    feats, ids, truth, net, labels = run
    q6 = [f[:, 0] for f in feats]                        # any per-atom scalar
    solid = [f[:, 1] > 0 for f in feats]
    dict_feats = [{"a": f[:, :2], "b": f[:, 2:].reshape(-1, 3, 1)} for f in feats]
    table = summary(labels, network=net, features=dict_feats,
                    per_atom={"q6": q6, "solid": solid})
    n_comm = labels.max() + 1
    assert list(table.index) == list(range(n_comm))
    for c in range(n_comm):
        sizes = (labels == c).sum(axis=1)
        npt.assert_array_equal(table.loc[c, "sizes"], sizes)
        mask = labels == c
        stacked = np.stack(feats)                          # same ids in every frame
        npt.assert_allclose(table.loc[c, "mean_a"], stacked[mask][:, :2].mean(axis=0),
                            rtol=1e-5)                     # float32 inputs
        assert table.loc[c, "mean_b"].shape == (3, 1)
        assert table.loc[c, "mean_q6"] == pytest.approx(stacked[mask][:, 0].mean(), rel=1e-5)
        assert table.loc[c, "mean_solid"] == pytest.approx((stacked[mask][:, 1] > 0).mean())
        present = np.flatnonzero(sizes)
        assert table.loc[c, "first_frame"] == present[0]
        assert table.loc[c, "last_frame"] == present[-1]
    assert table["n_atom_frames"].sum() == labels.size


def test_summary_ragged_and_row_order():
    labels = np.array([[0, 1, -1], [1, 1, 0]])
    ids = [np.array([20, 10]), np.array([30, 10, 20])]     # caller's row order, ids 10/20/30
    vals = [np.array([2.0, 4.0]), np.array([6.0, 1.0, 3.0])]
    table = summary(labels, ids=ids, atom_ids=np.array([10, 20, 30]), per_atom={"v": vals})
    # community 0: (frame 0, id 10) = 4, (frame 1, id 30) = 6; community 1: 2, 1, 3
    assert table.loc[0, "mean_v"] == pytest.approx(5.0)
    assert table.loc[1, "mean_v"] == pytest.approx(2.0)


def test_summary_bad_input(run):
    feats, ids, truth, net, labels = run
    with pytest.raises(ValueError, match="labels must be an integer array"):
        summary(labels.astype(float))
    with pytest.raises(ValueError, match=r"per_atom\['q'\]\[0\] must hold 160 finite"):
        summary(labels, network=net, per_atom={"q": [np.full(160, np.nan)] * 10})


@pytest.mark.parametrize("backend", ["own", "gudhi"])
def test_mapper_graph(run, backend):
    feats, ids, truth, net, labels = run
    g = mapper(feats, ids, cover=(5, 0.3), backend=backend, min_points=3)
    assert g.number_of_nodes() > 0
    for _, d in g.nodes(data=True):
        assert d["frames"].dtype == np.int64 and len(d["ids"]) == d["size"]
        # the blobs are 10 sigma apart: every Mapper node lies inside one planted blob
        blob = truth[d["frames"], d["ids"] - 1]
        assert len(np.unique(blob)) == 1
    # every blob of every frame is covered by some node
    covered = {(int(f), int(truth[f, i - 1])) for _, d in g.nodes(data=True)
               for f, i in zip(d["frames"], d["ids"])}
    assert covered == {(t, b) for t in range(len(feats)) for b in np.unique(truth[t])}


def test_mapper_backends_agree(run):
    feats, ids = run[0], run[1]
    own = mapper(feats, ids, cover=(4, 0.25), backend="own")
    gud = mapper(feats, ids, cover=(4, 0.25), backend="gudhi")
    sets = lambda g: sorted(tuple(sorted(zip(d["frames"], d["ids"])))   # noqa: E731
                            for _, d in g.nodes(data=True) if d["size"] > 1)
    assert sets(own) == sets(gud)        # same cover intervals, same clusterer


def test_mapper_gtda_backend(run):
    pytest.importorskip("gtda")
    feats, ids = run[0], run[1]
    g = mapper(feats, ids, cover=(4, 0.25), backend="gtda")
    assert g.number_of_nodes() > 0


def test_mapper_bad_parameters(run):
    feats, ids = run[0], run[1]
    with pytest.raises(ValueError, match="backend"):
        mapper(feats, ids, backend="kepler")
    with pytest.raises(ValueError, match="overlap"):
        mapper(feats, ids, cover=(4, 1.5))
    with pytest.raises(ValueError, match="cover has 3"):
        mapper(feats, ids, cover=[(4, 0.2)] * 3)


@pytest.mark.parametrize("color_by", ["time", "community", "value"])
def test_plot_mapper(run, color_by):
    feats, ids, truth, net, labels = run
    g = mapper(feats, ids, cover=(4, 0.3))
    vals = [f[:, 0] for f in feats]
    ax = plot_mapper(g, color_by=color_by, labels=labels, atom_ids=net.atom_ids, values=vals,
                     value_name="q6")
    assert isinstance(ax, matplotlib.axes.Axes)
    v = mapper_node_values(g, color_by=color_by, labels=labels, atom_ids=net.atom_ids,
                           values=vals)
    assert v.shape == (g.number_of_nodes(),)
    if color_by == "community":                # blobs map to one community each
        assert set(v.astype(int)) <= set(range(labels.max() + 1))
        assert all(t.get_text().startswith("community ") for t in ax.get_legend().get_texts())
        names = [f"structure-{c}" for c in range(labels.max() + 1)]
        named = plot_mapper(g, color_by="community", labels=labels, atom_ids=net.atom_ids,
                            names=names)
        drawn = sorted(int(c) for c in np.unique(v[v >= 0]))
        assert [t.get_text() for t in named.get_legend().get_texts()] == [names[c] for c in drawn]
        assert named.get_title() == "Mapper graph coloured by structure"
    matplotlib.pyplot.close("all")


def test_plot_resolution_scan(run):
    net = run[3]
    table = resolution_scan(net, [0.05 * net.edge_density, 0.5 * net.edge_density], seeds=(0,))
    ax = plot_resolution_scan(table)
    assert ax.get_xlabel() == "resolution"
    matplotlib.pyplot.close("all")
