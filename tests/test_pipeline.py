"""End to end: `crystopo analyze` on the bundled LAMMPS nucleation trajectory."""
import json
import pickle

import numpy as np
import pandas as pd
import pytest

from descriptors import demo_trajectory_path, write_lammps_dump, read_trajectory
from multilayer.app.cli import main as cli_main
from multilayer.app.pipeline import analyze
from multilayer.app.config import ConfigError

from conftest import FRAMES


def test_outputs_exist_and_have_the_promised_columns(finished):
    out, res = finished
    labels = pd.read_parquet(out / "labels.parquet")
    assert {"frame", "timestep", "id", "label", "nucleus"} <= set(labels.columns)
    n_frames = len(read_trajectory(demo_trajectory_path()))
    assert sorted(labels["frame"].unique()) == list(range(0, n_frames, 5))
    nuclei = pd.read_parquet(out / "nuclei.parquet")
    assert {"frame", "nucleus", "size"} <= set(nuclei.columns)
    for name in ("communities.parquet", "events.parquet", "report.html", "labelled.dump.gz",
                 "summary.json", "config.toml"):
        assert (out / name).exists(), name
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3  # figures are embedded
    # the labelled trajectory carries label and nucleus columns OVITO can read
    back = read_trajectory(out / "labelled.dump.gz")[-1]
    last = labels[labels["frame"] == labels["frame"].max()].sort_values("id")
    np.testing.assert_array_equal(back.extra["label"], last["label"].to_numpy())
    np.testing.assert_array_equal(back.extra["nucleus"], last["nucleus"].to_numpy())


def test_crystallizing_run_is_seen_as_one(finished):
    _, res = finished
    s = res.summary
    assert s["crystal_communities"], "a crystallizing run must have crystal-like communities"
    lab = res.labels
    first = lab[lab["frame"] == lab["frame"].min()]
    last = lab[lab["frame"] == lab["frame"].max()]
    # the crystal-like communities grow ...
    assert last["crystal_like"].mean() > first["crystal_like"].mean() + 0.2
    # ... their atoms are solid-like by the independent ten Wolde criterion ...
    assert lab.loc[lab["crystal_like"], "solid_tenwolde"].mean() > 0.9
    # ... and their share follows the solid-like share frame by frame
    per_frame = lab.groupby("frame")[["crystal_like", "solid_tenwolde"]].mean()
    assert np.corrcoef(per_frame["crystal_like"], per_frame["solid_tenwolde"])[0, 1] > 0.9


def test_interrupted_run_resumes_to_the_same_labels(finished, tmp_path):
    out0, res0 = finished
    out = tmp_path / "resumed"
    from multilayer.network.featureset import FeatureSet

    calls = {"n": 0}
    transform = FeatureSet.transform

    def killed_after_three(self, frame, neighbors=None, **kw):   # a run killed mid-stage
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return transform(self, frame, neighbors, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FeatureSet, "transform", killed_after_three)
        with pytest.raises(KeyboardInterrupt):
            analyze(demo_trajectory_path(), out, frames=FRAMES)
    assert not (out / "labels.parquet").exists()
    res = analyze(demo_trajectory_path(), out, frames=FRAMES, resume=True)
    pd.testing.assert_frame_equal(res.labels, res0.labels)


def test_failed_rerun_leaves_finished_outputs_alone(finished, tmp_path):
    out0, _ = finished
    before = (out0 / "labels.parquet").read_bytes()
    bad = tmp_path / "bad.toml"
    bad.write_text("[network]\nk = -3\n")
    assert cli_main(["analyze", str(demo_trajectory_path()), "--out", str(out0),
                     "--config", str(bad), "--quiet"]) == 2
    assert (out0 / "labels.parquet").read_bytes() == before


def test_bad_frame_is_skipped_and_reported(tmp_path):
    traj = read_trajectory(demo_trajectory_path())
    frames = [traj[i] for i in (0, 10, 20, 30)]
    path = tmp_path / "t.dump"
    write_lammps_dump(path, frames)
    text = path.read_text().splitlines(keepends=True)
    # corrupt one coordinate of the second frame
    start = [k for k, line in enumerate(text) if line.startswith("ITEM: ATOMS")][1]
    fields = text[start + 5].split()
    fields[2] = "x.y"
    text[start + 5] = " ".join(fields) + "\n"
    path.write_text("".join(text))
    res = analyze(path, tmp_path / "out", config={"output": {"figures": False}})
    assert res.skipped == [1]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "line" in summary["skipped_frames"]["1"]


