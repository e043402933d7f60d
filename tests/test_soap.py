"""SOAP and ACSF feature sets (dscribe): symmetry, invariances, units, boxes, bad input."""
import numpy as np
import numpy.testing as npt
import pytest

pytest.importorskip("dscribe")

from descriptors import Box, Frame, make_lattice
from descriptors.soap import (acsf_features, acsf_n_features, soap_features,
                              soap_n_features)

FEATURES = {"soap": lambda f, **kw: soap_features(f, n_max=4, l_max=4, **kw),
            "acsf": acsf_features}


def _rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("name", sorted(FEATURES))
@pytest.mark.parametrize("lattice", ["fcc", "bcc", "hcp"])
def test_perfect_crystal_atoms_equal(name, lattice):
    x = FEATURES[name](make_lattice(lattice, 3))
    assert x.dtype == np.float32
    # every site of an ideal lattice is equivalent; float32 output -> relative 1e-5
    npt.assert_allclose(x, np.broadcast_to(x[0], x.shape), rtol=1e-5, atol=1e-6 * np.abs(x).max())


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_distinguishes_lattices(name):
    fcc = FEATURES[name](make_lattice("fcc", 3))[0]
    hcp = FEATURES[name](make_lattice("hcp", 3))[0]
    assert _rel_err(fcc, hcp) > 5e-3   # same shells, different angles: 100x float32 noise


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_invariant_rotation_translation_permutation_images(name):
    f = make_lattice("fcc", 3, noise=0.05, seed=1)
    base = FEATURES[name](f)
    rng = np.random.default_rng(2)
    # rigid rotation of atoms and cell (the rotated cell is triclinic) plus a translation
    rot = _rotation(3)
    shift = rng.normal(size=3) * 5
    rotated = Frame(f.positions @ rot.T + shift, Box(f.box.cell @ rot.T, f.box.origin + shift),
                    f.ids, f.types)
    # permuted rows (Frame sorts by id: rows come back in id order)
    perm = rng.permutation(f.n_atoms)
    permuted = Frame(f.positions[perm], f.box, f.ids[perm], f.types[perm])
    # atoms moved by whole cell vectors (periodic images)
    jumps = rng.integers(-2, 3, size=(f.n_atoms, 3))
    imaged = Frame(f.positions + jumps @ f.box.cell, f.box, f.ids, f.types)
    for other in (rotated, permuted, imaged):
        x = FEATURES[name](other, nn_distance=1.0)
        # float32 output; rotation of the cell changes dscribe's summation order
        assert _rel_err(x, FEATURES[name](f, nn_distance=1.0)) < 1e-5
    assert _rel_err(base, FEATURES[name](f)) == 0.0                    # deterministic


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_triclinic_primitive_cell_equals_cubic(name):
    # fcc through its rhombohedral primitive cell (a triclinic box), replicated 3x3x3
    prim = np.array([[0.5, 0.5, 0], [0, 0.5, 0.5], [0.5, 0, 0.5]]) * np.sqrt(2)  # nn = 1
    grid = np.array(np.meshgrid(*[np.arange(3)] * 3, indexing="ij")).reshape(3, -1).T
    tri = Frame(grid @ prim, Box(prim * 3))
    x_tri = FEATURES[name](tri)
    x_cub = FEATURES[name](make_lattice("fcc", 3))
    npt.assert_allclose(x_tri, np.broadcast_to(x_cub[0], x_tri.shape), rtol=2e-5,
                        atol=1e-6 * np.abs(x_cub).max())


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_unit_independent(name):
    # lengths are rescaled to the first-neighbour distance: nm or Angstrom give the same features
    a = FEATURES[name](make_lattice("hcp", 3, noise=0.04, seed=0))
    b = FEATURES[name](make_lattice("hcp", 3, noise=0.04, seed=0, nn_distance=2.7))
    assert _rel_err(a, b) < 1e-5


