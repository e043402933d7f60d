"""End to end: the crystalline core of `crystopo analyze`'s nuclei on the bundled LAMMPS
nucleation run -- its nuclei, onset and critical size -- and a seeded run whose crystal is
there before the first frame."""
import json

import numpy as np
import pandas as pd
import pytest

from descriptors import demo_trajectory_path, read_trajectory
from descriptors.md import lammps_available
from multilayer.app.pipeline import analyze


def test_crystalline_core_nuclei_are_reported_inside_the_crystal_like_ones(finished):
    """[tracking] core_tolerance: the nuclei of the atoms whose own first shell is a
    crystal's are tracked beside the crystal-like nuclei: a grown crystal has a core, never
    larger than its crystal-like nucleus, and the report and figure show its onset."""
    out, res = finished
    s = res.summary
    assert 0 < s["largest_core_final"] <= s["largest_nucleus_final"]
    assert s["onset_frame_core"] is None or s["onset_frame_core"] in res.frames
    # the final crystalline fraction is the core's, the last frame's `core` column; the
    # crystal-like atoms' fraction carries the halo around the nuclei, so it is the larger
    last = res.labels[res.labels["frame"] == res.labels["frame"].max()]
    assert s["core_fraction_final"] == pytest.approx(last["core"].mean())
    assert s["crystalline_fraction_final"] == pytest.approx(last["crystal_like"].mean())
    assert 0 < s["core_fraction_final"] < s["crystalline_fraction_final"]
    page = (out / "report.html").read_text()
    assert "crystalline core" in page
    assert f"{s['core_fraction_final']:.3f}" in page and "halo included" in page
    from multilayer.app.cli import fraction_line

    assert fraction_line(s) == (f"final crystalline fraction {s['core_fraction_final']:.3f} "
                                f"(crystalline core; crystal-like, halo included: "
                                f"{s['crystalline_fraction_final']:.3f})")
    assert fraction_line(dict(s, core_fraction_final=None)).startswith(
        "final crystal-like fraction")
    # the core's onset is the headline (the per-atom call); the halo-carrying nuclei's after it
    from multilayer.app.cli import onset_line

    line = onset_line(s)
    assert line.startswith(f"nucleation onset: frame {s['onset_frame_core']} by the crystalline core")
    # and when its largest nucleus passes the critical size for good, where n* is determined
    lo, hi = s["committed_frame_core_range"]          # at the ends of n*'s interval
    assert (f"past its critical size for good from frame {s['committed_frame_core']} "
            f"({lo}-{hi} over n*'s 16-84 % range);") in line
    assert "Largest core nucleus past the critical size for good" in page
    assert "past its critical size" not in onset_line(dict(s, committed_frame_core=None))
    assert f"halo included: frame {s['onset_frame']}" in line
    assert page.index("Nucleation onset, crystalline core") < page.index("Onset of the crystal-like nuclei")
    # the run begins liquid: no nucleus of the first frame persists and grows
    assert s["onset_core_at_start"] is False and s["onset_at_start"] is False
    seeded = dict(s, onset_frame_core=s["first_frame"], onset_core_at_start=True,
                  committed_frame_core=None)
    from multilayer.tracking import AT_START

    assert onset_line(seeded).startswith(f"nucleation onset: frame {s['first_frame']} by the "
                                         f"crystalline core: {AT_START}")
    assert "nucleation came before these frames" in onset_line(seeded)
    lo, hi = s["onset_frame_core_spread"]         # thresholds 10 % lower and higher
    if s["onset_frame_core"] is not None:
        assert lo is not None and lo <= s["onset_frame_core"] and (hi is None or hi >= s["onset_frame_core"])
        assert "at its threshold -/+ 10 %" in line
    # how much the core grows after its onset: reported, and warned about only when small
    from multilayer.app.output_stage import growth_warning
    from multilayer.tracking import MIN_ONSET_GROWTH

    g = s["onset_growth_core"]
    assert (g is None) == (s["onset_frame_core"] is None)
    assert "Growth of the largest core after its onset" in page
    assert (growth_warning(s) is None) == (g is None or g >= MIN_ONSET_GROWTH)
    stalled = dict(s, onset_frame_core=37, onset_growth_core=1.7, largest_core_final=38)
    assert growth_warning(stalled).startswith("after the onset (frame 37) the crystalline core's "
                                              "largest nucleus grows only 1.7-fold (to 38 atoms")
    assert growth_warning(dict(stalled, onset_growth_core=4.3)) is None
    # the core on but without an onset: no warning from the halo-carrying nuclei instead
    assert growth_warning(dict(stalled, onset_growth_core=None, onset_growth=1.0)) is None
    assert "sub-critical" in growth_warning(dict(stalled, largest_core_final=None,
                                                 onset_growth=1.0))
    lab = res.labels                    # the core atoms, per atom: in the table and the dump
    assert lab["core"].any()
    last = lab[lab["frame"] == lab["frame"].max()].sort_values("id")
    assert last["core"].mean() < last["crystal_like"].mean()
    back = read_trajectory(out / "labelled.dump.gz")[-1]
    np.testing.assert_array_equal(back.extra["core"], last["core"].to_numpy().astype(int))
    # outside the crystal-like atoms, only shells whose every bond carries the signature
    # ([tracking] core_outside_tolerance = 0): the strict a-CNA, recomputed here
    from descriptors import first_shell_distance, neighbor_list
    from descriptors.cna import bcc_counts, cna_counts

    order = np.argsort(back.ids)
    outside = np.zeros(back.n_atoms, bool)
    outside[order] = (last["core"] & ~last["crystal_like"]).to_numpy()
    nl = neighbor_list(back, r_cut=1.35 * first_shell_distance(back))
    strict = ((cna_counts(nl).astype(int).sum(axis=1) == 12)
              | (bcc_counts(nl).astype(int).sum(axis=1) == 14))
    assert strict[outside].all()


