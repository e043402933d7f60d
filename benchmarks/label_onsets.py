"""Onsets and core scores for ``bench_labels.py``: the frame from which the largest nucleus
stays at or above 20 atoms (of the crystal-like atoms, their crystalline core, or PTM's), the
same on series smoothed over three frames, analyze's own rule, and the core as a crystal call
against PTM."""
from __future__ import annotations

import numpy as np

from multilayer.app.config import DEFAULTS, core_outside_tolerance

__all__ = ["COUNT_TOLERANCE", "onset_of", "core_scores", "median3", "stays", "onset_diagnostics",
           "growth_n_star", "critical_onsets"]

#: sizes a nucleus must reach to count as grown, for the committor n* (about 2.5-10 times the
#: MFPT n* of the suite's LJ runs, 8-42 atoms for the core)
GROWN = (50, 100)
#: the core's ``core_tolerance`` whose atoms PTM's count matches (``onset_counted``)
COUNT_TOLERANCE = 3


def onset_of(ds, frames, crystal_masks, threshold=20, core=False, keep=None,
             max_distortion=None, tolerance=None, outside_tolerance="analyze", persistence=None,
             tables=None):
    """Frame from which the largest nucleus stays >= ``threshold`` atoms, and the largest
    nucleus of every frame; ``core``: of the crystalline core of the masks
    (:func:`multilayer.tracking.crystalline_core`, analyze's ``[tracking] core_tolerance``),
    each frame's core mask appended to the list ``keep`` when given; ``max_distortion`` and
    ``tolerance``: its ``[tracking] core_max_distortion`` and ``core_tolerance`` (default
    analyze's); ``outside_tolerance``: its ``core_outside_tolerance`` (``None``: the
    crystal-like atoms only; default analyze's); ``persistence``: a list, extended with the
    :class:`multilayer.tracking.StartPersistence` values of the largest nuclei; ``tables``: a
    list, to which the nuclei tracked through the frames (persistent ids,
    :attr:`multilayer.tracking.NucleiResult.table`) are appended."""
    from descriptors import first_shell_distance, neighbor_list
    from multilayer.tracking import StartPersistence
    from multilayer.tracking.nuclei import NucleiAccumulator, crystalline_core

    tol = DEFAULTS["tracking"]["core_tolerance"] if tolerance is None else tolerance
    if outside_tolerance == "analyze":
        outside_tolerance = core_outside_tolerance(DEFAULTS)
    traj = ds.trajectory()
    r_cut = None
    largest, persist = [], StartPersistence()
    acc = NucleiAccumulator(None, min_size=2, keep_atoms=False)
    for t, f in enumerate(frames):
        fr = traj[f]
        if r_cut is None:
            r_cut = 1.35 * first_shell_distance(fr)
        nl = neighbor_list(fr, r_cut=r_cut)
        mask = crystal_masks[t]
        if core:
            mask = crystalline_core(mask, nl, tolerance=tol, max_distortion=max_distortion,
                                    outside_tolerance=outside_tolerance, frame=fr)
            if keep is not None:
                keep.append(mask)
        nuc = acc.add(fr, nl, mask=mask)               # find_nuclei, and tracked
        largest.append(np.bincount(nuc[nuc >= 0]).max() if (nuc >= 0).any() else 0)
        persist.add(fr.ids, nuc == 0)                  # 0: the largest nucleus
    if persistence is not None:
        persistence.extend(persist.values)
    if tables is not None:
        tables.append(acc.result().table)
    largest = np.array(largest)
    return stays(largest, threshold, frames), largest


def core_scores(cores, ptm_masks, grow, tag=""):
    """The core as a crystal call: recall / precision against PTM over the growth frames."""
    if not grow:
        return {}
    c = np.concatenate([cores[t] for t in grow])
    p = np.concatenate([ptm_masks[t] for t in grow])
    return {f"core_rec{tag}": float((c & p).sum() / max(p.sum(), 1)),
            f"core_prec{tag}": float((c & p).sum() / max(c.sum(), 1))}


def median3(series):
    """Running median over three consecutive frames (the end frames kept as they are)."""
    s = np.asarray(series, dtype=np.float64)
    if len(s) < 3:
        return s.copy()
    out = s.copy()
    out[1:-1] = np.median(np.stack([s[:-2], s[1:-1], s[2:]]), axis=0)
    return out


def stays(largest, threshold, frames):
    above = largest >= threshold
    idx = [i for i in range(len(above)) if above[i:].all()]
    return frames[idx[0]] if idx else None


def _n_star(largest, onset, frames):
    """analyze's MFPT n* of one largest-nucleus series and whether the sizes fitted determine
    it (``[n*, error, determined]``; None: onset at the first frame, or no fit)."""
    from multilayer.tracking import mfpt_after_onset

    try:
        fit = mfpt_after_onset(largest, onset, np.asarray(frames, dtype=float))
    except (ValueError, RuntimeError):
        return None
    return None if fit is None else [round(float(fit.n_star), 1),
                                     round(float(fit.n_star_err), 1), fit.determined]


def growth_n_star(table, n_frames) -> dict:
    """The committor critical size of one run's tracked nuclei
    (:func:`multilayer.tracking.growth_probability`) at each ``GROWN`` size:
    ``{n_grown: [n*, 16th, 84th percentile, determined, grew, dissolved, fell back]}``."""
    from multilayer.tracking import growth_probability

    out = {}
    for g in GROWN:
        r = growth_probability(table, g, last_frame=n_frames - 1, n_boot=200, seed=0)
        out[g] = [round(r.n_star, 1), round(r.n_star_low, 1), round(r.n_star_high, 1),
                  r.determined, r.n_grew, r.n_dissolved, r.n_fell_back]
    return out


