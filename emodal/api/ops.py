"""Operational routes: /health (4.1), /cleanup (4.11), admin routes (4.12), /metrics (4.14), /openapi.json (4.15).

None of these touches a browser; /health and /metrics read registry figures only, so monitoring
keeps answering while every browser is busy. With a Selenium Grid, /health also asks the hub's
``/status`` (a short timeout): a Grid that does not answer makes the service degraded.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import requests
from flask import Blueprint, Response, current_app, jsonify
from pydantic import Field

from emodal import __version__
from emodal.api import http, storage
from emodal.api.auth import require_admin, scope_tenant
from emodal.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from emodal.api.openapi import build_openapi, register
from emodal.api.schemas import Int, RequestModel, parse
from emodal.browser.grid import grid_status
from emodal.config import Settings
from emodal.timefmt import iso_utc

bp = Blueprint("ops", __name__)

SERVICE_NAME = "E-Modal Business Operations API"
_CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

class CleanupRequest(RequestModel):
    max_age_hours: Int(1, 720) | None = Field(
        None, description="Delete files older than this (default FILE_RETENTION_HOURS).")


register("/cleanup", "POST", CleanupRequest,
         "Delete old files of the caller's sessions (admin/open mode: all). Body optional.", {
    "success": True, "message": "Cleanup completed", "deleted_files": 42, "freed_mb": 18.7,
    "current_storage_mb": 12.34, "downloads_mb": 10.1, "screenshots_mb": 2.24})


def _browser_check(settings: Settings, grid: dict[str, Any] | None) -> str:
    """Driver and browser binaries present; with a Grid, its hub answers and reports itself ready."""
    if grid is not None:
        return "ok" if grid.get("ready") else "error"
    driver = settings.chromedriver_path or shutil.which("chromedriver")
    chrome = settings.chrome_binary or next((p for n in _CHROME_NAMES if (p := shutil.which(n))), None)
    return "ok" if driver and chrome and os.access(driver, os.X_OK) else "error"


def _grid(settings: Settings) -> dict[str, Any] | None:
    """``/health`` ``grid``: the hub's URL and what its ``/status`` says (None without a Grid)."""
    if not settings.selenium_remote_url:
        return None
    out: dict[str, Any] = {"url": settings.selenium_remote_url}
    try:
        out.update(grid_status(settings.selenium_remote_url).describe())
    except (requests.RequestException, ValueError) as exc:
        out.update(ready=False, error=type(exc).__name__)
    return out


