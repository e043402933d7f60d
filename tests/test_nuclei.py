"""Nuclei across periodic boundaries, tracking through planted growth/merge/split, onset and MFPT."""
import itertools

import networkx as nx
import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from scipy.special import erfinv
from sklearn.base import clone

from descriptors import Box, Frame, make_lattice, neighbor_list
from multilayer.tracking.nuclei import (NucleusTracker, crystal_communities, find_nuclei, first_passage_times,
                               mfpt_fit, nucleus_properties, track_nuclei)

R_CUT = 1.2  # fcc with nn distance 1: first shell at 1, second at 1.41


def min_image(frame, centre):
    """Minimum-image displacements from ``centre`` by brute force over the 27 images."""
    cell = frame.box.cell
    shifts = np.array(list(itertools.product([-1, 0, 1], repeat=3))) @ cell
    d = frame.positions[:, None, :] + shifts[None] - centre
    return d[np.arange(len(d)), np.argmin(np.linalg.norm(d, axis=2), axis=1)]


def blob(frame, centre, radius):
    return np.linalg.norm(min_image(frame, np.asarray(centre, float)), axis=1) < radius


@pytest.fixture(scope="module")
def fcc():
    return make_lattice("fcc", 7, noise=0.03, seed=0)  # 1372 atoms, box ~9.9


def test_blob_at_corner_counted_once(fcc):
    corner = fcc.box.origin + 0.1
    mask = blob(fcc, corner, 2.6)  # spans all 8 corners of the box
    nl = neighbor_list(fcc, r_cut=R_CUT)
    nuc = find_nuclei(fcc, mask, nl)
    assert nuc.max() == 0 and np.array_equal(nuc >= 0, mask)
    props = nucleus_properties(fcc, nuc, nl)
    d = min_image(fcc, corner)[mask]
    centre = corner + d.mean(axis=0)
    rg = np.sqrt(np.mean(np.sum((d - d.mean(axis=0)) ** 2, axis=1)))
    assert props.loc[0, "size"] == mask.sum() and not props.loc[0, "percolating"]
    assert props.loc[0, "rg"] == pytest.approx(rg, rel=1e-10)  # same float64 sums, reordered
    got = props.loc[0, ["x", "y", "z"]].to_numpy(dtype=float)
    npt.assert_allclose(fcc.box.wrap(got[None]), fcc.box.wrap(centre[None]), atol=1e-9)


def test_triclinic_blob_across_boundary():
    rng = np.random.default_rng(5)
    box = Box([[10.0, 0, 0], [3.0, 9.0, 0], [-2.0, 2.5, 8.0]])
    frame = Frame(rng.random((4000, 3)) @ box.cell, box)  # density ~5.6: well connected at 1.0
    corner = np.array([0.2, 0.1, 0.3])
    mask = blob(frame, corner, 2.0)
    props = nucleus_properties(frame, find_nuclei(frame, mask, r_cut=1.0), r_cut=1.0)
    assert len(props) == 1 and props.loc[0, "size"] == mask.sum()
    d = min_image(frame, corner)[mask]
    got = props.loc[0, ["x", "y", "z"]].to_numpy(dtype=float)
    npt.assert_allclose(box.wrap(got[None]), box.wrap((corner + d.mean(axis=0))[None]), atol=1e-9)


def test_clusters_match_networkx(fcc):
    mask = np.random.default_rng(1).random(fcc.n_atoms) < 0.3
    nl = neighbor_list(fcc, r_cut=R_CUT)
    nuc = find_nuclei(fcc, mask, nl, min_size=1)
    g = nx.Graph()
    g.add_nodes_from(np.flatnonzero(mask))
    qi = nl.query_indices()
    g.add_edges_from((a, b) for a, b in zip(qi, nl.indices) if mask[a] and mask[b])
    want = sorted((sorted(c) for c in nx.connected_components(g)), key=lambda c: (-len(c), c[0]))
    got = [np.flatnonzero(nuc == k).tolist() for k in range(nuc.max() + 1)]
    assert got == want
    big = find_nuclei(fcc, mask, nl, min_size=3)
    assert np.array_equal(big >= 0, np.isin(nuc, [k for k, c in enumerate(want) if len(c) >= 3]))


