"""One place for what never leaves the process in clear (emodal.redaction)."""
from __future__ import annotations

from emodal.redaction import SECRET_FIELDS, redact, redact_url, short_id


def test_redact_removes_secrets_at_any_depth() -> None:
    request = {"username": "jdoe", "password": "pw", "captcha_api_key": "k", "pin_code": "1234",
               "items": [{"PIN_CODE": "9", "container_id": "MSCU5165756"}], "nested": {"Password": "x", "ok": 1}}
    assert redact(request) == {"username": "jdoe", "items": [{"container_id": "MSCU5165756"}], "nested": {"ok": 1}}


def test_one_secret_list_covers_keys_headers_and_cookies() -> None:
    """The HTTP layer's list used to miss these three (issue 9)."""
    assert {"api_key", "authorization", "cookie"} <= SECRET_FIELDS
    assert redact({"API_KEY": "a", "Authorization": "Bearer x", "cookie": "c", "route": "/x"}) == {"route": "/x"}


def test_redact_url_hides_query_and_fragment() -> None:
    assert redact_url("https://id.example/connect?code=secret#state") == "https://id.example/connect?..."
    assert redact_url("https://a.example/p#frag") == "https://a.example/p?..."
    assert redact_url("https://ecp2.example/containers") == "https://ecp2.example/containers"


def test_short_id_cuts_every_session_and_wizard_id() -> None:
    text = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg then appt_1764012600_Jv5BqLbqkUoZPEkY5fCIcg"
    assert short_id(text) == "session_1764012345_JpJZ6k… then appt_1764012600_Jv5BqL…"
