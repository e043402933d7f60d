"""fcc / hcp stacking from the common neighbours of the first-shell bonds (descriptors.cna)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from descriptors import Box, Frame, make_lattice, neighbor_list
from descriptors.cna import BCC, FCC, HCP, UNDECIDED, bcc_counts, cna_counts, stacking
from multilayer.network.stacking import assign_stacking

HAS_OVITO = importlib.util.find_spec("ovito") is not None


def _stacked(steps, nx=6, ny=4, noise=0.0, seed=0):
    """Close-packed layers (nearest-neighbour distance 1) stacked by ``steps`` (+1: A->B->C,
    -1: the reverse), periodic; a layer is hcp-like where the steps before and after it
    differ (its two neighbouring layers sit at the same site), fcc-like where they agree."""
    steps = np.asarray(steps)
    assert steps.sum() % 3 == 0, "the stacking must close over the period"
    site = np.r_[0, np.cumsum(steps)[:-1]] % 3
    cell2d = np.array([[0.0, 0.0], [0.5, np.sqrt(3) / 2]])
    grid = np.array([(i, j) for i in range(nx) for j in range(ny)], dtype=float)
    plane = (grid[:, None, :] * [1.0, np.sqrt(3)] + cell2d[None]).reshape(-1, 2)
    dz = np.sqrt(2.0 / 3.0)
    pos, kind = [], []
    for layer, s in enumerate(site):
        shift = s * np.array([0.5, np.sqrt(3) / 6])
        pos.append(np.column_stack([plane + shift, np.full(len(plane), layer * dz)]))
        hcp = steps[layer - 1] != steps[layer]
        kind.append(np.full(len(plane), HCP if hcp else FCC))
    pos = np.concatenate(pos)
    pos += np.random.default_rng(seed).normal(scale=noise, size=pos.shape)
    box = Box.orthogonal([nx, ny * np.sqrt(3), len(steps) * dz])
    n = len(pos)
    return Frame(pos, box, np.arange(1, n + 1), np.ones(n, np.int32)), np.concatenate(kind)


def test_ideal_lattices_have_their_signatures():
    """fcc: all 12 bonds (4, 2, 1); hcp: six (4, 2, 1) and six (4, 2, 2); bcc: none of them
    (its 12 nearest neighbours are not a close-packed shell)."""
    fcc = cna_counts(neighbor_list(make_lattice("fcc", 3), k=12))
    hcp = cna_counts(neighbor_list(make_lattice("hcp", (4, 3, 3)), k=12))
    bcc = cna_counts(neighbor_list(make_lattice("bcc", 4, noise=0.01, seed=0), k=12))
    assert (fcc == [12, 0]).all() and (hcp == [6, 6]).all()
    assert (bcc.sum(axis=1) <= 4).all()
    assert (stacking(neighbor_list(make_lattice("bcc", 4, noise=0.01, seed=0), k=12))
            == UNDECIDED).all()


@pytest.mark.parametrize("kind,code", [("fcc", FCC), ("hcp", HCP), ("bcc", BCC)])
def test_bcc_vote_only_where_the_close_packed_vote_abstains(kind, code):
    """``stacking(bcc=True)``: ideal fcc, hcp and bcc vote their own crystal; with noise the
    fcc/hcp votes are those of ``stacking``, and BCC is given exactly to the abstaining atoms
    whose 14 bonds lack bcc's signature at most ``BCC_TOLERANCE`` times; close-packed
    crystals at thermal noise never vote bcc."""
    from descriptors.cna import BCC_TOLERANCE

    size = (4, 3, 3) if kind == "hcp" else 4
    assert (stacking(neighbor_list(make_lattice(kind, size), k=14), bcc=True) == code).all()
    nl = neighbor_list(make_lattice(kind, size, noise=0.06, seed=3), k=14)
    plain, vote = stacking(nl), stacking(nl, bcc=True)
    np.testing.assert_array_equal(vote[plain != UNDECIDED], plain[plain != UNDECIDED])
    near_bcc = bcc_counts(nl).astype(int).sum(axis=1) >= 14 - BCC_TOLERANCE
    np.testing.assert_array_equal(vote == BCC, (plain == UNDECIDED) & near_bcc)
    if kind != "bcc":
        assert not (vote == BCC).any()
    else:
        assert (vote == BCC).mean() > 0.9


@pytest.mark.parametrize("steps", [[1] * 6 + [-1] * 6, [1] * 7 + [-1], [1, -1] * 3])
def test_stacking_faults_and_twins_are_found_layer_by_layer(steps):
    """Twin boundaries, an intrinsic stacking fault and pure hcp (ABAB): every layer gets the
    stacking its two neighbouring layers give it; with thermal-like noise (0.03 d) still
    nearly every atom, and no atom gets the wrong one."""
    frame, kind = _stacked(steps)
    np.testing.assert_array_equal(stacking(neighbor_list(frame, k=12)), kind)
    frame, kind = _stacked(steps, noise=0.03, seed=1)
    vote = stacking(neighbor_list(frame, k=12))
    assert np.mean(vote == kind) > 0.97 and not np.any((vote != UNDECIDED) & (vote != kind))


def test_invariant_under_rotation_translation_permutation_and_images():
    frame, _ = _stacked([1] * 7 + [-1], noise=0.05, seed=2)
    ref = cna_counts(neighbor_list(frame, k=12))
    rng = np.random.default_rng(3)
    perm = rng.permutation(frame.n_atoms)
    moved = Frame(frame.positions[perm] + 7.3 * frame.box.cell[0] - 2.0 * frame.box.cell[2]
                  + [0.31, -0.17, 0.05], frame.box, frame.ids[perm], frame.types[perm])
    by_id = lambda f, c: c[np.argsort(f.ids)]  # noqa: E731  (a Frame may reorder its rows)
    np.testing.assert_array_equal(by_id(moved, cna_counts(neighbor_list(moved, k=12))),
                                  by_id(frame, ref))
    assert len(np.unique(ref, axis=0)) >= 2
    rot = Rotation.from_euler("zyx", [0.4, -1.1, 2.3]).as_matrix()
    turned = Frame(frame.positions @ rot.T, Box(frame.box.cell @ rot.T), frame.ids, frame.types)
    np.testing.assert_array_equal(cna_counts(neighbor_list(turned, k=12)), ref)


def test_fewer_than_twelve_neighbours_listed_is_undecided():
    frame = make_lattice("fcc", 3)
    nl = neighbor_list(frame, r_cut=0.9)            # below the first shell: nobody listed
    assert (cna_counts(nl) == -1).all() and (stacking(nl) == UNDECIDED).all()


@pytest.mark.skipif(not HAS_OVITO, reason="ovito not installed")
def test_strict_signatures_are_ovitos_adaptive_cna():
    """All 12 bonds (4, 2, 1) is OVITO's a-CNA fcc, six and six its hcp, atom by atom, on
    noisy fcc, hcp, a twinned crystal and a random gas."""
    from multilayer.learn.trusted import ovito_structures

    frames = [make_lattice("fcc", 4, noise=0.06, seed=0), make_lattice("hcp", (5, 3, 4), noise=0.06,
                                                                     seed=1),
              _stacked([1] * 6 + [-1] * 6, noise=0.07, seed=2)[0]]
    gas = np.random.default_rng(4).random((300, 3)) * 6.0
    frames.append(Frame(gas, Box.orthogonal([6.0, 6.0, 6.0])))
    for frame in frames:
        c = cna_counts(neighbor_list(frame, k=12))
        ours = np.where(c[:, 0] == 12, 1, np.where((c[:, 0] == 6) & (c[:, 1] == 6), 2, 0))
        theirs = ovito_structures(frame, "acna")
        theirs = np.where(np.isin(theirs, (1, 2)), theirs, 0)
        np.testing.assert_array_equal(ours, theirs)


def test_assign_stacking_changes_fcc_and_hcp_only():
    names = ["liquid", "fcc", "hcp", "bcc"]
    labels = [np.array([0, 1, 1, 2, 2, 3, 0])]
    votes = [np.array([HCP, HCP, UNDECIDED, FCC, UNDECIDED, FCC, FCC])]
    assert assign_stacking(labels, votes, names)[0].tolist() == [0, 2, 1, 1, 2, 3, 0]
    with pytest.raises(ValueError, match="hcp"):
        assign_stacking(labels, votes, ["liquid", "fcc"])
    # strict: fcc/hcp atoms whose bonds abstain become liquid; nothing else moves
    assert assign_stacking(labels, votes, names, strict=True)[0].tolist() == [0, 2, 0, 1, 0, 3, 0]
    with pytest.raises(ValueError, match="liquid"):
        assign_stacking(labels, votes, ["fcc", "hcp"], strict=True)


def _shell(nl):
    return nl.offsets, nl.indices


def test_support_keeps_a_crystal_and_drops_an_isolated_ordered_atom():
    """``support``: an fcc atom whose bonds abstain keeps its name inside a crystal (twelve
    core neighbours) and is named liquid among liquid neighbours (none)."""
    frame = make_lattice("fcc", 4, noise=0.0)
    nl = neighbor_list(frame, k=12)
    names = ["liquid", "fcc", "hcp", "bcc"]
    vote = stacking(nl)
    assert np.all(vote == FCC)
    rng = np.random.default_rng(0)
    undecided = rng.choice(frame.n_atoms, 20, replace=False)
    vote = vote.copy()
    vote[undecided] = UNDECIDED
    crystal = np.ones(frame.n_atoms, dtype=np.int64)            # all named fcc
    out = assign_stacking([crystal], [vote], names, support=4, shells=[_shell(nl)])[0]
    np.testing.assert_array_equal(out, crystal)                  # >= 8 core neighbours each
    # the same atoms named fcc inside a liquid-named region: no core neighbour
    islands = np.zeros(frame.n_atoms, dtype=np.int64)
    islands[undecided] = 1
    out = assign_stacking([islands], [vote], names, support=1, shells=[_shell(nl)])[0]
    assert np.all(out == 0)
    # support 0 is the plain vote; bcc neighbours count as core
    assert assign_stacking([islands], [vote], names, support=0,
                           shells=[_shell(nl)])[0].tolist() == \
        assign_stacking([islands], [vote], names)[0].tolist()
    bcc_around = np.full(frame.n_atoms, 3, dtype=np.int64)
    bcc_around[undecided] = 1
    out = assign_stacking([bcc_around], [vote], names, support=4, shells=[_shell(nl)])[0]
    np.testing.assert_array_equal(out, bcc_around)


def test_support_counts_core_neighbours_exactly():
    """Against a loop over the neighbour list: an abstaining fcc/hcp atom is named liquid iff
    fewer than ``support`` neighbours are fcc/hcp atoms that vote or bcc atoms and one is named
    none of fcc/hcp/bcc; everything else as the plain vote.  Random labels and votes on a
    noisy crystal."""
    frame = make_lattice("fcc", 4, noise=0.05, seed=3)
    nl = neighbor_list(frame, r_cut=1.25)
    names = ["liquid", "fcc", "hcp", "bcc", "ico"]
    rng = np.random.default_rng(1)
    lab = rng.integers(0, 5, frame.n_atoms)
    vote = rng.choice([FCC, HCP, UNDECIDED], frame.n_atoms)
    plain = assign_stacking([lab], [vote], names)[0]
    for support in (1, 3, 6):
        got = assign_stacking([lab], [vote], names, support=support, shells=[_shell(nl)])[0]
        want = plain.copy()
        for i in range(frame.n_atoms):
            if lab[i] in (1, 2) and vote[i] == UNDECIDED:
                nbrs = nl.indices[nl.offsets[i]:nl.offsets[i + 1]]
                core = sum(1 for j in nbrs if (lab[j] in (1, 2) and vote[j] != UNDECIDED)
                           or lab[j] == 3)
                apart = sum(1 for j in nbrs if lab[j] not in (1, 2, 3))
                if core < support and apart > 0:
                    want[i] = 0
        np.testing.assert_array_equal(got, want)
    # larger support never keeps more
    kept = [np.isin(assign_stacking([lab], [vote], names, support=s, shells=[_shell(nl)])[0],
                    (1, 2)).sum() for s in range(0, 14)]
    assert all(a >= b for a, b in zip(kept, kept[1:]))
    assert kept[-1] >= np.isin(assign_stacking([lab], [vote], names, strict=True)[0], (1, 2)).sum()


def test_support_argument_checks():
    names = ["liquid", "fcc", "hcp"]
    lab, vote = [np.array([1, 1])], [np.array([UNDECIDED, FCC])]
    shell = (np.array([0, 1, 2]), np.array([1, 0]))
    with pytest.raises(ValueError, match="shells"):
        assign_stacking(lab, vote, names, support=2)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="support"):
            assign_stacking(lab, vote, names, support=bad, shells=[shell])
    with pytest.raises(ValueError, match="liquid"):
        assign_stacking(lab, vote, ["fcc", "hcp"], support=1, shells=[shell])
    with pytest.raises(ValueError, match="shell list"):
        assign_stacking(lab, vote, names, support=1, shells=[(np.array([0, 1]), np.array([0]))])
    with pytest.raises(ValueError, match="votes"):
        assign_stacking(lab, [np.array([FCC])], names)
    with pytest.raises(ValueError, match="exclude"):        # strict is not a support value
        assign_stacking(lab, vote, names, strict=True, support=2, shells=[shell])
    assert assign_stacking(lab, vote, names, support=2, shells=[shell])[0].tolist() == [1, 1]
    # atom 0 (abstaining, one core neighbour) beside a liquid atom 2
    lab3, vote3 = [np.array([1, 1, 0])], [np.array([UNDECIDED, FCC, UNDECIDED])]
    shell3 = (np.array([0, 2, 3, 4]), np.array([1, 2, 0, 0]))
    assert assign_stacking(lab3, vote3, names, support=1, shells=[shell3])[0].tolist() == [1, 1, 0]
    assert assign_stacking(lab3, vote3, names, support=2, shells=[shell3])[0].tolist() == [0, 1, 0]


@pytest.mark.parametrize("kind,vote_code,name,wrong", [("fcc", FCC, 1, 2), ("hcp", HCP, 2, 1),
                                                       ("bcc", BCC, 3, 1), ("bcc", BCC, 3, 2)])
def test_inherit_names_abstaining_atoms_after_their_crystal(kind, vote_code, name, wrong):
    """``inherit``: in an ideal fcc (hcp, bcc) crystal whose first shells all vote fcc (hcp,
    bcc), atoms made to abstain and labelled with another close-packed name (a nucleus's
    surface or a bcc face, named from its blended q̄_l) take the crystal's; without it they
    keep the wrong name."""
    frame = make_lattice(kind, 4, noise=0.0)
    nl = neighbor_list(frame, k=14)
    vote = stacking(nl, bcc=True)
    assert np.all(vote == vote_code)
    names = ["liquid", "fcc", "hcp", "bcc"]
    rng = np.random.default_rng(4)
    odd = rng.choice(frame.n_atoms, 15, replace=False)
    vote = vote.copy()
    vote[odd] = UNDECIDED
    lab = np.full(frame.n_atoms, name, dtype=np.int64)
    lab[odd] = wrong
    out = assign_stacking([lab], [vote], names, support=4, shells=[_shell(nl)], inherit=True)[0]
    assert np.all(out == name)
    plain = assign_stacking([lab], [vote], names, support=4, shells=[_shell(nl)])[0]
    assert np.all(plain[odd] == wrong)
    if kind == "bcc":     # votes made without bcc's: the names stay (a crystal that cannot vote)
        old = assign_stacking([lab], [stacking(nl)], names, support=4, shells=[_shell(nl)],
                              inherit=True)[0]
        assert np.all(old[odd] == wrong)


def _inherit_loop(lab, vote, base, nl, rounds):
    """The rule of ``inherit`` atom by atom: in each round, every abstaining fcc/hcp atom not
    yet named takes the kind most of its neighbours hold (voting, or named in an earlier
    round), and a bcc-labelled atom not voting bcc counts for bcc once bcc is that kind; a
    tie or none: not yet."""
    kind = np.zeros(len(lab), dtype=np.int64)
    for i in range(len(lab)):
        if lab[i] in (1, 2) and vote[i] in (FCC, HCP):
            kind[i] = vote[i]
        elif lab[i] == 3 and vote[i] == BCC:
            kind[i] = 3
    want = base.copy()
    todo = [i for i in range(len(lab))
            if lab[i] in (1, 2) and vote[i] in (UNDECIDED, BCC) and base[i] in (1, 2)]
    quiet = [i for i in range(len(lab)) if lab[i] == 3 and vote[i] != BCC]
    r = 0
    while (todo or quiet) and (rounds is None or r < rounds):
        named = {}
        for i in todo + quiet:
            nbrs = nl.indices[nl.offsets[i]:nl.offsets[i + 1]]
            n = [sum(1 for j in nbrs if kind[j] == k) for k in (1, 2, 3)]
            top = max(n)
            if top and n.count(top) == 1 and (i in todo or n.index(top) == 2):
                named[i] = n.index(top) + 1
        if not named:
            break
        for i, k in named.items():
            kind[i] = k
            if i in todo:
                want[i] = k
        todo = [i for i in todo if i not in named]
        quiet = [i for i in quiet if i not in named]
        r += 1
    return want


@pytest.mark.parametrize("rounds", [1, 2, None])
def test_inherit_is_the_neighbour_majority_exactly(rounds):
    """Against a loop: an abstaining fcc/hcp atom that stays takes the majority vote of its
    voting neighbours -- fcc/hcp-labelled ones voting fcc or hcp, bcc-labelled ones voting
    bcc (ties and no vote: unchanged) -- and, round by round, of the neighbours named so in
    earlier rounds; inheriting never changes which atoms are crystal-like, nor any decided
    atom or other label."""
    frame = make_lattice("fcc", 4, noise=0.05, seed=5)
    nl = neighbor_list(frame, r_cut=1.25)
    names = ["liquid", "fcc", "hcp", "bcc", "ico"]
    rng = np.random.default_rng(2)
    lab = rng.integers(0, 5, frame.n_atoms)
    for codes in ([FCC, HCP, UNDECIDED], [FCC, HCP, BCC, UNDECIDED]):
        vote = rng.choice(codes, frame.n_atoms)
        for support in (0, 3):
            base = assign_stacking([lab], [vote], names, support=support, shells=[_shell(nl)])[0]
            got = assign_stacking([lab], [vote], names, support=support, shells=[_shell(nl)],
                                  inherit=True, inherit_rounds=rounds)[0]
            np.testing.assert_array_equal(got, _inherit_loop(lab, vote, base, nl, rounds))
            assert np.array_equal(np.isin(got, (1, 2, 3)), np.isin(base, (1, 2, 3)))
            assert (got[~np.isin(lab, (1, 2))] == base[~np.isin(lab, (1, 2))]).all()
    with pytest.raises(ValueError, match="inherit needs shells"):
        assign_stacking([lab], [vote], names, inherit=True)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="inherit_rounds"):
            assign_stacking([lab], [vote], names, shells=[_shell(nl)], inherit=True,
                            inherit_rounds=bad)


@pytest.mark.parametrize("kind,vote_code,name,wrong", [("bcc", BCC, 3, 2), ("fcc", FCC, 1, 2)])
def test_inherit_spreads_into_a_band_that_cannot_vote(kind, vote_code, name, wrong):
    """A slab of an ideal crystal five layers thick whose atoms abstain and carry another
    name (a bcc face against hcp, its shells reaching across): with one round only its
    outer layers, which touch voting atoms, take the crystal's name; in rounds the whole
    band does."""
    frame = make_lattice(kind, 5, noise=0.0)
    nl = neighbor_list(frame, k=14)
    vote = stacking(nl, bcc=True)
    assert np.all(vote == vote_code)
    z = frame.positions[:, 2] - frame.positions[:, 2].min()
    layers = np.unique(np.round(z, 3))
    band = np.isin(np.round(z, 3), layers[3:8])
    vote = np.where(band, UNDECIDED, vote)
    names = ["liquid", "fcc", "hcp", "bcc"]
    lab = np.where(band, wrong, name)
    one = assign_stacking([lab], [vote], names, support=4, shells=[_shell(nl)], inherit=True,
                          inherit_rounds=1)[0]
    assert np.any(one[band] == wrong) and np.any(one[band] == name)
    out = assign_stacking([lab], [vote], names, support=4, shells=[_shell(nl)], inherit=True)[0]
    assert np.all(out == name)


def test_support_keeps_a_crystal_whose_shells_cannot_vote():
    """fcc with 8 % noise and 30 % vacancies: almost no first shell votes (no atom has core
    neighbours), but no atom touches anything named liquid, so the support rule keeps the
    crystal; the same atoms as an island in a liquid-named region lose their rim."""
    frame = make_lattice("fcc", 5, noise=0.08, vacancies=0.3, seed=1)
    nl = neighbor_list(frame, r_cut=1.25)
    vote = stacking(nl)
    assert np.mean(vote == UNDECIDED) > 0.9
    names = ["liquid", "fcc", "hcp", "bcc"]
    lab = np.ones(frame.n_atoms, dtype=np.int64)
    out = assign_stacking([lab], [vote], names, support=4, shells=[_shell(nl)])[0]
    assert np.all(out == 1)
    half = frame.positions[:, 0] < frame.box.cell[0, 0] / 2
    lab_half = np.where(half, 1, 0)
    out = assign_stacking([lab_half], [vote], names, support=4, shells=[_shell(nl)])[0]
    rim = half & (out == 0)
    assert rim.any() and not np.any(out[~half] != 0)
    assert np.all(out[half & ~rim] == 1)


def test_bcc_signatures_of_ideal_and_thermal_lattices():
    """bcc: 8 bonds (6, 6, 6) to the nearest and 6 (4, 4, 4) to the next; fcc and hcp (their
    14 nearest reach into the second shell) have at most 4 such bonds; with thermal-like
    noise (0.04 d) bcc keeps at least 11 of 14, the others at most 8."""
    for noise, seed in ((0.0, 0), (0.04, 1)):
        bcc = bcc_counts(neighbor_list(make_lattice("bcc", 4, noise=noise, seed=seed), k=14))
        fcc = bcc_counts(neighbor_list(make_lattice("fcc", 3, noise=noise, seed=seed), k=14))
        hcp = bcc_counts(neighbor_list(make_lattice("hcp", (4, 3, 3), noise=noise, seed=seed),
                                       k=14))
        if noise == 0:
            assert (bcc == [8, 6]).all()
            assert (fcc.sum(axis=1) <= 4).all() and (hcp.sum(axis=1) <= 4).all()
        else:
            assert np.mean(bcc.sum(axis=1) >= 11) > 0.95
            assert (fcc.sum(axis=1) <= 8).all() and (hcp.sum(axis=1) <= 8).all()


def test_bcc_counts_invariant_and_short_rows_undecided():
    frame = make_lattice("bcc", 4, noise=0.06, seed=5)
    ref = bcc_counts(neighbor_list(frame, k=14))
    assert len(np.unique(ref, axis=0)) >= 2
    rng = np.random.default_rng(6)
    perm = rng.permutation(frame.n_atoms)
    rot = Rotation.from_euler("zyx", [-0.7, 0.2, 1.9]).as_matrix()
    moved = Frame((frame.positions[perm] + [0.4, -3.1, 2.2]) @ rot.T, Box(frame.box.cell @ rot.T),
                  frame.ids[perm], frame.types[perm])
    back = bcc_counts(neighbor_list(moved, k=14))
    np.testing.assert_array_equal(back[np.argsort(moved.ids)], ref[np.argsort(frame.ids)])
    assert (bcc_counts(neighbor_list(frame, k=12)) == -1).all()


@pytest.mark.skipif(not HAS_OVITO, reason="ovito not installed")
def test_strict_bcc_signatures_are_ovitos_adaptive_cna():
    """All 14 bonds carrying bcc's signatures is OVITO's a-CNA bcc, atom by atom, on noisy
    bcc, fcc and a random gas."""
    from multilayer.learn.trusted import ovito_structures

    gas = np.random.default_rng(7).random((300, 3)) * 6.0
    for frame in (make_lattice("bcc", 5, noise=0.07, seed=8), make_lattice("fcc", 4, noise=0.06,
                                                                          seed=9),
                  Frame(gas, Box.orthogonal([6.0, 6.0, 6.0]))):
        c = bcc_counts(neighbor_list(frame, k=14))
        ours = (c[:, 0] == 8) & (c[:, 1] == 6)
        np.testing.assert_array_equal(ours, ovito_structures(frame, "acna") == 3)


def test_counts_of_some_atoms_are_those_of_all_atoms_there():
    frame = make_lattice("bcc", 4, noise=0.05, seed=10)
    nl = neighbor_list(frame, k=14)
    some = np.random.default_rng(11).random(frame.n_atoms) < 0.3
    for counts in (cna_counts, bcc_counts):
        whole, part = counts(nl), counts(nl, some)
        np.testing.assert_array_equal(part[some], whole[some])
        assert (part[~some] == 0).all()
    with pytest.raises(ValueError, match="atoms.shape"):
        cna_counts(nl, some[:-1])
