"""fcc, hcp and liquid atoms fall into separate communities (averaged Steinhardt features).

Two sources of configurations:

* ``"lammps"``: thermalised Lennard-Jones fcc and hcp (T* = 0.6, density 1.0) and liquid
  (T* = 0.8, density 0.85) from :func:`descriptors.md.lj_phase_frames` (skipped without
  LAMMPS);
* ``"lattice"``: ideal lattices with 6 % Gaussian noise and a random-sequential-addition
  packing as the liquid-like configuration (no MD needed).

Features are Lechner-Dellago averaged q4, q6, q8 (descriptors.steinhardt, computed with
freud).  Every frame holds the three phases side by side (ids offset per phase), and the
frames are successive thermal snapshots.
"""
import numpy as np
import pytest

from descriptors import make_lattice
from descriptors.frame import Box, Frame
from multilayer.network.leiden import leiden
from multilayer.network.metrics import matched_accuracy
from multilayer.network.graph import build_network

N_FRAMES = 4


def _steinhardt(frame):
    from descriptors.steinhardt import steinhardt
    return steinhardt(frame, l=(4, 6, 8), average=True).astype(np.float64)


def _rsa_liquid(n, density, min_dist, seed):
    """Random sequential addition in a periodic cube: a dense, disordered configuration."""
    rng = np.random.default_rng(seed)
    length = (n / density) ** (1 / 3)
    pts = np.empty((0, 3))
    while len(pts) < n:
        trial = rng.random((64, 3)) * length
        for p in trial:
            d = pts - p
            d -= length * np.round(d / length)
            if len(pts) == 0 or (d ** 2).sum(axis=1).min() > min_dist ** 2:
                pts = np.vstack([pts, p])
                if len(pts) == n:
                    break
    return Frame(pts, Box.orthogonal([length] * 3))


def _lattice_frames(t):
    fcc = make_lattice("fcc", 4, noise=0.06, seed=10 + t)
    hcp = make_lattice("hcp", (4, 3, 3), noise=0.06, seed=20 + t)
    liq = _rsa_liquid(200, np.sqrt(2.0), 0.75, seed=30 + t)
    return [fcc, hcp, liq]


@pytest.fixture(scope="module", params=["lattice", "lammps"])
def phases(request, tmp_path_factory):
    """Per frame: features (n, 3), ids (n,), truth (n,) with 0 fcc, 1 hcp, 2 liquid."""
    if request.param == "lammps":
        md = pytest.importorskip("descriptors.md")
        if not md.lammps_available():
            pytest.skip("LAMMPS not installed")
        from descriptors import read_trajectory
        tmp = tmp_path_factory.mktemp("md")
        runs = []
        for phase, temp in [("fcc", 0.6), ("hcp", 0.6), ("liquid", 0.8)]:
            path = md.lj_phase_frames(phase, temp, tmp / f"{phase}.dump", n_cells=4, seed=7,
                                      n_frames=N_FRAMES, equilibration_time=5.0,
                                      frame_interval=2.0, melt_time=5.0, cooling_time=2.0,
                                      n_threads=1)
            runs.append(read_trajectory(path))
        per_frame = [[run[t] for run in runs] for t in range(N_FRAMES)]
    else:
        per_frame = [_lattice_frames(t) for t in range(N_FRAMES)]
    feats, ids, truth = [], [], []
    for frames in per_frame:
        feats.append(np.concatenate([_steinhardt(f) for f in frames]))
        ids.append(np.concatenate([f.ids + 10_000 * p for p, f in enumerate(frames)]))
        truth.append(np.concatenate([np.full(f.n_atoms, p) for p, f in enumerate(frames)]))
    return request.param, feats, ids, truth


@pytest.mark.parametrize("nodes", ["atoms", "microstates"])
def test_phases_fall_into_separate_communities(phases, nodes):
    source, feats, ids, truth = phases
    net = build_network(feats, ids, nodes=nodes, k=10, n_microstates=60, seed=0)
    labels = leiden(net, seed=0)
    got = np.concatenate([net.frame_labels(labels, t) for t in range(N_FRAMES)])
    # 0.95 (the bar): a few thermally distorted crystal atoms may look liquid-like
    assert matched_accuracy(got, np.concatenate(truth)) >= 0.95, source
