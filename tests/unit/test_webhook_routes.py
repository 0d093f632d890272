"""``/webhooks`` routes and their wiring in ``create_app`` (browser-free): a real app over a fake
registry with a temp state dir, a real local receiver (127.0.0.1, so WEBHOOK_ALLOW_PRIVATE=true
except where a test is about refusing it), signatures checked with the ``standardwebhooks`` package.

The app's own delivery worker runs (started by the lifecycle), so tests wait for the receiver to
get a request rather than stepping the worker.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from standardwebhooks import Webhook

from emodal.app import shutdown
from emodal.api.auth import tenant_id
from emodal.errors import CaptchaKeyInvalid, CaptchaZeroBalance, InvalidCredentials, SessionNotFound
from emodal.sessions import Refresher
from emodal.sessions.session import SessionState
from tests.unit.fake_registry import FakeSession
from tests.unit.test_registry_logic import JDOE
from tests.unit.test_registry_logic import make as make_registry
from tests.unit.fake_registry import make_app
from tests.unit.webhook_receiver import Receiver

SID = "session_1764012345_webhookRoutesToken0123"
OTHER_KEY, MY_KEY = "other-tenant-key-0123456789abcdef", "my-tenant-key-0123456789abcdef01"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _app(tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    app, _ = make_app(tmp_path, emodal_api_keys=(MY_KEY, OTHER_KEY), **overrides)
    yield app
    shutdown(app)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield from _app(tmp_path, webhook_allow_private=True)


def _call(app: Flask, method: str, path: str, key: str = MY_KEY, **kw: Any) -> Any:
    return getattr(app.test_client(), method)(path, headers={"X-API-Key": key}, **kw)


def _create(app: Flask, url: str, events: list[str]) -> dict[str, Any]:
    answer = _call(app, "post", "/webhooks", json={"url": url, "events": events})
    assert answer.status_code == 201, answer.json
    return answer.json


def _verified(receiver: Receiver, index: int, secret: str) -> dict[str, Any]:
    request = receiver.received[index]
    return Webhook(secret).verify(request.body, request.headers)


def test_create_shows_the_secret_once_and_a_test_event_arrives_signed(app: Flask, receiver: Receiver) -> None:
    created = _create(app, receiver.url + "/hook", ["job.succeeded"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["job.succeeded"]
    listed = _call(app, "get", "/webhooks").json
    assert [w["id"] for w in listed["webhooks"]] == [created["id"]]
    assert created["secret"] not in json.dumps(listed)
    assert "secret" not in _call(app, "get", f"/webhooks/{created['id']}").json

    tested = _call(app, "post", f"/webhooks/{created['id']}/test")
    assert tested.status_code == 202
    assert receiver.wait_for(1)
    payload = _verified(receiver, 0, created["secret"])
    assert payload["type"] == "webhook.test" and payload["data"] == {"subscription_id": created["id"]}
    assert receiver.received[0].headers["webhook-id"] == tested.json["event_id"]

    deliveries = _call(app, "get", f"/webhooks/{created['id']}/deliveries").json["deliveries"]
    assert len(deliveries) == 1 and deliveries[0]["event_id"] == tested.json["event_id"]
    assert {"status", "attempts", "last_status_code", "last_error", "next_retry_at"} <= set(deliveries[0])


def test_retry_now_sends_a_delivered_event_once_more(app: Flask, receiver: Receiver) -> None:
    created = _create(app, receiver.url, ["job.failed"])
    _call(app, "post", f"/webhooks/{created['id']}/test")
    assert receiver.wait_for(1)
    [delivery] = _call(app, "get", f"/webhooks/{created['id']}/deliveries").json["deliveries"]
    retried = _call(app, "post", f"/webhooks/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 200 and retried.json["id"] == delivery["id"]
    assert receiver.wait_for(2)
    assert receiver.received[1].headers["webhook-id"] == receiver.received[0].headers["webhook-id"]


def test_another_tenant_sees_nothing_and_gets_404(app: Flask, receiver: Receiver) -> None:
    created = _create(app, receiver.url, ["job.succeeded"])
    assert _call(app, "get", "/webhooks", OTHER_KEY).json["webhooks"] == []
    for method, path in (("get", f"/webhooks/{created['id']}"), ("delete", f"/webhooks/{created['id']}"),
                         ("post", f"/webhooks/{created['id']}/test"),
                         ("get", f"/webhooks/{created['id']}/deliveries"),
                         ("post", f"/webhooks/deliveries/evt_x.{created['id']}/retry")):
        answer = _call(app, method, path, OTHER_KEY)
        assert answer.status_code == 404 and answer.json["error_type"] == "not_found", (path, answer.json)
    assert len(_call(app, "get", "/webhooks").json["webhooks"]) == 1


def test_delete_removes_the_webhook(app: Flask, receiver: Receiver) -> None:
    created = _create(app, receiver.url, ["job.succeeded"])
    assert _call(app, "delete", f"/webhooks/{created['id']}").status_code == 200
    assert _call(app, "get", "/webhooks").json["webhooks"] == []
    assert _call(app, "get", f"/webhooks/{created['id']}").status_code == 404


@pytest.mark.parametrize(("body", "field", "text"), [
    ({"url": "ftp://example.com/hook", "events": ["job.failed"]}, "url", "only http and https"),
    ({"url": "https://example.com/hook", "events": ["job.exploded"]}, "events", "job.succeeded"),
    ({"url": "https://example.com/hook", "events": []}, "events", "Missing"),
    ({"url": "https://example.com/hook"}, "events", ""),
    ({"events": ["job.failed"]}, "url", ""),
])
def test_bad_input_is_a_400_and_stores_nothing(app: Flask, body: dict[str, Any], field: str, text: str) -> None:
    answer = _call(app, "post", "/webhooks", json=body)
    assert answer.status_code == 400 and answer.json["success"] is False, answer.json
    assert field in json.dumps(answer.json) and text in answer.json["error"], answer.json
    assert _call(app, "get", "/webhooks").json["webhooks"] == []


def test_a_private_address_is_refused_without_the_flag(tmp_path: Path, receiver: Receiver) -> None:
    for app in _app(tmp_path):
        for url in (receiver.url, "http://169.254.169.254/latest", "http://10.0.0.5/hook"):
            answer = _call(app, "post", "/webhooks", json={"url": url, "events": ["job.failed"]})
            assert answer.status_code == 400 and "WEBHOOK_ALLOW_PRIVATE" in answer.json["error"], answer.json
        assert _call(app, "get", "/webhooks").json["webhooks"] == []


def test_a_failed_job_reaches_the_subscribed_receiver(app: Flask, receiver: Receiver) -> None:
    """A job whose session can no longer be resolved fails at once (no browser) and emits job.failed."""
    registry = app.extensions["emodal_registry"]
    registry.add(SID, tenant_id(MY_KEY))

    def gone(*args: Any, **kwargs: Any) -> Any:
        raise SessionNotFound()
    registry.resolve = gone
    created = _create(app, receiver.url, ["job.failed"])
    job = _call(app, "post", "/jobs", json={"kind": "my_appointments", "session_id": SID})
    assert job.status_code == 202, job.json
    assert receiver.wait_for(1)
    payload = _verified(receiver, 0, created["secret"])
    assert payload["type"] == "job.failed" and payload["data"]["job_id"] == job.json["job_id"]
    assert _call(app, "get", f"/jobs/{job.json['job_id']}").json["status"] == "failed"
    [delivery] = _call(app, "get", f"/webhooks/{created['id']}/deliveries").json["deliveries"]
    assert delivery["event_type"] == "job.failed" and delivery["event_id"] == receiver.received[0].headers["webhook-id"]


def test_every_webhook_route_is_documented(app: Flask) -> None:
    paths = _call(app, "get", "/openapi.json").json["paths"]
    assert "201" in paths["/webhooks"]["post"]["responses"]
    for path, method in (("/webhooks", "get"), ("/webhooks/{webhook_id}", "get"), ("/webhooks/{webhook_id}", "delete"),
                         ("/webhooks/{webhook_id}/test", "post"), ("/webhooks/{webhook_id}/deliveries", "get"),
                         ("/webhooks/deliveries/{delivery_id}/retry", "post")):
        assert method in paths[path], path
    assert set(paths["/webhooks"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]) == {
        "url", "events", "follow_redirects"}


def _lapsed_session_whose_relogin_fails(tmp_path: Path, error: Exception) -> tuple[Any, Any, list[Any]]:
    """A registry whose ``on_attention`` calls are collected, and a keep-alive session found logged
    out whose re-login will raise ``error``."""
    registry, flow = make_registry(tmp_path, refresh_check_interval=10, session_refresh_interval=1)
    told: list[Any] = []
    registry.on_attention = told.append
    session, _ = registry.resolve("t", None, JDOE, keep_alive=True, promote=False)
    session.state = SessionState.LOGGED_OUT
    flow.error = error
    return registry, session, told


def test_a_session_entering_needs_attention_is_reported_once(tmp_path: Path) -> None:
    registry, session, told = _lapsed_session_whose_relogin_fails(tmp_path, CaptchaZeroBalance())
    refresher = Refresher(registry, registry.settings)
    refresher.tick()
    assert told == [session] and session.state is SessionState.NEEDS_ATTENTION
    session.next_refresh_at = 0.0
    session.last_refresh = session.last_used = time.time() - 100
    refresher.tick()
    assert told == [session]  # parked: no new re-login, no new event


@pytest.mark.parametrize("path", ["refresh", "operation"])
@pytest.mark.parametrize("error", [InvalidCredentials, CaptchaKeyInvalid])
def test_a_relogin_refused_for_good_is_reported_on_every_path(tmp_path: Path, path: str, error: type[Exception]) -> None:
    """The re-login of a refresh, or of a request's (or a job item's) probe, is refused: a changed
    password (``invalid_credentials``: the session is closed, API_SPEC 3.6) or a refused captcha key
    (``needs_attention``). Either way ``on_attention`` is told once, whichever path re-logged in."""
    registry, session, told = _lapsed_session_whose_relogin_fails(tmp_path, error())
    if path == "refresh":
        Refresher(registry, registry.settings).tick()
    else:
        with registry.acquire(session, "/jobs/info_bulk", "job_1-1"), pytest.raises(error):
            registry.ensure_healthy(session)
    assert told == [session] and session.attention_error is error
    if error is InvalidCredentials:
        assert registry.get("t", session.session_id) is None and session.state is SessionState.CLOSING
    else:
        assert registry.get("t", session.session_id) is session and session.state is SessionState.NEEDS_ATTENTION


def test_needs_attention_reaches_the_receiver_without_the_full_session_id(app: Flask, receiver: Receiver) -> None:
    created = _create(app, receiver.url, ["session.needs_attention"])
    session = FakeSession(SID, tenant_id(MY_KEY))
    session.attention_error = CaptchaZeroBalance  # type: ignore[attr-defined]
    session.state = SessionState.NEEDS_ATTENTION  # type: ignore[attr-defined]
    app.extensions["emodal_webhooks"].session_needs_attention(session)
    assert receiver.wait_for(1)
    payload = _verified(receiver, 0, created["secret"])
    assert payload["type"] == "session.needs_attention"
    assert payload["data"] == {"session": session.short_id, "username": "jdoe", "state": "needs_attention",
                               "error_type": "captcha_zero_balance"}
    assert SID not in receiver.received[0].body.decode()
    session.attention_error = InvalidCredentials  # type: ignore[attr-defined]
    session.state = SessionState.CLOSING  # type: ignore[attr-defined] - a refused password closes the session
    app.extensions["emodal_webhooks"].session_needs_attention(session)
    assert receiver.wait_for(2)
    assert _verified(receiver, 1, created["secret"])["data"] == {
        "session": session.short_id, "username": "jdoe", "state": "closed", "error_type": "invalid_credentials"}