def test_percolating_slab_flagged(fcc):
    x = fcc.positions[:, 0]
    mask = (x > 2.0) & (x < 4.0)  # a slab spanning the periodic y and z directions
    props = nucleus_properties(fcc, find_nuclei(fcc, mask, r_cut=R_CUT), r_cut=R_CUT)
    assert len(props) == 1 and bool(props.loc[0, "percolating"])


def jitter(frame, seed):
    rng = np.random.default_rng(seed)
    return Frame(frame.box.wrap(frame.positions + rng.normal(scale=0.02, size=frame.positions.shape)),
                 frame.box, frame.ids)


def test_ids_persist_through_growth_merge_and_split(fcc):
    frames = [jitter(fcc, s) for s in range(6)]
    half = fcc.box.cell[0, 0] / 2
    a, b = fcc.box.origin + 0.2, fcc.box.origin + 0.2 + np.array([half, half, 0.0])  # 7 apart
    masks = [blob(fcc, a, 1.6), blob(fcc, a, 2.1),                            # A grows
             blob(fcc, a, 2.4) | blob(fcc, b, 1.6),                           # B is born
             blob(fcc, a, 2.6) | blob(fcc, b, 2.2) | blob(fcc, (a + b) / 2, 1.6)]  # they merge
    bridge = blob(fcc, (a + b) / 2, 1.6)  # cutting it leaves a gap of 2.2 > R_CUT
    masks.append(masks[-1] & ~bridge)                                         # split again
    masks.append(masks[-1])
    res = track_nuclei(frames, mask=masks, r_cut=R_CUT)
    tab = res.table
    assert tab.groupby("frame").size().tolist() == [1, 1, 2, 1, 2, 2]
    assert (tab.loc[tab.frame <= 1, "nucleus"] == 0).all()
    assert tab.loc[tab.frame <= 1, "size"].is_monotonic_increasing
    f2 = tab[tab.frame == 2].set_index("nucleus")
    assert f2.loc[0, "event"] == "continuation" and f2.loc[1, "event"] == "birth"
    merged = tab[tab.frame == 3].iloc[0]
    assert merged.nucleus == 0 and merged.event == "merge" and list(merged.parents) == [0, 1]
    f4 = tab[tab.frame == 4].set_index("nucleus")
    assert f4.loc[0, "event"] == "continuation" and list(f4.loc[0, "parents"]) == [0]
    assert f4.loc[2, "event"] == "split" and list(f4.loc[2, "parents"]) == [0]  # new id 2
    assert tab[tab.frame == 5].event.tolist() == ["continuation", "continuation"]
    npt.assert_array_equal(res.largest, tab.groupby("frame")["size"].max().to_numpy())
    assert np.array_equal(res.n_crystal, [m.sum() for m in masks])
    assert all(np.array_equal(an >= 0, m) for an, m in zip(res.atom_nuclei, masks))


def test_auto_crystal_communities_composition_and_parquet(fcc, tmp_path):
    frames = [jitter(fcc, s) for s in range(10)]
    corner = fcc.box.origin + 0.1
    labels = []
    for t in range(10):
        lab = np.zeros(fcc.n_atoms, dtype=np.int64)  # 0: liquid
        lab[np.random.default_rng(t).random(fcc.n_atoms) < 0.05] = 1  # 1: constant noise
        core, shell = blob(fcc, corner, 0.5 + 0.3 * t), blob(fcc, corner, 1.0 + 0.35 * t)
        lab[shell] = 3
        lab[core] = 2
        labels.append(lab)
    crit = crystal_communities(labels)
    assert crit.communities.tolist() == [2, 3]
    assert "auto" in crit.description and crit.table.crystal.tolist() == [False, False, True, True]
    res = track_nuclei(frames, labels, r_cut=R_CUT)
    assert res.criterion is not None and res.criterion.method == "auto"
    last = res.table[res.table.frame == 9].iloc[0]
    assert last.community_2 + last.community_3 == last["size"] == res.largest[-1]
    res.table.to_parquet(tmp_path / "nuclei.parquet")
    back = pd.read_parquet(tmp_path / "nuclei.parquet")
    assert len(back) == len(res.table) and list(back.parents.iloc[-1]) == list(res.table.parents.iloc[-1])
    est = NucleusTracker(communities=[2], r_cut=R_CUT)
    assert clone(est).get_params() == est.get_params()
    assert est.fit(frames, labels) is est and est.criterion_.communities.tolist() == [2]


