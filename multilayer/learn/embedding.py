"""Low-dimensional embeddings of per-atom descriptors: PCA, UMAP and (parametric) PaCMAP.

The embedding is fitted once, on a row sample drawn from all frames (after the pooled
standardisation that :func:`multilayer.build_network` uses), and then applied to every
atom of every frame, frame by frame:

* ``"pca"``: principal axes of the sample;
* ``"umap"``: :class:`umap.UMAP` with PCA initialisation, applied through its ``transform``;
* ``"pacmap"``: :class:`pacmap.PaCMAP` with PCA initialisation (nNP = 10, nMN = 5, nFP = 20);
  PaCMAP has no out-of-sample map, so a small scikit-learn regressor (k nearest
  neighbours, or a 3 x 50 ReLU network as in the SOAP/PaCMAP study) is trained on the
  sample to map descriptors to the embedding: the "parametric" variant.

Reference environments (ideal fcc, hcp, bcc and icosahedral clusters at the run's
density, with its thermal noise; :func:`reference_environments`) may be added to the
sample, to anchor known structures in the map.  They shape the fit, and their own
coordinates are kept apart (:attr:`Embedding.reference_embedding`); they never appear
among the atoms' outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils import check_scalar

from descriptors import as_frame, first_shell_distance, make_lattice, neighbor_list

from descriptors.reference import icosahedra

from ..network.features import as_feature_frames, fit_transform_stats

__all__ = ["Embedding", "fit_embedding", "embed_frames", "reference_environments",
           "estimate_thermal_noise", "plot_embedding", "METHODS"]

METHODS = ("pca", "umap", "pacmap")


@dataclass(eq=False)
class Embedding:
    """A fitted embedding; ``embedding.transform(x)`` maps raw descriptor rows.

    Attributes
    ----------
    method : str
    n_components : int
    scaler : FeatureTransform
        Pooled standardisation (and optional PCA pre-reduction) fitted on all frames.
    model : object
        The fitted PCA / UMAP estimator, or PaCMAP's regressor.
    sample_embedding : ndarray (n_sample, n_components), float32
        Coordinates of the sampled atoms (references excluded).
    sample_frames : ndarray (n_sample,), int64
        Frame (position in the input sequence) of each sampled atom.
    reference_embedding : ndarray (n_ref, n_components), float32, or None
    reference_kinds : ndarray (n_ref,) of str, or None
    """

    method: str
    n_components: int
    scaler: object
    model: object
    sample_embedding: np.ndarray
    sample_frames: np.ndarray
    reference_embedding: np.ndarray | None = None
    reference_kinds: np.ndarray | None = None

    def transform(self, x) -> np.ndarray:
        """Embed raw descriptor rows (n, d) -> (n, n_components) float32."""
        z = self.scaler(np.asarray(x))
        if len(z) == 0:
            return np.zeros((0, self.n_components), np.float32)
        y = self.model.predict(z) if self.method == "pacmap" else self.model.transform(z)
        return np.ascontiguousarray(y, dtype=np.float32)


def fit_embedding(features, ids=None, *, method="umap", n_components=2, feature_sets=None,
                  sample_size=5000, references=None, n_neighbors=15, pca_components=None,
                  regressor="knn", standardize=True, seed=0) -> Embedding:
    """Fit PCA, UMAP or parametric PaCMAP on a sample of all frames.

    Parameters
    ----------
    features : sequence of ndarray (n_t, ...) or of mappings {feature_set: ndarray}
        One entry per frame, read lazily (twice: statistics and sample).
    ids : sequence of int arrays, optional
        As in :func:`multilayer.build_network`.
    method : {"pca", "umap", "pacmap"}
    n_components : int
    feature_sets : list of str, optional
    sample_size : int
        Rows drawn (seeded, proportionally) from all frames to fit on.
    references : (ndarray (m, d), array (m,) of str), optional
        Raw descriptor rows of reference environments and their kinds
        (:func:`reference_environments`); added to the fitting sample only.
    n_neighbors : int
        UMAP's ``n_neighbors`` (PaCMAP uses 10, as in the SOAP/PaCMAP study).
    pca_components : int, optional
        Reduce the standardised descriptors to this many principal axes first.
    regressor : {"knn", "mlp"}
        PaCMAP's out-of-sample map.
    standardize : bool
    seed : int

    Returns
    -------
    Embedding

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = [np.r_[rng.normal(0, 1, (40, 5)), rng.normal(6, 1, (40, 5))] for _ in range(3)]
    >>> emb = fit_embedding(x, method="pca", sample_size=100)
    >>> emb.transform(x[0]).shape, emb.sample_embedding.shape
    ((80, 2), (100, 2))
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} unknown; choose from {METHODS}")
    if regressor not in ("knn", "mlp"):
        raise ValueError(f"regressor must be 'knn' or 'mlp', got regressor={regressor!r}")
    check_scalar(n_components, "n_components", Integral, min_val=1)
    check_scalar(sample_size, "sample_size", Integral, min_val=10)
    check_scalar(n_neighbors, "n_neighbors", Integral, min_val=2)
    check_scalar(seed, "seed", Integral, min_val=0)
    frames = as_feature_frames(features, ids, feature_sets)
    scaler, sample, sframes = fit_transform_stats(
        frames, standardize=standardize, balance_sets=True, n_components=pca_components,
        sample_size=int(sample_size), seed=seed)
    n_data = len(sample)
    ref_kinds = None
    if references is not None:
        ref_x, ref_kinds = references
        ref_x = np.asarray(ref_x, dtype=np.float32).reshape(len(ref_x), -1)
        ref_kinds = np.asarray(ref_kinds)
        if ref_x.shape[1] != frames.n_features or len(ref_kinds) != len(ref_x):
            raise ValueError(f"references must be ((m, {frames.n_features}) rows, (m,) kinds) "
                             f"in the features' columns, got {ref_x.shape} and "
                             f"{ref_kinds.shape}")
        sample = np.concatenate([sample, scaler(ref_x)])
    if n_components > sample.shape[1]:
        raise ValueError(f"n_components={n_components} exceeds the {sample.shape[1]} "
                         "descriptor columns")
    if len(sample) <= n_components + 1:
        raise ValueError(f"only {len(sample)} sampled rows: too few to embed")
    y = _fit(method, sample, int(n_components), int(n_neighbors), seed)
    if method == "pacmap":
        coords = y
        model = _regressor(regressor, seed).fit(sample, coords)
    else:
        model, coords = y
    coords = np.asarray(coords, dtype=np.float32)
    return Embedding(method, int(n_components), scaler, model, coords[:n_data],
                     np.asarray(sframes, dtype=np.int64),
                     coords[n_data:] if ref_kinds is not None else None, ref_kinds)


