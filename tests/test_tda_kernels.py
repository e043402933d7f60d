"""The numba batch kernels against the reference libraries, cloud by cloud.

References: gudhi's alpha complex with ``precision="exact"`` (its default "safe" mode
misplaces the circumradius of near-degenerate tetrahedra by up to ~1e-5), gudhi's Rips
complex (float64), and ripser (float32, so compared at 1e-6).
"""
import logging

import gudhi
import numpy as np
import pytest

from descriptors import Box, Frame, make_lattice, neighbor_list
from tda import cloud_persistence, local_persistence
from tda import diagrams as diagrams_module
from tda.kernels_alpha import alpha_cloud

EXACT = 1e-9  # the bar; observed agreement is ~1e-15 (1e-12 at 1e-12 noise)


def liquid_like(n_atoms, seed, density=1.1, core=0.85, sweeps=30):
    """Random points relaxed until no pair is closer than ``core``: a dense, disordered,
    liquid-like packing (nn ~ 1) without any lattice."""
    rng = np.random.default_rng(seed)
    box = Box.orthogonal([(n_atoms / density) ** (1 / 3)] * 3)
    pos = rng.random((n_atoms, 3)) @ box.cell
    for _ in range(sweeps):
        nl = neighbor_list(Frame(pos, box), r_cut=core)
        if nl.indices.size == 0:
            break
        i = nl.query_indices()
        push = (nl.vectors / nl.distances[:, None]) * (nl.distances - core)[:, None] * 0.5
        np.add.at(pos, i, push)
        pos = box.wrap(pos)
    return Frame(pos, box)


def clouds_of(frame, r_cut, every=1):
    nl = neighbor_list(frame, r_cut=r_cut)
    return [np.vstack([np.zeros((1, 3)), nl.of(i)[2]]) for i in range(0, frame.n_atoms, every)]


def reference(P, complex, backend):
    if backend == "ripser":
        import ripser

        return ripser.ripser(P, maxdim=2)["dgms"]
    if complex == "alpha":
        st = gudhi.AlphaComplex(points=P, precision="exact").create_simplex_tree()
        st.compute_persistence()
        return [np.sqrt(st.persistence_intervals_in_dimension(q)) for q in range(3)]
    st = gudhi.RipsComplex(points=P).create_simplex_tree(max_dimension=3)
    st.compute_persistence()
    return [st.persistence_intervals_in_dimension(q) for q in range(3)]


def worst_distance(clouds, complex, backend="gudhi"):
    dg = cloud_persistence(clouds, complex=complex)
    worst = 0.0
    for c, P in enumerate(clouds):
        ref = reference(P, complex, backend)
        for q in range(3):
            worst = max(worst, gudhi.bottleneck_distance(dg.diagram(c, q), ref[q], e=0))
    return worst


def sample(clouds, n, seed):
    idx = np.random.default_rng(seed).choice(len(clouds), min(n, len(clouds)), replace=False)
    return [clouds[i] for i in idx]


# ---- alpha ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["fcc", "bcc", "hcp", "diamond", "sc"])
def test_alpha_kernel_equals_gudhi_on_lattices(kind):
    clouds = []
    for noise, seed in [(0.0, 0), (1e-12, 1), (1e-4, 2), (0.02, 3), (0.08, 4)]:
        frame = make_lattice(kind, 3, noise=noise, seed=seed)
        clouds += sample(clouds_of(frame, 1.25), 40, seed)
        clouds += sample(clouds_of(frame, 1.8), 12, seed)
    assert worst_distance(clouds, "alpha") < EXACT


def test_alpha_kernel_equals_gudhi_on_liquid_and_random_clouds():
    clouds = sample(clouds_of(liquid_like(400, seed=0), 1.3), 250, 0)
    clouds += sample(clouds_of(liquid_like(400, seed=1), 1.8), 40, 1)
    rng = np.random.default_rng(2)
    clouds += [rng.normal(size=(rng.integers(4, 60), 3)) for _ in range(150)]
    clouds += [rng.random((rng.integers(4, 60), 3)) * [1, 2, 3] for _ in range(150)]
    assert worst_distance(clouds, "alpha") < EXACT


