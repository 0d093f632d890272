"""Capacity across tenants and a refused captcha key on re-login, over HTTP against the sandbox
(API_SPEC 3.5, 3.8; issue 15 items 3 and 9). Each test runs its own small service."""
from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Client, eventually

pytestmark = pytest.mark.browser

KEY_A, KEY_B = "a" * 32, "b" * 32


def test_failed_login_of_another_tenant_at_capacity_leaves_a_session_alone(make_service: Any,
                                                                          credentials: Any) -> None:
    running = make_service(max_sessions=1, max_concurrent_logins=1, emodal_api_keys=(KEY_A, KEY_B))
    tenant_a = Client(running.base_url, {"X-API-Key": KEY_A})
    tenant_b = Client(running.base_url, {"X-API-Key": KEY_B})
    first = tenant_a.post("/get_session", json=credentials("jdoe"))
    assert first.status_code == 200, first.text
    refused = tenant_b.post("/get_session", json=credentials("asmith", password="wrong-password"))
    assert refused.status_code == 401 and refused.json()["error_type"] == "invalid_credentials"
    again = tenant_a.post("/get_session", json=credentials("jdoe"))
    assert again.status_code == 200 and again.json()["is_new"] is False
    assert again.json()["session_id"] == first.json()["session_id"]
    listed = tenant_a.get(f"/sessions/{first.json()['session_id']}").json()
    assert listed["state"] == "ready" and listed["login_count"] == 1


def test_refused_captcha_key_on_relogin_needs_attention_until_a_new_key(make_service: Any, credentials: Any,
                                                                       sandbox: Any) -> None:
    running = make_service(session_refresh_interval=1, refresh_check_interval=1)
    client = Client(running.base_url)
    created = client.post("/get_session", json=credentials("asmith")).json()
    sid = created["session_id"]
    # A matching request replaces the stored captcha key: this one has no balance left.
    assert client.post("/get_session", json=credentials("asmith", key="sandbox-key-zero")).status_code == 200
    sandbox.admin.logout("asmith")  # the refresher finds the login lapsed and re-logs in with that key
    listed = eventually(lambda: _state(client, sid, "needs_attention"), 60, "needs_attention")
    assert listed["last_error"]["error_type"] == "captcha_zero_balance"
    refusals = _logins(running)["captcha_zero_balance"]
    refresher = running.app.extensions["emodal_refresher"]
    for _ in range(2):  # two more refresher passes: no new login attempt with the bad key
        tick = refresher.last_tick
        eventually(lambda: refresher.last_tick != tick, 30, "a refresher pass")
    assert _logins(running)["captcha_zero_balance"] == refusals
    same_key = client.post("/get_session", json=credentials("asmith", key="sandbox-key-zero"))
    assert same_key.status_code == 502 and same_key.json()["error_type"] == "captcha_zero_balance"
    assert _logins(running)["captcha_zero_balance"] == refusals  # answered without asking the solver
    fixed = client.post("/get_session", json=credentials("asmith"))
    assert fixed.status_code == 200 and fixed.json()["session_id"] == sid and fixed.json()["is_new"] is False
    listed = client.get(f"/sessions/{sid}").json()
    assert listed["state"] == "ready" and listed["login_count"] == 2


def _state(client: Client, sid: str, state: str) -> dict[str, Any] | None:
    listed = client.get("/sessions").json()["sessions"]
    return next((s for s in listed if s["session_id"] == sid and s["state"] == state), None)


def _logins(running: Any) -> dict[str, int]:
    return running.registry.stats()["counters"]["logins"]
