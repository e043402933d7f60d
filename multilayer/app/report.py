"""Figures (PNG) and the self-contained HTML report of ``crystopo analyze``."""
from __future__ import annotations

import base64
import html
import json
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def make_figures(folder: Path, labels, ids, good, tracked, last_frame, names=None) -> dict:
    """Render the analysis figures into ``folder``; return {title: filename}."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..tracking.plot import (plot_alluvial, plot_growth_probability, plot_largest_nucleus,
                                 plot_mfpt, plot_populations, plot_slab)

    nuc = tracked.nuclei
    times = np.asarray(good)
    onset = tracked.onset
    one, many = (("community", "communities") if names is None    # names in every legend
                 else ("structure", "structures"))
    jobs = [
        ("Structure populations over time", "populations.png",
         lambda ax: plot_populations(labels, ids, times=times, names=names, ax=ax,
                                     time_label="frame")),
        (f"Flow of atoms between {many}", "alluvial.png",
         lambda ax: plot_alluvial(labels, ids, names=names, times=times, ax=ax)),
        ("Largest nucleus over time", "largest_nucleus.png",
         lambda ax: plot_largest_nucleus(
             nuc.largest, times=times, onset=onset, ax=ax,
             core=tracked.core, core_onset=tracked.onset_core, time_label="frame",
             core_committed=tracked.committed_core)),
        (f"Slab of the last frame coloured by {one}", "slab.png",
         lambda ax: plot_slab(last_frame, labels[-1], names=names, ax=ax)),
    ]
    if tracked.core is None and tracked.mfpt is not None:
        jobs.append(("Mean first-passage time and fit", "mfpt.png",
                     lambda ax: plot_mfpt(tracked.mfpt, ax=ax)))
    elif tracked.mfpt is not None or tracked.mfpt_crystal_like is not None:
        def both(ax):      # the core's fit (the critical size reported) and the halo's
            for fit, label, color in ((tracked.mfpt, "crystalline core", "C0"),
                                      (tracked.mfpt_crystal_like,
                                       "crystal-like nuclei (halo included)", "C7")):
                if fit is not None:
                    plot_mfpt(fit, ax=ax, label=label, color=color)

        jobs.append(("Mean first-passage time and fit: crystalline core, crystal-like nuclei",
                     "mfpt.png", both))
    if tracked.growth is not None:
        jobs.append(("Growth probability of the crystalline core's nuclei (critical size)",
                     "growth_probability.png",
                     lambda ax: plot_growth_probability(tracked.growth, ax=ax)))
    out = {}
    for title, name, draw in jobs:
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        try:
            draw(ax)
            ax.set_title(title)
            fig.tight_layout()
            fig.savefig(folder / name)
            out[title] = name
        except Exception as err:  # a figure must not sink the analysis; say what failed
            logger.warning("figure %r skipped: %s", title, err)
        finally:
            plt.close(fig)
    return out


def make_scan_figure(folder: Path, table) -> str | None:
    """``[labels] scan``: the resolution scan figure in ``folder``; its file name, or None when
    there is no scan (or the figure failed: a warning says why)."""
    if not table:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..network.structure_scan import plot_scan

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    try:
        plot_scan(table, ax=ax)
        ax.set_title("How many structures: resolution scan")
        fig.tight_layout()
        fig.savefig(folder / "structure_scan.png")
        return "structure_scan.png"
    except Exception as err:  # a figure must not sink the analysis
        logger.warning("structure scan figure skipped: %s", err)
        return None
    finally:
        plt.close(fig)


def make_route_figure(folder: Path, routes: dict) -> dict:
    """``{title: file}`` of the transition heat map between named structures ({} without one)."""
    if not routes.get("transitions"):
        return {}
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..tracking.routes import plot_transitions

    n = len(routes["transitions"]["names"])
    fig, ax = plt.subplots(figsize=(1.1 * n + 3.0, 1.0 * n + 2.0), dpi=110)
    try:
        plot_transitions(routes, ax=ax)
        ax.set_title("Structure at t → structure at t + 1 (per atom)")
        fig.tight_layout()
        fig.savefig(folder / "transitions.png")
        return {"Transitions between structures, frame to frame": "transitions.png"}
    except Exception as err:  # a figure must not sink the analysis
        logger.warning("transition figure skipped: %s", err)
        return {}
    finally:
        plt.close(fig)


def _routes_html(routes) -> str:
    if not routes or not routes.get("precursors"):
        return ""
    import pandas as pd

    df = pd.DataFrame(routes["precursors"]).T.sort_values("last_before", ascending=False)
    df.index.name = "structure"
    sampled = (f" (a seeded sample of {routes['atoms']:,} of {routes['sampled_from']:,} atoms)"
               if routes.get("sampled_from") else "")
    return (f"<h2>Precursors: what the crystal's atoms were before</h2><p>For the "
            f"{routes['n_crystal_atoms']:,} atoms crystal-like in the last frame{sampled}: the "
            f"share of their frames before they joined the crystal spent in each structure, and "
            f"the fractions whose first non-liquid structure and whose last structure before "
            f"joining it was that structure. The transition figure gives the frame-to-frame "
            f"moves between all structures.</p>"
            + df.reset_index().to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0))


def _scan_html(table, folder: Path, figure) -> str:
    if not table:
        return ""
    import pandas as pd

    from ..network.structure_scan import STABILITY_THRESHOLD as least

    chosen = next(r for r in table if r["chosen"])
    fig = f"<figure>{_img(folder / figure)}</figure>" if figure else ""
    df = pd.DataFrame(table)
    df["names"] = df["names"].map(", ".join)
    df["n_communities_seeds"] = df["n_communities_seeds"].map(lambda v: " / ".join(map(str, v)))
    df["chosen"] = df["chosen"].map({True: "✓", False: ""})
    df = df.rename(columns={"n_communities": "structures", "n_communities_seeds": "per seed",
                            "seed_ari": "ARI seeds", "split_ari": "ARI halves"})
    verdict = ("" if chosen["stability"] >= least else
               f" No resolution reached stability {least:g}: the most stable one is shown; "
               f"treat the count as uncertain.")
    return (f"<h2>How many structures: resolution scan</h2><p>The structure labels fitted at "
            f"each CPM resolution with {len(chosen['n_communities_seeds'])} seeds: the number of structures, the mean adjusted "
            f"Rand index of the per-atom labels across seeds, and the ARI between a fit on all "
            f"frames and one on the second half of the frames (on the frames both hold). "
            f"Stability is the smaller ARI. Chosen: the largest number of structures with "
            f"stability &ge; {least:g} (ties: the smallest resolution) &mdash; "
            f"<b>{chosen['n_communities']} structures at resolution {chosen['resolution']:g}</b> "
            f"(stability {chosen['stability']:.3f}).{verdict} The labels of this report use "
            f"<code>[labels] resolution</code> as configured; set it to the chosen value to use "
            f"the scan's choice.</p>{fig}"
            + df.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, na_rep="n/a"))


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def _ptm_html(ptm) -> str:
    if not ptm:
        return ""
    import pandas as pd

    table = pd.DataFrame(ptm["structures"]).T.rename_axis("structure").reset_index()
    if "atom_frames" in table:           # a count (the transpose made every column float)
        table["atom_frames"] = table["atom_frames"].astype("int64")
    frames = ptm["frames"]
    where = (f"all {len(frames)} frames" if len(frames) < 8 else
             f"{len(frames)} frames from {frames[0]} to {frames[-1]}")
    if ptm.get("typed"):
        where += (f", on a random sample of {ptm['typed']:,} atoms (up to 1,000 of each structure "
                  "per frame of more than 65,536 atoms, weighted by the structure's size)")
    return (f"<h2>What PTM calls each structure</h2><p>OVITO's polyhedral template matching "
            f"(fcc, hcp, bcc and icosahedral templates, RMSD cutoff 0.1) on {where}: the fraction "
            f"of each structure's atoms PTM calls other, fcc, hcp, bcc or ico. An independent "
            f"check of the names, not their source.</p>"
            + table.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0))


def _onset_cell(frame, at_start) -> str:
    """The report's onset cell: the frame, and when the nucleus was there from the first
    frame on (it persists and grows), that nucleation came before the analysed frames."""
    if frame is None:
        return "none"
    if at_start:
        from ..tracking.onset import AT_START

        return f"{frame}: {AT_START}"
    return str(frame)


def mfpt_outside_regime(summary) -> bool:
    """Whether more than one of the core's nuclei grew in the frames: the MFPT of the largest
    nucleus (Wedekind, Strey and Reguera 2007) then reads n* off a maximum over several
    nucleation events, not the one it assumes.  On the validation suite's held-out LAMMPS runs
    8-52 core nuclei grow, and the MFPT is off brute-force shooting by 1.9-4.7 times on four
    of the five runs it determines (benchmarks/LABELS.md, stops 44-46)."""
    return (summary.get("grown_nuclei") or 0) > 1


def _size(n) -> str:
    """The report's critical-size cell."""
    return "n/a" if n is None else f"{n:.1f} atoms"


