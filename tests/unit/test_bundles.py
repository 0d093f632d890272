"""Debug bundles (API_SPEC section 5): content, layout and secret removal, without a browser."""
from __future__ import annotations

import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

from emodal.browser.bundles import BundleContent, build_bundle, bundle_path, write_bundle

WHEN = datetime(2025, 11, 24, 19, 34, 12, tzinfo=timezone.utc)


def test_bundle_layout_and_manifest(tmp_path: Path) -> None:
    shot = tmp_path / "a.png"
    shot.write_bytes(b"png")
    workbook = tmp_path / "containers.xlsx"
    workbook.write_bytes(b"xlsx")
    content = BundleContent(manifest={"request_id": "r1", "request": {"username": "jdoe", "password": "pw"}},
                            screenshots=[shot], files=[workbook], page_sources={"containers_loaded": "<html>"},
                            log_lines=["line 1", "line 2"])
    path = build_bundle(tmp_path / "session_1_x", "DEBUG", content, WHEN)
    assert path == tmp_path / "session_1_x" / "bundles" / "20251124_193412_DEBUG.zip"
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["files/containers.xlsx", "log.txt", "manifest.json",
                                         "page_source/containers_loaded.html", "screenshots/a.png"]
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["request"] == {"username": "jdoe"}
        assert zf.read("log.txt").decode() == "line 1\nline 2\n"
    assert build_bundle(tmp_path / "session_1_x", "DEBUG", content, WHEN).name == "20251124_193412_DEBUG_2.zip"


def test_a_kind_outside_the_spec_list_gets_a_safe_name_not_an_error(tmp_path: Path) -> None:
    """A new route's kind must never turn a ``debug: true`` call into a 500 (issue 9)."""
    assert bundle_path(tmp_path, "debug", WHEN).name == "20251124_193412_debug.zip"
    assert bundle_path(tmp_path, "../new route", WHEN) == tmp_path / "bundles" / "20251124_193412_new_route.zip"


def test_write_bundle_from_an_operation_context(tmp_path: Path) -> None:
    ctx = SimpleNamespace(
        request_id="req_1", route="/get_containers", session=SimpleNamespace(session_id="session_1_abc"),
        session_dir=tmp_path, started_at=datetime.now(timezone.utc) - timedelta(seconds=5),
        steps=[{"name": "open", "duration_s": 1.0}], params={"password": "pw", "target_count": 5},
        screenshot_paths=[], attachments=[], page_sources={"x": "<html>"}, debug=False,
        log=SimpleNamespace(lines=["hello"]),
    )
    path = write_bundle(ctx, kind="FAILED", outcome="failure", error_type="portal_timeout")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert "page_source/x.html" not in names  # page sources only with debug
    assert manifest["route"] == "/get_containers" and manifest["error_type"] == "portal_timeout"
    assert manifest["request"] == {"target_count": 5} and manifest["duration_s"] >= 4
    assert manifest["steps"][0]["name"] == "open"


def test_manifest_never_holds_a_whole_session_id(tmp_path: Path) -> None:
    """Session ids are bearer tokens (API_SPEC 2): the manifest names them shortened as logs do,
    also where the request carried one (``session_id``, ``appointment_session_id``)."""
    sid = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg"
    appt = "appt_1764012600_Jv5BqLbqkUoZPEkY5fCIcg"
    ctx = SimpleNamespace(request_id="req_1", route="/make_appointment", session=SimpleNamespace(session_id=sid),
                          session_dir=tmp_path, started_at=WHEN, steps=[], screenshot_paths=[], attachments=[],
                          page_sources={}, debug=False, log=SimpleNamespace(lines=[]),
                          params={"session_id": sid, "appointment_session_id": appt, "terminal": "TTI"})
    path = write_bundle(ctx, kind="FAILED", outcome="failure", error_type="portal_timeout")
    with zipfile.ZipFile(path) as zf:
        text = zf.read("manifest.json").decode()
    manifest = json.loads(text)
    assert sid not in text and "JpJZ6krlXaZW5Rhlo" not in text and appt not in text
    assert manifest["session_id"].startswith("session_1764012345_JpJZ6k")
    assert manifest["request"]["appointment_session_id"].startswith("appt_1764012600_Jv5BqL")
    assert manifest["request"]["terminal"] == "TTI"
