"""The descriptor stage on a local Dask cluster gives exactly the serial results."""
import numpy as np
import pandas as pd
import pytest

from descriptors import demo_trajectory_path
from multilayer.app.pipeline import analyze
from multilayer.app.store import FeatureStore

pytest.importorskip("dask.distributed", reason="needs the [distributed] extra")

CFG = {"output": {"figures": False, "report": False, "trajectory": "none"},
       "mapper": {"enabled": False}}


def test_dask_features_equal_serial(tmp_path):
    serial = analyze(demo_trajectory_path(), tmp_path / "s", frames=slice(0, 40, 8), config=CFG)
    dask = analyze(demo_trajectory_path(), tmp_path / "d", frames=slice(0, 40, 8), config=CFG, workers=2)
    a = FeatureStore(tmp_path / "s" / ".crystopo" / "features")
    b = FeatureStore(tmp_path / "d" / ".crystopo" / "features")
    assert a.done() == b.done() == [0, 8, 16, 24, 32]
    for i in a.done():
        fa, fb = a.read(i), b.read(i)
        assert fa.keys() == fb.keys()
        for key in fa:
            np.testing.assert_array_equal(fa[key], fb[key], err_msg=f"frame {i}, {key}")
    pd.testing.assert_frame_equal(serial.labels, dask.labels)


def test_store_keeps_arrays_equal_to_the_fill_value(tmp_path):
    """Every chunk is written (zarr's write_empty_chunks): arrays of zeros, empty arrays and
    scalars read back as written."""
    s = FeatureStore(tmp_path / "f")
    arrays = {"zeros": np.zeros((1000, 3), np.float32), "none": np.zeros((0, 4), np.float32),
              "ids": np.arange(1000, dtype=np.int64), "flag": np.zeros(1000, bool)}
    s.write(3, arrays, {"timestep": 7})
    back = s.read(3)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)
    assert s.meta(3)["timestep"] == 7
