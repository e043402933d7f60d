"""Learning on top of the descriptors: clustering baselines, supervised classification,
embeddings (PCA/UMAP/PaCMAP) and the crystallization propensity.  Imports only from
:mod:`multilayer.network` and below."""
from .baselines import gmm_labels, hdbscan_labels, kmeans_labels
from .classify import StructureClassifier, StructureFeatures, classify_trajectory, train_classifier
from .embedding import Embedding, embed_frames, fit_embedding, plot_embedding, reference_environments
from .propensity import PropensityResult, crystallization_propensity
from .trusted import TRUSTED_METHODS, read_labels, trusted_labels
