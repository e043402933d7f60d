"""Periodic neighbour lists against a brute-force search over periodic images."""
import itertools

import numpy as np
import numpy.testing as npt
import pytest

from descriptors import Box, Frame, first_shell_distance, make_lattice, neighbor_list


def brute_force(frame, r_cut):
    """All (i, j, vector) with |r_j + n.cell - r_i| < r_cut over enough images, self at 0 excluded."""
    cell = frame.box.cell
    n_img = np.ceil(r_cut / frame.box.widths).astype(int) + 1
    shifts = np.array(list(itertools.product(*[range(-m, m + 1) for m in n_img]))) @ cell
    out = []
    for i, ri in enumerate(frame.positions):
        d = frame.positions[None, :, :] + shifts[:, None, :] - ri  # (images, atoms, 3)
        dist = np.linalg.norm(d, axis=2)
        img, j = np.nonzero((dist < r_cut) & (dist > 1e-12))
        out.append(sorted(zip(np.round(dist[img, j], 10), j, map(tuple, np.round(d[img, j], 10)))))
    return out


def as_sets(nl):
    return [sorted(zip(np.round(nl.of(i)[1], 10), nl.of(i)[0], map(tuple, np.round(nl.of(i)[2], 10))))
            for i in range(nl.n_atoms)]


def random_frame(n, cell, seed):
    rng = np.random.default_rng(seed)
    box = Box(cell)
    return Frame(rng.random((n, 3)) @ box.cell, box)


@pytest.mark.parametrize("lattice,count", [("fcc", 12), ("bcc", 8), ("hcp", 12), ("sc", 6),
                                           ("diamond", 4)])
def test_first_shell_coordination(lattice, count):
    frame = make_lattice(lattice, 3)
    nl = neighbor_list(frame, r_cut=1.05)  # nn distance 1; the next shell is at >= 1.15
    npt.assert_array_equal(nl.counts, count)
    npt.assert_allclose(nl.distances, 1.0, atol=1e-12)  # float64 all the way


@pytest.mark.parametrize("cell", [
    np.diag([5.0, 6.0, 7.0]),
    np.array([[5.0, 0, 0], [1.5, 5.5, 0], [-1.0, 2.0, 6.0]]),            # LAMMPS triclinic
    np.array([[4.0, 1.0, 0.5], [0.3, 4.5, -0.7], [0.2, 0.9, 5.0]]),      # general cell (ase-like)
])
def test_cutoff_matches_brute_force(cell):
    frame = random_frame(60, cell, seed=1)
    assert as_sets(neighbor_list(frame, r_cut=2.1)) == brute_force(frame, 2.1)


@pytest.mark.parametrize("cell", [np.diag([1.5, 1.7, 1.6]),
                                  np.array([[1.4, 0, 0], [0.6, 1.5, 0], [0.3, -0.4, 1.6]])])
def test_tiny_box_sees_several_images_of_one_neighbour(cell):
    frame = random_frame(3, cell, seed=2)
    nl = neighbor_list(frame, r_cut=2.0)
    assert as_sets(nl) == brute_force(frame, 2.0)
    j0 = nl.of(0)[0]
    assert np.bincount(j0).max() > 1  # the same atom appears through several images
    assert 0 in j0  # and an atom sees its own images


def test_k_nearest_matches_sorted_brute_force():
    frame = random_frame(80, np.array([[4.0, 0, 0], [1.0, 4.0, 0], [0.5, 0.5, 4.0]]), seed=3)
    nl = neighbor_list(frame, k=10)
    ref = brute_force(frame, 3.0)
    npt.assert_array_equal(nl.counts, 10)
    for i in range(frame.n_atoms):
        npt.assert_allclose(nl.of(i)[1], [d for d, _, _ in ref[i][:10]], atol=1e-9)


def test_k_nearest_in_tiny_box():
    frame = random_frame(2, np.diag([1.0, 1.1, 1.2]), seed=4)
    nl = neighbor_list(frame, k=12)
    ref = brute_force(frame, 2.5)
    for i in range(2):
        npt.assert_allclose(nl.of(i)[1], [d for d, _, _ in ref[i][:12]], atol=1e-9)


def test_vectors_are_consistent_with_distances_and_sorted():
    frame = make_lattice("hcp", 3, noise=0.05, seed=5)
    nl = neighbor_list(frame, r_cut=1.5)
    npt.assert_allclose(np.linalg.norm(nl.vectors, axis=1), nl.distances, rtol=1e-14)
    for i in range(0, frame.n_atoms, 17):
        assert np.all(np.diff(nl.of(i)[1]) >= 0)
    # symmetry: i sees j at v  <=>  j sees i at -v
    q = nl.query_indices()
    fwd = set(zip(q.tolist(), nl.indices.tolist(), map(tuple, np.round(nl.vectors, 9))))
    bwd = set(zip(nl.indices.tolist(), q.tolist(), map(tuple, np.round(-nl.vectors, 9))))
    assert fwd == bwd


def test_translation_and_rotation_invariance_of_distances():
    frame = make_lattice("bcc", 3, noise=0.04, seed=6)
    base = neighbor_list(frame, r_cut=1.3)
    moved = Frame(frame.positions + [0.37, -1.2, 5.0], frame.box, frame.ids)
    rot, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(3, 3)))
    rotated = Frame(frame.positions @ rot, Box(frame.box.cell @ rot), frame.ids)
    for other in (moved, rotated):
        nl = neighbor_list(other, r_cut=1.3)
        npt.assert_array_equal(nl.offsets, base.offsets)
        npt.assert_allclose(nl.distances, base.distances, atol=1e-10)
    npt.assert_allclose(neighbor_list(rotated, r_cut=1.3).vectors, base.vectors @ rot, atol=1e-10)


def test_truncate_equals_new_search():
    frame = make_lattice("fcc", 3, noise=0.05, seed=8)
    big = neighbor_list(frame, r_cut=1.6)
    small = neighbor_list(frame, r_cut=1.1)
    cut = big.truncate(1.1)
    npt.assert_array_equal(cut.offsets, small.offsets)
    npt.assert_allclose(cut.distances, small.distances)


def test_first_shell_distance_recovers_scale():
    for kind in ("fcc", "bcc", "hcp", "diamond"):
        assert first_shell_distance(make_lattice(kind, 3, nn_distance=2.5)) == pytest.approx(2.5)


@pytest.mark.parametrize("kwargs,match", [({}, "exactly one"), ({"r_cut": -1.0}, "r_cut"),
                                          ({"k": 0}, "k must"), ({"r_cut": 1.0, "k": 3}, "exactly one")])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        neighbor_list(make_lattice("sc", 2), **kwargs)


@pytest.mark.parametrize("kwargs", [{"r_cut": 1.45}, {"k": 14}])
def test_scipy_and_freud_backends_agree(kwargs):
    frame = make_lattice("fcc", 4, noise=0.06, seed=9)
    a = neighbor_list(frame, backend="freud", **kwargs)
    b = neighbor_list(frame, backend="scipy", **kwargs)
    npt.assert_array_equal(a.offsets, b.offsets)
    npt.assert_array_equal(a.indices, b.indices)
    npt.assert_allclose(a.vectors, b.vectors, atol=1e-12)


def test_scipy_backend_refuses_triclinic():
    frame = random_frame(20, np.array([[4.0, 0, 0], [1.0, 4.0, 0], [0.5, 0.5, 4.0]]), seed=1)
    with pytest.raises(ValueError, match="backend='scipy' needs"):
        neighbor_list(frame, r_cut=1.0, backend="scipy")
