"""The one fitted feature pipeline (FeatureSet) and the one frame loop (FrameLoop)."""
import numpy as np
import pytest

from descriptors import TrajectoryFormatError, make_lattice, neighbor_list
from multilayer.network.featureset import FEATURE_DEFAULTS, FeatureSet
from multilayer.network.frameloop import FrameLoop, select_frames


@pytest.fixture(scope="module")
def fitted():
    return FeatureSet().fit(make_lattice("fcc", 4, noise=0.03, seed=1))


def test_cutoffs_follow_the_first_neighbour_distance(fitted):
    fs = fitted
    assert abs(fs.nn_distance_ - 1.0) < 0.02          # make_lattice: unit nn distance
    assert fs.shell_cut_ == pytest.approx(FEATURE_DEFAULTS["neighbors"]["shell_factor"] * fs.nn_distance_)
    assert fs.ph_cut_ == pytest.approx(FEATURE_DEFAULTS["persistence"]["shell_factor"] * fs.nn_distance_)
    assert fs.search_radius == max(fs.shell_cut_, fs.ph_cut_, fs.map_cut_)
    # the same crystal at twice the scale gets twice the cutoffs
    big = FeatureSet().fit(make_lattice("fcc", 4, noise=0.03, seed=1, nn_distance=2.0))
    assert big.search_radius == pytest.approx(2 * fs.search_radius, rel=0.02)


def test_every_site_of_a_perfect_crystal_is_described_alike(fitted):
    """A reference crystal goes through the very same pipeline: in a perfect fcc lattice
    every atom is equivalent, so every row of every feature set is the same."""
    for kind in ("fcc", "hcp", "bcc"):
        f = make_lattice(kind, 4)
        out = fitted.transform(f)
        for name, x in out.sets.items():
            assert x.shape[0] == f.n_atoms
            np.testing.assert_allclose(x, np.broadcast_to(x[0], x.shape), atol=2e-5,
                                       err_msg=f"{kind} {name}")
        assert out.solid.all()
        # published averaged q6 of perfect fcc is 0.5745 (12 neighbours)
        if kind == "fcc":
            np.testing.assert_allclose(out.q6, 0.57452, atol=1e-4)


def test_shared_neighbour_list_gives_the_same_features(fitted):
    f = make_lattice("hcp", (4, 3, 3), noise=0.05, seed=3)
    own = fitted.transform(f)
    shared = fitted.transform(f, fitted.neighbors(f))
    for name in own.sets:
        np.testing.assert_array_equal(own.sets[name], shared.sets[name])
    with pytest.raises(ValueError, match="reach"):
        fitted.transform(f, neighbor_list(f, r_cut=0.5 * fitted.search_radius))


def test_invariant_under_rigid_translation_and_rewrapping(fitted):
    from descriptors import Frame

    f = make_lattice("fcc", 4, noise=0.05, seed=4)
    moved = f.positions + np.array([0.37, -1.3, 2.9])
    g = Frame(moved, f.box, f.ids, f.types, f.timestep)
    g = Frame(g.wrapped(), f.box, f.ids, f.types, f.timestep)
    a, b = fitted.transform(f), fitted.transform(g)
    for name in a.sets:
        np.testing.assert_allclose(a.sets[name], b.sets[name], atol=1e-4, err_msg=name)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="sets"):
        FeatureSet(["stenhardt"])
    with pytest.raises(ValueError, match="nn_distance"):
        FeatureSet(nn_distance=-1.0)
    with pytest.raises(ValueError, match="not fitted"):
        FeatureSet().transform(make_lattice("fcc", 2))


