"""Figures of structure tracking: populations, alluvial flows, nucleus size, MFPT fit, slabs.

matplotlib is imported when a function is called; every function takes ``ax=None``
(a new figure) and returns the Axes it drew on.
"""
from __future__ import annotations

import numpy as np

from ..network.plot import legend_names
from .lifecycle import check_labels, community_sizes

__all__ = ["plot_populations", "plot_alluvial", "plot_largest_nucleus", "plot_mfpt", "plot_slab"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _time_label(times, time_label):
    """The x axis's name: ``time_label``, else "frame" without ``times`` and "time" with."""
    if time_label is not None:
        return str(time_label)
    return "frame" if times is None else "time"


def _colors(communities):
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10" if len(communities) <= 10 else "tab20"]
    return {c: cmap(k % cmap.N) for k, c in enumerate(communities)}


def plot_populations(labels, ids=None, *, times=None, normalize=True, names=None, ax=None,
                     time_label=None):
    """Stacked population of each community over time.

    Parameters
    ----------
    labels, ids : as in :func:`multilayer.tracking.lifecycle.community_events`
    times : array of shape (n_frames,), optional (default: frame index)
    normalize : bool
        Fractions of the labelled atoms instead of counts.
    names : sequence of str or mapping, optional
        Structure name of each community id (``StructureLabels.names``), for the legend.
    time_label : str, optional
        The x axis's name (default "frame", or "time" with ``times``; "frame" when
        ``times`` are input frame indices, as in ``crystopo analyze``).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> ax = plot_populations(np.array([[0, 0, 1], [0, 1, 1]]))
    >>> len(ax.collections)
    2
    """
    sizes = community_sizes(labels, ids)
    y = sizes.to_numpy(dtype=np.float64).T
    if normalize:
        y = y / np.maximum(y.sum(axis=0, keepdims=True), 1)
    x = np.arange(len(sizes)) if times is None else np.asarray(times, dtype=np.float64)
    ax = _axes(ax)
    colors = _colors(list(sizes.columns))
    legend = legend_names(sizes.columns, names)
    ax.stackplot(x, y, labels=legend, colors=[colors[c] for c in sizes.columns])
    ax.set_xlabel(_time_label(times, time_label))
    ax.set_ylabel("fraction of atoms" if normalize else "atoms")
    ax.set_xlim(x[0], x[-1] if len(x) > 1 else x[0] + 1)
    ax.legend(title="structure" if names is not None else "community", fontsize="small",
              loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


def plot_alluvial(labels, ids=None, *, frames=None, min_flow=0.0, gap=0.02, names=None,
                  times=None, ax=None):
    """Alluvial (Sankey-like) flow of atoms between communities over frames.

    Each chosen frame is a column of stacked blocks (one per community, height =
    fraction of atoms); a band joins block a of one column to block b of the next
    with a width equal to the fraction of atoms (present in both) going from a to b.

    Parameters
    ----------
    labels, ids : as in :func:`multilayer.tracking.lifecycle.community_events`
    frames : array of int, optional
        Frames drawn as columns; default up to 8 evenly spaced frames.
    min_flow : float
        Bands thinner than this fraction of the atoms are not drawn.
    gap : float
        Vertical space between blocks, as a fraction of the column height.
    names : sequence of str or mapping, optional
        Structure name of each community id (``StructureLabels.names``), for the legend.
    times : array of shape (n_frames,), optional
        What each frame is called on the axis (e.g. its index in the input trajectory when
        every other frame was analysed); default the frame's position in ``labels``.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> ax = plot_alluvial(np.array([[0, 0, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1]]))
    >>> len(ax.patches) > 0
    True
    """
    data = check_labels(labels, ids)
    n = len(data)
    if frames is None:
        frames = np.unique(np.linspace(0, n - 1, min(n, 8)).round().astype(int))
    frames = np.asarray(frames, dtype=int)
    comm = np.unique(np.concatenate([lab[lab >= 0] for _, lab in data]))
    k = len(comm)
    colors = _colors(comm.tolist())
    ax = _axes(ax)
    from matplotlib.patches import Rectangle

    width = 0.15
    block = {}  # (column, community) -> [bottom, top, out_cursor, in_cursor]
    for col, t in enumerate(frames):
        lab = data[t][1]
        lab = lab[lab >= 0]
        frac = np.bincount(np.searchsorted(comm, lab), minlength=k) / max(lab.size, 1)
        scale = 1.0 - gap * (k - 1)
        y = 0.0
        for c, f in zip(comm, frac):
            h = f * scale
            block[col, c] = [y, y + h, y, y]
            if h > 0:
                ax.add_patch(Rectangle((col - width / 2, y), width, h, color=colors[c], lw=0))
            y += h + gap
    s = np.linspace(0, 1, 32)
    smooth = 0.5 - 0.5 * np.cos(np.pi * s)
    for col in range(len(frames) - 1):
        (ia, la), (ib, lb) = data[frames[col]], data[frames[col + 1]]
        _, xa, xb = np.intersect1d(ia, ib, assume_unique=True, return_indices=True)
        a, b = la[xa], lb[xb]
        ok = (a >= 0) & (b >= 0)
        pa, pb = np.searchsorted(comm, a[ok]), np.searchsorted(comm, b[ok])
        flow = np.bincount(pa * k + pb, minlength=k * k).reshape(k, k)
        flow = flow / max(int((la >= 0).sum()), 1)
        scale = 1.0 - gap * (k - 1)
        x = col + width / 2 + s * (1 - width)
        for p in range(k):
            for q in range(k):
                f = flow[p, q] * scale
                if f <= 0 or flow[p, q] < min_flow:
                    continue
                src, dst = block[col, comm[p]], block[col + 1, comm[q]]
                y0, y1 = src[2], dst[3]
                src[2] += f
                dst[3] += f
                low = y0 + (y1 - y0) * smooth
                ax.fill_between(x, low, low + f, color=colors[comm[p]], alpha=0.45, lw=0)
    ax.set_xlim(-0.5, len(frames) - 0.5)
    ax.set_ylim(0, 1)
    shown = frames if times is None else np.asarray(times)[frames]
    ax.set_xticks(range(len(frames)), [f"{t:g}" for t in shown])
    ax.set_xlabel("frame")
    ax.set_yticks([])
    handles = [Rectangle((0, 0), 1, 1, color=colors[c]) for c in comm]
    ax.legend(handles, legend_names(comm, names),
              title="structure" if names is not None else "community", fontsize="small",
              loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


def plot_largest_nucleus(largest, *, onset=None, threshold=None, times=None, ax=None,
                         core=None, core_onset=None, time_label=None, core_committed=None):
    """Largest-nucleus size over time, with the nucleation onset and threshold marked.

    Parameters
    ----------
    largest : array of shape (n_frames,)
    onset : int or Onset, optional
        Frame index into ``largest`` (not a time), or the result of
        :func:`~multilayer.tracking.nuclei.nucleation_onset` (its threshold is drawn too).
    threshold : float, optional
    times : array of shape (n_frames,), optional (default: frame index)
    core : array of shape (n_frames,), optional
        Largest nucleus of the crystalline core (:func:`multilayer.tracking.crystalline_core`),
        drawn beside it on a symmetric-log scale; ``core_onset`` (int or Onset) marks its onset
        (an Onset's own threshold is drawn too, where it differs from the nuclei's).
    time_label : str, optional
        As in :func:`plot_populations`; the onsets in the legend are given on the same axis
        (the time, or the input frame, at the onset -- not the position in ``largest``).
    core_committed : Onset, optional
        With ``core``: :func:`~multilayer.tracking.critical_onset` of it -- the critical size
        n* and the frame after which the core stays past it are drawn beside its onset.

    Examples
    --------
    >>> ax = plot_largest_nucleus([1, 2, 8, 20], onset=2, threshold=5)
    >>> len(ax.lines)
    3
    >>> len(plot_largest_nucleus([1, 2, 8, 20], onset=2, core=[0, 1, 2, 9], core_onset=3).lines)
    4
    """
    y = np.asarray(largest, dtype=np.float64)
    x = np.arange(len(y)) if times is None else np.asarray(times, dtype=np.float64)
    axis = _time_label(times, time_label)
    if hasattr(onset, "threshold"):
        threshold = onset.threshold if threshold is None else threshold
        onset = onset.frame
    ax = _axes(ax)
    # beside a core, say which series is which: the nuclei of the crystal-like names carry the
    # halo and start earlier; the core's onset is the one analyze reports first
    what = "" if core is None else "crystal-like "
    ax.plot(x, y, "-o", ms=3, color="C0",
            label="largest nucleus" if core is None else "largest crystal-like nucleus")
    if threshold is not None:
        ax.axhline(threshold, color="0.5", ls=":", label=f"{what}threshold {threshold:g}")
    if onset is not None:
        ax.axvline(x[onset], color="C3", ls="--", label=f"{what}onset ({axis} {x[onset]:g})")
    if core is not None:
        ax.plot(x, np.asarray(core, dtype=np.float64), "-s", ms=3, color="C1",
                label="its crystalline core")
        core_threshold = getattr(core_onset, "threshold", None)
        core_onset = getattr(core_onset, "frame", core_onset)
        if core_threshold is not None and core_threshold != threshold:
            # the core's onset has its own threshold (from the core's liquid frames): draw it,
            # or a reader takes the onset against the nuclei's line
            ax.axhline(core_threshold, color="C1", ls=":",
                       label=f"core threshold {core_threshold:g}")
        if core_onset is not None:
            ax.axvline(x[core_onset], color="C1", ls="--",
                       label=f"core onset ({axis} {x[core_onset]:g})")
        if core_committed is not None and core_committed.frame is not None:
            ax.axhline(core_committed.threshold, color="C2", ls=":",
                       label=f"critical size n* {core_committed.threshold:.1f}")
            ax.axvline(x[core_committed.frame], color="C2", ls="-.",
                       label=f"core past n* for good ({axis} {x[core_committed.frame]:g})")
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylim(bottom=0)
    ax.set_xlabel(axis)
    ax.set_ylabel("atoms in largest nucleus")
    ax.legend(fontsize="small")
    return ax


def plot_mfpt(result, *, ax=None, label=None, color=None):
    """Mean first-passage times tau(n) with the fitted erf curve and n* marked.

    ``label`` and ``color`` name and colour this series, so that several fits share one
    axes (``crystopo analyze``'s report: the crystalline core's and the crystal-like
    nuclei's); a fit whose sizes do not determine n*
    (:attr:`~multilayer.tracking.MFPTResult.determined`) says so.

    Examples
    --------
    >>> from multilayer.tracking.nuclei import MFPTResult
    >>> r = MFPTResult(5.0, 0.3, 10.0, np.nan, 0.1, 0.01, 0.2, np.nan,
    ...                np.arange(1, 11), np.linspace(0, 10, 10), 1, None)
    >>> len(plot_mfpt(r).lines)
    3
    >>> ax = plot_mfpt(r, label="core", color="C0")
    >>> len(plot_mfpt(r, ax=ax, label="halo", color="C7").lines)
    6
    """
    ax = _axes(ax)
    runs = f"{result.n_runs} run{'' if result.n_runs == 1 else 's'}"
    head = "" if label is None else f"{label}: "
    points, fit, mark = ("C0", "C1", "C3") if color is None else (color, color, color)
    ax.plot(result.n, result.tau, "o", ms=3, color=points, label=f"{head}MFPT ({runs})")
    nn = np.linspace(result.n.min(), result.n.max(), 400)
    note = "" if result.determined else " (not determined)"
    ax.plot(nn, result.curve(nn), "-", color=fit,
            label=f"{head}fit: n* = {result.n_star:.1f} ± {result.n_star_err:.1f}, "
                  f"Z = {result.z:.3g}{note}")
    ax.axvline(result.n_star, color=mark, ls="--")
    ax.set_xlabel("nucleus size n")
    ax.set_ylabel("τ(n)")
    ax.legend(fontsize="small")
    return ax


def plot_growth_probability(result, *, ax=None, label=None, color=None):
    """P_grow(n): the fraction of nuclei seen with n atoms that grew
    (:func:`~multilayer.tracking.growth_probability`), by size bin (marker area grows with
    the observations in it), the fitted non-decreasing curve, and n* with its bootstrap
    interval; a result whose nuclei do not determine n* says so.

    Examples
    --------
    >>> from multilayer.tracking.growth import GrowthResult
    >>> r = GrowthResult(12.0, np.array([4., 8, 12, 20]), np.array([0., 0.2, 0.5, 1]), 10.0,
    ...                  14.0, np.array([5., 10, 20, 40]), np.array([0.02, 0.2, 0.7, 1]),
    ...                  np.array([400, 90, 30, 8]), 50, 3, 120, 4, 0, 500)
    >>> len(plot_growth_probability(r).lines)
    3
    """
    ax = _axes(ax)
    head = "" if label is None else f"{label}: "
    c = "C0" if color is None else color
    seen = np.asarray(result.counts) > 0
    area = 8 + 40 * np.sqrt(np.asarray(result.counts)[seen] / max(np.max(result.counts), 1))
    ax.scatter(np.asarray(result.sizes)[seen], np.asarray(result.p_grow)[seen], s=area, color=c,
               label=f"{head}nuclei that grew to {result.n_grown} atoms "
                     f"({result.n_grew} grew, {result.n_dissolved} dissolved)")
    if len(result.fit_sizes):
        ax.plot(result.fit_sizes, result.fit_p, "-", color=c, drawstyle="steps-post", lw=1)
    note = "" if result.determined else " (not determined)"
    if np.isfinite(result.n_star):
        spread = (f" ({result.n_star_low:.1f}–{result.n_star_high:.1f})"
                  if np.isfinite(result.n_star_low) else "")
        ax.axvline(result.n_star, color=c, ls="--", label=f"{head}n* = {result.n_star:.1f}"
                                                          f"{spread}{note}")
        if np.isfinite(result.n_star_low):
            ax.axvspan(result.n_star_low, result.n_star_high, color=c, alpha=0.12)
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    lo, hi = ax.get_xlim()                        # sizes as numbers, 1-2-3-5 steps
    ticks = [m * 10.0 ** e for e in range(0, 7) for m in (1, 2, 3, 5) if lo <= m * 10.0 ** e <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("nucleus size n")
    ax.set_ylabel("P(grow | n)")
    ax.legend(fontsize="small")
    return ax


def plot_slab(frame, labels, *, axis=2, position=None, thickness=None, size=8.0,
              legend_title=None, names=None, ax=None):
    """Atoms of a slab of one frame, coloured by community.

    Parameters
    ----------
    frame : Frame
    labels : int array of shape (n_atoms,)
    axis : {0, 1, 2}
        Normal of the slab (the cell vector's fractional coordinate selects the atoms).
    position : float in [0, 1), optional
        Fractional coordinate of the slab centre; default 0.5.
    thickness : float, optional
        Cartesian thickness; default 10 % of the box width along ``axis``.
    legend_title : str, optional
        Default "structure" with ``names``, else "community"; e.g. "nucleus" when ``labels``
        are ``NucleiResult.atom_nuclei[t]``.
    names : sequence of str or mapping, optional
        Structure name of each community id, for the legend.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> f = make_lattice("sc", 4)
    >>> len(plot_slab(f, np.arange(64) % 2, thickness=1.0).collections)
    2
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (frame.n_atoms,):
        raise ValueError(f"labels.shape must be ({frame.n_atoms},), got {labels.shape}")
    width = frame.box.widths[axis]
    thickness = 0.1 * width if thickness is None else float(thickness)
    frac = frame.box.to_fractional(frame.positions)
    frac -= np.floor(frac)
    centre = 0.5 if position is None else float(position)
    d = (frac[:, axis] - centre + 0.5) % 1.0 - 0.5
    sel = np.abs(d) * width <= thickness / 2
    pos = frame.box.to_cartesian(frac[sel])
    plane = [a for a in range(3) if a != axis]
    ax = _axes(ax)
    comm = np.unique(labels)
    colors = _colors(comm.tolist())
    for c in comm:
        m = labels[sel] == c
        ax.scatter(pos[m, plane[0]], pos[m, plane[1]], s=size, color=colors[c],
                   label=legend_names([c], names)[0], edgecolors="none")
    ax.set_aspect("equal")
    xyz = "xyz"
    ax.set_xlabel(xyz[plane[0]])
    ax.set_ylabel(xyz[plane[1]])
    ax.set_title(f"slab {xyz[axis]} ≈ {centre:.2f} (frac), thickness {thickness:.3g}")
    if len(comm) <= 20:  # a legend of hundreds of nuclei says nothing
        if legend_title is None:
            legend_title = "structure" if names is not None else "community"
        ax.legend(title=legend_title, fontsize="small", loc="center left",
                  bbox_to_anchor=(1, 0.5))
    return ax
