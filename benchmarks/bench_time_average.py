"""Time averaging against thermal noise: LJ fcc crystal vs liquid near melting.

Thermalised LJ fcc (density 0.96) and liquid (density 0.85) at T* = 0.72, close to the
triple point, 24 frames 0.1 tau apart each (``descriptors.md.lj_phase_frames``, LAMMPS).
Per-atom SOAP (crystopo defaults) and Steinhardt q4/q6 (not neighbour-averaged) are
averaged over a centred moving window of w frames, matched by atom id
(``multilayer.moving_average``).  On the 8 central frames (every window fits), atoms of
both systems are pooled and classified without labels by a 2-component Gaussian mixture
(standardised features; SOAP reduced to 10 principal axes first): the table gives the
matched accuracy.  The q6 column is the best single threshold on q6 (an upper bound for
that order parameter).

    python benchmarks/bench_time_average.py [--workdir DIR] [--temperature 0.72]

The MD frames are cached in ``--workdir`` (about 30 s of LAMMPS the first time).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

WINDOWS = [1, 2, 4, 8, 16]
N_FRAMES = 24
CENTRAL = range(8, 16)


def _frames(workdir: Path, temperature: float):
    from descriptors import read_trajectory
    from descriptors.md import lj_phase_frames

    out = {}
    for phase, density in (("fcc", 0.96), ("liquid", 0.85)):
        path = workdir / f"{phase}_T{temperature}.dump"
        if not path.exists():
            lj_phase_frames(phase, temperature, path, n_cells=6, seed=7, n_frames=N_FRAMES,
                            density=density, frame_interval=0.1, equilibration_time=20.0)
        out[phase] = list(read_trajectory(path))
    return out


def _features(frames):
    from descriptors import first_shell_distance, steinhardt
    from descriptors.soap import soap_features

    d = first_shell_distance(frames[0])
    soap, q = [], []
    for f in frames:
        soap.append(soap_features(f, nn_distance=d))
        q.append(steinhardt(f, l=[4, 6], average=False).astype(np.float32))
    return soap, q


def _accuracy(x, truth, n_pca, seed=0):
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    from multilayer.network.metrics import matched_accuracy

    z = StandardScaler().fit_transform(x)
    if n_pca:
        z = PCA(n_pca, random_state=seed).fit_transform(z)
    lab = GaussianMixture(2, n_init=3, random_state=seed).fit_predict(z)
    return matched_accuracy(lab, truth)


def _best_threshold(v, truth):
    order = np.argsort(v)
    t = truth[order]
    # accuracy of "crystal above the cut" for every cut, and of the reverse
    above = np.concatenate([[t.sum()], t.sum() - np.cumsum(t)])
    below_liq = np.concatenate([[0], np.cumsum(1 - t)])
    acc = (above + below_liq) / len(t)
    return float(max(acc.max(), 1 - acc.min()))


def main(argv=None):
    from multilayer import moving_average

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="/tmp/crystopo-bench-time-average")
    ap.add_argument("--temperature", type=float, default=0.72)
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frames = _frames(work, args.temperature)
    t_md = time.perf_counter() - t0
    feats = {ph: _features(fr) for ph, fr in frames.items()}
    t_feat = time.perf_counter() - t0 - t_md
    print(f"LJ fcc (rho 0.96, {frames['fcc'][0].n_atoms} atoms) and liquid (rho 0.85, "
          f"{frames['liquid'][0].n_atoms} atoms) at T* = {args.temperature}, {N_FRAMES} frames "
          f"0.1 tau apart; MD {t_md:.0f} s, features {t_feat:.0f} s\n")
    print("| window (frames) | span (tau) | SOAP + GMM accuracy | q4,q6 + GMM accuracy "
          "| q6 best threshold | averaging time (s) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for w in WINDOWS:
        t1 = time.perf_counter()
        pooled = {"soap": [], "q": []}
        truth = []
        for k, phase in enumerate(("fcc", "liquid")):
            ids = [f.ids for f in frames[phase]]
            soap, q = feats[phase]
            for name, seq in (("soap", soap), ("q", q)):
                avg = list(moving_average(list(zip(ids, seq)), w, centered=True))
                pooled[name] += [avg[t][1] for t in CENTRAL]
            truth += [np.full(len(ids[t]), 1 - k) for t in CENTRAL]
        t_avg = time.perf_counter() - t1
        truth = np.concatenate(truth)
        xs, xq = np.concatenate(pooled["soap"]), np.concatenate(pooled["q"])
        print(f"| {w} | {0.1 * (w - 1):.1f} | {_accuracy(xs, truth, 10):.4f} | "
              f"{_accuracy(xq, truth, 0):.4f} | {_best_threshold(xq[:, 1], truth):.4f} | "
              f"{t_avg:.2f} |")


if __name__ == "__main__":
    main()
