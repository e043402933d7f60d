"""Neighbors Map: known answers, symmetry, invariances, numba vs NumPy reference, chunking, errors."""
import importlib

import numpy as np
import numpy.testing as npt
import pytest

from descriptors import Box, Frame, make_lattice, neighbor_list
from descriptors.neighbors_map import (default_map_cutoff, iter_neighbors_map, neighbors_map,
                                       neighbors_map_features)

nmap = importlib.import_module("descriptors.neighbors_map")  # the package attribute is the function
KINDS = ("fcc", "bcc", "hcp", "sc")
CELLS = {"fcc": 3, "bcc": 3, "hcp": (3, 2, 2), "sc": 4}
# float32 images of values O(1): 1e-6 absolute is a few float32 ulps
ATOL32 = 1e-6


def _rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _rotated(frame, seed):
    rot = _rotation(seed)
    return Frame(frame.positions @ rot, Box(frame.box.cell @ rot), frame.ids, frame.types)


def _sheared(kind, n_cells, noise, seed, types=None):
    """A crystal mapped into the cell a=(L,0,0), b=(t,L,0), c=(t2,t3,L) (a sheared, triclinic box)."""
    f = make_lattice(kind, n_cells, noise=noise, seed=seed, types=types)
    L = f.box.cell[0, 0]
    cell = np.array([[L, 0, 0], [0.31 * L, L, 0], [0.17 * L, -0.23 * L, L]])
    frac = f.box.to_fractional(f.positions)
    return Frame(frac @ cell, Box(cell), f.ids, f.types)


# -- known answers -----------------------------------------------------------------------------

def test_fcc_first_shell_ball_known_values():
    # ball = the 13-atom cuboctahedron: from a vertex, distances 1 (centre), 1 x4, sqrt2 x2, sqrt3 x4, 2
    f = make_lattice("fcc", 3, nn_distance=2.0)
    im = neighbors_map(f, r_cut=2.2, size=16, gamma=2.0, beta=3.0)[:, 0]
    row = (2.0 * np.array([1, 1, 1, 1, 1] + [2 ** .5] * 2 + [3 ** .5] * 4 + [2])) ** -2.0
    expected = np.zeros((16, 16))
    expected[0, :12] = 0.25                     # centre to its 12 neighbours at d = 2
    expected[1:13, :12] = 2.0 ** (-1 / 3) * row  # alpha_i = d(0, j_i)^(-1/beta)
    npt.assert_allclose(im, np.broadcast_to(expected, im.shape), rtol=1e-6)  # float32 rounding


def test_gamma_and_beta_enter_as_documented():
    f = make_lattice("sc", 3, nn_distance=1.5)
    im = neighbors_map(f, r_cut=1.6, size=8, gamma=3.0, beta=0.5)[0, 0]
    # ball: centre + 6 neighbours at 1.5; from a neighbour: centre 1.5, 4 at 1.5*sqrt2, 1 at 3
    npt.assert_allclose(im[0, :6], 1.5 ** -3.0, rtol=1e-6)
    row = 1.5 ** (-1 / 0.5) * (1.5 * np.array([1, 2 ** .5, 2 ** .5, 2 ** .5, 2 ** .5, 2])) ** -3.0
    npt.assert_allclose(im[1:7, :6], np.broadcast_to(row, (6, 6)), rtol=1e-6)
    assert not im[7:].any() and not im[:, 6:].any()  # missing entries are 0


def test_default_cutoff_follows_the_reference_rule():
    # 1.2 x the (size+1)-th neighbour distance: sqrt3 (fcc) and sqrt(11/3) (bcc) for size 32,
    # sqrt2 (fcc) for size 12
    assert default_map_cutoff(make_lattice("fcc", 3)) == pytest.approx(1.2 * 3 ** 0.5)
    assert default_map_cutoff(make_lattice("bcc", 3)) == pytest.approx(1.2 * (11 / 3) ** 0.5)
    assert default_map_cutoff(make_lattice("fcc", 3), 12) == pytest.approx(1.2 * 2 ** 0.5)


# -- symmetry of perfect crystals ----------------------------------------------------------------