def test_first_passage_times_never_reached_is_nan():
    n, tau = first_passage_times([[1, 3, 5], [1, 2, 2]], times=[0.0, 2.0, 4.0], n=[1, 2, 3, 5])
    npt.assert_allclose(tau, [0.0, 2.0, np.nan, np.nan])
    n, tau = first_passage_times([[1, 3, 5], [1, 2, 2]], times=[0.0, 2.0, 4.0])
    assert n.tolist() == [1, 2]


def test_mfpt_recovers_known_curve():
    """Runs whose largest nucleus reaches n at T_r F(n), F(n) = (1 + erf(Z sqrt(pi)(n - n*))) / 2,
    with barrier-crossing times T_r ~ Exp(tau_J): then tau(n) = tau_J F(n) up to sampling error."""
    n_star, z, tau_j, n_runs = 40.0, 0.05, 200.0, 400
    rng = np.random.default_rng(7)
    crossing = rng.exponential(tau_j, n_runs)
    t = np.arange(0.0, crossing.max() + 50.0, 1.0)
    runs = []
    for T in crossing:
        u = np.clip(2.0 * t / T - 1.0, -1 + 1e-12, 1 - 1e-12)
        n_t = n_star + erfinv(u) / (z * np.sqrt(np.pi))
        runs.append(np.floor(np.clip(n_t, 0, 100)))
    fit = mfpt_fit(runs, t, volume=1000.0, n_max=90)
    assert fit.n_runs == n_runs
    assert fit.n_star == pytest.approx(n_star, abs=0.5)  # the shape is exact; frame step 1 in t
    assert fit.z == pytest.approx(z, rel=0.05)
    assert fit.tau_j == pytest.approx(crossing.mean(), abs=2.0)  # exact but for the frame step
    assert abs(fit.tau_j - tau_j) < 4 * tau_j / np.sqrt(n_runs)  # 4 sigma of an Exp mean
    assert fit.rate == pytest.approx(1 / (fit.tau_j * 1000.0))
    assert fit.rate_err == pytest.approx(fit.rate * fit.tau_j_err / fit.tau_j)
    assert np.all(np.isfinite([fit.n_star_err, fit.z_err, fit.tau_j_err]))
    npt.assert_allclose(fit.curve(fit.n), fit.tau, atol=0.02 * tau_j)  # residuals: frame steps


def test_mfpt_is_determined_only_where_the_sizes_fitted_bracket_the_inflection():
    """``MFPTResult.determined``: the known curve of many runs pins n* down; the same runs
    fitted only up to n* / 2 (tau(n) still rising at the last size) leave it to
    extrapolation, and then it is not determined; ``mfpt_after_onset`` fits up to twice the
    nucleus at the onset and skips an onset at the first frame."""
    from multilayer.tracking import Onset, mfpt_after_onset

    n_star, z, n_runs = 40.0, 0.05, 200
    rng = np.random.default_rng(3)
    crossing = rng.exponential(200.0, n_runs)
    t = np.arange(0.0, crossing.max() + 50.0, 1.0)
    runs = [np.floor(np.clip(n_star + erfinv(np.clip(2.0 * t / T - 1.0, -1 + 1e-12, 1 - 1e-12))
                             / (z * np.sqrt(np.pi)), 0, 100)) for T in crossing]
    full = mfpt_fit(runs, t, n_max=90)
    assert full.determined and full.n.min() <= full.n_star <= full.n.max()
    short = mfpt_fit(runs, t, n_max=20)
    assert short.n.max() == 20 and not short.determined
    one = runs[0]
    o = int(np.argmax(one >= 13))
    fit = mfpt_after_onset(one, Onset(frame=o, threshold=13.0), t)
    assert fit.n.max() == min(2 * int(one[o]), int(one.max()))
    assert mfpt_after_onset(one, Onset(frame=0, threshold=13.0, at_start=True), t) is None
    assert mfpt_after_onset(one, None, t) is None


def test_mfpt_needs_sizes():
    with pytest.raises(ValueError, match="only 2 sizes to fit"):
        mfpt_fit([0, 1, 2, 2])


