"""Embeddings (PCA, UMAP, parametric PaCMAP) fitted on a sample of all frames; references."""
import matplotlib

matplotlib.use("Agg")
import numpy as np
import numpy.testing as npt
import pytest

from descriptors import make_lattice
from multilayer.learn.embedding import (embed_frames, estimate_thermal_noise, fit_embedding,
                                  plot_embedding, reference_environments)


def _blobs(n_frames=3, n=60, seed=0):
    """Two well-separated Gaussian blobs in 6-d, atoms 0..n-1 in blob A, n..2n-1 in blob B."""
    rng = np.random.default_rng(seed)
    feats = [np.r_[rng.normal(0, 1, (n, 6)), rng.normal(8, 1, (n, 6))] for _ in range(n_frames)]
    truth = np.r_[np.zeros(n, int), np.ones(n, int)]
    return feats, truth


def _separated(y, truth):
    a, b = y[truth == 0], y[truth == 1]
    gap = np.linalg.norm(a.mean(0) - b.mean(0))
    return gap > 3 * max(a.std(0).max(), b.std(0).max())


def test_pca_fits_sample_of_all_frames_and_maps_every_atom():
    feats, truth = _blobs()
    emb = fit_embedding(feats, method="pca", sample_size=90, seed=1)
    assert emb.sample_embedding.shape == (90, 2) and emb.sample_embedding.dtype == np.float32
    assert set(emb.sample_frames.tolist()) == {0, 1, 2}        # drawn from every frame
    out = list(embed_frames(emb, feats))
    assert [o.shape for o in out] == [(120, 2)] * 3
    assert all(_separated(o, truth) for o in out)


@pytest.mark.parametrize("method", ["umap", "pacmap"])
def test_same_seed_same_embedding(method):
    feats, truth = _blobs(n_frames=2, n=50)
    a = fit_embedding(feats, method=method, sample_size=100, seed=3)
    b = fit_embedding(feats, method=method, sample_size=100, seed=3)
    npt.assert_array_equal(a.sample_embedding, b.sample_embedding)
    ya, yb = a.transform(feats[1]), b.transform(feats[1])
    npt.assert_array_equal(ya, yb)
    assert ya.shape == (100, 2) and ya.dtype == np.float32
    assert _separated(ya, truth)
    if method == "pacmap":
        # the parametric map (distance-weighted kNN) reproduces PaCMAP on its own sample
        sample_rows = np.concatenate([feats[0], feats[1]])
        y_all = a.transform(sample_rows)
        hits = [np.any(np.all(np.isclose(y_all, s, atol=1e-4), axis=1))
                for s in a.sample_embedding]
        assert np.mean(hits) > 0.95


def test_references_shape_fit_but_never_outputs():
    feats, truth = _blobs()
    rng = np.random.default_rng(5)
    refs = (rng.normal(4, 0.3, (20, 6)), np.array(["mid"] * 20))
    emb = fit_embedding(feats, method="pca", sample_size=90, references=refs, seed=0)
    plain = fit_embedding(feats, method="pca", sample_size=90, seed=0)
    assert emb.sample_embedding.shape == (90, 2)
    assert emb.reference_embedding.shape == (20, 2)
    assert emb.reference_kinds.tolist() == ["mid"] * 20
    assert [o.shape for o in embed_frames(emb, feats)] == [(120, 2)] * 3
    # the references took part in the fit: the axes moved
    assert not np.allclose(np.abs(emb.transform(feats[0])), np.abs(plain.transform(feats[0])))
    assert plain.reference_embedding is None
    with pytest.raises(ValueError, match="references"):
        fit_embedding(feats, method="pca", references=(np.zeros((3, 5)), ["a"] * 3))


def test_reference_environments_at_run_density():
    from descriptors.soap import soap_features

    run = make_lattice("fcc", 4, nn_distance=1.3)           # density of fcc with nn 1.3

    def desc(f):
        return soap_features(f, n_max=3, l_max=4, nn_distance=1.3)

    x, kinds = reference_environments(run, desc, n_per_kind=30, noise=0.0, seed=0)
    assert x.shape == (120, desc(run).shape[1]) and x.dtype == np.float32
    assert sorted(set(kinds)) == ["bcc", "fcc", "hcp", "ico"]
    own = desc(run)[0]
    # noise-free fcc references at the run's density are the run's own environment
    npt.assert_allclose(x[kinds == "fcc"], np.broadcast_to(own, (30, len(own))), rtol=1e-5,
                        atol=1e-6 * np.abs(own).max())   # float32; exact zeros by symmetry
    for other in ("hcp", "bcc", "ico"):
        assert np.abs(x[kinds == other] - own).max() > 1e-2 * np.abs(own).max()
    # each icosahedral centre sees the same 12-neighbour shell
    ico = x[kinds == "ico"]
    npt.assert_allclose(ico, np.broadcast_to(ico[0], ico.shape), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="kinds"):
        reference_environments(run, desc, kinds=("fcc", "diamond"))


def test_thermal_noise_estimate():
    for s in (0.03, 0.06):
        est = estimate_thermal_noise(make_lattice("fcc", 6, noise=s, seed=2))
        assert abs(est - s) < 0.15 * s                       # calibrated within 15 %
    assert estimate_thermal_noise(make_lattice("fcc", 4)) < 1e-9


def test_plots_return_axes():
    feats, truth = _blobs(n_frames=1)
    emb = fit_embedding(feats, method="pca", sample_size=60,
                        references=(np.full((5, 6), 4.0), np.array(["r"] * 5)))
    y = emb.transform(feats[0])
    ax = plot_embedding(y, truth, references=emb, title="community")
    assert len(ax.collections) == 3 and ax.get_title() == "community"
    ax = plot_embedding(y, feats[0][:, 0], label="q6")
    assert ax.figure.axes[-1].get_ylabel() == "q6"               # continuous: a colour bar
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "tsne"}, "method"), ({"n_components": 0}, "n_components"),
    ({"n_components": 7}, "n_components"), ({"sample_size": 2}, "sample_size"),
    ({"regressor": "rf"}, "regressor"), ({"feature_sets": ["soap"]}, "feature_sets"),
])
def test_bad_input(kwargs, match):
    feats, _ = _blobs(n_frames=2)
    with pytest.raises(ValueError, match=match):
        fit_embedding(feats, **{"method": "pca", **kwargs})
