"""crystopo.multilayer: time-layered similarity networks, Leiden and Mapper clustering,
structure tracking, learning on descriptors, the analysis pipeline and the ``crystopo`` command.

Rooms, each importing only from the rooms below it (and from :mod:`tda`, :mod:`descriptors`):

* :mod:`multilayer.network` -- features, the multilayer network, Leiden, Mapper, metrics;
* :mod:`multilayer.tracking` -- life cycles, nuclei, onset, MFPT and their plots;
* :mod:`multilayer.learn` -- baselines, classification, embeddings, propensity;
* :mod:`multilayer.app` -- ``analyze``, checkpoints, report and the CLI.

The names below are re-exported for notebooks: ``import multilayer; multilayer.leiden(...)``.
"""
from .network import (FeatureSet, FrameFeatures, FrameLoop, MultilayerLeiden, MultilayerNetwork,
                      TimeAveragedFrames, adjusted_rand,
                      build_network, default_resolution, leiden, leiden_nodes, mapper,
                      match_labels, matched_accuracy, moving_average, multislice_quality,
                      plot_mapper, plot_resolution_scan, resolution_scan, summary)
from .tracking import (CommunityTracker, CrystalCriterion, MFPTResult, NucleiResult,
                       NucleusTracker, Onset, atom_histories, community_events, community_sizes,
                       critical_onset,
                       crystal_communities, find_nuclei, first_passage_times, GrowthResult,
                       growth_probability, lifetimes,
                       mfpt_after_onset, mfpt_fit, nucleation_onset, nucleus_properties,
                       onset_growth, onset_spread,
                       plot_alluvial, plot_growth_probability,
                       plot_largest_nucleus, plot_mfpt, plot_populations, plot_slab, precursors,
                       StartPersistence, track_nuclei, transition_matrix)
from .learn import (Embedding, PropensityResult, StructureClassifier, StructureFeatures,
                    classify_trajectory, crystallization_propensity, embed_frames, fit_embedding,
                    gmm_labels, hdbscan_labels, kmeans_labels, plot_embedding, read_labels,
                    reference_environments, train_classifier, trusted_labels)
from .app import AnalysisResult, analyze, propensity
