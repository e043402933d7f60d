"""Structure labels anchored in reference environments (multilayer.network.structures)."""
import numpy as np
import pytest

from descriptors import Box, Frame, first_shell_distance, make_lattice
from descriptors.reference import REFERENCE_KINDS, lj_liquid, reference_frames
from multilayer.network.featureset import FeatureSet
from multilayer.network.graph import assign_microstates
from multilayer.network.structures import (
    CRYSTAL_NAMES,
    LABEL_LOCAL_STEINHARDT,
    REFERENCE_SPACINGS,
    STRUCTURE_NAMES,
    consensus_names,
    describe_references,
    fit_structures,
)
from multilayer.network.harmonic import anchor_probabilities, interpolated_labels, nearest_weight

SETS = ["steinhardt"]   # the default label set (LABEL_SETS)
BOTH = LABEL_LOCAL_STEINHARDT   # the default: q_l beside the averaged q_l or not


def _phase_frames(seed=0):
    """One phase per frame: noisy fcc, hcp, bcc at two thermal noises and two LJ liquids,
    ids 1..n in every frame (as in any trajectory)."""
    frames, truth = [], []
    spec = [("fcc", 5, 0.05), ("hcp", (5, 3, 3), 0.05), ("bcc", 6, 0.05),
            ("fcc", 5, 0.08), ("hcp", (5, 3, 3), 0.08), ("bcc", 6, 0.07)]
    for k, (kind, cells, noise) in enumerate(spec):
        f = make_lattice(kind, cells, noise=noise, seed=100 * seed + k, nn_distance=1.09)
        frames.append(f)
        truth.append(np.full(f.n_atoms, kind))
    for f in lj_liquid(2, n_cells=4, seed=seed + 7):
        frames.append(Frame(f.positions, f.box))
        truth.append(np.full(f.n_atoms, "liquid"))
    return frames, truth


@pytest.fixture(scope="module")
def phases():
    frames, truth = _phase_frames()
    fs = FeatureSet(SETS, steinhardt_both=BOTH).fit(frames[-1])
    feats = [fs.transform(f).sets for f in frames]
    refs = describe_references(fs, sets=SETS)
    return frames, truth, fs, feats, refs


def _names(model, labels):
    names = np.array(model.names)
    return [names[lab] for lab in labels]


def _phase(names):
    return np.where(np.isin(names, CRYSTAL_NAMES), names, "liquid")


def test_reference_frames_are_what_they_claim():
    refs = reference_frames(1.09, noise=0.0, n_per_kind=64, seed=0)
    kinds = {r.kind for r in refs}
    assert kinds == set(REFERENCE_KINDS)
    fs = FeatureSet(SETS).fit(make_lattice("fcc", 4, nn_distance=1.09))
    q6 = {r.kind: fs.transform(r.frame).q6[r.rows] for r in refs}
    # perfect lattices: the published averaged q6 (fcc 0.5745, hcp 0.4848 with 12 neighbours)
    np.testing.assert_allclose(q6["fcc"], 0.57452, atol=1e-4)
    np.testing.assert_allclose(q6["hcp"], 0.48476, atol=1e-4)
    # a liquid has no long-range bond order: averaged q6 well below any crystal's
    assert q6["liquid"].mean() < 0.25


def test_reference_crystals_with_vacancies():
    """``vacancies``: one more set of crystals per fraction, that many sites fewer (the
    liquid and the icosahedra unchanged); the default draws exactly what it drew before."""
    plain = reference_frames(1.0, noise=(0.0, 0.04), n_per_kind=64, seed=1)
    both = reference_frames(1.0, noise=(0.0, 0.04), vacancies=(0.0, 0.3), n_per_kind=64, seed=1)
    crystals = [r for r in both if r.kind in ("fcc", "hcp", "bcc")]
    assert len(both) - len(plain) == len(crystals) // 2
    for full, holey in zip(crystals[::2], crystals[1::2]):
        assert holey.kind == full.kind
        assert holey.frame.n_atoms == round(0.7 * full.frame.n_atoms)
    again = reference_frames(1.0, noise=(0.0, 0.04), vacancies=(0.0,), n_per_kind=64, seed=1)
    assert all(np.array_equal(a.frame.positions, b.frame.positions) for a, b in zip(plain, again))


