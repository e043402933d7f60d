"""The output set of a run in ``OUT``: replaced as a whole, never mixed, never beside strangers.

A run writes every output into ``OUT/.crystopo/staging`` first.  :func:`commit_outputs` then
swaps the set in under a journal (``OUT/.crystopo/swap.json``, written atomically before the
first rename):

1. the outputs of the previous set move to ``OUT/.crystopo/previous`` (one rename each);
2. the new outputs move from the staging directory into ``OUT``;
3. the list of outputs (``OUT/.crystopo/outputs.json``) is replaced;
4. the journal is removed -- this is the commit -- and the previous set is deleted.

A process killed anywhere in 1-4 leaves the journal behind, and :func:`recover_outputs` (called
by the next run on that directory before anything else) moves the new files back out and the
previous ones back in: the directory then holds exactly the old set.  Recovery is idempotent,
so a kill during recovery is recovered by the next call.

:func:`foreign_files` names what ``OUT`` holds that crystopo did not write (a user's own
``config.toml`` when ``--out .``); the pipeline refuses such a directory unless ``force``.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from .store import atomic_write_bytes

__all__ = ["commit_outputs", "recover_outputs", "foreign_files", "staging_dir", "output_names",
           "OWN_NAMES"]

logger = logging.getLogger(__name__)

OWN_NAMES = (".crystopo", ".crystopo.lock")   # crystopo's working directory and run lock


def _work(out: Path) -> Path:
    return Path(out) / ".crystopo"


def output_names(out) -> list[str]:
    """The names of the outputs the last committed run left in ``out``."""
    listing = _work(out) / "outputs.json"
    return json.loads(listing.read_text()) if listing.exists() else []


def foreign_files(out) -> list[str]:
    """Entries of ``out`` that crystopo did not write (sorted); [] for a new directory."""
    out = Path(out)
    if not out.is_dir():
        return []
    ours = set(output_names(out)) | set(OWN_NAMES)
    journal = _work(out) / "swap.json"          # a swap a killed run left: its new names too
    if journal.exists():
        ours |= set(json.loads(journal.read_text())["new"])
    return sorted(p.name for p in out.iterdir() if p.name not in ours)


def staging_dir(out) -> Path:
    """An empty staging directory for a new output set (any earlier one is removed)."""
    stage = _work(out) / "staging"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    return stage


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def commit_outputs(out, *, replace_all: bool = True) -> list[str]:
    """Swap the staged outputs into ``out`` as one set; returns the names now listed.

    ``replace_all``: the previous set is replaced as a whole (files of the previous run that this
    one did not produce are removed with it); otherwise only the staged names are replaced and the
    rest of the previous set stays (e.g. ``propensity`` adding its tables to an analysis).
    """
    out = Path(out)
    work = _work(out)
    stage, prev = work / "staging", work / "previous"
    new = sorted(p.name for p in stage.iterdir())
    listed = output_names(out)
    old = sorted(n for n in (set(listed) if replace_all else set()) | set(new) if
                 (out / n).exists() or (out / n).is_symlink())
    names = new if replace_all else sorted(set(listed) | set(new))
    if prev.exists():
        shutil.rmtree(prev)
    prev.mkdir()
    journal = work / "swap.json"
    atomic_write_bytes(journal, json.dumps({"old": old, "new": new, "listing": listed}).encode())
    for n in old:
        _move(out / n, prev / n)
    for n in new:
        _move(stage / n, out / n)
    atomic_write_bytes(work / "outputs.json", json.dumps(names).encode())
    journal.unlink()                                    # the commit point
    shutil.rmtree(prev, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)
    return names


def recover_outputs(out) -> bool:
    """Undo a swap that a killed run left half done; True when there was one to undo."""
    out = Path(out)
    work = _work(out)
    journal = work / "swap.json"
    stage, prev = work / "staging", work / "previous"
    if not journal.exists():
        if prev.exists():              # a committed swap killed before its clean-up
            shutil.rmtree(prev, ignore_errors=True)
        return False
    j = json.loads(journal.read_text())
    stage.mkdir(parents=True, exist_ok=True)
    for n in j["new"]:                 # new files already moved in go back out
        if not (stage / n).exists() and ((out / n).exists() or (out / n).is_symlink()):
            os.replace(out / n, stage / n)
    for n in j["old"]:                 # the previous set comes back
        if (prev / n).exists() or (prev / n).is_symlink():
            if (out / n).exists():
                _remove(out / n)
            os.replace(prev / n, out / n)
    atomic_write_bytes(work / "outputs.json", json.dumps(j["listing"]).encode())
    journal.unlink()
    shutil.rmtree(prev, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)
    logger.warning("%s: an earlier run was stopped while it swapped its outputs in; its "
                   "previous outputs were restored", out)
    return True