def test_nuclei_across_a_triclinic_boundary_keep_size_and_rg_under_translation():
    """The unwrapping kernel: blobs cut by the faces of a sheared cell have the size and radius
    of gyration of the same blobs moved into the middle of the box (brute-force minimum image
    gives the reference rg), and bonds agree with the images of every non-percolating nucleus."""
    from multilayer.tracking.nuclei import _unwrap_images

    f = make_lattice("fcc", 7, noise=0.03, seed=5)
    L = f.box.cell[0, 0]
    cell = np.array([[L, 0, 0], [0.25 * L, L, 0], [-0.15 * L, 0.2 * L, L]])
    g = Frame(f.box.to_fractional(f.positions) @ cell, Box(cell), f.ids, f.types)
    centres = [g.box.origin + 0.05, g.box.origin + cell[0] * 0.98 + cell[1] * 0.5 + cell[2] * 0.02,
               g.box.origin + cell.sum(axis=0) * 0.5]
    mask = np.zeros(g.n_atoms, bool)
    for c in centres:
        mask |= blob(g, c, 1.9)
    nl = neighbor_list(g, r_cut=R_CUT)
    nuc = find_nuclei(g, mask, nl)
    props = nucleus_properties(g, nuc, nl)
    assert len(props) == 3 and not props["percolating"].any()
    for q in range(3):
        atoms = nuc == q
        centre = g.positions[np.flatnonzero(atoms)[0]]
        d = min_image(g, centre)[atoms]
        rg = np.sqrt(((d - d.mean(axis=0)) ** 2).sum(axis=1).mean())
        assert props.loc[q, "size"] == atoms.sum()
        npt.assert_allclose(props.loc[q, "rg"], rg, rtol=1e-10)
    image, perc = _unwrap_images(g, nl, nuc)
    i = np.repeat(np.arange(g.n_atoms), nl.counts)
    j = nl.indices
    both = (nuc[i] >= 0) & (nuc[i] == nuc[j])
    bond = np.rint((nl.vectors - (g.positions[j] - g.positions[i])) @ np.linalg.inv(cell))
    npt.assert_array_equal((image[j] - image[i])[both], bond[both])
    assert not perc.any()


def test_nucleus_composition_counts_every_atom_by_its_label(fcc):
    """The community_<c> columns are, per frame and nucleus, the counts of its atoms' labels
    (a brute-force count over ``atom_nuclei``); crystal labels 3 and 7 among negative ones,
    so the (nucleus, label) key's offset and width are both exercised."""
    frames = [jitter(fcc, s) for s in range(4)]
    rng = np.random.default_rng(4)
    labels = []
    for t in range(4):
        lab = rng.integers(-2, 1, fcc.n_atoms)                   # -2, -1, 0: not crystal
        grown = blob(fcc, fcc.box.origin + 0.1, 1.0 + 0.3 * t)
        lab[grown] = rng.choice([3, 7], grown.sum())
        labels.append(lab)
    res = track_nuclei(frames, labels, communities=[3, 7], r_cut=R_CUT)
    cols = sorted(c for c in res.table.columns if c.startswith("community_"))
    assert cols == ["community_3", "community_7"]
    for t in range(4):
        for _, row in res.table[res.table.frame == t].iterrows():
            members = res.atom_nuclei[t] == row["nucleus"]
            for c in (3, 7):
                assert row[f"community_{c}"] == np.sum(labels[t][members] == c)


@pytest.mark.parametrize("kind,cells", [("fcc", 4), ("hcp", (5, 3, 4)), ("bcc", 5)])
def test_crystalline_core_of_thermal_crystals_is_the_crystal(kind, cells):
    """A thermally shaken crystal (0.04 d) is all core; with tolerance 0 the core is the
    strict adaptive CNA (every bond of the shell carrying its crystal's signature)."""
    from descriptors import first_shell_distance
    from descriptors.cna import bcc_counts, cna_counts
    from multilayer.tracking.nuclei import crystalline_core

    f = make_lattice(kind, cells, noise=0.04, seed=1)
    nl = neighbor_list(f, r_cut=1.35 * first_shell_distance(f))
    everyone = np.ones(f.n_atoms, bool)
    assert crystalline_core(everyone, nl).all()
    c, b = cna_counts(nl), bcc_counts(nl)
    strict = (c.astype(int).sum(axis=1) == 12) | (b.astype(int).sum(axis=1) == 14)
    npt.assert_array_equal(crystalline_core(everyone, nl, tolerance=0, max_distortion=None), strict)
    half = np.arange(f.n_atoms) % 2 == 0
    npt.assert_array_equal(crystalline_core(half, nl, outside_tolerance=None), half)
    # outside the mask only the strict a-CNA's shells get in (those within the default cut)
    strict_geo = crystalline_core(everyone, nl, tolerance=0)
    npt.assert_array_equal(crystalline_core(half, nl), half | strict_geo)
    npt.assert_array_equal(crystalline_core(half, nl, outside_tolerance=3),
                           half | crystalline_core(everyone, nl, tolerance=3))


