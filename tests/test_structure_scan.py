"""How many structures, with evidence: the resolution scan of the anchored structure labels
(multilayer.network.structure_scan) and ``[labels] scan`` in ``analyze``."""
import json
import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from multilayer.app.config import DEFAULTS, ConfigError, config_to_toml, load_config
from multilayer.network.structure_scan import (
    ScanRow,
    choose_resolution,
    plot_scan,
    scan_resolutions,
    scan_table,
)
from multilayer.network.structures import fit_structures

KINDS = np.array(["liquid", "fcc", "hcp"])
FIT = {"n_microstates": 40}      # small codebooks keep the scan quick


def _planted(n_atoms=400, n_frames=6, n_blobs=4, dim=6, separation=10.0, seed=0):
    """``n_blobs`` Gaussian structures (unit width, centres ``separation`` apart on orthonormal
    directions); atom i sits in blob i % n_blobs in every frame.  References (100 draws) name
    the first three blobs liquid, fcc, hcp; the last blob is a structure no reference
    describes, so the planted number of structures is ``n_blobs``."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:n_blobs] * separation / np.sqrt(2)
    truth = np.arange(n_atoms) % n_blobs
    feats = [(centres[truth] + rng.normal(size=(n_atoms, dim))).astype(np.float32)
             for _ in range(n_frames)]
    x_ref = np.concatenate([centres[k] + rng.normal(size=(100, dim))
                            for k in range(len(KINDS))]).astype(np.float32)
    ids = np.arange(1, n_atoms + 1, dtype=np.int64)
    return feats, [ids] * n_frames, (x_ref, np.repeat(KINDS, 100)), truth


@pytest.fixture(scope="module")
def planted():
    feats, ids, refs, truth = _planted()
    t = time.perf_counter()
    scan = scan_resolutions(feats, ids, refs, **FIT)
    seconds = time.perf_counter() - t
    print(f"scan of {len(scan)} resolutions x (3 seeds + split) on 6 x 400 rows: {seconds:.2f} s")
    return feats, ids, refs, truth, scan


def test_planted_structures_are_stable_and_their_number_is_recovered(planted):
    feats, ids, refs, truth, scan = planted
    assert [r.resolution for r in scan] == [0.0, 0.01, 0.02, 0.05, 0.1, 0.2]
    chosen = choose_resolution(scan)
    assert chosen.n_communities == 4
    assert set(chosen.names) == {"liquid", "fcc", "hcp", "other-1"}
    assert chosen.seed_ari > 0.99 and chosen.split_ari > 0.99 and chosen.stability > 0.99
    assert chosen.n_communities_seeds == (4, 4, 4)
    # every stable row of the scan finds the four planted structures, no more
    stable = [r for r in scan if r.stability >= 0.9]
    assert stable and all(r.n_communities == 4 for r in stable)
    # the chosen resolution's labels are the planted structures
    _, labels = fit_structures(feats, ids, refs, resolution=chosen.resolution, **FIT)
    assert adjusted_rand_score(np.tile(truth, len(feats)), np.concatenate(labels)) > 0.99


def test_same_seeds_same_scan(planted):
    feats, ids, refs, _, scan = planted
    again = scan_resolutions(feats, ids, refs, **FIT)
    strip = [r.to_dict() | {"seconds": 0} for r in scan]
    assert strip == [r.to_dict() | {"seconds": 0} for r in again]
    # a subsample of the rows is drawn from a seeded generator: reproducible too
    a = scan_resolutions(feats, ids, refs, resolutions=(0.05,), max_rows=500, **FIT)
    b = scan_resolutions(feats, ids, refs, resolutions=(0.05,), max_rows=500, **FIT)
    assert a[0].to_dict() | {"seconds": 0} == b[0].to_dict() | {"seconds": 0}


def test_scan_arguments_are_checked(planted):
    feats, ids, refs, _, _ = planted
    with pytest.raises(TypeError, match="resolutions="):
        scan_resolutions(feats, ids, refs, resolution=0.1)
    with pytest.raises(ValueError, match="resolutions"):
        scan_resolutions(feats, ids, refs, resolutions=(-1.0,))
    with pytest.raises(ValueError, match="at least two seeds"):
        scan_resolutions(feats, ids, refs, seeds=(0,), frame_split=False)
    one = scan_resolutions(feats, ids, refs, resolutions=(0.05,), seeds=(0,), **FIT)[0]
    assert one.seed_ari is None and one.stability == one.split_ari


def test_choice_rule():
    def row(res, n, stab):
        return {"resolution": res, "n_communities": n, "stability": stab}

    rows = [row(0.0, 3, 1.0), row(0.05, 4, 0.95), row(0.02, 4, 0.97), row(0.2, 6, 0.5)]
    assert choose_resolution(rows) is rows[2]           # most stable count; smaller resolution
    assert choose_resolution(rows, threshold=0.4) is rows[3]
    weak = [row(0.0, 3, 0.5), row(0.1, 5, 0.7), row(0.2, 6, 0.7)]
    assert choose_resolution(weak) is weak[1]           # none stable: the most stable, fewer
    with pytest.raises(ValueError, match="empty"):
        choose_resolution([])


def test_table_is_json_and_the_plot_marks_the_choice(planted, tmp_path):
    scan = planted[-1]
    table = scan_table(scan)
    assert [r["chosen"] for r in table].count(True) == 1
    back = json.loads(json.dumps(table))
    assert back == table
    assert choose_resolution(back)["resolution"] == choose_resolution(scan).resolution
    assert isinstance(scan[0], ScanRow)
    import matplotlib.pyplot as plt

    ax = plot_scan(back)
    assert "chosen: 4 at" in " ".join(t.get_text() for t in ax.texts)
    ax.figure.savefig(tmp_path / "scan.png")
    plt.close(ax.figure)


def test_scan_key_is_validated():
    assert DEFAULTS["labels"]["scan"] is False
    assert load_config(None, {"labels": {"scan": True}})["labels"]["scan"] is True
    for bad in ("yes", 1, 0.0):
        with pytest.raises(ConfigError, match=r"\[labels\] scan = .*: expected true or false"):
            load_config(None, {"labels": {"scan": bad}})
    with pytest.raises(ConfigError, match=r"\[labels\] scan = None"):
        load_config(None, {"labels": {"scan": None}})
    with pytest.raises(ConfigError, match="method = \"anchored\""):
        load_config(None, {"labels": {"scan": True, "method": "multislice"}})
    assert "scan = false" in config_to_toml(DEFAULTS)


def test_analyze_with_scan_writes_it_into_the_summary_and_the_report(tmp_path):
    from descriptors import demo_trajectory_path
    from multilayer.app.pipeline import analyze

    cfg = {"labels": {"scan": True, "n_microstates": 60},
           "mapper": {"enabled": False},
           "output": {"trajectory": "none", "ptm": "off"}}
    out = tmp_path / "out"
    res = analyze(demo_trajectory_path(), out, frames=slice(0, 12, 4), config=cfg)
    summary = json.loads((out / "summary.json").read_text())
    scan = summary["structure_scan"]
    assert isinstance(scan, list) and [r["resolution"] for r in scan] == \
        [0.0, 0.01, 0.02, 0.05, 0.1, 0.2]
    assert {"resolution", "n_communities", "names", "seed_ari", "split_ari", "stability",
            "chosen"} <= set(scan[0])
    assert sum(r["chosen"] for r in scan) == 1
    assert res.summary["structure_scan"] == scan
    page = (out / "report.html").read_text()
    assert "How many structures: resolution scan" in page
    assert 'alt="structure_scan"' in page
    assert (out / "structure_scan.png").exists()
