"""How ``bench_labels.py`` scores a method's structure names on one validation dataset.

:func:`score` (accuracy against the truth, recall and precision against PTM, fcc/hcp),
:func:`range_detail` (where two analyses' names differ) and :func:`composition` (what each
name is, by PTM's classes); ``bench_labels.py`` re-exports them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: OVITO PTM codes and the names they are reported under
PTM_CLASSES = ((1, "fcc"), (2, "hcp"), (3, "bcc"), (4, "ico"), (0, "other"))
KINDS = ("fcc", "hcp", "bcc", "ico", "liquid")


def _crystal(names):
    return np.isin(names, ["fcc", "hcp", "bcc", "crystal"])


def _as_phase(names):
    return np.where(np.isin(names, ["fcc", "hcp", "bcc"]), names, "liquid")


def score(ds, frames, names, ptm, truth=None, iface=None):
    """Scores of per-frame ``names``; ``acc``: names equal to the truth's phases, or for a
    truth of ``seed`` / ``liquid`` (the nucleus set) crystal-like equal to in-seed (until
    stop 24 the seed counted as liquid there, so every crystal call was an error)."""
    out = {}
    if truth is not None:
        tr = np.concatenate(truth)
        if "seed" in tr:
            ok = np.concatenate([_crystal(n) for n in names]) == (tr == "seed")
        else:
            ok = np.concatenate([_as_phase(n) for n in names]) == _as_phase(tr)
        out["acc"] = float(np.mean(ok))
        if iface is not None:
            m = np.concatenate(iface)
            out["acc_bulk"] = float(np.mean(ok[~m]))
            out["acc_iface"] = float(np.mean(ok[m])) if m.any() else None
            out["iface"] = float(np.mean(m))
    pc = [np.isin(p, [1, 2, 3]) for p in ptm]
    frac = np.array([p.mean() for p in pc])
    grow = frac >= 0.01
    if grow.any():
        c = np.concatenate([_crystal(n) for n, g in zip(names, grow) if g])
        p = np.concatenate([q for q, g in zip(pc, grow) if g])
        out["rec"] = float((c & p).sum() / max(p.sum(), 1))
        out["prec"] = float((c & p).sum() / max(c.sum(), 1))
        nn = np.concatenate(names)
        pp = np.concatenate(ptm)
        m = np.isin(pp, [1, 2]) & np.isin(nn, ["fcc", "hcp"])
        if m.sum():
            out["fcc/hcp"] = float(np.mean(np.where(pp[m] == 1, "fcc", "hcp") == nn[m]))
        # fcc, hcp and bcc: the same type among the atoms both call crystalline
        m = np.isin(pp, [1, 2, 3]) & np.isin(nn, ["fcc", "hcp", "bcc"])
        if m.sum():
            out["types"] = float(np.mean(np.array(["", "fcc", "hcp", "bcc"])[pp[m]] == nn[m]))
    return out


def range_detail(a, b, ptm, top=6):
    """Where two analyses' names of the same atom-frames differ: ``crystal``, their agreement
    on crystal or not (fcc/hcp/bcc against the rest); ``pairs``, the commonest (first name,
    second name) pairs as shares of all atom-frames; ``ptm``, PTM's classes among the atoms
    that differ (``range`` misses are halo atoms, between crystal and liquid, when ``other``
    dominates)."""
    differ = a != b
    out = {"crystal": float(np.mean(_crystal(a) == _crystal(b)))}
    if differ.any():
        pairs, counts = np.unique(np.char.add(np.char.add(a[differ].astype(str), ">"),
                                              b[differ].astype(str)), return_counts=True)
        order = np.argsort(-counts, kind="stable")[:top]
        out["pairs"] = {str(pairs[i]): round(float(counts[i] / len(a)), 4) for i in order}
        shares = np.bincount(ptm[differ], minlength=len(PTM_CLASSES)) / differ.sum()
        out["ptm"] = {n: round(float(shares[c]), 4) for c, n in PTM_CLASSES}
    return out


def _shares(groups, values, group_names, value_names):
    """{group: {value: fraction of the group's atoms}} for groups that hold any atom."""
    out = {}
    for g, gname in group_names:
        m = groups == g
        if m.any():
            out[gname] = {v: round(float(np.mean(values[m] == vv)), 4) for vv, v in value_names}
    return out


def composition(ds, names, ptm, cache: Path) -> dict:
    """What the names are, for a nucleation run: ``by_ptm``, over the last quarter of the
    frames, each PTM class's atoms by name (how many of PTM's hcp atoms are named hcp);
    ``start``, over the first eighth, the crystal-like and the PTM-crystalline fractions; and,
    when ``bench_label_truth.py`` has quenched the run (its ``inherent_ptm_<run>.npz`` in the
    cache), ``quenched``: over the quenched frames of the last quarter, each name's atoms by
    their PTM class once quenched."""
    n = len(names)
    last, first = range(n - max(1, n // 4), n), range(max(1, n // 8))
    nn, pp = np.concatenate([names[t] for t in last]), np.concatenate([ptm[t] for t in last])
    out = {"by_ptm": _shares(pp, nn, PTM_CLASSES, [(k, k) for k in KINDS]),
           "start": {"crystal_like": float(np.mean(np.concatenate(
                         [_crystal(names[t]) for t in first]))),
                     "ptm": float(np.mean(np.isin(np.concatenate([ptm[t] for t in first]),
                                                  [1, 2, 3])))}}
    path = cache / f"inherent_ptm_{ds.name}.npz"
    if path.exists():
        with np.load(path) as z:
            done = [t for t in last if f"is_{t:04d}" in z.files]
            if done:
                isp = np.concatenate([z[f"is_{t:04d}"] for t in done])
                nq = np.concatenate([names[t] for t in done])
                out["quenched"] = _shares(nq, isp, [(k, k) for k in KINDS],
                                          [(c, k) for c, k in PTM_CLASSES])
    return out
