"""descriptors.heap: freed memory reused inside the block (no fresh page faults), glibc's
behaviour back after it, nesting across threads, an opt-out, and unchanged results."""
import threading

import numpy as np
import pytest

import descriptors.heap as heap
from descriptors import make_lattice
from descriptors.heap import heap_depth, heap_kept

resource = pytest.importorskip("resource")
glibc = pytest.mark.skipif(heap._glibc() is None, reason="mallopt/malloc_trim: glibc only")

N = 8 << 20          # float64 values: a 64 MB block, above glibc's largest mmap threshold


def faults_of_refills(times: int = 3) -> list[int]:
    """Minor page faults of each of ``times`` allocate-touch-free cycles of a 64 MB array."""
    out = []
    for _ in range(times):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = np.empty(N)
        a.fill(1.0)                      # touch every page
        assert a[-1] == 1.0
        del a
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return out


@glibc
def test_kept_heap_reuses_freed_memory_and_glibc_maps_afresh_after_the_block():
    before = faults_of_refills()
    with heap_kept() as on:
        assert on is True and heap_depth() == 1
        inside = faults_of_refills(4)
    after = faults_of_refills()
    assert heap_depth() == 0
    # outside the block every cycle maps a fresh 64 MB (>= 32 faults even with 2 MB pages)
    assert min(before) >= 32 and min(after) >= 32, (before, after)
    # inside it, only the first cycle grows the heap; the next ones reuse the same pages
    assert max(inside[1:]) <= min(before) // 8, (inside, before)


@glibc
def test_kept_heap_nests_and_holds_until_the_last_block_of_any_thread_ends():
    started, release, seen = threading.Event(), threading.Event(), []

    def worker():
        with heap_kept():
            started.set()
            release.wait(10)
            seen.append(heap_depth())

    t = threading.Thread(target=worker)
    with heap_kept():
        t.start()
        assert started.wait(10)
        with heap_kept():
            assert heap_depth() == 3
        assert heap_depth() == 2
        faults_of_refills(1)
    # the thread's block is still open: freed memory is still kept
    assert heap_depth() == 1
    assert max(faults_of_refills(3)[1:]) <= 16
    release.set()
    t.join(10)
    assert seen == [1] and heap_depth() == 0
    assert min(faults_of_refills(2)) >= 32


def test_kept_heap_can_be_switched_off_and_does_nothing_off_glibc(monkeypatch):
    monkeypatch.setenv("CRYSTOPO_KEEP_HEAP", "0")
    with heap_kept() as on:
        assert on is False and heap_depth() == 0
    monkeypatch.delenv("CRYSTOPO_KEEP_HEAP")
    monkeypatch.setattr(heap, "_libc", False)          # as on macOS or musl
    with heap_kept() as on:
        assert on is False and heap_depth() == 0


def test_an_error_inside_the_block_restores_the_heap():
    with pytest.raises(RuntimeError, match="frame 3"):
        with heap_kept():
            raise RuntimeError("frame 3")
    assert heap_depth() == 0


def test_features_from_a_kept_heap_equal_the_usual_ones_bit_for_bit():
    from multilayer.network.featureset import FeatureSet

    fr = make_lattice("fcc", 5, noise=0.06, seed=3)
    fs = FeatureSet().fit(fr)
    ref = fs.transform(fr, chunk_size=97).arrays()
    with heap_kept():
        runs = [fs.transform(fr, chunk_size=97).arrays() for _ in range(2)]
    for got in runs:
        assert got.keys() == ref.keys()
        for k in ref:
            assert np.array_equal(got[k], ref[k]), k
