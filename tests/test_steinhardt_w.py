"""Wigner 3j symbols and the third-order Steinhardt invariants ŵ_l / Lechner-Dellago w̄_l."""
import numpy as np
import numpy.testing as npt
import pytest

from descriptors import Box, Frame, make_lattice, neighbor_list, steinhardt_w, wigner_3j
from descriptors.steinhardt import default_shell_cutoff

# Published ŵ4, ŵ6 (Steinhardt, Nelson & Ronchetti 1983; Lechner & Dellago 2008, Table I):
# fcc and hcp with 12 neighbours, bcc with 8 + 6, sc with 6, the icosahedron's 12 vertices.
PUBLISHED = {"fcc": (-0.159317, -0.013161), "hcp": (0.134097, -0.012442),
             "bcc": (0.159317, 0.013161), "sc": (0.159317, 0.013161)}


def _rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_3j_known_values_and_selection_rules():
    npt.assert_allclose(wigner_3j(2, 2, 2, 0, 0, 0), -np.sqrt(2 / 35), rtol=1e-14)
    npt.assert_allclose(wigner_3j(1, 1, 0, 1, -1, 0), 1 / np.sqrt(3), rtol=1e-14)
    npt.assert_allclose(wigner_3j(1, 1, 2, 1, -1, 0), np.sqrt(1 / 30), rtol=1e-14)
    npt.assert_allclose(wigner_3j(4, 4, 4, 0, 0, 0), np.sqrt(18 / 1001), rtol=1e-14)
    assert wigner_3j(2, 2, 2, 1, 1, 1) == 0.0          # m1 + m2 + m3 != 0
    assert wigner_3j(1, 1, 3, 0, 0, 0) == 0.0          # no triangle
    assert wigner_3j(3, 3, 3, 0, 0, 0) == 0.0          # odd l1 + l2 + l3 with all m = 0


@pytest.mark.parametrize("l1,l2", [(4, 4), (6, 6), (3, 5)])
def test_3j_orthogonality(l1, l2):
    """sum_{m1, m2} (2 L + 1) (l1 l2 L; m1 m2 M) (l1 l2 L'; m1 m2 M) = delta_LL' for every M."""
    for big_m in (0, 1, 2):
        ls = [L for L in range(abs(l1 - l2), l1 + l2 + 1) if L >= big_m]
        g = np.array([[sum((2 * a + 1) * wigner_3j(l1, l2, a, m1, -m1 - big_m, big_m)
                           * wigner_3j(l1, l2, b, m1, -m1 - big_m, big_m)
                           for m1 in range(-l1, l1 + 1) if abs(m1 + big_m) <= l2)
                       for b in ls] for a in ls])
        npt.assert_allclose(g, np.eye(len(ls)), atol=1e-12)


def test_3j_symmetries():
    rng = np.random.default_rng(0)
    for _ in range(40):
        l1, l2 = rng.integers(0, 7, size=2)
        l3 = rng.integers(abs(l1 - l2), l1 + l2 + 1)
        m1, m2 = rng.integers(-l1, l1 + 1), rng.integers(-l2, l2 + 1)
        m3 = -m1 - m2
        a = wigner_3j(int(l1), int(l2), int(l3), int(m1), int(m2), int(m3))
        sign = (-1) ** int(l1 + l2 + l3)
        npt.assert_allclose(wigner_3j(int(l2), int(l1), int(l3), int(m2), int(m1), int(m3)),
                            sign * a, atol=1e-14)                       # odd permutation
        npt.assert_allclose(wigner_3j(int(l2), int(l3), int(l1), int(m2), int(m3), int(m1)),
                            a, atol=1e-14)                              # cyclic
        npt.assert_allclose(wigner_3j(int(l1), int(l2), int(l3), int(-m1), int(-m2), int(-m3)),
                            sign * a, atol=1e-14)                       # m -> -m


@pytest.mark.parametrize("kind", sorted(PUBLISHED))
def test_perfect_crystals_match_published_values(kind):
    f = make_lattice(kind, 3)
    w = steinhardt_w(f, l=(4, 6))
    assert w.shape == (f.n_atoms, 2) and w.dtype == np.float64
    npt.assert_allclose(w, np.broadcast_to(PUBLISHED[kind], w.shape), atol=1e-6)
    npt.assert_allclose(steinhardt_w(f, l=(4, 6), average=True), w, atol=1e-6)


