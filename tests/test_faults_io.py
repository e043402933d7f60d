"""Damaged gzip LAMMPS dumps: cut short or corrupt, every complete frame before the damage
is kept with a warning; no EOFError / BadGzipFile / zlib.error reaches the caller.

What counts as "complete before the damage" is computed independently of the reader: the
text zlib decodes from the sound compressed prefix (a streaming decoder's output depends only
on the bytes it has seen), split at the ``ITEM: TIMESTEP`` lines of the intact file.
"""
import gzip
import warnings
import zlib

import numpy as np
import numpy.testing as npt
import pytest

from descriptors import Box, Frame, TrajectoryFormatError, read_trajectory, write_lammps_dump

N_FRAMES = 6


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    """A gzip dump of 6 triclinic frames, its compressed bytes, text and frame ends."""
    rng = np.random.default_rng(0)
    box = Box(np.array([[6.0, 0, 0], [1.5, 5.5, 0], [-1.0, 2.0, 6.5]]), origin=[-1.0, 0.5, 2.0])
    frames = [Frame(box.to_cartesian(rng.random((40, 3))), box, rng.permutation(np.arange(1, 41)),
                    rng.integers(1, 3, 40), timestep=10 * t,
                    extra={"label": rng.integers(0, 4, 40), "q": rng.normal(size=40)})
              for t in range(N_FRAMES)]
    path = write_lammps_dump(tmp_path_factory.mktemp("gz") / "good.dump.gz", frames)
    raw = path.read_bytes()
    text = gzip.decompress(raw)
    starts = [i for i in range(len(text)) if text.startswith(b"ITEM: TIMESTEP", i)]
    assert len(starts) == N_FRAMES
    ends = starts[1:] + [len(text)]
    return {"frames": frames, "raw": raw, "text": text, "ends": ends}


def sound_prefix(data: bytes) -> int:
    """Bytes of text a streaming decoder yields from ``data`` before it fails or ends."""
    d = zlib.decompressobj(31)
    try:
        return len(d.decompress(data))  # a stream cut short is no error for zlib itself
    except zlib.error:
        d = zlib.decompressobj(31)
    n = 0
    for i in range(len(data)):
        try:
            n += len(d.decompress(data[i:i + 1]))
        except zlib.error:
            break
        if d.eof:
            break
    return n


def same_frame(a, b):
    npt.assert_array_equal(a.ids, b.ids)
    npt.assert_allclose(a.positions, b.positions, atol=1e-8)
    npt.assert_allclose(a.box.cell, b.box.cell, atol=1e-9)
    assert a.timestep == b.timestep
    npt.assert_array_equal(a.extra["label"], b.extra["label"])
    npt.assert_allclose(a.extra["q"], b.extra["q"], rtol=1e-7)