def test_reference_spacings_share_each_kind_and_noise():
    """``spacings``: noisy crystals are described at their lattice spacing and rescaled so
    that the first-shell estimator reads the run's distance; the variants of a kind and
    noise level share its rows, so every kind keeps its weight; ideal crystals are one."""
    fs = FeatureSet(SETS).fit(make_lattice("fcc", 4, nn_distance=1.09))
    n = 64
    x, kind = describe_references(fs, sets=SETS, noise=(0.0, 0.08), n_per_kind=n, seed=0)
    xl, kl = describe_references(fs, sets=SETS, noise=(0.0, 0.08), n_per_kind=n, seed=0,
                                 spacings=("lattice",))
    xm, km = describe_references(fs, sets=SETS, noise=(0.0, 0.08), n_per_kind=n, seed=0,
                                 spacings=("measured",))
    assert REFERENCE_SPACINGS == ("lattice", "measured")
    for k in REFERENCE_KINDS:
        assert (kind == k).sum() == (kl == k).sum() == (km == k).sum(), k
    assert (kind == "fcc").sum() == 2 * n          # two noise levels, n rows each
    # ideal crystals (the first n rows of each kind) measure exactly their lattice
    for k in ("fcc", "hcp", "bcc"):
        np.testing.assert_array_equal(xl[kl == k][:n], xm[km == k][:n])
    # the noisy ones differ: at sigma 0.08 d the estimator reads the shell 7 % short, so the
    # measured crystals are dilated, their cutoff holds less of the second shell
    assert not np.allclose(xl[kl == "fcc"][n:].mean(0), xm[km == "fcc"][n:].mean(0), atol=0.01)
    # the combined set holds rows of both
    both = x[kind == "fcc"][n:]
    near_l = np.abs(both[:, None] - xl[kl == "fcc"][n:][None]).sum(-1).min(1) < 1e-6
    near_m = np.abs(both[:, None] - xm[km == "fcc"][n:][None]).sum(-1).min(1) < 1e-6
    assert near_l.sum() == near_m.sum() == n // 2 and (near_l ^ near_m).all()
    with pytest.raises(ValueError, match="spacings"):
        describe_references(fs, sets=SETS, spacings=("cold",))
    with pytest.raises(ValueError, match="spacings"):
        describe_references(fs, sets=SETS, spacings=())


def test_hot_crystals_with_vacancies_keep_their_structures():
    """fcc, hcp and bcc at sigma = 0.08 d with 20 % vacancies, one per frame, no shared ids,
    the features fitted on the fcc frame (as ``analyze`` does): each crystal is mostly the
    structure named after it (with lattice-spaced references only, ``spacings=("lattice",)``,
    the hcp frame is named fcc at seed 0 and the fcc frame hcp at seed 2)."""
    spec = [("fcc", 6), ("hcp", (7, 4, 4)), ("bcc", 7)]
    frames = []
    for k, (kind, cells) in enumerate(spec):
        f = make_lattice(kind, cells, noise=0.08, vacancies=0.2, seed=k)
        frames.append(Frame(f.positions, f.box, f.ids + 100_000 * k))
    fs = FeatureSet(SETS).fit(frames[0])
    feats = [fs.transform(f).sets for f in frames]
    refs = describe_references(fs, sets=SETS)
    model, labels = fit_structures(feats, [f.ids for f in frames], refs, feature_sets=SETS)
    top = []
    for (kind, _), names in zip(spec, _names(model, labels)):
        v, c = np.unique(names, return_counts=True)
        top.append(v[c.argmax()])
        assert c.max() / c.sum() > 0.75, (kind, dict(zip(v, c)))
    assert top == [k for k, _ in spec], top


def test_one_phase_per_frame_gives_one_structure_per_phase(phases):
    frames, truth, fs, feats, refs = phases
    model, labels = fit_structures(feats, [f.ids for f in frames], refs, feature_sets=SETS)
    got = np.concatenate([_phase(n) for n in _names(model, labels)])
    acc = np.mean(got == np.concatenate(truth))
    assert acc >= 0.95, acc
    # each crystal frame is dominated by the structure of its own name
    for names, tr in zip(_names(model, labels), truth):
        kind = tr[0]
        if kind in CRYSTAL_NAMES:
            assert np.mean(names == kind) > 0.9, (kind, np.unique(names, return_counts=True))


