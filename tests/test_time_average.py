"""Moving averages over frames, matched by atom id."""
import numpy as np
import numpy.testing as npt
import pytest

from multilayer.network.time_average import TimeAveragedFrames, moving_average, window_bounds


def _planted(n_frames=12, n_atoms=7, d=3, seed=0):
    """x[t, i] = a_i + b_i t (+ a per-atom sinusoid), ids shuffled per frame."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n_atoms, d)), rng.normal(size=(n_atoms, d))
    ids = np.arange(100, 100 + n_atoms)
    out = []
    for t in range(n_frames):
        perm = rng.permutation(n_atoms)
        out.append((ids[perm], (a + b * t)[perm]))
    return out, a, b, ids


@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("window", [1, 2, 3, 6])
def test_constant_trajectory_unchanged(window, centered):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 4)).astype(np.float32)
    ids = np.arange(9)
    res = list(moving_average([(ids, x)] * 8, window, centered=centered))
    assert len(res) == 8
    for i, y in res:
        npt.assert_array_equal(i, ids)
        assert y.dtype == np.float32
        npt.assert_allclose(y, x, rtol=1e-6)   # float64 sums, float32 out


@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("window", [2, 3, 5])
def test_linear_signal_gives_analytic_average(window, centered):
    seq, a, b, ids = _planted()
    n = len(seq)
    for t, (i, y) in enumerate(moving_average(seq, window, centered=centered)):
        lo, hi = window_bounds(t, n, window, centered)
        mean_t = (lo + hi - 1) / 2                 # average of a + b s over s = lo .. hi-1
        want = a + b * mean_t
        rows = np.searchsorted(ids, i)
        npt.assert_allclose(y, want[rows], atol=1e-12)
        if centered and window % 2 and lo == t - window // 2 and hi == t + window // 2 + 1:
            npt.assert_allclose(y, seq[t][1], atol=1e-12)   # interior: the signal itself
    assert window_bounds(5, n, window, centered)[1] - window_bounds(5, n, window, centered)[0] \
        == window


def test_atoms_missing_in_some_frames():
    ids_all = np.array([1, 2, 3])
    vals = {1: [1.0, 2.0, 3.0, 4.0], 2: [10.0, None, 30.0, None], 3: [None, None, 7.0, 9.0]}
    seq = []
    for t in range(4):
        present = [i for i in ids_all if vals[i][t] is not None]
        seq.append((np.array(present), np.array([[vals[i][t]] for i in present])))
    out = list(moving_average(seq, 3, centered=True))
    got = [dict(zip(i.tolist(), y.ravel().tolist())) for i, y in out]
    assert got[0] == {1: 1.5, 2: 10.0}                 # frames 0-1; atom 2 only in frame 0
    assert got[1] == {1: 2.0}                           # atom 2 absent at t=1: no row
    assert got[2] == {1: 3.0, 2: 30.0, 3: 8.0}          # frames 1-3 where each exists
    assert got[3] == {1: 3.5, 3: 8.0}
    # an atom that vanishes for longer than the window and comes back starts afresh
    seq2 = [(np.array([1, 2]), np.array([[5.0], [1.0]])), (np.array([1]), np.array([[5.0]])),
            (np.array([1]), np.array([[5.0]])), (np.array([1, 2]), np.array([[5.0], [3.0]]))]
    last = list(moving_average(seq2, 2, centered=False))[-1]
    assert dict(zip(last[0].tolist(), last[1].ravel().tolist())) == {1: 5.0, 2: 3.0}


def test_mappings_and_generators_stream():
    seq, a, b, ids = _planted(n_frames=6)
    maps = [(i, {"s": x, "v": x[:, :1].astype(np.float32), "flag": x[:, 0] > 0}) for i, x in seq]
    calls = []

    def gen():
        for t, item in enumerate(maps):
            calls.append(t)
            yield item
    out = moving_average(gen(), 3)
    assert calls == []                              # lazy: nothing read yet
    first = next(out)
    assert calls == [0, 1, 2]                       # generator: the first `window` frames
    assert set(first[1]) == {"s", "v", "flag"}
    assert first[1]["v"].dtype == np.float32 and first[1]["flag"].dtype == np.float32
    rest = list(out)
    assert len(rest) == 5 and calls == list(range(6))
    ref = list(moving_average([(i, x) for i, x in seq], 3))
    npt.assert_allclose(rest[-1][1]["s"], ref[-1][1])


def test_random_access_equals_stream():
    seq, _, _, ids = _planted(n_frames=7)
    feats = [{"x": x} for _, x in seq]
    ta = TimeAveragedFrames(feats, [i for i, _ in seq], 4, centered=True)
    assert len(ta) == 7
    for t, (i, y) in enumerate(moving_average(seq, 4)):
        npt.assert_allclose(ta[t]["x"], y, atol=1e-12)
    npt.assert_allclose(ta[-1]["x"], ta[6]["x"])
    with pytest.raises(IndexError):
        ta[7]


def test_bad_input():
    seq, _, _, _ = _planted(n_frames=4)
    with pytest.raises(ValueError, match=r"window=5 is longer than the trajectory \(4 frames\)"):
        moving_average(seq, 5)                      # sized input: raised at the call
    with pytest.raises(ValueError, match="window=5 is longer"):
        next(moving_average(iter(seq), 5))          # generator: before the first frame
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="window"):
            moving_average(seq, bad)
    with pytest.raises(ValueError, match="duplicate atom ids"):
        list(moving_average([(np.array([1, 1]), np.zeros((2, 1)))], 1))
    with pytest.raises(ValueError, match="rows"):
        list(moving_average([(np.array([1, 2]), np.zeros((3, 1)))], 1))
    with pytest.raises(ValueError, match="NaN"):
        list(moving_average([(np.array([1]), np.array([[np.nan]]))], 1))
    with pytest.raises(ValueError, match="feature columns"):
        list(moving_average([(np.array([1]), np.zeros((1, 2))),
                             (np.array([1]), np.zeros((1, 3)))], 2))
    with pytest.raises(ValueError, match="window"):
        TimeAveragedFrames([np.zeros((2, 1))] * 2, np.arange(2), 3)[0]
