"""Steinhardt q_l / averaged q_l and the ten Wolde solid-bond criterion."""
import numpy as np
import numpy.testing as npt
import pytest

from descriptors import Box, Frame, make_lattice, neighbor_list
from descriptors.steinhardt import (default_shell_cutoff, solid_bond_counts, solid_liquid,
                                    steinhardt, steinhardt_and_solid, steinhardt_w)

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
    assert q.shape == (f.n_atoms, 2) and q.dtype == np.float64
    assert steinhardt(f, l=(4, 6), backend="freud").dtype == np.float32
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


# -- numba kernels against the freud reference ---------------------------------------------------

LS = (4, 6, 8, 10, 12)
FREUD_TOL = 1e-5  # freud works in float32


def _both(f, nl=None, **kw):
    return steinhardt(f, nl, **kw), steinhardt(f, nl, backend="freud", **kw)


def _near_pole(f, nl=None, average=False, degrees=2.0):
    """Atoms with a bond within ``degrees`` of the z axis (with ``average``: or a neighbour's bond).

    freud takes ``theta = acos(z / r)`` in float32, which loses ~sqrt(1e-7) rad near the poles:
    its q_l is then off by up to ~3e-5 (checked against scipy in float64).  Bonds of noisy
    cubic crystals in their cubic orientation (bcc's second shell, sc) sit right there.
    """
    nl = neighbor_list(f, r_cut=default_shell_cutoff(f)) if nl is None else nl
    v = nl.vectors
    polar = np.abs(v[:, 2]) > np.cos(np.radians(degrees)) * np.linalg.norm(v, axis=1)
    atom = np.bincount(nl.query_indices()[polar], minlength=nl.n_atoms) > 0
    if average:
        atom = atom | (np.bincount(nl.query_indices(), weights=atom[nl.indices], minlength=nl.n_atoms) > 0)
    return atom


def _close_to_freud(ours, ref, polar):
    """Within 1e-5 of freud, except near-polar atoms (freud's float32 acos): 1e-4 there."""
    npt.assert_allclose(ours[~polar], ref[~polar], atol=FREUD_TOL)
    npt.assert_allclose(ours[polar], ref[polar], atol=1e-4)


def _scipy_q(nl, ls, average):
    """Float64 reference: q_l (or q̄_l) from scipy's spherical harmonics, all m."""
    import scipy.special as sp

    v = nl.vectors
    r = np.linalg.norm(v, axis=1)
    theta, phi = np.arccos(np.clip(v[:, 2] / r, -1, 1)), np.arctan2(v[:, 1], v[:, 0])
    qi, counts = nl.query_indices(), np.maximum(nl.counts, 1)
    out = np.zeros((nl.n_atoms, len(ls)))
    for col, l in enumerate(ls):
        m = np.arange(-l, l + 1)[None, :]
        if hasattr(sp, "sph_harm_y"):
            y = sp.sph_harm_y(l, m, theta[:, None], phi[:, None])
        else:  # scipy < 1.15
            y = sp.sph_harm(m, l, phi[:, None], theta[:, None])
        qlm = np.zeros((nl.n_atoms, 2 * l + 1), dtype=complex)
        np.add.at(qlm, qi, y)
        qlm /= counts[:, None]
        if average:
            total = qlm.copy()
            np.add.at(total, qi, qlm[nl.indices])
            qlm = total / (1.0 + nl.counts)[:, None]
        out[:, col] = np.sqrt(4 * np.pi / (2 * l + 1) * np.sum(np.abs(qlm) ** 2, axis=1))
    return out


@pytest.mark.parametrize("kind, q6", [("fcc", 0.57452), ("bcc", 0.51069), ("hcp", 0.48476)])
def test_numba_equals_freud_on_perfect_lattices(kind, q6):
    f = make_lattice(kind, 4)
    nl = neighbor_list(f, r_cut=default_shell_cutoff(f))
    assert set(nl.counts.tolist()) == {14 if kind == "bcc" else 12}
    for average in (False, True):
        ours, ref = _both(f, nl, l=LS, average=average)
        assert ours.dtype == np.float64
        npt.assert_allclose(ours, ref, atol=FREUD_TOL)
        npt.assert_allclose(ours[:, 1], q6, atol=1e-5)
        assert np.ptp(ours, axis=0).max() < 1e-12  # every atom alike, to float64 rounding