def test_structures_are_named_and_the_crystal_is_fcc_or_hcp(finished):
    out, res = finished
    # the nuclei's composition is given by structure name, and adds up to their size
    nuc = pd.read_parquet(out / "nuclei.parquet")
    comp = [c for c in nuc.columns if c.startswith("atoms_")]
    assert comp and {c[len("atoms_"):] for c in comp} <= set(res.labels["structure"])
    assert not any(c.startswith("community_") for c in nuc.columns)
    assert (nuc[comp].sum(axis=1) == nuc["size"]).all()
    assert {"atoms_fcc", "atoms_hcp"} <= set(comp) and "atoms_liquid" not in comp
    # the community events name their structures beside the ids
    ev = pd.read_parquet(out / "events.parquet")
    name = dict(zip(res.labels["label"], res.labels["structure"]))
    assert len(ev) and list(ev.columns[:6]) == ["frame", "event", "from_communities",
                                                "to_communities", "from_structures",
                                                "to_structures"]
    for side in ("from", "to"):
        assert [list(x) for x in ev[f"{side}_structures"]] == [
            [name[c] for c in cs] for cs in ev[f"{side}_communities"]]
    lab = res.labels
    assert set(lab["structure"].unique()) <= {"liquid", "fcc", "hcp", "bcc", "ico"} | {
        n for n in lab["structure"].unique() if n.startswith("other-")}
    last = lab[lab["frame"] == lab["frame"].max()]
    crystal = last.loc[last["crystal_like"], "structure"].value_counts(normalize=True)
    # an LJ crystal grows as fcc with hcp stacking faults: hcp is its own structure, not liquid
    assert crystal.get("fcc", 0) + crystal.get("hcp", 0) > 0.8
    assert crystal.get("hcp", 0) > 0.05 and crystal.get("fcc", 0) > 0.05
    assert res.summary["crystal_structures"] and "liquid" not in res.summary["crystal_structures"]
    # the names in every figure too: the figures that colour by community say "structure"
    out, _ = finished
    page = (out / "report.html").read_text()
    for title in ("Structure populations over time", "Flow of atoms between structures",
                  "Slab of the last frame coloured by structure",
                  "Mapper graph coloured by structure"):
        assert title in page
    assert "between communities" not in page and "coloured by community" not in page


def test_frames_sharing_no_ids_are_independent_snapshots(tmp_path, caplog):
    """Configurations from different runs (disjoint ids) are layers without inter-layer
    links: a warning, not an error; each still gets its structure."""
    import logging

    from descriptors import make_lattice

    frames = []
    for k, kind in enumerate(["fcc", "hcp", "fcc", "hcp"]):
        f = make_lattice(kind, 4 if kind == "fcc" else (4, 3, 3), noise=0.04, seed=k)
        frames.append(f.__class__(f.positions, f.box, f.ids + 10_000 * k, f.types, k))
    path = write_lammps_dump(tmp_path / "snap.dump", frames)
    with caplog.at_level(logging.WARNING):
        res = analyze(path, tmp_path / "out", config={"output": {"figures": False, "report": False,
                                                                 "trajectory": "none"},
                                                      "mapper": {"enabled": False}})
    assert any("share no atom ids" in r.getMessage() for r in caplog.records)
    lab = res.labels
    major = lab.groupby("frame")["structure"].agg(lambda s: s.value_counts().index[0])
    assert major.tolist() == ["fcc", "hcp", "fcc", "hcp"]


def test_resume_is_keyed_by_content_not_by_path(tmp_path):
    """The same file under another name, or touched, resumes without recomputing a frame;
    a resume whose first frame differs (the feature pipeline is fitted on it) recomputes."""
    import os
    import shutil

    from multilayer.network.featureset import FeatureSet

    src = tmp_path / "a.dump.gz"
    shutil.copy(demo_trajectory_path(), src)
    cfg = {"output": {"figures": False, "report": False, "trajectory": "none"},
           "mapper": {"enabled": False}}
    out = tmp_path / "out"
    first = analyze(src, out, frames=slice(0, 12, 4), config=cfg)
    moved = tmp_path / "renamed.dump.gz"
    os.replace(src, moved)
    os.utime(moved, (1e9, 1e9))                       # touched: another mtime
    calls = {"n": 0}
    transform = FeatureSet.transform

    def counted(self, frame, neighbors=None, **kw):
        calls["n"] += 1
        return transform(self, frame, neighbors, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FeatureSet, "transform", counted)
        again = analyze(moved, out, frames=slice(0, 12, 4), config=cfg, resume=True)
        n_reference = calls["n"]                      # the reference environments only
        assert n_reference <= 20
        pd.testing.assert_frame_equal(again.labels, first.labels)
        shifted = analyze(moved, out, frames=slice(4, 12, 4), config=cfg, resume=True)
        assert calls["n"] - n_reference >= 2          # both frames recomputed
    fresh = analyze(moved, tmp_path / "fresh", frames=slice(4, 12, 4), config=cfg)
    pd.testing.assert_frame_equal(shifted.labels, fresh.labels)


