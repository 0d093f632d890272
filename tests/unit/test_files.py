"""GET /files (API_SPEC 4.13): owner check, traversal refusal, content types."""
import os

import pytest

from emodal.api.auth import tenant_id
from emodal.app import shutdown
from emodal.sessions.folders import ensure_session_folder
from tests.unit.fake_registry import make_app

KEY, OTHER = "k" * 32, "o" * 32
SID = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg"


@pytest.fixture
def env(tmp_path):
    app, _ = make_app(tmp_path, emodal_api_keys=(KEY, OTHER))
    settings = app.extensions["emodal_settings"]
    folder = ensure_session_folder(settings, SID, tenant_id(KEY))
    (folder / "screenshots" / "req_1").mkdir(parents=True)
    (folder / "screenshots" / "req_1" / "a_failure.png").write_bytes(b"\x89PNG fake")
    (folder / "containers_scraped_20251124_193000.xlsx").write_bytes(b"PK xlsx")
    (folder / "notes.html").write_text("<script>alert(1)</script>")
    (tmp_path / "secret.txt").write_text("TOPSECRET")
    yield app.test_client(), folder, tmp_path
    shutdown(app)


def get(client, path, key=KEY, **kw):
    return client.get(path, headers={"X-API-Key": key}, **kw)


def test_owner_gets_files_with_types_and_attachment(env):
    client, _, _ = env
    r = get(client, f"/files/{SID}/containers_scraped_20251124_193000.xlsx")
    assert r.status_code == 200 and r.data == b"PK xlsx"
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    png = get(client, f"/files/{SID}/screenshots/req_1/a_failure.png?inline=1")
    assert png.mimetype == "image/png" and png.headers["Content-Disposition"].startswith("inline")
    html = get(client, f"/files/{SID}/notes.html")
    assert html.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_other_tenant_and_missing_files_get_the_same_404(env):
    client, _, _ = env
    foreign = get(client, f"/files/{SID}/containers_scraped_20251124_193000.xlsx", key=OTHER)
    missing = get(client, f"/files/{SID}/nope.xlsx")
    for r in (foreign, missing):
        assert r.status_code == 404 and r.json["error"] == "File not found" and r.json["error_type"] == "not_found"


@pytest.mark.parametrize("path", [
    f"/files/{SID}/../secret.txt",
    f"/files/{SID}/%2e%2e/secret.txt",
    f"/files/{SID}/%252e%252e/secret.txt",
    f"/files/{SID}/.owner",
    f"/files/{SID}/screenshots/..%5c..%5csecret.txt",
    "/files//etc/passwd",
    f"/files/{SID}/a%00.png",
    f"/files/{SID}//containers_scraped_20251124_193000.xlsx",
    "/files/.state/x.json",
])
def test_traversal_and_dot_files_are_bad_requests(env, path):
    client, _, _ = env
    r = get(client, path)
    assert r.status_code in (400, 404), path
    if r.status_code == 400:
        assert r.json == {**r.json, "error": "Invalid path", "error_type": "bad_request"}
    assert b"TOPSECRET" not in r.data


def test_explicit_traversal_is_400(env):
    client, _, _ = env
    r = get(client, f"/files/{SID}/%2e%2e/secret.txt")
    assert r.status_code == 400 and r.json["error"] == "Invalid path"


def test_symlink_out_of_the_folder_is_refused(env):
    client, folder, tmp_path = env
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    r = get(client, f"/files/{SID}/link.txt")
    assert r.status_code == 400 and b"TOPSECRET" not in r.data


def test_prefix_sibling_folder_is_not_inside(env):
    client, folder, _ = env
    sibling = folder.parent / (SID + "0")
    sibling.mkdir()
    (sibling / "x.txt").write_text("sibling")
    os.symlink(sibling / "x.txt", folder / "sib.txt")
    assert get(client, f"/files/{SID}/sib.txt").status_code == 400