@pytest.mark.parametrize("kind,cells", [("fcc", 4), ("hcp", (5, 3, 4)), ("bcc", 5)])
def test_crystalline_core_geometry_test_keeps_exactly_the_undistorted_shells(kind, cells):
    """max_distortion: of the atoms the bond test keeps, exactly those whose shell distortion
    from their crystal (fcc or hcp, or bcc) is at most the cut; a crystal shaken well below
    the Lindemann limit (0.02 d per coordinate) is all core at the default cut, one shaken
    at 0.06 d (near PTM's cutoff) only in part."""
    from descriptors import first_shell_distance
    from descriptors.shell import shell_distortion
    from multilayer.tracking.nuclei import CORE_MAX_DISTORTION, crystalline_core

    everyone = None
    cut = CORE_MAX_DISTORTION
    for noise in (0.02, 0.06):
        f = make_lattice(kind, cells, noise=noise, seed=2)
        nl = neighbor_list(f, r_cut=1.35 * first_shell_distance(f))
        everyone = np.ones(f.n_atoms, bool)
        bonds = crystalline_core(everyone, nl, max_distortion=None)
        geo = crystalline_core(everyone, nl)
        d = shell_distortion(nl, kinds=("bcc",) if kind == "bcc" else ("fcc", "hcp"))
        want = bonds & (np.nan_to_num(d, nan=np.inf).min(axis=1) <= cut)
        npt.assert_array_equal(geo, want)
        if noise == 0.02:
            assert geo.all()
        else:      # near PTM's cutoff the cut removes shells the bonds let through
            assert 0 < (bonds & ~geo).sum() < bonds.sum()
    assert crystalline_core(everyone, nl, max_distortion=0.0).sum() == 0
    with pytest.raises(ValueError, match="max_distortion"):
        crystalline_core(everyone, nl, max_distortion=-1.0)


def test_core_max_distortion_is_ptm_cutoff_in_shell_distortion():
    """The default cut is what the docstring says: on thermally shaken ideal fcc and hcp, the
    shell distortion at which half the atoms pass PTM's standard RMSD cutoff (0.1), measured
    here with OVITO's PTM: a calibration on ideal crystals, not on any MD run."""
    pytest.importorskip("ovito")
    from descriptors.shell import shell_distortion
    from multilayer.learn.trusted import ovito_structures
    from multilayer.tracking.nuclei import CORE_MAX_DISTORTION

    dist, passes = [], []
    for kind, cells in (("fcc", 6), ("hcp", (7, 4, 5))):
        for i, noise in enumerate(np.arange(0.055, 0.0701, 0.0025)):
            f = make_lattice(kind, cells, noise=float(noise), seed=10 + i)
            _, rmsd = ovito_structures(f, rmsd_cutoff=0.0, structures=("fcc", "hcp"), rmsd=True)
            d = shell_distortion(neighbor_list(f, k=14), kinds=("fcc", "hcp")).min(axis=1)
            dist.append(d)
            passes.append(np.nan_to_num(rmsd, nan=np.inf) <= 0.1)
    dist, passes = np.concatenate(dist), np.concatenate(passes)
    near = np.abs(dist - CORE_MAX_DISTORTION) < 0.002
    assert near.sum() > 500
    assert 0.4 < passes[near].mean() < 0.6
    # and it is a sharp threshold in the distortion: 0.01 either side, mostly one way
    assert passes[np.abs(dist - (CORE_MAX_DISTORTION - 0.01)) < 0.002].mean() > 0.85
    assert passes[np.abs(dist - (CORE_MAX_DISTORTION + 0.01)) < 0.002].mean() < 0.2
    with pytest.raises(ValueError, match="rmsd=True"):
        ovito_structures(f, "acna", rmsd=True)


