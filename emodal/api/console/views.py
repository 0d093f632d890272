"""What the console pages show, as plain data for the templates (no Flask, no HTML here).

Why a separate module: the figures come from registry data (``describe``, the operation history,
``stats``) and the session folders on disk, never from a browser, so a page answers at once even
while every browser is busy; keeping that reading apart from the routes keeps both short.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from emodal.sessions.session import iso_utc

#: Screenshot thumbnails on a session's page (newest first).
SCREENSHOTS_SHOWN = 12
#: Files listed on a session's page (newest first).
FILES_SHOWN = 50
SCREENSHOTS_DIR = "screenshots"
#: ``<YYYYmmdd>_<HHMMSS>_<ffffff>_<tag>.png`` (emodal.browser.screenshots.screenshot_path).
_STAMP_PARTS = 3


@dataclass(frozen=True)
class Screenshot:
    """One PNG of a session: ``path`` is relative to DOWNLOADS_DIR (``<session_id>/screenshots/...``)."""

    path: str
    request_id: str
    tag: str
    taken_at: str | None


@dataclass(frozen=True)
class StoredFile:
    path: str
    name: str
    size: str
    modified_at: str | None


@dataclass(frozen=True)
class Figure:
    """One health figure; ``tone`` is ``ok``, ``warn``, ``bad`` or ``""`` (neutral)."""

    key: str
    label: str
    value: str
    tone: str = ""


def screenshots(downloads_dir: Path | str, session_id: str, limit: int = SCREENSHOTS_SHOWN) -> list[Screenshot]:
    """The newest ``limit`` screenshots of a session (all requests together), newest first.

    File names start with the UTC capture time, so sorting by name across request folders sorts
    by time without reading any file."""
    root = Path(downloads_dir) / session_id / SCREENSHOTS_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.glob("*/*.png") if not p.name.startswith(".") and not p.parent.name.startswith(".")]
    found.sort(key=lambda p: p.name, reverse=True)
    return [_screenshot(session_id, p) for p in found[:limit]]


def _screenshot(session_id: str, path: Path) -> Screenshot:
    parts = path.stem.split("_", _STAMP_PARTS)
    taken_at, tag = None, path.stem
    if len(parts) == _STAMP_PARTS + 1:
        try:
            when = datetime.strptime("_".join(parts[:2]), "%Y%m%d_%H%M%S").replace(tzinfo=timezone.utc)
            taken_at, tag = iso_utc(when.timestamp()), parts[3]
        except ValueError:
            pass  # not one of ours: shown under its own name
    return Screenshot(f"{session_id}/{SCREENSHOTS_DIR}/{path.parent.name}/{path.name}", path.parent.name, tag,
                      taken_at)


def files(downloads_dir: Path | str, session_id: str, limit: int = FILES_SHOWN) -> tuple[list[StoredFile], int]:
    """The session's files other than screenshots (workbooks, bundles), newest first, and how many
    more there are. Dot-files (``.owner``) are never listed: ``/files`` never serves them either."""
    root = Path(downloads_dir) / session_id
    if not root.is_dir():
        return [], 0
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if (relative.parts[0] == SCREENSHOTS_DIR or any(p.startswith(".") for p in relative.parts)
                or not path.is_file()):
            continue
        stat = path.stat()
        found.append((stat.st_mtime, relative.as_posix(), stat.st_size))
    found.sort(reverse=True)
    shown = [StoredFile(f"{session_id}/{rel}", rel, human_size(size), iso_utc(mtime))
             for mtime, rel, size in found[:limit]]
    return shown, max(0, len(found) - limit)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def operations(history: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A session's finished operations (newest first) with ISO start times and rounded durations."""
    return [{**op, "started_at": iso_utc(op["started_at"]), "duration": f"{op['duration_s']:.1f} s"}
            for op in history]


def health_figures(stats: dict[str, Any], max_sessions: int, store_backend: str | None) -> list[Figure]:
    """The /health numbers an operator looks at first: capacity, logins, busy browsers, portal, store."""
    active = int(stats.get("active_sessions", 0))
    logins = int(stats.get("logins_in_progress", 0))
    portal = (stats.get("portal") or {}).get("status", "unknown")
    used = active + logins  # logins in progress hold a slot too (API_SPEC 3.8)
    capacity_tone = "bad" if used >= max_sessions else "warn" if used >= 0.8 * max_sessions else "ok"
    return [
        Figure("capacity", "Capacity used", f"{active} / {max_sessions}", capacity_tone),
        Figure("logins", "Logins in progress", str(logins), "warn" if logins else ""),
        Figure("busy", "Busy sessions", str(stats.get("busy_sessions", 0))),
        Figure("keep-alive", "Keep-alive sessions", str(stats.get("persistent_sessions", 0))),
        Figure("portal", "Portal", portal, {"ok": "ok", "error": "bad"}.get(portal, "")),
        Figure("store", "State store", store_backend or "memory only"),
    ]