def read_damaged(path):
    """read_trajectory + reading every frame; returns (frames or None, warnings, error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            traj = read_trajectory(path)
            got = [traj[i] for i in range(len(traj))]
            assert [f.timestep for f in traj] == [f.timestep for f in got]  # iteration too
            for i in range(len(traj)):
                assert traj.header(i)["n_atoms"] == got[i].n_atoms
        except TrajectoryFormatError as err:
            return None, caught, err
    return got, [w for w in caught if issubclass(w.category, UserWarning)], None


def cut_positions(dump):
    raw, text, ends = dump["raw"], dump["text"], dump["ends"]
    cuts = set(range(1, 40, 3)) | set(range(40, len(raw), 53)) | set(range(len(raw) - 9, len(raw)))
    # and cuts whose text ends inside a frame's last atom line (a number cut short)
    inside_last_line = []
    for c in range(len(raw) - 9, 20, -1):
        n = sound_prefix(raw[:c])
        for e in ends:
            if text.rfind(b"\n", 0, e - 1) + 1 < n < e:
                inside_last_line.append(c)
        if len(inside_last_line) >= 3:
            break
    assert inside_last_line
    return sorted(cuts | set(inside_last_line))


def test_cut_gzip_keeps_every_complete_frame(dump, tmp_path):
    raw, ends, frames = dump["raw"], dump["ends"], dump["frames"]
    path = tmp_path / "cut.dump.gz"
    seen = set()
    for cut in cut_positions(dump):
        path.write_bytes(raw[:cut])
        complete = sum(e <= sound_prefix(raw[:cut]) for e in ends)
        got, caught, err = read_damaged(path)
        seen.add(complete)
        if complete == 0:
            assert err is not None, f"cut at {cut}: expected an error"
            assert "cut.dump.gz" in str(err)
            assert cut < 2 or "nothing is readable" in str(err)  # 1 byte: not even gzip magic
            continue
        assert err is None, f"cut at {cut}: {err}"
        assert len(got) == complete, f"cut at {cut}: {len(got)} frames kept, {complete} complete"
        for a, b in zip(got, frames):
            same_frame(a, b)
        assert len(caught) == 1, f"cut at {cut}: {[str(w.message) for w in caught]}"
        msg = str(caught[0].message)
        assert "cut.dump.gz" in msg and f"compressed byte {cut} of {cut}" in msg
        assert f"{complete} complete frame" in msg
        if complete < N_FRAMES:  # the frame in progress is named
            assert f"frame {complete} (timestep {10 * complete})" in msg or "bytes of text" in msg
    assert seen >= {0, 1, N_FRAMES - 1, N_FRAMES}


def test_cut_inside_the_last_atom_line_is_not_a_complete_frame(dump, tmp_path):
    raw, text, ends = dump["raw"], dump["text"], dump["ends"]
    path = tmp_path / "c.dump.gz"
    for cut in range(len(raw) - 9, 20, -1):
        n = sound_prefix(raw[:cut])
        k = next((k for k, e in enumerate(ends) if text.rfind(b"\n", 0, e - 1) + 1 < n < e), None)
        if k is None or k == 0:
            continue
        path.write_bytes(raw[:cut])
        with pytest.warns(UserWarning, match=rf"c\.dump\.gz.*frame {k} \(timestep {10 * k}\)"
                                             r".*truncated"):
            traj = read_trajectory(path)
        assert len(traj) == k  # the frame whose last number was cut is not kept
        same_frame(traj[k - 1], dump["frames"][k - 1])
        return
    pytest.fail("no cut position lands inside a last atom line")


@pytest.mark.parametrize("where", [0.2, 0.35, 0.5, 0.65, 0.8])
def test_gzip_corrupt_in_the_middle_keeps_the_frames_before(dump, tmp_path, where):
    raw, ends, frames = dump["raw"], dump["ends"], dump["frames"]
    pos = int(where * len(raw))
    bad = bytearray(raw)
    for b in range(pos, pos + 4):
        bad[b] ^= 0xA5
    path = tmp_path / "bad.dump.gz"
    path.write_bytes(bytes(bad))
    before = sum(e <= sound_prefix(raw[:pos]) for e in ends)
    got, caught, err = read_damaged(path)
    if err is not None:
        assert before == 0 and "bad.dump.gz" in str(err)
        return
    assert before <= len(got) <= before + 1  # + 1: damaged text that still parses
    for a, b in zip(got[:before], frames):
        same_frame(a, b)
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert "bad.dump.gz" in msg and "compressed byte" in msg and "complete frame" in msg


@pytest.mark.parametrize("offset,what", [(-8, "CRC check failed"), (-3, "length check failed")])
def test_damaged_trailer_keeps_the_frames_with_a_warning(dump, tmp_path, offset, what):
    bad = bytearray(dump["raw"])
    bad[offset] ^= 0xFF
    path = tmp_path / "t.dump.gz"
    path.write_bytes(bytes(bad))
    with pytest.warns(UserWarning, match=f"t.dump.gz: gzip {what}.*{N_FRAMES} complete frames"):
        traj = read_trajectory(path)
    assert len(traj) == N_FRAMES
    for a, b in zip(traj, dump["frames"]):
        same_frame(a, b)


@pytest.mark.parametrize("byte", [3, 4, 8, 9])
def test_damaged_gzip_header(dump, tmp_path, byte):
    # byte 3: flags (misreads the header: nothing readable); 4-9: mtime, xfl, os (harmless)
    bad = bytearray(dump["raw"])
    bad[byte] ^= 0x1F
    path = tmp_path / "h.dump.gz"
    path.write_bytes(bytes(bad))
    got, caught, err = read_damaged(path)
    if byte == 3:
        assert got is None and "h.dump.gz" in str(err)
    else:
        assert err is None and len(got) == N_FRAMES and not caught


def test_multi_member_padding_junk_and_cut(dump, tmp_path):
    frames = dump["frames"]
    path = tmp_path / "m.dump.gz"
    write_lammps_dump(path, frames[:2])
    write_lammps_dump(path, frames[2:4], append=True)  # a second gzip member
    sound = path.read_bytes()
    got, caught, err = read_damaged(path)
    assert err is None and not caught and len(got) == 4
    for a, b in zip(got, frames):
        same_frame(a, b)
    path.write_bytes(sound + b"\0" * 100)  # zero padding after the members is allowed
    got, caught, err = read_damaged(path)
    assert err is None and not caught and len(got) == 4
    path.write_bytes(sound + b"this is not gzip")
    got, caught, err = read_damaged(path)
    assert err is None and len(got) == 4
    assert "junk after a gzip member" in str(caught[0].message)
    # cut inside the second member: the first member's frames and complete ones after stay
    path.write_bytes(sound[:-30])
    text = gzip.decompress(sound)
    n = sound_prefix_multi(sound[:-30])
    starts = [i for i in range(len(text)) if text.startswith(b"ITEM: TIMESTEP", i)]
    complete = sum(e <= n for e in starts[1:] + [len(text)])
    got, caught, err = read_damaged(path)
    assert err is None and len(got) == complete >= 2
    for a, b in zip(got, frames):
        same_frame(a, b)
    assert "cut short" in str(caught[0].message)


def sound_prefix_multi(data: bytes) -> int:
    """sound_prefix over consecutive gzip members."""
    n, rest = 0, data
    while rest:
        d = zlib.decompressobj(31)
        for i in range(len(rest)):
            try:
                n += len(d.decompress(rest[i:i + 1]))
            except zlib.error:
                return n
            if d.eof:
                break
        if not d.eof:
            return n
        rest = d.unused_data + rest[i + 1:]
    return n


def test_no_low_level_exception_escapes_random_damage(dump, tmp_path):
    # a crowd of random cuts and flips: only TrajectoryFormatError or a warning
    rng = np.random.default_rng(5)
    raw = dump["raw"]
    path = tmp_path / "r.dump.gz"
    for _ in range(40):
        bad = bytearray(raw[: rng.integers(11, len(raw) + 1)])
        for b in rng.integers(10, len(bad), size=rng.integers(0, 4)):
            bad[b] = rng.integers(0, 256)
        path.write_bytes(bytes(bad))
        _, _, err = read_damaged(path)  # any other exception fails the test here
        assert err is None or "r.dump.gz" in str(err)