def test_rerun_leaves_no_outputs_of_the_previous_run(tmp_path):
    """With figures and report switched off, a rerun into a finished directory must not leave
    the old figures, report or labelled trajectory beside its new labels."""
    out = tmp_path / "out"
    analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4),
            config={"mapper": {"enabled": False}})
    assert (out / "report.html").exists() and list(out.glob("*.png"))
    analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4), resume=True,
            config={"mapper": {"enabled": False},
                    "output": {"figures": False, "report": False, "trajectory": "none"}})
    assert not (out / "report.html").exists()
    assert not list(out.glob("*.png"))
    assert not (out / "labelled.dump.gz").exists()
    assert (out / "labels.parquet").exists() and (out / "summary.json").exists()


def test_two_runs_into_one_output_directory_one_refuses(tmp_path):
    from multilayer.app.pipeline import OutputError, OutputLock

    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(out):                              # a run in progress
        with pytest.raises(OutputError, match="another crystopo run"):
            analyze(demo_trajectory_path(), out, frames=slice(0, 8, 4))
    assert not (out / "labels.parquet").exists()        # nothing of the refused run


def test_output_path_that_is_a_file_gives_one_line(tmp_path, capsys):
    target = tmp_path / "not_a_dir"
    target.write_text("mine")
    code = cli_main(["analyze", str(demo_trajectory_path()), "--out", str(target), "--quiet",
                     "--frames", "0:8:4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is a file, not a directory" in err and "\n" not in err
    assert target.read_text() == "mine"


def test_mapper_uses_every_point_and_says_when_it_samples(finished, tmp_path):
    out, res = finished
    m = json.loads((out / "summary.json").read_text())["mapper"]
    n_points = len(res.labels)
    assert m["points"] == n_points and m["sampled"] is None and m["nodes"] > 0
    assert m["n_microstates"] == 2048                # 40,000 points: through the codebook
    assert f"all {n_points:,} (frame, atom) points" in (out / "report.html").read_text()
    run = analyze(demo_trajectory_path(), tmp_path / "s", frames=slice(0, 12, 4),
                  config={"mapper": {"sample": 500}, "output": {"figures": False,
                                                                "trajectory": "none"}})
    assert run.summary["mapper"]["sampled"] == {"points": 500, "of": 12_000}
    assert "random sample of 500 of the 12,000" in (tmp_path / "s" / "report.html").read_text()


def test_seed_vote_labels_are_named_and_reproducible(tmp_path):
    """[labels] n_seeds = 3: every atom takes the name most of three codebooks give it; the
    run is reproducible and the crystal is still found."""
    quick = {"mapper": {"enabled": False}, "labels": {"n_seeds": 3},
             "output": {"figures": False, "report": False, "trajectory": "none"}}
    a = analyze(demo_trajectory_path(), tmp_path / "a", frames=slice(20, 50, 10), config=quick)
    b = analyze(demo_trajectory_path(), tmp_path / "b", frames=slice(20, 50, 10), config=quick)
    pd.testing.assert_frame_equal(a.labels, b.labels)
    assert set(a.labels["structure"]) <= {"liquid", "fcc", "hcp", "bcc", "ico"} | \
        {n for n in a.labels["structure"] if n.startswith("other")}
    assert a.summary["crystal_structures"] and a.labels["crystal_like"].mean() > 0.2


def test_report_says_what_ptm_calls_each_structure(finished):
    """With OVITO installed (the test extra), every structure gets its PTM composition: the
    liquid is `other` to PTM, and the crystal-like structures hold PTM's crystal (at this run's
    temperature PTM's strict RMSD cutoff leaves most thermal crystal atoms `other`)."""
    pytest.importorskip("ovito")
    out, res = finished
    ptm = json.loads((out / "summary.json").read_text())["ptm_composition"]
    comp = ptm["structures"]
    assert set(comp) == set(res.labels["structure"][res.labels["frame"].isin(ptm["frames"])])
    for name, row in comp.items():
        assert abs(sum(row[k] for k in ("other", "fcc", "hcp", "bcc", "ico")) - 1) < 1e-3
    assert comp["liquid"]["other"] > 0.8
    crystal = [n for n in res.summary["crystal_structures"] if n in comp]
    frac = lambda names: (sum(comp[n]["atom_frames"] * (comp[n]["fcc"] + comp[n]["hcp"]  # noqa: E731
                                                        + comp[n]["bcc"]) for n in names)
                          / sum(comp[n]["atom_frames"] for n in names))
    assert crystal and frac(crystal) > 0.1 and frac(crystal) > 20 * frac(["liquid"])
    page = (out / "report.html").read_text()
    assert "What PTM calls each structure" in page
    # the counts of atom-frames are printed as counts, not as fractions are
    liquid_row = page[page.index("<td>liquid</td>", page.index("What PTM calls")):]
    assert f"<td>{comp['liquid']['atom_frames']}</td>" in liquid_row.split("</tr>")[0]


def test_ptm_composition_from_a_sample(finished, monkeypatch):
    """Frames above the whole-frame size are typed on a per-structure sample: with a quota as
    large as every structure, the composition is the whole frame's; with 300 per structure it
    stays close, and the summary says how many atoms were typed."""
    pytest.importorskip("ovito")
    from multilayer.app import output_stage as stages

    _, res = finished
    traj = read_trajectory(demo_trajectory_path())
    last = res.labels[res.labels["frame"] == res.labels["frame"].max()]
    t = int(last["frame"].iloc[0])
    lab = last.set_index("id").loc[traj[t].ids, "label"].to_numpy()
    pairs = last[["label", "structure"]].drop_duplicates()
    name_of = np.empty(int(lab.max()) + 1, dtype=object)
    name_of[pairs["label"].to_numpy()] = pairs["structure"].to_numpy()
    args = (traj, [t], [lab], name_of, {"ptm": "on", "ptm_atoms": 10**9})
    whole = stages._ptm_composition(*args)
    monkeypatch.setattr(stages, "_PTM_WHOLE", 100)
    monkeypatch.setattr(stages, "_PTM_PER_NAME", 10**9)
    assert stages._ptm_composition(*args) == whole
    monkeypatch.setattr(stages, "_PTM_PER_NAME", 300)
    sampled = stages._ptm_composition(*args)
    sizes = np.unique(name_of[lab], return_counts=True)[1]
    assert sampled["typed"] == np.minimum(sizes, 300).sum() < len(lab)
    for name, row in whole["structures"].items():
        assert sampled["structures"][name]["atom_frames"] == row["atom_frames"]
        for k in ("other", "fcc", "hcp", "bcc", "ico"):
            assert abs(sampled["structures"][name][k] - row[k]) < 0.1, (name, k)


def test_report_names_the_precursors_of_the_crystal(finished):
    """The route summary is the labels' own history: recomputed from labels.parquet by a slow
    per-atom loop, the last structure before joining the final crystal agrees."""
    out, res = finished
    routes = res.summary["routes"]
    labels = pd.read_parquet(out / "labels.parquet")
    wide = labels.pivot(index="id", columns="frame", values="structure")
    crystal = set(res.summary["crystal_structures"])
    last = {}
    n = 0
    for row in wide.itertuples(index=False):
        row = list(row)
        if row[-1] not in crystal:
            continue
        n += 1
        k = len(row) - 1
        while k >= 0 and row[k] in crystal:
            k -= 1
        if k >= 0:
            last[row[k]] = last.get(row[k], 0) + 1
    assert routes["n_crystal_atoms"] == n
    for name, count in last.items():
        assert routes["precursors"][name]["last_before"] == pytest.approx(count / n, abs=1e-4)
    tr = routes["transitions"]
    assert set(tr["names"]) == set(labels["structure"].unique())
    for row in tr["matrix"]:
        assert sum(row) == pytest.approx(1.0, abs=1e-3)
    html = (out / "report.html").read_text()
    assert "Precursors: what the crystal" in html and "Transitions between structures" in html


@pytest.mark.parametrize("how", ["local", "communities", "support0", "no_inherit"])
def test_crystal_types_only_move_atoms_between_fcc_and_hcp(finished, tmp_path, how):
    """[labels] crystal_types = "local" or "communities", or "cna" with cna_support = 0 or
    cna_inherit = false, against the default ("cna", cna_support 4, cna_inherit): the
    default's crystal-like atoms are theirs too, and the only others are fcc or hcp atoms
    (or, inherited, bcc) the default names liquid (its first-shell support rule); the same ico atoms, the same bcc
    atoms but for fcc/hcp-named ones that the default's inherit names bcc (their voting
    neighbours are bcc); otherwise only fcc and hcp are redistributed.  With cna_support = 0
    the atoms the default drops vote in the spread's later rounds; with one round
    (cna_inherit_rounds = 1) they are all that differs."""
    out, res = finished
    config = {"support0": {"labels": {"cna_support": 0}},
              "no_inherit": {"labels": {"cna_inherit": False}}}.get(
        how, {"labels": {"crystal_types": how}})
    other = analyze(demo_trajectory_path(), tmp_path / how, frames=FRAMES, config=config)
    a = res.labels.sort_values(["frame", "id"]).reset_index(drop=True)
    b = other.labels.sort_values(["frame", "id"]).reset_index(drop=True)
    assert not (a["crystal_like"] & ~b["crystal_like"]).any()
    dropped = b["crystal_like"] & ~a["crystal_like"]
    assert (a.loc[dropped, "structure"] == "liquid").all()
    assert b.loc[dropped, "structure"].isin(["fcc", "hcp", "bcc"]).all()   # bcc: inherited
    kept = ~dropped
    moved = kept & (a["structure"] != b["structure"])
    assert a.loc[moved, "structure"].isin(["fcc", "hcp", "bcc"]).all()
    # cna_support 0 keeps atoms that then vote in the spread's later rounds: bcc too
    assert b.loc[moved, "structure"].isin(["fcc", "hcp"] + ["bcc"] * (how == "support0")).all()
    if how == "support0":       # the same votes: the support rule is all that differs
        assert dropped.any()
        one = analyze(demo_trajectory_path(), tmp_path / "support0_1", frames=FRAMES,
                      config={"labels": {"cna_support": 0, "cna_inherit_rounds": 1}})
        # with one round the kept atoms' names are the default's: what the support rule
        # drops reaches others only through the rounds of the spread, as a voter
        c = one.labels.sort_values(["frame", "id"]).reset_index(drop=True)
        d = analyze(demo_trajectory_path(), tmp_path / "default_1", frames=FRAMES,
                    config={"labels": {"cna_inherit_rounds": 1}}).labels
        d = d.sort_values(["frame", "id"]).reset_index(drop=True)
        assert ((c["structure"] != d["structure"]) == (c["crystal_like"] != d["crystal_like"])).all()
    elif how == "no_inherit":   # the same crystal-like atoms; abstaining ones renamed
        assert not dropped.any() and moved.any()
    else:
        assert moved.any()
    with pytest.raises(ConfigError, match="crystal_types"):
        analyze(demo_trajectory_path(), tmp_path / "bad", frames=FRAMES,
                config={"labels": {"crystal_types": "own"}})


def test_nuclei_use_the_stored_first_shell(tmp_path):
    """The tracking stage takes each frame's first shell from the feature store (the pairs
    a new search finds); a store without it (an older run resumed) makes it search."""
    from descriptors import make_lattice, neighbor_list
    from multilayer.app.stages import _first_shell
    from multilayer.app.store import FeatureStore
    from multilayer.network.featureset import FeatureSet
    f = make_lattice("bcc", 5, noise=0.05, seed=2)
    fs = FeatureSet().fit(f)
    store = FeatureStore(tmp_path / "features")
    arrays = fs.transform(f).arrays()
    store.write(0, arrays)
    store.write(1, {k: v for k, v in arrays.items() if not k.startswith("shell_")})
    fresh = neighbor_list(f, r_cut=fs.shell_cut_)
    for i in (0, 1):
        nl = _first_shell(store, i, f, fs.shell_cut_)
        np.testing.assert_array_equal(nl.offsets, fresh.offsets)
        for a in range(0, f.n_atoms, 17):
            assert sorted(nl.of(a)[0].tolist()) == sorted(fresh.of(a)[0].tolist())
        np.testing.assert_allclose(np.sort(nl.distances), np.sort(fresh.distances), atol=1e-12)


def test_mapper_started_early_is_the_graph_of_the_stored_features(finished):
    """Mapper starts beside the clustering as soon as the features are stored (it needs no
    label): the run's graph is the one Mapper makes from the stored features afterwards."""
    from multilayer.app.config import load_config
    from multilayer.app.output_stage import _mapper_graph, threadsafe_numba, start_mapper
    from multilayer.app.store import FeatureStore

    out, res = finished
    cfg = load_config(None)
    store = FeatureStore(out / ".crystopo" / "features")
    good = store.frames
    job = start_mapper(store, good, cfg)
    assert (job is not None) == threadsafe_numba()
    ids = [store.read(i, ["ids"])["ids"] for i in good]
    graph = job.result() if job is not None else _mapper_graph(store, ids, None, cfg)
    m = json.loads((out / "summary.json").read_text())["mapper"]
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (m["nodes"], m["edges"])
    assert start_mapper(store, good, load_config(None, {"mapper": {"enabled": False}})) is None


def test_background_writer_stores_what_a_direct_write_stores(tmp_path, monkeypatch):
    """The feature stage writes frame i in a thread while frame i + 1 is described: what is
    stored is what synchronous writes store; a failed write is raised (never taken for a bad
    frame to skip) and leaves no half-written frame; an error of the caller's wins."""
    from descriptors import make_lattice
    from multilayer.app.store import BackgroundWriter, FeatureStore, StoreWriteError
    from multilayer.network.featureset import FeatureSet

    frames = [make_lattice("fcc", 4, noise=0.05, seed=s) for s in range(3)]
    fs = FeatureSet().fit(frames[0])
    arrays = [fs.transform(f).arrays() for f in frames]
    direct, background = FeatureStore(tmp_path / "a"), FeatureStore(tmp_path / "b")
    with BackgroundWriter(background) as writer:
        for i, arr in enumerate(arrays):
            direct.write(i, arr, {"timestep": i})
            writer.write(i, arr, {"timestep": i})
    assert background.done() == direct.done() == [0, 1, 2]
    for i in range(3):
        assert background.meta(i)["timestep"] == i
        a, b = direct.read(i), background.read(i)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])

    real = FeatureStore.write

    def fail_on_1(self, frame, arrays, meta=None):
        if frame == 1:
            raise ValueError("disk says no")     # a ValueError: FrameLoop would skip a frame
        return real(self, frame, arrays, meta)

    monkeypatch.setattr(FeatureStore, "write", fail_on_1)
    store = FeatureStore(tmp_path / "c")
    with pytest.raises(StoreWriteError, match="frame 1") as err:
        with BackgroundWriter(store) as writer:
            for i, arr in enumerate(arrays):
                writer.write(i, arr)
    assert isinstance(err.value.__cause__, ValueError)
    assert store.done() == [0]                   # frame 2 was never started
    with pytest.raises(StoreWriteError, match="frame 1"):   # the last write, raised on exit
        with BackgroundWriter(FeatureStore(tmp_path / "d")) as writer:
            writer.write(1, arrays[1])
    with pytest.raises(KeyError):                # the caller's own error is the one raised
        with BackgroundWriter(FeatureStore(tmp_path / "e")) as writer:
            writer.write(1, arrays[1])
            raise KeyError("caller")


def test_references_made_beside_the_features_are_the_clustering_s(finished):
    """The reference environments start in a thread once the feature pipeline is fitted;
    they are the rows the clustering stage would make itself, and the labels the same."""
    from multilayer.app.config import load_config
    from multilayer.app.output_stage import threadsafe_numba
    from multilayer.app.stages import _references, cluster_stage, start_references
    from multilayer.app.store import FeatureStore

    out, _ = finished
    cfg = load_config(None)
    fs = pickle.loads((out / ".crystopo" / "featureset.pkl").read_bytes())
    job = start_references(fs, cfg)
    assert (job is not None) == threadsafe_numba()
    if job is None:
        pytest.skip("numba's threading layer runs one parallel launch at a time")
    x, kind = job.result()
    x0, kind0 = _references(fs, cfg)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(kind, kind0)
    store = FeatureStore(out / ".crystopo" / "features")
    a = cluster_stage(store, cfg, fs, references=start_references(fs, cfg)).labels
    b = cluster_stage(store, cfg, fs).labels
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    multislice = load_config(None, {"labels": {"method": "multislice"}})
    assert start_references(fs, multislice) is None