@pytest.fixture(scope="module")
def perfect_maps():
    return {k: neighbors_map(make_lattice(k, CELLS[k])) for k in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_perfect_crystal_atoms_share_one_image(kind, perfect_maps):
    im = perfect_maps[kind]
    assert im.shape[1:] == (1, 32, 32) and im.dtype == np.float32
    assert np.count_nonzero(im[0]) == 32 * 32  # the default ball fills the image
    npt.assert_allclose(im, np.broadcast_to(im[0], im.shape), atol=ATOL32)  # exact symmetry


def test_four_crystals_give_four_images(perfect_maps):
    for i, a in enumerate(KINDS):
        for b in KINDS[i + 1:]:
            # the images differ by O(0.1-1) somewhere; 0.05 is far above float32 noise
            assert np.abs(perfect_maps[a][0] - perfect_maps[b][0]).max() > 0.05, (a, b)


@pytest.mark.parametrize("kind", ["hcp", "fcc"])
def test_numpy_reference_agrees_on_perfect_crystals(kind, perfect_maps):
    ref = neighbors_map(make_lattice(kind, CELLS[kind]), backend="numpy")
    npt.assert_allclose(perfect_maps[kind], ref, atol=ATOL32)


def test_triclinic_primitive_fcc_equals_cubic_fcc(perfect_maps):
    a = 2 ** 0.5  # nn distance 1
    prim = a / 2 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)
    grid = np.array(np.meshgrid(*[np.arange(4)] * 3, indexing="ij")).reshape(3, -1).T
    f = Frame(grid @ prim, Box(4 * prim))  # 64 atoms; the box is narrower than the ball
    im = neighbors_map(f, r_cut=1.2 * 3 ** 0.5)
    npt.assert_allclose(im, np.broadcast_to(perfect_maps["fcc"][0], im.shape), atol=ATOL32)


def test_box_smaller_than_ball_sees_periodic_images():
    small, big = make_lattice("sc", 2), make_lattice("sc", 5)  # box 2 vs ball radius 2.68
    im_small = neighbors_map(small, r_cut=2.68)
    npt.assert_allclose(im_small, np.broadcast_to(neighbors_map(big, r_cut=2.68)[0], im_small.shape),
                        atol=ATOL32)


# -- invariances ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def noisy():
    f = make_lattice("fcc", 3, noise=0.05, seed=3)
    return f, neighbors_map(f, r_cut=2.1)


@pytest.mark.parametrize("seed", [0, 1])
def test_rotation_invariance(seed, noisy):
    f, im = noisy
    # float64 round-off of the rotated positions (~1e-15) vanishes in float32 output
    npt.assert_allclose(neighbors_map(_rotated(f, seed), r_cut=2.1), im, atol=ATOL32)


def test_rotation_invariance_with_ties():
    f = make_lattice("hcp", (3, 2, 2))
    im = neighbors_map(_rotated(f, 7))
    npt.assert_allclose(im, np.broadcast_to(neighbors_map(f)[0], im.shape), atol=ATOL32)


def test_translation_and_box_vector_shift_invariance(noisy):
    f, im = noisy
    moved = Frame(f.positions + np.array([0.37, -1.3, 2.9]), f.box, f.ids, f.types)
    shifted = Frame(f.positions + f.box.cell[1] - 2 * f.box.cell[2], f.box, f.ids, f.types)
    npt.assert_allclose(neighbors_map(moved, r_cut=2.1), im, atol=ATOL32)  # round-off, as above
    npt.assert_allclose(neighbors_map(shifted, r_cut=2.1), im, atol=ATOL32)


@pytest.mark.parametrize("kind", ["noisy", "hcp"])
def test_permutation_invariance(kind, noisy):
    f, im = noisy if kind == "noisy" else (make_lattice("hcp", (3, 2, 2)), None)
    im = neighbors_map(f, r_cut=2.1) if im is None else im
    perm = np.random.default_rng(5).permutation(f.n_atoms)
    g = Frame(f.positions[perm], f.box)  # new ids follow the new order
    npt.assert_allclose(neighbors_map(g, r_cut=2.1), im[perm], atol=ATOL32)


# -- numba kernel vs NumPy reference ---------------------------------------------------------------

@pytest.mark.parametrize("case", ["noisy_fcc", "sheared_bcc", "sheared_liquid_like", "partial_balls"])
def test_numba_equals_reference(case):
    if case == "noisy_fcc":
        f, kw = make_lattice("fcc", 3, noise=0.05, seed=1, vacancies=0.1), {}
    elif case == "sheared_bcc":
        f, kw = _sheared("bcc", 4, 0.05, 2), {"size": 24}
    elif case == "sheared_liquid_like":
        f, kw = _sheared("sc", 4, 0.2, 3), {"gamma": 1.5, "beta": 2.0}
    else:  # balls smaller than the image, some atoms nearly isolated
        f, kw = make_lattice("bcc", 3, noise=0.1, seed=4, vacancies=0.5), {"r_cut": 1.3}
    a = neighbors_map(f, **kw)
    b = neighbors_map(f, backend="numpy", **kw)
    npt.assert_allclose(a, b, rtol=1e-6, atol=ATOL32)  # both float64 inside, float32 out


