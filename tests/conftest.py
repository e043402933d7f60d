"""Fixtures shared by the end-to-end test modules."""
import pytest

from descriptors import demo_trajectory_path
from multilayer.app.pipeline import analyze

#: every fifth frame of the bundled demo keeps the end-to-end tests short (the demo command
#: analyses them all)
FRAMES = slice(0, None, 5)


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    """`analyze` with its defaults on every fifth frame of the bundled LAMMPS nucleation run:
    the output directory and the result, shared by the test modules that read them."""
    out = tmp_path_factory.mktemp("run")
    res = analyze(demo_trajectory_path(), out, frames=FRAMES)
    return out, res
