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


# --------------------------------------------------------------------------------------------
# triclinic cells, subsets (query=), k nearest, unwrapped positions: against a brute force over
# the periodic images -2..2 of the three cell vectors
# --------------------------------------------------------------------------------------------

IMAGES = np.array(list(itertools.product(range(-2, 3), repeat=3)))


def brute_images(frame, rows, limit=None):
    """For each row: (distances, neighbour indices, vectors) over images -2..2, sorted by
    (distance, index), the atom itself at zero shift excluded; only distances below
    ``limit`` (default: twice the smallest cell width, beyond which -2..2 is incomplete)."""
    cell = frame.box.cell
    shifts = IMAGES @ cell
    limit = 2 * frame.box.widths.min() if limit is None else limit
    out = []
    for i in rows:
        d = frame.positions[None, :, :] + shifts[:, None, :] - frame.positions[i]
        dist = np.linalg.norm(d, axis=2)
        dist[62, i] = np.inf  # IMAGES[62] == (0, 0, 0): the atom itself
        img, j = np.nonzero(dist < limit)
        order = np.lexsort((j, dist[img, j]))
        out.append((dist[img, j][order], j[order], d[img, j][order]))
    return out


def check_against_brute(nl, frame, rows, *, r_cut=None, k=None, limit=None):
    """The list's rows equal the brute force, and the brute force's -2..2 images sufficed."""
    assert IMAGES[62].tolist() == [0, 0, 0]
    reach = 2 * frame.box.widths.min()  # any image beyond -2..2 is at least this far
    reach = reach if limit is None else min(reach, limit)
    ref = brute_images(frame, rows, reach)
    assert nl.n_atoms == len(rows)
    for row, (dist, j, vec) in enumerate(ref):
        got_j, got_d, got_v = nl.of(row)
        if r_cut is not None:
            assert r_cut <= reach
            m = int(np.sum(dist < r_cut))
        else:
            m = k
            assert len(dist) > k and dist[k - 1] < reach
        assert len(got_j) == m, f"row {row} (atom {rows[row]}): {len(got_j)} neighbours, expected {m}"
        npt.assert_allclose(got_d, dist[:m], atol=1e-10, rtol=0)
        # same neighbours (ties by index) through the same images; equal distances may come
        # in any order, and a tie at the k-th between two images of one atom is either image
        tied = r_cut is None and dist[k] - dist[k - 1] < 1e-9
        key = lambda jj, vv: sorted(zip(jj.tolist(), map(tuple, np.round(vv, 8))))
        if tied:
            sure = dist[:m] < dist[k - 1] - 1e-9
            assert key(got_j[sure], got_v[sure]) == key(j[:m][sure], vec[:m][sure])
            assert sorted(got_j.tolist()) == sorted(j[:m].tolist())
        else:
            assert key(got_j, got_v) == key(j[:m], vec[:m])
        npt.assert_allclose(np.linalg.norm(got_v, axis=1), got_d, rtol=1e-13)


TRICLINIC_CASES = {
    # name: (cell, atoms, r_cut)
    "tilt0.05": (np.array([[6.0, 0, 0], [0.3, 6.0, 0], [0.3, 0.3, 6.0]]), 216, 1.6),
    "lammps": (np.array([[5.0, 0, 0], [1.5, 5.5, 0], [-1.0, 2.0, 6.0]]), 120, 2.1),
    "max-tilt": (np.array([[5.0, 0, 0], [2.5, 5.0, 0], [-2.5, 2.5, 5.0]]), 100, 2.2),
    "general": (np.array([[4.0, 1.0, 0.5], [0.3, 4.5, -0.7], [0.2, 0.9, 5.0]]), 80, 2.1),
    "thin": (np.array([[7.0, 0, 0], [1.0, 7.0, 0], [0.4, -0.3, 1.3]]), 40, 1.9),   # 1 width < 2 r_cut
    "small": (np.array([[2.2, 0, 0], [0.7, 2.0, 0], [0.5, -0.6, 2.1]]), 6, 2.0),    # all < 2 r_cut
    "tiny": (np.array([[1.4, 0, 0], [0.6, 1.5, 0], [0.3, -0.4, 1.6]]), 3, 1.8),
}


