"""Label sources for :mod:`multilayer.learn.classify` (the ``crystopo classify`` command is in :mod:`multilayer.app.cli_classify`).

* :func:`trusted_labels` -- the ten Wolde solid-bond criterion (crystopo), or OVITO's
  polyhedral template matching, adaptive common neighbour analysis or diamond
  identification (:func:`ovito_structures`; ``pip install ovito``), on frames where the
  method is reliable (the Neighbors Map paper's Sec. 3.2);
* :func:`read_labels` -- per-atom labels from a Parquet table or a trajectory column,
  matched to frames by atom id;
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from descriptors import as_frame, read_trajectory
from descriptors.steinhardt import solid_liquid

__all__ = ["trusted_labels", "ovito_structures", "read_labels", "TRUSTED_METHODS"]

_PTM_NAMES = {0: "other", 1: "fcc", 2: "hcp", 3: "bcc", 4: "ico", 5: "sc", 6: "cubic_diamond",
              7: "hex_diamond", 8: "graphene"}
TRUSTED_METHODS = {
    "tenwolde": {0: "liquid", 1: "solid"},
    "ptm": _PTM_NAMES,
    "acna": {k: _PTM_NAMES[k] for k in range(5)},
    "diamond": {0: "other", 1: "cubic_diamond", 2: "cubic_diamond_1nn", 3: "cubic_diamond_2nn",
                4: "hex_diamond", 5: "hex_diamond_1nn", 6: "hex_diamond_2nn"},
}

_PTM_NEIGHBORS = 18   # PTM's templates (sc ... bcc, ico) read no more than the 18 nearest


def ovito_structures(frame, method: str = "ptm", *, rmsd_cutoff: float = 0.1,
                     structures=None, atoms=None, rmsd: bool = False):
    """OVITO's per-atom structure types: PTM, adaptive CNA or diamond identification.

    Parameters
    ----------
    frame : Frame or ase.Atoms
    method : {"ptm", "acna", "diamond"}
    rmsd_cutoff : float
        PTM only: atoms whose best template fits worse are ``other`` (0 = no cutoff).
    structures : sequence of str, optional
        PTM only: templates to enable (names of ``TRUSTED_METHODS["ptm"]``); default
        OVITO's (fcc, hcp, bcc).
    atoms : array of int, optional
        PTM only: rows of the atoms to type.  PTM then runs on them and their 18 nearest
        neighbours only, which are all its templates read, so each gets the type it gets in
        the whole frame, at a fraction of the cost when they are few.
    rmsd : bool
        PTM only, whole frame: return the fitted RMSD of each atom's best template too (NaN
        where no template fits; compare with ``rmsd_cutoff`` 0 to see every fit).

    Returns
    -------
    types : ndarray of shape (n_atoms,) or (len(atoms),), int64
        OVITO's type ids, named in ``TRUSTED_METHODS[method]`` (0 = other).
    rmsd : ndarray of shape (n_atoms,), float64
        With ``rmsd=True`` only: ``(types, rmsd)``.
    """
    try:
        from ovito.data import DataCollection, Particles, SimulationCell
        from ovito.modifiers import (CommonNeighborAnalysisModifier, IdentifyDiamondModifier,
                                     PolyhedralTemplateMatchingModifier)
        from ovito.pipeline import Pipeline, StaticSource
    except ImportError as err:
        raise ImportError(f"method={method!r} needs OVITO: pip install ovito "
                          f"(or crystopo[ovito]); {err}") from err
    frame = as_frame(frame)
    if rmsd and (method != "ptm" or atoms is not None):
        raise ValueError(f"rmsd=True needs method='ptm' on the whole frame, got method={method!r}"
                         f"{'' if atoms is None else ' with atoms='}")
    if atoms is not None:
        if method != "ptm":
            raise ValueError(f"atoms= needs method='ptm', got {method!r}")
        return _ptm_of_rows(frame, np.asarray(atoms, dtype=np.int64), rmsd_cutoff, structures)
    if method == "ptm":
        mod = PolyhedralTemplateMatchingModifier(rmsd_cutoff=float(rmsd_cutoff), output_rmsd=rmsd)
        if structures is not None:
            names = {v: k for k, v in _PTM_NAMES.items()}
            bad = [s for s in structures if s not in names or s == "other"]
            if bad:
                raise ValueError(f"structures={list(structures)!r}: unknown {bad}; choose from "
                                 f"{sorted(set(names) - {'other'})}")
            for t in PolyhedralTemplateMatchingModifier.Type.__members__.values():
                if int(t) > 0:
                    mod.structures[t].enabled = _PTM_NAMES[int(t)] in structures
    elif method == "acna":
        mod = CommonNeighborAnalysisModifier()
    elif method == "diamond":
        mod = IdentifyDiamondModifier()
    else:
        raise ValueError(f"method={method!r}; choose 'ptm', 'acna' or 'diamond'")
    data = DataCollection()
    cell = SimulationCell(pbc=tuple(bool(p) for p in frame.box.pbc))
    matrix = np.zeros((3, 4))
    matrix[:, :3], matrix[:, 3] = frame.box.cell.T, frame.box.origin
    cell[...] = matrix
    data.objects.append(cell)
    particles = Particles()
    particles.create_property("Position", data=frame.wrapped())
    data.objects.append(particles)
    pipeline = Pipeline(source=StaticSource(data=data))
    pipeline.modifiers.append(mod)
    out = pipeline.compute().particles
    types = np.asarray(out["Structure Type"], dtype=np.int64)
    if not rmsd:
        return types
    fit = np.asarray(out["RMSD"], dtype=np.float64)
    return types, np.where(types > 0, fit, np.nan)


def _ptm_of_rows(frame, atoms, rmsd_cutoff, structures):
    """PTM types of ``atoms`` from the sub-frame of them and their nearest neighbours."""
    from descriptors import Frame
    from descriptors.arrays import unique_sorted
    from descriptors.neighbors import neighbor_list

    if len(atoms) and (atoms.min() < 0 or atoms.max() >= frame.n_atoms):
        raise ValueError(f"atoms holds rows outside 0..{frame.n_atoms - 1}")
    k = min(_PTM_NEIGHBORS, frame.n_atoms - 1)
    keep = unique_sorted(np.concatenate([atoms, neighbor_list(frame, k=k, query=atoms).indices]))
    sub = Frame(frame.positions[keep], frame.box, frame.ids[keep], frame.types[keep])
    types = ovito_structures(sub, "ptm", rmsd_cutoff=rmsd_cutoff, structures=structures)
    return types[np.searchsorted(keep, atoms)]


def trusted_labels(frame, method: str = "tenwolde", **kwargs) -> np.ndarray:
    """Per-atom labels from a classic method, to train on frames where it is reliable.

    ``"tenwolde"``: :func:`descriptors.solid_liquid` (1 solid, 0 liquid); ``"ptm"``,
    ``"acna"``, ``"diamond"``: :func:`ovito_structures`.  ``kwargs`` go to that function.
    Names of the labels: ``TRUSTED_METHODS[method]``.

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> trusted_labels(make_lattice("fcc", 3, noise=0.03, seed=0)).tolist()[:5]
    [1, 1, 1, 1, 1]
    """
    if method == "tenwolde":
        return solid_liquid(as_frame(frame), **kwargs).astype(np.int64)
    if method in ("ptm", "acna", "diamond"):
        return ovito_structures(frame, method, **kwargs)
    raise ValueError(f"method={method!r}; choose from {sorted(TRUSTED_METHODS)}")


def read_labels(path, frames, *, column: str = "label", frame_indices=None) -> list:
    """Per-atom labels of ``frames`` from a Parquet table or a trajectory's per-atom column.

    Parameters
    ----------
    path : str or Path
        ``.parquet`` with columns ``frame``, ``id`` and ``column``; anything else is read
        with :func:`descriptors.read_trajectory` and must carry the per-atom ``column``.
    frames : sequence of Frame
        The frames to label; atoms are matched by id (absent atoms get -1).
    frame_indices : sequence of int, optional
        Index of each frame in the labelled trajectory (default ``0, 1, ...``).

    Returns
    -------
    list of ndarray of shape (n_atoms,), int64
    """
    path = Path(path)
    idx = list(range(len(frames))) if frame_indices is None else [int(i) for i in frame_indices]
    if len(idx) != len(frames):
        raise ValueError(f"frame_indices has {len(idx)} entries for {len(frames)} frames")
    if path.suffix == ".parquet":
        import pandas as pd

        table = pd.read_parquet(path)
        missing = {"frame", "id", column} - set(table.columns)
        if missing:
            raise KeyError(f"{path}: no column(s) {sorted(missing)}; it has {list(table.columns)}")
        groups = {int(k): g for k, g in table.groupby("frame")}
        source = [(groups[i]["id"].to_numpy(), groups[i][column].to_numpy()) if i in groups
                  else (np.zeros(0, np.int64), np.zeros(0)) for i in idx]
    else:
        traj = read_trajectory(path)
        source = []
        for i in idx:
            fr = traj[i]
            if column not in fr.extra:
                raise KeyError(f"{path} frame {i} has no per-atom column {column!r}; "
                               f"it has {sorted(fr.extra)}")
            source.append((fr.ids, fr.extra[column]))
    out = []
    for fr, (ids, lab) in zip(frames, source):
        lab = np.asarray(lab)
        if lab.size and not np.all(lab == np.round(lab)):
            raise ValueError(f"{path}: column {column!r} must hold integer labels")
        y = np.full(as_frame(fr).n_atoms, -1, dtype=np.int64)
        pos = np.searchsorted(fr.ids, ids)
        ok = (pos < len(fr.ids)) & (fr.ids[np.minimum(pos, len(fr.ids) - 1)] == ids)
        y[pos[ok]] = lab[ok].astype(np.int64)
        out.append(y)
    return out
