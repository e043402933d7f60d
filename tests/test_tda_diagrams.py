"""Per-atom diagrams: known answers, crystal symmetry, invariances, the Diagrams container."""
import itertools

import numpy as np
import numpy.testing as npt
import pytest

from descriptors import Box, Frame, make_lattice, neighbor_list
from tda import Diagrams, bottleneck_distance, cloud_persistence, local_persistence

ALL_BACKENDS = [("alpha", "numba"), ("alpha", "gudhi"), ("rips", "numba"), ("rips", "gudhi"),
                ("rips", "ripser")]
# ripser computes in float32: its values are exact to ~1e-7 relative; everything else is float64
TOL = {"ripser": 1e-6, "gudhi": 1e-12, "numba": 1e-12}


def max_bottleneck(dg_a, i, dg_b, j, dims=(0, 1, 2)):
    return max(bottleneck_distance(dg_a.diagram(i, q), dg_b.diagram(j, q)) for q in dims)


def rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# ---- known answers ------------------------------------------------------------------------
# Regular tetrahedron, edge a.  Rips: the 6 edges enter together at a -> 3 H0 deaths at a,
# and every triangle and the tetrahedron enter at a too: nothing else.  Alpha (radii): each
# edge's diametral ball is empty (the other vertices are a*sqrt(3)/2 > a/2 from its midpoint)
# -> edges at a/2, giving 3 H0 deaths and 6 - 4 + 1 = 3 independent cycles; the faces'
# smallest spheres (radius a/sqrt(3), centre the face centroid) do not contain the 4th
# vertex (height a*sqrt(2/3) > a/sqrt(3)), so the 4 faces enter at a/sqrt(3), killing the
# 3 cycles and closing one void, which the tetrahedron fills at its circumradius a*sqrt(3/8).
def tetrahedron(a):
    v = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    return v * a / np.sqrt(8.0)  # edge of the unit-coordinate tetrahedron is sqrt(8)


def tetrahedron_answer(a, complex):
    if complex == "rips":
        return [[(0, a)] * 3 + [(0, np.inf)], [], []]
    return [[(0, a / 2)] * 3 + [(0, np.inf)], [(a / 2, a / np.sqrt(3))] * 3,
            [(a / np.sqrt(3), a * np.sqrt(3 / 8))]]


# Octahedron +-e_i: 12 edges sqrt(2), 3 diagonals 2.  Rips: at sqrt(2) the 12 edges and the
# 8 faces (no 4 vertices are pairwise adjacent, so no tetrahedron) form a 2-sphere: 5 H0
# deaths, no cycle, one void, filled at 2 when the diagonals make everything a simplex.
# Alpha: edges at sqrt(2)/2 (Gabriel: the nearest other vertex is sqrt(1.5) from an edge
# midpoint) -> 5 H0 deaths and 12 - 6 + 1 = 7 cycles; the faces (circumradius sqrt(2/3),
# centroid (1,1,1)/3, nearest other vertex sqrt(2) away) kill them and close the void,
# filled at 1, the circumradius of every Delaunay tetrahedron (the 6 points are cospherical).
def octahedron_answer(complex):
    if complex == "rips":
        return [[(0, np.sqrt(2))] * 5 + [(0, np.inf)], [], [(np.sqrt(2), 2.0)]]
    return [[(0, np.sqrt(0.5))] * 5 + [(0, np.inf)], [(np.sqrt(0.5), np.sqrt(2 / 3))] * 7,
            [(np.sqrt(2 / 3), 1.0)]]


# Cube (+-1)^3: 12 edges 2, 12 face diagonals 2 sqrt(2), 4 body diagonals 2 sqrt(3).
# Rips: at 2 the cube graph (triangle free): 7 H0 deaths, 12 - 8 + 1 = 5 cycles; at
# 2 sqrt(2) every simplex without an antipodal pair enters at once (the boundary of the
# 4-d cross-polytope, a 3-sphere): the cycles die, and no void (H2 of S^3 is 0).  Alpha:
# edges at 1, face diagonals and half-faces at sqrt(2) (the other face vertices lie *on*
# the diametral sphere, the opposite face far outside), closing the cube's surface: the
# 5 cycles die and a void is born, filled at the common circumradius sqrt(3).
def cube_answer(complex):
    if complex == "rips":
        return [[(0, 2.0)] * 7 + [(0, np.inf)], [(2.0, 2 * np.sqrt(2))] * 5, []]
    return [[(0, 1.0)] * 7 + [(0, np.inf)], [(1.0, np.sqrt(2))] * 5, [(np.sqrt(2), np.sqrt(3))]]


CUBE = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
OCTAHEDRON = np.vstack([np.eye(3), -np.eye(3)])