@pytest.mark.parametrize("phase, cells", [("fcc", (6, 6, 8)), ("hcp", (8, 6, 6))])
def test_core_cut_calibrated_on_shaken_crystals_holds_on_thermal_ones(phase, cells, tmp_path):
    """The cut was set on independent Gaussian displacements; in a crystal thermalised by
    molecular dynamics neighbours move together.  Hot LJ crystals (T* 0.7, where PTM rejects
    about 15 % of the atoms) made by LAMMPS: the core accepts as many atoms as PTM's
    standard cutoff, and mostly the same ones (benchmarks/bench_core_calibration.py on the
    validation suite's phases: within 0.023, recall 0.94-0.98, precision 0.96-0.97).  A cut
    0.01 either side is off by more than 0.07 in the acceptance
    (here 0.26 below, 0.08-0.09 above)."""
    pytest.importorskip("ovito")
    from descriptors import md, read_trajectory
    from multilayer.learn.trusted import ovito_structures
    from multilayer.tracking.nuclei import crystalline_core

    if not md.lammps_available():
        pytest.skip("LAMMPS not installed")
    path = md.lj_phase_frames(phase, 0.7, tmp_path / "x.dump", cells=cells, seed=5, n_frames=2,
                              equilibration_time=3.0, frame_interval=2.0, n_threads=1)
    ptm, core, core_low, core_high = [], [], [], []
    for frame in read_trajectory(path):
        types = ovito_structures(frame, "ptm", structures=("fcc", "hcp", "bcc", "ico"))
        ptm.append(np.isin(types, (1, 2, 3)))
        nl = neighbor_list(frame, k=14)
        everyone = np.ones(frame.n_atoms, bool)
        core.append(crystalline_core(everyone, nl, frame=frame))
        core_low.append(crystalline_core(everyone, nl, frame=frame, max_distortion=0.074))
        core_high.append(crystalline_core(everyone, nl, frame=frame, max_distortion=0.094))
    ptm, core = np.concatenate(ptm), np.concatenate(core)
    assert 0.75 < ptm.mean() < 0.95, ptm.mean()               # hot: PTM rejects some atoms
    assert abs(core.mean() - ptm.mean()) < 0.05, (core.mean(), ptm.mean())
    assert core[ptm].mean() > 0.9 and ptm[core].mean() > 0.9
    assert np.concatenate(core_low).mean() < ptm.mean() - 0.07
    assert np.concatenate(core_high).mean() > ptm.mean() + 0.07


def test_crystalline_core_of_a_gas_and_argument_checks():
    from multilayer.tracking.nuclei import crystalline_core

    gas = Frame(np.random.default_rng(3).random((400, 3)) * 7.0, Box.orthogonal([7.0] * 3))
    nl = neighbor_list(gas, k=14)
    assert not crystalline_core(np.ones(400, bool), nl).any()
    with pytest.raises(ValueError, match="mask.shape"):
        crystalline_core(np.ones(399, bool), nl)
    with pytest.raises(ValueError, match="tolerance"):
        crystalline_core(np.ones(400, bool), nl, tolerance=13)
    with pytest.raises(ValueError, match="outside_tolerance"):
        crystalline_core(np.ones(400, bool), nl, outside_tolerance=-1)
    assert not crystalline_core(np.zeros(400, bool), nl, outside_tolerance=12).any()


def test_crystalline_core_judges_bcc_on_its_14_nearest_whatever_the_list_cutoff():
    """A bcc crystal with a list cut between its two shells (8 neighbours listed): without
    the frame no atom can be judged; with it every atom is judged on its 14 nearest, as
    a-CNA and PTM judge it, and the result is the one a list reaching the second shell gives."""
    from descriptors import first_shell_distance
    from multilayer.tracking.nuclei import crystalline_core

    f = make_lattice("bcc", 5, noise=0.02, seed=8)
    d = first_shell_distance(f)
    short = neighbor_list(f, r_cut=1.08 * d)             # second shell at 1.155 d
    assert short.counts.max() < 14
    everyone = np.ones(f.n_atoms, bool)
    assert not crystalline_core(everyone, short).any()
    full = crystalline_core(everyone, neighbor_list(f, r_cut=1.35 * d))
    assert full.all()
    npt.assert_array_equal(crystalline_core(everyone, short, frame=f), full)
    with pytest.raises(ValueError, match="frame has"):
        crystalline_core(everyone, short, frame=make_lattice("bcc", 4))


