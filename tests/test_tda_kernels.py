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


# ---- alpha: golden output (bitwise) -------------------------------------------------------------
def golden_clouds():
    """Neighbourhood-like clouds built with numpy alone (no neighbour list): perfect and noisy
    fcc/bcc shells, the same on a sheared (triclinic) lattice, and hard-core random clusters."""
    g = np.stack(np.meshgrid(*[np.arange(-3, 4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    fcc = g[g.sum(1) % 2 == 0] / np.sqrt(2.0)                     # nn = 1
    bcc = np.vstack([2 * g, 2 * g + 1]) / np.sqrt(3.0)            # nn = 1
    shear = np.array([[1.0, 0.31, 0.17], [0.0, 0.93, 0.23], [0.0, 0.0, 0.88]])

    def shell(points, r):
        d = np.linalg.norm(points, axis=1)
        keep = points[d <= r + 1e-9]
        return keep[np.lexsort((keep[:, 2], keep[:, 1], keep[:, 0], np.round(d[d <= r + 1e-9], 9)))]

    rng = np.random.default_rng(20261204)
    sets = {"perfect": [shell(fcc, 1.0), shell(fcc, 1.45), shell(bcc, 1.2), shell(bcc, 1.7)]}
    sets["noisy"] = [c + rng.normal(scale=0.05, size=c.shape) for c in
                     [shell(fcc, 1.0)] * 30 + [shell(fcc, 1.45)] * 10 + [shell(bcc, 1.2)] * 10]
    tric = [shell(fcc @ shear.T, 1.1), shell(fcc @ shear.T, 1.5), shell(bcc @ shear.T, 1.3)]
    sets["triclinic"] = tric + [c + rng.normal(scale=0.03, size=c.shape) for c in tric * 10]
    liquid = []
    for _ in range(40):
        pts = [np.zeros(3)]
        while len(pts) < 16:
            x = rng.uniform(-1.6, 1.6, 3)
            if np.linalg.norm(x) <= 1.6 and min(np.linalg.norm(x - p) for p in pts) >= 0.85:
                pts.append(x)
        liquid.append(np.array(pts))
    sets["liquid"] = liquid
    return sets


def digest(dg):
    import hashlib

    h = hashlib.sha256()
    for arr in (dg.offsets, dg.birth, dg.death, dg.dim):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


# sha256 prefixes of the kernel's output before the issue #16 speed-ups (same pairs, same order,
# same bits): the fast kernel must reproduce them exactly.  IEEE float64 (+ - * / sqrt only, no
# fast-math) makes them platform-independent.
GOLDEN = {"perfect": "9dd336e269641ccc", "noisy": "b1378560d90735a2",
          "triclinic": "0470cddd5f752a6c", "liquid": "d144d2384949fbfa"}


@pytest.mark.parametrize("name", ["perfect", "noisy", "triclinic", "liquid"])
def test_alpha_kernel_output_is_bitwise_unchanged(name):
    clouds = golden_clouds()[name]
    dg = cloud_persistence(clouds)
    assert digest(dg) == GOLDEN[name]
    assert worst_distance(clouds, "alpha") < EXACT


def test_alpha_kernel_is_independent_of_threads_and_chunks(monkeypatch):
    import numba

    frame = make_lattice("fcc", 4, noise=0.05, seed=7)
    nl = neighbor_list(frame, r_cut=1.55)
    ref = local_persistence(frame, nl)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = local_persistence(frame, nl)
    finally:
        numba.set_num_threads(before)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 37)  # 8 * 37 chunks of the batch
    many = local_persistence(frame, nl)
    for got in (one, many):
        for attr in ("offsets", "birth", "death", "dim"):
            assert getattr(got, attr).tobytes() == getattr(ref, attr).tobytes()


def band_clouds():
    """Perfect fcc, bcc and simple-cubic shells with their centre (massive cospherical ties),
    and fcc first shells with noise from 1e-12 to 1e-5 of nn: across the flagging band."""
    g = np.stack(np.meshgrid(*[np.arange(-2, 3)] * 3, indexing="ij"), -1).reshape(-1, 3)
    lattices = [g[g.sum(1) % 2 == 0] / np.sqrt(2.0), np.vstack([2 * g, 2 * g + 1]) / np.sqrt(3.0),
                g.astype(float)]

    def shell(points, r):
        d = np.linalg.norm(points, axis=1)
        keep = points[d <= r + 1e-9]
        return keep[np.lexsort((keep[:, 2], keep[:, 1], keep[:, 0], np.round(d[d <= r + 1e-9], 9)))]

    clouds = [shell(p, r) for p in lattices for r in (1.0, 1.2, 1.45)]
    rng = np.random.default_rng(20261205)
    first = shell(lattices[0], 1.0)
    for scale in np.logspace(-12, -5, 15):
        clouds += [first + rng.normal(scale=scale, size=first.shape) for _ in range(4)]
    return clouds


# sha256 prefix of alpha_cloud's certification flags and pairs on band_clouds() before the
# issue #16 speed-ups: which clouds go to gudhi must not change either.
GOLDEN_BAND = "bb78b7a22c8f911b"


def test_alpha_kernel_flags_and_pairs_are_bitwise_unchanged_across_the_band():
    import hashlib

    table = np.full(64 ** 3, -1, dtype=np.int32)
    edges = np.full(64 ** 2, -1, dtype=np.int32)
    h = hashlib.sha256()
    oks = []
    for P in band_clouds():
        ok, b, d, k = alpha_cloud(np.ascontiguousarray(P), 2, table, edges)
        oks.append(ok)
        h.update(bytes([ok]))
        for arr in (b, d, k):
            h.update(np.ascontiguousarray(arr).tobytes())
    assert any(oks) and not all(oks)  # both sides of the band are represented
    assert h.hexdigest()[:16] == GOLDEN_BAND