def test_icosahedron():
    """ŵ6 = -0.169754 (the signature of icosahedral order); q4 = 0, so ŵ4 is set to 0."""
    phi = (1 + 5 ** 0.5) / 2
    v = np.array([(0, a, b * phi) for a in (1, -1) for b in (1, -1)], dtype=float)
    shell = np.concatenate([v, v[:, [1, 2, 0]], v[:, [2, 0, 1]]])
    f = Frame(np.concatenate([[[0.0, 0, 0]], shell]) + 10.0, Box.orthogonal([20, 20, 20]))
    w = steinhardt_w(f, l=(4, 6), r_cut=2.2)
    npt.assert_allclose(w[0], [0.0, -0.169754], atol=1e-6)


@pytest.mark.parametrize("average", [False, True])
def test_equals_freud_on_noisy_frames(average):
    """freud's own w_l (float32, wl_normalize) on crystopo's bonds, averaged or not."""
    import freud

    for kind, cells in (("fcc", 5), ("hcp", (6, 4, 4)), ("bcc", 6)):
        f = make_lattice(kind, cells, noise=0.08, seed=3)
        nl = neighbor_list(f, r_cut=default_shell_cutoff(f))
        box, rot = f.box.canonical()
        fbox = freud.box.Box.from_matrix(box.cell.T)
        pos = fbox.wrap(f.positions @ rot - box.origin - box.cell.sum(axis=0) / 2)
        fnl = freud.locality.NeighborList.from_arrays(f.n_atoms, f.n_atoms, nl.query_indices(),
                                                      nl.indices, nl.vectors @ rot)
        ref = []
        for l in (4, 6, 8):
            st = freud.order.Steinhardt(l, average=average, wl=True, wl_normalize=True)
            st.compute((fbox, pos), neighbors=fnl)
            ref.append(np.real(st.particle_order))
        w = steinhardt_w(f, nl, l=(4, 6, 8), average=average)
        assert np.abs(w).mean() > 0.01                        # not a frame of zeros
        diff = np.abs(w - np.column_stack(ref))
        assert diff.max() < 1e-4 and np.median(diff) < 1e-6     # freud: float32 harmonics


def test_rotation_translation_and_permutation_invariance():
    f = make_lattice("hcp", (5, 3, 3), noise=0.07, seed=1)
    w = steinhardt_w(f, l=(4, 6), average=True, r_cut=1.25)
    rot = _rotation(11)
    g = Frame(f.positions @ rot + 0.37, Box(f.box.cell @ rot, f.box.origin @ rot + 0.37))
    npt.assert_allclose(steinhardt_w(g, l=(4, 6), average=True, r_cut=1.25), w, atol=1e-12)
    perm = np.random.default_rng(2).permutation(f.n_atoms)
    h = Frame(f.positions[perm], f.box, ids=f.ids[perm])     # atoms sorted back by id
    npt.assert_allclose(steinhardt_w(h, l=(4, 6), average=True, r_cut=1.25), w, atol=1e-12)


def test_averaged_w4_sign_separates_thermal_fcc_from_hcp():
    """Thermal noise: averaged w̄4 has opposite signs in fcc and hcp on most atoms."""
    w_fcc = steinhardt_w(make_lattice("fcc", 6, noise=0.06, seed=1), l=4, average=True)[:, 0]
    w_hcp = steinhardt_w(make_lattice("hcp", (7, 4, 4), noise=0.06, seed=1), l=4,
                         average=True)[:, 0]
    assert np.mean(w_fcc < 0) > 0.95 and np.mean(w_hcp > 0) > 0.9


def test_no_neighbours_empty_frame_and_bad_l():
    f = Frame(np.array([[0.0, 0, 0], [1.0, 0, 0], [5.0, 5, 5]]), Box.orthogonal([10, 10, 10]))
    w = steinhardt_w(f, l=(2, 4), r_cut=1.5)
    npt.assert_array_equal(w[2], 0.0)
    # one bond: turned onto z, q_lm = Y_l0(z) delta_m0 > 0, so ŵ_l = (l l l; 0 0 0)
    npt.assert_allclose(w[:2], [[-np.sqrt(2 / 35), np.sqrt(18 / 1001)]] * 2, atol=1e-12)
    assert steinhardt_w(Frame(np.zeros((0, 3)), Box.orthogonal([5, 5, 5])), r_cut=1.0).shape == (0, 2)
    for bad in (3, (4, 5), 0, (), -2, True):
        with pytest.raises(ValueError, match="l"):
            steinhardt_w(f, l=bad, r_cut=1.5)