def test_crystalline_core_outside_the_mask_takes_only_strict_crystal_shells():
    """An fcc crystal shaken at 0.03 d with every atom outside the mask: the strict a-CNA with
    the geometric test keeps it whole; a liquid-like shake (0.25 d) leaves no atom, whatever
    the tolerance inside the mask (the liquid has no strict shells)."""
    from multilayer.tracking.nuclei import crystalline_core

    f = make_lattice("fcc", 5, noise=0.03, seed=6)
    nl = neighbor_list(f, r_cut=1.35)
    nobody = np.zeros(f.n_atoms, bool)
    assert crystalline_core(nobody, nl).all()
    assert not crystalline_core(nobody, nl, outside_tolerance=None).any()
    rng = np.random.default_rng(7)
    g = Frame(f.positions + rng.normal(0, 0.25, f.positions.shape), f.box, f.ids, f.types)
    nl = neighbor_list(g, r_cut=1.35)
    assert not crystalline_core(nobody, nl).any()


def test_crystalline_core_of_a_seed_in_liquid_is_inside_the_seed():
    """An fcc seed (radius 3 d) in a shaken, liquid-like rest: the core holds every seed atom
    whose whole first shell is in the seed and no atom of the rest, and the core nucleus lies
    inside the crystal-like one."""
    from multilayer.tracking.nuclei import crystalline_core

    f = make_lattice("fcc", 8, noise=0.03, seed=4)
    rng = np.random.default_rng(5)
    centre = f.box.cell.sum(axis=0) / 2
    seed = blob(f, centre, 3.0)
    pos = f.positions.copy()
    pos[~seed] += rng.normal(0, 0.25, (int((~seed).sum()), 3))   # a liquid-like shake
    g = Frame(pos, f.box, f.ids, f.types)
    nl = neighbor_list(g, r_cut=1.35)
    crystal_like = blob(g, centre, 4.0)                        # the seed and a halo
    core = crystalline_core(crystal_like, nl)
    interior = np.array([seed[a] and seed[nl.of(a)[0][:12]].all() for a in range(g.n_atoms)])
    assert interior.sum() > 20 and core[interior].all() and np.mean(seed[core]) > 0.95
    whole = find_nuclei(g, crystal_like, nl)
    inner = find_nuclei(g, core, nl)
    assert set(np.unique(whole[inner >= 0])) == {0}


def _reference_unwrap(frame, nl, nuclei):
    """The bond-list breadth-first unwrapping, in plain Python: bonds are the pairs (in list
    order) inside one nucleus, each atom's bonds in bond order, trees from each nucleus'
    lowest atom; a nucleus percolates when a bond disagrees with its tree images."""
    inv = np.linalg.inv(frame.box.cell)
    qi, pos = nl.query_indices(), frame.positions
    bonds = [(int(a), int(b), p) for p, (a, b) in enumerate(zip(qi, nl.indices))
             if nuclei[a] >= 0 and nuclei[a] == nuclei[b]]
    img = {p: np.rint((nl.vectors[p] - (pos[b] - pos[a])) @ inv).astype(np.int64)
           for a, b, p in bonds}
    adj = [[] for _ in range(frame.n_atoms)]
    for a, b, p in bonds:
        adj[a].append((b, img[p]))
        adj[b].append((a, -img[p]))
    image = np.zeros((frame.n_atoms, 3), dtype=np.int64)
    seen = np.zeros(frame.n_atoms, dtype=bool)
    for root in range(frame.n_atoms):
        if nuclei[root] < 0 or seen[root]:
            continue
        seen[root], queue = True, [root]
        for u in queue:
            for w, d in adj[u]:
                if not seen[w]:
                    seen[w] = True
                    image[w] = image[u] + d
                    queue.append(w)
    perc = np.zeros(int(nuclei.max()) + 1, dtype=bool)
    for a, b, p in bonds:
        if np.any(image[b] - image[a] != img[p]):
            perc[nuclei[a]] = True
    return image, perc


