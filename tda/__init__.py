"""crystopo.tda: per-atom persistent homology and its vectorisations.

* :func:`local_persistence` -- every atom's alpha or Rips diagrams (H0..H2) as one
  ragged :class:`Diagrams`; :func:`cloud_persistence` for arbitrary small clouds.
* :func:`vectorize` / :class:`DiagramVectorizer` -- persistence images, Betti curves,
  landscapes and summary statistics as (n_atoms, n_features) float32.
* :func:`diagram_distances`, :func:`bottleneck_distance`, :func:`wasserstein_distance`,
  :func:`mean_diagram` -- comparing atoms or classes of atoms.
* ``plot_*`` -- diagrams, barcodes and persistence images for notebooks (lazy matplotlib).

Note: the PyPI distribution named ``tda`` is an unrelated project; crystopo installs
an import package of the same name, so do not install that distribution alongside.
"""
from .diagrams import BACKENDS, COMPLEXES, Diagrams, cloud_persistence, local_persistence
from .distances import bottleneck_distance, diagram_distances, mean_diagram, wasserstein_distance
from .plot import plot_barcode, plot_diagram, plot_diagrams_overlay, plot_persistence_image
from .vectorize import METHODS, DiagramVectorizer, diagram_ranges, feature_names, vectorize

__all__ = ["Diagrams", "local_persistence", "cloud_persistence", "BACKENDS", "COMPLEXES",
           "vectorize", "diagram_ranges", "feature_names", "DiagramVectorizer", "METHODS",
           "bottleneck_distance", "wasserstein_distance", "diagram_distances", "mean_diagram",
           "plot_diagram", "plot_barcode", "plot_persistence_image", "plot_diagrams_overlay"]
