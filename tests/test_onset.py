"""Nucleation onset: the threshold rule, its floor and baseline, the onset at the first frame
when a nucleus already there persists (planted lattice spheres), how sharply a series defines
it and whether growth follows it."""
import numpy as np
import numpy.testing as npt
import pytest

from descriptors import make_lattice, neighbor_list
from multilayer.tracking.nuclei import Onset, find_nuclei, nucleation_onset

R_CUT = 1.2  # fcc with nn distance 1: first shell at 1, second at 1.41


def test_onset():
    assert nucleation_onset([3, 5, 4, 12, 9, 15, 40, 90], threshold=8).frame == 3
    assert nucleation_onset([3, 9, 4, 12, 9, 15, 40, 90], threshold=8).frame == 3  # dips reset it
    assert nucleation_onset([3, 9, 4, 12, 7, 15, 40, 90], threshold=8).frame == 5
    assert nucleation_onset([3, 5, 9, 9, 9], threshold=8).frame is None  # above but not growing
    # default threshold: twice the 25th percentile of the first 10 % (here 2 x 8), at least 13
    sizes = np.r_[np.full(10, 8), [9, 12, 17, 30, 80]]
    assert nucleation_onset(sizes) == Onset(12, 16.0)
    low = np.r_[np.full(10, 5), [6, 8, 11, 30, 80]]      # 2 x 5 = 10 < 13: the floor
    assert nucleation_onset(low) == Onset(13, 13.0)
    assert nucleation_onset(low, min_threshold=0) == Onset(12, 10.0)
    # a core-like series, no crystalline cluster in the first frames: without the floor the
    # threshold would be 2 atoms and the onset frame 2, where the "nucleus" has 2 atoms
    empty = [0, 0, 2, 3, 2, 4, 3, 6, 9, 15, 13, 22, 40, 75, 130]
    assert nucleation_onset(empty, min_threshold=0) == Onset(2, 2.0)
    assert nucleation_onset(empty) == Onset(9, 13.0)
    assert nucleation_onset(empty, threshold=5) == Onset(7, 5.0)   # a given threshold is kept
    with pytest.raises(ValueError, match="min_threshold"):
        nucleation_onset(empty, min_threshold=-1)
    early = [50, 60, 300, 500, 800, 900, 1000, 1200, 1300, 1500, 2000, 2500]  # grows from frame 2
    # a 3-frame window [50, 60, 300] that catches the growth: p25 = 55 stays a liquid value
    assert nucleation_onset(early, baseline=0.25) == Onset(2, 110.0)
    with pytest.raises(ValueError, match="baseline"):
        nucleation_onset(sizes, baseline=0)


def _spheres(frame, centre, radii):
    """Per radius, the atoms of ``frame`` within it of ``centre`` (minimum image)."""
    L = np.diag(frame.box.cell)
    d = frame.positions - np.asarray(centre, dtype=float)
    d -= L * np.round(d / L)
    r = np.linalg.norm(d, axis=1)
    return [r <= rad for rad in radii]


def test_onset_at_start_when_the_first_nucleus_persists():
    """A crystal already in the first frame (a seed, or frames chosen after nucleation) that
    keeps its atoms as it grows puts the onset at frame 0; the baseline rule, which takes the
    first frames for liquid, would put it where that crystal has doubled.  Sub-critical
    clusters of the same size that dissolve (other atoms every frame) leave the rule as it was."""
    from multilayer.tracking import START_PERSISTENCE, StartPersistence

    f = make_lattice("fcc", 10)                    # 4,000 atoms, box ~14.1, nn distance 1
    nl = neighbor_list(f, r_cut=R_CUT)
    c = np.diag(f.box.cell) / 2

    def follow(masks):
        sizes, persist = [], StartPersistence()
        for m in masks:
            nuc = find_nuclei(f, m, nl, min_size=2)
            sizes.append(int((nuc == 0).sum()))
            persist.add(f.ids, nuc == 0)
        return np.array(sizes), persist.values

    seeded = _spheres(f, c, 2.5 + 0.15 * np.arange(30))         # 79 atoms, then growing
    sizes, p = follow(seeded)
    assert sizes[0] >= 13 and min(p) == 1.0
    o = nucleation_onset(sizes, persistence=p)
    assert o.frame == 0 and o.at_start and o.threshold == 13.0
    assert nucleation_onset(sizes).frame > 5                   # twice the seed: later
    # for a few frames another cluster is the largest: still the seed's run up to a tenth of
    # the 30 frames; beyond, not
    other = _spheres(f, c + np.array([7.0, 7.0, 0.0]), [3.4])[0]    # a box diagonal away
    for k, want in ((1, True), (3, True), (4, False)):
        masks = [m | other if 3 <= t < 3 + k else m for t, m in enumerate(seeded)]
        sizes_k, p_k = follow(masks)
        assert sum(v < START_PERSISTENCE for v in p_k) == k
        assert nucleation_onset(sizes_k, persistence=p_k).at_start is want
    # the same sizes from clusters that dissolve: a new place every frame, then growth
    rng = np.random.default_rng(0)
    liquid = [_spheres(f, rng.uniform(0, 14, 3), [2.5])[0] for _ in range(12)]
    grow = _spheres(f, c, 2.5 + 0.4 * np.arange(1, 19))
    sizes, p = follow(liquid + grow)
    assert min(p) < START_PERSISTENCE
    o = nucleation_onset(sizes, persistence=p)
    assert o == nucleation_onset(sizes) and not o.at_start and o.frame > 0
    # a crystal that persists but does not grow: no onset at the start
    flat, p = follow(seeded[:1] * 10)
    assert not nucleation_onset(flat, persistence=p).at_start
    # a given threshold is used as it is
    sizes, p = follow(seeded)
    assert nucleation_onset(sizes, 100, persistence=p).frame > 0
    with pytest.raises(ValueError, match="persistence"):
        nucleation_onset(sizes, persistence=p[:-1])
    with pytest.raises(ValueError, match="in_largest"):
        StartPersistence().add([1, 2, 3], [True, False])


