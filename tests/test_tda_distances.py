"""Diagram distances and Frechet means against brute force and hand values."""
import itertools

import numpy as np
import numpy.testing as npt
import pytest

from descriptors import make_lattice
from tda import (bottleneck_distance, diagram_distances, local_persistence, mean_diagram,
                 wasserstein_distance)


def brute_wasserstein(a, b, order, internal_p):
    """Minimum over all partial matchings (each point to a partner or to the diagonal)."""
    def ground(x, y):
        diff = np.abs(np.asarray(x) - np.asarray(y))
        if np.isinf(internal_p):
            return diff.max()
        return (diff ** internal_p).sum() ** (1 / internal_p)

    def to_diag(x):
        proj = np.full(2, (x[0] + x[1]) / 2)
        return ground(x, proj)

    best = np.inf
    n, m = len(a), len(b)
    for k in range(min(n, m) + 1):
        for ia in itertools.combinations(range(n), k):
            for jb in itertools.permutations(range(m), k):
                cost = sum(ground(a[i], b[j]) ** order for i, j in zip(ia, jb))
                cost += sum(to_diag(a[i]) ** order for i in range(n) if i not in ia)
                cost += sum(to_diag(b[j]) ** order for j in range(m) if j not in jb)
                best = min(best, cost)
    return best ** (1 / order)


@pytest.mark.parametrize("order,internal_p",
                         [(1.0, np.inf), (2.0, 2.0), (1.0, 1.0), (3.0, np.inf)])
def test_wasserstein_equals_brute_force(order, internal_p):
    rng = np.random.default_rng(int(order * 10 + internal_p if np.isfinite(internal_p) else 99))
    for _ in range(5):
        a = rng.random((4, 2)) * [1, 0.5] + [0, 0.5]
        b = rng.random((3, 2)) * [1, 0.5] + [0, 0.5]
        a[:, 1] += a[:, 0]
        b[:, 1] += b[:, 0]
        npt.assert_allclose(wasserstein_distance(a, b, order=order, internal_p=internal_p),
                            brute_wasserstein(a, b, order, internal_p), rtol=1e-12)


def test_essential_points_and_bottleneck_by_hand():
    a = [[0.0, 1.0], [0.0, np.inf]]
    b = [[0.0, 1.0], [0.2, np.inf]]
    assert wasserstein_distance(a, b) == pytest.approx(0.2, rel=1e-12)
    assert wasserstein_distance(a, [[0.0, 1.0]]) == np.inf
    assert bottleneck_distance(a, b) == pytest.approx(0.2, rel=1e-12)
    # one far point against an empty diagram: half its persistence (L-inf to the diagonal)
    assert bottleneck_distance([[1.0, 3.0]], np.zeros((0, 2))) == pytest.approx(1.0, rel=1e-12)


def test_distance_matrices_between_atoms():
    dg = local_persistence(make_lattice("fcc", 2, noise=0.05, seed=0), r_cut=1.3)
    atoms = [0, 3, 9]
    d = diagram_distances(dg, dim=1, atoms=atoms)
    assert d.shape == (3, 3) and np.all(np.diag(d) == 0)
    npt.assert_array_equal(d, d.T)
    assert d[0, 1] == pytest.approx(bottleneck_distance(dg.diagram(0, 1), dg.diagram(3, 1)),
                                    rel=1e-12)
    w = diagram_distances(dg, dg, dim=2, metric="wasserstein", order=2, atoms=atoms, atoms_b=[1])
    assert w.shape == (3, 1)
    assert w[2, 0] == pytest.approx(wasserstein_distance(dg.diagram(9, 2), dg.diagram(1, 2),
                                                         order=2), rel=1e-12)
    with pytest.raises(ValueError, match="metric='energy'"):
        diagram_distances(dg, metric="energy")


def test_mean_diagram_of_classes():
    same = [np.array([[0.0, 1.0], [0.5, 2.0]])] * 4
    npt.assert_allclose(mean_diagram(same), same[0], rtol=1e-15)
    # symmetric spread around (1, 2): the mean is the centre
    shifted = [np.array([[1.0 + e, 2.0 - e]]) for e in (-0.1, 0.1, -0.05, 0.05)]
    npt.assert_allclose(mean_diagram(shifted), [[1.0, 2.0]], rtol=1e-12)
    # classes of atoms: fcc and bcc means are far apart, two fcc halves are close
    fcc = local_persistence(make_lattice("fcc", 2, noise=0.04, seed=1), r_cut=1.3)
    bcc = local_persistence(make_lattice("bcc", 3, noise=0.04, seed=2), r_cut=1.3)
    means = [mean_diagram(fcc, atoms=np.arange(0, 16)), mean_diagram(fcc, atoms=np.arange(16, 32)),
             mean_diagram(bcc, atoms=np.arange(0, 30))]
    d = diagram_distances(means, dim=1)
    assert d[0, 1] < 0.5 * min(d[0, 2], d[1, 2])
