"""The ``crystopo`` command line: ``crystopo info TRAJ`` and, later, the analysis commands."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crystopo", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="frames, atoms, box, columns and timesteps of a trajectory")
    p.add_argument("trajectory", help="LAMMPS dump (plain or .gz) or any file ase.io reads")
    p.add_argument("--types", action="store_true", help="also count atoms per type (parses frame 0)")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (TrajectoryFormatError, FileNotFoundError, ValueError, KeyError) as err:
        print(f"crystopo {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"crystopo {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