def test_onset_spread_brackets_the_onset():
    """A higher threshold can only move the onset later: the spread brackets the onset, and
    a series that jumps far past its threshold has none."""
    from multilayer.tracking import onset_spread

    rng = np.random.default_rng(3)
    for _ in range(200):
        s = np.maximum(0, np.cumsum(rng.normal(0.6, 4.0, 60))).round()
        o = nucleation_onset(s)
        lo, hi = onset_spread(s, o)
        if o.frame is None:
            assert hi is None
            continue
        assert lo is not None and lo <= o.frame and (hi is None or hi >= o.frame)
    steep = np.r_[np.zeros(10), [2, 3, 200, 400, 800]]
    assert onset_spread(steep, nucleation_onset(steep)) == (12, 12)
    with pytest.raises(ValueError, match="rel"):
        onset_spread(steep, nucleation_onset(steep), rel=1)


def test_onset_growth_tells_growth_from_a_plateau():
    """After an onset a growing nucleus multiplies; a sub-critical cluster held above the
    threshold (a run that has not crystallized) does not.  The fold is scale-free."""
    from multilayer.tracking import MIN_ONSET_GROWTH, onset_growth

    t = np.arange(80)
    grows = np.where(t < 30, 8.0, 14.0 * np.exp((t - 30) / 12.0)).round()   # e-fold in 12
    o = nucleation_onset(grows, threshold=13)
    assert o.frame == 30
    # medians of 8 frames: from the onset 14 e^(3.5/12), at the end 14 e^(45.5/12)
    npt.assert_allclose(onset_growth(grows, o), np.exp(42 / 12), rtol=0.03)
    assert onset_growth(grows, o) == onset_growth(10 * grows, o.frame)
    rng = np.random.default_rng(0)
    plateau = np.r_[rng.integers(0, 10, 37), rng.integers(20, 60, 43)].astype(float)
    g = onset_growth(plateau, nucleation_onset(plateau))
    assert g is not None and g < MIN_ONSET_GROWTH
    assert onset_growth(plateau, None) is None
    assert onset_growth([0, 0, 5, 9], 0) == np.inf and onset_growth([0, 0, 0], 1) == 1.0
    with pytest.raises(ValueError, match="outside"):
        onset_growth(grows, 80)
    with pytest.raises(ValueError, match="tail"):
        onset_growth(grows, o, tail=0)


def test_critical_onset_is_the_last_upward_passage_of_the_critical_size():
    """The frame after which the largest nucleus stays at or above n* (and grows); the
    liquid's threshold (13 atoms here) marks the near-critical cluster earlier; the same
    point of the process whatever the scale a method counts atoms on; floor and errors."""
    from multilayer.tracking import critical_onset

    hover = np.array([0, 2, 5, 16, 22, 15, 26, 19, 30, 24, 18, 28, 41, 35, 60, 90, 200, 400])
    o = critical_onset(hover, 21.0)
    assert o.frame == 11 and o.threshold == 21.0
    assert (hover[o.frame:] >= 21).all() and hover[o.frame - 1] < 21
    assert nucleation_onset(hover).frame == 3                 # first persistent cluster
    # a method that counts 1.05-1.27 times the atoms, with its n* on its own scale: the same
    # frame; at one threshold in atoms the two disagree
    for c in (1.05, 1.2, 1.27):
        assert critical_onset(np.round(c * hover), c * 21.0).frame == o.frame
    assert nucleation_onset(np.round(1.27 * hover), 21).frame != nucleation_onset(hover, 21).frame
    assert critical_onset(hover, 4.0).threshold == 13.0        # the floor
    assert critical_onset(hover, 4.0, min_threshold=0).frame == 2
    assert critical_onset(hover, 1000.0).frame is None
    for bad in (np.nan, 0.0, -3.0):
        with pytest.raises(ValueError, match="n_star"):
            critical_onset(hover, bad)


