"""Shell distortion: sorted inter-neighbour distances against ideal shells (descriptors.shell)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.transform import Rotation

from descriptors import Box, Frame, make_lattice, neighbor_list
from descriptors.shell import SHELL_KINDS, ideal_shell, shell_distortion

KINDS = ("fcc", "hcp", "bcc", "ico")


def _slow(vectors, kind):
    """Reference, pooled: one atom, plain NumPy, distances from the ideal shell's coordinates."""
    m = len(ideal_shell(kind))
    v, w = vectors[:m], ideal_shell(kind)

    def sd(x):
        d = [np.linalg.norm(x[i] - x[j]) for i in range(m) for j in range(i + 1, m)]
        return np.sort(np.array(d) / np.mean(np.linalg.norm(x, axis=1)))
    return float(np.sqrt(np.mean((sd(v) - sd(w)) ** 2)))


def _slow_rows(vectors, kind):
    """Reference, rows: each neighbour's sorted distances to the others, matched to the ideal
    shell's neighbours by a general optimal assignment (Hungarian, every template vertex its
    own row), not the kernel's two-kind shortcut."""
    m = len(ideal_shell(kind))

    def rows(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1) / np.mean(np.linalg.norm(x, axis=1))
        return np.array([np.sort(np.delete(d[i], i)) for i in range(m)])
    a, b = rows(vectors[:m]), rows(ideal_shell(kind))
    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
    r, c = linear_sum_assignment(cost)
    return float(np.sqrt(cost[r, c].sum() / (m * (m - 1))))


@pytest.mark.parametrize("method", ["rows", "pooled"])
def test_ideal_shells_match_their_own_template_and_no_other(method):
    # known geometry: the fcc shell's 66 distances are 24 x d, 12 x sqrt2 d, 24 x sqrt3 d, 6 x 2d
    d = np.linalg.norm(ideal_shell("fcc")[:, None] - ideal_shell("fcc")[None], axis=-1)
    vals, counts = np.unique(d[np.triu_indices(12, 1)].round(9), return_counts=True)
    assert np.allclose(vals, [1, np.sqrt(2), np.sqrt(3), 2]) and counts.tolist() == [24, 12, 24, 6]
    # ... and every neighbour sees the same: 4 at d, 2 at sqrt2 d, 4 at sqrt3 d, 1 at 2d
    for i in range(12):
        row = np.sort(np.delete(d[i], i)).round(9)
        assert np.allclose(row, np.repeat([1, np.sqrt(2), np.sqrt(3), 2], [4, 2, 4, 1]))
    assert np.allclose(np.linalg.norm(ideal_shell("ico"), axis=1), 1)
    for kind in ("fcc", "hcp", "bcc"):
        nl = neighbor_list(make_lattice(kind, 5), k=14)
        dist = shell_distortion(nl, kinds=KINDS, method=method)
        own = KINDS.index(kind)
        assert np.abs(dist[:, own]).max() < 1e-9, kind
        others = np.delete(dist, own, axis=1)
        assert others.min() > 0.04, (kind, others.min(axis=0))


@pytest.mark.parametrize("method", ["rows", "pooled"])
def test_invariant_under_rotation_translation_permutation_and_scale(method):
    fr = make_lattice("hcp", 4, noise=0.04, seed=1)
    base = shell_distortion(neighbor_list(fr, k=14), kinds=KINDS, method=method)
    rot = Rotation.random(random_state=3).as_matrix()
    n = fr.n_atoms
    perm = np.random.default_rng(0).permutation(n)
    # a rotated, scaled, shifted and reordered copy (the cell rotated with the atoms)
    scale = 1.7
    cell = fr.box.cell @ rot.T * scale
    pos = (fr.positions @ rot.T) * scale + np.array([0.3, -1.1, 2.5])
    # Frame keeps rows in id order: give the permuted rows new ids so the order sticks
    moved = Frame(pos[perm], Box(cell), np.arange(1, n + 1), fr.types[perm])
    assert np.array_equal(moved.positions, pos[perm])
    got = shell_distortion(neighbor_list(moved, k=14), kinds=KINDS, method=method)
    assert np.allclose(got, base[perm], atol=1e-9)


@pytest.mark.parametrize("method,slow", [("rows", _slow_rows), ("pooled", _slow)])
def test_agrees_with_slow_reference_and_grows_with_noise(method, slow):
    for lattice in ("fcc", "hcp", "bcc"):
        fr = make_lattice(lattice, 4, noise=0.05, seed=2)
        nl = neighbor_list(fr, k=14)
        got = shell_distortion(nl, kinds=KINDS, method=method)
        for a in range(0, fr.n_atoms, 37):
            _, _, vec = nl.of(a)
            for c, kind in enumerate(KINDS):
                assert got[a, c] == pytest.approx(slow(vec, kind), abs=1e-12), (lattice, a, kind)
    med = [np.median(shell_distortion(neighbor_list(make_lattice("fcc", 6, noise=s, seed=0),
                                                    k=12), kinds=("fcc",), method=method))
           for s in (0.01, 0.02, 0.04)]
    assert med[0] < med[1] < med[2]
    # small Gaussian displacements s: the sorted-distance RMS is linear in s
    assert med[1] / med[0] == pytest.approx(2, rel=0.05)


def test_rows_tell_noisy_fcc_from_hcp_where_the_pooled_histogram_cannot():
    # ideal hcp is 0.048 from fcc either way, but at 0.04 d of noise per coordinate the pooled
    # histogram of a thermal fcc shell is nearer hcp's for most atoms; each neighbour's own
    # distances are not
    nearer_own = {}
    for kind, own in (("fcc", 0), ("hcp", 1)):
        nl = neighbor_list(make_lattice(kind, 6, noise=0.04, seed=4), k=14)
        for method in ("rows", "pooled"):
            d = shell_distortion(nl, kinds=("fcc", "hcp"), method=method)
            nearer_own[kind, method] = np.mean(d[:, own] < d[:, 1 - own])
    assert nearer_own["fcc", "rows"] > 0.95 and nearer_own["hcp", "rows"] > 0.95
    assert nearer_own["fcc", "pooled"] < 0.6


@pytest.mark.parametrize("method", ["rows", "pooled"])
def test_too_few_neighbours_and_atom_subset_give_nan(method):
    fr = make_lattice("fcc", 4)
    cut = neighbor_list(fr, r_cut=1.2)         # 12 neighbours: enough for fcc, not bcc
    d = shell_distortion(cut, kinds=("fcc", "bcc"), method=method)
    assert np.abs(d[:, 0]).max() < 1e-9 and np.isnan(d[:, 1]).all()
    mask = np.zeros(fr.n_atoms, bool)
    mask[::5] = True
    sub = shell_distortion(neighbor_list(fr, k=12), atoms=mask, method=method)
    assert np.isnan(sub[~mask]).all() and np.isfinite(sub[mask]).all()


def test_bad_input_names_the_parameter():
    nl = neighbor_list(make_lattice("fcc", 3), k=12)
    with pytest.raises(ValueError, match="kinds"):
        shell_distortion(nl, kinds=("diamond",))
    with pytest.raises(ValueError, match="atoms.shape"):
        shell_distortion(nl, atoms=np.ones(3, bool))
    with pytest.raises(ValueError, match="method"):
        shell_distortion(nl, method="hungarian")
    with pytest.raises(ValueError, match="kind"):
        ideal_shell("sc")
    assert set(SHELL_KINDS) == set(KINDS)
