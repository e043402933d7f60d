"""How crystals are born in MD trajectories: crystopo COMMAND -h for each command's options.

The ``crystopo`` command line: ``info`` (what a trajectory holds), ``analyze`` (the whole
chain, from descriptors to named structures, nuclei, onset and report), ``demo`` (``analyze``
on the bundled run), ``propensity``, ``classify`` and ``config``.
"""
from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from descriptors import TrajectoryFormatError, read_trajectory

logger = logging.getLogger("crystopo")


def _cmd_info(args) -> int:
    traj = read_trajectory(args.trajectory)
    n = len(traj)
    first, last = traj.header(0), traj.header(n - 1)
    box = first["box"]
    kind = "orthogonal" if box.is_orthogonal else "triclinic"
    print(f"file        {args.trajectory}")
    print(f"frames      {n}")
    print(f"atoms       {first['n_atoms']} (first frame), {last['n_atoms']} (last frame)")
    print(f"box         {kind}, lengths {np.round(np.linalg.norm(box.cell, axis=1), 6).tolist()}, "
          f"volume {box.volume:.6g}, periodic {box.pbc.tolist()}")
    if not box.is_orthogonal:
        print(f"cell        {np.round(box.cell, 6).tolist()}")
    print(f"columns     {' '.join(first['columns'])}")
    print(f"timesteps   {first['timestep']} .. {last['timestep']}")
    if args.types:
        types = np.unique(traj[0].types, return_counts=True)
        print("types       " + ", ".join(f"{t}: {c}" for t, c in zip(*types)))
    return 0


def _frames(text):
    """``--frames START:STOP:STEP`` as the Python API's slice (None: the config's [frames])."""
    from .config import parse_frames

    part = parse_frames(text)
    return None if text is None else slice(part.get("start"), part.get("stop"), part.get("step"))


def critical_line(summary) -> str:
    """The critical-size line ``analyze`` prints: with the crystalline core (the default),
    the size at which half its tracked nuclei grow (its bootstrap interval), then the MFPT
    n* of its largest nucleus (with how many nuclei grew where more than one did: the MFPT
    assumes one nucleation event) and of the crystal-like nuclei's (their halo included); the
    crystal-like nuclei's MFPT n* alone when the core is off."""
    from .report import mfpt_outside_regime

    def size(v):
        return "n/a" if v is None else f"{v:.1f} atoms"

    s = summary
    if s.get("largest_core_final") is None:
        return f"critical nucleus size (MFPT): {size(s['critical_size'])}"
    lo_hi = s.get("critical_size_range")
    spread = "" if not lo_hi else f" ({lo_hi[0]:.1f}-{lo_hi[1]:.1f})"
    regime = ""
    if s.get("critical_size_mfpt") is not None and mfpt_outside_regime(s):
        regime = f" ({s['grown_nuclei']} nuclei grew; the MFPT assumes one)"
    return (f"critical nucleus size: {size(s['critical_size'])}{spread}, where half the "
            f"crystalline core's nuclei grow to {s.get('grown_size')} atoms; MFPT of its "
            f"largest nucleus {size(s.get('critical_size_mfpt'))}{regime}, of the "
            f"crystal-like nuclei (halo included) {size(s.get('critical_size_crystal_like'))}")


def onset_line(summary) -> str:
    """The onset line ``analyze`` prints: the crystalline core's onset first (the per-atom
    crystal call) with its spread (the onsets at its threshold 10 % lower and higher) and,
    where the growth probability determines n*, the frame after which its largest nucleus
    stays past it, then
    the crystal-like nuclei's (averaged labels, their halo included) and the ten Wolde
    criterion's; the crystal-like nuclei's alone when the core is off."""
    s = summary
    tw = f"ten Wolde solid-bond criterion: frame {s['onset_frame_tenwolde']}"
    if s.get("largest_core_final") is None:
        head = _head(s["onset_frame"], s.get("onset_at_start"), s.get("onset_frame_spread"), "")
        return f"nucleation onset: {head} ({tw})"
    head = _head(s["onset_frame_core"], s.get("onset_core_at_start"),
                 s.get("onset_frame_core_spread"), " by the crystalline core")
    past = ""
    if s.get("committed_frame_core") is not None:
        past = f", past its critical size for good from frame {s['committed_frame_core']}"
        lo_hi = s.get("committed_frame_core_range")
        if lo_hi:
            lo, hi = ("none" if v is None else v for v in lo_hi)
            past += f" ({lo}-{hi} over n*'s 16-84 % range)"
    return (f"nucleation onset: {head}{past}; crystal-like nuclei, their halo included: "
            f"frame {s['onset_frame']}; {tw}")