@pytest.mark.parametrize("name", list(TRICLINIC_CASES))
@pytest.mark.parametrize("subset", [False, True])
def test_triclinic_cutoff_full_and_subset_match_brute_force(name, subset):
    cell, n, r_cut = TRICLINIC_CASES[name]
    frame = random_frame(n, cell, seed=11)
    rows = np.random.default_rng(3).permutation(n)[: max(1, n // 3)] if subset else np.arange(n)
    nl = neighbor_list(frame, r_cut=r_cut, query=rows if subset else None)
    check_against_brute(nl, frame, rows, r_cut=r_cut)


@pytest.mark.parametrize("name", list(TRICLINIC_CASES))
@pytest.mark.parametrize("subset", [False, True])
@pytest.mark.parametrize("k", [1, 12, 20])
def test_triclinic_k_nearest_full_and_subset_match_brute_force(name, subset, k):
    cell, n, _ = TRICLINIC_CASES[name]
    frame = random_frame(n, cell, seed=12)
    rows = np.random.default_rng(4).permutation(n)[: max(1, n // 3)] if subset else np.arange(n)
    nl = neighbor_list(frame, k=k, query=rows if subset else None)
    npt.assert_array_equal(nl.counts, k)
    check_against_brute(nl, frame, rows, k=k)


@pytest.mark.parametrize("backend", ["scipy", "freud"])
@pytest.mark.parametrize("kwargs", [{"r_cut": 1.4}, {"k": 12}])
def test_orthogonal_subset_matches_brute_force_with_both_backends(backend, kwargs):
    frame = random_frame(150, np.diag([5.0, 5.5, 6.0]), seed=13)
    rows = np.array([149, 0, 77, 3, 3])  # any order, repeats allowed
    nl = neighbor_list(frame, backend=backend, query=rows, **kwargs)
    check_against_brute(nl, frame, rows, **kwargs)


def test_subset_rows_equal_the_full_list():
    frame = random_frame(300, np.array([[7.0, 0, 0], [0.35, 7.0, 0], [0.35, 0.35, 7.0]]), seed=14)
    rows = np.array([5, 299, 0, 150])
    for kwargs in ({"r_cut": 1.7}, {"k": 12}):
        full = neighbor_list(frame, **kwargs)
        part = neighbor_list(frame, query=rows, **kwargs)
        for row, i in enumerate(rows):
            npt.assert_array_equal(part.of(row)[0], full.of(i)[0])
            npt.assert_allclose(part.of(row)[1], full.of(i)[1], rtol=0, atol=1e-13)


def tilted_fcc(cells, tilt, seed):
    """Noisy fcc (nn distance 1) in a LAMMPS cell with tilt factors tilt * L."""
    base = make_lattice("fcc", cells, noise=0.03, seed=seed)
    cell = base.box.cell.copy()
    L = cell[0, 0]
    cell[1, 0], cell[2, 0], cell[2, 1] = tilt * L, tilt * L, -tilt * L
    return Frame(base.box.to_fractional(base.positions) @ cell, Box(cell))


def test_tilted_box_above_2000_atoms_first_shell_distance():
    # regression: 2,048 atoms made first_shell_distance sample atoms through a subset query,
    # which returned the atom itself at distance 0 in a tilted box -> NaN cutoffs downstream
    frame = tilted_fcc(8, 0.05, seed=15)
    assert frame.n_atoms == 2048
    d = first_shell_distance(frame)
    assert np.isfinite(d) and 0.9 < d < 1.1
    rows = np.arange(0, 2048, 41)
    ref = brute_images(frame, rows, limit=2.0)
    nearest = np.array([dist[:12] for dist, _, _ in ref])
    first = nearest[nearest < 1.2 * np.median(nearest[:, 0])]
    assert d == pytest.approx(np.median(first), abs=0.02)  # sample of 2000 of 2048 atoms
    nl = neighbor_list(frame, k=12, query=rows)
    check_against_brute(nl, frame, rows, k=12, limit=2.0)
    r = 1.3 * d
    nl = neighbor_list(frame, r_cut=r, query=rows)  # the cutoff the callers go on to use
    check_against_brute(nl, frame, rows, r_cut=r, limit=2.0)


def test_k_nearest_ties_broken_by_index_in_a_perfect_crystal():
    frame = make_lattice("bcc", 3)  # shells of 8, 6, 12, 24: k=33 cuts the 24-shell
    nl = neighbor_list(frame, k=33)
    ref = brute_images(frame, range(frame.n_atoms))
    npt.assert_array_equal(nl.counts, 33)
    for i, (dist, j, _) in enumerate(ref):
        npt.assert_allclose(nl.of(i)[1], dist[:33], atol=1e-12)
        # equal distances: the lowest indices first (an image set per index can repeat an index)
        got_j, got_d, _ = nl.of(i)
        for shell in np.unique(np.round(dist[:33], 9)):
            got = got_j[np.round(got_d, 9) == shell]
            assert np.all(np.diff(got) >= 0)  # listed by index within a shell
            want = np.sort(j[np.round(dist, 9) == shell])[: len(got)]
            npt.assert_array_equal(got, want)
    # the same choice wherever the crystal sits: shifted, unwrapped
    rng = np.random.default_rng(21)
    for shift in (rng.normal(size=3) * 5, frame.box.cell.sum(axis=0) * 7):
        other = neighbor_list(Frame(frame.positions + shift, frame.box), k=33)
        npt.assert_array_equal(other.indices, nl.indices)
        npt.assert_allclose(other.distances, nl.distances, atol=1e-12)


def test_query_keyword():
    frame = make_lattice("fcc", 3, noise=0.05, seed=16)
    rows = np.array([3, 1, 4])
    new = neighbor_list(frame, k=12, query=rows)
    full = neighbor_list(frame, k=12)
    for r, i in enumerate(rows):                     # row r belongs to atom rows[r]
        npt.assert_array_equal(new.of(r)[0], full.of(i)[0])
    mask = np.zeros(frame.n_atoms, bool)
    mask[[1, 3, 4]] = True
    npt.assert_array_equal(neighbor_list(frame, k=12, query=mask).indices,
                           neighbor_list(frame, k=12, query=[1, 3, 4]).indices)
    assert neighbor_list(frame, r_cut=1.2, query=[]).n_atoms == 0
    with pytest.raises(ValueError, match="query index 500 out of range"):
        neighbor_list(frame, k=12, query=[0, 500])
    with pytest.raises(ValueError, match="query index -1 out of range"):
        neighbor_list(frame, k=12, query=[-1])


def assert_same_list(a, b, atol=1e-10):
    npt.assert_array_equal(a.offsets, b.offsets)
    npt.assert_array_equal(a.indices, b.indices)
    npt.assert_allclose(a.distances, b.distances, rtol=0, atol=atol)
    npt.assert_allclose(a.vectors, b.vectors, rtol=0, atol=atol)


@pytest.mark.parametrize("cell", [np.diag([5.0, 5.5, 6.0]),
                                  np.array([[5.0, 0, 0], [1.5, 5.5, 0], [-1.0, 2.0, 6.0]]),
                                  np.array([[4.0, 1.0, 0.5], [0.3, 4.5, -0.7], [0.2, 0.9, 5.0]]),
                                  np.array([[1.4, 0, 0], [0.6, 1.5, 0], [0.3, -0.4, 1.6]])])
@pytest.mark.parametrize("kwargs", [{"r_cut": 1.9}, {"k": 12}])
def test_unwrapped_and_translated_positions_give_the_same_list(cell, kwargs):
    rng = np.random.default_rng(17)
    n = 5 if np.linalg.det(cell) < 10 else 90
    frame = random_frame(n, cell, seed=18)
    box = frame.box
    base = neighbor_list(frame, **kwargs)
    # unwrapped: every atom moved by whole (and large) cell vectors, as in LAMMPS xu yu zu
    jumps = rng.integers(-40, 41, size=(n, 3)) @ box.cell
    unwrapped = Frame(frame.positions + jumps, box)
    assert not np.allclose(unwrapped.positions, frame.positions)
    assert_same_list(neighbor_list(unwrapped, **kwargs), base)
    # rigid translation, then re-wrapped (atoms cross the faces), and not re-wrapped
    t = rng.normal(size=3) * 3.0
    moved = Frame(frame.positions + t, box)
    rewrapped = Frame(box.wrap(frame.positions + t), box)
    for other in (moved, rewrapped):
        assert_same_list(neighbor_list(other, **kwargs), base)
    # subsets too
    rows = np.array([n - 1, 0])
    assert_same_list(neighbor_list(unwrapped, query=rows, **kwargs),
                     neighbor_list(frame, query=rows, **kwargs))


def test_box_wrap_moves_by_lattice_vectors_only():
    box = Box(np.array([[5.0, 0, 0], [1.5, 5.5, 0], [-1.0, 2.0, 6.0]]), origin=[1.0, -2.0, 0.5])
    rng = np.random.default_rng(19)
    inside = box.to_cartesian(rng.random((50, 3)))
    npt.assert_array_equal(box.wrap(inside), inside)  # already inside: unchanged, bit for bit
    jumps = rng.integers(-5, 6, size=(50, 3))
    npt.assert_allclose(box.wrap(inside + jumps @ box.cell), inside, atol=1e-12)
    s = box.to_fractional(box.wrap(inside + jumps @ box.cell))
    assert np.all(s > -1e-12) and np.all(s < 1 + 1e-12)


@pytest.mark.parametrize("where", ["last", "first", "middle"])
def test_truncate_with_isolated_atoms(where):
    # atoms far from the rest have no neighbours: empty rows, also in last place
    box = Box.orthogonal([20.0, 20.0, 20.0])
    cluster = make_lattice("fcc", 2, noise=0.02, seed=20).positions + 2.0
    lonely = np.array([[15.0, 15.0, 15.0]])
    pos = {"last": np.vstack([cluster, lonely]), "first": np.vstack([lonely, cluster]),
           "middle": np.vstack([cluster[:10], lonely, cluster[10:]])}[where]
    frame = Frame(pos, box)
    i = {"last": len(pos) - 1, "first": 0, "middle": 10}[where]
    big = neighbor_list(frame, r_cut=1.6)
    assert big.counts[i] == 0
    cut = big.truncate(1.1)
    small = neighbor_list(frame, r_cut=1.1)
    npt.assert_array_equal(cut.offsets, small.offsets)
    npt.assert_array_equal(cut.indices, small.indices)
    npt.assert_allclose(cut.distances, small.distances)
    assert cut.counts[i] == 0 and len(cut.of(i)[0]) == 0
    # everything cut away, and a list with no pairs at all
    assert big.truncate(1e-3).counts.tolist() == [0] * frame.n_atoms
    assert cut.truncate(1e-3).truncate(1e-4).offsets.tolist() == [0] * (frame.n_atoms + 1)


def test_pairs_just_inside_the_cutoff_in_a_large_box():
    # freud's float32 distances are off by ~1e-5 at coordinates ~ 400: pairs a hair inside the
    # cutoff must still be found (and found wherever the frame sits)
    cell = np.array([[800.0, 0, 0], [40.0, 800.0, 0], [-30.0, 20.0, 800.0]])
    box = Box(cell)
    rng = np.random.default_rng(22)
    r = 1.5
    centres = box.to_cartesian(rng.random((150, 3)))
    dirs = rng.normal(size=(150, 3))
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    gap = r - rng.uniform(1e-6, 3e-5, 150)
    frame = Frame(np.vstack([centres, centres + dirs * gap[:, None]]), box)
    nl = neighbor_list(frame, r_cut=r)
    npt.assert_array_equal(nl.counts, 1)
    check_against_brute(nl, frame, np.arange(frame.n_atoms), r_cut=r)
    for shift in (rng.normal(size=3) * 100, cell[0] * 3 - cell[2] * 5):
        assert_same_list(neighbor_list(Frame(frame.positions + shift, box), r_cut=r), nl, atol=1e-9)
    nl = neighbor_list(frame, k=1, query=np.arange(0, 300, 7))
    check_against_brute(nl, frame, np.arange(0, 300, 7), k=1)


# --------------------------------------------------------------------------------------------
# chunked builds (issue #16): rows are searched chunk_size at a time; the list must not depend
# on it, bit for bit
# --------------------------------------------------------------------------------------------

def assert_same_bits(a, b):
    for name in ("offsets", "indices", "distances", "vectors"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name  # bitwise, not allclose
    assert (a.r_cut, a.k) == (b.r_cut, b.k)


CHUNK_CELLS = {
    "orthogonal": np.diag([6.0, 6.5, 7.0]),                                      # scipy path
    "lammps": np.array([[6.0, 0, 0], [1.5, 6.5, 0], [-1.0, 2.0, 7.0]]),          # freud path
    "general": np.array([[6.0, 1.0, 0.5], [0.3, 6.5, -0.7], [0.2, 0.9, 7.0]]),   # rotated back
    "tiny": np.diag([1.5, 1.7, 1.6]),                                            # supercell
}


@pytest.mark.parametrize("name", list(CHUNK_CELLS))
@pytest.mark.parametrize("kwargs", [{"r_cut": 2.1}, {"k": 1}, {"k": 14}])
@pytest.mark.parametrize("subset", [False, True])
def test_chunked_build_is_bitwise_the_unchunked_one(name, kwargs, subset):
    n = 5 if name == "tiny" else 300
    frame = random_frame(n, CHUNK_CELLS[name], seed=21)
    rows = np.random.default_rng(5).choice(n, size=n // 2 + 1) if subset else None  # repeats too
    whole = neighbor_list(frame, query=rows, chunk_size=10**9, **kwargs)
    for chunk_size in (1, 2, 7, 64):
        assert_same_bits(neighbor_list(frame, query=rows, chunk_size=chunk_size, **kwargs), whole)


def test_chunked_build_is_bitwise_the_unchunked_one_with_both_backends():
    frame = random_frame(400, np.diag([7.0, 7.5, 8.0]), seed=22)
    for kwargs in ({"r_cut": 1.9}, {"k": 12}):
        for backend in ("scipy", "freud"):
            whole = neighbor_list(frame, backend=backend, chunk_size=10**9, **kwargs)
            assert_same_bits(neighbor_list(frame, backend=backend, chunk_size=3, **kwargs), whole)


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True, "64"])
def test_bad_chunk_size(chunk_size):
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        neighbor_list(make_lattice("fcc", 3), r_cut=1.2, chunk_size=chunk_size)


def test_scipy_workers_follow_numba_threads(monkeypatch):
    """cKDTree queries use numba's thread count (which Dask and users set), not every CPU."""
    import numba
    import scipy.spatial

    seen = []

    class Recording(scipy.spatial.cKDTree):
        def query(self, *args, **kwargs):
            seen.append(kwargs.get("workers"))
            return super().query(*args, **kwargs)

    monkeypatch.setattr(scipy.spatial, "cKDTree", Recording)
    frame = random_frame(200, np.diag([6.0, 6.5, 7.0]), seed=23)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        neighbor_list(frame, r_cut=1.5, backend="scipy")
        neighbor_list(frame, k=8, backend="scipy")
    finally:
        numba.set_num_threads(before)
    assert seen and set(seen) == {1}


# -- neighbor_chunks: the rows of neighbor_list, a chunk at a time, from one search ---------

def _joined(chunks):
    parts = [nl for _, _, nl in chunks]
    return (np.concatenate([p.counts for p in parts]), np.concatenate([p.indices for p in parts]),
            np.concatenate([p.distances for p in parts]), np.concatenate([p.vectors for p in parts]))


@pytest.mark.parametrize("name", ["orthogonal", "lammps", "general", "thin", "tiny"])
@pytest.mark.parametrize("by", ["cutoff", "k"])
def test_neighbor_chunks_equal_the_rows_of_the_whole_list(name, by):
    from descriptors.neighbors import neighbor_chunks

    cell, n, r_cut = (np.diag([5.0, 6.0, 7.0]), 90, 2.1) if name == "orthogonal" \
        else TRICLINIC_CASES[name]
    frame = random_frame(n, cell, seed=21)
    kw = {"r_cut": r_cut} if by == "cutoff" else {"k": min(12, 3 * n)}
    whole = neighbor_list(frame, **kw)
    for size in (1, 7, n, 10 * n):
        chunks = list(neighbor_chunks(frame, chunk_size=size, **kw))
        bounds = [(a, b) for a, b, _ in chunks]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(b0 == a1 for (_, b0), (a1, _) in zip(bounds[:-1], bounds[1:]))
        assert all(nl.n_atoms == b - a for a, b, nl in chunks)
        got = _joined(chunks)
        for g, w in zip(got, (whole.counts, whole.indices, whole.distances, whole.vectors)):
            npt.assert_array_equal(g, w)    # bit for bit, triclinic rotation included


def test_neighbor_chunks_check_arguments_when_called():
    from descriptors.neighbors import neighbor_chunks

    frame = random_frame(10, np.diag([5.0, 5.0, 5.0]), seed=1)
    with pytest.raises(ValueError, match="exactly one of r_cut and k"):
        neighbor_chunks(frame)
    with pytest.raises(ValueError, match="chunk_size"):
        neighbor_chunks(frame, 1.0, chunk_size=0)


def _rows_by_index(frame, nl):
    """Each row's (j, vector) sorted by j then vector, as float arrays (for allclose)."""
    out = []
    for i in range(nl.n_atoms):
        j, _, v = nl.of(i)
        order = np.lexsort((v[:, 2], v[:, 1], v[:, 0], j))
        out.append(np.column_stack([j[order], v[order]]))
    return out


def _brute_rows(frame, r_cut):
    """All (j, vector) with |r_j + image - r_i| < r_cut, the atom itself at 0 excluded."""
    shifts = np.array(list(itertools.product([-1, 0, 1], repeat=3))) @ frame.box.cell
    out = []
    for i, ri in enumerate(frame.positions):
        d = frame.positions[None] + shifts[:, None] - ri
        img, j = np.nonzero(np.linalg.norm(d, axis=2) < r_cut)
        keep = ~((j == i) & np.all(shifts[img] == 0, axis=1))
        j, v = j[keep], d[img[keep], j[keep]]
        order = np.lexsort((v[:, 2], v[:, 1], v[:, 0], j))
        out.append(np.column_stack([j[order], v[order]]))
    return out


@pytest.mark.parametrize("case", ["perfect fcc (ties)", "noisy bcc", "random with a duplicate",
                                  "box 2-3 radii wide", "elongated box"])
def test_cell_list_search_equals_brute_force_and_freud(case):
    """Cutoff lists of orthogonal periodic boxes come from a numba cell list (three or more
    cells per axis: cell-image shifts; fewer: the minimum-image formula); the pairs are those
    of a brute force over the 27 images, and the list equals freud's AABB search's."""
    rng = np.random.default_rng(4)
    r_cut = 1.45
    if case == "perfect fcc (ties)":
        frame = make_lattice("fcc", 4)
    elif case == "noisy bcc":
        frame = make_lattice("bcc", 5, noise=0.08, seed=2)
    elif case == "random with a duplicate":
        pos = rng.random((300, 3)) * [5.0, 6.0, 7.0]
        pos[7] = pos[11]                       # another atom at distance 0 is a neighbour
        frame = Frame(pos, Box.orthogonal([5.0, 6.0, 7.0]))
    elif case == "box 2-3 radii wide":
        frame = Frame(rng.random((120, 3)) * 3.5, Box.orthogonal([3.5, 3.5, 3.5]))
    else:
        frame = Frame(rng.random((400, 3)) * [3.1, 12.0, 4.4], Box.orthogonal([3.1, 12.0, 4.4]))
    cells = neighbor_list(frame, r_cut=r_cut, backend="scipy")
    for got, want in zip(_rows_by_index(frame, cells), _brute_rows(frame, r_cut)):
        assert got.shape == want.shape
        npt.assert_allclose(got, want, atol=1e-12)
    aabb = neighbor_list(frame, r_cut=r_cut, backend="freud")
    npt.assert_array_equal(cells.offsets, aabb.offsets)
    npt.assert_array_equal(cells.indices, aabb.indices)
    npt.assert_allclose(cells.vectors, aabb.vectors, atol=1e-12)


@pytest.mark.parametrize("name", list(TRICLINIC_CASES))
def test_list_rebuilt_from_its_indices(name):
    """A cutoff list rebuilt from its rows (offsets, indices) and the frame has the same
    vectors and distances; where a cell width is not above 2 r_cut (two images of one atom
    can both be neighbours) it declines, and a list of another frame is refused."""
    from descriptors import NeighborList
    cell, n, r_cut = TRICLINIC_CASES[name]
    rng = np.random.default_rng(7)
    frame = Frame(rng.random((n, 3)) @ cell, Box(cell), np.arange(n), np.ones(n, np.int32))
    nl = neighbor_list(frame, r_cut=r_cut)
    again = NeighborList.from_indices(frame, nl.offsets, nl.indices, r_cut)
    if (frame.box.widths <= 2 * r_cut).any():
        assert again is None
        return
    npt.assert_array_equal(again.indices, nl.indices)
    npt.assert_allclose(again.vectors, nl.vectors, atol=1e-10, rtol=0)
    npt.assert_allclose(again.distances, nl.distances, atol=1e-10, rtol=0)
    moved = Frame(frame.positions + rng.normal(0, 0.3 * r_cut, (n, 3)), frame.box, frame.ids,
                  frame.types)
    assert NeighborList.from_indices(moved, nl.offsets, nl.indices, r_cut) is None
    with pytest.raises(ValueError, match="do not describe"):
        NeighborList.from_indices(frame, nl.offsets[:-1], nl.indices, r_cut)