def _walk(rng, up, n_grown, steps=6):
    """One run's largest nucleus, true size per frame: nuclei born with 2-11 atoms walk over
    the barrier (``up``: probability of a step up) until one grows to ``n_grown``, then
    grows on for 12 frames."""
    sizes, m = [], int(rng.integers(2, 12))
    while True:
        sizes.append(m)
        for _ in range(steps):
            m += 1 if rng.random() < up[m] else -1
            if m <= 1 or m >= n_grown:
                break
        if m <= 1:
            m = int(rng.integers(2, 12))
        elif m >= n_grown:
            return np.array(sizes + [n_grown + 6 * j for j in range(12)])


def test_critical_onset_marks_when_a_walk_over_the_barrier_commits():
    """Runs whose nuclei walk over a classical barrier with a known committor (n* 21.2),
    seen through two per-atom calls: one that misses 15 % of the atoms and adds as many
    (PTM-like), one that counts 1.2 times them (the crystalline core's ratio).  Each call's
    n* comes from the fates of its own nuclei (``growth_probability``).  The onset past that
    n* falls within 3 frames of the true commitment (the last upward passage of the exact
    n* by the true size) far more often than the onset at the liquid's threshold (which
    marks a near-critical excursion), and the two calls' onsets agree more often than at
    one threshold in atoms."""
    from multilayer.tracking import critical_onset
    from test_growth import END, N_GROWN, barrier_walk_committor, barrier_walk_table

    from multilayer.tracking import growth_probability

    up, q = barrier_walk_committor(N_GROWN)
    truth = float(np.interp(0.5, q[1:N_GROWN + 1], np.arange(1, N_GROWN + 1)))
    calls = {"ptm": (0.85, 0.15), "core": (1.0, 0.2)}
    n_star = {k: growth_probability(barrier_walk_table(6000, detect=d, spurious=s, seed=11),
                                    N_GROWN, last_frame=END, n_boot=0).n_star
              for k, (d, s) in calls.items()}
    assert n_star["core"] > 1.1 * n_star["ptm"]               # each on its own scale
    rng = np.random.default_rng(5)
    hit = {"critical": 0, "liquid": 0}
    agree = {"critical": 0, "fixed": 0}
    n_runs = 200
    for _ in range(n_runs):
        true = _walk(rng, up, N_GROWN)
        commit = critical_onset(true, truth).frame
        seen = {k: rng.binomial(true, d) + rng.poisson(s * true) for k, (d, s) in calls.items()}
        core = critical_onset(seen["core"], n_star["core"]).frame
        hit["critical"] += abs(core - commit) <= 3
        hit["liquid"] += abs(nucleation_onset(seen["core"]).frame - commit) <= 3
        agree["critical"] += abs(core - critical_onset(seen["ptm"], n_star["ptm"]).frame) <= 3
        agree["fixed"] += abs(nucleation_onset(seen["core"], 20).frame
                              - nucleation_onset(seen["ptm"], 20).frame) <= 3
    assert hit["critical"] >= 0.7 * n_runs and hit["liquid"] <= 0.4 * n_runs, hit
    assert agree["critical"] >= agree["fixed"] + 0.15 * n_runs, agree


def test_analyze_reads_the_commitment_past_n_star_only_where_n_star_is_determined():
    """``crystopo analyze``'s frame of commitment: past the growth-probability n* when the
    nuclei determine it; else, at the first frame (nucleation before the frames) or with a
    threshold fixed by ``[tracking] onset_threshold``, none."""
    from test_growth import END, N_GROWN, planted_table

    from multilayer.app.stages import committed_onset
    from multilayer.tracking import Onset, growth_probability

    hover = np.array([0, 2, 5, 16, 22, 15, 26, 19, 30, 24, 18, 28, 41, 35, 60, 90, 200, 400])
    first = nucleation_onset(hover)
    g = growth_probability(planted_table(n_star=21.0, width=0.25), N_GROWN, last_frame=END,
                           n_boot=50)
    assert g.determined and 19 < g.n_star < 23
    o = committed_onset(hover, first, g)
    assert o.threshold == g.n_star and o.frame > first.frame
    undetermined = growth_probability(planted_table(n_star=21.0)[lambda t: t["size"] < 30],
                                      N_GROWN, last_frame=END, n_boot=0)
    assert not undetermined.determined                # nothing grew
    for args in ((hover, first, undetermined), (hover, first, None),
                 (hover, first, g, 13.0)):           # a threshold the user set
        assert committed_onset(*args) is None
    assert committed_onset(hover, Onset(0, 13.0, at_start=True), g) is None
    assert committed_onset(hover, None, g) is None
