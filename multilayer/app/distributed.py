"""The descriptor stage on Dask: frames are independent, so each worker reads its own frames
from the trajectory file and writes one Zarr group per frame into the shared feature store.

A local cluster (``workers`` processes, one thread each) by default; ``scheduler`` connects to
an existing cluster (e.g. one started by dask-jobqueue on SLURM), whose workers must see the
trajectory and the output directory at the same paths.  Results are identical to the serial
run: every frame is computed by the same fitted FeatureSet.
"""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def _one_frame(path, i, features, store_root):
    from threadpoolctl import threadpool_limits

    from descriptors import TrajectoryFormatError, read_trajectory
    from descriptors.heap import heap_kept

    from .store import FeatureStore

    store = FeatureStore(store_root, frames=[])
    try:
        with threadpool_limits(limits=1), heap_kept():
            frame = read_trajectory(path)[i]
            arrays = features.transform(frame).arrays()
    except (TrajectoryFormatError, ValueError) as err:
        return i, str(err)
    store.write(i, arrays, {"timestep": frame.timestep, "n_atoms": frame.n_atoms})
    return i, None


def features_on_dask(trajectory, frames, features, store, *, workers=None, scheduler=None,
                     progress=False) -> dict:
    """Compute the features of ``frames`` with the fitted ``features`` (a FeatureSet) on Dask;
    return {frame: error} for skipped frames."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise ImportError('the Dask feature stage needs `pip install "crystopo[distributed]"`') from err
    from ..network.progress import progress_bar

    if not isinstance(trajectory, (str, bytes)) and not hasattr(trajectory, "__fspath__"):
        raise ValueError("workers/scheduler need a trajectory file path (each worker reads it)")
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=int(workers or 2), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    skipped = {}
    try:
        futures = [client.submit(_one_frame, str(trajectory), i, features, str(store.root),
                                 key=f"crystopo-frame-{i}", pure=False) for i in frames]
        for fut in progress_bar(as_completed(futures), progress, total=len(futures),
                             desc="features (dask)", unit="frame"):
            i, err = fut.result()
            if err is not None:
                logger.warning("frame %d skipped: %s", i, err)
                skipped[i] = err
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return skipped
