"""Mapper at scale: time, throughput and peak memory of :func:`multilayer.mapper`.

    python benchmarks/bench_mapper.py                       # 10^4, 10^5, 10^6 points
    python benchmarks/bench_mapper.py --sizes 1e4 1e5 --exact-max 1e5 --separation 10

Points: (frame, atom) rows of :class:`multilayer.network.synthetic.LazyBlobFrames`
(10 frames, 8 float32 features, three Gaussian structures ``--separation`` sigma apart,
atoms switching to the third one at random times), materialised before the clock
starts.  Mapper as ``analyze`` calls it (lens: frame and PC1, cover (8, 0.3), default
DBSCAN, min_points=3), on all points (no sampling).  Methods:

* ``own``: the default path (microstates above 10 x n_microstates points);
* ``exact``: own backend clustering every point (``n_microstates=None``);
* ``gudhi``: GUDHI's ``MapperComplex`` on the same lens, cover and clusterer.

``exact`` and ``gudhi`` run up to ``--exact-max`` points.  Each run is a fresh
subprocess, so that its peak memory (ru_maxrss, data included; ``data GB`` is the
peak before Mapper) is its own.  ``match``: mean (min) over the nodes of the exact
graph of the best Jaccard overlap with a node of this graph; ``comp``: connected
components.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, time
import networkx as nx
import numpy as np
from multilayer.network.mapper import mapper
from multilayer.network.synthetic import LazyBlobFrames
a = json.loads(ARGS)
frames = LazyBlobFrames(a["n"] // 10, 10, n_features=8, separation=a["separation"], seed=0)
feats = [frames[t] for t in range(10)]
data_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
kw = {"own": {}, "exact": {"n_microstates": None}, "gudhi": {"backend": "gudhi"}}[a["method"]]
t = time.perf_counter()
g = mapper(feats, cover=(8, 0.3), min_points=3, max_points=a["n"], seed=0, **kw)
sec = time.perf_counter() - t
keys = [d["frames"] * 10**7 + d["rows"] for _, d in g.nodes(data=True)]
np.savez(a["out"], keys=np.concatenate(keys), sizes=[len(k) for k in keys])
print(json.dumps({"seconds": sec, "data_gb": data_gb,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "nodes": g.number_of_nodes(), "edges": g.number_of_edges(),
                  "components": nx.number_connected_components(g),
                  "microstates": g.graph.get("n_microstates", 0)}))
"""


def run_case(args: dict, timeout: float) -> dict | None:
    code = CHILD.replace("ARGS", repr(json.dumps(args)))
    try:
        out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _nodes(path):
    z = np.load(path)
    return [set(k.tolist()) for k in np.split(z["keys"], np.cumsum(z["sizes"])[:-1])]


def match(exact_path, other_path) -> tuple[float, float]:
    """Mean and min over the exact nodes of the best Jaccard overlap with an other node."""
    exact, other = _nodes(exact_path), _nodes(other_path)
    owner = {}
    for j, b in enumerate(other):
        for p in b:
            owner.setdefault(p, []).append(j)
    best = []
    for a in exact:
        hits = np.bincount([j for p in a for j in owner.get(p, ())], minlength=len(other))
        best.append(max(hits[j] / len(a | other[j]) for j in np.flatnonzero(hits))
                    if hits.any() else 0.0)
    return float(np.mean(best)), float(np.min(best))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1e4, 1e5, 1e6])
    p.add_argument("--exact-max", type=float, default=1e5)
    p.add_argument("--separation", type=float, default=14.0)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    ns = p.parse_args(argv)
    print(f"{'points':>10} {'method':<6}{'seconds':>9}{'points/s':>11}{'peak GB':>9}"
          f"{'data GB':>9}{'nodes':>7}{'edges':>7}{'comp':>6}{'micro':>7}"
          f"{'match mean (min)':>19}{'vs own':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in ns.sizes):
            methods = ["own"] + (["exact", "gudhi"] if n <= ns.exact_max else [])
            res = {}
            for m in methods:
                out = str(Path(tmp) / f"{n}_{m}.npz")
                r = run_case({"n": n, "method": m, "separation": ns.separation, "out": out},
                             ns.timeout)
                if r is None:
                    print(f"{n:>10,} {m:<6}{'> ' + str(int(ns.timeout)):>9}  (timed out)")
                    continue
                res[m] = (r, out)
            for m, (r, out) in res.items():
                agree = ""
                if "exact" in res:
                    agree = "{:.4f} ({:.3f})".format(*match(res["exact"][1], out))
                ratio = r["seconds"] / res["own"][0]["seconds"] if "own" in res else float("nan")
                print(f"{n:>10,} {m:<6}{r['seconds']:>9.2f}{n / r['seconds']:>11,.0f}"
                      f"{r['peak_gb']:>9.2f}{r['data_gb']:>9.2f}{r['nodes']:>7}{r['edges']:>7}"
                      f"{r['components']:>6}{r['microstates']:>7}{agree:>19}{ratio:>7.1f}x",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