def test_select_frames_takes_python_values():
    assert select_frames(10, None) == list(range(10))
    assert select_frames(10, slice(0, None, 3)) == [0, 3, 6, 9]
    assert select_frames(10, range(2, 5)) == [2, 3, 4]
    assert select_frames(10, [-1, 0]) == [9, 0]
    with pytest.raises(TypeError, match="slice"):
        select_frames(10, "0:5")
    with pytest.raises(ValueError, match="selects no frame"):
        select_frames(10, slice(20, 30))
    with pytest.raises(IndexError, match="out of range"):
        select_frames(10, [12])


def test_frame_loop_skips_bad_frames_and_shares_the_neighbour_list():
    frames = [make_lattice("fcc", 2, noise=0.02, seed=s) for s in range(4)]

    class Traj(list):
        def __getitem__(self, i):
            if i == 2:
                raise TrajectoryFormatError("t.dump: frame 2, line 40: expected 5 columns")
            return list.__getitem__(self, i)

    built = []

    def nl(frame):
        built.append(frame)
        return neighbor_list(frame, r_cut=1.2)

    loop = FrameLoop(Traj(frames), range(4), neighbors=nl)
    got = dict(loop.run(lambda i, f, n: (n.n_atoms, n.counts.sum())))
    assert sorted(got) == [0, 1, 3]
    assert list(loop.skipped) == [2] and "line 40" in loop.skipped[2]
    assert len(built) == 3                          # one list per good frame, shared
    assert all(v == (32, 32 * 12) for v in got.values())


@pytest.mark.parametrize("prefetch", [False, True])
def test_frame_loop_reads_ahead_and_uses_frames_at_hand(prefetch):
    """Read-ahead and frames given by the caller change neither the order, nor the results,
    nor which frames are skipped; a given frame is not read again."""
    import threading

    frames = [make_lattice("fcc", 2, noise=0.02, seed=s) for s in range(5)]
    reads, readers = [], set()

    class Traj(list):
        def __getitem__(self, i):
            reads.append(i)
            readers.add(threading.current_thread().name)
            if i == 3:
                raise TrajectoryFormatError("t.dump: frame 3, line 9: expected a number")
            return list.__getitem__(self, i)

    loop = FrameLoop(Traj(frames), [4, 0, 1, 2, 3], prefetch=prefetch, given={4: frames[4]})
    seen = []
    got = [(i, r) for i, r in loop.run(lambda i, f, n: seen.append(i) or float(f.positions.sum()))]
    assert [i for i, _ in got] == seen == [4, 0, 1, 2]
    for i, r in got:
        assert r == float(frames[i].positions.sum())
    assert list(loop.skipped) == [3] and "line 9" in loop.skipped[3]
    assert sorted(reads) == [0, 1, 2, 3]                  # frame 4 was at hand
    assert any(n.startswith("crystopo-read") for n in readers) == prefetch
    # a loop left early cancels what it read ahead, and its errors are not raised
    loop = FrameLoop(Traj(frames), [0, 1, 2, 3], prefetch=prefetch)
    for i, _ in loop.run(lambda i, f, n: None):
        break
    assert i == 0 and not loop.skipped


def test_shared_harmonics_give_the_separate_results(fitted):
    """q_l and the ten Wolde flags from one computation of the harmonics equal the two
    separate calls (and so freud, which tests/test_steinhardt.py compares them with)."""
    from descriptors.steinhardt import solid_liquid, steinhardt

    f = make_lattice("fcc", 4, noise=0.09, seed=7)        # hot: some atoms not solid-like
    out = fitted.transform(f)
    shell = neighbor_list(f, r_cut=fitted.shell_cut_)
    np.testing.assert_array_equal(out.sets["steinhardt"],
                                  steinhardt(f, shell, l=[4, 6, 8, 10, 12], average=True))
    solid = solid_liquid(f, shell)
    np.testing.assert_array_equal(out.solid, solid)
    assert 0 < solid.sum() < f.n_atoms

    from descriptors.cna import stacking

    np.testing.assert_array_equal(out.stacking, stacking(shell))
    assert out.arrays()["stacking"] is out.stacking