def _head(frame, at_start, spread, by) -> str:
    """'frame F<by> (spread)', or what an onset at the first frame means when its nucleus
    was already there."""
    if at_start:
        from ..tracking.onset import AT_START

        return f"frame {frame}{by}: {AT_START}"
    return f"frame {frame}{by}{_spread(spread)}"


def fraction_line(s) -> str:
    """'final crystalline fraction ...': the crystalline core's, the per-atom crystal call,
    beside the crystal-like atoms' (halo included); the latter alone when the core is off."""
    like = s["crystalline_fraction_final"]
    core = s.get("core_fraction_final")
    if core is None:
        return f"final crystal-like fraction {like:.3f}"
    return (f"final crystalline fraction {core:.3f} (crystalline core; crystal-like, halo "
            f"included: {like:.3f})")


def _spread(pair) -> str:
    """' (frames a-b at its threshold -/+ 10 %)' from the summary's onset spread."""
    if not pair:
        return ""
    lo, hi = ("none" if v is None else v for v in pair)
    return f" (frames {lo}-{hi} at its threshold -/+ 10 %)"


def _cmd_analyze(args) -> int:
    from .pipeline import analyze

    res = analyze(args.trajectory, args.out, config=args.config, frames=_frames(args.frames),
                  resume=args.resume, progress=not args.quiet, workers=args.workers,
                  scheduler=args.scheduler, force=args.force)
    s = res.summary
    print(f"analysed {s['frames']} frames; {s['n_communities']} communities; "
          f"crystal-like: {', '.join(s['crystal_structures']) or 'none'}")
    print("structures: " + ", ".join(f"{k} = {v}" for k, v in s['structures'].items()))
    print(onset_line(s))
    print(f"{critical_line(s)}; {fraction_line(s)}")
    if s["skipped_frames"]:
        print(f"skipped frames: {sorted(s['skipped_frames'])} (see the log and report)")
    report = res.out / "report.html"
    print(f"report: {report}" if report.exists() else f"outputs: {res.out} (report switched off)")
    return 0


def _cmd_demo(args) -> int:
    from descriptors import demo_trajectory_path

    args.trajectory = str(demo_trajectory_path())
    print(f"crystopo demo: analysing the bundled trajectory {args.trajectory}")
    return _cmd_analyze(args)


def _add_run_options(p, *, trajectory=True):
    if trajectory:
        p.add_argument("trajectory", help="LAMMPS dump (plain or .gz) or any file ase.io reads")
    p.add_argument("--out", default="crystopo-demo" if not trajectory else None,
                   required=trajectory, help="output directory")
    p.add_argument("--config", help="TOML file overriding the defaults (see `crystopo config`)")
    p.add_argument("--frames", help="START:STOP:STEP over the input frames (0-based)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--force", action="store_true",
                   help="write into an --out that holds files crystopo did not write")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--workers", type=int, help="run the descriptor stage on a local Dask cluster")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler")


def _cmd_propensity(args) -> int:
    from .propensity import propensity

    res = propensity(args.trajectory, args.out, horizon=args.horizon, config=args.config,
                     frames=_frames(args.frames), n_blocks=args.blocks, model=args.model, seed=args.seed,
                     past=args.past, progress=not args.quiet, force=args.force,
                     target=args.target)
    for h, auc in res.roc_auc.items():
        top = ", ".join(list(res.importances.get(h, {}))[:3])
        print(f"horizon {h}: ROC-AUC {'n/a' if auc is None else f'{auc:.3f}'} "
              f"(positive rate {res.positive_rate[h]:.3f}); top inputs: {top or 'n/a'}")
    print(f"propensities: {args.out}/propensity.parquet; scores: {args.out}/propensity.json")
    return 0


