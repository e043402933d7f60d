"""Faults, as a hostile but realistic user would make them: bad inputs, kill -9 at every stage,
and the same physics given another way.

    python benchmarks/bench_faults.py [--frames 0:12:4] [--keep DIR]

Everything runs through the console command (``python -m multilayer.app.cli``), as a user
would, on a few frames of the bundled LAMMPS run written out again in various broken forms.

1. **Bad inputs**: each must end in a clear message -- exit status 2 and one line on stderr,
   or, for damage crystopo can work around (a cut or corrupt gzip, an unparsable frame), exit
   status 0 with a warning naming what was dropped -- and never a traceback.
2. **kill -9** during the features, during the clustering/tracking and in the middle of the
   output swap (the process kills itself with SIGKILL after the k-th rename): the output
   directory then holds either no outputs or the complete previous set (never a mix), and
   ``--resume`` finishes with labels identical to an uninterrupted run.
3. **Same physics, same answer**: the frames translated, re-wrapped (atoms moved by whole box
   vectors), in another atom order, and a plain rerun: labels identical to the original's.

Prints one row per case and a summary line; exits 1 when any case fails.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from descriptors import demo_trajectory_path, read_trajectory, write_lammps_dump

QUICK = ('[mapper]\nenabled = false\n[output]\nfigures = false\nreport = false\n'
         'trajectory = "none"\n')
CLI = [sys.executable, "-m", "multilayer.app.cli"]
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", MPLBACKEND="Agg")


def run(args, timeout=600):
    t = time.perf_counter()
    p = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, env=ENV,
                       timeout=timeout)
    return p.returncode, p.stderr, time.perf_counter() - t


def verdict(rc, err, expect):
    """(ok, what was seen) for a case that expects 'error' (rc 2, one line) or 'warn' (rc 0
    and a WARNING line)."""
    lines = [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln]
    errors = [ln for ln in lines if "error:" in ln]
    if "Traceback" in err:
        return False, "TRACEBACK: " + lines[-1][:100]
    if expect == "error":
        return rc == 2 and len(errors) == 1, (errors or lines or ["(nothing)"])[-1][:150]
    warns = [ln for ln in lines if ln.startswith("WARNING")]
    # damage worked around: the complete frames are analysed -- or, when fewer than two are
    # left, the run stops with one line after the warning that says what was dropped
    ok = bool(warns) and (rc == 0 or (rc == 2 and len(errors) == 1))
    return ok, (warns or lines or ["(nothing)"])[0][:110] + (f" -> {errors[-1][:60]}" if errors else "")


def bad_inputs(tmp: Path, dump: Path, frames: str):
    """(name, argv, expect) for each bad input."""
    text = dump.read_text()
    lines = text.splitlines(keepends=True)
    n_frame = len(lines) // 3
    cases = []

    def f(name, content, mode="w"):
        p = tmp / name
        p.write_bytes(content) if mode == "wb" else p.write_text(content)
        return p

    gz = gzip.compress(text.encode())
    cases += [
        ("missing trajectory", [tmp / "nope.dump"], "error"),
        ("empty file", [f("empty.dump", "")], "error"),
        ("not a trajectory", [f("garbage.dump", "hello\nworld\n" * 50)], "error"),
        ("last frame cut mid-block", [f("cut.dump", "".join(lines[: 2 * n_frame + n_frame // 2]))],
         "warn"),
        ("gzip cut mid-stream", [f("cut.dump.gz", gz[: int(len(gz) * 0.8)], "wb")], "warn"),
        ("gzip corrupt in the middle", [f("bad.dump.gz", gz[: len(gz) // 2] + bytes(64)
                                          + gz[len(gz) // 2 + 64:], "wb")], "warn"),
        ("non-numeric value in frame 2", [f("nan.dump", "".join(
            lines[:n_frame + 20] + ["1 1 x 0.5 0.5\n"] + lines[n_frame + 21:]))], "warn"),
    ]
    good = [dump]
    cfgdir = tmp / "cfgdir"
    cfgdir.mkdir(exist_ok=True)
    for name, cfg in [("config is a directory", None),
                      ("config not TOML", "[frames\nstep = "),
                      ("config unknown section", "[colour]\nred = 1\n"),
                      ("config NaN resolution", "[leiden]\nresolution = nan\n"),
                      ("config block > size", "[neighbors_map]\nsize = 8\nblock = 16\n"),
                      ("config map size 1", "[neighbors_map]\nsize = 1\n"),
                      ("config negative shell factor", "[neighbors]\nshell_factor = -1.0\n"),
                      ("shell factor misses the shell", "[neighbors]\nshell_factor = 0.5\n"),
                      ("window longer than the run", "[time_average]\nwindow = 50\n"),
                      ("crystal community 99", QUICK + "[tracking]\ncrystal = [99]\n"),
                      ("crystal = true", "[tracking]\ncrystal = true\n")]:
        path = cfgdir if cfg is None else f(f"{name.replace(' ', '_')}.toml", cfg)
        cases.append((name, good + ["--config", path], "error"))
    a_file = f("a_file", "mine")
    user_dir = tmp / "user_dir"
    user_dir.mkdir(exist_ok=True)
    (user_dir / "config.toml").write_text("# mine")
    cases += [
        ("--out is a file", good + ["--out", a_file], "error"),
        ("--out holds the user's files", good + ["--out", user_dir], "error"),
        ("--frames not numbers", good + ["--frames", "0:x"], "error"),
        ("--frames beyond the run", good + ["--frames", "50:60"], "error"),
        ("--frames selects one frame", good + ["--frames", "0:1"], "error"),
    ]
    if os.geteuid() != 0:      # root writes anywhere: the case cannot be made here
        ro = tmp / "readonly"
        ro.mkdir(exist_ok=True)
        ro.chmod(0o555)
        cases.append(("--out not writable", good + ["--out", ro / "sub"], "error"))
    out = []
    for name, argv, expect in cases:
        argv = list(argv)
        if "--out" not in argv:
            argv += ["--out", tmp / f"out_{abs(hash(name)) % 10**8}"]
        if "--frames" not in argv and expect == "error":
            argv += ["--frames", frames]
        out.append((name, ["analyze"] + argv + ["--quiet"], expect))
    out.append(("propensity horizon > frames",
                ["propensity", dump, "--horizon", "9", "--frames", frames, "--quiet", "--out",
                 tmp / "out_prop"], "error"))
    return out


def labels_of(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "labels.parquet").sort_values(["frame", "id"]).reset_index(drop=True)


def outputs_state(out: Path, reference: dict | None) -> str:
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()
             if p.is_file() and not p.name.startswith(".")}
    if not files:
        return "none"
    if reference is not None and files == reference:
        return "previous set"
    return "MIX" if reference is not None else "complete" if "summary.json" in files else "MIX"


def kill_cases(tmp: Path, dump: Path, cfg: Path, reference: pd.DataFrame, first: Path):
    """kill -9 at each stage, then --resume; rows (stage, state after kill, resume equal)."""
    rows = []
    prev_files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in first.iterdir()
                  if p.is_file() and not p.name.startswith(".")}
    for stage, marker in (("features", "features/frame_*"), ("clustering/tracking", "labels.npz")):
        out = tmp / f"kill_{stage.split('/')[0]}"
        shutil.copytree(first, out)              # a finished directory, rerun with new settings
        for child in (out / ".crystopo").iterdir():   # its checkpoints go, its outputs stay
            if child.name != "outputs.json":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        proc = subprocess.Popen(CLI + ["analyze", str(dump), "--out", str(out), "--config",
                                       str(cfg), "--quiet"], stderr=subprocess.DEVNULL, env=ENV)
        t0 = time.time()
        while proc.poll() is None and time.time() - t0 < 300 and \
                not list((out / ".crystopo").glob(marker)):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = outputs_state(out, prev_files)
        rc, err, _ = run(["analyze", dump, "--out", out, "--config", cfg, "--quiet", "--resume"])
        same = rc == 0 and labels_of(out).equals(reference)
        rows.append((f"kill -9 during {stage}", state, same, err.strip().splitlines()[-1:] if rc else ""))
    for k in (1, 4, 9):
        out = tmp / f"kill_swap_{k}"
        shutil.copytree(first, out)
        code = ("import os, signal, sys\n"
                "from multilayer.app import outputs\n"
                "real, n = outputs._move, [0]\n"
                "def move(a, b):\n"
                f"    if n[0] == {k}: os.kill(os.getpid(), signal.SIGKILL)\n"
                "    n[0] += 1; real(a, b)\n"
                "outputs._move = move\n"
                "from multilayer.app.cli import main\n"
                f"sys.exit(main({['analyze', str(dump), '--out', str(out), '--config', str(cfg), '--quiet', '--resume']!r}))\n")
        subprocess.run([sys.executable, "-c", code], capture_output=True, env=ENV)
        journal = (out / ".crystopo" / "swap.json").exists()
        raw = outputs_state(out, prev_files)
        # what the next run on this directory does first, before anything else
        subprocess.run([sys.executable, "-c", "import sys; from multilayer.app.outputs import "
                        f"recover_outputs; recover_outputs({str(out)!r})"], env=ENV, check=True)
        state = outputs_state(out, prev_files)
        rc, err, _ = run(["analyze", dump, "--out", out, "--config", cfg, "--quiet", "--resume"])
        same = rc == 0 and labels_of(out).equals(reference)
        rows.append((f"kill -9 after rename {k} of the swap", state, same,
                     f"(on disk before recovery: {raw}{', journal left' if journal else ''})"))
    return rows


def invariance_cases(tmp: Path, frames, cfg: Path, reference: pd.DataFrame):
    rng = np.random.default_rng(7)
    variants = {}
    shift = np.array([0.37, -1.21, 2.5])
    variants["translated by (0.37, -1.21, 2.5) and wrapped"] = [
        f.__class__(f.box.wrap(f.positions + shift), f.box, f.ids, f.types, f.timestep) for f in frames]
    variants["atoms moved by whole box vectors"] = [
        f.__class__(f.positions + rng.integers(-3, 4, (f.n_atoms, 3)) @ f.box.cell, f.box, f.ids,
                    f.types, f.timestep) for f in frames]
    perm = [rng.permutation(f.n_atoms) for f in frames]
    variants["atom order permuted"] = [
        f.__class__(f.positions[p], f.box, f.ids[p], f.types[p], f.timestep) for f, p in zip(frames, perm)]
    variants["a plain rerun"] = frames
    rows = []
    for name, fr in variants.items():
        path = write_lammps_dump(tmp / f"var_{len(rows)}.dump", fr)
        out = tmp / f"var_out_{len(rows)}"
        rc, err, _ = run(["analyze", path, "--out", out, "--config", cfg, "--quiet"])
        lab = labels_of(out) if rc == 0 else None
        same = lab is not None and all(np.array_equal(lab[c].to_numpy(), reference[c].to_numpy())
                                       for c in ("label", "structure", "crystal_like", "nucleus"))
        rows.append((name, same))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", default="0:12:4", help="demo frames used (START:STOP:STEP)")
    ap.add_argument("--keep", help="work in this directory and keep it")
    args = ap.parse_args(argv)
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="crystopo_faults_"))
    tmp.mkdir(parents=True, exist_ok=True)
    start, stop, step = (int(x) for x in args.frames.split(":"))
    traj = read_trajectory(demo_trajectory_path())
    frames = [traj[i] for i in range(start, stop, step)]
    dump = write_lammps_dump(tmp / "demo_part.dump", frames)
    cfg = tmp / "quick.toml"
    cfg.write_text(QUICK)
    failures = 0

    print("# 1. bad inputs (expect: exit 2 and one line, or exit 0 and a warning; no traceback)")
    cases = bad_inputs(tmp, dump, "0:3")
    for name, argv, expect in cases:
        rc, err, secs = run(argv)
        ok, seen = verdict(rc, err, expect)
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:<34} rc={rc:<3} {secs:5.1f}s  {seen}")
    print(f"{len(cases)} bad inputs tried, {len(cases) - failures} handled cleanly")

    print("\n# 2. kill -9 (expect: no outputs or the complete previous set; --resume = fresh run)")
    first = tmp / "first"
    rc, err, _ = run(["analyze", dump, "--out", first, "--config", cfg, "--quiet"])
    assert rc == 0, err
    reference = labels_of(first)
    fresh = tmp / "fresh_quick"
    cfg2 = tmp / "quick2.toml"          # the rerun changes the clustering: new labels
    cfg2.write_text(QUICK + "[labels]\nseed = 1\n")
    rc, err, _ = run(["analyze", dump, "--out", fresh, "--config", cfg2, "--quiet"])
    reference2 = labels_of(fresh)
    n_before = failures
    for name, state, same, extra in kill_cases(tmp, dump, cfg2, reference2, first):
        ok = state in ("none", "previous set") and same
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:<48} outputs after the kill: {state:<13} "
              f"resume equals a fresh run: {same} {extra}")
    print(f"kill -9 cases: {5 - (failures - n_before)} of 5 lost nothing")

    print("\n# 3. same physics, same answer")
    n_before = failures
    rows = invariance_cases(tmp, frames, cfg, reference)
    for name, same in rows:
        failures += not same
        print(f"{'ok  ' if same else 'FAIL'} {name:<48} labels identical: {same}")
    print(f"invariance: {len(rows) - (failures - n_before)} of {len(rows)} identical")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
