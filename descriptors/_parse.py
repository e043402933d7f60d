"""A numba tokenizer for whitespace-separated numeric tables (LAMMPS dump atom blocks).

Numbers with at most 15 significant digits and a decimal exponent within
+-22 are converted exactly (Clinger's fast path: both the integer mantissa and
the power of ten are exact doubles, so one multiplication or division rounds
correctly); numbers of 16-18 significant digits with a decimal exponent in
-22..0 (the shortest round-trip form of a double, as Python's ``repr`` and
crystopo's own writer give it) by exact integer long division.  Rows holding
any other number are flagged and re-parsed with Python's ``float``, so every
value equals what ``float(text)`` gives.
"""
from __future__ import annotations

import numba
import numpy as np

_POW10 = np.array([10.0 ** k for k in range(23)])

OK, BAD_TOKEN, FEW_COLUMNS, MANY_COLUMNS, FEW_ROWS, MANY_ROWS = range(6)


@numba.njit(cache=True, nogil=True, inline="always")
def _long_mantissa(mant, k):
    """mant / 10**k correctly rounded, for 16-18 digit mantissas (mant < 10**18) and
    0 <= k <= 22: what Clinger's fast path cannot do because mant is not an exact double.

    mant / 10**k = (mant / 5**k) * 2**-k, and 5**k < 2**53 is an exact integer, so the
    quotient's bits come from integer long division: the quotient is extended bit by bit
    until it holds 53 bits, then rounded to nearest, ties to even, on the next bit and the
    remainder (the sticky bit).  The power of two scales exactly."""
    d = np.int64(1)
    for _ in range(k):
        d *= 5
    q = mant // d
    rem = mant - q * d
    if q >= (np.int64(1) << 53):          # too many bits already (k small): drop the low ones
        s = 0
        while (q >> s) >= (np.int64(1) << 53):
            s += 1
        low = q & ((np.int64(1) << s) - 1)
        q >>= s
        half = np.int64(1) << (s - 1)
        if low > half or (low == half and (rem > 0 or (q & 1) == 1)):
            q += 1
        return float(q) * 2.0 ** s / 2.0 ** k
    s = 0
    while q < (np.int64(1) << 52):        # one more bit of the quotient
        rem <<= 1
        q <<= 1
        if rem >= d:
            rem -= d
            q += 1
        s += 1
    rem <<= 1                             # the next bit decides (an exact half cannot
    if rem > d or (rem == d and (q & 1) == 1):   # occur here, but ties go to even anyway)
        q += 1
    return float(q) / 2.0 ** (s + k)


@numba.njit(cache=True, nogil=True)
def _parse_table(buf, n_rows, n_cols, out, slow, pow10):
    """Fill out (n_rows, n_cols); return (status, row, col)."""
    pos = 0
    size = len(buf)
    for r in range(n_rows):
        # skip blank lines
        while pos < size and (buf[pos] == 10 or buf[pos] == 13):
            pos += 1
        if pos >= size:
            return FEW_ROWS, r, 0
        for c in range(n_cols):
            while pos < size and (buf[pos] == 32 or buf[pos] == 9):
                pos += 1
            if pos >= size or buf[pos] == 10 or buf[pos] == 13:
                return FEW_COLUMNS, r, c
            neg = False
            if buf[pos] == 45:  # '-'
                neg = True
                pos += 1
            elif buf[pos] == 43:  # '+'
                pos += 1
            mant = 0
            ndig = 0
            sig = 0
            frac = 0
            seen = False
            while pos < size and 48 <= buf[pos] <= 57:
                seen = True
                if mant == 0 and buf[pos] == 48:
                    pos += 1
                    continue
                if sig < 18:
                    mant = mant * 10 + (buf[pos] - 48)
                    sig += 1
                else:
                    frac -= 1  # dropped integer digit
                    ndig += 1
                pos += 1
            if pos < size and buf[pos] == 46:  # '.'
                pos += 1
                while pos < size and 48 <= buf[pos] <= 57:
                    seen = True
                    if mant == 0 and buf[pos] == 48:
                        frac += 1
                        pos += 1
                        continue
                    if sig < 18:
                        mant = mant * 10 + (buf[pos] - 48)
                        sig += 1
                        frac += 1
                    else:
                        ndig += 1
                    pos += 1
            if not seen:
                return BAD_TOKEN, r, c
            exp = 0
            if pos < size and (buf[pos] == 101 or buf[pos] == 69):  # e E
                pos += 1
                eneg = False
                if pos < size and (buf[pos] == 45 or buf[pos] == 43):
                    eneg = buf[pos] == 45
                    pos += 1
                if pos >= size or not (48 <= buf[pos] <= 57):
                    return BAD_TOKEN, r, c
                while pos < size and 48 <= buf[pos] <= 57:
                    if exp < 10000:
                        exp = exp * 10 + (buf[pos] - 48)
                    pos += 1
                if eneg:
                    exp = -exp
            if pos < size and not (buf[pos] == 32 or buf[pos] == 9 or buf[pos] == 10 or buf[pos] == 13):
                return BAD_TOKEN, r, c
            e10 = exp - frac
            if ndig > 0 or e10 > 22 or e10 < -22 or (sig > 15 and e10 > 0):
                slow[r] = True
                val = 0.0
            elif sig > 15:
                val = _long_mantissa(mant, -e10)
            elif e10 >= 0:
                val = mant * pow10[e10]
            else:
                val = mant / pow10[-e10]
            out[r, c] = -val if neg else val
        while pos < size and (buf[pos] == 32 or buf[pos] == 9 or buf[pos] == 13):
            pos += 1
        if pos < size and buf[pos] != 10:
            return MANY_COLUMNS, r, n_cols
        pos += 1
    while pos < size and (buf[pos] == 10 or buf[pos] == 13 or buf[pos] == 32 or buf[pos] == 9):
        pos += 1
    if pos < size:
        return MANY_ROWS, n_rows, 0
    return OK, -1, -1


def parse_table(block: bytes, n_rows: int, n_cols: int):
    """Parse ``block`` into a (n_rows, n_cols) float64 array.

    Returns ``(array, status, row, col)``; ``status`` is 0 on success, otherwise
    one of the module's error codes with the 0-based row and column at fault.
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    out = np.empty((n_rows, n_cols), dtype=np.float64)
    slow = np.zeros(n_rows, dtype=np.bool_)
    status, row, col = _parse_table(buf, n_rows, n_cols, out, slow, _POW10)
    if status == OK and slow.any():
        lines = [ln for ln in block.split(b"\n") if ln.strip()]
        for r in np.flatnonzero(slow):
            out[r] = [float(t) for t in lines[r].split()]
    return out, int(status), int(row), int(col)
