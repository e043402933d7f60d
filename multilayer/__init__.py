"""crystopo.multilayer: time-layered similarity networks, Leiden and Mapper clustering,
structure tracking, the analysis pipeline and the ``crystopo`` command line."""
from .nuclei import (CrystalCriterion, MFPTResult, NucleiResult, NucleusTracker, Onset,
                     crystal_communities, find_nuclei, first_passage_times, mfpt_fit,
                     nucleation_onset, nucleus_properties, track_nuclei)
from .plot_track import (plot_alluvial, plot_largest_nucleus, plot_mfpt, plot_populations,
                         plot_slab)
from .track import (CommunityTracker, atom_histories, community_events, community_sizes,
                    lifetimes, precursors, transition_matrix)
from .network import MultilayerNetwork, build_network
from .leiden import (MultilayerLeiden, default_resolution, leiden, leiden_nodes,
                     multislice_quality, resolution_scan)
from .mapper import mapper
from .baselines import gmm_labels, hdbscan_labels, kmeans_labels
from .metrics import adjusted_rand, match_labels, matched_accuracy
from .summary import summary
from .plot_network import plot_mapper, plot_resolution_scan
from .pipeline import AnalysisResult, analyze
from .time_average import TimeAveragedFrames, moving_average
from .embedding import (Embedding, embed_frames, fit_embedding, plot_embedding,
                        reference_environments)
from .propensity import PropensityResult, crystallization_propensity, propensity
from .classify import (StructureClassifier, StructureFeatures, classify_trajectory,
                       train_classifier)
from .classify_io import read_labels, trusted_labels