def _fit(method, x, k, n_neighbors, seed):
    from threadpoolctl import threadpool_limits

    if method == "pca":
        from sklearn.decomposition import PCA

        model = PCA(k, random_state=seed).fit(x)
        return model, model.transform(x)
    if method == "umap":
        import warnings

        import umap

        model = umap.UMAP(n_components=k, n_neighbors=min(n_neighbors, len(x) - 1), init="pca",
                          random_state=seed, n_jobs=1, transform_seed=seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs.*")
            coords = model.fit_transform(x)
        return model, coords
    import pacmap

    with threadpool_limits(limits=1):
        model = pacmap.PaCMAP(n_components=k, n_neighbors=min(10, len(x) - 2), MN_ratio=0.5,
                              FP_ratio=2.0, random_state=seed, verbose=False)
        return model.fit_transform(x, init="pca")


def _regressor(kind, seed):
    if kind == "knn":
        from sklearn.neighbors import KNeighborsRegressor

        return KNeighborsRegressor(n_neighbors=10, weights="distance")
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(hidden_layer_sizes=(50, 50, 50), max_iter=500, random_state=seed)


def embed_frames(embedding: Embedding, features, ids=None, *, feature_sets=None):
    """Yield the embedding of every frame, (n_t, n_components) float32, rows as given.

    Frames are read one at a time; reference environments never appear here.
    """
    frames = as_feature_frames(features, ids, feature_sets)
    for t in range(frames.n_frames):
        yield embedding.transform(frames.raw(t))


# -- reference environments ------------------------------------------------------------------
def estimate_thermal_noise(frame, *, sample=2000, seed=0) -> float:
    """Per-coordinate thermal displacement in first-neighbour distances, from one frame.

    Each sampled atom's 12 nearest distances have a spread; for a crystal with Gaussian
    displacements ``s`` per coordinate, bond lengths spread by ``s * sqrt(2)``.  The
    lower quartile over atoms (the most ordered ones, so liquid atoms do not inflate it)
    is divided by ``sqrt(2) * d`` and by 0.78, the ratio this quartile has to the true
    ``s`` on noisy fcc lattices (0.77-0.82 for s = 0.02-0.08).

    Examples
    --------
    >>> round(estimate_thermal_noise(make_lattice("fcc", 6, noise=0.05, seed=0)), 2)
    0.05
    """
    frame = as_frame(frame)
    d = first_shell_distance(frame, sample=sample, seed=seed)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(frame.n_atoms, min(sample, frame.n_atoms), replace=False))
    nl = neighbor_list(frame, k=12, query=idx)
    spread = np.array([np.std(nl.distances[a:b]) for a, b in zip(nl.offsets[:-1], nl.offsets[1:])])
    return float(np.percentile(spread, 25) / (np.sqrt(2.0) * d) / 0.78)


