"""``/get_session`` (API_SPEC 4.2) and ``/sessions[/<id>]`` (4.10): sessions as resources.

Listing and inspection read registry data only (never a browser), so they answer instantly even
while every browser is busy. Foreign sessions are indistinguishable from unknown ones (API_SPEC 2).
"""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response, g, jsonify
from pydantic import AliasChoices, Field

from emodal.api import http
from emodal.api.auth import scope_tenant
from emodal.api.business import remember, session_ref
from emodal.api.openapi import register
from emodal.api.schemas import Bool, RawStr, RequestModel, Secret, Str, parse
from emodal.errors import SessionNotFound

bp = Blueprint("sessions", __name__)


class GetSessionRequest(RequestModel):
    username: Str = Field(description="E-Modal username.")
    password: Annotated[RawStr, Secret()] = Field(description="E-Modal password.")
    captcha_api_key: Annotated[Str, Secret()] = Field(description="2captcha key for the login reCAPTCHA.")
    keep_alive: Bool = Field(True, validation_alias=AliasChoices("keep_alive", "keep_browser_alive"),
                             description="Keep-alive session (refreshed, never expires) or regular (SESSION_TIMEOUT).")


register("/get_session", "POST", GetSessionRequest,
         "Log in (or reuse the caller's session for these credentials) and return its session_id.", {
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
    settings = http.settings()
    params = parse(GetSessionRequest, http.json_body(), settings)
    session, is_new = http.runner().open_session(g.tenant, session_ref(params, keep_alive=params["keep_alive"]),
                                                 request_id=g.request_id, route="/get_session", on_session=remember)
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

