"""Steinhardt q_l / averaged q_l and the ten Wolde solid-bond criterion."""
import numpy as np
import numpy.testing as npt
import pytest

from descriptors import Box, Frame, make_lattice, neighbor_list
from descriptors.steinhardt import (default_shell_cutoff, solid_bond_counts, solid_liquid,
                                    steinhardt)

# Published q4, q6 (e.g. Mickel et al., J. Chem. Phys. 138, 044501; Lechner & Dellago 2008):
# fcc/hcp with 12 neighbours, bcc with 8 + 6 neighbours (or 8 alone), sc with 6.
PUBLISHED = {"fcc": (0.19094, 0.57452), "hcp": (0.09722, 0.48476),
             "bcc": (0.03637, 0.51069), "sc": (0.76376, 0.35355)}
TOL = 2e-5  # freud works in float32 (~1e-7) and the published values carry 5 decimals


def _rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("kind", sorted(PUBLISHED))
def test_perfect_crystals_match_published_values(kind):
    f = make_lattice(kind, 3)
    q = steinhardt(f, l=(4, 6))
    assert q.shape == (f.n_atoms, 2) and q.dtype == np.float32
    npt.assert_allclose(q, np.broadcast_to(PUBLISHED[kind], q.shape), atol=TOL)
    npt.assert_allclose(steinhardt(f, l=(4, 6), average=True), q, atol=TOL)  # identical neighbours


def test_bcc_first_shell_only():
    q6 = steinhardt(make_lattice("bcc", 3), l=6, r_cut=1.1)  # 8 neighbours, not 14
    npt.assert_allclose(q6, 0.62854, atol=TOL)


def test_default_cutoff_and_bond_counts():
    assert default_shell_cutoff(make_lattice("bcc", 3, nn_distance=2.0)) == pytest.approx(2.4)
    assert set(solid_bond_counts(make_lattice("bcc", 3)).tolist()) == {14}
    assert set(solid_bond_counts(make_lattice("sc", 3)).tolist()) == {6}


def test_harmonics_agree_with_freud_own_query():
    import freud

    f = make_lattice("fcc", 5, noise=0.06, seed=2)
    for average in (False, True):
        ours = steinhardt(f, l=(4, 6, 8, 10, 12), average=average, r_cut=1.2)
        box = freud.box.Box.from_matrix(f.box.cell.T)
        pts = box.wrap(f.positions - f.box.cell.sum(0) / 2)
        ref = freud.order.Steinhardt([4, 6, 8, 10, 12], average=average)
        ref.compute((box, pts), neighbors={"r_max": 1.2, "exclude_ii": True})
        npt.assert_allclose(ours, ref.particle_order, atol=1e-5)  # float32 on both sides


def test_averaging_narrows_the_distribution():
    f = make_lattice("fcc", 5, noise=0.06, seed=2)
    q6, q6_bar = steinhardt(f, l=6)[:, 0], steinhardt(f, l=6, average=True)[:, 0]
    assert q6_bar.std() < 0.6 * q6.std()  # Lechner-Dellago's point: thermal noise averages out


def test_triclinic_rotated_and_small_boxes():
    a = 2 ** 0.5
    prim = a / 2 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)
    grid = np.array(np.meshgrid(*[np.arange(3)] * 3, indexing="ij")).reshape(3, -1).T
    rot = _rotation(4)
    f = Frame(grid @ prim @ rot, Box(3 * prim @ rot))  # primitive fcc, rotated triclinic cell
    npt.assert_allclose(steinhardt(f, l=(4, 6)), np.broadcast_to(PUBLISHED["fcc"], (27, 2)), atol=TOL)
    tiny = make_lattice("sc", 2)  # box 2: the 1.2 cutoff reaches periodic images of the same atom
    npt.assert_allclose(steinhardt(tiny, l=(4, 6)), np.broadcast_to(PUBLISHED["sc"], (8, 2)), atol=TOL)


