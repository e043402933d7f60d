"""The tracking figures render (Agg) and draw what they say."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from descriptors import make_lattice  # noqa: E402
from multilayer.tracking.nuclei import MFPTResult, mfpt_fit, nucleation_onset  # noqa: E402
from multilayer.tracking.plot import (plot_alluvial, plot_largest_nucleus, plot_mfpt,  # noqa: E402
                                   plot_populations, plot_slab)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def random_labels(seed=0, n_frames=6, n_atoms=200):
    rng = np.random.default_rng(seed)
    lab = np.zeros((n_frames, n_atoms), dtype=np.int64)
    for t in range(n_frames):  # community 2 grows from 0 to ~n_atoms/2, 1 is noise
        lab[t, : t * n_atoms // (2 * n_frames)] = 2
        lab[t, rng.random(n_atoms) < 0.1] = 1
    return lab


def test_populations_stack_to_one(tmp_path):
    lab = random_labels()
    ax = plot_populations(lab)
    assert len(ax.collections) == 3
    tops = [p.vertices[:, 1].max() for p in ax.collections[-1].get_paths()]
    assert max(tops) == pytest.approx(1.0)  # fractions stack to 1
    ax.figure.savefig(tmp_path / "pop.png")


def test_alluvial_bands_conserve_atoms(tmp_path):
    lab = random_labels(1)
    ax = plot_alluvial(lab, frames=[0, 2, 5])
    assert len(ax.patches) >= 3 and len(ax.collections) >= 3  # blocks and flow bands
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "2", "5"]
    # every other input frame analysed: the axis says which input frames they were
    ax2 = plot_alluvial(lab, frames=[0, 2, 5], times=2 * np.arange(len(lab)))
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["0", "4", "10"]
    ax.figure.savefig(tmp_path / "alluvial.png")


def test_legends_name_the_structures():
    """With the structures' names (indexed by community id) every legend gives the name
    of each community drawn, under the title "structure"; without, the ids."""
    lab = random_labels(2)
    names = ["liquid", "fcc", "hcp"]
    frame = make_lattice("fcc", 4, noise=0.02, seed=0)
    slab_labels = np.where(frame.positions[:, 0] > 2, 2, 0)

    def legend(ax):
        leg = ax.get_legend()
        return leg.get_title().get_text(), [t.get_text() for t in leg.get_texts()]

    for draw in (lambda **kw: plot_populations(lab, **kw),
                 lambda **kw: plot_alluvial(lab, **kw)):
        assert legend(draw(names=names)) == ("structure", ["liquid", "fcc", "hcp"])
        assert legend(draw()) == ("community", ["0", "1", "2"])
    assert legend(plot_slab(frame, slab_labels, names=names)) == ("structure", ["liquid", "hcp"])
    assert legend(plot_slab(frame, slab_labels)) == ("community", ["0", "2"])
    assert legend(plot_slab(frame, slab_labels, legend_title="nucleus"))[0] == "nucleus"
    # a community beyond the names (a user's extra id) keeps its id
    assert legend(plot_alluvial(lab, names=names[:2]))[1] == ["liquid", "fcc", "2"]


def test_onsets_in_the_legend_are_read_on_the_axis():
    """Every other input frame analysed: the onset's line and its legend give the input frame
    (as analyze's report does), not the onset's position in the analysed list."""
    sizes = np.array([0, 2, 3, 2, 10, 30, 80, 200])
    frames = 2 * np.arange(len(sizes))                 # input frames 0, 2, ..., 14
    core = np.array([0, 0, 1, 0, 4, 14, 60, 150])
    ax = plot_largest_nucleus(sizes, onset=nucleation_onset(sizes, 6), times=frames,
                              core=core, core_onset=nucleation_onset(core, 10),
                              time_label="frame")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "crystal-like onset (frame 8)" in texts and "core onset (frame 10)" in texts
    assert ax.get_xlabel() == "frame"
    vlines = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--"]
    assert vlines == [8, 10]
    # without times the axis is the position, and says so
    plain = plot_largest_nucleus(sizes, onset=nucleation_onset(sizes, 6))
    assert "onset (frame 4)" in [t.get_text() for t in plain.get_legend().get_texts()]
    assert plot_populations(random_labels(), times=frames[:6], time_label="frame").get_xlabel() == "frame"
    assert plot_populations(random_labels(), times=frames[:6]).get_xlabel() == "time"


def test_nucleus_mfpt_and_slab_render(tmp_path):
    sizes = np.array([2, 3, 2, 10, 30, 80])
    ax = plot_largest_nucleus(sizes, onset=nucleation_onset(sizes, 6), times=10.0 * np.arange(6))
    assert ax.lines[-1].get_xdata()[0] == 30.0 and ax.lines[1].get_ydata()[0] == 6.0
    t = np.linspace(0, 50, 501)
    runs = [np.minimum(np.floor(t / T * 40), 60) for T in (20.0, 30.0)]
    fit = mfpt_fit(runs, t)
    assert isinstance(fit, MFPTResult)
    ax2 = plot_mfpt(fit)
    assert len(ax2.lines) == 3
    frame = make_lattice("fcc", 4, noise=0.02, seed=0)
    labels = (frame.positions[:, 0] > 2).astype(int)
    ax3 = plot_slab(frame, labels, axis=2, thickness=0.8)
    n_drawn = sum(len(c.get_offsets()) for c in ax3.collections)
    assert 0 < n_drawn < frame.n_atoms
    for k, a in enumerate((ax, ax2, ax3)):
        a.figure.savefig(tmp_path / f"fig{k}.png")
    with pytest.raises(ValueError, match="labels.shape"):
        plot_slab(frame, labels[:-1])


def test_core_onset_is_drawn_with_its_own_threshold():
    """The core's onset comes from the core's own threshold (its liquid frames are smaller):
    the figure draws that threshold beside the nuclei's, and only when they differ."""
    largest = np.array([20, 22, 18, 25, 40, 90, 200, 400])
    core = np.array([0, 1, 0, 3, 8, 30, 90, 200])
    onset, core_onset = nucleation_onset(largest), nucleation_onset(core)
    assert core_onset.threshold != onset.threshold
    ax = plot_largest_nucleus(largest, onset=onset, core=core, core_onset=core_onset)
    labels = [ln.get_label() for ln in ax.lines]
    assert f"core threshold {core_onset.threshold:g}" in labels
    # beside the core, the nuclei's series, threshold and onset say they are the crystal-like
    assert f"crystal-like threshold {onset.threshold:g}" in labels
    assert f"crystal-like onset (frame {onset.frame})" in labels
    assert "largest crystal-like nucleus" in labels
    plt.close(ax.figure)
    ax = plot_largest_nucleus(largest, onset=onset)
    assert {"largest nucleus", f"threshold {onset.threshold:g}"} <= {
        ln.get_label() for ln in ax.lines}
    plt.close(ax.figure)
    same = nucleation_onset(core, onset.threshold)
    ax = plot_largest_nucleus(largest, onset=onset, core=core, core_onset=same)
    assert not any(lab.startswith("core threshold") for lab in (ln.get_label() for ln in ax.lines))
    plt.close(ax.figure)
    # beside the onset (analyze's figure): the frame the core passes its critical size for
    # good, and n* as a line of its own
    from multilayer.tracking import critical_onset

    past = critical_onset(core, 21.46)
    ax = plot_largest_nucleus(largest, onset=onset, core=core, core_onset=core_onset,
                              core_committed=past, times=np.arange(8) * 5, time_label="frame")
    labels = [ln.get_label() for ln in ax.lines]
    assert f"core onset (frame {5 * core_onset.frame})" in labels
    assert "critical size n* 21.5" in labels and "core past n* for good (frame 25)" in labels
    plt.close(ax.figure)
