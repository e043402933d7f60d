"""Progress bars: one helper for every room (tqdm, silent unless asked)."""
from __future__ import annotations

__all__ = ["progress_bar"]


def progress_bar(iterable, enabled: bool, desc: str | None = None, **kw):
    """``iterable`` wrapped in a tqdm bar when ``enabled``, else returned as is."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, **kw)
