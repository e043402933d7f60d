"""LAMMPS protocols of :mod:`descriptors.md` for structure-label validation, and the engine split.

Short Lennard-Jones runs (about 1,000-2,000 atoms, a few seconds each; skipped without
LAMMPS) checking the physics: atom counts, the per-atom ``truth`` column, crystal slabs
still crystalline and the liquid slab liquid -- by OVITO's PTM when ``ovito`` imports, by
Lechner-Dellago averaged q6 (:func:`descriptors.steinhardt`) always.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from descriptors import lammps_engine, md, read_trajectory
from descriptors.steinhardt import steinhardt

needs_lammps = pytest.mark.skipif(not md.lammps_available(), reason="LAMMPS not installed")
ROOT = Path(__file__).resolve().parents[1]
HAVE_OVITO = importlib.util.find_spec("ovito") is not None


def _ptm(frame):
    """OVITO PTM types (0 other, 1 fcc, 2 hcp, 3 bcc, 4 ico) as the validation suite stores."""
    pytest.importorskip("ovito")
    return _validation_module().ptm_types(frame)


def _qbar6(frame):
    return steinhardt(frame, l=6, average=True)[:, 0]


# --------------------------------------------------------------------------- #
# the engine module and the re-exports
# --------------------------------------------------------------------------- #
def test_md_reexports_the_engine():
    assert md.load_lammps is lammps_engine.load_lammps
    assert md.lammps_available is lammps_engine.lammps_available
    for name in lammps_engine.__all__:
        assert not name.startswith("_") and hasattr(lammps_engine, name)


def test_dump_command_with_truth_column(tmp_path):
    cmd = lammps_engine.dump_command("d", tmp_path / "x.dump", 10, 3,
                                     int_columns=[("i_truth", "truth")])
    assert "id type x y z i_truth" in cmd
    assert '"%d %d %.3f %.3f %.3f %d"' in cmd
    assert "colname i_truth truth" in cmd
    assert lammps_engine.n_steps(1.0, 0.005) == 200
    with pytest.raises(ValueError):
        lammps_engine.check_seed(0)


def test_argument_checks():
    with pytest.raises(ValueError, match="phases"):
        md.lj_slab_frames("x.dump", phases=("fcc", "diamond"), temperature=0.2)
    with pytest.raises(ValueError, match="liquid"):
        md.lj_slab_frames("x.dump", phases=("liquid", "fcc", "liquid"), temperature=0.2)
    with pytest.raises(ValueError, match="temperature"):
        md.lj_slab_frames("x.dump", temperature=0.0)
    with pytest.raises(ValueError, match="nucleus_atoms"):
        md.lj_nucleus_in_liquid("x.dump", nucleus_atoms=0, temperature=0.6)
    with pytest.raises(ValueError, match="phase"):
        md.lj_phase_frames("diamond", 0.5, "x.dump")
    with pytest.raises(ValueError, match="cells"):
        md.lj_phase_frames("fcc", 0.5, "x.dump", cells=(2, 2))
    with pytest.raises(ValueError, match="tether"):
        md.lj_phase_frames("bcc", 0.5, "x.dump", tether=-1.0)
    with pytest.raises(ValueError, match="tether"):
        md.lj_phase_frames("liquid", 1.0, "x.dump", tether=30.0)
    with pytest.raises(ValueError, match="tether"):
        md.lj_slab_frames("x.dump", temperature=0.4, tether=float("nan"))
    with pytest.raises(ValueError, match="liquid_temperature"):
        md.lj_slab_frames("x.dump", temperature=0.4, liquid_temperature=0.0)


# --------------------------------------------------------------------------- #
# slabs
# --------------------------------------------------------------------------- #
SLAB_KW = dict(temperature=0.2, n_frames=2, seed=5, slab_width=5.0, cross_section=8.0,
               melt_time=4.0, cooling_time=0.5, relax_time=1.0, frame_interval=0.5,
               n_threads=1)


@pytest.fixture(scope="module")
def slabs(tmp_path_factory):
    if not md.lammps_available():
        pytest.skip("LAMMPS not installed")
    path = md.lj_slab_frames(tmp_path_factory.mktemp("slab") / "slab.dump.gz", **SLAB_KW)
    return path, read_trajectory(path)


@needs_lammps
def test_slab_atoms_and_truth(slabs):
    path, traj = slabs
    assert len(traj) == SLAB_KW["n_frames"]
    assert "truth" in traj.header(0)["columns"]
    first = traj[0]
    n = first.n_atoms
    assert 800 <= n <= 2500
    np.testing.assert_array_equal(first.ids, np.arange(1, n + 1))
    truth = first.extra["truth"]
    assert truth.dtype.kind == "i"
    counts = np.bincount(truth, minlength=4)
    assert len(counts) == 4 and counts.min() > 100          # every slab is populated
    # ids are given slab by slab and the truth never changes
    assert np.all(np.diff(truth) >= 0)
    for frame in traj:
        assert frame.n_atoms == n
        np.testing.assert_array_equal(frame.extra["truth"], truth)
    # slabs are stacked along x: slab centres (unwrapped from slab 0) in order
    lx = first.box.cell[0, 0]
    x = first.positions[:, 0] - first.box.origin[0]
    centres = [np.angle(np.exp(2j * np.pi * x[truth == k] / lx).mean()) for k in range(4)]
    order = np.argsort(np.mod(np.array(centres) - centres[0], 2 * np.pi))
    np.testing.assert_array_equal(order, [0, 1, 2, 3])


@needs_lammps
def test_slab_crystals_crystalline_liquid_liquid_q6(slabs):
    _, traj = slabs
    frame = traj[0]
    truth = frame.extra["truth"]
    q = _qbar6(frame)
    mean = {p: float(np.mean(q[truth == k])) for k, p in enumerate(md.SLAB_PHASES)}
    # fcc ~0.5, hcp ~0.4 when crystalline; the liquid (a glass at T* = 0.2) ~0.2
    assert mean["fcc"] > 0.4 and mean["hcp"] > 0.3, mean
    assert mean["bcc"] > 0.3, mean             # bcc or close-packed: still crystalline
    assert mean["liquid"] < 0.28, mean
    assert mean["liquid"] < min(mean["fcc"], mean["hcp"], mean["bcc"]) - 0.1, mean


@needs_lammps
def test_slab_structures_ptm(slabs):
    _, traj = slabs
    frame = traj[0]
    truth = frame.extra["truth"]
    ptm = _ptm(frame)
    frac = {p: np.bincount(ptm[truth == k], minlength=5) / (truth == k).sum()
            for k, p in enumerate(md.SLAB_PHASES)}
    assert frac["fcc"][1] > 0.6, frac["fcc"]               # interfaces are a minority
    assert frac["hcp"][2] > 0.5, frac["hcp"]
    # no PTM check of the bcc slab: LJ bcc transforms within a few tau (into twinned
    # close-packed domains that PTM mostly calls "other"); q6 above still sees a crystal
    assert frac["liquid"][0] + frac["liquid"][4] > 0.75, frac["liquid"]


@needs_lammps
def test_slab_deterministic(slabs, tmp_path):
    path, _ = slabs
    again = md.lj_slab_frames(tmp_path / "slab.dump.gz", **SLAB_KW)
    assert again.read_bytes() == Path(path).read_bytes()


# tethered crystals beside a liquid above melting: the truth stays the structure
TETHER_KW = dict(SLAB_KW, temperature=0.4, tether=30.0, liquid_temperature=1.5,
                 liquid_density=0.85, n_frames=2, frame_interval=2.0)


@pytest.fixture(scope="module")
def tethered_slabs(tmp_path_factory):
    if not md.lammps_available():
        pytest.skip("LAMMPS not installed")
    return md.lj_slab_frames(tmp_path_factory.mktemp("slabt") / "slab.dump", **TETHER_KW)


@needs_lammps
def test_tethered_slabs_keep_their_structures(tethered_slabs):
    traj = read_trajectory(tethered_slabs)
    for frame in (traj[0], traj[-1]):        # 3.5 tau after the interfaces formed
        truth = frame.extra["truth"]
        q = _qbar6(frame)
        mean = {p: float(np.mean(q[truth == k])) for k, p in enumerate(md.SLAB_PHASES)}
        assert min(mean["fcc"], mean["hcp"], mean["bcc"]) > 0.35, mean
        assert mean["liquid"] < 0.25, mean
        if HAVE_OVITO:
            ptm = _ptm(frame)
            frac = {p: np.bincount(ptm[truth == k], minlength=5) / (truth == k).sum()
                    for k, p in enumerate(md.SLAB_PHASES)}
            # the bcc slab is bcc (untethered it transforms within a few tau); interfaces
            # are the rest (thin slabs: about half); the hot liquid grows no crystal
            assert frac["bcc"][3] > 0.3 and frac["bcc"][1] + frac["bcc"][2] < 0.05, frac["bcc"]
            assert frac["fcc"][1] > 0.4 and frac["hcp"][2] > 0.4, frac
            assert frac["liquid"][0] + frac["liquid"][4] > 0.97, frac["liquid"]


@needs_lammps
def test_interface_mask_of_a_slab_dataset(tethered_slabs, tmp_path):
    """``Dataset.interface``: atoms with an atom of another slab within r_cut, against
    brute-force minimum-image distances."""
    vd = _validation_module()
    frame = read_trajectory(tethered_slabs)[0]
    truth = frame.extra["truth"]
    labels = tmp_path / "labels.npz"
    np.savez(labels, ids_0000=frame.ids, truth_0000=truth, ptm_0000=np.zeros_like(truth))
    ds = vd.Dataset("slabs", "slabs", Path(tethered_slabs), labels,
                    {"n_frames": 1, "n_atoms": frame.n_atoms, "truth_names": list(md.SLAB_PHASES)})
    r_cut = 1.4
    got = ds.interface(0, r_cut)
    L = np.diag(frame.box.cell)
    d = frame.positions[:, None, :] - frame.positions[None, :, :]
    d -= L * np.round(d / L)
    near = (np.einsum("ijk,ijk->ij", d, d) < r_cut ** 2) & ~np.eye(frame.n_atoms, dtype=bool)
    want = (near & (truth[:, None] != truth[None, :])).any(axis=1)
    np.testing.assert_array_equal(got, want)
    assert 0.1 < want.mean() < 0.6           # two interfaces per slab of ~5 sigma
    ds_phases = vd.Dataset("p", "phases", Path(tethered_slabs), labels, ds.meta)
    assert ds_phases.interface(0, r_cut) is None


# --------------------------------------------------------------------------- #
# a crystal seed in the undercooled liquid
# --------------------------------------------------------------------------- #
NUC_KW = dict(nucleus_atoms=300, temperature=0.6, pressure=5.0, n_cells=7, seed=3,
              n_frames=2, melt_time=4.0, cooling_time=2.0, equilibration_time=2.0,
              relax_time=0.5, frame_interval=0.5, n_threads=1)


@pytest.fixture(scope="module")
def nucleus(tmp_path_factory):
    if not md.lammps_available():
        pytest.skip("LAMMPS not installed")
    path = md.lj_nucleus_in_liquid(tmp_path_factory.mktemp("nuc") / "nuc.dump", **NUC_KW)
    return read_trajectory(path)


def _seed_core(frame, truth, frac=0.5):
    """Seed atoms in the inner ``frac`` of the seed radius (periodic mean of the seed)."""
    L = np.diag(frame.box.cell)
    pos = frame.positions - frame.box.origin
    ang = np.exp(2j * np.pi * pos[truth == 1] / L).mean(axis=0)
    centre = np.mod(np.angle(ang) / (2 * np.pi) * L, L)
    d = pos - centre
    d -= L * np.round(d / L)
    r = np.linalg.norm(d, axis=1)
    radius = r[truth == 1].max()
    return (truth == 1) & (r < frac * radius), r, radius


@needs_lammps
def test_nucleus_atoms_and_truth(nucleus):
    assert len(nucleus) == NUC_KW["n_frames"]
    frame = nucleus[0]
    n_liquid0 = 4 * NUC_KW["n_cells"] ** 3
    truth = frame.extra["truth"]
    n_seed = int((truth == 1).sum())
    assert set(np.unique(truth)) == {0, 1}
    assert 0.8 * NUC_KW["nucleus_atoms"] <= n_seed <= 1.2 * NUC_KW["nucleus_atoms"]
    # liquid atoms overlapping the seed were deleted: about as many as were inserted
    assert abs(frame.n_atoms - n_liquid0) < 0.2 * n_seed
    np.testing.assert_array_equal(frame.ids, np.arange(1, frame.n_atoms + 1))
    np.testing.assert_array_equal(nucleus[1].extra["truth"], truth)
    # the seed is compact: all its atoms within a sphere of about the nominal radius
    _, _, radius = _seed_core(frame, truth)
    nominal = (3 * n_seed / (4 * np.pi * 1.0)) ** (1 / 3)
    assert radius < nominal + 1.5


@needs_lammps
def test_nucleus_is_crystalline_in_a_liquid(nucleus):
    frame = nucleus[-1]
    truth = frame.extra["truth"]
    core, r, radius = _seed_core(frame, truth)
    q = _qbar6(frame)
    far = (truth == 0) & (r > radius + 1.5)
    assert core.sum() > 20 and far.sum() > 200, (core.sum(), far.sum())
    assert q[core].mean() > 0.35, q[core].mean()
    assert q[far].mean() < 0.25, q[far].mean()
    if HAVE_OVITO:
        ptm = _ptm(frame)
        assert np.mean(np.isin(ptm[core], (1, 2))) > 0.6, np.bincount(ptm[core])  # fcc/hcp
        assert np.mean(ptm[far] == 0) > 0.9


# --------------------------------------------------------------------------- #
# lj_phase_frames: bcc and exact cells
# --------------------------------------------------------------------------- #
@needs_lammps
def test_phase_frames_bcc_and_cells(tmp_path):
    # bcc: freshly thermalised at low T it is bcc; it transforms within a few tau (LJ bcc
    # is mechanically unstable), so no equilibration here
    path = md.lj_phase_frames("bcc", 0.05, tmp_path / "bcc.dump", n_cells=4, seed=2,
                              n_frames=1, equilibration_time=0.5, n_threads=1)
    frame = read_trajectory(path)[0]
    assert frame.n_atoms == 2 * 5 ** 3                      # round(4 * 2**(1/3)) = 5
    q = _qbar6(frame)
    assert 0.4 < q.mean() < 0.55                           # ideal bcc 0.51, fcc 0.57
    if HAVE_OVITO:
        assert np.mean(_ptm(frame) == 3) > 0.9
    # the same number of atoms from different phases
    ns = set()
    for phase, cells in (("fcc", (6, 6, 8)), ("hcp", (8, 6, 6)), ("bcc", (8, 8, 9))):
        p = md.lj_phase_frames(phase, 0.3, tmp_path / f"{phase}.dump", cells=cells,
                               n_frames=1, equilibration_time=0.1, n_threads=1)
        ns.add(read_trajectory(p)[0].n_atoms)
    assert ns == {1152}


@needs_lammps
def test_tethered_bcc_stays_bcc(tmp_path):
    """``tether``: bcc tied to its sites keeps its lattice at T* = 0.4 (untethered LJ bcc
    transforms into close-packed domains within a few tau)."""
    kw = dict(n_cells=4, seed=3, n_frames=1, equilibration_time=8.0, n_threads=1)
    tied = read_trajectory(md.lj_phase_frames("bcc", 0.4, tmp_path / "t.dump", tether=30.0,
                                              **kw))[0]
    free = read_trajectory(md.lj_phase_frames("bcc", 0.4, tmp_path / "f.dump", **kw))[0]
    q_tied = _qbar6(tied).mean()
    assert 0.4 < q_tied < 0.55, q_tied
    if HAVE_OVITO:
        assert np.mean(_ptm(tied) == 3) > 0.85
        assert np.mean(_ptm(free) == 3) < 0.5
    # thermal, not frozen: the atoms vibrate about their sites
    sites = read_trajectory(md.lj_phase_frames("bcc", 0.4, tmp_path / "s.dump", tether=30.0,
                                               **dict(kw, equilibration_time=0.0)))[0]
    d = tied.positions - sites.positions
    L = np.diag(tied.box.cell)
    d -= L * np.round(d / L)
    rms = float(np.sqrt((d ** 2).sum(axis=1).mean()))
    assert 0.05 < rms < 0.3, rms


# --------------------------------------------------------------------------- #
# the validation suite's plan (no MD)
# --------------------------------------------------------------------------- #
def _validation_module():
    if "validation_data" in sys.modules:
        return sys.modules["validation_data"]
    spec = importlib.util.spec_from_file_location(
        "validation_data", ROOT / "benchmarks" / "validation_data.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod                  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return mod


def test_validation_suite_plan(tmp_path, monkeypatch):
    vd = _validation_module()
    jobs = vd.suite_jobs(quick=False)
    nuc = [j for j in jobs if j["kind"] == "nucleation"]
    assert len(nuc) == 6
    assert [j["seed"] for j in nuc] == [1, 1, 1, 2, 2, 2]     # first seeds first
    assert len({(j["temperature"], j["pressure"]) for j in nuc[:3]}) == 3
    assert all(4 * j["params"]["n_cells"] ** 3 >= 16_000 for j in nuc)
    assert all(j["params"]["n_frames"] >= 80 for j in nuc)
    for quick in (False, True):
        cells = vd.PHASE_CELLS["quick" if quick else "full"]
        per = {"fcc": 4, "hcp": 4, "bcc": 2, "liquid": 4}
        assert len({per[p] * int(np.prod(c)) for p, c in cells.items()}) == 1
    # held-out runs: names unique, never a tuning run's; the large box has its 4 n^3 atoms
    held = vd.suite_jobs(quick=False, held_out=True)
    names = [j["name"] for j in held]
    assert len(set(names)) == len(names) and not set(names) & {j["name"] for j in jobs}
    # the held-out phases: every phase, at temperatures the tuning set does not have
    ph = [j for j in held if j["kind"] == "phases"]
    tuned = {tuple(c) for j in jobs if j["kind"] == "phases" for c in j["conditions"]}
    assert len(ph) == 1 and {p for p, _ in ph[0]["conditions"]} == {"fcc", "hcp", "bcc", "liquid"}
    assert not {tuple(c) for c in ph[0]["conditions"]} & tuned
    # the held-out slabs: every phase, each set at a temperature and seed of its own, none the
    # tuning slabs'
    sl = [j for j in held if j["kind"] == "slabs"]
    tuned_sl = next(j for j in jobs if j["kind"] == "slabs")
    at = lambda j: (j["params"]["temperature"], j["seed"])  # noqa: E731
    assert len(sl) >= 5 and len({at(j) for j in sl}) == len(sl)
    assert all(j["phases"] == tuned_sl["phases"] and j["seed"] != tuned_sl["seed"] and
               at(j)[0] != at(tuned_sl)[0] for j in sl)
    # the held-out seed in liquid: the 300 atoms, at another state point and seed
    nucs = [j for j in held if j["kind"] == "nucleus"]
    tuned_nuc = next(j for j in jobs if j["kind"] == "nucleus")
    point = lambda j: (j["params"]["temperature"], j["params"]["pressure"], j["seed"])  # noqa: E731
    assert nucs and all(j["params"]["nucleus_atoms"] == 300 and point(j) != point(tuned_nuc)
                        for j in nucs)
    large = [j for j in held if j["name"].endswith("_n26")]
    assert len(large) == 1 and 4 * large[0]["params"]["n_cells"] ** 3 == 70_304
    assert all(j["params"]["n_cells"] <= vd.SETTINGS["quick"]["nucleation"]["n_cells"]
               for j in vd.suite_jobs(quick=True, held_out=True) if not j.get("metal")
               and j["kind"] == "nucleation")
    # seeded growth: 16,000 bcc atoms and 80 frames in full; the seed (a sphere of the
    # lattice's density) fits well inside the box, quick or full
    grow = [j for j in held if j["kind"] == "growth"]
    assert grow and all(2 * j["params"]["n_cells"] ** 3 >= 16_000
                        and j["params"]["n_frames"] >= 80 for j in grow)
    for j in grow + [j for j in vd.suite_jobs(quick=True, held_out=True) if j["kind"] == "growth"]:
        lattice, a0 = md.SEED_LATTICES[j["metal"]]
        p = j["params"]
        radius = (3 * p["seed_atoms"] * a0 ** 3 / (4 * np.pi * 2)) ** (1 / 3)
        assert lattice == "bcc" and 2 * radius < 0.7 * p["n_cells"] * a0
    monkeypatch.setenv("CRYSTOPO_CACHE", str(tmp_path))
    assert vd.cache_dir() == tmp_path and vd.cache_dir(quick=True) == tmp_path / "quick"
    assert vd.load_suite() == {}
    # held-out runs go to held_out/, also when the cache variable already names that folder
    assert vd.held_out_dir() == tmp_path / "held_out"
    monkeypatch.setenv("CRYSTOPO_CACHE", str(tmp_path / "held_out"))
    assert vd.held_out_dir() == tmp_path / "held_out"


# --------------------------------------------------------------------------- #
# a real metal: the nucleation protocol with an EAM potential (units metal)
# --------------------------------------------------------------------------- #
# held above Cu's melting point (about 1,327 K): a 256-atom box quenched to 700 K freezes
# within a picosecond; hot, the whole hold is sampled
EAM_KW = dict(n_cells=4, n_frames=4, seed=3, temperature=1500.0, melt_time=1.0,
              equilibration_time=1.0, quench_time=1.0, max_time=1.5, sample_interval=0.25,
              n_threads=1)


def test_eam_argument_checks(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="metal"):
        md.run_eam_nucleation(tmp_path / "x.dump", metal="Unobtainium")
    monkeypatch.setenv("LAMMPS_POTENTIALS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="LAMMPS_POTENTIALS"):
        lammps_engine.potential_file("no_such.eam.alloy")
    (tmp_path / "mine.eam.alloy").write_text("x")
    assert lammps_engine.potential_file("mine.eam.alloy") == str(tmp_path / "mine.eam.alloy")


@needs_lammps
def test_eam_copper_run_is_copper_and_reproducible(tmp_path):
    """Mishin's Cu through the shared protocol: every frame written, metal units (number
    density of hot and undercooled copper, 0.07-0.09 per cubic angstrom, where LJ is near 1),
    a first shell at Cu's nearest-neighbour distance (2.556 A in the crystal, the liquid's
    first g(r) peak a little shorter), and the same bytes from the same seed."""
    from descriptors import first_shell_distance

    a = md.run_eam_nucleation(tmp_path / "a.dump", **EAM_KW)
    frames = list(read_trajectory(a))
    assert len(frames) == EAM_KW["n_frames"]
    for fr in frames:
        assert len(fr) == 4 * EAM_KW["n_cells"] ** 3
        assert np.array_equal(fr.ids, np.arange(1, len(fr) + 1))
        assert 0.07 < len(fr) / fr.box.volume < 0.09
        assert 2.3 < first_shell_distance(fr) < 2.7
    b = md.run_eam_nucleation(tmp_path / "b.dump", **EAM_KW)
    assert a.read_bytes() == b.read_bytes()


def test_eam_potentials_pick_the_pair_style_of_their_file():
    """eam/alloy for setfl files, eam/fs for Finnis-Sinclair ones (Mendelev's Fe), each with
    the metal's mass and element."""
    cu, fe = md.eam_potential("Cu"), md.eam_potential("Fe")
    assert "pair_style eam/alloy" in cu and cu.rstrip().endswith(" Cu")
    assert "pair_style eam/fs" in fe and fe.rstrip().endswith(" Fe")
    assert "mass 1 55.845" in fe
    mg = md.eam_potential("Mg")
    assert "pair_style eam/fs" in mg and mg.rstrip().endswith(" Mg") and "mass 1 24.305" in mg
    assert set(md.EAM_MELT) == set(md.EAM_METALS)


def test_eam_potential_refuses_a_file_of_unknown_style(monkeypatch):
    monkeypatch.setitem(md.EAM_METALS, "Xx", ("Xx_u3.eam", "Xx", 3.6, 50.0, 3.2))
    with pytest.raises(ValueError, match="no pair style"):
        md.eam_potential("Xx")


@needs_lammps
@pytest.mark.parametrize("metal, temperature, density, shell", [
    # Mendelev's bcc iron above its melting point (about 1,772 K): liquid iron's number
    # density (0.075 per cubic angstrom at T_m, a little less hotter; the bcc crystal 0.086)
    # and its first shell (2.48 A in bcc, the liquid's g(r) peak near 2.55 A)
    ("Fe", 2300.0, (0.065, 0.08), (2.35, 2.7)),
    # Sun and Mendelev's hcp magnesium above its melting point (about 914 K): liquid
    # magnesium's 0.039 per cubic angstrom at T_m (1.58 g/cm^3; the hcp crystal 0.043) and its
    # first shell (3.2 A in hcp, the liquid's g(r) peak near 3.1 A)
    ("Mg", 1000.0, (0.034, 0.0425), (2.9, 3.4)),
])
def test_eam_liquid_is_the_metal(tmp_path, metal, temperature, density, shell):
    """Each metal through the same protocol, above its melting point: the liquid's number
    density and first shell are the metal's, not copper's."""
    from descriptors import first_shell_distance

    kw = dict(EAM_KW, temperature=temperature)
    a = md.run_eam_nucleation(tmp_path / f"{metal}.dump", metal=metal, **kw)
    frames = list(read_trajectory(a))
    assert len(frames) == kw["n_frames"]
    for fr in frames:
        assert len(fr) == 4 * kw["n_cells"] ** 3
        assert density[0] < len(fr) / fr.box.volume < density[1]
        assert shell[0] < first_shell_distance(fr) < shell[1]


# --------------------------------------------------------------------------- #
# a seed of the metal's own crystal in its undercooled liquid (bcc iron)
# --------------------------------------------------------------------------- #
SEED_KW = dict(metal="Fe", temperature=1250.0, seed_atoms=40, n_cells=5, seed=3, n_frames=3,
               frame_interval=0.1, melt_time=0.5, cooling_time=0.5, hold_time=0.2,
               n_threads=1)


def test_eam_seed_argument_checks(tmp_path):
    with pytest.raises(ValueError, match="seed lattice"):
        md.eam_seed_in_liquid(tmp_path / "x.dump", metal="Mg")
    with pytest.raises(ValueError, match="does not fit"):
        md.eam_seed_in_liquid(tmp_path / "x.dump", seed_atoms=200, n_cells=5)
    with pytest.raises(ValueError, match="frame_interval"):
        md.eam_seed_in_liquid(tmp_path / "x.dump", frame_interval=0)


def _nearest(frame, select, among):
    """Distance from each ``select`` atom to its nearest other ``among`` atom (minimum image)."""
    L = np.diag(frame.box.cell)
    p = frame.positions[select]
    d = p[:, None, :] - frame.positions[among][None, :, :]
    d -= L * np.round(d / L)
    r = np.sqrt(np.einsum("ijk,ijk->ij", d, d))
    r[r == 0] = np.inf
    return r.min(axis=1)


@needs_lammps
def test_eam_seed_is_an_ideal_bcc_sphere_in_a_melt(tmp_path):
    """At release (frame 0) the seed atoms sit on the bcc lattice they were frozen on (every
    nearest neighbour at sqrt(3)/2 a), a compact sphere of about the asked size; the atoms
    around it were melted (their nearest distances spread, the density is liquid iron's);
    the same seed gives the same bytes."""
    a = md.eam_seed_in_liquid(tmp_path / "a.dump", **SEED_KW)
    frames = list(read_trajectory(a))
    assert len(frames) == SEED_KW["n_frames"]
    every = round(SEED_KW["frame_interval"] / 0.002)      # the default timestep, 2 fs
    assert [f.timestep for f in frames] == [k * every for k in range(SEED_KW["n_frames"])]
    n = 2 * SEED_KW["n_cells"] ** 3
    f0 = frames[0]
    assert len(f0) == n and np.array_equal(f0.ids, np.arange(1, n + 1))
    seed = f0.extra["truth"] == 1
    assert set(np.unique(f0.extra["truth"])) == {0, 1}
    assert 0.7 * SEED_KW["seed_atoms"] <= seed.sum() <= 1.3 * SEED_KW["seed_atoms"]
    lat, a0 = md.SEED_LATTICES["Fe"]
    nn = np.sqrt(3) / 2 * a0 * 1.012          # the default expansion
    r_seed = _nearest(f0, seed, seed)         # to the nearest seed atom: the lattice's
    assert lat == "bcc"
    np.testing.assert_allclose(r_seed, nn, atol=2e-3)
    r_liq = _nearest(f0, ~seed, ~seed)
    assert r_liq.std() > 0.05                 # melted: no lattice left
    assert 0.065 < n / f0.box.volume < 0.09
    for fr in frames:
        np.testing.assert_array_equal(fr.extra["truth"], f0.extra["truth"])
    b = md.eam_seed_in_liquid(tmp_path / "b.dump", **SEED_KW)
    assert a.read_bytes() == b.read_bytes()