def test_stacking_votes_of_fcc_and_hcp(fitted):
    """Each frame carries every atom's stacking vote from its first shell: fcc in fcc, hcp in
    hcp, never the other one."""
    from descriptors.cna import FCC, HCP

    for kind, code in (("fcc", FCC), ("hcp", HCP)):
        f = make_lattice(kind, 4 if kind == "fcc" else (4, 3, 3), noise=0.04, seed=2)
        vote = fitted.transform(f).stacking
        assert vote.dtype == np.int8 and np.mean(vote == code) > 0.95
        assert not np.any(vote == (HCP if code == FCC else FCC))


# -- calibration from a sample of atoms (issue #16) ----------------------------------------

def _full_frame_calibration(frame, seed=0):
    """What FeatureSet.fit computed before issue #16: the persistence sample's neighbours
    taken from a whole-frame neighbour list (d1 and the map cutoff from the public helpers)."""
    import tda
    from descriptors import default_map_cutoff, first_shell_distance

    pc = FEATURE_DEFAULTS["persistence"]
    d1 = first_shell_distance(frame)
    map_cut = default_map_cutoff(frame, FEATURE_DEFAULTS["neighbors_map"]["size"])
    rng = np.random.default_rng(seed)
    atoms = np.sort(rng.choice(frame.n_atoms, min(frame.n_atoms, pc["fit_sample"]), replace=False))
    nl = neighbor_list(frame, r_cut=pc["shell_factor"] * d1)
    dg = tda.local_persistence(frame, nl, complex=pc["complex"], max_dim=pc["max_dim"], atoms=atoms)
    return d1, map_cut, tda.DiagramVectorizer(method=pc["method"]).fit(dg).ranges_


# 2916 / 2662 / 2916 atoms: more than the 2000 atoms the cutoffs are learnt from
_CELLS = {"fcc": 9, "bcc": 11, "hcp": 9}


@pytest.mark.parametrize("lattice", ["fcc", "bcc", "hcp"])
@pytest.mark.parametrize("sets", [None, ["persistence", "steinhardt"]])
def test_sampled_calibration_equals_the_full_frame_one_on_perfect_crystals(lattice, sets,
                                                                          monkeypatch):
    """fit searches only sampled atoms (one k-nearest search; without the Neighbors Map the
    persistence rows come from a cutoff search of those atoms): the same atoms as before,
    so the same cutoffs and vectoriser ranges, bit for bit."""
    from multilayer.network import featureset

    searched = []

    def spy(frame, *args, query=None, **kw):
        searched.append(None if query is None else len(query))
        return neighbor_list(frame, *args, query=query, **kw)

    frame = make_lattice(lattice, _CELLS[lattice])
    monkeypatch.setattr(featureset, "neighbor_list", spy)
    fs = FeatureSet(sets).fit(frame)
    monkeypatch.undo()
    # no whole-frame list: one search with the Neighbors Map's k = 33, two with k = 12
    assert None not in searched and len(searched) == (1 if sets is None else 2)
    assert max(searched) <= 2000 + FEATURE_DEFAULTS["persistence"]["fit_sample"]
    d1, map_cut, ranges = _full_frame_calibration(frame)
    assert fs.nn_distance_ == d1
    assert abs(d1 - 1.0) < 1e-12                  # make_lattice: unit nn distance, float64 noise
    if sets is None:
        assert fs.map_cut_ == map_cut
    np.testing.assert_array_equal(fs.vectorizer_.ranges_, ranges)


