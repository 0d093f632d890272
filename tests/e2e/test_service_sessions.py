"""Sessions over HTTP against the sandbox with real headless Chromium (API_SPEC 3, 4.1, 4.2, 4.10-4.13,
and the v1 client requests of section 7, items 1-6, 20-22, 35)."""
from __future__ import annotations

import pytest

from emodal.browser.factory import group_pids

GET_SESSION_KEYS = {"success", "session_id", "is_new", "username", "created_at", "expires_at", "keep_alive",
                    "message"}
LISTED_KEYS = {"session_id", "username", "keep_alive", "state", "busy", "current_operation", "created_at",
               "last_used", "last_refresh", "expires_at", "current_url", "login_count", "last_error",
               "open_appointment_workflows", "restored_at"}

pytestmark = pytest.mark.browser


def close_sessions_of(client, username: str) -> None:
    for s in client.get("/sessions").json()["sessions"]:
        if s["username"] == username:
            assert client.delete(f"/sessions/{s['session_id']}").status_code == 200


# --- items 1-4: health, get_session twice, listing ------------------------------------------------
def test_get_session_creates_a_keep_alive_session(jdoe_session):
    assert set(jdoe_session) == GET_SESSION_KEYS
    assert jdoe_session["is_new"] is True and jdoe_session["keep_alive"] is True
    assert jdoe_session["expires_at"] is None and jdoe_session["username"] == "jdoe"
    assert jdoe_session["message"] == "New persistent session created"
    assert jdoe_session["session_id"].startswith("session_") and len(jdoe_session["session_id"].split("_", 2)[2]) >= 22


def test_get_session_again_reuses_it(client, credentials, jdoe_session):
    response = client.post("/get_session", json=credentials("jdoe"))
    body = response.json()
    assert response.status_code == 200 and set(body) == GET_SESSION_KEYS
    assert body["session_id"] == jdoe_session["session_id"] and body["is_new"] is False
    assert body["message"] == "Using existing persistent session"
    assert response.headers["X-Session-Id"] == jdoe_session["session_id"]


def test_health_counts_the_session(client, jdoe_session):
    body = client.get("/health").json()
    assert body["status"] in ("healthy", "degraded") and body["success"] is True
    assert body["active_sessions"] >= 1 and body["persistent_sessions"] >= 1
    assert body["session_capacity"] == f"{body['active_sessions']}/{body['max_sessions']}"
    assert body["timestamp"].endswith("Z") and body["service"] == "E-Modal Business Operations API"
    assert body["checks"]["portal"]["status"] == "ok"


def test_sessions_listing_has_no_secrets(client, jdoe_session):
    response = client.get("/sessions")
    body = response.json()
    listed = {s["session_id"]: s for s in body["sessions"]}
    mine = listed[jdoe_session["session_id"]]
    assert set(mine) == LISTED_KEYS and mine["username"] == "jdoe" and mine["login_count"] >= 1
    assert body["active_sessions"] == len(body["sessions"])
    for secret in ("sandbox-pass", "sandbox-key", "password", "captcha"):
        assert secret not in response.text
    one = client.get(f"/sessions/{jdoe_session['session_id']}").json()
    assert one["session_id"] == jdoe_session["session_id"] and set(one) == LISTED_KEYS | {"success"}


# --- reuse by id on a business route, files ------------------------------------------------------------
def test_reuse_by_id_with_debug_serves_screenshots_and_bundle(client, jdoe_session):
    response = client.post("/get_booking_number", json={"session_id": jdoe_session["session_id"],
                                                        "container_id": "TRHU4000040", "debug": True})
    body = response.json()
    assert response.status_code == 200, body
    assert body["session_id"] == jdoe_session["session_id"] and body["is_new_session"] is False
    assert body["booking_number"] == "RICFEM100200" and body["screenshots"]
    shot = client.get(body["screenshots"][0])
    assert shot.status_code == 200 and shot.headers["Content-Type"] == "image/png"
    assert shot.content[:4] == b"\x89PNG" and shot.headers["Content-Disposition"].startswith("attachment")
    assert shot.headers["X-Content-Type-Options"] == "nosniff"
    bundle = client.get(body["debug_bundle_url"])
    assert bundle.status_code == 200 and bundle.content[:2] == b"PK"
    assert body["debug_bundle_url"].endswith(body["debug_bundle_path"]) and body["bundle_url"] == body["debug_bundle_url"]


def test_failure_after_resolution_names_the_session_and_has_a_screenshot(client, jdoe_session):
    response = client.post("/get_container_timeline", json={"session_id": jdoe_session["session_id"],
                                                            "container_id": "MSCU5165756"})
    body = response.json()
    assert response.status_code == 404 and body["error_type"] == "container_not_found"
    assert body["session_id"] == jdoe_session["session_id"] and body["is_new_session"] is False
    assert client.get(body["screenshot_url"]).status_code == 200
    assert client.get(body["debug_bundle_url"]).content[:2] == b"PK"