def test_same_seed_same_labels_and_frame_range_keeps_names(phases):
    frames, truth, fs, feats, refs = phases
    ids = [f.ids for f in frames]
    m1, l1 = fit_structures(feats, ids, refs, feature_sets=SETS, seed=3)
    m2, l2 = fit_structures(feats, ids, refs, feature_sets=SETS, seed=3)
    for a, b in zip(l1, l2):
        np.testing.assert_array_equal(a, b)
    assert m1.names == m2.names
    # drop the first half of the frames: the structures keep their names (ids are canonical)
    half = len(frames) // 2
    m3, l3 = fit_structures(feats[half:], ids[half:], refs, feature_sets=SETS, seed=3)
    a = np.concatenate(_names(m1, l1[half:]))
    b = np.concatenate(_names(m3, l3))
    assert np.mean(a == b) >= 0.95
    for name in STRUCTURE_NAMES:
        assert m1.names.index(name) == m3.names.index(name)


def test_ideal_and_thermalised_crystals_get_their_own_names(phases):
    _, _, fs, _, refs = phases
    frames = [make_lattice(k, c, nn_distance=1.09, noise=n, seed=1)
              for k, c in (("fcc", 4), ("hcp", (4, 3, 3)), ("bcc", 5)) for n in (0.0, 0.06)]
    feats = [fs.transform(f).sets for f in frames]
    model, labels = fit_structures(feats, [f.ids for f in frames], refs, feature_sets=SETS)
    majority = [np.unique(n, return_counts=True) for n in _names(model, labels)]
    top = [v[c.argmax()] for v, c in majority]
    assert top == ["fcc", "fcc", "hcp", "hcp", "bcc", "bcc"]


def test_references_must_match_the_feature_columns(phases):
    frames, _, fs, feats, refs = phases
    x, kinds = refs
    with pytest.raises(ValueError, match="feature columns"):
        fit_structures(feats, [f.ids for f in frames], (x[:, :2], kinds), feature_sets=SETS)


def _tiled_liquid(seed, reps=2):
    """An LJ liquid (T* 1, density 0.95, 256 atoms) tiled ``reps`` times along each axis:
    4 reps**3 x 256 atoms whose first shells are those of the liquid."""
    f = lj_liquid(1, n_cells=4, seed=seed)[0]
    side = np.diag(f.box.cell)
    shifts = np.array(np.meshgrid(*[np.arange(reps)] * 3, indexing="ij")).reshape(3, -1).T
    pos = (f.positions[None] + (shifts * side)[:, None]).reshape(-1, 3)
    return Frame(pos, Box.orthogonal(side * reps))


def _nucleus_in_liquid(n_nucleus=300, noise=0.04, seed=0):
    """A thermalised fcc sphere of about ``n_nucleus`` atoms in a hot LJ liquid, and the
    distance of every atom from its centre (in first-neighbour distances) and the radius."""
    liq = _tiled_liquid(seed)
    d = first_shell_distance(liq)
    side = np.diag(liq.box.cell)
    centre = side / 2
    xtal = make_lattice("fcc", 8, nn_distance=d, noise=noise, seed=seed)
    xpos = xtal.positions - xtal.positions.mean(axis=0)
    r_x = np.linalg.norm(xpos, axis=1)
    radius = np.sort(r_x)[n_nucleus - 1] + 1e-9
    inside = r_x <= radius
    r_l = np.linalg.norm(liq.positions - centre, axis=1)
    keep = r_l > radius + 0.8 * d            # no overlaps at the interface
    pos = np.concatenate([xpos[inside] + centre, liq.positions[keep]])
    r = np.linalg.norm(pos - centre, axis=1) / d
    return Frame(pos, liq.box), r, radius / d


@pytest.fixture(scope="module")
def nucleus_frames():
    frame, r, radius = _nucleus_in_liquid()
    return frame, r, radius, _tiled_liquid(seed=11)