def _cmd_config(args) -> int:
    from .config import DEFAULTS, config_to_toml

    print(config_to_toml(DEFAULTS))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crystopo", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="frames, atoms, box, columns and timesteps of a trajectory")
    p.add_argument("trajectory", help="LAMMPS dump (plain or .gz) or any file ase.io reads")
    p.add_argument("--types", action="store_true", help="also count atoms per type (parses frame 0)")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("analyze", help="the whole chain: descriptors, multilayer Leiden, tracking, report")
    _add_run_options(p)
    p.set_defaults(func=_cmd_analyze)
    p = sub.add_parser("demo", help="run analyze on the bundled Lennard-Jones nucleation trajectory")
    _add_run_options(p, trajectory=False)
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("propensity", help="P(crystal H frames later) for atoms not crystal now, "
                       "trained out of fold on the run's own labels (runs/reuses analyze)")
    p.add_argument("trajectory", help="LAMMPS dump (plain or .gz) or any file ase.io reads")
    p.add_argument("--horizon", type=int, nargs="+", required=True, metavar="H",
                   help="frames ahead (one or more)")
    p.add_argument("--out", required=True, help="output directory (an analyze run is reused)")
    p.add_argument("--config", help="TOML file overriding the defaults (see `crystopo config`)")
    p.add_argument("--frames", help="START:STOP:STEP over the input frames (0-based)")
    p.add_argument("--blocks", type=int, default=3, help="spatial blocks per box axis (3)")
    p.add_argument("--past", type=int, default=1, metavar="W",
                   help="also use each atom's average inputs over its last W frames and how "
                        "often it was crystal-like in them (1: the present frame only)")
    p.add_argument("--model", choices=["hgb", "logistic"], default="hgb")
    p.add_argument("--target", choices=["core", "crystal_like"], default="core",
                   help="crystal means: in the crystalline core (the atom's own first shell is a "
                        "crystal's; default), or crystal-like")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true",
                   help="write into an --out that holds files crystopo did not write")
    p.set_defaults(func=_cmd_propensity)
    p = sub.add_parser("config", help="print the default configuration as TOML")
    p.set_defaults(func=_cmd_config)
    from .cli_classify import add_classify_parser

    add_classify_parser(sub)      # crystopo classify: train on labelled frames, label a trajectory
    return parser


def _exit_on_interrupt(command: str) -> None:
    """Ctrl-C ends the command at once with one line and exit status 130.

    A KeyboardInterrupt raised into Python while numba's parallel kernels or freud's threads
    run surfaces as a SystemError from the compiled dispatcher, and unwinding the interpreter
    under live native threads could segfault (measured: 2 of 5 interrupts of ``crystopo demo``).
    Every checkpoint and output is written through a temporary name and a rename (the output
    set under a journal), so stopping the process where it stands loses nothing a ``--resume``
    needs: the handler flushes the streams, stops child processes (a local Dask cluster) and
    leaves with ``os._exit``.
    """
    import os
    import signal

    def handler(signum, frame):
        import multiprocessing

        try:
            sys.stdout.flush()
            sys.stderr.write(f"\ncrystopo {command}: interrupted; rerun with --resume to "
                             f"continue\n")
            sys.stderr.flush()
            for child in multiprocessing.active_children():
                child.terminate()
        finally:
            os._exit(130)

    signal.signal(signal.SIGINT, handler)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    import warnings

    # the readers' warnings are logged as well: on the command line, say them once
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(multilayer|descriptors)\.")
    if argv is None and args.command in ("analyze", "demo", "propensity", "classify"):
        _exit_on_interrupt(args.command)     # the console command, not main([...]) in Python
    try:
        return int(args.func(args) or 0)
    except (TrajectoryFormatError, FileNotFoundError, ValueError, KeyError, ImportError) as err:
        print(f"crystopo {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:                        # permissions, disk full, a path that is a file
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"crystopo {args.command}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"crystopo {args.command}: interrupted; rerun with --resume to continue",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