@pytest.mark.parametrize("case", ["cutoff", "knn", "triclinic"])
def test_nuclei_kernels_equal_a_slow_reference(fcc, case):
    """find_nuclei (a union-find on the CSR list) gives networkx's weakly connected
    components, and the CSR unwrapping the bond-list reference's percolation flags and, for
    the nuclei that do not percolate, its images exactly, also on a k-nearest (one-way)
    list, where the trees grow along both directions of the pairs."""
    from multilayer.tracking._nuclei_kernels import _grow_trees, unwrap_csr

    frame = fcc
    if case == "triclinic":
        rng = np.random.default_rng(5)
        box = Box([[10.0, 0, 0], [3.0, 9.0, 0], [-2.0, 2.5, 8.0]])
        frame = Frame(rng.random((3000, 3)) @ box.cell, box)
    nl = neighbor_list(frame, k=6) if case == "knn" else neighbor_list(frame, r_cut=1.0 if case == "triclinic" else R_CUT)
    x = frame.box.to_fractional(frame.positions)[:, 0] % 1.0
    rng = np.random.default_rng(2)
    # a slab across the periodic box (percolates), blobs and random atoms
    mask = ((x > 0.2) & (x < 0.45)) | (rng.random(frame.n_atoms) < 0.25)
    nuc = find_nuclei(frame, mask, nl, min_size=1)
    g = nx.Graph()
    g.add_nodes_from(np.flatnonzero(mask))
    g.add_edges_from((a, b) for a, b in zip(nl.query_indices(), nl.indices) if mask[a] and mask[b])
    want = sorted((sorted(c) for c in nx.connected_components(g)), key=lambda c: (-len(c), c[0]))
    assert [np.flatnonzero(nuc == k).tolist() for k in range(nuc.max() + 1)] == want
    image, perc = unwrap_csr(nl.offsets, nl.indices, nl.vectors, frame.positions,
                             np.linalg.inv(frame.box.cell), nuc, int(nuc.max()) + 1)
    ref_image, ref_perc = _reference_unwrap(frame, nl, nuc)
    # both ways of growing the trees are exercised: along the rows of a cutoff list, along
    # both directions of the pairs of a k-nearest one (which has one-way pairs)
    trees = _grow_trees(nl.offsets, nl.indices, np.empty(0, dtype=np.int64), True, nl.vectors,
                        frame.positions, np.linalg.inv(frame.box.cell), nuc)[1]
    assert (trees == nuc.max() + 1) == (case != "knn")     # min_size 1: every label present
    npt.assert_array_equal(perc, ref_perc)
    assert perc[0] and not perc[1:].all()       # the slab wraps around; small blobs do not
    # a nucleus that does not wrap around has one unwrapping, whatever tree found it
    whole = np.isin(nuc, np.flatnonzero(~perc))
    npt.assert_array_equal(image[whole], ref_image[whole])
    assert (image[whole] != 0).any()            # blobs across the boundary were unwrapped
    # a percolating nucleus: each atom's image is its tree parent's plus the bond's, so
    # every atom sits next to some same-nucleus neighbour in the unwrapped picture
    inv = np.linalg.inv(frame.box.cell)
    qi, pos = nl.query_indices(), frame.positions
    bond = (nuc[qi] >= 0) & (nuc[qi] == nuc[nl.indices])
    d = np.rint((nl.vectors - (pos[nl.indices] - pos[qi])) @ inv).astype(np.int64)
    agree = bond & np.all(image[nl.indices] - image[qi] == d, axis=1)
    touched = np.zeros(frame.n_atoms, dtype=bool)
    touched[qi[agree]] = touched[nl.indices[agree]] = True
    in_big = nuc == 0
    assert touched[in_big].all()


def test_crystalline_core_shrinks_monotonically_as_the_tolerance_tightens():
    """An fcc seed in a liquid-like rest: asking more signature bonds of the crystal-like
    atoms (tolerance 6 -> 0) only removes atoms (the seed's surface first), never adds one,
    and the atoms whose whole first shell is in the seed stay at every tolerance
    (``bench_labels.py`` reads the onset of the core "counted as PTM counts" as the core at
    tolerance 3: a subset of the default core)."""
    from multilayer.tracking.nuclei import crystalline_core

    f = make_lattice("fcc", 8, noise=0.03, seed=4)
    rng = np.random.default_rng(5)
    centre = f.box.cell.sum(axis=0) / 2
    seed = blob(f, centre, 3.5)
    pos = f.positions.copy()
    pos[~seed] += rng.normal(0, 0.12, (int((~seed).sum()), 3))
    g = Frame(pos, f.box, f.ids, f.types)
    nl = neighbor_list(g, r_cut=1.35)
    mask = blob(g, centre, 4.5)
    interior = np.array([seed[a] and seed[nl.of(a)[0][:12]].all() for a in range(g.n_atoms)])
    cores = [crystalline_core(mask, nl, tolerance=k, frame=g) for k in (6, 5, 3, 2, 0)]
    for looser, tighter in zip(cores, cores[1:]):
        assert not (tighter & ~looser).any()
        assert tighter[interior].all()
    assert cores[2].sum() < cores[0].sum()          # tolerance 3 drops part of the surface