@pytest.fixture(scope="module", params=[False, True], ids=["avg", "local+avg"])
def nucleus(request, nucleus_frames):
    """Labels of the nucleus frame and a liquid frame, with averaged q̄_l alone and with the
    atom's own q_l beside them (LABEL_LOCAL_STEINHARDT)."""
    frame, r, radius, liquid = nucleus_frames
    fs = FeatureSet(SETS, steinhardt_both=request.param).fit(liquid)
    feats = [fs.transform(f).sets for f in (frame, liquid)]
    refs = describe_references(fs, sets=SETS)
    model, labels = fit_structures(feats, [frame.ids, liquid.ids], refs, feature_sets=SETS)
    return model, labels, r, radius


def test_nucleus_crystal_like_atoms_are_the_nucleus_and_its_first_shell(nucleus):
    model, labels, r, radius = nucleus
    crystal = model.is_crystal(labels[0])
    # the nucleus is found: its core (one shell in from the surface) is crystal-like; 5 %
    # leaves room for the thermal noise (0.04 d_nn) of single atoms
    core = r < radius - 1.0
    assert crystal[core].mean() >= 0.95, crystal[core].mean()
    # no crystal-like halo: beyond the nucleus plus one shell (1.35 d_nn, the first-shell
    # cutoff), the hot liquid's atoms are not crystal-like (1 %: single flickers)
    far = r > radius + 1.35
    assert crystal[far].mean() <= 0.01, crystal[far].mean()
    # crystal-like atoms as a whole: at most one shell more than the nucleus itself
    assert crystal.sum() <= (r <= radius + 1.35).sum(), (crystal.sum(), (r <= radius).sum())


def test_a_liquid_frame_has_no_crystal_like_atoms(nucleus):
    model, labels, _, _ = nucleus
    # T* = 1 liquid: crystal-like atoms are errors; 1 % tolerates isolated ordered atoms
    assert model.is_crystal(labels[1]).mean() <= 0.01, model.is_crystal(labels[1]).mean()


def test_consensus_of_seeds_is_a_majority_and_stable(phases):
    frames, truth, _, feats, refs = phases
    ids = [f.ids for f in frames]
    fits = [fit_structures(feats, ids, refs, feature_sets=SETS, seed=s) for s in (0, 1, 2)]
    names = consensus_names(fits)
    per_seed = [_names(m, lab) for m, lab in fits]
    for t, got in enumerate(names):
        agree = sum((p[t] == got).astype(int) for p in per_seed)
        # the winner has as many votes as any name a seed gave (ties: the first seed's)
        most = np.max([sum((q[t] == p[t]).astype(int) for q in per_seed) for p in per_seed],
                      axis=0)
        np.testing.assert_array_equal(agree, most)
    # one fit is its own consensus
    for a, b in zip(consensus_names(fits[:1]), per_seed[0]):
        np.testing.assert_array_equal(a, b)
    acc = np.mean(np.concatenate([_phase(n) for n in names]) == np.concatenate(truth))
    assert acc >= 0.95, acc
    with pytest.raises(ValueError, match="at least one"):
        consensus_names([])


def test_reference_liquid_is_cached_on_disk_and_equal_to_a_fresh_simulation(tmp_path, monkeypatch):
    """The LJ reference liquid is simulated once and kept on disk: the cached positions equal a
    fresh simulation bit for bit, a damaged cache file is recomputed, an unwritable cache
    directory is no error, and a caller cannot change the cached arrays."""
    from descriptors import reference

    args = (1, 3, 0.95, 1.0, 2.0, 2.0, 5)
    _, fresh = reference._simulate_liquid(*args)
    monkeypatch.setenv("CRYSTOPO_CACHE", str(tmp_path))
    reference._liquid_positions.cache_clear()
    a = reference.lj_liquid(1, n_cells=3, melt_time=2.0, seed=5)[0]
    files = list((tmp_path / "reference").glob("*.npz"))
    assert len(files) == 1
    np.testing.assert_array_equal(a.positions, fresh[0])
    a.positions[:] = 0.0                                  # the caller's copy, not the cache's
    reference._liquid_positions.cache_clear()             # a new process: read from disk
    b = reference.lj_liquid(1, n_cells=3, melt_time=2.0, seed=5)[0]
    np.testing.assert_array_equal(b.positions, fresh[0])
    files[0].write_bytes(b"not an npz")
    reference._liquid_positions.cache_clear()
    np.testing.assert_array_equal(reference.lj_liquid(1, n_cells=3, melt_time=2.0, seed=5)[0]
                                  .positions, fresh[0])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("CRYSTOPO_CACHE", str(blocker))    # cannot hold a directory
    reference._liquid_positions.cache_clear()
    np.testing.assert_array_equal(reference.lj_liquid(1, n_cells=3, melt_time=2.0, seed=5)[0]
                                  .positions, fresh[0])
    reference._liquid_positions.cache_clear()


