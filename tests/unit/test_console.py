"""The operator console over a fake registry: sign-in by cookie, tenant scoping, CSRF, escaping,
the routes that stay protected, and the cookie secret kept in the state store."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from emodal.api.auth import tenant_id
from emodal.api.console import signin
from emodal.app import shutdown
from emodal.state import SecretBox, SQLiteStore, new_key
from tests.unit.fake_registry import make_app

KEY, OTHER, ADMIN = "k" * 32, "o" * 32, "a" * 40
MINE, THEIRS = "session_1764012345_MineMineMineMineMine00", "session_1764012345_TheirsTheirsTheirsThe0"
NASTY = "<b id=x>&\"'</b>"


@pytest.fixture
def keyed(tmp_path: Path) -> Any:
    app, registry = make_app(tmp_path, emodal_api_keys=(KEY, OTHER), emodal_admin_keys=(ADMIN,))
    registry.add(MINE, tenant_id(KEY)).username = "jdoe"
    registry.add(THEIRS, tenant_id(OTHER)).username = "asmith"
    yield app, registry
    shutdown(app)


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def signed_in(app: Any, key: str) -> Any:
    client = app.test_client()
    form = client.get("/console/sign-in").get_data(as_text=True)
    response = client.post("/console/sign-in", data={"api_key": key, "csrf_token": csrf(form)})
    assert response.status_code == 303 and response.headers["Location"] == "/console"
    return client


def test_console_needs_a_sign_in_and_every_other_route_still_needs_the_key(keyed) -> None:
    app, _ = keyed
    client = app.test_client()
    response = client.get("/console")
    assert response.status_code == 303 and response.headers["Location"] == "/console/sign-in"
    assert client.get(f"/console/sessions/{MINE}").status_code == 303
    assert client.get(f"/console/files/{MINE}/screenshots/r/x.png").status_code == 303
    assert client.get("/console/sign-in").status_code == 200
    # Outside the console blueprint nothing changed: unknown routes, near-misses and the API need the key.
    for method, path in (("get", "/sessions"), ("get", "/consoles"), ("post", "/console/nothing"),
                         ("get", "/console/../sessions"), ("get", f"/files/{MINE}/x.png"), ("delete", "/console")):
        response = getattr(client, method)(path)
        assert response.status_code == 401, (method, path)
        assert response.json["error_type"] == "unauthorized"
    # A signed-in console cookie is no key for the API either.
    signed = signed_in(app, KEY)
    assert signed.get("/sessions").status_code == 401


def test_sign_in_shows_that_keys_sessions_only_and_admin_sees_all(keyed) -> None:
    app, _ = keyed
    page = signed_in(app, KEY).get("/console").get_data(as_text=True)
    assert MINE in page and "jdoe" in page
    assert THEIRS not in page and "asmith" not in page
    assert signed_in(app, KEY).get(f"/console/sessions/{THEIRS}").status_code == 404
    admin = signed_in(app, ADMIN).get("/console").get_data(as_text=True)
    assert MINE in admin and THEIRS in admin
    assert tenant_id(KEY) in admin and tenant_id(OTHER) in admin  # owners, as /sessions shows them


def test_wrong_key_is_refused_and_no_key_reaches_a_page_a_url_or_a_log(keyed, caplog) -> None:
    app, _ = keyed
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        token = csrf(client.get("/console/sign-in").get_data(as_text=True))
        refused = client.post("/console/sign-in", data={"api_key": KEY + "x", "csrf_token": token})
        accepted = client.post("/console/sign-in", data={"api_key": KEY, "csrf_token": token})
        pages = [refused.get_data(as_text=True), client.get("/console").get_data(as_text=True),
                 client.get(f"/console/sessions/{MINE}").get_data(as_text=True)]
    assert refused.status_code == 401 and 'id="refused"' in pages[0]
    assert accepted.status_code == 303
    for text in (*pages, caplog.text, accepted.headers["Location"], accepted.headers["Set-Cookie"]):
        assert KEY not in text
    assert "console sign-in refused" in caplog.text


def test_cookie_is_httponly_strict_scoped_and_secure_over_https(keyed) -> None:
    app, _ = keyed
    cookie = app.test_client().get("/console/sign-in").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie
    secure = app.test_client().get("/console/sign-in", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in secure


def test_a_removed_key_signs_its_console_cookie_out(keyed, tmp_path: Path) -> None:
    app, _ = keyed
    client = signed_in(app, KEY)
    settings = app.extensions["emodal_settings"]
    app.extensions["emodal_settings"] = type(settings)(**{**settings.__dict__, "emodal_api_keys": (OTHER,)})
    assert client.get("/console").status_code == 303


def test_close_needs_the_csrf_token(keyed) -> None:
    app, registry = keyed
    client = signed_in(app, KEY)
    page = client.get("/console").get_data(as_text=True)
    assert client.post(f"/console/sessions/{MINE}/close").status_code == 403
    assert client.post(f"/console/sessions/{MINE}/close", data={"csrf_token": "forged"}).status_code == 403
    assert MINE in registry.sessions
    assert client.post(f"/console/sessions/{THEIRS}/close", data={"csrf_token": csrf(page)}).status_code == 404
    closed = client.post(f"/console/sessions/{MINE}/close", data={"csrf_token": csrf(page)})
    assert closed.status_code == 303 and MINE not in registry.sessions and THEIRS in registry.sessions
    assert "Closed the session of jdoe" in client.get("/console").get_data(as_text=True)


def test_html_special_username_is_escaped_everywhere(tmp_path: Path) -> None:
    app, registry = make_app(tmp_path)
    registry.add(MINE, "open").username = NASTY
    try:
        client = app.test_client()
        for path in ("/console", f"/console/sessions/{MINE}"):
            page = client.get(path).get_data(as_text=True)
            assert NASTY not in page and "<b id=x>" not in page
            assert "&lt;b id=x&gt;&amp;&#34;&#39;&lt;/b&gt;" in page
    finally:
        shutdown(app)


def test_open_mode_console_is_open_and_says_so(tmp_path: Path) -> None:
    app, registry = make_app(tmp_path)
    registry.add(MINE, "open")
    try:
        page = app.test_client().get("/console")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert 'id="open-mode"' in text and "API authentication is disabled" in text and MINE in text
    finally:
        shutdown(app)


def test_session_page_lists_newest_screenshots_operations_and_files(keyed, tmp_path: Path) -> None:
    app, registry = keyed
    folder = tmp_path / "downloads" / MINE
    for request_id, stamp, tag in (("req_a", "20251124_193000_000001", "containers_loaded"),
                                   ("req_b", "20251124_194500_000002", "row_expanded")):
        shot = folder / "screenshots" / request_id / f"{stamp}_{tag}.png"
        shot.parent.mkdir(parents=True)
        shot.write_bytes(b"\x89PNG fake")
    (folder / "bundles").mkdir()
    (folder / "bundles" / "20251124_194500_DEBUG.zip").write_bytes(b"zip")
    (folder / ".owner").write_text(tenant_id(KEY))
    registry.sessions[MINE].recent_operations.append(
        {"route": "/get_container_timeline", "request_id": "req_b", "started_at": 1764013500.0,
         "duration_s": 4.25, "outcome": "portal_timeout"})
    client = signed_in(app, KEY)
    page = client.get(f"/console/sessions/{MINE}").get_data(as_text=True)
    newest, oldest = page.index("row_expanded"), page.index("containers_loaded")
    assert newest < oldest
    assert f"/console/files/{MINE}/screenshots/req_b/20251124_194500_000002_row_expanded.png?inline=1" in page
    assert "bundles/20251124_194500_DEBUG.zip" in page and ".owner" not in page
    assert "/get_container_timeline" in page and "4.2 s" in page and "portal_timeout" in page
    listing = client.get("/console").get_data(as_text=True)
    assert "20251124_194500_000002_row_expanded.png" in listing  # the latest one as the row's thumbnail
    shot = client.get(f"/console/files/{MINE}/screenshots/req_b/20251124_194500_000002_row_expanded.png?inline=1")
    assert shot.status_code == 200 and shot.headers["Content-Type"] == "image/png"
    other = signed_in(app, OTHER)
    assert other.get(f"/console/files/{MINE}/bundles/20251124_194500_DEBUG.zip").status_code == 404


class _State:
    def __init__(self, store: Any, box: Any) -> None:
        self.store, self.box = store, box


class _App:
    def __init__(self, extensions: dict[str, Any]) -> None:
        self.extensions = extensions


def test_cookie_secret_is_kept_in_the_state_store_and_random_without_one(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    try:
        box = SecretBox(new_key())
        first = signin.cookie_secret(_App({"emodal_state": _State(store, box)}))
        assert signin.cookie_secret(_App({"emodal_state": _State(store, box)})) == first
        # A key that cannot open the stored secret replaces it rather than failing the start.
        replaced = signin.cookie_secret(_App({"emodal_state": _State(store, SecretBox(new_key()))}))
        assert replaced != first
    finally:
        store.close()
    assert signin.cookie_secret(_App({})) != signin.cookie_secret(_App({}))
