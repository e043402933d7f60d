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