# --- items 20-22, 35: static errors before any browser ------------------------------------------------
def test_static_errors_of_v1_clients(client, service, jdoe_session, credentials):
    before = len(service.registry.list())
    r = client.post("/get_booking_number", json={"session_id": jdoe_session["session_id"]})
    assert r.status_code == 400 and r.json()["error_type"] == "missing_fields"
    r = client.post("/get_booking_number", json={"session_id": "invalid_session_123", "container_id": "MSCU5165756"})
    assert r.status_code == 400 and r.json()["error"] == "Invalid or expired session_id"
    assert r.json()["error_type"] == "session_not_found"
    r = client.post("/get_booking_number", data="not json")
    assert r.status_code == 400 and r.json()["error_type"] == "invalid_json"
    r = client.post("/make_appointment", json={**credentials("jdoe"), "keep_browser_alive": True,
                                               "capture_screens": True, "screens_label": "jdoe",
                                               "return_url": True})
    assert r.status_code == 400 and r.json()["error"] == (
        "Missing required fields: trucking_company, terminal, move_type, container_id, truck_plate, "
        "appointment_time")
    assert len(service.registry.list()) == before


# --- items 5-6: delete, cleanup ----------------------------------------------------------------------
def test_regular_session_then_delete(client, credentials, service):
    close_sessions_of(client, "asmith")
    created = client.post("/get_session", json={**credentials("asmith"), "keep_alive": False}).json()
    assert created["is_new"] is True and created["keep_alive"] is False and created["expires_at"] is not None
    session = service.registry.get(None, created["session_id"])
    pgid = session.handle.pgid
    assert group_pids(pgid)
    deleted = client.delete(f"/sessions/{created['session_id']}")
    assert deleted.json() == {"success": True, "message": f"Session {created['session_id']} closed"}
    assert group_pids(pgid) == []
    gone = client.get(f"/sessions/{created['session_id']}")
    assert gone.status_code == 404 and gone.json()["error_type"] == "session_not_found"
    again = client.delete(f"/sessions/{created['session_id']}")
    assert again.status_code == 404 and again.json()["error"] == "Session not found"


def test_cleanup_with_and_without_body(client):
    with_body = client.post("/cleanup", json={"max_age_hours": 24})
    assert with_body.status_code == 200 and with_body.json()["message"] == "Cleanup completed"
    bare = client.post("/cleanup")
    assert bare.status_code == 200
    assert {"current_storage_mb", "downloads_mb", "screenshots_mb"} <= set(bare.json())


# --- login failures -----------------------------------------------------------------------------------
def test_invalid_credentials_are_401_and_leave_nothing(client, credentials, service):
    before = {s.session_id for s in service.registry.list()}
    r = client.post("/get_session", json=credentials("jdoe", password="wrong-password"))
    assert r.status_code == 401, r.text
    assert r.json()["error_type"] == "invalid_credentials" and r.json()["error"] == "Authentication failed"
    assert {s.session_id for s in service.registry.list()} == before


def test_bad_captcha_key_is_502(client, credentials):
    close_sessions_of(client, "asmith")
    r = client.post("/get_session", json=credentials("asmith", key="not-a-real-key"))
    assert r.status_code == 502 and r.json()["error_type"] == "captcha_key_invalid"
    assert "not-a-real-key" not in r.text


# --- shutdown ----------------------------------------------------------------------------------------
def test_shutdown_closes_every_browser(make_service, credentials):
    from tests.e2e.conftest import Client

    running = make_service()
    created = Client(running.base_url).post("/get_session", json=credentials("asmith"))
    assert created.status_code == 200
    handle = running.registry.get(None, created.json()["session_id"]).handle
    assert group_pids(handle.pgid)
    running.stop()
    assert running.registry.list() == [] and group_pids(handle.pgid) == []
    assert not handle.root_dir.exists()
    assert running.app.test_client().get("/health").status_code == 503


# --- 3.6: a lapsed portal login is re-established under the same id ---------------------------------
def test_lapsed_portal_login_is_recovered_in_place(client, sandbox, jdoe_session):
    sandbox.admin.logout("jdoe")
    response = client.post("/get_booking_number", json={"session_id": jdoe_session["session_id"],
                                                        "container_id": "TRHU4000040"})
    body = response.json()
    assert response.status_code == 200, body
    assert body["session_recovered"] is True and body["is_new_session"] is False
    assert body["session_id"] == jdoe_session["session_id"] and body["booking_number"] == "RICFEM100200"
