"""``crystopo classify``: train a per-atom structure classifier on labelled frames, label a trajectory."""
from __future__ import annotations

from pathlib import Path

from descriptors import read_trajectory

from ..learn.classify import StructureClassifier, classify_trajectory, train_classifier
from ..learn.trusted import TRUSTED_METHODS, read_labels, trusted_labels

__all__ = ["add_classify_parser"]


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