def _growth(g) -> str:
    """The report's growth cell: the fold, and what it means below MIN_ONSET_GROWTH."""
    from ..tracking.onset import MIN_ONSET_GROWTH, NO_GROWTH

    if g is None:
        return "n/a (no onset)"
    if g < MIN_ONSET_GROWTH:
        return f"{g:.1f}-fold: under {MIN_ONSET_GROWTH:g}-fold, {NO_GROWTH}"
    return f"{g:.1f}-fold"


def _mapper_line(m: dict) -> str:
    line = f"{m['nodes']} nodes, {m['edges']} edges"
    if m.get("sampled"):
        return line + (f"; built on a random sample of {m['sampled']['points']:,} of the "
                       f"{m['sampled']['of']:,} (frame, atom) points ([mapper] sample)")
    line += f"; all {m['points']:,} (frame, atom) points"
    if m.get("n_microstates"):
        line += f", clustered through a codebook of {m['n_microstates']:,} microstates"
    return line


def write_report(path: Path, summary: dict, communities, figures: dict, cfg: dict, tracked,
                 scan_figure: str | None = None) -> Path:
    """One self-contained HTML page: summary, figures (embedded), community signatures, the
    structure resolution scan (``summary["structure_scan"]``, figure ``scan_figure``, when
    ``[labels] scan``), parameters."""
    from .config import config_to_toml

    path = Path(path)
    s = summary
    rows = [("Frames analysed", f"{s['frames']} (input frames {s['first_frame']}–{s['last_frame']})"),
            ("Atoms (first frame)", s["atoms_first_frame"]),
            ("First-neighbour distance", f"{s['nn_distance']:.4g}"),
            ("Structures (anchored microstate Leiden)",
             ", ".join(f"{k}: {v}" for k, v in s.get("structures", {}).items())),
            ("Crystal-like", f"{', '.join(s.get('crystal_structures', [])) or 'none'} — "
                             f"{s['crystal_rule']}"),
            *([("Nucleation onset, crystalline core (frame)",
                _onset_cell(s["onset_frame_core"], s.get("onset_core_at_start"))),
               ("The same at its threshold 10 % lower / higher (frame)",
                " / ".join(str(v) for v in s.get("onset_frame_core_spread") or [])),
               *([("Largest core nucleus past the critical size for good (frame; at the ends "
                   "of n*'s 16–84 % range)",
                   f"{s['committed_frame_core']}" + (
                       " ({} / {})".format(*s["committed_frame_core_range"])
                       if s.get("committed_frame_core_range") else ""))]
                 if s.get("committed_frame_core") is not None else []),
               ("Growth of the largest core after its onset (last frames / onset frames)",
                _growth(s.get("onset_growth_core"))),
               ("Largest crystalline core, last frame", f"{s['largest_core_final']} atoms")]
              if s.get("largest_core_final") is not None else []),
            ("Onset of the crystal-like nuclei (frame; averaged labels, halo included)"
             if s.get("largest_core_final") is not None else "Nucleation onset (frame)",
             _onset_cell(s["onset_frame"], s.get("onset_at_start"))),
            ("Onset from ten Wolde solid-like atoms (frame)", s["onset_frame_tenwolde"]),
            *([("Critical nucleus size: half the crystalline core's nuclei seen at this size "
                f"grow to {s.get('grown_size')} atoms (16–84 % over the nuclei)",
                _size(s["critical_size"]) + (" ({:.1f}–{:.1f})".format(*s["critical_size_range"])
                                             if s.get("critical_size_range") else "")),
               ("Critical size by the MFPT of the largest core nucleus",
                _size(s.get("critical_size_mfpt")) + (
                    f" — {s['grown_nuclei']} nuclei grew in these frames; the MFPT assumes "
                    f"one nucleation event" if s.get("critical_size_mfpt") is not None
                    and mfpt_outside_regime(s) else "")),
               ("Critical size of the crystal-like nuclei (MFPT; halo included)",
                _size(s.get("critical_size_crystal_like")))]
              if s.get("largest_core_final") is not None else
              [("Critical nucleus size (MFPT)", _size(s["critical_size"]))]),
            ("Largest nucleus, last frame", f"{s['largest_nucleus_final']} atoms"),
            *([("Crystalline core, fraction of the atoms, last frame",
                f"{s['core_fraction_final']:.3f}")]
              if s.get("core_fraction_final") is not None else []),
            ("Crystal-like fraction, last frame (halo included)",
             f"{s['crystalline_fraction_final']:.3f}"),
            ("Skipped frames", ", ".join(map(str, s["skipped_frames"])) or "none"),
            *([("Mapper graph", _mapper_line(s["mapper"]))] if s.get("mapper") else []),
            ("Time per stage (s)", ", ".join(f"{k[:-2]} {v}" for k, v in s["timing_s"].items()))]
    table = "\n".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                      for k, v in rows)
    sig = (communities.groupby(["label", "structure"])
           .agg(atom_frames=("size", "sum"), q6_mean=("q6_mean", "mean"),
                solid_fraction=("solid_fraction", "mean"), crystal_like=("crystal_like", "first"))
           .reset_index())
    sig_html = sig.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)
    figs = "\n".join(f"<figure>{_img(path.parent / name)}<figcaption>{html.escape(title)}"
                     f"</figcaption></figure>" for title, name in figures.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>crystopo report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
h1 {{ font-size: 1.6em; }} table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; }} img {{ max-width: 520px; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
</style></head><body>
<h1>crystopo: how the crystal was born</h1>
<h2>Summary</h2><table>{table}</table>
<h2>Figures</h2>{figs}
<h2>Structure signatures</h2>
<p>Per structure, over all frames: atom-frames, mean averaged q6 and the fraction of
ten Wolde solid-like atoms.  Names come from the reference environment (ideal fcc, hcp,
bcc, icosahedral, liquid at the run's first-neighbour distance) each structure holds;
<code>other-*</code> are structures no reference describes.</p>{sig_html}
{_routes_html(s.get("routes"))}
{_scan_html(s.get("structure_scan"), path.parent, scan_figure)}
{_ptm_html(s.get("ptm_composition"))}
<h2>Parameters</h2><pre>{html.escape(config_to_toml(cfg))}</pre>
<h2>Raw summary</h2><pre>{html.escape(json.dumps(summary, indent=2, default=str))}</pre>
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
