"""The operation runner (emodal.operations.runner) behind the HTTP layer (emodal.api.business), over a
fake registry: envelope, retry rules, failure records and file bodies, without a browser."""
from pathlib import Path

import pytest
from flask import Blueprint
from selenium.common.exceptions import WebDriverException

from emodal.api import business
from emodal.api.schemas import BusinessRequest, Container
from emodal.app import shutdown
from emodal.config import Settings
from emodal.errors import ContainerNotFound, PortalRejected, PortalSessionLost, PortalTimeout
from emodal.operations import runner as runner_module
from emodal.operations.context import FileResult
from emodal.operations.runner import OperationRunner, SessionRef
from emodal.sessions.credentials import Credentials
from tests.unit.fake_registry import FakeRegistry, make_app


class OpRequest(BusinessRequest):
    container_id: Container


CREDS = {"username": "jdoe", "password": "pw", "captcha_api_key": "key"}


@pytest.fixture
def run(tmp_path, monkeypatch):
    """``run(operation, body)`` -> response of a test route executing ``operation``."""
    shots: list[str] = []

    def fake_capture(ctx, tag, container):
        path = ctx.session_dir / "screenshots" / ctx.request_id / f"x_{tag}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x89PNG")
        shots.append(tag)
        return path

    def fake_bundle(ctx, *, kind, outcome, error_type):
        path = ctx.session_dir / "bundles" / f"x_{kind}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK")
        return path

    monkeypatch.setattr(runner_module, "_capture", fake_capture)
    monkeypatch.setattr(runner_module, "write_bundle", fake_bundle)
    holder = {}
    bp = Blueprint("test_runner", __name__)

    @bp.post("/op")
    def op():
        return business.execute("/op", OpRequest, holder["operation"], bundle_kind="PREGATE")

    app, registry = make_app(tmp_path)
    app.register_blueprint(bp)
    client = app.test_client()

    def call(operation, body):
        holder["operation"] = operation
        return client.post("/op", json=body)

    call.registry, call.shots = registry, shots
    call.downloads = Path(app.extensions["emodal_settings"].downloads_dir)
    yield call
    shutdown(app)


def test_envelope_of_a_new_session(run):
    r = run(lambda ctx: {"container_id": ctx.params["container_id"]}, {**CREDS, "container_id": "MSCU5165756"})
    body = r.json
    assert r.status_code == 200 and body["success"] is True and body["is_new_session"] is True
    assert body["container_id"] == "MSCU5165756" and body["screenshots"] == []
    assert "session_recovered" not in body and "debug_bundle_url" not in body
    assert r.headers["X-Session-Id"] == body["session_id"]
    assert (run.downloads / body["session_id"] / ".owner").read_text() == "open"


def test_debug_gives_screenshots_and_bundle_urls(run):
    def operation(ctx):
        ctx.screenshot("containers_loaded")
        return {}

    body = run(operation, {**CREDS, "container_id": "MSCU5165756", "capture_screens": "yes"}).json
    assert len(body["screenshots"]) == 1 and body["screenshots"][0].startswith("http://localhost/files/")
    assert body["debug_bundle_url"].endswith("x_PREGATE.zip") and body["bundle_url"] == body["debug_bundle_url"]
    assert body["debug_bundle_path"].startswith("/files/session_")


def test_lost_portal_session_is_retried_once(run):
    attempts = []

    def operation(ctx):
        attempts.append(1)
        if len(attempts) == 1:
            raise PortalSessionLost()
        return {"ok": 1}

    body = run(operation, {**CREDS, "container_id": "MSCU5165756"}).json
    assert body["session_recovered"] is True and len(attempts) == 2 and run.registry.relogins == 1


class _Handle:
    def __init__(self, alive: bool) -> None:
        self._alive = alive

    def alive(self) -> bool:
        return self._alive


@pytest.mark.parametrize("alive, status, relogins", [(False, 200, 1), (True, 500, 0)])
def test_dead_browser_is_replaced_and_retried_once_but_a_live_one_is_not(run, alive, status, relogins):
    attempts = []

    def operation(ctx):
        attempts.append(1)
        if len(attempts) == 1:
            ctx.session.handle = _Handle(alive)
            raise WebDriverException("chrome not reachable")
        return {"ok": 1}

    r = run(operation, {**CREDS, "container_id": "MSCU5165756"})
    assert r.status_code == status and run.registry.relogins == relogins
    assert len(attempts) == (2 if status == 200 else 1)


def test_no_retry_after_submit_and_failure_records(run):
    def operation(ctx):
        ctx.driver  # the browser was used
        ctx.no_retry = True
        raise PortalSessionLost()

    r = run(operation, {**CREDS, "container_id": "MSCU5165756"})
    assert r.status_code == 504 and run.registry.relogins == 0
    body = r.json
    assert body["session_id"].startswith("session_") and body["is_new_session"] is True
    assert body["screenshot_url"].endswith("x_failure.png") and body["debug_bundle_url"].endswith("x_FAILED.zip")


#: Every kind of failure after Submit (issue 15 item 1): the portal may have booked.
AFTER_SUBMIT = [
    PortalTimeout("Timed out after 90 s waiting for the Confirmation step after Submit"),
    PortalSessionLost(),
    WebDriverException("chrome not reachable"),  # Chromium crashed or was killed (emergency recovery)
    RuntimeError("session_1 has no browser"),  # the browser was closed under the operation
    OSError(28, "No space left on device"),  # writing the confirmation screenshot
    KeyError("number"),  # a failing confirmation read
]


