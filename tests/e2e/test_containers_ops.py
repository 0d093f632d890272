"""Container routes end to end: HTTP service -> real headless Chromium -> sandbox portal (fast profile).

Replays the v1 clients' requests of API_SPEC 7 items 7-24 in spirit and checks answers against the
sandbox's admin oracle (tests may use admin endpoints as oracles; the service never does).
Full infinite scrolls (~450 rows each) are limited to three: the infinite listing, one container
not in the account, and the bulk call's missing item.
"""
from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from emodal.operations.containers import HEADERS

pytestmark = pytest.mark.timeout(600)

MSCU = "MSCU1000017"      # jdoe, first batch, ON VESSEL: only the first milestone done
CAIU = "CAIU3000032"      # jdoe, GATE OUT: Pregate completed
TRHU = "TRHU4000040"      # jdoe, export, booking RICFEM100200
HDMU = "HDMU5000052"      # jdoe, unknown row: all N/A, no arrow
TCLU = "TCLU9000099"      # jdoe, row >= 300
EISU = "EISU8000080"      # asmith's: not in jdoe's account
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def oracle(sandbox: Any) -> dict[str, dict[str, Any]]:
    return {c["number"]: c for c in sandbox.admin.get("accounts/jdoe/containers")["containers"]}


@pytest.fixture(scope="module")
def sid(jdoe_session: dict[str, Any]) -> str:
    return jdoe_session["session_id"]


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["is_new_session"] is False
    assert isinstance(body["screenshots"], list)
    return body