@pytest.mark.parametrize("noise", [0.0, 0.04, 0.08])
def test_stacking_from_own_q_l_names_fcc_and_hcp_crystals(noise):
    """The fcc/hcp discriminant (fitted on reference crystals through the run's features)
    names thermalised fcc and hcp crystals it never saw, at another first-neighbour distance."""
    from multilayer.network.stacking import crystal_type_model

    fcc = make_lattice("fcc", 5, noise=noise, seed=41, nn_distance=1.12)
    hcp = make_lattice("hcp", (5, 3, 3), noise=noise, seed=42, nn_distance=1.12)
    fs = FeatureSet(SETS).fit(fcc)
    model = crystal_type_model(fs, seed=3)
    assert sorted(model.classes_) == ["fcc", "hcp"]
    # exact on ideal and weakly thermal crystals; near melting the own q_l overlap (hcp at
    # sigma = 0.08: ~0.6 correct), still above chance
    least = {0.0: 0.99, 0.04: 0.9, 0.08: 0.55}[noise]
    for kind, frame in (("fcc", fcc), ("hcp", hcp)):
        ql = fs.transform(frame).ql_local
        assert np.mean(model.predict(ql.astype(float)) == kind) >= least, kind


def test_stacking_reassignment_keeps_the_crystal_like_set():
    """Only atoms labelled fcc or hcp move, and only between fcc and hcp: in a frame holding
    an fcc block beside an hcp block, both labelled 'fcc' by their community, the hcp atoms
    get hcp back; liquid, bcc and ico rows are untouched."""
    from multilayer.network.stacking import assign_crystal_types, crystal_type_model

    fcc = make_lattice("fcc", 4, noise=0.02, seed=5)
    hcp = make_lattice("hcp", (4, 2, 2), noise=0.02, seed=6)
    fs = FeatureSet(SETS).fit(fcc)
    model = crystal_type_model(fs)
    ql = np.concatenate([fs.transform(fcc).ql_local, fs.transform(hcp).ql_local])
    names = list(STRUCTURE_NAMES)
    rng = np.random.default_rng(0)
    lab = np.full(len(ql), names.index("fcc"))
    other = rng.random(len(ql)) < 0.2
    lab[other] = rng.choice([names.index(n) for n in ("liquid", "bcc", "ico")], other.sum())
    out = assign_crystal_types([lab], [ql], names, model)[0]
    np.testing.assert_array_equal(out[other], lab[other])
    is_hcp = np.arange(len(ql)) >= fcc.n_atoms
    moved = ~other
    assert np.mean(np.array(names)[out[moved & is_hcp]] == "hcp") >= 0.97
    assert np.mean(np.array(names)[out[moved & ~is_hcp]] == "fcc") >= 0.97
    with pytest.raises(ValueError, match="lack"):
        assign_crystal_types([lab], [ql], ["liquid", "fcc"], model)


