"""crystopo.tda: per-atom persistent homology and its vectorisations.

Note: the PyPI distribution named ``tda`` is an unrelated project.
"""
