"""The descriptor-space route beside crystopo's features: embedding -> GMM (BIC) / HDBSCAN.

Feature sets: SOAP (dscribe, crystopo defaults), the Neighbors Map and per-atom
persistence (crystopo's ``analyze`` defaults), each standardised, embedded in 2-d by
PCA, UMAP or parametric PaCMAP (PCA initialisation, seed 0, fitted on a 5000-atom
sample of all frames) and clustered by a Gaussian mixture (1-6 components, BIC) or
HDBSCAN (min_cluster_size 50, on the sample; the other atoms take their nearest sampled
neighbour's cluster, noise is one more cluster).

Two data sets:

* ``lattices``: fcc, hcp and bcc with 8 % Gaussian displacements and 30 % vacancies
  (two boxes each, about 3300 atoms in all); truth = the lattice;
* ``demo``: the bundled LJ nucleation trajectory, every 5th frame (10 x 4000 atoms); truth
  = crystopo's own crystal-like labels (``analyze`` defaults) -- agreement, not accuracy.

ARI and Hungarian-matched accuracy (extra clusters count as errors), and the seconds for
features + embedding + clustering.

    python benchmarks/bench_soap_route.py [--data lattices demo] [--out DIR]

Prints Markdown tables ready for the README.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

METHODS = ("pca", "umap", "pacmap")
SETS = ("soap", "neighbors_map", "persistence")


def _cluster(y_sample, y_all, how, seed=0):
    from sklearn.cluster import HDBSCAN
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import KNeighborsClassifier

    if how == "gmm":
        best, bic = None, np.inf
        for k in range(1, 7):
            gm = GaussianMixture(k, n_init=2, random_state=seed).fit(y_sample)
            b = gm.bic(y_sample)
            if b < bic:
                best, bic = gm, b
        return best.predict(y_all), best.n_components
    lab = HDBSCAN(min_cluster_size=50).fit_predict(y_sample)
    lab = np.where(lab < 0, lab.max() + 1, lab)
    knn = KNeighborsClassifier(1).fit(y_sample, lab)
    return knn.predict(y_all), len(np.unique(lab))


def _route(feats, truth, set_name, method, seed=0):
    from multilayer.learn.embedding import fit_embedding
    from multilayer.network.metrics import adjusted_rand, matched_accuracy

    t0 = time.perf_counter()
    seq = [{set_name: f[set_name]} for f in feats]
    emb = fit_embedding(seq, [f["ids"] for f in feats], method=method, sample_size=5000,
                        seed=seed, pca_components=30 if method != "pca" else None)
    y = np.concatenate([emb.transform(s[set_name]) for s in seq])
    t_emb = time.perf_counter() - t0
    rows = []
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(y), min(len(y), 5000), replace=False))
    for how in ("gmm", "hdbscan"):
        t1 = time.perf_counter()
        lab, k = _cluster(y[sample], y, how, seed)
        rows.append((set_name, method, how, k, adjusted_rand(lab, truth),
                     matched_accuracy(lab, truth), t_emb + time.perf_counter() - t1))
    return rows


def _lattice_data():
    from descriptors import make_lattice
    from multilayer.app.config import load_config
    from multilayer.network.featureset import FeatureSet

    frames, truth = [], []
    for k, (kind, cells) in enumerate((("fcc", 6), ("hcp", (6, 4, 4)), ("bcc", 8))):
        for seed in (1, 2):
            f = make_lattice(kind, cells, noise=0.08, vacancies=0.3, seed=10 * k + seed)
            frames.append(f)
            truth.append(np.full(f.n_atoms, k))
    cfg = load_config(None, {"features": {"sets": list(SETS)}})
    t0 = time.perf_counter()
    fs = FeatureSet.from_config(cfg).fit(frames[0])
    feats = [fs.transform(f).arrays() for f in frames]
    return feats, np.concatenate(truth), time.perf_counter() - t0


def _demo_data(out):
    import pandas as pd

    from descriptors import demo_trajectory_path, read_trajectory
    from descriptors.soap import soap_features
    from multilayer import analyze

    res = analyze(demo_trajectory_path(), out, resume=True)
    traj = read_trajectory(demo_trajectory_path())
    picks = list(range(0, 50, 5))
    store = res.feature_store()
    labels = pd.read_parquet(out / "labels.parquet", columns=["frame", "id", "crystal_like"])
    feats, truth = [], []
    t0 = time.perf_counter()
    d1 = res.summary["nn_distance"]
    for i in picks:
        f = traj[i]
        arr = store.read(i, ["ids", "neighbors_map", "persistence"])
        arr["soap"] = soap_features(f, nn_distance=d1)
        feats.append(arr)
        lab = labels[labels["frame"] == i].set_index("id")["crystal_like"].reindex(arr["ids"])
        truth.append(lab.to_numpy(dtype=int))
    return feats, np.concatenate(truth), time.perf_counter() - t0


def main(argv=None):
    from pathlib import Path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["lattices", "demo"],
                    choices=["lattices", "demo"])
    ap.add_argument("--out", default="/tmp/crystopo-bench-propensity",
                    help="analyze output of the demo run (reused; shared with bench_propensity)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = ap.parse_args(argv)
    for data in args.data:
        if data == "lattices":
            feats, truth, t_feat = _lattice_data()
            title = (f"noisy lattices (fcc/hcp/bcc, 8 % noise, 30 % vacancies, {len(truth)} "
                     f"atoms); truth: lattice")
        else:
            feats, truth, t_feat = _demo_data(Path(args.out))
            title = (f"bundled LJ trajectory, 10 frames ({len(truth)} atom-frames); truth: "
                     f"crystopo crystal-like labels ({truth.mean():.2f} of atoms)")
        what = "SOAP, Neighbors Map and persistence" if data == "lattices" else \
            "SOAP (the others are read from the analyze run)"
        print(f"\n{title}; features: {what} in {t_feat:.1f} s\n")
        print("| features | embedding | clustering | clusters | ARI | matched accuracy | "
              "embed + cluster (s) |")
        print("|---|---|---|---:|---:|---:|---:|")
        for set_name in SETS:
            for method in args.methods:
                for row in _route(feats, truth, set_name, method):
                    print("| {} | {} | {} | {} | {:.3f} | {:.3f} | {:.1f} |".format(*row),
                          flush=True)


if __name__ == "__main__":
    main()
