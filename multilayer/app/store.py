"""Per-frame checkpoints: a Zarr store of per-atom features, one group per frame, written atomically.

Each frame is written to a temporary directory and renamed into place only when complete
(arrays and metadata), so a killed process leaves either a complete frame or none; ``--resume`` skips the
frames that are there.  Feature matrices are stored as float32.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

__all__ = ["FeatureStore", "BackgroundWriter", "StoreWriteError", "atomic_write_bytes",
           "atomic_save_npz"]


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_save_npz(path, **arrays) -> Path:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def _codec():
    """Blosc LZ4 with byte shuffle: on a 256,000-atom frame's features it writes 3.4x faster
    than zarr's default Zstd (0.28 s against 0.94 s), reads faster and stores 8 % less."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


class FeatureStore:
    """Per-frame per-atom arrays in ``root`` (a Zarr v3 directory tree).

    ``store[t]`` returns a dict ``{name: ndarray}`` for the ``t``-th stored frame
    (in the order of :attr:`frames`), so the store can be handed directly to
    :func:`multilayer.build_network`, which reads frames lazily.
    """

    def __init__(self, root, frames=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.frames = list(frames) if frames is not None else self.done()

    def _dir(self, frame: int) -> Path:
        return self.root / f"frame_{int(frame):07d}"

    def done(self) -> list[int]:
        """Input-frame indices that are complete on disk, sorted."""
        out = []
        for p in self.root.glob("frame_*"):
            if (p / "zarr.json").exists():
                out.append(int(p.name.split("_")[1]))
        return sorted(out)

    def has(self, frame: int) -> bool:
        return (self._dir(frame) / "zarr.json").exists()

    def write(self, frame: int, arrays: dict, meta: dict | None = None) -> None:
        import zarr

        final = self._dir(frame)
        tmp = self.root / f".tmp_frame_{int(frame):07d}_{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            group = zarr.open_group(str(tmp), mode="w")
            for name, arr in arrays.items():
                arr = np.asarray(arr)
                if arr.dtype == np.float64 and name not in ("positions",):
                    arr = arr.astype(np.float32)
                # write_empty_chunks: no scan of every chunk for the fill value (zarr's
                # default compares the whole array: 0.6 -> 0.25 s per 264,000-atom frame)
                group.create_array(name, data=arr, chunks=arr.shape or None, overwrite=True,
                                   compressors=_codec(), config={"write_empty_chunks": True})
            group.attrs["crystopo"] = {"frame": int(frame), **(meta or {})}
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def names(self, frame: int) -> list:
        """The names of the arrays stored for ``frame`` (nothing is read)."""
        import zarr

        return sorted(zarr.open_group(str(self._dir(frame)), mode="r").array_keys())

    def read(self, frame: int, names=None) -> dict:
        import zarr

        group = zarr.open_group(str(self._dir(frame)), mode="r")
        keys = list(group.array_keys()) if names is None else list(names)
        return {k: group[k][...] for k in keys}

    def meta(self, frame: int) -> dict:
        import zarr

        return dict(zarr.open_group(str(self._dir(frame)), mode="r").attrs["crystopo"])

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, t: int) -> dict:
        return self.read(self.frames[t])

    def __iter__(self):
        for t in range(len(self)):
            yield self[t]

    def view(self, names) -> "FeatureView":
        """A lazy sequence of ``{name: array}`` restricted to ``names``."""
        return FeatureView(self, list(names))


class FeatureView:
    """``view[t]``: the arrays ``names`` of the t-th stored frame.  The last frame read is
    kept, so that a caller looking at frame 0 for its shapes and then reading every frame
    (Mapper's pooled statistics) decompresses it once."""

    def __init__(self, store: FeatureStore, names: list[str]):
        self.store, self.names = store, names
        self._last = (None, None)

    def __len__(self):
        return len(self.store)

    def __getitem__(self, t):
        if self._last[0] != t:
            arrays = self.store.read(self.store.frames[t], self.names)
            for a in arrays.values():
                a.flags.writeable = False          # shared with the next caller: read-only
            self._last = (t, arrays)
        return dict(self._last[1])


class StoreWriteError(RuntimeError):
    """A frame's features could not be stored (the cause is chained)."""


class BackgroundWriter:
    """Writes frames to a :class:`FeatureStore` in a thread, one at a time, so that the
    compression and the file writes of frame i run beside the feature kernels of frame i + 1
    instead of between them (0.35-0.6 s per 264,000-atom frame, with one core idle).

    At most one frame waits to be written: :meth:`write` first waits for the previous one,
    so one frame's arrays more are held than with synchronous writes.  Each frame is still
    written atomically by :meth:`FeatureStore.write`.  An error of a write is raised, as
    :class:`StoreWriteError`, by the next :meth:`write` or on leaving the ``with`` block;
    leaving it on an exception waits for the write under way and keeps that exception.
    """

    def __init__(self, store: FeatureStore):
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crystopo-store")
        self._pending = None

    def write(self, frame: int, arrays: dict, meta: dict | None = None) -> None:
        self.wait()
        self._pending = (int(frame), self._pool.submit(self.store.write, frame, arrays, meta))

    def wait(self) -> None:
        """Block until the frame being written is stored; raise its error, if any."""
        if self._pending is None:
            return
        frame, job = self._pending
        self._pending = None
        try:
            job.result()
        except Exception as err:
            raise StoreWriteError(f"writing the features of frame {frame} to "
                                  f"{self.store.root} failed: {err}") from err

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:
                self._pending[1].exception()      # let it finish; the caller's error wins
        finally:
            self._pool.shutdown(wait=True)
        return False
