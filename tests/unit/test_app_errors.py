"""The one error handler and the common headers (API_SPEC 1.1-1.3, 6.1) over a fake registry."""
import pytest

from emodal.app import shutdown
from emodal.errors import ERROR_TYPES
from tests.unit.fake_registry import make_app

SID = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg"


@pytest.fixture
def client(tmp_path):
    app, registry = make_app(tmp_path)
    yield app.test_client()
    shutdown(app)
    assert registry.closed_all


def assert_error(response, status, error_type):
    assert response.status_code == status
    body = response.json
    assert body["success"] is False and body["error_type"] == error_type
    assert isinstance(body["error"], str) and body["request_id"] == response.headers["X-Request-Id"]
    assert response.headers["Cache-Control"] == "no-store"
    return body


@pytest.mark.parametrize("kwargs", [
    {"data": "not json", "content_type": "application/json"},
    {"data": "not json"},
    {"data": '{"a": 1}', "content_type": "text/plain"},
    {"json": [1, 2]},
])
def test_invalid_json(client, kwargs):
    body = assert_error(client.post("/get_session", **kwargs), 400, "invalid_json")
    assert body["error"] == "Request must be JSON"


def test_unknown_route_wrong_method_and_big_body(client):
    assert_error(client.get("/nope"), 404, "not_found")
    r = client.put("/health")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"]
    assert_error(client.post("/get_session", data="x" * (1024 * 1024 + 10), content_type="application/json"),
                 413, "payload_too_large")


def test_get_session_missing_fields_message(client):
    body = assert_error(client.post("/get_session", json={}), 400, "missing_fields")
    assert body["error"] == "Missing required fields: username, password, captcha_api_key"
    assert body["details"]["missing"] == ["username", "password", "captcha_api_key"]


def test_business_route_session_rules_before_any_browser(client):
    body = assert_error(client.post("/get_booking_number", json={"session_id": SID}), 400, "missing_fields")
    assert body["error"] == "Missing required field: container_id"
    body = assert_error(client.post("/get_booking_number", json={"session_id": "invalid_session_123",
                                                                 "container_id": "MSCU5165756"}),
                        400, "session_not_found")
    assert body["error"] == "Invalid or expired session_id"
    body = assert_error(client.post("/get_booking_number", json={"container_id": "MSCU5165756"}),
                        400, "missing_fields")
    assert body["error"] == ("Missing required fields: username, password, captcha_api_key "
                             "(or valid session_id)")
    body = assert_error(client.post("/get_booking_number", json={"container_id": "MSCU5165757"}),
                        400, "invalid_container_number")
    assert body["details"]["expected"] == 6


def test_unknown_session_on_sessions_routes_is_404(client):
    body = assert_error(client.get(f"/sessions/{SID}"), 404, "session_not_found")
    assert body["error"] == "Session not found"
    assert_error(client.delete(f"/sessions/{SID}"), 404, "session_not_found")


@pytest.mark.parametrize("supplied,echoed", [("abc-123_X.y", True), ("bad id!", False), ("x" * 65, False)])
def test_request_id_echo_rules(client, supplied, echoed):
    r = client.get("/health", headers={"X-Request-Id": supplied})
    if echoed:
        assert r.headers["X-Request-Id"] == supplied
    else:
        rid = r.headers["X-Request-Id"]
        assert rid.startswith("req_") and len(rid) == 20 and int(rid[4:], 16) >= 0


def test_cleanup_accepts_no_body(client):
    r = client.post("/cleanup")
    assert r.status_code == 200 and r.json["message"] == "Cleanup completed"
    assert {"deleted_files", "freed_mb", "current_storage_mb", "downloads_mb", "screenshots_mb"} <= set(r.json)
    assert_error(client.post("/cleanup", json={"max_age_hours": 0}), 400, "invalid_field")


def test_openapi_lists_routes_and_every_error_type(client):
    doc = client.get("/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    for path in ("/health", "/get_session", "/sessions", "/sessions/{session_id}", "/cleanup",
                 "/cleanup_orphaned_processes", "/emergency_recovery", "/files/{path}", "/metrics"):
        assert path in doc["paths"], path
    assert doc["components"]["schemas"]["Error"]["properties"]["error_type"]["enum"] == list(ERROR_TYPES)
    assert set(doc["components"]["securitySchemes"]) == {"ApiKeyHeader", "BearerAuth"}
    props = doc["paths"]["/get_session"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert props["required"] == ["username", "password", "captcha_api_key"]


def test_metrics_have_no_ids(client):
    client.get(f"/sessions/{SID}")
    text = client.get("/metrics").data.decode()
    assert "emodal_requests_total" in text and "emodal_sessions" in text
    assert SID not in text and 'route="/sessions/<session_id>"' in text


def test_shutdown_answers_503(tmp_path):
    app, _ = make_app(tmp_path)
    shutdown(app)
    assert_error(app.test_client().get("/health"), 503, "shutting_down")


def test_unhandled_exception_is_a_clean_500(tmp_path):
    app, registry = make_app(tmp_path)
    registry.stats = lambda: 1 / 0
    try:
        body = assert_error(app.test_client().get("/health"), 500, "internal_error")
        assert body["error"] == "Internal server error" and "ZeroDivision" not in str(body)
    finally:
        registry.stats = lambda: {}
        shutdown(app)


def test_log_lines_cut_session_ids(caplog):
    import logging

    from emodal.logging_setup import ShortIdFormatter

    record = logging.LogRecord("emodal.x", logging.INFO, __file__, 1, "closed %s", (SID,), None)
    line = ShortIdFormatter("%(message)s").format(record)
    assert line == "closed session_1764012345_JpJZ6k…" and "JpJZ6krlXaZW5RhloZfgWg" not in line


@pytest.mark.parametrize("overrides,headers,expected", [
    ({}, {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}, "http://localhost"),
    ({"trusted_proxy_hops": 1}, {"X-Forwarded-Host": "api.example", "X-Forwarded-Proto": "https",
                                 "X-Forwarded-Prefix": "/emodal"}, "https://api.example/emodal"),
    ({"public_base_url": "https://public.example/base/"}, {"X-Forwarded-Host": "x"}, "https://public.example/base"),
])
def test_url_base_rules(tmp_path, overrides, headers, expected):
    app, _ = make_app(tmp_path, **overrides)
    try:
        assert app.test_client().get("/openapi.json", headers=headers).json["servers"][0]["url"] == expected
    finally:
        shutdown(app)