def failed(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error_type"] == error_type
    assert isinstance(body["error"], str) and body["request_id"]
    return body


def expected_timeline(entry: dict[str, Any]) -> list[dict[str, str]]:
    return [{"milestone": m["name"], "date": m["date"], "status": "completed" if m["completed"] else "pending"}
            for m in entry["timeline"]]


# --- validation before any login (items 20-22, 6.1) -------------------------------------------------
@pytest.mark.parametrize("route", ["/get_container_timeline", "/get_booking_number"])
@pytest.mark.parametrize("number,reason", [("MSCU516575", "format"), ("MSCU5165757", "check_digit")])
def test_invalid_numbers_fail_before_login(client, service, credentials, route: str, number: str,
                                           reason: str) -> None:
    before = len(service.registry.list(None))
    body = failed(client.post(route, json={**credentials("asmith"), "container_id": number}),
                  400, "invalid_container_number")
    assert body["details"]["reason"] == reason
    if reason == "check_digit":
        assert body["details"]["expected"] == 6
    assert "session_id" not in body
    assert len(service.registry.list(None)) == before  # no login was started


def test_bulk_validation_before_login(client, service, credentials) -> None:
    before = len(service.registry.list(None))
    body = failed(client.post("/get_info_bulk", json={**credentials("asmith"), "import_containers": [MSCU, "BAD1"],
                                                      "export_containers": ["MSCU5165757"]}),
                  400, "invalid_container_number")
    assert [i["value"] for i in body["details"]["invalid"]] == ["BAD1", "MSCU5165757"]
    body = failed(client.post("/get_info_bulk", json={**credentials("asmith"), "import_containers": []}),
                  400, "missing_fields")
    assert body["error"] == "At least one of 'import_containers' or 'export_containers' must be provided"
    too_many = [MSCU] * (service.settings.bulk_max_containers + 1)
    failed(client.post("/get_info_bulk", json={**credentials("asmith"), "import_containers": too_many}),
           400, "invalid_field")
    assert len(service.registry.list(None)) == before


def test_replay_items_20_to_22(client, sid: str) -> None:
    body = failed(client.post("/get_booking_number", json={"session_id": sid}), 400, "missing_fields")
    assert body["error"] == "Missing required field: container_id"
    body = failed(client.post("/get_booking_number", json={"session_id": "invalid_session_123",
                                                           "container_id": "MSCU5165756"}),
                  400, "session_not_found")
    assert body["error"] == "Invalid or expired session_id"
    body = failed(client.post("/get_booking_number", data="not json",
                              headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert body["error"] == "Request must be JSON"


def test_containers_field_errors(client, sid: str) -> None:
    for field in ({"target_count": "abc"}, {"target_count": 0}, {"infinite_scrolling": 2}):
        failed(client.post("/get_containers", json={"session_id": sid, **field}), 400, "invalid_field")


# --- timeline and booking (items 16-19) -------------------------------------------------------------
def test_timeline_matches_oracle(client, sid: str, oracle) -> None:
    body = ok(client.post("/get_container_timeline", json={"session_id": sid, "container_id": MSCU,
                                                            "debug": False}))
    assert body["container_id"] == MSCU
    assert body["timeline"] == expected_timeline(oracle[MSCU])
    assert body["milestone_count"] == len(oracle[MSCU]["timeline"]) == 9
    assert body["passed_pregate"] is False and body["pregate_status"] == "pending"
    assert body["detection_method"] == "dom_class_check"
    assert body["screenshots"] == []


def test_timeline_with_debug_bundle_and_alias(client, sid: str, oracle) -> None:
    body = ok(client.post("/get_container_timeline", json={"session_id": sid, "container": CAIU.lower(),
                                                            "debug": "true"}))
    assert body["timeline"] == expected_timeline(oracle[CAIU])
    assert body["passed_pregate"] is True and body["pregate_status"] == "completed"
    pregate = next(m for m in oracle[CAIU]["timeline"] if m["name"] == "Pregate")
    assert body["pregate_date"] == pregate["date"]
    assert body["debug_bundle_url"].startswith("http") and body["debug_bundle_path"].startswith("/files/")
    assert client.get(body["debug_bundle_url"]).headers["Content-Type"] == "application/zip"
    assert any(url.endswith("_row_expanded.png") for url in body["screenshots"])


def test_booking_number(client, sid: str) -> None:
    body = ok(client.post("/get_booking_number", json={"session_id": sid, "container_id": TRHU}))
    assert (body["container_id"], body["booking_number"], body["booking_source"]) == (TRHU, "RICFEM100200", "field")
    body = ok(client.post("/get_booking_number", json={"session_id": sid, "container_id": MSCU}))
    assert body["booking_number"] is None and body["booking_source"] is None
    assert body["message"] == "Booking number not available"


def test_unknown_row_gives_clean_answers(client, sid: str) -> None:
    body = ok(client.post("/get_container_timeline", json={"session_id": sid, "container_id": HDMU}))
    assert body["timeline"] == [] and body["milestone_count"] == 0
    assert body["passed_pregate"] is None and body["pregate_status"] is None
    body = ok(client.post("/get_booking_number", json={"session_id": sid, "container_id": HDMU}))
    assert body["booking_number"] is None


def test_container_not_in_account_is_404(client, sid: str) -> None:
    body = failed(client.post("/get_container_timeline", json={"session_id": sid, "container_id": EISU}),
                  404, "container_not_found")
    assert body["error"] == f"Container '{EISU}' not found after scrolling"
    assert "scroll cycles" in body["details"]
    assert body["session_id"] == sid and body["is_new_session"] is False


# --- /get_containers (items 7-15) ---------------------------------------------------------------------
def test_count_mode_with_legacy_fields(client, sid: str, oracle) -> None:
    body = ok(client.post("/get_containers", json={"session_id": sid, "infinite_scrolling": False, "target_count": 30,
                                                   "return_url": True, "mode": "count",
                                                   "capture_screens": True, "screens_label": "ops"}))
    assert body["work_mode"] == "count"
    assert body["total_containers"] >= 30
    # Deprecated aliases v1 clients read (API_SPEC 4.16); the dispatcher reads containers_count.
    assert body["container_count"] == body["containers_count"] == body["total_containers"]
    assert body["stopped_reason"] == "Target count 30 reached"
    assert isinstance(body["scroll_cycles"], int) and body["scroll_cycles"] >= 1
    assert body["excel_url"] == body["download_url"] == body["file_url"]
    assert body["bundle_url"] == body["debug_bundle_url"]  # capture_screens = debug
    download = client.get(body["file_url"])
    assert download.headers["Content-Type"] == XLSX and len(download.content) == body["file_size"]
    sheet = load_workbook(io.BytesIO(download.content))["Containers"]
    assert [c.value for c in sheet[1]] == list(HEADERS)
    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == [c for c in oracle][: len(numbers)]


def test_target_container_found_during_scroll_json(client, sid: str, oracle) -> None:
    body = ok(client.post("/get_containers", json={"session_id": sid, "infinite_scrolling": False,
                                                   "target_container_id": TCLU, "format": "json"}))
    assert body["work_mode"] == "id" and body["target_found"] is True
    assert body["found_target_container"] == TCLU
    assert body["stopped_reason"] == f"Container {TCLU} found (during scroll)"
    assert body["columns"][0] == {"key": "container_number", "header": "Container #"}
    rows = {c["container_number"]: c for c in body["containers"]}
    assert len(rows) == body["total_containers"] > oracle[TCLU]["row"]
    assert rows[TCLU]["badge"] == "L" and rows[TCLU]["size_type"] == "20GP"
    assert rows[MSCU]["holds"] == "YES" and rows[HDMU]["badge"] is None
    assert rows[HDMU]["status"] == "N/A"


def test_target_in_first_batch_is_found_pre_scroll(client, sid: str) -> None:
    body = ok(client.post("/get_containers", json={"session_id": sid, "target_container_id": MSCU,
                                                   "return_url": True}))
    assert body["stopped_reason"] == f"Container {MSCU} found (pre-scroll)" and body["scroll_cycles"] == 0


def test_default_file_body_first_page(client, sid: str) -> None:
    response = client.post("/get_containers", json={"session_id": sid, "infinite_scrolling": False})
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"] == XLSX
    assert response.headers["X-Session-Id"] == sid
    assert response.headers["X-Is-New-Session"] == "false"
    assert 'filename="containers_scraped_' in response.headers["Content-Disposition"]
    assert response.headers["X-File-Url"].startswith("http")
    sheet = load_workbook(io.BytesIO(response.content))["Containers"]
    assert sheet.max_row - 1 == int(response.headers["X-Total-Containers"]) == 24


def test_infinite_scroll_loads_everything(client, sid: str, oracle) -> None:
    body = ok(client.post("/get_containers", json={"session_id": sid, "infinite_scrolling": True,
                                                   "format": "json"}))
    assert body["work_mode"] == "infinite"
    assert body["total_containers"] == len(oracle)
    assert body["stopped_reason"] == "No new rows after 3 scroll cycles"
    assert [c["container_number"] for c in body["containers"]] == list(oracle)
    assert [c["badge"] for c in body["containers"]] == [o["badge"] or None for o in oracle.values()]
    assert [c["trade_type"] for c in body["containers"]] == [o["trade_type"] for o in oracle.values()]


# --- bulk (items 23-24) -------------------------------------------------------------------------------
def test_bulk_mixed_items(client, sid: str, oracle) -> None:
    body = ok(client.post("/get_info_bulk", json={
        "session_id": sid, "debug": False,
        "import_containers": [MSCU, CAIU, MSCU.lower(), EISU],
        "export_containers": [TRHU, MSCU]}))
    results = body["results"]
    assert [r["container_id"] for r in results["import_results"]] == [MSCU, CAIU, EISU]
    mscu, caiu, eisu = results["import_results"]
    assert mscu["success"] and mscu["pregate_status"] is False and mscu["timeline"] == expected_timeline(oracle[MSCU])
    assert caiu["pregate_status"] is True and caiu["pregate_details"]["milestone"] == "Pregate"
    assert caiu["milestone_count"] == len(oracle[CAIU]["timeline"])
    assert eisu["success"] is False and eisu["error_type"] == "container_not_found" and eisu["timeline"] == []
    assert [(r["container_id"], r["booking_number"]) for r in results["export_results"]] == [
        (TRHU, "RICFEM100200"), (MSCU, None)]
    assert results["summary"] == {"total_import": 3, "total_export": 2, "import_success": 2, "import_failed": 1,
                                  "export_success": 2, "export_failed": 0}
    assert body["message"] == "Bulk processing completed: 4 successful, 1 failed"


def test_bulk_with_debug_returns_bundle(client, sid: str) -> None:
    body = ok(client.post("/get_info_bulk", json={"session_id": sid, "debug": True,
                                                  "import_containers": [MSCU], "export_containers": [TRHU]}))
    assert "BULK" in body["debug_bundle_url"]
    assert body["results"]["summary"]["import_success"] == 1


# --- fresh credentials, isolation, recovery ---------------------------------------------------------------
def test_fresh_credentials_isolation_and_recovery(client, sandbox, credentials) -> None:
    """A regular asmith session made by a business call (items 10, 12, 18). The forced portal logout
    uses asmith, whose only login is this one, so no other test's browser is logged out."""
    body = client.post("/get_container_timeline", json={**credentials("asmith"), "container_id": EISU,
                                                        "keep_browser_alive": False}).json()
    try:
        assert body["success"] is True and body["is_new_session"] is True, body
        assert body["milestone_count"] > 0
        # isolation: jdoe's container is not in asmith's grid
        failed(client.post("/get_booking_number", json={"session_id": body["session_id"], "container_id": TRHU}),
               404, "container_not_found")
        again = ok(client.post("/get_info_bulk", json={**credentials("asmith"), "export_containers": ["MEDU1100115"]}))
        assert again["session_id"] == body["session_id"]
        assert again["results"]["export_results"][0]["booking_number"] == "510000123"
        # A lapsed portal login mid-operation: re-login under the same id and one retry (3.6).
        sandbox.admin.logout("asmith")
        recovered = ok(client.post("/get_booking_number", json={"session_id": body["session_id"],
                                                                "container_id": "MEDU1100115"}))
        assert recovered["session_recovered"] is True and recovered["session_id"] == body["session_id"]
        assert recovered["booking_number"] == "510000123"
    finally:
        client.delete(f"/sessions/{body['session_id']}")