def test_species_from_types_and_columns():
    f = make_lattice("fcc", 3, types=[1, 2])
    x = soap_features(f, n_max=3, l_max=2)
    assert x.shape == (f.n_atoms, soap_n_features(2, 3, 2))
    # same frame, a third species declared: more columns, but the same numbers for 1-2
    y = soap_features(f, n_max=3, l_max=2, species=[1, 2, 7])
    assert y.shape[1] == soap_n_features(3, 3, 2) > x.shape[1]
    assert acsf_features(f).shape[1] == acsf_n_features(2)
    with pytest.raises(ValueError, match=r"atom types \[2\] not in species"):
        soap_features(f, species=[1])


def test_soap_explicit_parameters_change_output():
    f = make_lattice("fcc", 3, noise=0.05, seed=0)
    a = soap_features(f, n_max=3, l_max=3)
    b = soap_features(f, n_max=3, l_max=3, r_cut=1.2, sigma=0.2)
    assert a.shape == b.shape and _rel_err(a, b) > 1e-2


def test_open_boundary_axis():
    f = make_lattice("fcc", 3)
    slab = Frame(f.positions, Box(f.box.cell, pbc=[True, True, False]))
    x = soap_features(slab, n_max=3, l_max=3, nn_distance=1.0)
    z = slab.positions[:, 2]
    surface, bulk = x[z < 0.1], x[np.abs(z - z.mean()) < 0.5]
    assert _rel_err(bulk, np.broadcast_to(bulk[0], bulk.shape)) < 1e-5
    assert _rel_err(surface[0], bulk[0]) > 1e-2


@pytest.mark.parametrize("kwargs, match", [
    ({"r_cut": -1.0}, "r_cut"), ({"sigma": 0.0}, "sigma"), ({"n_max": 0}, "n_max"),
    ({"l_max": -1}, "l_max"), ({"rbf": "bessel"}, "rbf"), ({"r_cut": 0.2}, "r_cut"),
    ({"nn_distance": float("nan")}, "nn_distance"), ({"species": [1, 1]}, "species"),
])
def test_soap_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        soap_features(make_lattice("fcc", 2), **kwargs)


def test_acsf_bad_parameters():
    f = make_lattice("fcc", 2)
    with pytest.raises(ValueError, match="g2_params"):
        acsf_features(f, g2_params=[[1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="g4_params"):
        acsf_features(f, g4_params=[[-1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="g5_params"):
        acsf_features(f, g5_params=[[1.0, 1.0]])
    with pytest.raises(ValueError, match="r_cut"):
        acsf_features(f, r_cut=0.0)


def test_pipeline_feature_sets_and_config():
    from multilayer import build_network
    from multilayer.app.config import ConfigError, load_config
    from multilayer.network.featureset import FeatureSet

    cfg = load_config(None, {"features": {"sets": ["soap", "acsf"]},
                             "soap": {"n_max": 3, "l_max": 2}})
    frames = [make_lattice("fcc", 3, noise=0.05, seed=s) for s in range(3)]
    fs = FeatureSet.from_config(cfg).fit(frames[0])
    feats = [fs.transform(f).arrays() for f in frames]
    assert feats[0]["soap"].shape == (108, soap_n_features(1, 3, 2))
    assert feats[0]["acsf"].shape == (108, acsf_n_features())
    # the frame's own nn distance is not re-estimated: the calibrated scale is used
    npt.assert_allclose(feats[0]["soap"], soap_features(frames[0], n_max=3, l_max=2,
                                                         nn_distance=fs.nn_distance_))
    net = build_network(feats, [f["ids"] for f in feats], k=5, feature_sets=["soap"])
    assert net.n_nodes == 3 * 108
    with pytest.raises(ValueError, match="feature_sets"):
        build_network(feats, [f["ids"] for f in feats], k=5, feature_sets=["sooap"])
    for bad in ({"soap": {"sigma": 0}}, {"soap": {"l_max": -1}}, {"acsf": {"r_cut": "x"}},
                {"soap": {"n_max": 0}}):
        with pytest.raises(ConfigError, match=list(bad)[0]):
            load_config(None, bad)
