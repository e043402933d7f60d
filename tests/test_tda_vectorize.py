"""Vectorisations: hand-computed values, brute-force oracles, determinism, the estimator."""
import numpy as np
import numpy.testing as npt
import pytest
from scipy.special import erf
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from descriptors import make_lattice
from tda import Diagrams, DiagramVectorizer, local_persistence, vectorize
from tda.vectorize import METHODS


def one_atom(pairs):
    """Diagrams of one atom from (birth, death, dim) triples."""
    arr = np.array(pairs, dtype=float).reshape(-1, 3)
    return Diagrams([0, len(arr)], arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int8))


SINGLE = one_atom([(0, np.inf, 0), (1.0, 3.0, 1)])  # plus the essential class, to be dropped
RANGE = [[0.0, 4.0]]


def test_betti_landscape_and_stats_of_one_pair_by_hand():
    # bin centres 0.5, 1.5, 2.5, 3.5; the pair [1, 3) is alive at 1.5 and 2.5
    npt.assert_array_equal(vectorize(SINGLE, "betti", dims=(1,), ranges=RANGE, resolution=4),
                           [[0, 1, 1, 0]])
    # tent min(t - 1, 3 - t): 0.5 at 1.5 and 2.5; the second layer is empty
    npt.assert_array_equal(vectorize(SINGLE, "landscape", dims=(1,), ranges=RANGE, resolution=4,
                                     n_layers=2), [[0, 0.5, 0.5, 0, 0, 0, 0, 0]])
    stats = vectorize(SINGLE, "stats", dims=(1,), ranges=RANGE, quantiles=(0.5,))
    # count, total, max, mean, std, entropy, mean birth, mean death, median birth, median death
    npt.assert_array_equal(stats, [[1, 2, 2, 2, 0, 0, 1, 3, 1, 3]])


def test_infinite_deaths_never_leak():
    for method in METHODS:
        with_inf = vectorize(SINGLE, method, ranges=[[0, 4]] * 3)
        without = vectorize(one_atom([(1.0, 3.0, 1)]), method, ranges=[[0, 4]] * 3)
        assert np.isfinite(with_inf).all()
        npt.assert_array_equal(with_inf, without)


def test_persistence_image_integrates_gaussians_over_pixels():
    rng = np.random.default_rng(0)
    b = rng.uniform(0.2, 1.0, 6)
    d = b + rng.uniform(0.05, 0.8, 6)
    dg = one_atom([(x, y, 1) for x, y in zip(b, d)])
    lo, hi, res, sigma = 0.1, 2.0, 12, 1.5
    got = vectorize(dg, "image", dims=(1,), ranges=[[lo, hi]], resolution=res, sigma=sigma)
    # brute force: weight * (mass of N(b, s) in each birth pixel) * (mass of N(p, s) in each
    # persistence pixel), s = sigma pixels; birth axis [lo, hi], persistence axis [0, hi - lo]
    w = (hi - lo) / res
    s = sigma * w
    edges_b = lo + w * np.arange(res + 1)
    edges_p = w * np.arange(res + 1)
    want = np.zeros((res, res))
    for x, y in zip(b, d):
        p = y - x
        gb = np.diff(0.5 * (1 + erf((edges_b - x) / (s * np.sqrt(2)))))
        gp = np.diff(0.5 * (1 + erf((edges_p - p) / (s * np.sqrt(2)))))
        want += min(p / (hi - lo), 1.0) * np.outer(gp, gb)
    npt.assert_allclose(got[0], want.ravel(), rtol=1e-5, atol=1e-7)  # float32 output


def test_landscapes_and_betti_curves_match_brute_force_on_real_diagrams():
    dg = local_persistence(make_lattice("bcc", 3, noise=0.05, seed=1), r_cut=1.6)
    ranges = [[0.0, 0.9], [0.3, 1.0], [0.4, 1.1]]
    res, layers = 7, 3
    land = vectorize(dg, "landscape", ranges=ranges, resolution=res, n_layers=layers,
                     min_persistence=0)
    betti = vectorize(dg, "betti", ranges=ranges, resolution=res, min_persistence=0)
    for i in (0, 11, 40):
        for q, (lo, hi) in enumerate(ranges):
            t = lo + (np.arange(res) + 0.5) * (hi - lo) / res
            pts = dg.diagram(i, q)
            pts = pts[np.isfinite(pts[:, 1])]
            tents = np.maximum(0, np.minimum(t[None] - pts[:, :1], pts[:, 1:] - t[None]))
            top = -np.sort(-np.vstack([tents, np.zeros((layers, res))]), axis=0)[:layers]
            npt.assert_allclose(land[i, q * layers * res:(q + 1) * layers * res], top.ravel(),
                                rtol=1e-6)  # float32
            alive = ((pts[:, :1] <= t[None]) & (t[None] < pts[:, 1:])).sum(axis=0)
            npt.assert_array_equal(betti[i, q * res:(q + 1) * res], alive)


