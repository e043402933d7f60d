"""Keep freed memory in the process heap while a loop describes frame after frame (glibc).

glibc's ``malloc`` serves every block above a threshold (at most 32 MB, raised as such blocks
are freed) from its own ``mmap`` and returns it to the system on ``free``.  The feature stage
allocates the same few hundred-megabyte arrays for every frame (neighbour rows, their vectors,
persistence pairs), so every frame maps them afresh and the kernel zeroes them page by page on
first touch: about 300,000 page faults per 262,144-atom frame, taken in numba's parallel loops,
where they queue on the process's memory map.  On this project's 2-core machine a
262,144-atom frame of the feature stage took 5.2–5.9 s that way and 4.2–4.5 s from a kept heap,
a 10^6-atom frame 22.3–24.8 s and 16.6–16.9 s (the README's benchmarks; ``python
benchmarks/bench_threads.py --heap both`` measures both ways).

:func:`heap_kept` switches ``mmap`` off for ``malloc`` and keeps freed memory at the top of
the heap for the duration of a ``with`` block (``mallopt(M_MMAP_MAX, 0)``, a trim threshold
of 2 GB, the largest ``mallopt`` takes), then sets glibc's usual ceilings back (32 MB
``mmap`` threshold, 64 MB trim) and returns every free page to the system
(``malloc_trim(0)``).  The heap grows to the block's
peak and stays there until the block ends; results are not touched.  Blocks nest and may be
entered from several threads: the setting holds until the last one ends.

Nothing happens (and the block runs as before) off glibc (macOS, Windows, musl), or when the
environment sets ``CRYSTOPO_KEEP_HEAP=0``.
"""
from __future__ import annotations

import ctypes
import logging
import os
import platform
import threading
from contextlib import contextmanager

__all__ = ["heap_kept", "heap_depth"]

logger = logging.getLogger(__name__)

# mallopt parameters, <malloc.h>
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
#: glibc's defaults where they end up once the dynamic threshold has seen one large block
_MMAP_THRESHOLD, _TRIM_THRESHOLD, _MMAP_MAX = 32 << 20, 64 << 20, 65536
_KEEP_TRIM = 2 ** 31 - 1          # mallopt takes an int: the largest trim threshold it can set

_lock = threading.Lock()
_depth = 0
_libc = None


def _glibc():
    """The process's C library when it is glibc with ``mallopt`` and ``malloc_trim``; None
    otherwise."""
    global _libc
    if _libc is None:
        lib = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                cdll = ctypes.CDLL(None)
                lib = cdll if hasattr(cdll, "mallopt") and hasattr(cdll, "malloc_trim") else False
            except OSError:  # pragma: no cover - a Linux without a loadable libc
                lib = False
        _libc = lib
    return _libc or None


def _set(libc, params) -> bool:
    ok = True
    for param, value in params:
        ok &= libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1
    return ok


def _disabled() -> bool:
    return os.environ.get("CRYSTOPO_KEEP_HEAP", "1").strip().lower() in ("0", "false", "no", "off")


@contextmanager
def heap_kept():
    """Context manager: inside it, freed memory stays in the heap for the next frame.

    Yields True when the setting is in force (glibc), False when the block runs unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> with heap_kept():
    ...     total = sum(float(np.ones(1 << 20).sum()) for _ in range(3))
    >>> total
    3145728.0
    """
    global _depth
    libc = None if _disabled() else _glibc()
    if libc is None:
        yield False
        return
    with _lock:
        if _depth == 0 and not _set(libc, [(_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _KEEP_TRIM)]):
            logger.debug("mallopt refused; the heap is left as it was")
        _depth += 1
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(libc, [(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
                            (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD), (_M_MMAP_MAX, _MMAP_MAX)])
                libc.malloc_trim(ctypes.c_size_t(0))


def heap_depth() -> int:
    """How many :func:`heap_kept` blocks are open now (0: glibc's usual behaviour)."""
    return _depth
