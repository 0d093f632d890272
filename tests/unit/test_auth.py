"""API keys, tenants and admin rights (API_SPEC 2) at the HTTP layer."""
import hashlib
import logging

import pytest

from emodal.api.auth import OPEN_MODE_LOG, tenant_id
from emodal.app import shutdown
from tests.unit.fake_registry import make_app

KEY, OTHER, ADMIN = "k" * 32, "o" * 32, "a" * 40


@pytest.fixture
def keyed(tmp_path):
    app, registry = make_app(tmp_path, emodal_api_keys=(KEY, OTHER), emodal_admin_keys=(ADMIN,))
    yield app.test_client(), registry
    shutdown(app)


def test_fingerprint_is_16_hex_of_sha256():
    assert tenant_id(KEY) == hashlib.sha256(KEY.encode()).hexdigest()[:16]
    assert tenant_id(KEY) != tenant_id(OTHER)


def test_every_route_but_health_needs_a_key(keyed):
    client, _ = keyed
    assert client.get("/health").status_code == 200
    for method, path in (("get", "/sessions"), ("post", "/get_session"), ("get", "/metrics"),
                         ("get", "/files/x/y.png"), ("get", "/no/such/route"), ("post", "/cleanup")):
        response = getattr(client, method)(path)
        assert response.status_code == 401, path
        assert response.json["error_type"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_key_via_header_or_bearer_and_conflicts(keyed):
    client, _ = keyed
    assert client.get("/sessions", headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/sessions", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    both_same = {"X-API-Key": KEY, "Authorization": f"Bearer {KEY}"}
    assert client.get("/sessions", headers=both_same).status_code == 200
    both_different = {"X-API-Key": KEY, "Authorization": f"Bearer {OTHER}"}
    assert client.get("/sessions", headers=both_different).status_code == 401
    assert client.get("/sessions", headers={"X-API-Key": KEY + "x"}).status_code == 401


def test_sessions_are_scoped_to_the_key_and_admin_sees_all(keyed):
    client, registry = keyed
    registry.add("session_1_mine", tenant_id(KEY))
    registry.add("session_2_theirs", tenant_id(OTHER))
    mine = client.get("/sessions", headers={"X-API-Key": KEY}).json
    assert [s["session_id"] for s in mine["sessions"]] == ["session_1_mine"]
    assert "owner" not in mine["sessions"][0]
    assert client.get("/sessions/session_2_theirs", headers={"X-API-Key": KEY}).status_code == 404
    assert client.delete("/sessions/session_2_theirs", headers={"X-API-Key": KEY}).status_code == 404
    everything = client.get("/sessions", headers={"X-API-Key": ADMIN}).json
    assert {s["owner"] for s in everything["sessions"]} == {tenant_id(KEY), tenant_id(OTHER)}


def test_admin_routes_need_an_admin_key(keyed):
    client, _ = keyed
    response = client.post("/emergency_recovery", headers={"X-API-Key": KEY})
    assert response.status_code == 403 and response.json["error_type"] == "forbidden"


def test_open_mode_logs_the_exact_line_and_reports_it(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="emodal.auth"):
        app, _ = make_app(tmp_path)
    try:
        assert OPEN_MODE_LOG in caplog.text
        assert OPEN_MODE_LOG == ("API authentication is DISABLED (EMODAL_API_KEYS unset): "
                                 "any caller can use every session")
        health = app.test_client().get("/health").json
        assert health["auth"] == {"mode": "open", "required": False, "warning": "API authentication is disabled"}
    finally:
        shutdown(app)


def test_keyed_health_reports_api_key_mode(keyed):
    client, _ = keyed
    assert client.get("/health").json["auth"] == {"mode": "api_key", "required": True}