@pytest.fixture(scope="module")
def md_phases(tmp_path_factory):
    """One LAMMPS-made phase per frame: fcc and hcp at T* 0.4, bcc at T* 0.4 tethered to its
    sites (free LJ bcc transforms), the liquid at T* 1.2; ids 1..n in every frame."""
    md = pytest.importorskip("descriptors.md")
    if not md.lammps_available():
        pytest.skip("LAMMPS not installed")
    from descriptors import read_trajectory

    tmp = tmp_path_factory.mktemp("md_phases")
    frames, truth = [], []
    for k, (phase, temp, cells) in enumerate([("fcc", 0.4, (6, 6, 8)), ("hcp", 0.4, (8, 6, 6)),
                                              ("bcc", 0.4, (8, 8, 9)),
                                              ("liquid", 1.2, (6, 6, 8))]):
        path = md.lj_phase_frames(phase, temp, tmp / f"{phase}.dump", cells=cells, seed=3 + k,
                                  n_frames=2, equilibration_time=4.0, frame_interval=2.0,
                                  melt_time=3.0, cooling_time=1.0, n_threads=1,
                                  tether=30.0 if phase == "bcc" else None)
        for f in read_trajectory(path):
            frames.append(f)
            truth.append(np.full(f.n_atoms, phase))
    assert {f.n_atoms for f in frames} == {1152}          # shared ids 1..1152
    fs = FeatureSet(SETS, steinhardt_both=BOTH).fit(frames[-1])
    return frames, truth, fs, [fs.transform(f).sets for f in frames]


def test_lammps_phases_one_structure_each_named_right(md_phases):
    frames, truth, fs, feats = md_phases
    refs = describe_references(fs, sets=SETS)
    model, labels = fit_structures(feats, [f.ids for f in frames], refs, feature_sets=SETS)
    names = _names(model, labels)
    acc = np.mean(np.concatenate([_phase(n) for n in names]) == np.concatenate(truth))
    assert acc >= 0.95, acc
    for n, tr in zip(names, truth):
        assert np.mean(_phase(n) == tr[0]) > 0.9, (tr[0], np.unique(n, return_counts=True))
    # the labels of the last frames alone (bcc, liquid) keep their names
    m2, l2 = fit_structures(feats[4:], [f.ids for f in frames[4:]], refs, feature_sets=SETS)
    assert np.mean(np.concatenate(names[4:]) == np.concatenate(_names(m2, l2))) >= 0.95


# -- the harmonic assignment of microstates to anchors -------------------------------------
def test_anchor_probabilities_on_a_path_are_the_gamblers_ruin():
    """A walk on a path of n free nodes between anchors A (left) and B (right), unit
    weights: from node i (1-based from A) it reaches A first with probability 1 - i/(n+1)."""
    n = 7
    w = np.zeros((n + 2, n + 2))
    chain = [n] + list(range(n)) + [n + 1]          # A, 0..n-1, B
    for a, b in zip(chain[:-1], chain[1:]):
        w[a, b] = w[b, a] = 1.0
    p = anchor_probabilities(w, n)
    i = np.arange(1, n + 1)
    np.testing.assert_allclose(p[:, 0], 1 - i / (n + 1), atol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)


def test_anchor_probabilities_agree_with_the_absorbing_chain_and_monte_carlo():
    """A random weighted graph with three anchors: the probabilities equal the absorbing
    Markov chain's B = (I - Q)^-1 R (Kemeny & Snell), a 20,000-walk simulation within its
    error, and do not move when the free nodes are permuted or the weights scaled."""
    rng = np.random.default_rng(0)
    n_free, n_anchor = 12, 3
    n = n_free + n_anchor
    w = rng.random((n, n)) * (rng.random((n, n)) < 0.4)
    w = np.triu(w, 1)
    w = w + w.T
    w[n_free:, n_free:] = 0.0                                  # anchors absorb
    w[np.arange(n_free), n_free + np.arange(n_free) % n_anchor] += 0.05   # all reach one
    w[n_free + np.arange(n_free) % n_anchor, np.arange(n_free)] += 0.05
    p = anchor_probabilities(w, n_free)
    t = w[:n_free] / w[:n_free].sum(axis=1, keepdims=True)      # transitions of free nodes
    q, r = t[:, :n_free], t[:, n_free:]
    np.testing.assert_allclose(p, np.linalg.solve(np.eye(n_free) - q, r), atol=1e-10)
    hits = np.zeros((n_free, n_anchor))
    walks = 20_000
    cum = np.cumsum(t, axis=1)
    for start in range(n_free):
        node = np.full(walks, start)
        alive = np.ones(walks, bool)
        while alive.any():
            u = rng.random(alive.sum())
            node[alive] = (cum[node[alive]] < u[:, None]).sum(axis=1)
            alive &= node < n_free
        hits[start] = np.bincount(node - n_free, minlength=n_anchor) / walks
    assert np.abs(hits - p).max() < 5 * np.sqrt(0.25 / walks)
    perm = rng.permutation(n_free)
    order = np.concatenate([perm, np.arange(n_free, n)])
    np.testing.assert_allclose(anchor_probabilities(w[np.ix_(order, order)] * 3.7, n_free),
                               p[perm], atol=1e-10)