@pytest.mark.parametrize("kind, noise, seed", [("fcc", 0.05, 0), ("bcc", 0.06, 1), ("hcp", 0.08, 2),
                                               ("fcc", 0.15, 3)])
def test_numba_equals_freud_on_noisy_frames(kind, noise, seed):
    f = make_lattice(kind, 5, noise=noise, seed=seed, vacancies=0.02)
    nl = neighbor_list(f, r_cut=1.3)
    for average in (False, True):
        ours, ref = _both(f, nl, l=LS, average=average)
        _close_to_freud(ours, ref, _near_pole(f, nl, average))
        npt.assert_allclose(ours, _scipy_q(nl, LS, average), rtol=0, atol=1e-12)  # float64 reference


def test_numba_equals_freud_for_low_and_high_l():
    f = make_lattice("fcc", 4, noise=0.07, seed=5)  # l = 0 (always 1), odd l, and l = 24
    ours, ref = _both(f, l=(0, 1, 2, 3, 6, 24), average=True)
    _close_to_freud(ours, ref, _near_pole(f, average=True))
    nl = neighbor_list(f, r_cut=default_shell_cutoff(f))
    npt.assert_allclose(ours, _scipy_q(nl, (0, 1, 2, 3, 6, 24), True), rtol=0, atol=1e-12)
    npt.assert_allclose(ours[:, 0], 1.0, atol=1e-12)


def test_numba_equals_freud_on_triclinic_frame():
    a = 2 ** 0.5
    prim = a / 2 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float) @ _rotation(3)
    grid = np.array(np.meshgrid(*[np.arange(6)] * 3, indexing="ij")).reshape(3, -1).T
    rng = np.random.default_rng(0)
    f = Frame(grid @ prim + rng.normal(scale=0.06, size=(len(grid), 3)), Box(6 * prim))
    assert not f.box.is_orthogonal
    for average in (False, True):
        ours, ref = _both(f, l=LS, average=average)
        _close_to_freud(ours, ref, _near_pole(f, average=average))
    npt.assert_array_equal(solid_bond_counts(f), solid_bond_counts(f, backend="freud"))
    tiny = make_lattice("sc", 2, noise=0.03, seed=1)  # narrow box: bonds to images of the same atom
    ours, ref = _both(tiny, l=LS, average=True)
    _close_to_freud(ours, ref, _near_pole(tiny, average=True))
    nl = neighbor_list(tiny, r_cut=default_shell_cutoff(tiny))
    npt.assert_allclose(ours, _scipy_q(nl, LS, True), rtol=0, atol=1e-12)


def test_numba_equals_freud_on_two_species_frame():
    f = make_lattice("bcc", 5, noise=0.05, seed=4, types=[1, 2])  # CsCl (B2): species ignored
    assert set(f.types.tolist()) == {1, 2}
    for average in (False, True):
        ours, ref = _both(f, l=LS, average=average)
        _close_to_freud(ours, ref, _near_pole(f, average=average))
    npt.assert_array_equal(solid_bond_counts(f), solid_bond_counts(f, backend="freud"))


def test_atoms_without_neighbours_get_zeros():
    f = Frame(np.array([[0.0, 0, 0], [1.0, 0, 0], [5.0, 5, 5]]), Box.orthogonal([10, 10, 10]))
    nl = neighbor_list(f, r_cut=1.5)
    for backend in ("numba", "freud"):
        q, solid, counts = steinhardt_and_solid(f, nl, l=(4, 6), average=True, n_bonds=0,
                                                q_threshold=-1.0, return_counts=True, backend=backend)
        npt.assert_allclose(q[2], 0.0)
        assert counts.tolist() == [1, 1, 0] and solid.all()
    assert steinhardt(Frame(np.zeros((0, 3)), Box.orthogonal([5, 5, 5])), r_cut=1.0).shape == (0, 5)


# -- ten Wolde against freud ---------------------------------------------------------------------

def _freud_solid_liquid(f, nl, q_threshold=0.5, n_bonds=7):
    """freud's own SolidLiquid on crystopo's bonds (orthogonal box wider than 2 r_cut)."""
    import freud

    box = freud.box.Box.from_matrix(f.box.cell.T)
    pts = box.wrap(f.positions - f.box.origin - f.box.cell.sum(0) / 2)
    fnl = freud.locality.NeighborList.from_arrays(f.n_atoms, f.n_atoms, nl.query_indices(),
                                                  nl.indices, nl.vectors)
    sl = freud.order.SolidLiquid(6, q_threshold=q_threshold, solid_threshold=n_bonds, normalize_q=True)
    sl.compute((box, pts), neighbors=fnl)
    return np.asarray(sl.num_connections)


