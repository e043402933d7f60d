"""Reading gzip files that may be cut short or damaged, keeping everything before the damage.

:func:`is_gzip` sniffs the magic bytes; :class:`GzipStream` decompresses
sequentially (one or more members) and stops cleanly at the first defect,
saying what and where.  Used by :mod:`descriptors.lammps_dump` (which
re-exports both) and :mod:`descriptors.io`.
"""
from __future__ import annotations

import os
import zlib
from collections import deque
from pathlib import Path

__all__ = ["is_gzip", "GzipStream"]


def is_gzip(path) -> bool:
    """Whether the file starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


class GzipStream:
    """Sequential reader of a gzip file (one or more members) that stops cleanly at damage.

    ``read`` returns decompressed bytes up to the end of the data or up to the first
    defect: a file cut inside a member, corrupt deflate data, a failed CRC or length
    check, or junk after a member.  ``damage`` then describes it (``None`` for a sound
    file) and ``damage_at`` is its compressed byte offset; no zlib, EOF or gzip exception
    escapes.  ``seek`` forward decompresses and discards; backward restarts from byte 0.
    """

    _CHUNK = 1 << 18       # compressed bytes per step
    _MAX_OUT = 1 << 24     # decompressed bytes per step at most (bounds memory on zeros)
    _SLICE = 64            # a failing step is redone in slices to keep what precedes damage

    def __init__(self, path):
        self.path = Path(path)
        self._raw = open(self.path, "rb")
        self.size = os.fstat(self._raw.fileno()).st_size
        self.rewind()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._raw.close()

    def rewind(self):
        self._raw.seek(0)
        self._z = zlib.decompressobj(31)  # 31: gzip header and trailer (CRC-32, length)
        self._carry, self._carry_at = b"", 0  # compressed bytes read but not yet fed
        self._parts: deque = deque()
        self._head = 0      # bytes of _parts[0] already returned
        self._avail = 0     # decompressed bytes buffered, not yet returned
        self.pos = 0        # decompressed offset of the next byte read() returns
        self.damage = None
        self.damage_at = None
        self.cut = False    # damage is only the file ending early (nothing decoded wrongly)
        self._end = False

    def _input(self):
        if self._carry:
            data, at = self._carry, self._carry_at
            self._carry = b""
            return data, at
        at = self._raw.tell()
        return self._raw.read(self._CHUNK), at

    def _fail(self, at: int, what: str, pending: int = 0, cut: bool = False):
        self.damage_at = at
        self.cut = cut
        self.damage = f"{what}, detected at compressed byte {at} of {self.size} " \
                      f"(after {self.pos + self._avail + pending} bytes of text)"
        self._end = True

    def _feed(self, data: bytes, at: int) -> bytes:
        saved = self._z.copy()
        try:
            out = self._z.decompress(data, self._MAX_OUT)
        except zlib.error:
            self._z = saved  # redo in small slices: keep everything before the damage
        else:
            rest = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
            if rest:
                self._carry, self._carry_at = rest, at + len(data) - len(rest)
            return out
        out = []
        for i in range(0, len(data), self._SLICE):
            saved = self._z.copy()
            try:
                out.append(self._z.decompress(data[i:i + self._SLICE]))
            except zlib.error as slice_err:
                fail_at, fail = i, slice_err
                self._z = saved  # and byte by byte inside the failing slice
                for b in range(i, min(i + self._SLICE, len(data))):
                    try:
                        out.append(self._z.decompress(data[b:b + 1]))
                    except zlib.error as byte_err:
                        fail_at, fail = b, byte_err
                        break
                msg = str(fail).split(": ", 1)[-1]
                what = {"incorrect data check": "gzip CRC check failed (damaged data)",
                        "incorrect length check": "gzip length check failed (damaged data)",
                        "incorrect header check": "junk after a gzip member"}.get(
                            msg, f"corrupt gzip data ({msg})")
                self._fail(at + fail_at, what, sum(len(o) for o in out))
                break
            if self._z.eof:  # a member ended inside the slices: go on with the rest
                rest = self._z.unused_data + data[i + self._SLICE:]
                if rest:
                    self._carry, self._carry_at = rest, at + len(data) - len(rest)
                break
        return b"".join(out)

    def _more(self) -> bool:
        """Decompress another piece into the buffer; False at the end of the data."""
        while not self._end:
            data, at = self._input()
            if self._z.eof:  # between members: zero padding, another member or the end
                if not data:
                    self._end = True
                    return False
                stripped = data.lstrip(b"\0")
                if not stripped:
                    continue
                at += len(data) - len(stripped)
                data = stripped
                self._z = zlib.decompressobj(31)
            elif not data:
                self._fail(at, "gzip file cut short: it ends inside a compressed member",
                           cut=True)
                return False
            out = self._feed(data, at)
            if out:
                self._parts.append(out)
                self._avail += len(out)
                return True
        return False

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes (fewer only at the end of the sound data)."""
        while self._avail < n and self._more():
            pass
        out, need = [], n
        while need > 0 and self._parts:
            part = self._parts[0]
            left = len(part) - self._head
            if left <= need:
                out.append(part[self._head:] if self._head else part)
                self._parts.popleft()
                self._head = 0
                need -= left
            else:
                out.append(part[self._head:self._head + need])
                self._head += need
                need = 0
        data = b"".join(out)
        self._avail -= len(data)
        self.pos += len(data)
        return data

    def seek(self, target: int) -> int:
        if target < self.pos:
            self.rewind()
        while self.pos < target:
            if not self.read(min(1 << 24, target - self.pos)):
                break
        return self.pos