def test_anchor_probabilities_are_nan_where_no_anchor_is_reached():
    w = np.zeros((5, 5))
    for a, b in [(0, 1), (1, 3), (2, 4)]:     # free 0-1 reach anchor 3; free 2 reaches 4
        w[a, b] = w[b, a] = 1.0
    w[2, 4] = w[4, 2] = 0.0                   # ... not any more: 2 is an island
    p = anchor_probabilities(w, 3)
    np.testing.assert_allclose(p[:2], [[1.0, 0.0], [1.0, 0.0]])
    assert np.isnan(p[2]).all()
    with pytest.raises(ValueError, match="square"):
        anchor_probabilities(np.zeros((3, 4)), 2)


def test_harmonic_and_leiden_agree_on_separate_phases_and_harmonic_keeps_probabilities(phases):
    """Where the structures are far apart (one phase per frame) both assignments give the
    same labels; the harmonic model keeps each microstate's anchor probabilities, and the
    same seed gives the same labels."""
    frames, truth, fs, feats, refs = phases
    ids = [f.ids for f in frames]
    mh, lh = fit_structures(feats, ids, refs, feature_sets=SETS, assign="harmonic")
    ml, ll = fit_structures(feats, ids, refs, feature_sets=SETS, assign="leiden")
    a, b = np.concatenate(_names(mh, lh)), np.concatenate(_names(ml, ll))
    assert np.mean(a == b) >= 0.99
    assert ml.anchor_probability is None
    pr = mh.anchor_probability
    assert pr.shape == (len(mh.codebook), len(mh.kinds))
    np.testing.assert_allclose(pr.sum(axis=1), 1.0, atol=1e-9)
    # every microstate of an anchored structure went to its most probable anchor
    kind_of = np.array(mh.kinds)[pr.argmax(axis=1)]
    named = np.array(mh.names)[mh.microstate_label]
    assert (kind_of == named).all()
    _, lh2 = fit_structures(feats, ids, refs, feature_sets=SETS, assign="harmonic")
    for x, y in zip(lh, lh2):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="assign"):
        fit_structures(feats, ids, refs, feature_sets=SETS, assign="cut")


def _interpolated_slow(a, a2, w, microstate_label, probability, kind_labels):
    """Row by row: both microstates anchored -> the kind of the largest mixed probability."""
    out = []
    for i, j, wi in zip(a, a2, w):
        anchored = [not np.isnan(probability[m]).any() and microstate_label[m] in kind_labels
                    for m in (i, j)]
        if all(anchored):
            f = wi / 255.0
            mix = [f * probability[i][k] + (1 - f) * probability[j][k]
                   for k in range(len(kind_labels))]
            out.append(kind_labels[int(np.argmax(mix))])
        else:
            out.append(microstate_label[i])
    return out


def test_interpolated_labels_agree_with_a_row_by_row_reference():
    rng = np.random.default_rng(5)
    n_c, n_kinds = 40, 4
    prob = rng.dirichlet(np.ones(n_kinds), size=n_c)
    kind_labels = np.array([0, 1, 2, 3])
    label = np.r_[kind_labels[prob.argmax(axis=1)]]
    prob[:3] = np.nan                  # no anchor reached
    label[:3] = 5
    label[3:6] = 6                     # microstates of an unanchored structure (other-1)
    a, a2 = rng.integers(0, n_c, 5000), rng.integers(0, n_c, 5000)
    w = rng.integers(128, 256, 5000).astype(np.uint8)
    got = interpolated_labels(a, a2, w, label, prob, kind_labels)
    assert got.dtype == np.int64
    assert got.tolist() == _interpolated_slow(a, a2, w, label, prob, kind_labels)
    # a row at its nearest centre (weight 255) keeps that microstate's label
    at_centre = interpolated_labels(a, a2, np.full(5000, 255, np.uint8), label, prob,
                                    kind_labels)
    np.testing.assert_array_equal(at_centre, label[a])
    # half-way, the two microstates count alike: swapping them changes nothing
    half = np.full(5000, 128, np.uint8)
    even = np.abs(interpolated_labels(a, a2, half, label, prob, kind_labels)
                  - interpolated_labels(a2, a, half, label, prob, kind_labels))
    both = ~np.isnan(prob[a]).any(1) & ~np.isnan(prob[a2]).any(1) & (label[a] < 4) & (label[a2] < 4)
    assert (even[both] == 0).mean() >= 0.99     # 128/255 is not exactly 1/2: rare near-ties