def test_critical_size_is_the_crystalline_core_s(finished):
    """The critical size reported first is where half the crystalline core's tracked nuclei
    grow, recomputed here from the core column of labels.parquet (the core's nuclei per
    frame, tracked by shared atoms; ``growth_probability`` at analyze's grown size, four
    times the onset threshold or 50); the MFPT n* of the core's largest nucleus (onset by
    analyze's rule, twice the nucleus at onset fitted) and the crystal-like nuclei's beside
    it; the line, the report and the core-off summary say which is which."""
    from descriptors import first_shell_distance, neighbor_list
    from multilayer.app.cli import critical_line
    from multilayer.tracking import (StartPersistence, critical_onset, growth_probability,
                                     mfpt_after_onset, nucleation_onset, track_nuclei)

    out, res = finished
    s = res.summary
    traj = read_trajectory(demo_trajectory_path())
    lab = res.labels
    frames, masks, lists, persist = [], [], [], StartPersistence()
    for f in res.frames:
        fr = traj[f]
        rows = lab[lab["frame"] == f].set_index("id").loc[fr.ids]
        frames.append(fr)
        masks.append(rows["core"].to_numpy().astype(bool))
        lists.append(neighbor_list(fr, r_cut=1.35 * first_shell_distance(fr)))
        persist.add(fr.ids, (rows["nucleus"] == 0).to_numpy())
    tracked = track_nuclei(frames, mask=masks, neighbors=lists, min_size=5, keep_atoms=False)
    largest = tracked.largest
    assert largest[-1] == s["largest_core_final"]
    onset = nucleation_onset(largest, persistence=persist.values)
    assert res.frames[onset.frame] == s["onset_frame_core"]
    grown = max(50, int(np.ceil(4 * onset.threshold)))
    assert s["grown_size"] == grown
    growth = growth_probability(tracked.table, grown, last_frame=len(frames) - 1, seed=0)
    assert growth.determined                      # on this run the core's nuclei pin n* down
    assert s["critical_size"] == pytest.approx(growth.n_star, abs=0.05)
    assert s["critical_size_range"] == [pytest.approx(growth.n_star_low, abs=0.05),
                                        pytest.approx(growth.n_star_high, abs=0.05)]
    assert s["critical_size_method"] == "growth probability"
    assert 5 <= s["critical_size"] < grown / 2
    # beside the onset: the frame after which the largest core nucleus stays past n*
    committed = critical_onset(largest, growth.n_star)
    assert res.frames[committed.frame] == s["committed_frame_core"]
    assert s["committed_frame_core_range"] == [
        res.frames[critical_onset(largest, v).frame] for v in (growth.n_star_low, growth.n_star_high)]
    lo, hi = s["committed_frame_core_range"]
    assert lo <= s["committed_frame_core"] <= hi
    assert s["onset_frame_core"] <= s["committed_frame_core"]
    threshold = max(growth.n_star, 13)                # n*, floored at 13 atoms
    assert (largest[committed.frame:] >= threshold).all()
    assert largest[committed.frame - 1] < threshold
    fit = mfpt_after_onset(largest, onset, np.asarray(res.frames, dtype=float))
    assert fit.determined
    assert s["critical_size_mfpt"] == pytest.approx(fit.n_star)
    # the crystal-like nuclei carry a halo: on this run their n* is the larger
    assert s["critical_size_crystal_like"] > s["critical_size_mfpt"]
    line = critical_line(s)
    lo, hi = s["critical_size_range"]
    assert s["grown_nuclei"] == growth.n_grew > 1
    assert line == (f"critical nucleus size: {s['critical_size']:.1f} atoms ({lo:.1f}-{hi:.1f}), "
                    f"where half the crystalline core's nuclei grow to {grown} atoms; MFPT of "
                    f"its largest nucleus {s['critical_size_mfpt']:.1f} atoms "
                    f"({growth.n_grew} nuclei grew; the MFPT assumes one), of the "
                    f"crystal-like nuclei (halo included) "
                    f"{s['critical_size_crystal_like']:.1f} atoms")
    assert "nuclei grew" not in critical_line(dict(s, grown_nuclei=1))
    assert critical_line(dict(s, largest_core_final=None)) == (
        f"critical nucleus size (MFPT): {s['critical_size']:.1f} atoms")
    assert critical_line(dict(s, critical_size=None, critical_size_range=None)).startswith(
        "critical nucleus size: n/a, where half")
    # the two estimates agree within 1.5 times here: no warning; far apart, a warning
    from multilayer.app.output_stage import critical_size_warning

    assert critical_size_warning(s) is None
    # one nucleus grew: the MFPT is in its regime, and a disagreement is worth a warning
    apart = dict(s, critical_size=41.0, critical_size_mfpt=17.0, grown_nuclei=1)
    assert critical_size_warning(apart).startswith(
        "the critical size is uncertain on this run: 41.0 atoms where half")
    # several grew (every held-out LAMMPS run: 8-52): the MFPT of the largest is not, and
    # the warning stays quiet (it fired on four of six shot runs, the MFPT the one off)
    assert critical_size_warning(dict(apart, grown_nuclei=3)) is None
    assert critical_size_warning(dict(apart, critical_size=None)) is None
    assert critical_size_warning(dict(apart, largest_core_final=None)) is None
    page = (out / "report.html").read_text()
    assert "Critical size by the MFPT of the largest core nucleus" in page
    assert "the MFPT assumes one nucleation event" in page
    assert "Growth probability of the crystalline core&#x27;s nuclei" in page or \
        "Growth probability of the crystalline core's nuclei" in page
    assert "Mean first-passage time and fit: crystalline core, crystal-like nuclei" in page
    assert f"{s['critical_size_crystal_like']:.1f} atoms" in page


