"""Trajectory reading and writing: round trips, LAMMPS dialects, ase agreement, bad input."""
import gzip
import warnings

import numpy as np
import numpy.testing as npt
import pytest

from descriptors import (Box, Frame, TrajectoryFormatError, make_lattice, read_frame,
                         read_trajectory, write_extxyz, write_lammps_dump)
from multilayer.app.cli import main as cli_main

TRICLINIC = np.array([[6.0, 0, 0], [1.5, 5.5, 0], [-1.0, 2.0, 6.5]])


def sample_frames(n_frames=3, seed=0, triclinic=False):
    rng = np.random.default_rng(seed)
    box = Box(TRICLINIC, origin=[-1.0, 0.5, 2.0]) if triclinic else Box.orthogonal([5, 6, 7], [1, 2, 3])
    out = []
    for t in range(n_frames):
        pos = box.to_cartesian(rng.random((50, 3)))
        ids = rng.permutation(np.arange(10, 60))
        out.append(Frame(pos, box, ids, rng.integers(1, 3, 50), timestep=100 * t,
                         extra={"label": rng.integers(0, 4, 50), "score": rng.random(50)}))
    return out


@pytest.mark.parametrize("triclinic", [False, True])
@pytest.mark.parametrize("suffix", [".dump", ".dump.gz"])
def test_lammps_round_trip(tmp_path, triclinic, suffix):
    frames = sample_frames(triclinic=triclinic)
    path = write_lammps_dump(tmp_path / f"t{suffix}", frames)
    traj = read_trajectory(path)
    assert len(traj) == 3
    for a, b in zip(frames, traj):
        npt.assert_array_equal(a.ids, b.ids)  # sorted by id on both sides
        npt.assert_array_equal(b.positions, a.positions)  # shortest exact form written
        npt.assert_array_equal(b.extra["score"], a.extra["score"])
        npt.assert_allclose(b.box.cell, a.box.cell, atol=1e-9)
        npt.assert_allclose(b.box.origin, a.box.origin, atol=1e-9)
        npt.assert_array_equal(b.extra["label"], a.extra["label"])
        assert b.extra["label"].dtype.kind == "f" or b.extra["label"].dtype.kind == "i"
        assert b.timestep == a.timestep
    # random access, negative index and slices
    assert traj[-1].timestep == 200 and [f.timestep for f in traj[0:3:2]] == [0, 200]


def test_lammps_dump_writes_floats_that_read_back_exactly(tmp_path):
    # the shortest decimal that reads back to the same double, whatever its magnitude;
    # narrow floats widened; integer and boolean columns as integers
    pos = np.array([[1 / 3, 1e-7, 123456789012.0], [2.5, 0.1 + 0.2, 5e-324], [4.0, 9.999999999999999, 1e-300]])
    box = Box.orthogonal([2e12, 2e12, 2e12], [-1e12, -1e12, -1e12])
    frame = Frame(pos, box, np.array([3, 1, 2]), np.array([1, 2, 1]), timestep=7,
                  extra={"f32": np.array([0.1, 1 / 3, -2.5], dtype=np.float32),
                         "f16": np.array([0.5, 0.25, 1.0], dtype=np.float16),
                         "flag": np.array([True, False, True]), "q": np.array([1e22, -0.0, 1e-5])})
    path = write_lammps_dump(tmp_path / "x.dump", frame)
    lines = path.read_text().splitlines()
    assert lines[8].split()[2:] == ["id", "type", "x", "y", "z", "f32", "f16", "flag", "q"]
    assert lines[11].split() == ["3", "1", "0.3333333333333333", "1e-7", "1.23456789012e+11",
                                 "0.1", "0.5", "1", "1e+22"]      # frames keep atoms sorted by id
    assert lines[9].split()[3:5] == ["0.30000000000000004", "5e-324"]
    back = read_frame(path)
    npt.assert_array_equal(back.positions, frame.positions)
    npt.assert_array_equal(back.extra["f32"].astype(np.float32), frame.extra["f32"])  # its own width
    npt.assert_array_equal(back.extra["q"], frame.extra["q"])    # an integral column reads as int64
    npt.assert_array_equal(back.extra["flag"], [0, 1, 1])