def _downloads_check(settings: Settings) -> str:
    folder = Path(settings.downloads_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return "error"
    return "ok" if os.access(folder, os.W_OK) else "error"


def _refresher_check(settings: Settings) -> str:
    """Ticked within 3 intervals (a fresh app gets 3 intervals of grace before its first tick)."""
    refresher = current_app.extensions.get("emodal_refresher")
    if refresher is None:
        return "disabled"
    last = getattr(refresher, "last_tick", None) or current_app.extensions["emodal_started_at"]
    return "ok" if time.time() - last <= 3 * settings.refresh_check_interval else "error"


def session_figures(settings: Settings, stats: dict[str, Any]) -> dict[str, Any]:
    """The session figures of ``/health`` (capacity, logins, the state store, this instance).

    Why a function of its own: the operator console shows the same figures; reading them here for
    both keeps the console from ever telling a different story than ``/health``. Registry data
    only (``stats``), so both answer while every browser is busy."""
    active = stats.get("active_sessions", 0)
    return {
        "active_sessions": active, "max_sessions": settings.max_sessions,
        "session_capacity": f"{active}/{settings.max_sessions}",
        "persistent_sessions": stats.get("persistent_sessions", 0),
        "busy_sessions": stats.get("busy_sessions", 0),
        "logins_in_progress": stats.get("logins_in_progress", 0),
        **({"state": stats["state"]} if "state" in stats else {}),
        "instance": settings.instance_id,
    }


def portal_check(stats: dict[str, Any]) -> dict[str, Any]:
    """``checks.portal`` of ``/health``: the last login/refresh result (never probed here)."""
    portal = stats.get("portal") or {}
    return {"status": portal.get("status", "unknown"), "last_success_at": portal.get("last_success_at")}


@bp.route("/health", methods=["GET", "HEAD"])
def health() -> Response:
    settings = http.settings()
    stats = http.registry().stats()
    grid = _grid(settings)
    checks: dict[str, Any] = {
        "browser": _browser_check(settings, grid),
        "downloads_dir": _downloads_check(settings),
        "refresher": _refresher_check(settings),
        "portal": portal_check(stats),
    }
    # The portal entry is information (last login/refresh result), not a check of this process.
    degraded = any(v == "error" for k, v in checks.items() if k != "portal")
    auth: dict[str, Any] = {"mode": "api_key", "required": True}
    if not settings.auth_enabled:
        auth = {"mode": "open", "required": False, "warning": "API authentication is disabled"}
    return jsonify({
        "success": True, "status": "degraded" if degraded else "healthy", "service": SERVICE_NAME,
        "version": __version__, **session_figures(settings, stats),
        "timestamp": iso_utc(time.time()), "auth": auth, "checks": checks,
        **({"grid": grid} if grid is not None else {}),
    })


@bp.post("/cleanup")
def cleanup() -> Response:
    settings = http.settings()
    params = parse(CleanupRequest, http.json_body(optional=True), settings)
    max_age = params["max_age_hours"] or settings.file_retention_hours
    tenant = scope_tenant()
    result = storage.cleanup(settings, max_age, tenant, http.registry().list(tenant))
    return jsonify({"success": True, "message": "Cleanup completed", "deleted_files": result.deleted_files,
                    "freed_mb": round(result.freed_bytes / storage.MB, 2), **storage.usage(settings, tenant)})


@bp.post("/cleanup_orphaned_processes")
def cleanup_orphaned_processes() -> Response:
    require_admin()
    registry = http.registry()
    killed = registry.reap_orphans()
    return jsonify({"success": True, "message": f"Cleaned up {killed} orphaned processes",
                    "killed_count": killed, "active_sessions": registry.stats().get("active_sessions", 0)})


@bp.post("/emergency_recovery")
def emergency_recovery() -> Response:
    require_admin()
    killed = http.registry().emergency_close_all()
    return jsonify({"success": True, "message": "Emergency recovery completed: every session was closed",
                    "killed_count": killed,
                    "warning": "All sessions and open appointment workflows are gone; call /get_session again",
                    "active_sessions": 0})


@bp.get("/metrics")
def metrics() -> Response:
    return Response(http.metrics().render(), content_type=METRICS_CONTENT_TYPE)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_openapi(http.settings(), http.base_url()))


register("/health", "GET", None, "Liveness and counts; no key needed, never touches a browser.", {
    "success": True, "status": "healthy", "service": SERVICE_NAME, "version": __version__,
    "active_sessions": 3, "max_sessions": 10, "session_capacity": "3/10", "persistent_sessions": 2,
    "busy_sessions": 1, "logins_in_progress": 0, "timestamp": "2025-11-24T19:30:00Z",
    "auth": {"mode": "api_key", "required": True},
    "checks": {"browser": "ok", "downloads_dir": "ok", "refresher": "ok",
               "portal": {"status": "ok", "last_success_at": "2025-11-24T19:29:12Z"}},
    "state": {"backend": "redis", "sessions": 3, "restored": 2, "restoring": 0},
    "instance": "api-a-4242",
    "grid": {"url": "http://grid-hub:4444", "ready": True, "nodes_up": 2, "slots_total": 8, "slots_free": 5,
             "nodes": [{"uri": "http://node-1:5555", "availability": "UP", "slots": 4, "busy": 2},
                       {"uri": "http://node-2:5555", "availability": "UP", "slots": 4, "busy": 1}]}}, auth=False)
register("/cleanup_orphaned_processes", "POST", None, "Admin: reap browser processes of this service that "
         "belong to no session.", {"success": True, "message": "Cleaned up 0 orphaned processes",
                                   "killed_count": 0, "active_sessions": 1})
register("/emergency_recovery", "POST", None, "Admin: close every session without waiting for locks.",
         {"success": True, "message": "Emergency recovery completed: every session was closed",
          "killed_count": 4, "warning": "All sessions and open appointment workflows are gone; "
          "call /get_session again", "active_sessions": 0})
register("/metrics", "GET", None, "Prometheus text format 0.0.4.", None)
register("/openapi.json", "GET", None, "This document.", None)
