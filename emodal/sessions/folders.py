"""Per-session folders under ``DOWNLOADS_DIR`` and who owns them (API_SPEC 4.13, 5).

Why an owner file: a folder outlives its session (retention) and restarts, so ownership cannot
come from the registry. ``<DOWNLOADS_DIR>/<session_id>/.owner`` holds the tenant id written when the
folder is created; the file route serves a folder only to that tenant (or an admin / open mode).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emodal.config import Settings

OWNER_FILE = ".owner"


def ensure_session_folder(settings: Settings, session_id: str, tenant: str) -> Path:
    """Create ``<DOWNLOADS_DIR>/<session_id>/`` with its ``.owner`` (idempotent, atomic write)."""
    folder = Path(settings.downloads_dir) / session_id
    folder.mkdir(parents=True, exist_ok=True)
    owner = folder / OWNER_FILE
    if not owner.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".owner.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(tenant)
        os.replace(tmp, owner)
    return folder


def folder_owner(settings: Settings, session_id: str) -> str | None:
    """The tenant recorded for a session folder, or ``None`` (no folder, no owner file)."""
    try:
        return (Path(settings.downloads_dir) / session_id / OWNER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None


def visible_folders(settings: Settings, tenant: str | None) -> list[Path]:
    """Session folders the caller may see (``tenant=None``: all). Dot-folders (``.state``) never."""
    root = Path(settings.downloads_dir)
    if not root.is_dir():
        return []
    return [p for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".")
            and (tenant is None or folder_owner(settings, p.name) == tenant)]