def test_long_decimals_read_as_python_reads_them(tmp_path):
    # 16-18 significant digits (the shortest round-trip form of a double, and longer): the
    # reader's integer long division must give float(text) bit for bit, ties to even included
    rng = np.random.default_rng(3)
    doubles = np.concatenate([rng.random(3000) * 30, rng.normal(size=1000) * 1e-3,
                              rng.random(1000) * 1e6, rng.random(1000) * 1e17])
    tokens = [repr(float(v)) for v in doubles]
    for _ in range(3000):                        # random 16-18 digit decimals, point anywhere
        digits = "".join(map(str, rng.integers(0, 10, rng.integers(16, 19))))
        digits = str(rng.integers(1, 10)) + digits[1:]
        p = int(rng.integers(0, len(digits) + 1))
        tokens.append(digits[:p] + "." + digits[p:])
    # exact halves between two doubles: 2**53 + 1 and + 3, 2**54 + 3 and 2**52 + 0.5 + 0.25
    tokens += ["9007199254740993", "9007199254740995", "18014398509481987",
               "4503599627370496.75", "-9007199254740993.0", "0.9007199254740993e-5"]
    tokens += ["0.5"] * (-len(tokens) % 3)       # x, y and z of whole rows
    rows = [(i + 1, 1, *tokens[3 * i:3 * i + 3]) for i in range(len(tokens) // 3)]
    path = tmp_path / "long.dump"
    path.write_text(_dump_text(["id", "type", "x", "y", "z"], rows, ORTHO))
    got = read_frame(path).positions.ravel()
    npt.assert_array_equal(got, [float(t) for t in tokens])
    assert got[tokens.index("9007199254740993")] == 2.0 ** 53              # tie: to even
    assert got[tokens.index("9007199254740995")] == 2.0 ** 53 + 4


def _dump_text(columns, rows, box_lines, flags="pp pp pp", n=None, ts=0):
    head = [f"ITEM: TIMESTEP\n{ts}\nITEM: NUMBER OF ATOMS\n{len(rows) if n is None else n}\n",
            f"ITEM: BOX BOUNDS {flags}\n", *box_lines, f"ITEM: ATOMS {' '.join(columns)}\n"]
    return "".join(head) + "".join(" ".join(map(str, r)) + "\n" for r in rows)


ORTHO = ["0 10\n", "0 10\n", "0 10\n"]


def test_columns_in_any_order_and_scaled_and_unwrapped(tmp_path):
    rows = [(2, 0.1, 0.2, 0.3, 1), (1, 0.5, 0.5, 0.5, 2)]
    p = tmp_path / "scaled.dump"
    p.write_text(_dump_text(["id", "xs", "ys", "zs", "type"], rows, ORTHO))
    f = read_frame(p)
    npt.assert_array_equal(f.ids, [1, 2])
    npt.assert_allclose(f.positions, [[5, 5, 5], [1, 2, 3]])
    npt.assert_array_equal(f.types, [2, 1])
    p.write_text(_dump_text(["type", "zu", "yu", "xu", "id"], [(1, 13.0, -2.0, 1.0, 7)], ORTHO))
    npt.assert_allclose(read_frame(p).positions, [[1.0, -2.0, 13.0]])  # unwrapped kept as written


def test_triclinic_bounds_convention(tmp_path):
    # LAMMPS writes the bounding box: xlo_bound = xlo + min(0, xy, xz, xy+xz) etc.
    xy, xz, yz = 1.0, -0.5, 0.7
    lines = [f"{0 + min(0, xy, xz, xy + xz)} {10 + max(0, xy, xz, xy + xz)} {xy}\n",
             f"{0 + min(0, yz)} {8 + max(0, yz)} {xz}\n", f"0 9 {yz}\n"]
    p = tmp_path / "tri.dump"
    p.write_text(_dump_text(["id", "type", "x", "y", "z"], [(1, 1, 1, 1, 1)], lines,
                            flags="xy xz yz pp pp pp"))
    cell = read_frame(p).box.cell
    npt.assert_allclose(cell, [[10, 0, 0], [xy, 8, 0], [xz, yz, 9]])


def test_agrees_with_ase_reader(tmp_path):
    import ase.io

    frame = make_lattice("hcp", 3, noise=0.05, seed=1)
    path = write_lammps_dump(tmp_path / "a.dump", frame)
    atoms = ase.io.read(path, format="lammps-dump-text")
    ours = read_frame(path)
    npt.assert_allclose(ours.positions - ours.box.origin, atoms.get_positions(), atol=1e-9)
    npt.assert_allclose(ours.box.cell, atoms.cell.array, atol=1e-9)


def test_ase_formats_and_atoms_objects(tmp_path):
    frames = sample_frames(2, triclinic=True)
    path = write_extxyz(tmp_path / "t.extxyz", frames, type_names={1: "Cu", 2: "Zr"})
    traj = read_trajectory(path)
    assert len(traj) == 2
    back = traj[1]
    npt.assert_array_equal(back.ids, frames[1].ids)
    npt.assert_array_equal(back.types, frames[1].types)
    npt.assert_array_equal(back.extra["label"], frames[1].extra["label"])
    npt.assert_allclose(back.positions, frames[1].positions - frames[1].box.origin, atol=1e-6)
    atoms = frames[0].to_ase()
    assert read_trajectory(atoms)[0].n_atoms == 50


@pytest.mark.parametrize("columns,rows,match", [
    (["id", "type", "x", "y"], [(1, 1, 0, 0)], "missing position columns"),
    (["type", "x", "y", "z"], [(1, 0, 0, 0)], "missing column 'id'"),
    (["id", "type", "x", "y", "z"], [(1, 1, 0, "abc", 0)], r"line 21: column 'y': expected a number"),
    (["id", "type", "x", "y", "z"], [(1, 1, 0, 0)], "line 21: expected 5 columns"),
    (["id", "type", "x", "y", "z"], [(1, 1, 0, 0, 0), (1, 1, 1, 1, 1)], "line 22: duplicate atom id 1"),
    (["id", "type", "x", "y", "z"], [(1, 1, 0, 0, 0), (2, 1, "nan", 1, 1)], "line 22: column 'x': non-finite"),
    (["id", "type", "x", "y", "z"], [(1, 1, 0, 0, 0), (2, 1.5, 1, 1, 1)], "line 22: column 'type': expected an integer"),
])
def test_bad_atom_blocks_name_file_frame_line(tmp_path, columns, rows, match):
    good = _dump_text(["id", "type", "x", "y", "z"], [(1, 1, 0, 0, 0), (2, 1, 1, 1, 1)], ORTHO)
    p = tmp_path / "bad.dump"
    p.write_text(good + _dump_text(columns, rows, ORTHO, ts=5) + good)
    traj = read_trajectory(p)
    assert traj[0].n_atoms == 2 and traj[2].n_atoms == 2  # the other frames stay readable
    with pytest.raises(TrajectoryFormatError, match=f"bad.dump: frame 1 \\(timestep 5\\).*{match}"):
        traj[1]


def test_count_mismatch_and_zero_volume(tmp_path):
    p = tmp_path / "n.dump"
    p.write_text(_dump_text(["id", "type", "x", "y", "z"], [(1, 1, 0, 0, 0)], ORTHO, n=3)
                 + _dump_text(["id", "type", "x", "y", "z"], [(1, 1, 0, 0, 0)], ORTHO))
    with pytest.raises(TrajectoryFormatError, match="frame 0.*says 3 but 1 atom lines"):
        read_trajectory(p)[0]
    p.write_text(_dump_text(["id", "type", "x", "y", "z"], [(1, 1, 0, 0, 0)], ["0 10\n", "0 0\n", "0 10\n"]))
    with pytest.raises(TrajectoryFormatError, match="frame 0.*line 6.*zero or negative volume"):
        read_trajectory(p)[0]


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_last_frame_warns_and_keeps_the_rest(tmp_path, gz):
    text = "".join(_dump_text(["id", "type", "x", "y", "z"], [(i, 1, 0, 0, 0) for i in (1, 2, 3)],
                              ORTHO, ts=t) for t in range(3))
    text = text[: -20]  # cut inside the last frame's atoms
    p = tmp_path / ("t.dump.gz" if gz else "t.dump")
    if gz:
        with gzip.open(p, "wt") as fh:
            fh.write(text)
    else:
        p.write_text(text)
    with pytest.warns(UserWarning, match="frame 2.*truncated"):
        traj = read_trajectory(p)
    assert len(traj) == 2 and traj[1].timestep == 1


def test_not_a_trajectory(tmp_path):
    p = tmp_path / "x.dump"
    p.write_text("hello\n")
    with pytest.raises(TrajectoryFormatError, match="x.dump"):
        read_trajectory(p)
    with pytest.raises(FileNotFoundError, match="nope.dump"):
        read_trajectory(tmp_path / "nope.dump")


def test_writer_leaves_nothing_on_failure(tmp_path):
    frame = sample_frames(1)[0]
    target = tmp_path / "out.dump"
    write_lammps_dump(target, frame)
    before = target.read_bytes()
    with pytest.raises(KeyError, match="no per-atom column"):
        write_lammps_dump(target, frame, columns=["nucleus"])
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["out.dump"]


def test_cli_info(tmp_path, capsys):
    path = write_lammps_dump(tmp_path / "t.dump.gz", sample_frames(triclinic=True))
    assert cli_main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "frames      3" in out and "atoms       50" in out and "triclinic" in out
    assert "timesteps   0 .. 200" in out
    assert cli_main(["info", str(tmp_path / "missing.dump")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_frame_validation():
    box = Box.orthogonal([2, 2, 2])
    with pytest.raises(ValueError, match="duplicate atom id 3"):
        Frame(np.zeros((2, 3)), box, ids=[3, 3])
    with pytest.raises(ValueError, match="NaN or inf"):
        Frame(np.full((1, 3), np.nan), box)
    with pytest.raises(ValueError, match="zero or negative volume"):
        Box(np.diag([1.0, 0.0, 1.0]))
    f = Frame(np.arange(9.0).reshape(3, 3), box, ids=[5, 1, 3], extra={"q": [50, 10, 30]})
    npt.assert_array_equal(f.ids, [1, 3, 5])
    npt.assert_array_equal(f.extra["q"], [10, 30, 50])  # extra columns follow the sort
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        npt.assert_allclose(f.wrapped()[2], [0.0, 1.0, 0.0])


@pytest.mark.parametrize("gz", [False, True])
def test_last_frame_cut_anywhere_before_its_last_line_warns(tmp_path, gz):
    # cut inside the last frame's ITEM: TIMESTEP line, its header or its atom lines: the
    # frame is reported truncated and skipped, the complete one is kept
    def one(t):
        return _dump_text(["id", "type", "x", "y", "z"], [(i, 1, 0.5, 0.5, 0.5) for i in (1, 2, 3)],
                          ORTHO, ts=t)
    full = one(0) + one(7)
    last_line = full.rfind("\n", 0, len(full) - 1) + 1
    p = tmp_path / ("c.dump.gz" if gz else "c.dump")
    for cut in range(len(one(0)) + 1, last_line):
        if gz:
            p.write_bytes(gzip.compress(full[:cut].encode()))
        else:
            p.write_text(full[:cut])
        with pytest.warns(UserWarning, match=r"c\.dump(\.gz)?: frame 1\b.*(truncated|unexpected end)"):
            traj = read_trajectory(p)
        assert len(traj) == 1 and traj[0].n_atoms == 3, f"cut at {cut}: {full[:cut]!r}"


def test_header_of_a_frame_with_a_long_column_list(tmp_path):
    names = [f"c{i:03d}" for i in range(700)]  # the ATOMS line alone is ~3.5 kB
    rows = [(1, 1, 0.5, 0.5, 0.5, *range(700)), (2, 1, 1.5, 1.5, 1.5, *range(700))]
    p = tmp_path / "wide.dump"
    p.write_text(_dump_text(["id", "type", "x", "y", "z", *names], rows, ORTHO) * 2)
    traj = read_trajectory(p)
    assert traj.header(1)["columns"] == ["id", "type", "x", "y", "z", *names]
    assert traj[1].extra["c699"].tolist() == [699, 699]


def test_frames_read_from_several_threads_are_the_frames(tmp_path):
    """One reader shared by threads (analyze writes the labelled dump in one while PTM reads
    in another): every frame read concurrently equals the frame read alone."""
    from concurrent.futures import ThreadPoolExecutor

    from descriptors import Frame, make_lattice, read_trajectory, write_lammps_dump
    frames = [make_lattice("fcc", 3, noise=0.05, seed=s) for s in range(12)]
    frames = [Frame(f.positions, f.box, f.ids, f.types, timestep=10 * s) for s, f in enumerate(frames)]
    for name in ("run.dump", "run.dump.gz"):
        write_lammps_dump(tmp_path / name, frames)
        traj = read_trajectory(tmp_path / name)
        order = [i % 12 for i in range(0, 96, 7)] * 3
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(pool.map(lambda i: traj[i], order))
        for i, f in zip(order, got):
            assert f.timestep == 10 * i
            np.testing.assert_array_equal(f.positions, read_trajectory(tmp_path / name)[i].positions)