def test_nearest_weight_is_the_inverse_distance_share():
    codebook = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]], dtype=np.float32)
    z = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0], [0.0, 1.0]], dtype=np.float32)
    a, a2, d1, d2 = assign_microstates(z, codebook, second=True, distances=True)
    assert a.tolist() == [0, 0, 0, 0] and a2.tolist()[:3] == [1, 1, 1]
    # the GEMM's squared distances are the true ones
    np.testing.assert_allclose(d1, [0, 1, 0.25, 1], atol=1e-5)
    np.testing.assert_allclose(d2, ((z - codebook[a2]) ** 2).sum(axis=1), atol=1e-5)
    w = nearest_weight(d1, d2)
    assert w.dtype == np.uint8
    # at the centre 1; half-way 1/2; d1 = 0.5, d2 = 1.5: 3/4; d1 = 1, d2 = 3 (or sqrt 5): 3/4
    assert w[:3].tolist() == [255, 128, 191]
    assert w[3] == round(255 * np.sqrt(d2[3]) / (1 + np.sqrt(d2[3])))


def test_microstate_distances_match_brute_force_and_the_tree():
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(2)
    x = rng.standard_normal((5000, 6)).astype(np.float32)
    cb = rng.standard_normal((50, 6)).astype(np.float32)
    a, a2, d1, d2 = assign_microstates(x, cb, second=True, distances=True, batch_size=700)
    full = ((x[:, None, :] - cb[None]) ** 2).sum(axis=2)
    order = np.argsort(full, axis=1)
    assert (a == order[:, 0]).mean() >= 0.999 and (a2 == order[:, 1]).mean() >= 0.999
    np.testing.assert_allclose(d1, full[np.arange(5000), a], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d2, full[np.arange(5000), a2], rtol=1e-4, atol=1e-4)
    t1, t2, e1, e2 = assign_microstates(x, cb, second=True, distances=True, tree=cKDTree(cb))
    assert (t1 == a).mean() >= 0.999
    np.testing.assert_allclose(e1, d1, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="second"):
        assign_microstates(x, cb, distances=True)


@pytest.mark.parametrize("interpolate", [True, False])
def test_predict_gives_the_fitted_labels(nucleus_frames, interpolate):
    """A fitted model labels the rows it was fitted on as the fit did; without
    interpolation that is each row's nearest microstate, with it the two labellings differ
    only where the two nearest microstates are named differently (a boundary)."""
    frame, _, _, liquid = nucleus_frames
    fs = FeatureSet(SETS, steinhardt_both=BOTH).fit(liquid)
    feats = [fs.transform(f).sets for f in (frame, liquid)]
    refs = describe_references(fs, sets=SETS)
    model, labels = fit_structures(feats, [frame.ids, liquid.ids], refs, feature_sets=SETS,
                                   interpolate=interpolate)
    assert model.interpolate is interpolate
    for x, lab in zip(feats, labels):
        np.testing.assert_array_equal(model.predict(x["steinhardt"]), lab)
    x = feats[0]["steinhardt"]
    nearest = model.microstate_label[model.microstates(x)]
    if not interpolate:
        np.testing.assert_array_equal(labels[0], nearest)
        return
    z = model.transform(x)
    d = ((z[:, None, :] - model.codebook[None]) ** 2).sum(axis=2)
    two = np.argsort(d, axis=1)[:, :2]
    same = model.microstate_label[two[:, 0]] == model.microstate_label[two[:, 1]]
    np.testing.assert_array_equal(labels[0][same], nearest[same])
    assert (labels[0] != nearest).mean() <= 0.1
