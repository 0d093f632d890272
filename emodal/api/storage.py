"""File retention and storage figures of ``DOWNLOADS_DIR`` (API_SPEC 4.11, 5 "Retention").

Used by ``POST /cleanup`` (caller's scope) and by the hourly retention job of the app (everything).
Dot-files and dot-folders (``.owner``, ``.state``) are never deleted or counted here: the owner
file must outlive the files it protects, and idempotency records have their own TTL.
"""
from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emodal.config import Settings
from emodal.sessions.folders import OWNER_FILE, visible_folders

if TYPE_CHECKING:
    from emodal.sessions.session import BrowserSession

log = logging.getLogger("emodal.storage")
MB = 1024 * 1024
#: Name prefix of a session folder being removed (a dot-folder: never listed, served or counted).
REMOVING_PREFIX = ".removing-"


@dataclass(frozen=True)
class CleanupResult:
    deleted_files: int
    freed_bytes: int


def _files(folder: Path) -> Iterable[Path]:
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and not any(
                part.startswith(".") for part in path.relative_to(folder).parts):
            yield path


def cleanup(settings: Settings, max_age_hours: float, tenant: str | None,
            sessions: Iterable[BrowserSession] = ()) -> CleanupResult:
    """Delete files older than ``max_age_hours`` in the visible session folders, then empty folders.

    ``sessions``: the open sessions (``session_id``, ``busy``). A busy one's folder is left alone
    (an operation is writing there now); an idle one loses its old files but keeps its folder (a
    request may write there at any moment, and a folder recreated by that write would have no
    owner file). A folder left with only its ``.owner`` is removed too: its session is gone.
    """
    cutoff = time.time() - max_age_hours * 3600
    sessions = list(sessions)
    skip = {s.session_id for s in sessions if s.busy}
    keep_folders = {s.session_id for s in sessions}
    deleted = freed = 0
    root = Path(settings.downloads_dir)
    for leftover in root.glob(f"{REMOVING_PREFIX}*") if root.is_dir() else []:
        shutil.rmtree(leftover, ignore_errors=True)  # a removal cut short by a crash
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
        _remove_empty(folder, cutoff, keep_folder=folder.name in keep_folders)
    if deleted:
        log.info("retention cleanup deleted %d files (%.2f MB)", deleted, freed / MB)
    return CleanupResult(deleted, freed)


def _remove_empty(folder: Path, cutoff: float, *, keep_folder: bool) -> None:
    # Deepest first; only folders untouched since the cutoff, so a folder an operation has just
    # created for its first screenshot is never pulled from under it.
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            if sub.stat().st_mtime < cutoff:
                sub.rmdir()  # only succeeds when empty
    if keep_folder:
        return
    with contextlib.suppress(OSError):
        if not _content(folder) and folder.stat().st_mtime < cutoff:
            _remove_session_folder(folder)


def _content(folder: Path) -> list[Path]:
    """What a session folder holds besides its owner file (and an owner file being written)."""
    return [p for p in folder.iterdir() if p.name != OWNER_FILE and not p.name.startswith(OWNER_FILE + ".")]


def _remove_session_folder(folder: Path) -> None:
    """Remove an empty session folder, its owner file last.

    Why not "unlink .owner, then rmdir": a file written in between makes the rmdir fail and
    leaves a folder without owner, whose files its owner then can never read (404). So the
    folder is first renamed away atomically (a dot-name: never listed or served); if a write
    landed before the rename, the folder goes back whole, owner included.
    """
    doomed = folder.with_name(f"{REMOVING_PREFIX}{folder.name}-{secrets.token_hex(4)}")
    folder.rename(doomed)
    if _content(doomed):
        doomed.rename(folder)
        return
    shutil.rmtree(doomed, ignore_errors=True)


def usage(settings: Settings, tenant: str | None) -> dict[str, float]:
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
