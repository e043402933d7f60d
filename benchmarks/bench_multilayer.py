"""Multilayer network build + multislice Leiden: time and peak memory at scale.

    python benchmarks/bench_multilayer.py                    # both cases, full size
    python benchmarks/bench_multilayer.py --case atoms       # 10^4 atoms x 50 frames
    python benchmarks/bench_multilayer.py --case microstates --atoms 200000 --frames 20

Features are synthetic (:class:`multilayer.network.synthetic.LazyBlobFrames`: 8 float32 columns,
three Gaussian structures, atoms switching to the third one at random times), generated
frame by frame on access, so the trajectory is never held in memory -- as with a Zarr
store.  Their generation (two passes over the frames) is included in the build time and
estimated separately.  Each case runs in a fresh subprocess so that its peak memory
(ru_maxrss) is its own.  Accuracy: best-matching accuracy of the labels against the
planted structures on every 10th frame.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, time
import numpy as np
from multilayer import build_network, leiden_nodes, matched_accuracy
from multilayer.network.synthetic import LazyBlobFrames
a = json.loads(ARGS)
frames = LazyBlobFrames(a["atoms"], a["frames"], n_features=a["features"], seed=0)
t = time.perf_counter()
for i in range(min(5, a["frames"])):
    frames[i]
gen = (time.perf_counter() - t) / min(5, a["frames"]) * 2 * a["frames"]
t = time.perf_counter()
net = build_network(frames, np.arange(a["atoms"]), nodes=a["nodes"], k=a["k"],
                    n_microstates=a["microstates"], seed=0)
t_build = time.perf_counter() - t
t = time.perf_counter()
node_labels = leiden_nodes(net, seed=0)
t_leiden = time.perf_counter() - t
t = time.perf_counter()
labels = net.atom_labels(node_labels)
t_labels = time.perf_counter() - t
check = np.arange(0, a["frames"], 10)
truth = np.stack([frames.labels(int(f)) for f in check])
acc = matched_accuracy(labels[check], truth)
print(json.dumps({"nodes": a["nodes"], "atoms": a["atoms"], "frames": a["frames"],
                  "n_nodes": int(net.n_nodes), "intra_edges": int(len(net.intra_edges)),
                  "inter_edges": int(len(net.inter_edges)),
                  "communities": int(node_labels.max() + 1), "build_s": t_build,
                  "generation_s": gen, "leiden_s": t_leiden, "labels_s": t_labels,
                  "accuracy": acc,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
"""


def run_case(args: dict) -> dict:
    code = CHILD.replace("ARGS", repr(json.dumps(args)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", choices=["atoms", "microstates", "all"], default="all")
    p.add_argument("--atoms", type=int, help="atoms per frame (default 10^4 / 10^6)")
    p.add_argument("--frames", type=int, help="frames (default 50 / 100)")
    p.add_argument("--microstates", type=int, default=500)
    p.add_argument("--features", type=int, default=8)
    p.add_argument("--k", type=int, default=15)
    ns = p.parse_args(argv)
    cases = ["atoms", "microstates"] if ns.case == "all" else [ns.case]
    defaults = {"atoms": (10_000, 50), "microstates": (1_000_000, 100)}
    print(f"{'nodes':<12}{'atoms x frames':>18}{'graph nodes':>13}{'edges':>12}{'comm':>6}"
          f"{'build s':>9}{'(gen s)':>9}{'leiden s':>10}{'labels s':>10}{'peak GB':>9}"
          f"{'acc':>7}")
    for case in cases:
        n, t = defaults[case]
        r = run_case({"nodes": case, "atoms": ns.atoms or n, "frames": ns.frames or t,
                      "microstates": ns.microstates, "features": ns.features, "k": ns.k})
        print(f"{case:<12}{r['atoms']:>10,} x {r['frames']:<5}{r['n_nodes']:>13,}"
              f"{r['intra_edges'] + r['inter_edges']:>12,}{r['communities']:>6}"
              f"{r['build_s']:>9.1f}{r['generation_s']:>9.1f}{r['leiden_s']:>10.1f}"
              f"{r['labels_s']:>10.1f}{r['peak_gb']:>9.2f}{r['accuracy']:>7.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
