"""Output sets: swapped in whole, restored after a kill at any step, never beside strangers;
the configuration's limits that depend on the run; Ctrl-C; the same physics, the same labels."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from descriptors import demo_trajectory_path, read_trajectory, write_lammps_dump
from multilayer.app import outputs
from multilayer.app.cli import main as cli_main
from multilayer.app.config import ConfigError
from multilayer.app.pipeline import analyze
from multilayer.app.stages import user_crystal

QUICK = {"output": {"figures": False, "report": False, "trajectory": "none"},
         "mapper": {"enabled": False}}


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no except clause catches it."""


def _snapshot(out):
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and
            not p.name.startswith(".")}


def _set_up(out, old=("a.txt", "b.txt", "c.png")):
    out.mkdir(exist_ok=True)
    for name in old:
        (out / name).write_text(f"old {name}")
    (out / ".crystopo").mkdir(exist_ok=True)
    (out / ".crystopo" / "outputs.json").write_text(json.dumps(sorted(old)))
    stage = outputs.staging_dir(out)
    for name in ("a.txt", "b.txt", "d.json"):
        (stage / name).write_text(f"new {name}")


def _kill_after(monkeypatch, n):
    calls = {"n": 0}
    real = outputs._move

    def move(src, dst):
        if calls["n"] == n:
            raise Killed
        calls["n"] += 1
        real(src, dst)

    monkeypatch.setattr(outputs, "_move", move)


def test_commit_replaces_the_whole_set(tmp_path):
    out = tmp_path / "out"
    _set_up(out)
    names = outputs.commit_outputs(out)
    assert names == ["a.txt", "b.txt", "d.json"]
    assert _snapshot(out) == {n: f"new {n}".encode() for n in names}   # c.png went with its set
    assert outputs.output_names(out) == names
    assert not (out / ".crystopo" / "swap.json").exists()
    assert not (out / ".crystopo" / "staging").exists()
    assert outputs.recover_outputs(out) is False                          # nothing to undo


@pytest.mark.parametrize("step", range(6))        # 3 old files out, 3 new files in
def test_a_kill_at_any_step_of_the_swap_leaves_the_old_set(tmp_path, monkeypatch, step):
    out = tmp_path / "out"
    _set_up(out)
    before = _snapshot(out)
    _kill_after(monkeypatch, step)
    with pytest.raises(Killed):
        outputs.commit_outputs(out)
    assert (out / ".crystopo" / "swap.json").exists()
    monkeypatch.undo()
    assert outputs.recover_outputs(out) is True
    assert _snapshot(out) == before
    assert outputs.output_names(out) == ["a.txt", "b.txt", "c.png"]
    assert outputs.recover_outputs(out) is False                          # idempotent


def test_a_kill_during_recovery_is_recovered_by_the_next_call(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _set_up(out)
    before = _snapshot(out)
    _kill_after(monkeypatch, 4)
    with pytest.raises(Killed):
        outputs.commit_outputs(out)
    monkeypatch.undo()
    real, calls = os.replace, {"n": 0}

    def dying(src, dst):
        if calls["n"] == 1:
            raise Killed
        calls["n"] += 1
        real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", dying)
    with pytest.raises(Killed):
        outputs.recover_outputs(out)
    monkeypatch.undo()
    assert outputs.recover_outputs(out) is True
    assert _snapshot(out) == before


def test_adding_to_a_set_keeps_the_rest(tmp_path):
    out = tmp_path / "out"
    _set_up(out)
    names = outputs.commit_outputs(out, replace_all=False)
    assert names == ["a.txt", "b.txt", "c.png", "d.json"]
    assert (out / "c.png").read_text() == "old c.png" and (out / "a.txt").read_text() == "new a.txt"


def test_foreign_files_are_named(tmp_path):
    out = tmp_path / "out"
    _set_up(out)
    (out / "config.toml").write_text("# the user's own")
    assert outputs.foreign_files(out) == ["config.toml"]
    assert outputs.foreign_files(tmp_path / "new") == []


def test_out_holding_the_users_files_is_refused_unless_forced(tmp_path, monkeypatch, capsys):
    """``--out .`` in a directory with the user's config.toml and notes: refused in one line,
    nothing touched; with --force the run writes beside them and replaces only its own names."""
    work = tmp_path / "project"
    work.mkdir()
    mine = work / "config.toml"
    mine.write_text("[frames]\nstep = 4\n")
    (work / "notes.txt").write_text("my notes")
    monkeypatch.chdir(work)
    argv = ["analyze", str(demo_trajectory_path()), "--out", ".", "--quiet", "--frames", "0:12:4",
            "--config", "config.toml"]
    code = cli_main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "crystopo did not write" in err and "config.toml" in err and "\n" not in err
    assert sorted(p.name for p in work.iterdir()) == ["config.toml", "notes.txt"]
    assert mine.read_text() == "[frames]\nstep = 4\n"
    (work / "quick.toml").write_text('[mapper]\nenabled = false\n[output]\nfigures = false\n'
                                     'report = false\ntrajectory = "none"\n')
    code = cli_main(argv[:-1] + ["quick.toml", "--force"])
    assert code == 0, capsys.readouterr().err
    assert (work / "notes.txt").read_text() == "my notes"
    assert (work / "labels.parquet").exists()
    assert "enabled = false" in mine.read_text()      # replaced: --force said so
    # the next run in the same place is refused again: notes.txt and quick.toml are the user's
    assert outputs.foreign_files(work) == ["notes.txt", "quick.toml"]


def test_kill_during_the_output_swap_of_a_rerun_leaves_the_first_runs_outputs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4),
                    config={"mapper": {"enabled": False}, "output": {"trajectory": "none"}})
    before = _snapshot(out)
    assert "report.html" in before and first.summary["frames"] == 3
    _kill_after(monkeypatch, 3)
    with pytest.raises(Killed):
        analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4), resume=True, config=QUICK)
    monkeypatch.undo()
    assert _snapshot(out) != before                    # a mix on disk ...
    outputs.recover_outputs(out)                       # ... until the next run starts
    assert _snapshot(out) == before
    again = analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4), resume=True, config=QUICK)
    assert not (out / "report.html").exists()
    pd.testing.assert_frame_equal(again.labels, first.labels)