@pytest.mark.parametrize("complex,backend", ALL_BACKENDS)
@pytest.mark.parametrize("shape", ["tetrahedron", "octahedron", "cube"])
def test_known_answers_of_regular_polyhedra(shape, complex, backend):
    rot = rotation(7)
    if shape == "tetrahedron":
        a = 1.7
        cloud, answer = tetrahedron(a), tetrahedron_answer(a, complex)
    elif shape == "octahedron":
        cloud, answer = OCTAHEDRON, octahedron_answer(complex)
    else:
        cloud, answer = CUBE, cube_answer(complex)
    cloud = cloud @ rot.T + np.array([3.0, -2.0, 0.5])  # a rotated, translated copy
    # rotating breaks exact ties by a few ulps: pairs that short are round-off
    dg = cloud_persistence(cloud, complex=complex, backend=backend, min_persistence=1e-12)
    for q in range(3):
        got = dg.diagram(0, q)
        want = np.array(answer[q], dtype=float).reshape(-1, 2)
        assert got.shape == want.shape, (q, got)
        npt.assert_allclose(got, want, rtol=TOL[backend])  # rotation costs a few ulps


@pytest.mark.parametrize("complex", ["alpha", "rips"])
@pytest.mark.parametrize("lattice", ["fcc", "bcc", "hcp"])
def test_perfect_crystal_atoms_have_the_same_diagram(lattice, complex):
    frame = make_lattice(lattice, 3)
    for r_cut in (1.2, 1.8):
        dg = local_persistence(frame, complex=complex, r_cut=r_cut)
        # ties broken by ~1e-16 rounding leave pairs of a few ulps, different at each atom
        clean = local_persistence(frame, complex=complex, r_cut=r_cut, min_persistence=1e-9)
        assert len(set(clean.counts().tolist())) == 1
        for i in range(1, frame.n_atoms):
            # exact symmetry; positions carry ~1e-16 rounding, values a few ulps of that
            assert max_bottleneck(dg, 0, dg, i) < 1e-12, (lattice, r_cut, i)


@pytest.mark.parametrize("complex", ["alpha", "rips"])
def test_fcc_bcc_hcp_differ_and_fcc_hcp_need_the_third_shell(complex):
    frames = {k: make_lattice(k, 4) for k in ("fcc", "bcc", "hcp")}
    dgs = {k: local_persistence(f, complex=complex, r_cut=1.8) for k, f in frames.items()}
    for a, b in [("fcc", "bcc"), ("fcc", "hcp"), ("bcc", "hcp")]:
        assert max_bottleneck(dgs[a], 0, dgs[b], 0) > 0.03, (a, b)  # differences are >= 0.039
    # within two shells, the cuboctahedron and the anticuboctahedron give identical diagrams
    for r_cut in (1.2, 1.5):
        fcc = local_persistence(frames["fcc"], complex=complex, r_cut=r_cut)
        hcp = local_persistence(frames["hcp"], complex=complex, r_cut=r_cut)
        assert max_bottleneck(fcc, 0, hcp, 0) < 1e-12


# ---- invariances ----------------------------------------------------------------------------
def noisy(kind="fcc", n=3, seed=0):
    return make_lattice(kind, n, noise=0.06, seed=seed)


def assert_same(dg_a, dg_b, order=None, tol=1e-12):  # float64 rounding of rotated vectors
    order = np.arange(dg_a.n_atoms) if order is None else order
    for i in range(dg_a.n_atoms):
        assert max_bottleneck(dg_a, order[i], dg_b, i) < tol, i


@pytest.mark.parametrize("complex", ["alpha", "rips"])
def test_invariant_under_rotation_translation_and_periodic_shift(complex):
    frame = noisy("hcp")
    ref = local_persistence(frame, complex=complex, r_cut=1.5)
    rot = rotation(3)
    rotated = Frame(frame.positions @ rot.T, Box(frame.box.cell @ rot.T))
    assert_same(ref, local_persistence(rotated, complex=complex, r_cut=1.5))
    shift = 0.37 * frame.box.cell.sum(axis=0) + np.array([0.1, -0.2, 5.0])
    shifted = Frame(frame.box.wrap(frame.positions + shift), frame.box)
    assert_same(ref, local_persistence(shifted, complex=complex, r_cut=1.5))


def test_invariant_under_permutation_of_atoms():
    frame = noisy("bcc")
    perm = np.random.default_rng(4).permutation(frame.n_atoms)
    permuted = Frame(frame.positions[perm], frame.box, ids=frame.ids[perm] + 1000)
    # Frame sorts by id: row i of the permuted frame is atom perm[order[i]] of the original
    order = perm[np.argsort(frame.ids[perm] + 1000)]
    assert_same(local_persistence(frame, r_cut=1.5), local_persistence(permuted, r_cut=1.5),
                order=order)


@pytest.mark.parametrize("complex", ["alpha", "rips"])
def test_atoms_at_the_box_faces_see_the_same_neighbourhood_as_in_a_larger_box(complex):
    small = noisy("fcc", 3, seed=5)
    n = small.n_atoms
    shifts = np.array(list(itertools.product(range(2), repeat=3))) @ small.box.cell
    big = Frame((small.positions[None] + shifts[:, None]).reshape(-1, 3),
                Box(2 * small.box.cell))
    dg_small = local_persistence(small, complex=complex, r_cut=1.8)
    dg_big = local_persistence(big, complex=complex, r_cut=1.8)
    for copy in range(8):  # every copy of every atom, most of them far from the big box's faces
        for i in range(0, n, 5):
            assert max_bottleneck(dg_small, i, dg_big, copy * n + i) < 1e-12


