"""Jupyter plots of Neighbors Maps; matplotlib is imported only when a plot is drawn.

Every function returns its Axes (or an array of Axes) so that callers can restyle it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_neighbors_map", "plot_mean_map", "plot_maps"]


def _image(image, channel):
    """One (S, S) image from (S, S) or (C, S, S) input."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3:
        if not 0 <= channel < arr.shape[0]:
            raise ValueError(f"channel={channel!r} out of range for {arr.shape[0]} channels")
        arr = arr[channel]
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"image.shape must be (size, size) or (n_channels, size, size), got "
                         f"{np.shape(image)}; for a stack of atoms use plot_mean_map")
    return arr


def _draw(ax, img, title, cmap, vmin, vmax, colorbar):
    im = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xlabel("k-th nearest in the ball")
    ax.set_ylabel("row (0: centre, i: neighbour j_i)")
    if title is not None:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_neighbors_map(image, *, channel: int = 0, ax=None, cmap: str = "viridis", title=None,
                       vmin=None, vmax=None, colorbar: bool = True):
    """Draw one atom's Neighbors Map.

    Parameters
    ----------
    image : array of shape (size, size) or (n_channels, size, size)
        One row of :func:`descriptors.neighbors_map`.
    channel : int
        Channel drawn when ``image`` has several.
    ax : matplotlib Axes, optional
        Created when not given.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from descriptors import make_lattice, neighbors_map
    >>> ax = plot_neighbors_map(neighbors_map(make_lattice("bcc", 3), size=16)[0], title="bcc")
    >>> ax.get_title()
    'bcc'
    """
    import matplotlib.pyplot as plt

    img = _image(image, channel)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    return _draw(ax, img, title, cmap, vmin, vmax, colorbar)


def plot_mean_map(images, atoms=None, *, channel: int = 0, ax=None, cmap: str = "viridis",
                  title=None, colorbar: bool = True):
    """Draw the mean Neighbors Map of a set of atoms (e.g. one cluster or one label).

    Parameters
    ----------
    images : array of shape (n_atoms, n_channels, size, size) or (n_atoms, size, size)
    atoms : bool mask of shape (n_atoms,) or integer indices, optional
        Atoms averaged (all by default).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from descriptors import make_lattice, neighbors_map
    >>> im = neighbors_map(make_lattice("fcc", 3, noise=0.05, seed=0), size=16)
    >>> plot_mean_map(im, im[:, 0, 0, 0] > 1.2).get_title()  # nearest neighbour closer than 0.91
    'mean of 81 atoms'
    """
    import matplotlib.pyplot as plt

    arr = np.asarray(images)
    if arr.ndim not in (3, 4):
        raise ValueError(f"images.shape must be (n_atoms, [n_channels,] size, size), got {arr.shape}")
    sel = arr if atoms is None else arr[np.asarray(atoms)]
    if len(sel) == 0:
        raise ValueError("atoms selects no atom; nothing to average")
    mean = sel.mean(axis=0, dtype=np.float64)
    img = _image(mean, channel)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    return _draw(ax, img, f"mean of {len(sel)} atoms" if title is None else title, cmap,
                 None, None, colorbar)


def plot_maps(maps, *, titles=None, channel: int = 0, axes=None, cmap: str = "viridis",
              same_scale: bool = True):
    """Draw several maps side by side (e.g. one atom of each structure).

    Parameters
    ----------
    maps : mapping name -> image, or sequence of images
        Each image of shape (size, size) or (n_channels, size, size).
    titles : sequence of str, optional
        Default: the mapping's keys.
    same_scale : bool
        One colour scale for all panels, so that intensities compare.

    Returns
    -------
    axes : ndarray of matplotlib Axes, shape (n_maps,)

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from descriptors import make_lattice, neighbors_map
    >>> maps = {k: neighbors_map(make_lattice(k, 3), size=16)[0] for k in ("fcc", "bcc")}
    >>> [ax.get_title() for ax in plot_maps(maps)]
    ['fcc', 'bcc']
    """
    import matplotlib.pyplot as plt

    if isinstance(maps, dict):
        titles = list(maps) if titles is None else list(titles)
        maps = list(maps.values())
    imgs = [_image(m, channel) for m in maps]
    if not imgs:
        raise ValueError("maps is empty; nothing to draw")
    titles = [None] * len(imgs) if titles is None else list(titles)
    if len(titles) != len(imgs):
        raise ValueError(f"titles has {len(titles)} entries for {len(imgs)} maps")
    if axes is None:
        _, axes = plt.subplots(1, len(imgs), figsize=(3 * len(imgs), 3.2), squeeze=False)
    axes = np.asarray(axes).ravel()
    if len(axes) < len(imgs):
        raise ValueError(f"axes has {len(axes)} panels for {len(imgs)} maps")
    vmin = min(float(i.min()) for i in imgs) if same_scale else None
    vmax = max(float(i.max()) for i in imgs) if same_scale else None
    for ax, img, title in zip(axes, imgs, titles):
        _draw(ax, img, title, cmap, vmin, vmax, colorbar=False)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
    return axes[:len(imgs)]