@pytest.mark.parametrize("method", METHODS)
def test_identical_diagrams_give_identical_finite_features(method):
    dg = local_persistence(make_lattice("hcp", 3), r_cut=1.8)
    feats = vectorize(dg, method)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    npt.assert_array_equal(vectorize(dg.select([3, 3]), method, ranges=None)[0],
                           vectorize(dg.select([3, 3]), method)[1])
    # every atom of a perfect crystal: the same diagram up to round-off pairs (dropped by the
    # default min_persistence) and ulps of the values
    npt.assert_allclose(feats, np.broadcast_to(feats[0], feats.shape), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_pairs_of_unselected_dimensions_are_skipped_whatever_their_dim(method):
    # dims not asked for, out-of-range ones included (a hand-made Diagrams: -1, 3, 7), change
    # nothing: each pair's slot is looked up per dimension inside the kernels
    base = [(0, np.inf, 0), (0.2, 0.9, 0), (1.0, 3.0, 1), (0.5, 2.5, 1)]
    clean = vectorize(one_atom(base), method, dims=(1, 0), ranges=[[0, 4]] * 2)
    noisy = one_atom(base + [(0.1, 3.9, 2), (0.3, 1.0, -1), (1.5, 2.0, 3), (0.4, 3.0, 7)])
    npt.assert_array_equal(vectorize(noisy, method, dims=(1, 0), ranges=[[0, 4]] * 2), clean)
    assert np.any(clean != 0)


@pytest.mark.parametrize("method", METHODS)
def test_empty_dimensions_and_empty_diagrams_give_zeros(method):
    dg = one_atom([(0, np.inf, 0), (0, 0.5, 0)])  # nothing in H1, H2
    feats = vectorize(dg, method, ranges=[[0, 1]] * 3)
    assert np.isfinite(feats).all()
    n0 = {"image": 20, "betti": 20, "landscape": 60, "stats": 18}[method]
    assert np.all(feats[0, n0:] == 0) and np.any(feats[0, :n0] != 0)
    none = Diagrams([0, 0], [], [], [])
    assert np.all(vectorize(none, method) == 0)  # default ranges of an empty set: [0, 1]


def test_estimator_learns_ranges_once_and_applies_them_to_other_frames():
    fit_dg = local_persistence(make_lattice("fcc", 3, noise=0.06, seed=2), r_cut=1.3)
    other = local_persistence(make_lattice("bcc", 3, noise=0.06, seed=3), r_cut=1.3)
    vec = DiagramVectorizer("betti", resolution=9, dims=(1, 2))
    assert vec.get_params()["resolution"] == 9 and not hasattr(vec, "ranges_")
    with pytest.raises(NotFittedError):
        vec.transform(other)
    assert vec.fit(fit_dg) is vec
    assert vec.dims_ == (1, 2) and vec.ranges_.shape == (2, 2)
    fitted = vectorize(other, "betti", resolution=9, dims=(1, 2), ranges=vec.ranges_)
    npt.assert_array_equal(vec.transform(other), fitted)
    assert not np.array_equal(vec.transform(other), vectorize(other, "betti", resolution=9,
                                                              dims=(1, 2)))
    names = vec.get_feature_names_out()
    assert len(names) == vec.n_features_out_ == 18 and names[0] == "H1_betti_0"
    twin = clone(vec)
    assert twin.get_params() == vec.get_params() and not hasattr(twin, "ranges_")


@pytest.mark.parametrize("kwargs,match", [
    (dict(method="silhouette"), "method='silhouette' unknown"),
    (dict(resolution=0), "resolution must be a positive integer, got 0"),
    (dict(sigma=-1.0), "sigma must be > 0"),
    (dict(quantiles=(0.5, 2.0)), "quantiles must be values in"),
    (dict(dims=(1, 3)), "dims must be distinct homology dimensions"),
    (dict(ranges=[[0, 1]]), "ranges must be finite"),
    (dict(min_persistence=-1.0), "min_persistence must be None or a number >= 0"),
])
def test_bad_parameters_name_the_culprit(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vectorize(SINGLE, **kwargs)
