"""What :func:`multilayer.analyze` returns, and the typed results of its stages."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..tracking.growth import GrowthResult
from ..tracking.nuclei import MFPTResult, NucleiResult, Onset
from .store import FeatureStore

__all__ = ["AnalysisResult", "ClusterResult", "TrackResult"]


@dataclass
class ClusterResult:
    """The cluster stage: per-frame labels (rows as stored) and what the network was."""

    labels: list                 # one int64 array per analysed frame
    info: dict                   # nodes, sizes, timings, resolution, n_communities


@dataclass
class TrackResult:
    """The track stage: nuclei of the crystal-like communities and of the ten Wolde
    solid-like atoms, life-cycle events, onsets and the MFPT fit."""

    nuclei: NucleiResult
    events: pd.DataFrame
    onset: Onset | None
    # the MFPT fit of the crystalline core's largest nucleus when the core is tracked (the
    # default), else of the crystal-like nuclei's
    mfpt: MFPTResult | None
    crystal: np.ndarray          # crystal-like community ids
    crystal_rule: str            # how they were chosen, in words
    tenwolde: NucleiResult
    onset_tenwolde: Onset | None
    # largest nucleus of the crystalline core per frame (None: [tracking] core_tolerance 12)
    core: np.ndarray | None = None
    onset_core: Onset | None = None
    core_atoms: list | None = None       # per frame, np.packbits of the core atoms (row order)
    # with the core tracked: the MFPT fit of the crystal-like nuclei (halo included) beside it
    mfpt_crystal_like: MFPTResult | None = None
    # with the core tracked: the growth probability of its tracked nuclei (committor n*)
    growth: GrowthResult | None = None
    # with the core tracked and its n* determined: the frame after which its largest nucleus
    # stays past n* (``onset_core`` is the first persistent cluster, the liquid's threshold)
    committed_core: Onset | None = None

    def core_of(self, t: int, n_atoms: int) -> np.ndarray | None:
        """Frame ``t``'s crystalline-core atoms (bool, row order), None when not tracked."""
        if self.core_atoms is None:
            return None
        return np.unpackbits(self.core_atoms[t], count=n_atoms).astype(bool)


@dataclass
class AnalysisResult:
    """What :func:`analyze` found; the same tables are written as Parquet in ``out``."""

    out: Path
    frames: list[int]
    labels: pd.DataFrame | None    # frame, timestep, id, label, nucleus, scores (None above
                                   # 5e6 rows: read OUT/labels.parquet in pieces instead)
    communities: pd.DataFrame      # per community and frame
    events: pd.DataFrame
    nuclei: pd.DataFrame
    summary: dict                  # onset, critical size, crystalline fraction, ...
    skipped: list[int] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def feature_store(self) -> FeatureStore:
        """The run's per-frame descriptors (``store.read(frame, sets)``)."""
        return FeatureStore(self.out / ".crystopo" / "features", list(self.frames))
