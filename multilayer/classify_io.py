"""Inputs and outputs around :mod:`multilayer.classify`: label sources and ``crystopo classify``.

* :func:`trusted_labels` -- the ten Wolde solid-bond criterion (crystopo), or OVITO's
  polyhedral template matching, adaptive common neighbour analysis or diamond
  identification (:func:`ovito_structures`; ``pip install ovito``), on frames where the
  method is reliable (the Neighbors Map paper's Sec. 3.2);
* :func:`read_labels` -- per-atom labels from a Parquet table or a trajectory column,
  matched to frames by atom id;
* :func:`add_classify_parser` -- the ``crystopo classify`` command.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from descriptors import as_frame, read_trajectory
from descriptors.steinhardt import solid_liquid

__all__ = ["trusted_labels", "ovito_structures", "read_labels", "TRUSTED_METHODS",
           "add_classify_parser"]

_PTM_NAMES = {0: "other", 1: "fcc", 2: "hcp", 3: "bcc", 4: "ico", 5: "sc", 6: "cubic_diamond",
              7: "hex_diamond", 8: "graphene"}
TRUSTED_METHODS = {
    "tenwolde": {0: "liquid", 1: "solid"},
    "ptm": _PTM_NAMES,
    "acna": {k: _PTM_NAMES[k] for k in range(5)},
    "diamond": {0: "other", 1: "cubic_diamond", 2: "cubic_diamond_1nn", 3: "cubic_diamond_2nn",
                4: "hex_diamond", 5: "hex_diamond_1nn", 6: "hex_diamond_2nn"},
}

def ovito_structures(frame, method: str = "ptm", *, rmsd_cutoff: float = 0.1,
                     structures=None) -> np.ndarray:
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

    Returns
    -------
    types : ndarray of shape (n_atoms,), int64
        OVITO's type ids, named in ``TRUSTED_METHODS[method]`` (0 = other).
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
    if method == "ptm":
        mod = PolyhedralTemplateMatchingModifier(rmsd_cutoff=float(rmsd_cutoff))
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
    return np.asarray(pipeline.compute().particles["Structure Type"], dtype=np.int64)


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


# -- command line: ``crystopo classify`` -------------------------------------------------------
def _parse_slice(text, option) -> slice:
    if text is None:
        return slice(None)
    try:
        vals = [int(p) if p.strip() else None for p in text.split(":")]
    except ValueError:
        vals = []
    if not 1 <= len(vals) <= 3:
        raise ValueError(f"{option} {text!r}: expected START:STOP:STEP (integers, each optional)")
    return slice(*(vals + [None] * (3 - len(vals))))


def _spec_labels(spec, path, frames, idx, names) -> list:
    """Labels of ``frames`` (frames ``idx`` of ``path``) from a ``--labels`` spec; updates names."""
    if spec in TRUSTED_METHODS:
        names.update(TRUSTED_METHODS[spec])
        return [trusted_labels(f, spec) for f in frames]
    if spec.startswith("const:"):
        name = spec[len("const:"):]
        if name.lstrip("-").isdigit():
            return [int(name)] * len(frames)
        ids = {v: k for k, v in names.items()}
        if name not in ids:                       # a new class: the next free integer
            ids[name] = max(names, default=-1) + 1
            names[ids[name]] = name
        return [ids[name]] * len(frames)
    if spec == "column" or spec.startswith("column:"):
        column = spec.partition(":")[2] or "label"
        return read_labels(path, frames, column=column, frame_indices=idx)
    if not Path(spec).exists():
        raise ValueError(f"--labels {spec!r}: not a method ({sorted(TRUSTED_METHODS)}), "
                         "const:NAME, column[:NAME] or an existing file")
    return read_labels(spec, frames, frame_indices=idx)


def _cmd_classify(args) -> int:
    from .classify import StructureClassifier, classify_trajectory, train_classifier

    if args.model:
        clf = StructureClassifier.load(args.model)
    else:
        if not args.labels:
            raise ValueError("--labels is required unless --model is given (e.g. --labels tenwolde)")
        paths = args.train or [args.trajectory]
        specs = args.labels * len(paths) if len(args.labels) == 1 else args.labels
        if len(specs) != len(paths):
            raise ValueError(f"give one --labels for all --train, or one per --train: got "
                             f"{len(args.labels)} --labels for {len(paths)} training files")
        sel, frames, ys, names = _parse_slice(args.train_frames, "--train-frames"), [], [], {}
        for path, spec in zip(paths, specs):
            traj = read_trajectory(path)
            idx = list(range(len(traj)))[sel]
            if not idx:
                raise ValueError(f"--train-frames {args.train_frames!r} selects no frame of {path}")
            chosen = [traj[i] for i in idx]
            ys += _spec_labels(spec, path, chosen, idx, names)
            frames += chosen
        clf = train_classifier(frames, ys, feature_sets=args.features.split(","),
                               model=args.classifier, class_names=names,
                               nn_distance=args.nn_distance, max_per_class=args.max_per_class,
                               augment_noise=args.augment_noise, seed=args.seed)
        if args.save_model:
            clf.save(args.save_model)
    table = classify_trajectory(clf, args.trajectory, frames=_parse_slice(args.frames, "--frames"),
                                threshold=args.threshold, out=args.out, dump=not args.no_dump,
                                progress=not args.quiet)
    print(f"labelled {table['frame'].nunique()} frames ({len(table)} atoms in all) -> {args.out}")
    names = {-1: "unknown", **clf.class_names_}
    for lab, frac in table["label"].value_counts(normalize=True).sort_index().items():
        print(f"  {int(lab):>3} {names.get(int(lab), '?'):<14} {frac:.4f}")
    return 0


def add_classify_parser(sub) -> None:
    """Register ``crystopo classify`` on the ``crystopo`` sub-command parsers."""
    p = sub.add_parser("classify", help="train a per-atom structure classifier on labelled "
                       "frames and label a trajectory (-1 = unknown)")
    p.add_argument("trajectory", help="trajectory to label")
    p.add_argument("--out", required=True,
                   help="output directory: labels.parquet, labelled.dump, classes.json")
    p.add_argument("--model", help="classifier saved by --save-model (no training)")
    p.add_argument("--train", action="append",
                   help="training trajectory, repeatable (default: the trajectory itself)")
    p.add_argument("--labels", action="append",
                   help="one for all --train or one per --train: tenwolde | ptm | acna | "
                        "const:NAME (every atom) | column[:NAME] (per-atom column of the "
                        "training dump, default 'label') | FILE (.parquet with frame, id, "
                        "label; or a dump with a 'label' column)")
    p.add_argument("--train-frames", help="START:STOP:STEP of each training trajectory")
    p.add_argument("--features", default="neighbors_map,steinhardt",
                   help="comma-separated feature sets from neighbors_map, neighbors_map_image, "
                        "persistence, steinhardt")
    p.add_argument("--classifier", default="hgb", choices=("hgb", "rf", "mlp"))
    p.add_argument("--nn-distance", type=float,
                   help="first-neighbour distance (default: estimated per frame)")
    p.add_argument("--max-per-class", type=int, default=2000,
                   help="training atoms per class and frame")
    p.add_argument("--augment-noise", type=float, default=0.0,
                   help="also train on noisy copies (Gaussian, in nn distances, 33%% of atoms)")
    p.add_argument("--threshold", type=float, default=0.5, help="confidence below -> label -1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-model", help="pickle the trained classifier here")
    p.add_argument("--frames", help="START:STOP:STEP of the trajectory to label")
    p.add_argument("--no-dump", action="store_true", help="skip labelled.dump")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_classify)
