"""EAM potentials of the metals the LAMMPS protocols run (units metal): Mishin's copper,
Mendelev's bcc iron, Sun and Mendelev's hcp magnesium.

Part of :mod:`descriptors.md`, which re-exports these names; shared by
:func:`descriptors.md.run_eam_nucleation` and :func:`descriptors.md.eam_seed_in_liquid`.
"""
from __future__ import annotations

__all__ = ["EAM_METALS", "EAM_MELT", "eam_potential"]


#: LAMMPS ``units metal`` set-ups of :func:`descriptors.md.run_eam_nucleation`: potential file (looked up as
#: :func:`descriptors.lammps_engine.potential_file` does; ``.eam.alloy`` -> pair_style
#: eam/alloy, ``.eam.fs`` -> eam/fs), element, lattice constant (A) of an fcc crystal of the
#: metal's volume per atom (the run melts it first, so a bcc metal starts from the fcc cell of
#: its own atomic volume), mass (g/mol), first minimum of the liquid's g(r) (A, the ten Wolde
#: neighbour cutoff)
EAM_METALS = {
    # Mishin et al., Phys. Rev. B 63, 224106 (2001); T_m about 1,327 K
    "Cu": ("Cu_mishin1.eam.alloy", "Cu", 3.615, 63.546, 3.1),
    # Mendelev et al., Philos. Mag. 83, 3977 (2003): bcc iron, a = 2.855 A (11.64 A^3 per
    # atom: the fcc cell of that volume is 3.597 A); T_m about 1,772 K
    "Fe": ("Fe_mm.eam.fs", "Fe", 3.597, 55.845, 3.3),
    # Sun, Mendelev et al., Phys. Rev. B 73, 024116 (2006): hcp magnesium, a = 3.184 A,
    # c/a = 1.628 (22.75 A^3 per atom: fcc cell 4.498 A); T_m about 914 K; the liquid's g(r)
    # at 500 K has its first minimum at 4.05 A
    "Mg": ("Mg_mm.eam.fs", "Mg", 4.498, 24.305, 4.1),
}
#: melt and hot-liquid temperatures (K) of each metal's run, about 1.5 and 1.2 T_m
EAM_MELT = {"Cu": (2000.0, 1600.0), "Fe": (2700.0, 2150.0), "Mg": (1400.0, 1100.0)}
_EAM_STYLES = {".eam.alloy": "eam/alloy", ".eam.fs": "eam/fs"}


def eam_potential(metal: str) -> str:
    """LAMMPS commands (``mass``, ``pair_style``, ``pair_coeff``) for one atom type of an
    :data:`EAM_METALS` metal, its potential file found by
    :func:`~descriptors.lammps_engine.potential_file`; after ``create_box``, in ``units
    metal``.  Shared by :func:`descriptors.md.run_eam_nucleation` and whatever else must use the run's
    potential (the validation suite's quench of its frames).

    Raises
    ------
    ValueError
        For an unknown ``metal``.
    FileNotFoundError
        If the potential file is not found.
    """
    from .lammps_engine import potential_file

    if metal not in EAM_METALS:
        raise ValueError(f"metal must be one of {sorted(EAM_METALS)}, got {metal!r}")
    pot, element, _, mass, _ = EAM_METALS[metal]
    style = next((v for k, v in _EAM_STYLES.items() if pot.endswith(k)), None)
    if style is None:
        raise ValueError(f"{pot}: no pair style known for this file; expected a name ending "
                         f"in one of {sorted(_EAM_STYLES)}")
    return (f"mass 1 {mass}\npair_style {style}\n"
            f"pair_coeff * * {potential_file(pot)} {element}\n")