@pytest.mark.parametrize("lattice", ["fcc", "bcc", "hcp"])
def test_sampled_calibration_equals_the_full_frame_one_on_noisy_crystals(lattice):
    # tolerance 0: the sample is the one the full-frame calibration used, and a row of a
    # neighbour list does not depend on which other rows are searched
    frame = make_lattice(lattice, _CELLS[lattice], noise=0.08, seed=2)
    for sets in (None, ["persistence"]):
        fs = FeatureSet(sets, seed=4).fit(frame)
        d1, map_cut, ranges = _full_frame_calibration(frame, seed=4)
        assert fs.nn_distance_ == d1
        assert sets is not None or fs.map_cut_ == map_cut
        np.testing.assert_array_equal(fs.vectorizer_.ranges_, ranges)
    # the liquid: its k-th neighbours lie closer, the same answer all the same
    from descriptors import demo_trajectory_path, read_trajectory

    liquid = read_trajectory(demo_trajectory_path())[0]
    fs = FeatureSet().fit(liquid)
    d1, map_cut, ranges = _full_frame_calibration(liquid)
    assert (fs.nn_distance_, fs.map_cut_) == (d1, map_cut)
    np.testing.assert_array_equal(fs.vectorizer_.ranges_, ranges)


def test_same_seed_gives_the_same_feature_set():
    frame = make_lattice("fcc", 6, noise=0.08, seed=5)           # 864 atoms
    cfg = {"persistence": {"fit_sample": 200}}                   # a real sample of the frame
    a, b = (FeatureSet(config=cfg, seed=7).fit(frame) for _ in range(2))
    c = FeatureSet(config=cfg, seed=8).fit(frame)
    for name in ("nn_distance_", "map_cut_", "shell_cut_", "ph_cut_", "search_radius"):
        assert getattr(a, name) == getattr(b, name), name
    np.testing.assert_array_equal(a.vectorizer_.ranges_, b.vectorizer_.ranges_)
    assert not np.array_equal(a.vectorizer_.ranges_, c.vectorizer_.ranges_)  # seed picks atoms
    x, y = a.transform(frame), b.transform(frame)
    for name in x.sets:
        np.testing.assert_array_equal(x.sets[name], y.sets[name])
    # several frames: the sample is spread over them, deterministically
    frames = [make_lattice("fcc", 4, noise=0.08, seed=s) for s in range(3)]
    p, q = FeatureSet(seed=1).fit(frames), FeatureSet(seed=1).fit(frames)
    np.testing.assert_array_equal(p.vectorizer_.ranges_, q.vectorizer_.ranges_)


def test_transform_does_not_depend_on_the_numba_thread_count(fitted):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    frame = make_lattice("hcp", (6, 4, 4), noise=0.07, seed=9)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fitted.transform(frame)
        numba.set_num_threads(2)
        two = fitted.transform(frame)
    finally:
        numba.set_num_threads(before)
    for name in one.sets:
        # per-atom kernels: each row is computed by one thread, in the same order
        np.testing.assert_array_equal(one.sets[name], two.sets[name], err_msg=name)
    np.testing.assert_array_equal(one.q6, two.q6)
    np.testing.assert_array_equal(one.solid, two.solid)


def _sheared_two_species(seed):
    from descriptors import Box, Frame

    f = make_lattice("fcc", 5, noise=0.05, seed=seed, types=[1, 2, 2, 1])
    L = f.box.cell[0, 0]
    cell = np.array([[L, 0, 0], [0.3 * L, L, 0], [0.1 * L, -0.2 * L, L]])
    return Frame(f.box.to_fractional(f.positions) @ cell, Box(cell), f.ids, f.types)


