"""Plot the largest nucleus of every frame, method by method, with the onset each one gives.

Reads the JSON of ``bench_onset_references.py --json`` (its ``largest`` series: OVITO's PTM at
RMSD cutoffs 0.10, 0.08 and 0.12, adaptive CNA, ten Wolde, and crystopo's crystalline core
when ``--labels`` was given) and draws one panel per run: the series on a log scale, the
20-atom threshold of the onset with the band of 10 % either side, and each method's onset
(the frame from which its largest nucleus stays at or above the threshold).  It shows what
the onset comparison in the README measures: slowly rising, flickering series whose
crossings move by several frames when the threshold or the detector changes.

    python benchmarks/plot_onsets.py REFS.json [--out benchmarks/figures/onsets.png]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_onsets import stays  # noqa: E402

#: series drawn, in order: (key in the JSON, legend, colour, line width)
SERIES = (("ptm", "PTM (RMSD 0.10), the reference", "black", 2.0),
          ("ptm_0.08", "PTM at 0.08", "0.6", 1.0),
          ("ptm_0.12", "PTM at 0.12", "0.6", 1.0),
          ("acna", "adaptive CNA", "tab:blue", 1.4),
          ("core", "crystopo's crystalline core", "tab:red", 1.6))


def onset_at(series, threshold: float):
    """The frame from which ``series`` stays at or above ``threshold`` (None: never)."""
    y = np.asarray(series)
    return stays(y, threshold, list(range(len(y))))


def plot_runs(runs, out: Path, threshold: float = 20.0) -> Path:
    """One panel per run of ``runs`` (``bench_onset_references.py --json`` entries)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("no runs to plot")
    n = len(runs)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.9 * rows), squeeze=False)
    for ax, run in zip(axes.ravel(), runs):
        largest = run["largest"]
        for key, label, colour, width in SERIES:
            if key not in largest:
                continue
            y = np.maximum(np.asarray(largest[key], dtype=float), 0.8)  # 0 on a log axis
            style = {"ptm_0.08": "--", "ptm_0.12": ":"}.get(key, "-")
            onset = onset_at(largest[key], threshold)
            ax.plot(np.arange(len(y)), y, style, color=colour, lw=width,
                    label=f"{label}: onset {onset if onset is not None else 'none'}")
            if onset is not None and key in ("ptm", "acna", "core"):
                ax.axvline(onset, color=colour, lw=0.8, alpha=0.7)
        ax.axhspan(0.9 * threshold, 1.1 * threshold, color="tab:orange", alpha=0.15,
                   label=f"{threshold:g} atoms -/+ 10 %")
        ax.axhline(threshold, color="tab:orange", lw=0.8)
        ptm = run["onsets"].get("ptm")
        if ptm is not None:
            ax.axvspan(ptm - 3, ptm + 3, color="0.85", alpha=0.5, zorder=0,
                       label="within 3 frames of PTM's onset")
        ax.set_yscale("log")
        ax.set_xlabel("frame")
        ax.set_ylabel("largest nucleus (atoms)")
        ax.set_title(run["dataset"], fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("refs", type=Path, help="JSON of bench_onset_references.py --json")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "figures" / "onsets.png")
    ap.add_argument("--only", action="append", help="run name (repeatable)")
    ap.add_argument("--threshold", type=float, default=20.0)
    args = ap.parse_args(argv)
    runs = json.loads(args.refs.read_text())
    if args.only:
        order = {name: k for k, name in enumerate(args.only)}
        runs = sorted((r for r in runs if r["dataset"] in order),
                      key=lambda r: order[r["dataset"]])
    print(plot_runs(runs, args.out, args.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
