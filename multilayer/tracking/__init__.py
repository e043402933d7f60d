"""What the labels say over time: community life cycles, spatial nuclei, nucleation onset,
mean first-passage times, the growth probability of nuclei, and their plots.  Imports only from :mod:`multilayer.network` and below."""
from .histories import atom_histories, lifetimes, precursors, transition_matrix
from .lifecycle import (CommunityTracker, CrystalCriterion, community_events, community_sizes,
                        crystal_communities)
from .nuclei import (CORE_MAX_DISTORTION, CORE_OUTSIDE_TOLERANCE, CORE_TOLERANCE, MFPTResult,
                     MIN_ONSET_GROWTH, MIN_ONSET_THRESHOLD,
                     NucleiResult,
                     NucleusTracker, Onset,
                     critical_onset, crystalline_core, find_nuclei,
                     first_passage_times, mfpt_fit, nucleation_onset, nucleus_properties, onset_growth,
                     onset_spread,
                     track_nuclei)
from .growth import (MAX_FELL_BACK, GrowthResult, committor_size, growth_probability,
                     nucleus_fates)
from .mfpt import mfpt_after_onset
from .onset import AT_START, START_PERSISTENCE, StartPersistence
from .plot import (plot_alluvial, plot_growth_probability, plot_largest_nucleus, plot_mfpt,
                   plot_populations, plot_slab)
