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

from emodal.jobs.store import QUEUED, RUNNING
from emodal.timefmt import iso_utc

#: Screenshot thumbnails on a session's page (newest first).
SCREENSHOTS_SHOWN = 12
#: Files listed on a session's page (newest first).
FILES_SHOWN = 50
SCREENSHOTS_DIR = "screenshots"
#: Finished jobs listed on the jobs page (newest first); queued and running ones are all listed.
RECENT_JOBS_SHOWN = 30
ACTIVE_JOB_STATUSES = frozenset({QUEUED, RUNNING})
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


def health_figures(figures: dict[str, Any], portal: dict[str, Any]) -> list[Figure]:
    """The /health numbers an operator looks at first, from what /health itself reports
    (``emodal.api.ops.session_figures`` and ``portal_check``): capacity, logins, busy browsers,
    portal, state store, and which instance answered (several share one store in a cluster)."""
    active, most = int(figures["active_sessions"]), int(figures["max_sessions"])
    logins = int(figures["logins_in_progress"])
    used = active + logins  # logins in progress hold a slot too (API_SPEC 3.8)
    capacity_tone = "bad" if used >= most else "warn" if used >= 0.8 * most else "ok"
    status = portal.get("status", "unknown")
    shown = [
        Figure("capacity", "Capacity used", f"{active} / {most}", capacity_tone),
        Figure("logins", "Logins in progress", str(logins), "warn" if logins else ""),
        Figure("busy", "Busy sessions", str(figures["busy_sessions"])),
        Figure("keep-alive", "Keep-alive sessions", str(figures["persistent_sessions"])),
        Figure("portal", "Portal", status, {"ok": "ok", "error": "bad"}.get(status, "")),
        Figure("store", "State store", (figures.get("state") or {}).get("backend") or "memory only"),
    ]
    if figures.get("instance"):
        shown.append(Figure("instance", "Instance", str(figures["instance"])))
    return shown


# --- jobs and schedules ------------------------------------------------------------------------------
def job_row(job: dict[str, Any], *, owner: bool) -> dict[str, Any]:
    """A job record as the jobs page shows it: ISO times, progress as numbers and a percentage
    (``None`` while the job is not planned yet: the bar is then indeterminate)."""
    progress = job["progress"]
    done, total = int(progress["done"]), progress["total"]
    return {"id": job["id"], "kind": job["kind"], "status": job["status"],
            "owner": job["tenant"] if owner else None, "active": job["status"] in ACTIVE_JOB_STATUSES,
            "created_at": iso_utc(job["created_at"]), "started_at": iso_utc(job["started_at"]),
            "finished_at": iso_utc(job["finished_at"]), "done": done, "total": total,
            "percent": None if not total else round(100 * done / total), "current": progress["current"],
            "error": job["error"], "schedule_id": job.get("schedule_id")}


def jobs_overview(jobs: Iterable[dict[str, Any]], *, owner: bool, recent: int = RECENT_JOBS_SHOWN
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """``jobs`` (newest first) split into the queued or running ones (all of them), the newest
    ``recent`` finished ones, and how many older finished ones are not shown."""
    rows = [job_row(job, owner=owner) for job in jobs]
    active = [row for row in rows if row["active"]]
    finished = [row for row in rows if not row["active"]]
    return active, finished[:recent], max(0, len(finished) - recent)


def schedule_row(schedule: dict[str, Any], *, owner: bool) -> dict[str, Any]:
    """A schedule with its timing as one text (``every 30m`` or ``cron 0 6 * * 1-5 (Europe/Berlin)``);
    a paused schedule has no next run."""
    timing = f"every {schedule['every']}" if schedule["every"] else f"cron {schedule['cron']} ({schedule['timezone']})"
    return {"id": schedule["id"], "kind": schedule["kind"], "timing": timing, "paused": schedule["paused"],
            "paused_reason": schedule["paused_reason"], "owner": schedule["tenant"] if owner else None,
            "next_run": None if schedule["paused"] else iso_utc(schedule["next_run"]),
            "last_run_at": iso_utc(schedule["last_run_at"]), "last_job_id": schedule["last_job_id"],
            "runs": schedule["runs"]}


def schedule_rows(schedules: Iterable[dict[str, Any]], *, owner: bool) -> list[dict[str, Any]]:
    """Running schedules first, the next due first; paused ones after them."""
    ordered = sorted(schedules, key=lambda s: (s["paused"], s["next_run"] or 0.0))
    return [schedule_row(s, owner=owner) for s in ordered]


# --- webhooks ----------------------------------------------------------------------------------------
def webhook_rows(subscriptions: Iterable[Any], deliveries: list[dict[str, Any]], *, owner: bool
                 ) -> list[dict[str, Any]]:
    """Subscriptions (``Subscription.view()``: never the secret) with how many of their
    deliveries are pending or failed."""
    open_count: dict[str, int] = {}
    for delivery in deliveries:
        open_count[delivery["subscription_id"]] = open_count.get(delivery["subscription_id"], 0) + 1
    return [{**s.view(), "created_at": iso_utc(s.created_at), "owner": s.tenant if owner else None,
             "unsettled": open_count.get(s.id, 0)} for s in subscriptions]


def delivery_rows(deliveries: Iterable[dict[str, Any]], urls: dict[str, str], *, owner: bool
                  ) -> list[dict[str, Any]]:
    """Pending or failed deliveries (``Outbox.unsettled``) with their webhook's URL (``None``
    once the webhook was deleted) and ISO times."""
    times = ("created_at", "last_attempt_at", "next_retry_at", "give_up_at")
    return [{**d, **{k: iso_utc(d[k]) for k in times}, "url": urls.get(d["subscription_id"]),
             "owner": d["tenant"] if owner else None} for d in deliveries]
