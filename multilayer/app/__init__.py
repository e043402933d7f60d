"""The application: ``analyze`` (configuration, checkpoints, the per-frame loop, Dask), the
report and the ``crystopo`` command line.  The top of the flow: imports from every other room."""
from .pipeline import AnalysisResult, analyze
from .propensity import propensity