def _liquid_like(n=2000, seed=0):
    from scipy.stats import qmc

    x = qmc.PoissonDisk(d=3, radius=0.075, seed=seed).random(n) * 12.0
    return Frame(x, Box.orthogonal([12.0, 12.0, 12.0]))


@pytest.mark.parametrize("name", ["fcc", "bcc", "hcp", "fcc_hot", "liquid"])
def test_ten_wolde_flags_equal_freud(name):
    if name == "liquid":
        f = _liquid_like()
    elif name == "fcc_hot":
        f = make_lattice("fcc", 6, noise=0.11, seed=7)  # a mix of solid and liquid-like atoms
    else:
        f = make_lattice(name, 6, noise=0.06, seed=2)
    nl = neighbor_list(f, r_cut=default_shell_cutoff(f))
    counts = solid_bond_counts(f, nl)
    ref = solid_bond_counts(f, nl, backend="freud")
    npt.assert_array_equal(counts, ref)
    npt.assert_array_equal(counts, _freud_solid_liquid(f, nl))  # ties at exactly 0.5: none here
    npt.assert_array_equal(solid_liquid(f, nl), solid_liquid(f, nl, backend="freud"))
    frac = solid_liquid(f, nl).mean()
    if name == "liquid":
        assert frac < 0.05
    elif name == "fcc_hot":
        assert 0.1 < frac < 0.9
    else:
        assert frac > 0.95


def test_combined_call_equals_separate_calls():
    f = make_lattice("fcc", 6, noise=0.1, seed=3)
    nl = neighbor_list(f, r_cut=1.25)
    for ls, average in ((LS, True), ((4, 8), True), ((6,), False), ((12, 4, 6, 4), True)):
        q, solid, counts = steinhardt_and_solid(f, nl, l=ls, average=average, return_counts=True)
        npt.assert_array_equal(q, steinhardt(f, nl, l=ls, average=average))  # bitwise
        npt.assert_array_equal(counts, solid_bond_counts(f, nl))
        npt.assert_array_equal(solid, solid_liquid(f, nl))
    q, solid = steinhardt_and_solid(f, nl, average=True, q_threshold=0.6, n_bonds=9, solid_l=4)
    npt.assert_array_equal(solid, solid_liquid(f, nl, q_threshold=0.6, n_bonds=9, l=4))
    qf, solid_f = steinhardt_and_solid(f, nl, average=True, backend="freud")
    npt.assert_allclose(steinhardt_and_solid(f, nl, average=True)[0], qf, atol=FREUD_TOL)
    npt.assert_array_equal(solid_f, solid_liquid(f, nl))


def test_numba_rotation_invariance():
    f = make_lattice("hcp", (5, 3, 3), noise=0.07, seed=1)
    rot = _rotation(11)
    g = Frame(f.positions @ rot, Box(f.box.cell @ rot))
    for average in (False, True):
        npt.assert_allclose(steinhardt(g, r_cut=1.25, l=LS, average=average),
                            steinhardt(f, r_cut=1.25, l=LS, average=average), atol=1e-12)
    npt.assert_array_equal(solid_bond_counts(g, r_cut=1.25), solid_bond_counts(f, r_cut=1.25))


def test_independent_of_thread_count():
    import numba

    f = make_lattice("fcc", 7, noise=0.1, seed=6)  # 1372 atoms: several parallel chunks
    nl = neighbor_list(f, r_cut=1.3)
    before = numba.get_num_threads()
    out = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out.append((steinhardt(f, nl, l=LS), steinhardt_w(f, nl, l=(4, 6), average=True))
                       + steinhardt_and_solid(f, nl, l=LS, average=True, return_counts=True))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*out):
        npt.assert_array_equal(a, b)  # bitwise


def test_bad_backend_raises():
    f = make_lattice("fcc", 2)
    for func in (steinhardt, solid_liquid, solid_bond_counts, steinhardt_and_solid):
        with pytest.raises(ValueError, match="backend='cuda'"):
            func(f, backend="cuda")
    with pytest.raises(ValueError, match="l=0"):
        steinhardt_and_solid(f, solid_l=0)