def critical_onsets(series, tables, frames, persist) -> dict:
    """``crystopo analyze``'s frame of commitment applied to each largest-nucleus series in turn
    (``series``, ``tables``, ``persist``: one per method, in order; the persistence ``None``
    where there is none): its rule's onset from the liquid's fluctuations, the grown size it
    gives, the growth-probability n* of the method's own tracked nuclei, and the frame after
    which the largest nucleus stays past that n* (:func:`multilayer.app.stages.committed_onset`;
    the first onset where there is none, ``critical`` False).  ``{"onset": [...],
    "n_star": [...], "critical": [...]}`` (input frames)."""
    from multilayer.app.stages import committed_onset, grown_size
    from multilayer.tracking import growth_probability, nucleation_onset

    out = {"onset": [], "n_star": [], "critical": []}
    for x, table, p in zip(series, tables, persist):
        first = nucleation_onset(x, persistence=p)
        g = growth_probability(table, grown_size({}, first), last_frame=len(frames) - 1,
                               n_boot=200, seed=0)
        committed = committed_onset(np.asarray(x), first, g)
        o = first if committed is None else committed
        out["onset"].append(None if o.frame is None else frames[o.frame])
        out["n_star"].append(round(float(g.n_star), 1) if g.determined else None)
        out["critical"].append(committed is not None)
    return out


def onset_diagnostics(lo, lc, lp, frames, cores, ptm_masks, grow, persist=(None, None),
                      counted=None) -> dict:
    """``bench_labels.py``'s onset diagnostics from the largest nucleus of every frame of the
    crystal-like atoms (``lo``), their core (``lc``) and PTM (``lp``): the onsets of series
    smoothed over three frames, by analyze's rule and the growth after it, PTM's own onset at
    16-24 atoms, the core's at 20 atoms times its size ratio to PTM's, and the series.
    ``persist``: the :class:`~multilayer.tracking.StartPersistence` values of the
    crystal-like nuclei (analyze's for them and their core) and of PTM's.  ``counted``: the
    largest nucleus of the core *counted as PTM counts*, the core at ``[tracking]
    core_tolerance`` :data:`COUNT_TOLERANCE` (0.92-0.97 times PTM's atoms on seventeen LJ
    runs, the default core 1.12-1.27 times): ``onset_counted`` gives its onset and PTM's, at
    20 atoms (``at_20``) and by analyze's rule with a floor of 20 atoms instead of 13
    (``rule``; benchmarks/LABELS.md, stop 47)."""
    from multilayer.tracking.onset import nucleation_onset, onset_growth

    po, pp = persist
    rule = [nucleation_onset(x, persistence=p) for x, p in ((lo, po), (lc, po), (lp, pp))]
    out = {"onset_med3": [stays(median3(x), 20, frames) for x in (lc, lp)],
           # analyze's own rule (threshold from the liquid's fluctuations; the first frame
           # when its nucleus persists), on each series, and how much each largest nucleus
           # grows after it (analyze warns under 3-fold)
           "onset_rule": [None if o.frame is None else frames[o.frame] for o in rule],
           "onset_at_start": [bool(o.at_start) for o in rule],
           "onset_growth": [onset_growth(x, o) for x, o in zip((lo, lc, lp), rule)],
           # the MFPT critical size of each series as analyze fits it (from its onset by the
           # rule above; analyze reports the core's, the crystal-like nuclei's beside it, each
           # only where the sizes fitted determine it)
           "mfpt_n_star": [_n_star(x, o, frames) for x, o in zip((lo, lc, lp), rule)],
           # how finely the onset is defined: PTM's own onset at thresholds 10 % and 20 %
           # from 20 atoms
           "onset_ptm_at": {t: stays(lp, t, frames) for t in (16, 18, 20, 22, 24)}}
    if grow:
        # the core's onset at 20 atoms times its size ratio to PTM's over the growth frames
        # (core atoms / PTM atoms: a diagnostic that uses PTM)
        ratio = (sum(int(cores[t].sum()) for t in grow)
                 / max(sum(int(ptm_masks[t].sum()) for t in grow), 1))
        out["core_ptm_ratio"] = ratio
        out["onset_core_scaled"] = stays(lc, 20 * ratio, frames)
    if counted is not None:
        pair = [nucleation_onset(x, persistence=p, min_threshold=20)
                for x, p in ((counted, po), (lp, pp))]
        out["onset_counted"] = {
            "at_20": [stays(np.asarray(x), 20, frames) for x in (counted, lp)],
            "rule": [None if o.frame is None else frames[o.frame] for o in pair]}
    # the largest nucleus per frame (crystal-like, core, PTM), for other onset rules
    out["largest"] = {k: np.asarray(x).astype(int).tolist()
                      for k, x in (("crystal_like", lo), ("core", lc), ("ptm", lp))
                      + ((("counted", counted),) if counted is not None else ())}
    if po is not None and pp is not None:     # and whether the first frame's nucleus persists
        out["persistence"] = {"crystal_like": [round(float(v), 4) for v in po],
                              "ptm": [round(float(v), 4) for v in pp]}
    return out
