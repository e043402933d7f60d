"""Plots draw what they are given and return their Axes (Agg backend, no display)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from descriptors import make_lattice  # noqa: E402
from tda import (DiagramVectorizer, local_persistence, plot_barcode, plot_diagram,  # noqa: E402
                 plot_diagrams_overlay, plot_persistence_image)


@pytest.fixture(scope="module")
def dg():
    return local_persistence(make_lattice("fcc", 2, noise=0.05, seed=0), r_cut=1.3)


def test_diagram_and_barcode_show_every_pair(dg):
    fig, (a1, a2) = plt.subplots(1, 2)
    assert plot_diagram(dg, 4, ax=a1) is a1
    n_points = sum(len(c.get_offsets()) for c in a1.collections)
    assert n_points == dg.counts()[4]  # the essential class is drawn on the inf line
    assert plot_barcode(dg, 4, ax=a2) is a2
    bars = [ln for ln in a2.get_lines() if len(ln.get_xdata()) == 2]
    assert len(bars) == dg.counts()[4]
    assert a2.get_xlabel() == "filtration (radius)"
    plt.close(fig)


def test_persistence_image_of_one_atom_and_of_a_set(dg):
    ax = plot_persistence_image(dg, 0, dim=1, resolution=8)
    img = ax.get_images()[0].get_array()
    assert img.shape == (8, 8) and img.max() > 0
    vec = DiagramVectorizer("image", resolution=8).fit(dg)
    ax = plot_persistence_image(dg, np.arange(10), dim=2, vectorizer=vec)
    mean = vec.transform(dg.select(np.arange(10))).mean(axis=0)[8 + 64:]
    np.testing.assert_allclose(ax.get_images()[0].get_array().ravel(), mean, rtol=1e-6)
    assert "mean of 10 atoms" in ax.get_title()
    with pytest.raises(ValueError, match="vectorizer.method must be 'image', got 'betti'"):
        plot_persistence_image(dg, 0, vectorizer=DiagramVectorizer("betti").fit(dg))
    plt.close("all")


def test_overlay_of_several_structures(dg):
    bcc = local_persistence(make_lattice("bcc", 3, noise=0.05, seed=1), r_cut=1.3)
    ax = plot_diagrams_overlay([dg, bcc], ["fcc", "bcc"], dim=1, max_points=50)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fcc", "bcc"]
    assert [len(c.get_offsets()) for c in ax.collections] == [50, 50]
    with pytest.raises(ValueError, match="1 labels for 2 diagram sets"):
        plot_diagrams_overlay([dg, bcc], ["fcc"])
    plt.close("all")
