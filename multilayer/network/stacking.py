"""fcc or hcp, atom by atom: the stacking of each crystal-like atom decided from its own first
shell (the common-neighbour vote of :mod:`descriptors.cna`, ``[labels] crystal_types = "cna"``)
or its own q_l (``"local"``), after :mod:`multilayer.network.structures` has found the
structures from the averaged q̄_l, which blur fcc and hcp across young nuclei and stacking
faults.  Only fcc and hcp move, and the crystal-like set changes only where a rule names an
atom liquid (``strict``, ``support``).
"""
from __future__ import annotations

import numpy as np

from .structures import STRUCTURE_DEFAULTS as _D

__all__ = ["crystal_type_model", "assign_crystal_types", "assign_stacking", "INHERIT_ROUNDS"]

_STACKING = ("fcc", "hcp")     # the crystal types told apart by each atom's own q_l
INHERIT_ROUNDS = 3             # rounds inherited crystals spread ([labels] cna_inherit_rounds)


def crystal_type_model(features, *, noise=tuple(_D["reference_noise"]), n_per_kind=1000, seed=0):
    """fcc or hcp, from an environment's own q_l: a linear discriminant fitted on the
    reference fcc and hcp crystals (:mod:`descriptors.reference`, every noise level) described
    by the run's fitted ``features`` (their ``FrameFeatures.ql_local``).

    Why: fcc and hcp differ in the stacking of the first shell.  The averaged q̄_l that find
    the crystal-like atoms mix each atom with its neighbours, so across a young nucleus, a
    stacking fault or an fcc|hcp boundary they blur the two; the atom's own q_l keep them
    apart.  On the validation suite's six nucleation runs (``benchmarks/bench_labels.py
    --crystal-types local``), the fcc/hcp agreement with PTM of the atoms labelled fcc or hcp
    rose from 0.73-0.83 to 0.88-0.90 (instantaneous PTM) and from 0.64-0.70 to 0.70-0.74 (PTM
    of the quenched frames); bcc, which the averaged q̄_l find well, is left to the communities.  The price:
    in bulk thermal crystals the own q_l are noisier than the averaged ones (hcp frames of the
    suite's one-phase-per-frame set at T* 0.4 / 0.7: 1.000 -> 0.86 / 0.70 called hcp; the
    whole set 0.9996 -> 0.943), so
    ``analyze`` uses it only on request (``[labels] crystal_types = "local"``).

    Returns a fitted scikit-learn classifier (``classes_`` fcc, hcp); None when ``features``
    gives no ``ql_local`` (no Steinhardt set).
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from descriptors.reference import reference_frames

    xs, kinds = [], []
    for ref in reference_frames(features.nn_distance_, kinds=_STACKING, noise=noise,
                                n_per_kind=n_per_kind, seed=seed):
        ql = features.transform(ref.frame).ql_local
        if ql is None:
            return None
        xs.append(ql[ref.rows])
        kinds += [ref.kind] * len(ref.rows)
    return LinearDiscriminantAnalysis().fit(np.concatenate(xs).astype(np.float64), kinds)


def assign_crystal_types(labels, ql_local, names, model) -> list:
    """Labels whose fcc and hcp atoms take the type ``model`` (:func:`crystal_type_model`)
    gives their own q_l; every other label unchanged.

    ``labels`` and ``ql_local`` are per-frame arrays (rows aligned); ``names[label]`` names a
    label and must hold "fcc" and "hcp".  The crystal-like set is the same before and after:
    only fcc and hcp are redistributed among its atoms.

    Examples
    --------
    >>> class Model:
    ...     def predict(self, x): return np.where(x[:, 0] > 0.5, "hcp", "fcc")
    >>> names = ["liquid", "fcc", "hcp", "bcc", "ico"]
    >>> out = assign_crystal_types([np.array([0, 1, 2, 3, 4])],
    ...                            [np.array([[.9], [.9], [.1], [.9], [.9]])], names, Model())
    >>> out[0].tolist()
    [0, 2, 1, 3, 4]
    """
    names = list(names)
    missing = [n for n in _STACKING if n not in names]
    if missing:
        raise ValueError(f"names {names} lack {missing}")
    ids = [names.index(n) for n in _STACKING]
    out = []
    for lab, ql in zip(labels, ql_local):
        lab = np.array(lab, dtype=np.int64, copy=True)
        pick = np.isin(lab, ids)
        if pick.any():
            pred = np.asarray(model.predict(np.asarray(ql, dtype=np.float64)[pick]))
            lab[pick] = np.where(pred == _STACKING[1], ids[1], ids[0])
        out.append(lab)
    return out


def assign_stacking(labels, votes, names, *, strict=False, support=None, shells=None,
                    inherit=False, inherit_rounds=INHERIT_ROUNDS) -> list:
    """Labels whose fcc and hcp atoms take the stacking of their own first shell where its
    bonds' common-neighbour signatures decide it (:func:`descriptors.cna.stacking`: ``FCC``
    or ``HCP``); undecided atoms and every other label keep their community's name.

    Why: the averaged q̄_l that find the crystal-like atoms mix each atom with its
    neighbours, so across a young nucleus, a stacking fault or an fcc|hcp boundary they
    blur fcc and hcp; the bond topology of the atom's own shell does not, and where thermal
    noise breaks it the vote abstains instead of guessing.  ``labels`` and ``votes`` are
    per-frame arrays (rows aligned); ``names[label]`` must hold "fcc" and "hcp".  The
    crystal-like set is unchanged, unless ``strict`` or ``support``:

    * ``strict``: an fcc or hcp atom whose shell does not vote is named liquid (``names``
      must hold "liquid"), so that crystal-like means a crystal-like neighbourhood *and* a
      close-packed first shell;
    * ``support`` (an int >= 0, with ``shells``: per frame the first-shell list as a
      ``(offsets, indices)`` CSR pair over the same rows): such an atom is named liquid
      when fewer than ``support`` of its first-shell neighbours are *core* atoms -- fcc or
      hcp atoms whose shell votes, or bcc atoms -- and at least one is named neither fcc,
      hcp nor bcc (it touches the liquid).  The surface of a nucleus and a thermally shaken
      crystal keep their atoms; ordered patches of the liquid with no close-packed core do
      not.  The contact condition keeps crystals whose shells cannot vote at all (30 %
      vacancies: no atom votes, so none has core neighbours; without it the suite's
      distorted fcc and hcp were named liquid, 0.953 -> 0.779) and the slabs' crystal|crystal
      interfaces (0.649 -> 0.799 correct).  0 keeps every atom (the plain vote).
    * ``inherit`` (with ``shells``): an abstaining fcc or hcp atom that keeps its crystal-like
      name takes the crystal most of its crystal neighbours' own shells vote for: fcc or hcp
      (fcc/hcp-labelled neighbours voting ``FCC`` / ``HCP``) or bcc (bcc-labelled neighbours
      voting ``BCC``: votes from :func:`descriptors.cna.stacking` with ``bcc=True``; votes
      without ``BCC`` leave bcc out); a tie for the most, or no voting neighbour: its
      structure's name for now.  Why: on the surface of a nucleus, half of an atom's shell
      is liquid and its averaged q̄_l, a blend of crystal and liquid, lies nearest the hcp
      reference, so an fcc seed's surface was named hcp (on the suite's fcc seed in liquid,
      862 of the 933 seed atoms named hcp are PTM ``other``); the same blend names a bcc
      crystal's face close-packed where it meets hcp or the liquid (on the suite's slabs,
      903 of the 953 bcc atoms whose shell reaches into the hcp slab were named fcc or hcp,
      though none of their shells votes fcc or hcp; with the bcc votes counted, 182).  Only
      votes count, so a crystal whose shells cannot vote (30 % vacancies) keeps its names.

      The names spread in rounds (``inherit_rounds``, default :data:`INHERIT_ROUNDS`; None:
      until a round names no atom; 1: the voting neighbours only, as until stop 48): an atom
      that inherited a crystal counts as voting for it in the next round, and so does a
      bcc-labelled atom whose own shell does not vote bcc once most of its neighbours' votes
      are bcc (it keeps its name either way).  Every atom of a round is decided from the
      kinds the round began with, so the result does not depend on the atoms' order; where
      nothing votes nothing spreads.  Why: a bcc face against hcp is a band of abstaining
      atoms two or three layers deep, every shell reaching across, and one round reached
      only its inner edge (the rest took hcp by a tie); three rounds lift the slabs from
      0.980 to 0.985 and the held-out slabs from 0.974-0.978 to 0.981-0.985, and do all
      that more rounds do there.  Three keep the rule local (an atom's name rests on votes
      within three shells): in a crystal whose shells almost never vote (30 % vacancies: 0.5 %
      of the atoms) unbounded rounds flood it from those few votes.

    Examples
    --------
    >>> names = ["liquid", "fcc", "hcp"]
    >>> assign_stacking([np.array([0, 1, 1, 2, 2])], [np.array([2, 2, 0, 1, 0])], names)[0].tolist()
    [0, 2, 1, 1, 2]
    >>> assign_stacking([np.array([0, 1, 1, 2, 2])], [np.array([2, 2, 0, 1, 0])], names,
    ...                 strict=True)[0].tolist()
    [0, 2, 0, 1, 0]

    Atom 2 abstains with two core neighbours (atoms 1 and 3), atom 4 with one (atom 3) and
    a liquid one (atom 0):

    >>> shell = (np.array([0, 2, 4, 6, 8, 10]), np.array([1, 4, 0, 2, 1, 3, 2, 4, 3, 0]))
    >>> assign_stacking([np.array([0, 1, 1, 2, 2])], [np.array([2, 2, 0, 1, 0])], names,
    ...                 support=2, shells=[shell])[0].tolist()
    [0, 2, 1, 1, 0]

    With ``inherit``, atom 2 (neighbours voting hcp and fcc: a tie) keeps fcc and atom 4 (one
    fcc/hcp neighbour, voting fcc) becomes fcc:

    >>> assign_stacking([np.array([0, 1, 1, 2, 2])], [np.array([2, 2, 0, 1, 0])], names,
    ...                 support=0, shells=[shell], inherit=True)[0].tolist()
    [0, 2, 1, 1, 1]
    """
    from descriptors.cna import BCC, FCC, HCP

    names = list(names)
    missing = [n for n in _STACKING if n not in names]
    if missing:
        raise ValueError(f"names {names} lack {missing}")
    fcc, hcp = (names.index(n) for n in _STACKING)
    if support is not None:
        if isinstance(support, bool) or int(support) != support or support < 0:
            raise ValueError(f"support must be an integer >= 0, got {support!r}")
        if shells is None:
            raise ValueError("support needs shells: each frame's first-shell (offsets, indices)")
        support = int(support)
        if strict:
            raise ValueError("strict and support exclude each other: strict names liquid every "
                             "abstaining atom, support only those with few core neighbours")
    if inherit and shells is None:
        raise ValueError("inherit needs shells: each frame's first-shell (offsets, indices)")
    if inherit_rounds is not None and (isinstance(inherit_rounds, bool) or
                                       int(inherit_rounds) != inherit_rounds or
                                       inherit_rounds < 1):
        raise ValueError(f"inherit_rounds must be None or an integer >= 1, got "
                         f"{inherit_rounds!r}")
    if (strict or support) and "liquid" not in names:
        raise ValueError(f"names {names} lack liquid (strict or support)")
    bcc = names.index("bcc") if "bcc" in names else -1
    shells = iter(shells) if shells is not None else None
    out = []
    for lab, vote in zip(labels, votes):
        lab = np.array(lab, dtype=np.int64, copy=True)
        vote = np.asarray(vote)
        if vote.shape != lab.shape:
            raise ValueError(f"a frame has {len(lab)} labels but {len(vote)} votes")
        pick = (lab == fcc) | (lab == hcp)
        decided = (vote == FCC) | (vote == HCP)
        abstain = pick & ~decided
        drop = abstain if strict else np.zeros_like(abstain)
        if support or inherit:
            offsets, indices = (np.asarray(a) for a in next(shells))
            if len(offsets) != len(lab) + 1:
                raise ValueError(f"a frame has {len(lab)} labels but a shell list of "
                                 f"{len(offsets) - 1} rows")
            rows = np.repeat(np.arange(len(lab)), np.diff(offsets))
            if support:
                core = (pick & decided) | (lab == bcc)
                n_core = np.bincount(rows, weights=core[indices], minlength=len(lab))
                apart = ~(pick | (lab == bcc))        # neighbours named neither crystal
                n_apart = np.bincount(rows, weights=apart[indices], minlength=len(lab))
                drop = abstain & (n_core < support) & (n_apart > 0)
        if inherit:     # each atom's crystal by its own vote: 1 fcc, 2 hcp, 3 bcc, 0 none
            kind = np.zeros(len(lab), dtype=np.int64)
            kind[pick & (vote == FCC)] = 1
            kind[pick & (vote == HCP)] = 2
            kind[(lab == bcc) & (vote == BCC)] = 3
        lab[pick & (vote == FCC)] = fcc
        lab[pick & (vote == HCP)] = hcp
        if inherit:
            _inherit(lab, kind, np.flatnonzero(abstain & ~drop),
                     np.flatnonzero((lab == bcc) & (vote != BCC)) if bcc >= 0 else
                     np.zeros(0, dtype=np.int64), offsets, indices,
                     np.array([-1, fcc, hcp, bcc]), inherit_rounds)
        if drop.any():
            lab[drop] = names.index("liquid")
        out.append(lab)
    return out


def _inherit(lab, kind, todo, quiet_bcc, offsets, indices, codes, rounds):
    """In place: each atom of ``todo`` takes the crystal (``kind`` 1-3, label ``codes[kind]``)
    that most of its first-shell neighbours hold, where one kind has the most; each atom of
    ``quiet_bcc`` (named bcc, its shell not voting bcc) keeps its name and counts for bcc
    from the round after most of its neighbours do.  In rounds, an atom named in one round
    counts for its kind in the next (``rounds``: None until a round names none); every atom
    of a round is decided from the kinds the round began with.  Only the shells of the
    atoms still open are read, once per round."""
    n_todo = len(todo)
    todo = np.concatenate([todo, quiet_bcc]).astype(np.int64)
    done = 0
    while len(todo) and (rounds is None or done < rounds):
        start, n_nb = offsets[todo], offsets[todo + 1] - offsets[todo]
        seg = np.repeat(np.arange(len(todo)), n_nb)
        at = np.arange(len(seg)) - np.repeat(np.cumsum(n_nb) - n_nb, n_nb) + start[seg]
        cnt = np.bincount(seg * 4 + kind[indices[at]], minlength=4 * len(todo))
        cnt = cnt.reshape(len(todo), 4)[:, 1:]
        top = cnt.max(axis=1)
        best = cnt.argmax(axis=1) + 1
        win = (top > 0) & ((cnt == top[:, None]).sum(axis=1) == 1)
        win[n_todo:] &= best[n_todo:] == 3
        if not win.any():
            break
        named = win[:n_todo]
        lab[todo[:n_todo][named]] = codes[best[:n_todo][named]]
        kind[todo[win]] = best[win]
        todo, n_todo = todo[~win], int((~named).sum())
        done += 1