def reference_environments(frame, descriptor, *, kinds=("fcc", "hcp", "bcc", "ico"),
                           n_per_kind=200, noise=None, seed=0):
    """Descriptor rows of ideal environments at the run's density, with its thermal noise.

    Parameters
    ----------
    frame : Frame
        A frame of the run: sets the density (fcc/hcp/bcc lattices) and, unless
        ``noise`` is given, the thermal noise (:func:`estimate_thermal_noise`).
    descriptor : callable Frame -> ndarray (n_atoms, d)
        The same per-atom descriptor as the run's (e.g. ``soap_features`` with fixed
        parameters; pass ``nn_distance`` there so that scales agree).
    kinds : subset of {"fcc", "hcp", "bcc", "ico"}
        "ico": centres of 55-atom Mackay icosahedra (nearest-neighbour distance of the
        run's fcc at the same density).
    n_per_kind : int
    noise : float, optional
        Gaussian displacement per coordinate, in nearest-neighbour distances.
    seed : int

    Returns
    -------
    x : ndarray (len(kinds) * n_per_kind, d), float32
    labels : ndarray of str
    """
    frame = as_frame(frame)
    check_scalar(n_per_kind, "n_per_kind", Integral, min_val=1)
    bad = [k for k in kinds if k not in ("fcc", "hcp", "bcc", "ico")]
    if bad or not kinds:
        raise ValueError(f"kinds must be drawn from fcc, hcp, bcc, ico; got kinds={list(kinds)}")
    rho = frame.n_atoms / frame.box.volume
    noise = estimate_thermal_noise(frame) if noise is None else float(noise)
    rng = np.random.default_rng(seed)
    nn_close = (np.sqrt(2.0) / rho) ** (1 / 3)              # fcc and ideal hcp
    xs, labels = [], []
    for kind in kinds:
        if kind == "ico":
            ref, rows = icosahedra(int(n_per_kind), nn_close, noise, rng)
        else:
            nn = nn_close if kind != "bcc" else (np.sqrt(3.0) / 2) * (2 / rho) ** (1 / 3)
            cells = 6 if kind != "bcc" else 8
            while True:
                ref = make_lattice(kind, cells, nn_distance=nn, noise=noise, seed=rng)
                if ref.n_atoms >= n_per_kind:
                    break
                cells += 2
            rows = np.sort(rng.choice(ref.n_atoms, int(n_per_kind), replace=False))
        x = np.asarray(descriptor(ref))
        xs.append(x.reshape(len(x), -1)[rows].astype(np.float32))
        labels += [kind] * len(rows)
    return np.concatenate(xs), np.array(labels)


# -- plots -------------------------------------------------------------------------------------
def plot_embedding(coords, color=None, *, categorical=None, references=None, ax=None,
                   title=None, cmap=None, s=3.0, label=None):
    """Scatter of embedded atoms coloured by community, frame or a descriptor.

    Parameters
    ----------
    coords : ndarray (n, 2)
    color : array (n,), optional
        Community labels (categorical), frames or a descriptor value (continuous).
    categorical : bool, optional
        Default: True for integer colours with at most 20 distinct values.
    references : Embedding, optional
        Overlay its reference environments (marked and named).
    label : str, optional
        Colour-bar label.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise ValueError(f"coords must be (n, 2), got {coords.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2))
    c = None if color is None else np.asarray(color)
    if categorical is None:
        categorical = c is not None and c.dtype.kind in "iub" and len(np.unique(c)) <= 20
    if c is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=s, lw=0, color="0.3")
    elif categorical:
        palette = plt.get_cmap(cmap or "tab10")
        for k, v in enumerate(np.unique(c)):
            m = c == v
            ax.scatter(coords[m, 0], coords[m, 1], s=s, lw=0, color=palette(k % 10), label=str(v))
        ax.legend(markerscale=4, fontsize=7, frameon=False, loc="best")
    else:
        sc = ax.scatter(coords[:, 0], coords[:, 1], s=s, lw=0, c=c, cmap=cmap or "viridis")
        plt.colorbar(sc, ax=ax, label=label)
    if references is not None and references.reference_embedding is not None:
        r = references.reference_embedding
        for k, kind in enumerate(np.unique(references.reference_kinds)):
            m = references.reference_kinds == kind
            ax.scatter(r[m, 0], r[m, 1], s=14, marker="x", color=plt.get_cmap("Dark2")(k),
                       label=f"ref {kind}")
            ax.annotate(kind, r[m].mean(axis=0), fontsize=8, weight="bold")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    if title:
        ax.set_title(title)
    return ax
