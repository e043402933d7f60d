"""SOAP and ACSF per-atom feature sets through dscribe, in units of the first-neighbour distance.

dscribe's defaults (Gaussian width 1, GTO basis needing ``r_cut > 1``) are meant
for Ångström-scale systems.  crystopo rescales every frame so that its
first-neighbour distance ``d`` is :data:`REFERENCE_LENGTH` before calling
dscribe: cutoffs and widths are given in the frame's own length unit (or, when
left as ``None``, as multiples of ``d`` estimated from the frame), and the
features do not depend on the unit the trajectory was written in.

Species are the frame's atom types: type ``species[k]`` is handed to dscribe as
atomic number ``k + 1``.  Centres are passed as Cartesian positions, in chunks,
never as atom indices (dscribe's index path costs memory proportional to
centres times atoms).  Boxes may be orthogonal or triclinic and periodic along
any subset of their axes.  dscribe parallelises over systems (processes), not
over the atoms of one frame, and holds the GIL: run frames in parallel instead.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from .frame import as_frame
from .neighbors import first_shell_distance

__all__ = ["soap_features", "acsf_features", "soap_n_features", "acsf_n_features",
           "SOAP_DEFAULTS", "ACSF_DEFAULTS", "REFERENCE_LENGTH"]

REFERENCE_LENGTH = 2.5
"""First-neighbour distance (in dscribe's "Ångström") of the rescaled frame handed to dscribe."""

SOAP_DEFAULTS = {"r_cut": 1.5, "sigma": 0.125, "n_max": 8, "l_max": 6}
"""Defaults; ``r_cut`` and ``sigma`` in units of the first-neighbour distance.  1.5 lies in the
gap between the second (1.41) and third (1.63/1.73) shells of fcc and hcp."""

ACSF_DEFAULTS = {
    "r_cut": 1.55,
    # G2 exp(-eta (r - Rs)^2): Gaussians of width 0.1 d on a grid of shells 0.85 .. 1.45 d
    "g2_params": [[50.0, rs] for rs in np.round(np.arange(0.85, 1.46, 0.1), 2).tolist()],
    # G5 2^(1-zeta) (1 + lambda cos)^zeta exp(-eta (rij^2 + rik^2)) fc(rij) fc(rik): bond
    # angles at the centre.  (G4 also cuts on rjk, and then cannot tell fcc from hcp: their
    # triplets with rjk < r_cut are the same.)
    "g5_params": [[1.0, z, lam] for z in (1.0, 2.0, 4.0, 8.0, 16.0) for lam in (-1.0, 1.0)],
}
"""Defaults in units of ``d``: ``eta`` in 1/d^2, ``Rs`` and ``r_cut`` in d."""

_CHUNK = 32768  # centres per dscribe call: bounds the float64 output buffer


def _check_real(value, name, *, positive=True):
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) \
            or (positive and not value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {name}={value!r}")
    return float(value)


def _check_int(value, name, min_val):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < min_val:
        raise ValueError(f"{name} must be an integer >= {min_val}, got {name}={value!r}")
    return int(value)


def _prepare(frame, species, nn_distance):
    """Frame, its species list, the length scale factor and the rescaled ase.Atoms."""
    import ase

    frame = as_frame(frame)
    if frame.n_atoms == 0:
        raise ValueError("frame has no atoms")
    present = np.unique(frame.types)
    if species is None:
        species = present
    species = np.asarray(species, dtype=np.int64).ravel()
    if len(species) == 0 or len(np.unique(species)) != len(species):
        raise ValueError(f"species must be distinct atom types, got species={species.tolist()}")
    species = np.sort(species)
    missing = np.setdiff1d(present, species)
    if len(missing):
        raise ValueError(f"frame has atom types {missing.tolist()} not in species="
                         f"{species.tolist()}; pass every type of the trajectory")
    d = first_shell_distance(frame) if nn_distance is None else \
        _check_real(nn_distance, "nn_distance")
    scale = REFERENCE_LENGTH / d
    numbers = np.searchsorted(species, frame.types) + 1
    box = frame.box
    # wrapped: dscribe's periodic images only cover atoms inside the cell
    atoms = ase.Atoms(numbers=numbers, positions=(box.wrap(frame.positions) - box.origin) * scale,
                      cell=box.cell * scale, pbc=box.pbc)
    return frame, species, d, scale, atoms


def _run_chunks(desc, atoms, dtype, by_index=False):
    """Call ``desc.create`` on chunks of centres; return (n, n_features) ``dtype``."""
    n = len(atoms)
    pos = atoms.get_positions()
    out = np.empty((n, desc.get_number_of_features()), dtype=dtype)
    for s in range(0, n, _CHUNK):
        centers = np.arange(s, min(s + _CHUNK, n)) if by_index else pos[s:s + _CHUNK]
        out[s:s + _CHUNK] = desc.create(atoms, centers=centers).reshape(-1, out.shape[1])
    if not np.isfinite(out).all():
        raise ValueError("dscribe returned NaN or inf; check r_cut, sigma and the positions")
    return out


def soap_features(frame, *, r_cut=None, n_max: int = SOAP_DEFAULTS["n_max"],
                  l_max: int = SOAP_DEFAULTS["l_max"], sigma=None, species=None,
                  nn_distance=None, rbf: str = "gto", weighting: dict | None = None,
                  dtype=np.float32) -> np.ndarray:
    """Per-atom SOAP power spectrum of one periodic frame (dscribe).

    Parameters
    ----------
    frame : Frame, ase.Atoms or (cell, positions)
    r_cut, sigma : float, optional
        Cutoff and Gaussian width in the frame's length unit; default 1.5 d and 0.125 d,
        ``d`` the first-neighbour distance (``nn_distance``, or estimated from the frame).
    n_max, l_max : int
        Radial and angular basis sizes (``n_max >= 1``, ``l_max >= 0``).
    species : sequence of int, optional
        All atom types of the trajectory (default: the frame's), so that every frame
        yields the same columns.
    nn_distance : float, optional
        The length ``d`` that sets the scale (default: :func:`first_shell_distance`).
    rbf : {"gto", "polynomial"}
    weighting : dict, optional
        dscribe's radial weighting; lengths (``r0``) in the frame's unit.
    dtype : numpy dtype
        float32 (default; memory) or float64.

    Returns
    -------
    features : ndarray of shape (n_atoms, soap_n_features(...)), rows in id order

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> x = soap_features(make_lattice("fcc", 3), n_max=4, l_max=4)
    >>> x.shape, x.dtype.name, bool(np.allclose(x, x[0], atol=1e-5))
    ((108, 50), 'float32', True)
    """
    from dscribe.descriptors import SOAP

    n_max = _check_int(n_max, "n_max", 1)
    l_max = _check_int(l_max, "l_max", 0)
    if rbf not in ("gto", "polynomial"):
        raise ValueError(f"rbf must be 'gto' or 'polynomial', got rbf={rbf!r}")
    frame, species, d, scale, atoms = _prepare(frame, species, nn_distance)
    r_cut = SOAP_DEFAULTS["r_cut"] * d if r_cut is None else _check_real(r_cut, "r_cut")
    sigma = SOAP_DEFAULTS["sigma"] * d if sigma is None else _check_real(sigma, "sigma")
    if rbf == "gto" and r_cut * scale <= 1.0:
        raise ValueError(f"r_cut={r_cut:g} is below 0.4 first-neighbour distances ({d:g}); "
                         "the GTO basis cannot represent it")
    w = None
    if weighting is not None:
        w = dict(weighting)
        if "r0" in w:
            w["r0"] = float(w["r0"]) * scale
    desc = SOAP(r_cut=r_cut * scale, n_max=n_max, l_max=l_max, sigma=sigma * scale, rbf=rbf,
                weighting=w, species=list(range(1, len(species) + 1)),
                periodic=bool(np.any(frame.box.pbc)), dtype="float64")
    return _run_chunks(desc, atoms, dtype)


def soap_n_features(n_species: int = 1, n_max: int = SOAP_DEFAULTS["n_max"],
                    l_max: int = SOAP_DEFAULTS["l_max"]) -> int:
    """Number of SOAP columns (dscribe's partial power spectrum, no compression).

    Examples
    --------
    >>> soap_n_features(1, 8, 6)
    252
    """
    pairs = n_species * n_max * (n_species * n_max + 1) // 2
    same = n_species * n_max * (n_max + 1) // 2
    cross = (n_species * (n_species - 1) // 2) * n_max * n_max
    assert same + cross == pairs
    return (same + cross) * (l_max + 1)


def _scaled_params(params, name, ncol, scale, length_cols, eta_col):
    if params is None or len(params) == 0:
        return None
    arr = np.array(params, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != ncol or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty table with {ncol} columns, got shape "
                         f"{arr.shape}")
    if not np.isfinite(arr).all() or np.any(arr[:, eta_col] <= 0):
        raise ValueError(f"{name}: eta (column {eta_col}) must be positive and finite")
    arr[:, eta_col] /= scale ** 2
    for c in length_cols:
        arr[:, c] *= scale
    return arr


def acsf_features(frame, *, r_cut=None, g2_params=None, g4_params=None, g5_params=None,
                  species=None, nn_distance=None, dtype=np.float32) -> np.ndarray:
    """Per-atom Behler-Parrinello atom-centred symmetry functions (dscribe ACSF).

    Parameters
    ----------
    frame : Frame, ase.Atoms or (cell, positions)
    r_cut : float, optional
        Cosine cutoff in the frame's length unit (default 1.55 d: first two fcc/hcp shells).
    g2_params : array-like (m, 2) of (eta, Rs), optional
        Radial functions in the frame's units (eta in 1/length^2); default
        :data:`ACSF_DEFAULTS` scaled by ``d`` (7 Gaussians of width 0.1 d).
    g4_params : array-like (m, 3) of (eta, zeta, lambda), optional
        Angular functions cut on all three sides of the triangle (default none).
    g5_params : array-like (m, 3) of (eta, zeta, lambda), optional
        Angular functions of the bonds at the centre; default 10 (zeta 1..16,
        lambda +-1, eta 1/d^2).  Pass ``[]`` to any table to leave it out.
    species, nn_distance, dtype
        As in :func:`soap_features`.

    Returns
    -------
    features : ndarray of shape (n_atoms, n_features), rows in id order
        Column 0 is G1, then G2, G4, G5 (per species, then per species pair).

    Examples
    --------
    >>> from descriptors import make_lattice
    >>> acsf_features(make_lattice("bcc", 3)).shape
    (54, 18)
    """
    from dscribe.descriptors import ACSF

    frame, species, d, scale, atoms = _prepare(frame, species, nn_distance)
    r_cut = ACSF_DEFAULTS["r_cut"] * d if r_cut is None else _check_real(r_cut, "r_cut")
    if g2_params is None:
        g2 = np.array(ACSF_DEFAULTS["g2_params"]) * [1 / d ** 2, d]
    else:
        g2 = g2_params
    if g5_params is None:
        g5 = np.array(ACSF_DEFAULTS["g5_params"]) * [1 / d ** 2, 1, 1]
    else:
        g5 = g5_params
    g2 = _scaled_params(g2, "g2_params", 2, scale, [1], 0)
    g4 = _scaled_params(g4_params, "g4_params", 3, scale, [], 0)
    g5 = _scaled_params(g5, "g5_params", 3, scale, [], 0)
    desc = ACSF(r_cut=r_cut * scale, g2_params=g2, g4_params=g4, g5_params=g5,
                species=list(range(1, len(species) + 1)),
                periodic=bool(np.any(frame.box.pbc)), dtype="float64")
    # ACSF takes centre indices: its C++ core reads them without a centres x atoms buffer
    return _run_chunks(desc, atoms, dtype, by_index=True)


def acsf_n_features(n_species: int = 1, n_g2: int = len(ACSF_DEFAULTS["g2_params"]),
                    n_g4: int = len(ACSF_DEFAULTS["g5_params"])) -> int:
    """Number of ACSF columns: G1 and G2 per species, G4 + G5 (``n_g4`` in all) per unordered
    species pair.

    Examples
    --------
    >>> acsf_n_features()
    18
    """
    return n_species * (1 + n_g2) + n_species * (n_species + 1) // 2 * n_g4
