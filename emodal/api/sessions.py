"""``/get_session`` (API_SPEC 4.2) and ``/sessions[/<id>]`` (4.10): sessions as resources.

Listing and inspection read registry data only (never a browser), so they answer instantly even
while every browser is busy. Foreign sessions are indistinguishable from unknown ones (API_SPEC 2).
"""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from emodal.api import http
from emodal.api.auth import scope_tenant
from emodal.api.business import resolve_session
from emodal.api.schemas import Field, Schema, parse, register
from emodal.errors import SessionNotFound

bp = Blueprint("sessions", __name__)

GET_SESSION_SCHEMA = register("/get_session", "POST", Schema([
    Field("username", "str", required=True, description="E-Modal username."),
    Field("password", "str", required=True, secret=True, trim=False, description="E-Modal password."),
    Field("captcha_api_key", "str", required=True, secret=True, description="2captcha key for the login reCAPTCHA."),
    Field("keep_alive", "bool", default=True, aliases=("keep_browser_alive",),
          description="Keep-alive session (refreshed, never expires) or regular (SESSION_TIMEOUT)."),
]), "Log in (or reuse the caller's session for these credentials) and return its session_id.", {
    "success": True, "session_id": "session_1764012345_JpJZ6krlXaZW5RhloZfgWg", "is_new": True,
    "username": "jdoe", "created_at": "2025-11-24T19:25:45Z", "expires_at": None, "keep_alive": True,
    "message": "New persistent session created"})

SESSION_EXAMPLE = {
    "session_id": "session_1764012345_JpJZ6krlXaZW5RhloZfgWg", "username": "jdoe", "keep_alive": True,
    "state": "ready", "busy": False, "current_operation": None, "created_at": "2025-11-24T19:25:45Z",
    "last_used": "2025-11-24T19:34:12Z", "last_refresh": "2025-11-24T19:34:12Z", "expires_at": None,
    "current_url": "https://termops.emodal.com/trucker/web/addvisit", "login_count": 1,
    "last_error": None, "open_appointment_workflows": 1, "restored_at": None}


@bp.post("/get_session")
def get_session() -> Response:
    params = parse(GET_SESSION_SCHEMA, http.json_body(), http.settings())
    keep_alive = params["keep_alive"]
    session, is_new = resolve_session(params, keep_alive=keep_alive, promote=keep_alive)
    registry = http.registry()
    if is_new:
        registry.release(session)  # just logged in: nothing to run under its lock
    else:
        # A reused browser may have lost its portal login since: probe it and re-login in place.
        with registry.acquire(session, "/get_session", g.request_id, timeout=http.settings().session_lock_timeout):
            registry.ensure_healthy(session)
    settings = http.settings()
    described = session.describe(settings.session_timeout)
    kind = "persistent session" if session.keep_alive else "session"
    return jsonify({
        "success": True, "session_id": session.session_id, "is_new": is_new,
        "username": session.username, "created_at": described["created_at"],
        "expires_at": described["expires_at"], "keep_alive": session.keep_alive,
        "message": f"New {kind} created" if is_new else f"Using existing {kind}",
    })


@bp.get("/sessions")
def list_sessions() -> Response:
    settings = http.settings()
    admin = scope_tenant() is None and g.tenant != "open"
    sessions = [s.describe(settings.session_timeout, owner=admin)
                for s in http.registry().list(scope_tenant())]
    state = http.registry().stats().get("state")
    return jsonify({"success": True, "active_sessions": len(sessions),
                    "max_sessions": settings.max_sessions, **({"state": state} if state else {}),
                    "sessions": sessions})


@bp.get("/sessions/<session_id>")
def get_one(session_id: str) -> Response:
    session = http.registry().get(scope_tenant(), session_id)
    if session is None:
        raise _not_found()
    admin = scope_tenant() is None and g.tenant != "open"
    return jsonify({"success": True, **session.describe(http.settings().session_timeout, owner=admin)})


@bp.delete("/sessions/<session_id>")
def delete_one(session_id: str) -> Response:
    try:
        http.registry().close(scope_tenant(), session_id)
    except SessionNotFound:
        raise _not_found() from None
    return jsonify({"success": True, "message": f"Session {session_id} closed"})


def _not_found() -> SessionNotFound:
    """404 on /sessions/<id> (the class default, 400, is for business routes)."""
    return SessionNotFound("Session not found", status=404)


register("/sessions", "GET", None, "The caller's sessions (admin: all, with owner), registry data only.",
         {"success": True, "active_sessions": 1, "max_sessions": 10,
          "state": {"backend": "sqlite", "sessions": 1, "restored": 0, "restoring": 0}, "sessions": [SESSION_EXAMPLE]})
register("/sessions/{session_id}", "GET", None, "One of the caller's sessions.",
         {"success": True, **SESSION_EXAMPLE})
register("/sessions/{session_id}", "DELETE", None, "Close a session: waits for its lock, quits its browser.",
         {"success": True, "message": "Session session_1764012345_JpJZ6krlXaZW5RhloZfgWg closed"})