def test_narrow_box_equals_its_replica():
    # box 2.83 < 2 x 1.5: bonds reach images of the same atom (the bond-by-bond path); tiled 2x2x2
    # the box is wide enough for freud's own minimum image (the direct path); environments agree
    f = make_lattice("fcc", 2, noise=0.05, seed=8)
    shifts = np.array(np.meshgrid(*[np.arange(2)] * 3, indexing="ij")).reshape(3, -1).T @ f.box.cell
    big = Frame((f.positions[None] + shifts[:, None]).reshape(-1, 3), Box(2 * f.box.cell))
    for average in (False, True):
        small_q = steinhardt(f, r_cut=1.5, average=average)
        npt.assert_allclose(steinhardt(big, r_cut=1.5, average=average), np.tile(small_q, (8, 1)),
                            atol=1e-5)  # float32 harmonics
    npt.assert_array_equal(solid_bond_counts(big, r_cut=1.5), np.tile(solid_bond_counts(f, r_cut=1.5), 8))


def test_rotation_invariance_of_noisy_crystal():
    f = make_lattice("hcp", (4, 3, 3), noise=0.05, seed=1)
    rot = _rotation(9)
    g = Frame(f.positions @ rot, Box(f.box.cell @ rot))
    npt.assert_allclose(steinhardt(g, r_cut=1.2, average=True), steinhardt(f, r_cut=1.2, average=True),
                        atol=1e-5)  # float32 harmonics
    npt.assert_array_equal(solid_bond_counts(g, r_cut=1.2), solid_bond_counts(f, r_cut=1.2))


def test_given_list_is_truncated_like_a_fresh_one():
    f = make_lattice("bcc", 4, noise=0.05, seed=0)
    nl = neighbor_list(f, r_cut=2.0)
    npt.assert_allclose(steinhardt(f, nl, r_cut=1.1), steinhardt(f, r_cut=1.1))
    npt.assert_array_equal(solid_liquid(f, nl.truncate(1.25)), solid_liquid(f, r_cut=1.25))


# -- ten Wolde ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, noise", [("fcc", 0.0), ("fcc", 0.03), ("fcc", 0.05), ("hcp", 0.04),
                                         ("bcc", 0.03)])
def test_crystals_are_solid(kind, noise):
    assert solid_liquid(make_lattice(kind, 4, noise=noise, seed=1)).all()


def test_ideal_gas_is_liquid():
    rng = np.random.default_rng(0)
    gas = Frame(rng.uniform(0, 10, (1000, 3)), Box.orthogonal([10, 10, 10]))
    assert solid_liquid(gas).mean() < 0.02  # chance alignments only


def test_dense_random_packing_is_liquid():
    from scipy.stats import qmc

    # Poisson-disk (hard-sphere-like, amorphous) packing, as the reference's "non-crystalline" set
    x = qmc.PoissonDisk(d=3, radius=0.09, seed=1).random(700) * 10
    assert solid_liquid(Frame(x, Box.orthogonal([10, 10, 10]))).mean() < 0.05


def test_shuffled_crystal_positions_are_liquid():
    f = make_lattice("fcc", 6, noise=0.25, seed=3)  # displacements of a quarter bond: disordered
    assert solid_liquid(f).mean() < 0.05


def test_thresholds_are_parameters():
    f = make_lattice("fcc", 4, noise=0.05, seed=1)
    counts = solid_bond_counts(f)
    assert counts.max() <= 12 and counts.mean() > 10
    assert not solid_liquid(f, n_bonds=13).any()  # fcc has only 12 bonds
    assert solid_bond_counts(f, q_threshold=0.99).mean() < 0.5 * counts.mean()  # stricter coherence
    npt.assert_array_equal(solid_liquid(f, n_bonds=11), counts >= 11)


@pytest.mark.parametrize("func, kwargs, match", [
    (steinhardt, {"r_cut": -1.0}, "r_cut=-1.0"), (steinhardt, {"l": (6, -2)}, r"l=\(6, -2\)"),
    (steinhardt, {"l": []}, r"l=\[\]"), (solid_liquid, {"n_bonds": -1}, "n_bonds=-1"),
    (solid_liquid, {"q_threshold": 1.5}, "q_threshold=1.5"), (solid_bond_counts, {"l": 0}, "l=0"),
])
def test_bad_parameters_raise(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(make_lattice("fcc", 2), **kwargs)


def test_k_list_with_cutoff_raises():
    f = make_lattice("fcc", 3)
    with pytest.raises(ValueError, match=r"r_cut=1.2 cannot be applied to a k-nearest"):
        steinhardt(f, neighbor_list(f, k=12), r_cut=1.2)
