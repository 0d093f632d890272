"""File retention and storage figures of ``DOWNLOADS_DIR`` (API_SPEC 4.11, 5 "Retention").

Used by ``POST /cleanup`` (caller's scope) and by the hourly retention job of the app (everything).
Dot-files and dot-folders (``.owner``, ``.state``) are never deleted or counted here: the owner
file must outlive the files it protects, and idempotency records have their own TTL.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emodal.api.files import visible_folders

log = logging.getLogger("emodal.storage")
MB = 1024 * 1024


@dataclass(frozen=True)
class CleanupResult:
    deleted_files: int
    freed_bytes: int


def _files(folder: Path) -> Iterable[Path]:
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and not any(
                part.startswith(".") for part in path.relative_to(folder).parts):
            yield path


def cleanup(settings: Any, max_age_hours: float, tenant: str | None,
            protected: Iterable[str] = ()) -> CleanupResult:
    """Delete files older than ``max_age_hours`` in the visible session folders, then empty folders.

    ``protected``: session ids whose folders are left alone (an operation is writing there now).
    A folder left with only its ``.owner`` is removed too: its session is long gone.
    """
    cutoff = time.time() - max_age_hours * 3600
    skip = set(protected)
    deleted = freed = 0
    for folder in visible_folders(settings, tenant):
        if folder.name in skip:
            continue
        for path in list(_files(folder)):
            with contextlib.suppress(OSError):  # a file deleted concurrently is fine
                stat = path.stat()
                if stat.st_mtime < cutoff:
                    path.unlink()
                    deleted += 1
                    freed += stat.st_size
        _remove_empty(folder, cutoff)
    if deleted:
        log.info("retention cleanup deleted %d files (%.2f MB)", deleted, freed / MB)
    return CleanupResult(deleted, freed)


def _remove_empty(folder: Path, cutoff: float) -> None:
    # Deepest first; only folders untouched since the cutoff, so a folder an operation has just
    # created for its first screenshot is never pulled from under it.
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            if sub.stat().st_mtime < cutoff:
                sub.rmdir()  # only succeeds when empty
    remaining = [p for p in folder.iterdir() if p.name != ".owner" and not p.name.startswith(".owner.")]
    with contextlib.suppress(OSError):
        if not remaining and folder.stat().st_mtime < cutoff:
            (folder / ".owner").unlink(missing_ok=True)
            folder.rmdir()


def usage(settings: Any, tenant: str | None) -> dict[str, float]:
    """Sizes in MB (2 decimals) for the caller's scope: total, screenshots, everything else."""
    screenshots = other = 0
    for folder in visible_folders(settings, tenant):
        for path in _files(folder):
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                if path.relative_to(folder).parts[0] == "screenshots":
                    screenshots += size
                else:
                    other += size
    return {"current_storage_mb": round((screenshots + other) / MB, 2),
            "downloads_mb": round(other / MB, 2), "screenshots_mb": round(screenshots / MB, 2)}