def test_box_smaller_than_the_neighbourhood_uses_periodic_images():
    frame = make_lattice("sc", 2)  # box width 2 < 2 r_cut: neighbours include own images
    dg = local_persistence(frame, r_cut=1.5)
    big = local_persistence(make_lattice("sc", 5), r_cut=1.5)
    assert max_bottleneck(dg, 0, big, 0) < 1e-12


# ---- parameters and neighbour lists -------------------------------------------------------
def test_shared_neighbour_list_cutoff_k_and_atoms_subset():
    frame = noisy("fcc", 3, seed=2)
    nl = neighbor_list(frame, r_cut=2.0)
    direct = local_persistence(frame, r_cut=1.3)
    assert_same(direct, local_persistence(frame, nl, r_cut=1.3))
    knn = local_persistence(frame, k=12)
    assert_same(knn, local_persistence(frame, nl, k=12))
    assert_same(knn, local_persistence(frame, neighbor_list(frame, k=12)))
    sub = local_persistence(frame, nl, r_cut=1.3, atoms=[5, 2, 7])
    assert_same(direct.select([5, 2, 7]), sub)


def test_default_cutoff_is_the_first_shell_and_max_dim_limits_dimensions():
    frame = make_lattice("fcc", 3, nn_distance=2.5)
    dg = local_persistence(frame, max_dim=1)
    assert dg.max_dim == 1 and set(dg.dim.tolist()) == {0, 1}
    assert dg.counts(0)[0] == 13  # 12 neighbours + the atom: 12 finite deaths and inf


@pytest.mark.parametrize("kwargs,match", [
    (dict(complex="cech"), "complex='cech'"),
    (dict(max_dim=3), "max_dim must be 0, 1 or 2, got 3"),
    (dict(backend="ripser"), "backend='ripser' unavailable for complex='alpha'"),
    (dict(r_cut=1.2, k=12), "at most one of r_cut and k"),
])
def test_bad_parameters_name_the_culprit(kwargs, match):
    with pytest.raises(ValueError, match=match):
        local_persistence(make_lattice("fcc", 2), **kwargs)


def test_bad_neighbour_list_and_k():
    frame = make_lattice("fcc", 2)
    with pytest.raises(ValueError, match="neighbors has 108 atoms but the frame has 32"):
        local_persistence(frame, neighbor_list(make_lattice("fcc", 3), r_cut=1.2))
    with pytest.raises(ValueError, match="k=20 but some atoms have only 12"):
        local_persistence(frame, neighbor_list(frame, r_cut=1.2), k=20)
    with pytest.raises(ValueError, match=r"cloud 0 must have shape \(m, 3\)"):
        cloud_persistence([np.zeros((4, 2))])


# ---- the container ---------------------------------------------------------------------------
def test_diagrams_container_roundtrips():
    dg = local_persistence(noisy("fcc", 2, seed=3), r_cut=1.5)
    i = 7
    b, d, k = dg.of(i)
    assert np.all(np.diff(k) >= 0) and np.isinf(d[k == 0]).sum() == 1
    from_gudhi = Diagrams.from_pairs([dg.to_gudhi(i)], "alpha")
    from_ripser = Diagrams.from_pairs([dg.to_ripser(i)], "alpha")
    for other in (from_gudhi, from_ripser):
        npt.assert_array_equal(other.birth, b)
        npt.assert_array_equal(other.death, d)
        npt.assert_array_equal(other.dim, k)
    both = Diagrams.concatenate([dg, dg.select([i])])
    assert both.n_atoms == dg.n_atoms + 1
    npt.assert_array_equal(both.diagram(dg.n_atoms, 1), dg.diagram(i, 1))
    npt.assert_array_equal(dg.pooled(2, atoms=[i]), dg.diagram(i, 2))
    npt.assert_array_equal(dg.counts(), dg.counts(0) + dg.counts(1) + dg.counts(2))
    with pytest.raises(IndexError, match="atom=32 out of range for 32 atoms"):
        dg.of(32)
    with pytest.raises(ValueError, match="different complexes"):
        Diagrams.concatenate([dg, Diagrams([0], [], [], [], "rips")])


def test_local_persistence_takes_the_rows_of_just_the_chosen_atoms():
    """A list of only some atoms' rows (a query list or a chunk) gives the diagrams of the
    frame-sized list restricted to those atoms."""
    f = make_lattice("bcc", 3, noise=0.05, seed=3)
    atoms = np.array([5, 0, 17, 33])
    full = local_persistence(f, neighbor_list(f, 1.25), atoms=atoms)
    rows = local_persistence(f, neighbor_list(f, 1.25, query=atoms), atoms=atoms)
    for d in range(3):
        for i in range(len(atoms)):
            np.testing.assert_array_equal(rows.diagram(i, d), full.diagram(i, d))
    with pytest.raises(ValueError, match="one per atom of `atoms`"):
        local_persistence(f, neighbor_list(f, 1.25, query=atoms[:3]), atoms=atoms)