def test_core_tolerance_12_tracks_no_core(tmp_path, capsys):
    """[tracking] core_tolerance = 12 switches the core off: no column, no onset, no line."""
    from multilayer.app.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('[tracking]\ncore_tolerance = 12\n[mapper]\nenabled = false\n'
                   '[output]\nptm = "off"\n')
    assert main(["analyze", str(demo_trajectory_path()), "--out", str(tmp_path / "run"),
                 "--frames", "0::10", "--config", str(cfg), "--quiet"]) == 0
    assert "crystalline core" not in capsys.readouterr().out
    labels = pd.read_parquet(tmp_path / "run" / "labels.parquet")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "core" not in labels.columns
    assert summary["onset_frame_core"] is None and summary["largest_core_final"] is None
    # the critical size is then the crystal-like nuclei's MFPT n*, with nothing beside it
    assert summary["critical_size_crystal_like"] is None
    assert summary["critical_size_method"] == "MFPT" and summary["grown_size"] is None
    assert summary["critical_size"] == summary["critical_size_mfpt"]
    assert "crystalline core" not in (tmp_path / "run" / "report.html").read_text()
    assert "core" not in read_trajectory(tmp_path / "run" / "labelled.dump.gz")[-1].extra


@pytest.mark.skipif(not lammps_available(), reason="LAMMPS not installed")
def test_a_seeded_run_has_its_onset_before_its_frames(tmp_path):
    """A bcc iron seed growing into its undercooled liquid (LAMMPS, EAM): the crystal is
    there from the first frame, so the onset is that frame, flagged as coming before the
    frames, with no critical size fitted to growth and no warning of missing growth."""
    from descriptors.md import eam_seed_in_liquid
    from multilayer.app.cli import onset_line
    from multilayer.app.output_stage import growth_warning

    traj = eam_seed_in_liquid(tmp_path / "seed.dump.gz", n_cells=10, seed_atoms=250, seed=5,
                              n_frames=8, frame_interval=0.75, melt_time=2.0,
                              cooling_time=2.0, hold_time=0.5, n_threads=2)
    first = read_trajectory(traj)[0]
    assert first.n_atoms == 2000 and (first.extra["truth"] == 1).sum() > 200
    res = analyze(traj, tmp_path / "out", config={"output": {"figures": False}})
    s = res.summary
    assert "bcc" in s["crystal_structures"]
    assert s["largest_core_final"] > 300            # it grew
    assert s["onset_core_at_start"] is True and s["onset_frame_core"] == 0
    assert s["committed_frame_core"] is None         # no barrier crossed in these frames
    assert s["onset_at_start"] is True and s["onset_frame"] == 0
    assert s["critical_size_mfpt"] is None          # no MFPT fit to the growth
    assert growth_warning(s) is None
    assert "nucleation came before these frames" in onset_line(s)