def test_numba_equals_reference_with_weights_and_k_list():
    f = _sheared("fcc", 3, 0.05, 6, types=[1, 2, 2, 1, 2, 1, 1])
    nl = neighbor_list(f, k=20)
    w = [{1: 1.0, 2: 0.3}, {1: -1.0, 2: 2.0}]
    a = neighbors_map(f, nl, size=16, weights=w)
    b = neighbors_map(f, nl, size=16, weights=w, backend="numpy")
    assert a.shape == (f.n_atoms, 3, 16, 16)
    npt.assert_allclose(a, b, rtol=1e-6, atol=ATOL32)  # float32 output of float64 work


def test_thread_count_does_not_change_the_result(noisy):
    import numba

    f, im = noisy
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = neighbors_map(f, r_cut=2.1)
    finally:
        numba.set_num_threads(before)
    npt.assert_array_equal(one, im)


@pytest.mark.parametrize("weights", [None, [{1: 1.0, 2: 0.4}]])
def test_one_and_two_numba_threads_agree_bitwise(weights):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba runs with a single thread here")
    # 500 atoms: 8 blocks of atoms, shared between the threads in a different way for each count
    f = make_lattice("fcc", 5, noise=0.05, seed=11, types=[1, 2, 2, 1])
    nl = neighbor_list(f, r_cut=default_map_cutoff(f))
    before = numba.get_num_threads()
    try:
        images = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            images.append(neighbors_map(f, nl, weights=weights))
    finally:
        numba.set_num_threads(before)
    npt.assert_array_equal(images[0], images[1])