@pytest.mark.parametrize("case", ["noisy fcc", "triclinic two species"])
@pytest.mark.parametrize("sets", [None, ["neighbors_map_image", "persistence", "steinhardt"]])
def test_chunked_transform_equals_the_whole_list_bit_for_bit(case, sets):
    """Without a neighbour list, transform works chunk by chunk of rows and keeps only the
    first shell for the whole frame; the numbers are those of the whole list, whatever the
    chunk size."""
    f = make_lattice("fcc", 5, noise=0.06, seed=8) if case == "noisy fcc" \
        else _sheared_two_species(9)
    fs = FeatureSet(sets).fit(f)
    whole = fs.transform(f, fs.neighbors(f))
    for size in (1, 97, f.n_atoms):
        got = fs.transform(f, chunk_size=size)
        assert list(got.sets) == list(whole.sets)
        for name, x in whole.sets.items():
            np.testing.assert_array_equal(got.sets[name], x, err_msg=f"{name}, chunk {size}")
        np.testing.assert_array_equal(got.q6, whole.q6)
        np.testing.assert_array_equal(got.solid, whole.solid)
    for name in whole.sets:            # one set alone: the same numbers, the others not made
        one = fs.transform(f, chunk_size=97, sets=[name])
        assert list(one.sets) == [name]
        np.testing.assert_array_equal(one.sets[name], whole.sets[name])
    with pytest.raises(ValueError, match="sets"):
        fs.transform(f, sets=["soap"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardising_transform_is_numpys_expression_bit_for_bit(dtype):
    """The one-pass kernel gives float32((float64(x) - mean) / scale) exactly, NaN and inf
    included, on contiguous and strided input."""
    from multilayer.network.features import FeatureTransform
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(500, 9)) * rng.uniform(0.01, 100, 9) + rng.normal(size=9) * 50).astype(dtype)
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.inf, -np.inf
    mean, scale = rng.normal(size=9), rng.uniform(0.1, 10, 9)
    transform = FeatureTransform(mean, scale)
    for block in (x, x[::3], np.asfortranarray(x)):
        want = ((np.asarray(block, dtype=np.float64) - mean) / scale).astype(np.float32)
        got = transform(block)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)


def test_first_shell_is_kept_for_the_nuclei(fitted):
    """The first-shell list the Steinhardt features came from is returned and stored (CSR
    offsets and indices), chunk by chunk the very list a new search gives, and rebuilt from
    the store it has a new search's vectors."""
    from descriptors import NeighborList
    f = make_lattice("fcc", 5, noise=0.06, seed=4)
    out = fitted.transform(f, chunk_size=100)                 # 5 chunks, joined
    fresh = neighbor_list(f, r_cut=fitted.shell_cut_)
    np.testing.assert_array_equal(out.shell.offsets, fresh.offsets)
    for i in range(f.n_atoms):
        assert sorted(out.shell.of(i)[0].tolist()) == sorted(fresh.of(i)[0].tolist())
    arrays = out.arrays()
    again = NeighborList.from_indices(f, arrays["shell_offsets"], arrays["shell_indices"],
                                      fitted.shell_cut_)
    np.testing.assert_allclose(again.distances, out.shell.distances, atol=1e-12)
    np.testing.assert_allclose(again.vectors, out.shell.vectors, atol=1e-12)


def test_w_columns_follow_the_q_columns():
    """``[steinhardt] w``: the ŵ_l of the same averaged harmonics, after the q̄_l; the q̄_l,
    the averaged q6 and the solid flags are those of the FeatureSet without them."""
    from descriptors import steinhardt_w

    f = make_lattice("hcp", (6, 4, 4), noise=0.05, seed=2)
    plain = FeatureSet(["steinhardt"]).fit(f)
    with_w = FeatureSet(["steinhardt"], config={"steinhardt": {"w": [4, 6]}}).fit(f)
    a, b = plain.transform(f), with_w.transform(f)
    q, qw = a.sets["steinhardt"], b.sets["steinhardt"]
    assert qw.shape == (f.n_atoms, q.shape[1] + 2)
    np.testing.assert_array_equal(qw[:, :q.shape[1]], q)
    np.testing.assert_array_equal(b.q6, a.q6)
    np.testing.assert_array_equal(b.solid, a.solid)
    np.testing.assert_allclose(qw[:, -2:], steinhardt_w(f, b.shell, l=(4, 6), average=True),
                               rtol=1e-6)
    assert np.median(qw[:, -2]) > 0.05          # hcp's w̄4 is positive (fcc's negative)