def test_alpha_kernel_certifies_noisy_data_and_defers_near_degenerate_clouds(caplog):
    """Thermal noise: every cloud certified.  Noise ~1e-9 of nn makes predicates too close to
    call in float64: those clouds go to gudhi, and the result still equals gudhi's."""
    table = np.full(64 ** 3, -1, dtype=np.int32)
    edges = np.full(64 ** 2, -1, dtype=np.int32)
    thermal = clouds_of(make_lattice("fcc", 3, noise=0.05, seed=0), 1.8)
    assert all(alpha_cloud(P, 2, table, edges)[0] for P in thermal)
    assert (table == -1).all() and (edges == -1).all()  # scratch tables restored
    frame = make_lattice("hcp", 3, noise=1e-9, seed=5)
    near = clouds_of(frame, 1.8, every=6)
    assert not any(alpha_cloud(P, 2, table, edges)[0] for P in near)
    with caplog.at_level(logging.INFO, logger="tda.diagrams"):
        assert worst_distance(near, "alpha") < EXACT
    assert "went to gudhi" in caplog.text


def test_tiny_and_flat_clouds_fall_back_to_the_library():
    clouds = [np.zeros((1, 3)), np.array([[0, 0, 0], [1.0, 0, 0]]),
              np.array([[0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0]]),  # flat square
              np.array([[0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])]
    dg = cloud_persistence(clouds)
    assert dg.diagram(0, 0).tolist() == [[0.0, np.inf]]
    assert dg.diagram(1, 0).tolist() == [[0.0, 0.5], [0.0, np.inf]]
    # the unit square: edges at 1/2 close one cycle, filled at the circumradius sqrt(2)/2
    np.testing.assert_allclose(dg.diagram(2, 1), [[0.5, np.sqrt(0.5)]], rtol=1e-15)
    assert worst_distance(clouds[2:], "alpha") < EXACT


# ---- Rips -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["fcc", "bcc", "hcp"])
def test_rips_kernel_equals_gudhi_on_lattices(kind):
    clouds = []
    for noise, seed in [(0.0, 0), (1e-9, 1), (0.02, 3), (0.08, 4)]:
        frame = make_lattice(kind, 3, noise=noise, seed=seed)
        clouds += sample(clouds_of(frame, 1.25), 60, seed)
        clouds += sample(clouds_of(frame, 1.55), 15, seed)
    assert worst_distance(clouds, "rips") < EXACT


def test_rips_kernel_equals_gudhi_and_ripser_on_liquid_and_random_clouds():
    clouds = sample(clouds_of(liquid_like(400, seed=3), 1.3), 300, 3)
    rng = np.random.default_rng(4)
    clouds += [rng.normal(size=(rng.integers(2, 22), 3)) for _ in range(300)]
    assert worst_distance(clouds, "rips") < EXACT
    # two-shell clouds are too slow for gudhi's full Rips complex: ripser, at float32 precision
    big = sample(clouds_of(liquid_like(400, seed=5), 1.8), 40, 5)
    big += sample(clouds_of(make_lattice("fcc", 3, noise=0.05, seed=6), 1.8), 40, 6)
    assert worst_distance(big, "rips", backend="ripser") < 1e-6  # ripser rounds to float32


def test_kernels_run_in_parallel_blocks_and_grow_short_outputs(monkeypatch):
    frame = liquid_like(300, seed=6)
    for complex in ("alpha", "rips"):
        ref = local_persistence(frame, complex=complex, r_cut=1.5, backend="gudhi")
        monkeypatch.setattr(diagrams_module, "_BLOCK", 64)  # several blocks
        got = local_persistence(frame, complex=complex, r_cut=1.5)
        monkeypatch.undo()
        worst = max(gudhi.bottleneck_distance(got.diagram(i, q), ref.diagram(i, q), e=0)
                    for i in range(frame.n_atoms) for q in range(3))
        assert worst < EXACT
    # a capacity of one pair per cloud forces the second pass for every cloud
    monkeypatch.setattr(diagrams_module, "_capacity", lambda sizes, c: np.ones_like(sizes))
    short = local_persistence(frame, r_cut=1.5)
    monkeypatch.undo()
    full = local_persistence(frame, r_cut=1.5)
    np.testing.assert_array_equal(short.offsets, full.offsets)
    np.testing.assert_array_equal(short.death, full.death)
