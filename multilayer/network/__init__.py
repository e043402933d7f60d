"""The time-layered network and its clustering: per-frame feature handling, the multilayer
network (atom or microstate nodes), multislice Leiden, Mapper, time averaging, label metrics
and summaries.  Imports only from :mod:`tda` and :mod:`descriptors`."""
from .features import FeatureFrames, FeatureTransform, as_feature_frames, fit_transform_stats
from .featureset import FEATURE_DEFAULTS, FEATURE_SETS, FeatureSet, FrameFeatures
from .frameloop import FrameLoop, select_frames
from .graph import MultilayerNetwork, build_network
from .leiden import (MultilayerLeiden, default_resolution, leiden, leiden_nodes,
                     multislice_quality, resolution_scan)
from .mapper import mapper
from .metrics import adjusted_rand, match_labels, matched_accuracy
from .plot import plot_mapper, plot_resolution_scan
from .progress import progress_bar
from .summary import summary
from .time_average import TimeAveragedFrames, moving_average
