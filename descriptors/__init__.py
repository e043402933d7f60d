"""crystopo.descriptors: frames, trajectory I/O, periodic neighbour lists and per-atom descriptors.

Note: the PyPI distributions named ``descriptors`` and ``tda`` are unrelated
projects; crystopo installs import packages of the same names, so do not
install those distributions in the same environment.
"""
from .frame import Box, Frame, TrajectoryFormatError, as_frame, check_positions
from .io import (AseTrajectory, FrameSequence, demo_trajectory_path, read_frame,
                 read_trajectory, write_extxyz, write_lammps_dump)
from .lammps_dump import LammpsDumpTrajectory
from .lattice import LATTICES, make_lattice
from .neighbors import NeighborList, first_shell_distance, neighbor_list

__all__ = [
    "Box", "Frame", "TrajectoryFormatError", "as_frame", "check_positions",
    "AseTrajectory", "FrameSequence", "LammpsDumpTrajectory", "demo_trajectory_path",
    "read_frame", "read_trajectory", "write_extxyz", "write_lammps_dump",
    "LATTICES", "make_lattice", "NeighborList", "first_shell_distance", "neighbor_list",
]
from .neighbors_map import (NMAP_BACKENDS, default_map_cutoff, iter_neighbors_map, neighbors_map,
                            neighbors_map_features)
from .plot import plot_maps, plot_mean_map, plot_neighbors_map
from .steinhardt import (default_shell_cutoff, solid_bond_counts, solid_liquid, steinhardt,
                         steinhardt_w, wigner_3j)

__all__ += [
    "NMAP_BACKENDS", "default_map_cutoff", "iter_neighbors_map", "neighbors_map",
    "neighbors_map_features", "plot_maps", "plot_mean_map", "plot_neighbors_map",
    "default_shell_cutoff", "solid_bond_counts", "solid_liquid", "steinhardt", "steinhardt_w",
    "wigner_3j",
]
from .shell import SHELL_KINDS, ideal_shell, shell_distortion

__all__ += ["SHELL_KINDS", "ideal_shell", "shell_distortion"]
from .soap import (ACSF_DEFAULTS, SOAP_DEFAULTS, acsf_features, acsf_n_features, soap_features,
                   soap_n_features)

__all__ += ["ACSF_DEFAULTS", "SOAP_DEFAULTS", "acsf_features", "acsf_n_features", "soap_features",
            "soap_n_features"]