@pytest.mark.parametrize("exc", AFTER_SUBMIT, ids=lambda e: type(e).__name__)
def test_any_failure_after_submit_is_504_outcome_unknown_and_never_retried(run, exc):
    attempts = []

    def operation(ctx):
        attempts.append(1)
        ctx.driver
        ctx.no_retry = True
        ctx.session.handle = _Handle(False)  # even a dead browser is not replaced and retried
        raise exc

    r = run(operation, {**CREDS, "container_id": "MSCU5165756"})
    body = r.json
    assert r.status_code == 504 and body["error_type"] == "portal_timeout", body
    assert body["submitted"] is True and body["outcome"] == "unknown" and body["appointment_confirmed"] is False
    assert body["details"]["reason"] == "outcome_unknown" and "get_appointments" in body["message"]
    assert len(attempts) == 1 and run.registry.relogins == 0
    assert "No space left" not in r.text and "chrome not reachable" not in r.text  # internals stay in the log


def test_a_refusal_read_after_submit_keeps_its_own_answer(run):
    def operation(ctx):
        ctx.no_retry = True
        raise PortalRejected("Portal rejected the appointment", submitted=True, appointment_confirmed=False)

    r = run(operation, {**CREDS, "container_id": "MSCU5165756"})
    assert r.status_code == 422 and r.json["error_type"] == "portal_rejected" and "outcome" not in r.json


def test_a_failing_bundle_after_submit_is_outcome_unknown_too(run, monkeypatch):
    def operation(ctx):
        ctx.no_retry = True
        return {"appointment_confirmed": True}

    def no_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner_module, "write_bundle", no_disk)
    r = run(operation, {**CREDS, "container_id": "MSCU5165756", "debug": True})
    assert r.status_code == 504 and r.json["outcome"] == "unknown"


def test_failure_before_the_browser_has_no_screenshot(run):
    def operation(ctx):
        raise ContainerNotFound("Container 'X' not found after scrolling")

    body = run(operation, {**CREDS, "container_id": "MSCU5165756"}).json
    assert body["error_type"] == "container_not_found" and "screenshot_url" not in body
    assert run.shots == []


def test_a_bug_is_a_clean_500_with_the_session(run):
    def operation(ctx):
        ctx.driver
        raise KeyError("boom")

    r = run(operation, {**CREDS, "container_id": "MSCU5165756"})
    assert r.status_code == 500 and r.json["error"] == "Internal server error" and "boom" not in r.text
    assert r.json["session_id"].startswith("session_")


def test_file_result_has_session_headers(run):
    def operation(ctx):
        path = ctx.new_file("containers_scraped", ".xlsx")
        path.write_bytes(b"PK workbook")
        return FileResult(path, counts={"containers": 3})

    r = run(operation, {**CREDS, "container_id": "MSCU5165756"})
    assert r.status_code == 200 and r.data == b"PK workbook"
    assert r.headers["X-Session-Id"].startswith("session_") and r.headers["X-Is-New-Session"] == "true"
    assert r.headers["X-Total-Containers"] == "3" and "/files/session_" in r.headers["X-File-Url"]
    assert r.headers["Content-Disposition"].startswith('attachment; filename="containers_scraped_')
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_validation_happens_before_the_session(run):
    r = run(lambda ctx: {}, {**CREDS, "container_id": "MSCU5165757"})
    assert r.status_code == 400 and r.json["error_type"] == "invalid_container_number"
    assert run.registry.resolve_calls == [] and "session_id" not in r.json


class _Metrics:
    def __init__(self) -> None:
        self.lock_waits: list[str] = []
        self.recoveries: list[str] = []

    def observe_lock_wait(self, route: str, seconds: float) -> None:
        self.lock_waits.append(route)

    def count_recovery(self, route: str) -> None:
        self.recoveries.append(route)


def test_the_runner_needs_no_http_request(tmp_path):
    """A job calls the same runner as a route: no Flask app or request context around it."""
    registry, metrics = FakeRegistry(), _Metrics()
    runner = OperationRunner(Settings.from_env({}, downloads_dir=tmp_path), registry, metrics)
    attempts, seen = [], []

    def operation(ctx):
        attempts.append(ctx.route)
        if len(attempts) == 1:
            raise PortalSessionLost()
        path = ctx.new_file("containers_scraped", ".xlsx")
        path.write_bytes(b"PK")
        return FileResult(path, counts={"containers": 1})

    ref = SessionRef(credentials=Credentials("jdoe", "pw", "key"))
    result = runner.run("tenant", ref, operation, {"debug": False}, request_id="job_1", route="job:get_containers",
                        base_url="http://svc", on_session=lambda s, new: seen.append((s.session_id, new)))
    assert result.is_new and result.recovered and result.file is not None and result.file.counts == {"containers": 1}
    assert result.file_url.startswith("http://svc/files/session_") and result.data == {}
    assert seen == [(result.session_id, True)] and (tmp_path / result.session_id / ".owner").read_text() == "tenant"
    assert metrics.lock_waits == ["job:get_containers"] and metrics.recoveries == ["job:get_containers"]


def test_a_session_ref_needs_an_id_or_credentials():
    with pytest.raises(ValueError):
        SessionRef()


def test_a_new_route_with_debug_gets_its_bundle_not_a_500(tmp_path):
    """Bundle kinds are no whitelist: a kind nobody listed still writes its bundle (issue 9)."""
    runner = OperationRunner(Settings.from_env({}, downloads_dir=tmp_path), FakeRegistry(), _Metrics())
    ref = SessionRef(credentials=Credentials("jdoe", "pw", "key"))
    result = runner.run("tenant", ref, lambda ctx: {"ok": True}, {"debug": True}, request_id="req_1",
                        route="/a_new_route", base_url="http://svc", bundle_kind="a_new_route")
    assert result.data == {"ok": True} and result.bundle["debug_bundle_url"].endswith("_a_new_route.zip")