def _emulate_network(x, steps):
    """The kernel's sorting network in NumPy: x (n, lanes), padded to blocks of 16 with +inf."""
    B = nmap._BLOCK
    y = np.full((-(-len(x) // B) * B, x.shape[1]), np.inf)
    y[:len(x)] = x
    for s in range(0, len(y), B):
        for i, j in nmap._BLOCK_NET:
            y[[s + i, s + j]] = np.minimum(y[s + i], y[s + j]), np.maximum(y[s + i], y[s + j])
    for kind, i, j in steps:
        if kind == nmap._EXCHANGE:
            y[[i, j]] = np.minimum(y[i], y[j]), np.maximum(y[i], y[j])
        elif kind == nmap._MIN:
            y[i] = np.minimum(y[i], y[j])
        else:
            for a, b in nmap._BITONIC_NET:
                y[[i + a, i + b]] = np.minimum(y[i + a], y[i + b]), np.maximum(y[i + a], y[i + b])
    return y


def test_sorting_networks_select_the_smallest_sorted():
    rng = np.random.default_rng(0)
    assert len(nmap._BLOCK_NET) == 63 and len(nmap._BITONIC_NET) == 32
    for n in list(range(1, 70)) + list(range(70, nmap._NET_MAX + 1, 7)) + [nmap._NET_MAX]:
        for nout in sorted({min(32, n - 1), min(12, n - 1), n - 1} - {0}):
            steps = nmap._merge_schedule(n, nout)
            last_row = max([i + 15 if kind == nmap._BITONIC else max(i, j) for kind, i, j in steps],
                           default=0)
            assert last_row < -(-n // 16) * 16  # no step reads past the last block
            # small integers: many ties; floats: none
            x = np.concatenate([rng.integers(0, 5, (n, 4)), rng.random((n, 4))], axis=1)
            npt.assert_array_equal(_emulate_network(x, steps)[:nout], np.sort(x, axis=0)[:nout],
                                   err_msg=f"n={n}, nout={nout}")


@pytest.mark.parametrize("weights", [None, [{1: 1.0, 2: -0.5}]])
def test_row_by_row_sort_equals_the_networks_bitwise(weights):
    # balls past the networks' size take the scalar path; force it with truncated networks
    f = make_lattice("bcc", 3, noise=0.05, seed=12, types=[1, 2])
    nl = neighbor_list(f, r_cut=default_map_cutoff(f))
    codes, wtab = nmap._weight_table(f, weights)
    args = (nl.offsets, nl.indices, nl.distances, nl.vectors, codes, codes, wtab, 32, 2.0, 3.0,
            float(nl.r_cut))
    net = nmap._networks(32, wtab.shape[0] > 1)
    images = []
    for net_max in (nmap._NET_MAX, 8):  # 8: every ball here (m ~ 57) sorts row by row
        im = np.empty((f.n_atoms, wtab.shape[0], 32, 32), dtype=np.float32)
        nmap._nmap_parallel(*args, im, *net[:3], net[3][:net_max + 2])
        images.append(im)
    npt.assert_array_equal(images[0], images[1])


def test_balls_bigger_than_the_networks_match_the_reference():
    f = make_lattice("fcc", 2, noise=0.03, seed=13)  # 32 atoms; box narrower than the ball
    kw = {"r_cut": 2.9, "size": 12}  # ~140 neighbours, more than _NET_MAX - 1
    nl = neighbor_list(f, r_cut=2.9)
    assert nl.counts.min() >= nmap._NET_MAX
    npt.assert_allclose(neighbors_map(f, nl, **kw), neighbors_map(f, nl, backend="numpy", **kw),
                        rtol=1e-6, atol=ATOL32)


# -- weights (alloys) -------------------------------------------------------------------------------

def test_binary_alloy_channels_contrast():
    f = make_lattice("bcc", 3, types=[1, 2])  # B2 (CsCl) order: corners 1, body centres 2
    im = neighbors_map(f, weights=[{1: 1.0, 2: 2.0}])
    t1, t2 = f.types == 1, f.types == 2
    npt.assert_allclose(im[:, 0], np.broadcast_to(im[0, 0], im[:, 0].shape), atol=ATOL32)  # geometry alike
    assert np.abs(im[t1, 1].mean(0) - im[t2, 1].mean(0)).max() > 0.5  # species differ in channel 1
    # the 8 first neighbours are of the other species: w = 1 * 2 in row 0
    npt.assert_allclose(im[:, 1, 0, :8], 2 * im[:, 0, 0, :8], rtol=1e-6)
    npt.assert_allclose(im[t1, 1, 0, 8:14], 1 * im[t1, 0, 0, 8:14], rtol=1e-6)  # second shell: same
    npt.assert_allclose(im[t2, 1, 0, 8:14], 4 * im[t2, 0, 0, 8:14], rtol=1e-6)  # species


def test_ordered_alloy_ties_are_broken_by_species():
    # L1_2 (Cu3Au-like): a majority atom has 8 majority and 4 minority neighbours at the same
    # distance, so each weighted row depends on how equal distances are ordered
    f = make_lattice("fcc", 3, types=[2, 1, 1, 1])
    w = [{1: 1.0, 2: 3.0}]
    im = neighbors_map(f, weights=w)
    for t in (1, 2):
        sel = im[f.types == t]
        npt.assert_allclose(sel, np.broadcast_to(sel[0], sel.shape), atol=1e-5)  # symmetric sites
    perm = np.random.default_rng(2).permutation(f.n_atoms)
    g = Frame(f.positions[perm], f.box, types=f.types[perm])
    npt.assert_allclose(neighbors_map(g, weights=w), im[perm], atol=1e-5)  # float32 of values ~10
    npt.assert_allclose(neighbors_map(g, weights=w, backend="numpy"), im[perm], atol=1e-5)


def test_unit_weights_repeat_the_geometric_channel(noisy):
    f, im = noisy
    two = neighbors_map(f, r_cut=2.1, weights={1: 1.0})  # one mapping = one extra channel
    npt.assert_array_equal(two[:, 0], im[:, 0])
    npt.assert_array_equal(two[:, 1], im[:, 0])


# -- chunking and features ----------------------------------------------------------------------------

def test_iteration_matches_the_full_stack(noisy, monkeypatch):
    f, im = noisy
    nl = neighbor_list(f, r_cut=2.5)
    parts = list(iter_neighbors_map(f, nl, chunk=25, r_cut=2.1))
    assert [p[0].start for p in parts] == list(range(0, f.n_atoms, 25))
    npt.assert_array_equal(np.concatenate([p[1] for p in parts]), im)
    monkeypatch.setattr(nmap, "_NEIGHBOR_BLOCK", 40)  # neighbour search block by block too
    npt.assert_array_equal(np.concatenate([p[1] for p in iter_neighbors_map(f, chunk=15, r_cut=2.1)]), im)
    npt.assert_array_equal(neighbors_map(f, r_cut=2.1), im)


def test_features_are_block_row_and_column_means(noisy):
    f, im = noisy
    feats = neighbors_map_features(f, r_cut=2.1, block=5, chunk=30)
    assert feats.shape == (f.n_atoms, 25 + 64) and feats.dtype == np.float32
    npt.assert_allclose(feats[:, :25], im[:, 0, :5, :5].reshape(len(im), -1))
    npt.assert_allclose(feats[:, 25:57], im[:, 0].mean(axis=2), rtol=1e-6)  # float32 means
    npt.assert_allclose(feats[:, 57:], im[:, 0].mean(axis=1), rtol=1e-6)


def test_features_separate_crystals(perfect_maps):
    feats = {k: neighbors_map_features(make_lattice(k, CELLS[k]))[0] for k in KINDS}
    for i, a in enumerate(KINDS):
        for b in KINDS[i + 1:]:
            assert np.abs(feats[a] - feats[b]).max() > 0.05, (a, b)


# -- errors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"size": 0}, "size=0"), ({"size": -3}, "size=-3"), ({"size": 2.5}, "size=2.5"),
    ({"r_cut": -1.0}, "r_cut=-1.0"), ({"r_cut": 0}, "r_cut=0"), ({"gamma": -2.0}, "gamma=-2.0"),
    ({"beta": 0.0}, "beta=0.0"), ({"weights": [{1: 1.0}]}, r"no weight for atom type 2"),
    ({"weights": [5]}, r"weights\[0\]=5"), ({"backend": "cuda"}, "backend='cuda'"),
])
def test_bad_parameters_raise(kwargs, match):
    f = make_lattice("sc", 3, types=[1, 2])
    with pytest.raises(ValueError, match=match):
        neighbors_map(f, **kwargs)


def test_bad_iteration_parameters_raise_at_call():
    f = make_lattice("sc", 3)
    with pytest.raises(ValueError, match="chunk=0"):
        iter_neighbors_map(f, chunk=0)  # not deferred to the first block
    with pytest.raises(ValueError, match="block=40"):
        neighbors_map_features(f, block=40)


def test_neighbor_list_mismatch_raises():
    f = make_lattice("sc", 3)
    with pytest.raises(ValueError, match=r"r_cut=3.0 exceeds"):
        neighbors_map(f, neighbor_list(f, 2.0), r_cut=3.0)
    with pytest.raises(ValueError, match=r"r_cut=1.5 cannot be applied to a k-nearest"):
        neighbors_map(f, neighbor_list(f, k=6), r_cut=1.5)
    with pytest.raises(ValueError, match="neighbors has 27 atoms, the frame 8"):
        neighbors_map(make_lattice("sc", 2), neighbor_list(f, 2.0))


# -- the compact features: parallel reduction, chunks of rows -------------------------------

@pytest.mark.parametrize("weights", [None, [{1: 1.0, 2: -1.0}]])
@pytest.mark.parametrize("size,block", [(32, 8), (12, 3), (6, 6)])
def test_features_equal_the_numpy_reduction_of_the_images_bit_for_bit(weights, size, block):
    """The parallel kernel keeps the top-left block and the row and column means exactly as
    NumPy's float32 ``mean`` computes them (its pairwise summation order)."""
    f = _sheared("fcc", 3, 0.05, 6, types=[1, 2, 2, 1]) if weights else \
        make_lattice("bcc", 4, noise=0.06, seed=2)
    nl = neighbor_list(f, 2.4)
    im = neighbors_map(f, nl, size=size, weights=weights)
    n_ch = im.shape[1]
    want = np.concatenate([im[:, :, :block, :block].reshape(len(im), n_ch, -1),
                           im.mean(axis=3), im.mean(axis=2)], axis=2).reshape(len(im), -1)
    got = neighbors_map_features(f, nl, size=size, block=block, weights=weights, chunk=37)
    np.testing.assert_array_equal(got, want)


def test_features_and_images_of_a_chunk_of_rows_equal_the_whole_frame_rows():
    from descriptors.neighbors import neighbor_chunks

    f = _sheared("hcp", 3, 0.05, 7, types=[1, 2])
    w = [{1: 1.0, 2: 0.5}]
    nl = neighbor_list(f, 2.3)
    feats = neighbors_map_features(f, nl, weights=w)
    ims = neighbors_map(f, nl, weights=w)
    for a, b, part in neighbor_chunks(f, 2.3, chunk_size=25):
        np.testing.assert_array_equal(neighbors_map_features(f, part, weights=w, rows=slice(a, b)),
                                      feats[a:b])
        np.testing.assert_array_equal(neighbors_map(f, part, weights=w, rows=slice(a, b)),
                                      ims[a:b])
    with pytest.raises(ValueError, match="rows must be a slice"):
        neighbors_map_features(f, nl, rows=[0, 1])
    with pytest.raises(ValueError, match="rows must be a slice"):
        neighbors_map_features(f, None, rows=slice(0, 5))
    with pytest.raises(ValueError, match="neighbors has .* rows, the slice rows 5"):
        neighbors_map_features(f, nl, rows=slice(0, 5))