def test_window_longer_than_the_selection_is_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"window = 5 is longer than the 3 selected"):
        analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4),
                config={"time_average": {"window": 5}})
    assert not (out / ".crystopo" / "features").exists()


def test_propensity_horizon_longer_than_the_selection_is_refused_before_any_work(tmp_path):
    from multilayer.app.propensity import propensity

    with pytest.raises(ValueError, match=r"horizon 3 frames: the selection holds only 3"):
        propensity(demo_trajectory_path(), tmp_path / "out", horizon=[1, 3], frames=slice(0, 12, 4))
    assert not (tmp_path / "out").exists()


def test_crystal_communities_given_by_id_or_name_must_exist():
    labels = [np.array([0, 0, 1]), np.array([0, 2, 2])]
    names = ["liquid", "fcc", "hcp"]
    assert user_crystal(["fcc", 2], labels, names).tolist() == [1, 2]
    assert user_crystal([1], labels, None).tolist() == [1]
    with pytest.raises(ConfigError, match=r"\[99\] name no community.*0 = liquid, 1 = fcc, 2 = hcp"):
        user_crystal([99], labels, names)
    with pytest.raises(ConfigError, match=r"\['bcc'\]"):
        user_crystal(["fcc", "bcc"], labels, names)


def test_unknown_crystal_community_stops_with_a_message_and_keeps_the_labels(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"crystal = \[99\].*rerun with --resume"):
        analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4),
                config=QUICK | {"tracking": {"crystal": [99]}})
    assert (out / ".crystopo" / "labels.npz").exists()
    res = analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4), resume=True,
                  config=QUICK | {"tracking": {"crystal": ["fcc", "hcp"]}})
    assert set(res.summary["crystal_structures"]) <= {"fcc", "hcp"}


def test_ctrl_c_ends_in_one_line_and_the_run_resumes(tmp_path):
    """SIGINT while the numba kernels run: exit 130, one line, no traceback, no segfault;
    ``--resume`` then finishes from the checkpoints."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "multilayer.app.cli", "analyze", str(demo_trajectory_path()),
           "--out", str(out), "--frames", "0:40:2", "--quiet", "--config", str(tmp_path / "q.toml")]
    (tmp_path / "q.toml").write_text('[mapper]\nenabled = false\n[output]\nfigures = false\n'
                                     'report = false\ntrajectory = "none"\n')
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and \
            len(list((out / ".crystopo" / "features").glob("frame_*"))) < 2:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Error" not in err
    assert err.strip().splitlines()[-1].endswith("interrupted; rerun with --resume to continue")
    done = subprocess.run(cmd + ["--resume"], capture_output=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert (out / "labels.parquet").exists()


def test_translated_rewrapped_and_permuted_copies_give_the_same_labels(tmp_path):
    """The same physics in another frame of reference and another atom order: identical labels
    (as a table keyed by frame and atom id) through the whole pipeline."""
    frames = [read_trajectory(demo_trajectory_path())[i] for i in range(0, 40, 5)]
    rng = np.random.default_rng(3)
    shift = np.array([0.37, -1.21, 2.5])
    moved = []
    for f in frames:
        order = rng.permutation(f.n_atoms)
        images = rng.integers(-2, 3, size=(f.n_atoms, 1)) @ f.box.cell[:1]   # whole box lengths
        pos = f.box.wrap(f.positions + shift)[order] + images[order]
        moved.append(f.__class__(pos, f.box, f.ids[order], f.types[order], f.timestep))
    a = write_lammps_dump(tmp_path / "a.dump", frames)
    b = write_lammps_dump(tmp_path / "b.dump", moved)
    la = analyze(a, tmp_path / "ra", config=QUICK).labels.sort_values(["frame", "id"])
    lb = analyze(b, tmp_path / "rb", config=QUICK).labels.sort_values(["frame", "id"])
    for col in ("label", "structure", "crystal_like", "nucleus", "solid_tenwolde"):
        np.testing.assert_array_equal(la[col].to_numpy(), lb[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(la["q6_avg"].to_numpy(), lb["q6_avg"].to_numpy(), atol=1e-6)


@pytest.mark.parametrize("section, factor, says", [("neighbors", 0.5, "holds 0.0 neighbours"),
                                                  ("persistence", 3.0, "neighbours per atom")])
def test_a_shell_factor_that_misses_the_first_shell_is_refused(tmp_path, section, factor, says):
    """A first-shell cutoff with no neighbour in it used to give 'fcc everywhere, crystalline
    fraction 1.000'; now the run stops with the cutoff, the count and what a shell needs."""
    with pytest.raises(ConfigError, match=rf"\[{section}\] shell_factor = {factor:g}.*{says}"):
        analyze(demo_trajectory_path(), tmp_path / "out", frames=slice(0, 12, 4),
                config=QUICK | {section: {"shell_factor": factor}})
    assert not (tmp_path / "out" / "labels.parquet").exists()
