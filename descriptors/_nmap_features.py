"""numba kernel of :func:`descriptors.neighbors_map.neighbors_map_features`: the compact
vector of each Neighbors Map image, reduced in parallel."""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


def _row_mean32(img, i, size):
    """numpy's float32 ``img[i].mean()``: its pairwise sum (eight running sums, combined as a
    tree, then the tail), so the features equal the NumPy reduction bit for bit."""
    if size < 8:
        acc = img[i, 0]
        for j in range(1, size):
            acc += img[i, j]
        return acc / np.float32(size)
    r0 = img[i, 0]
    r1 = img[i, 1]
    r2 = img[i, 2]
    r3 = img[i, 3]
    r4 = img[i, 4]
    r5 = img[i, 5]
    r6 = img[i, 6]
    r7 = img[i, 7]
    j = 8
    whole = size - size % 8
    while j < whole:
        r0 += img[i, j]
        r1 += img[i, j + 1]
        r2 += img[i, j + 2]
        r3 += img[i, j + 3]
        r4 += img[i, j + 4]
        r5 += img[i, j + 5]
        r6 += img[i, j + 6]
        r7 += img[i, j + 7]
        j += 8
    acc = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while j < size:
        acc += img[i, j]
        j += 1
    return acc / np.float32(size)


def _feature_rows(im, block, out, row0):
    """``out[row0 + a]`` = the top-left ``block x block`` pixels, the row means and the column
    means of every channel of image ``im[a]`` (what neighbors_map_features keeps), in
    parallel; equal bit for bit to the NumPy reductions (float32, numpy's summation order)."""
    n, n_ch, size = im.shape[0], im.shape[1], im.shape[2]
    width = block * block + 2 * size
    inv = np.float32(size)
    for a in numba.prange(n):
        dst = out[row0 + a]
        for ch in range(n_ch):
            img = im[a, ch]
            base = ch * width
            q = base
            for i in range(block):
                for j in range(block):
                    dst[q] = img[i, j]
                    q += 1
            for i in range(size):
                dst[q + i] = _row_mean32(img, i, size)
            q += size
            for j in range(size):
                acc = img[0, j]
                for i in range(1, size):
                    acc += img[i, j]
                dst[q + j] = acc / inv


_row_mean32 = _jit(_row_mean32)
feature_rows = numba.njit(cache=True, nogil=True, parallel=True)(_feature_rows)
