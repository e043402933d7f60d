"""descriptors.arrays: the sort-based unique against np.unique."""
import numpy as np
import pytest

from descriptors.arrays import has_duplicates, unique_sorted


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8, bool])
def test_unique_sorted_is_np_unique(dtype):
    rng = np.random.default_rng(0)
    for n, hi in [(0, 5), (1, 5), (2, 1), (1000, 3), (5000, 100_000)]:
        x = rng.integers(-50 if np.dtype(dtype).kind == "i" else 0, hi, n).astype(dtype)
        got, ref = unique_sorted(x), np.unique(x)
        assert got.dtype == ref.dtype and np.array_equal(got, ref)
    x2 = rng.integers(0, 9, (40, 7))                      # flattened, as np.unique does
    assert np.array_equal(unique_sorted(x2), np.unique(x2))


def test_unique_sorted_leaves_floats_to_numpy():
    x = np.array([2.0, np.nan, 1.0, np.nan, 2.0])
    assert np.array_equal(unique_sorted(x), np.unique(x), equal_nan=True)


def test_has_duplicates():
    rng = np.random.default_rng(1)
    ids = rng.permutation(10_000)
    assert not has_duplicates(ids) and not has_duplicates(ids[:1]) and not has_duplicates(ids[:0])
    ids[7321] = ids[15]
    assert has_duplicates(ids)
