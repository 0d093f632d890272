"""Request intake in the app (API_SPEC 1.1-1.3): the body cap before the key check, deep JSON.

The server side of the cap (waitress stops reading) is tested end to end in
tests/e2e/test_request_intake.py; here the app alone, through Flask's test client.
"""
from __future__ import annotations

import logging

import pytest

from emodal.app import shutdown
from emodal.config import ConfigError, Settings
from tests.unit.fake_registry import make_app

KEY = "k" * 32


@pytest.fixture
def keyed(tmp_path):
    """An app with keys configured and a 2 KiB body cap."""
    app, _ = make_app(tmp_path, emodal_api_keys=(KEY,), max_request_bytes=2048)
    yield app.test_client()
    shutdown(app)


def test_max_request_bytes_default_env_and_validation() -> None:
    assert Settings().max_request_bytes == 1024 * 1024
    assert Settings.from_env({"MAX_REQUEST_BYTES": "4096"}).max_request_bytes == 4096
    with pytest.raises(ConfigError, match="MAX_REQUEST_BYTES"):
        Settings.from_env({"MAX_REQUEST_BYTES": "0"})
    with pytest.raises(ConfigError, match="MAX_REQUEST_BYTES"):
        Settings.from_env({"MAX_REQUEST_BYTES": "1MiB"})


def test_oversize_body_without_key_is_413_before_the_key_check(keyed) -> None:
    response = keyed.post("/get_session", data=b"{" + b" " * 2048 + b"}", content_type="application/json")
    assert response.status_code == 413, response.json
    body = response.json
    assert body["success"] is False and body["error_type"] == "payload_too_large"
    assert body["error"] == "Request body over 2048 bytes" and body["details"] == {"max": 2048}
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_body_at_the_cap_reaches_the_key_check(keyed) -> None:
    response = keyed.post("/get_session", data=b"{" + b" " * 2046 + b"}", content_type="application/json")
    assert response.status_code == 401 and response.json["error_type"] == "unauthorized"


def test_default_cap_message_names_one_mib(tmp_path) -> None:
    app, _ = make_app(tmp_path)
    try:
        response = app.test_client().post("/get_session", data="x" * (1024 * 1024 + 1),
                                          content_type="application/json")
        assert response.status_code == 413 and response.json["error"] == "Request body over 1 MiB"
    finally:
        shutdown(app)


@pytest.mark.parametrize("raw", ["[" * 100000, '{"a":' * 100000, '{"username": ' + "[" * 50000 + "]" * 50000 + "}"])
def test_deeply_nested_json_is_invalid_json_without_traceback(tmp_path, caplog, raw: str) -> None:
    app, _ = make_app(tmp_path)
    try:
        with caplog.at_level(logging.DEBUG):
            response = app.test_client().post("/get_session", data=raw, content_type="application/json")
        assert response.status_code == 400, response.json
        assert response.json["error_type"] == "invalid_json" and response.json["error"] == "Request must be JSON"
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    finally:
        shutdown(app)
