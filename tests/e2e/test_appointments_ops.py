"""The appointment routes end to end: service -> real headless Chromium -> sandbox wizard.

Oracles come from the sandbox admin API (slot capacity, the account's appointments), never from
the service's own answers. Booking tests run last in this module and the module's teardown resets
the sandbox (bookings consume shared capacity); the shared jdoe session re-logs in transparently.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
import requests

TTI = "Total Terminals Intl LLC"
TRAPAC = "TraPac LLC - Los Angeles"
COMPANY = "B & T DRAYAGE LLC"
PICK_FULL = {"trucking_company": COMPANY, "terminal": TTI, "move_type": "PICK FULL",
             "container_id": "TGBU2000026", "truck_plate": "9E51234"}
EXPORT = {"container_type": "export", "trucking_company": COMPANY, "terminal": TRAPAC,
          "move_type": "DROP FULL", "truck_plate": "9E51234", "unit_number": "MSCU5165756",
          "seal_value": "1"}


@pytest.fixture(scope="module")
def sid(jdoe_session: dict[str, Any]) -> str:
    return jdoe_session["session_id"]


@pytest.fixture(scope="module", autouse=True)
def reset_after_module(sandbox: Any):
    yield
    sandbox.admin.reset()  # bookings made here consume capacity shared by every test module


def post(client: Any, route: str, sid: str, **fields: Any) -> Any:
    response = client.post(route, json={"session_id": sid, **fields})
    return response, response.json()


def offered(sandbox: Any, terminal: str) -> list[str]:
    """The oracle: slot texts with capacity left, in the portal's order."""
    return [s["slot"] for s in sandbox.admin.get(f"slots?terminal={quote(terminal)}")["slots"] if s["capacity"] > 0]


def capacity(sandbox: Any, terminal: str, slot: str) -> int:
    return next(s["capacity"] for s in sandbox.admin.get(f"slots?terminal={quote(terminal)}")["slots"] if s["slot"] == slot)


def booked(sandbox: Any) -> list[dict[str, Any]]:
    return [a for a in sandbox.admin.get("accounts/jdoe/appointments")["appointments"]
            if a["container"] == "TGBU2000026" and a["move_type"] == "PICK FULL" and a["status"] == "CONFIRMED"]


# --- static errors: no browser, no session needed ---------------------------------------------------
def test_make_without_fields_names_the_v1_missing_list(client: Any, credentials: Any) -> None:
    response = client.post("/make_appointment", json={**credentials("jdoe"), "keep_browser_alive": True,
                                                       "capture_screens": True, "return_url": True})
    body = response.json()
    assert response.status_code == 400 and body["error_type"] == "missing_fields"
    assert body["error"] == ("Missing required fields: trucking_company, terminal, move_type, container_id, "
                             "truck_plate, appointment_time")


def test_bad_container_type_and_move_type_are_400(client: Any, sid: str) -> None:
    response, body = post(client, "/check_appointments", sid, **PICK_FULL, container_type="both")
    assert response.status_code == 400 and body["error"] == "container_type must be 'import' or 'export'"
    response, body = post(client, "/check_appointments", sid, **{**PICK_FULL, "move_type": "Import"})
    assert response.status_code == 400 and body["error_type"] == "invalid_field"
    assert body["details"]["allowed"] == ["PICK FULL", "DROP FULL", "PICK EMPTY", "DROP EMPTY"]


def test_conflicting_idempotency_keys_are_400(client: Any, sid: str) -> None:
    response = client.post("/make_appointment", headers={"Idempotency-Key": "a"},
                           json={"session_id": sid, **PICK_FULL, "appointment_time": "x", "idempotency_key": "b"})
    assert response.status_code == 400 and response.json()["error_type"] == "invalid_field"


# --- checks ----------------------------------------------------------------------------------------
def test_check_import_returns_the_portal_slots(client: Any, sandbox: Any, sid: str) -> None:
    response, body = post(client, "/check_appointments", sid, **PICK_FULL)
    assert response.status_code == 200, body
    assert body["available_times"] == offered(sandbox, TTI)
    assert body["count"] == len(body["available_times"]) > 0
    assert body["selected"]["terminal"] == TTI and body["selected"]["truck_plate"] == "9E51234"
    assert body["appointment_session_id"].startswith("appt_") and body["current_phase"] == 3
    assert body["portal_info"].startswith("Check-In for this visit should be completed by")
    assert body["dropdown_screenshot_url"].endswith("_appointment_dropdown_opened.png")
    assert client.get(body["dropdown_screenshot_url"]).status_code == 200


def test_unknown_terminal_lists_every_option(client: Any, sid: str) -> None:
    response, body = post(client, "/check_appointments", sid, **{**PICK_FULL, "terminal": "Total Terminals"})
    assert response.status_code == 422 and body["error_type"] == "option_not_available"
    assert body["field"] == "terminal" and len(body["available_options"]) == 18
    assert TTI in body["available_options"] and body["current_phase"] == 1
    assert body["appointment_session_id"].startswith("appt_")


def test_plate_not_offered_is_422_without_fallback(client: Any, sid: str) -> None:
    response, body = post(client, "/check_appointments", sid, **{**PICK_FULL, "truck_plate": "ZZ99999"})
    assert response.status_code == 422 and body["field"] == "truck_plate"
    assert body["available_options"] == ["9E51234", "9E47781", "8Z30516", "7W92204"]


def test_v1_placeholder_plate_picks_the_first_plate_on_checks_only(client: Any, sid: str) -> None:
    response, body = post(client, "/check_appointments", sid, **{**PICK_FULL, "truck_plate": "ABC123"})
    assert response.status_code == 200, body
    assert body["selected"]["truck_plate"] == "9E51234"
    response, body = post(client, "/make_appointment", sid, **{**PICK_FULL, "truck_plate": "ABC123",
                                                               "appointment_time": "Monday 01/04/2027 09:00 - 10:00"})
    assert response.status_code == 422 and body["field"] == "truck_plate" and not body.get("submitted")


def test_field_refused_by_the_portal_is_portal_rejected_with_its_text(client: Any, sid: str) -> None:
    # v1 clients send unit_number "1"; this portal wants a container number there for DROP FULL.
    response, body = post(client, "/check_appointments", sid, **{**EXPORT, "unit_number": "1"},
                          booking_number="RICFEM100200")
    assert response.status_code == 422 and body["error_type"] == "portal_rejected", body
    assert body["current_phase"] == 2 and body["portal_message"] and body["appointment_session_id"]


def test_export_check_reads_the_calendar(client: Any, sandbox: Any, sid: str) -> None:
    response, body = post(client, "/check_appointments", sid, **EXPORT, booking_number="RICFEM100200", debug=True)
    assert response.status_code == 200, body
    assert body["phase_data"]["booking_number"] == "RICFEM100200" and body["phase_data"]["seal_value"] == "1"
    assert any(url.endswith("_phase_2_loaded.png") for url in body["screenshots"])  # debug: every step
    assert client.get(body["debug_bundle_url"]).content[:2] == b"PK"
    assert body["calendar_found"] is True and body["count"] == len(body["available_dates"]) > 0
    oracle_days = sorted({s["date"] for s in sandbox.admin.get(f"slots?terminal={quote(TRAPAC)}")["slots"]
                          if s["capacity"] > 0})
    assert body["available_dates"] == oracle_days
    assert body["calendar_screenshot_url"].endswith("_calendar_opened.png")


@pytest.mark.browser
@pytest.mark.parametrize("container", [{"container_id": "TCLU3648865"}, {"container_number": "tclu 3648865"}])
def test_export_check_without_unit_number_types_the_container(client: Any, sid: str,
                                                              container: dict[str, str]) -> None:
    # v1 clients leave unit_number out; "1" is refused for DROP FULL, the container being delivered is not.
    fields = {k: v for k, v in EXPORT.items() if k != "unit_number"}
    response, body = post(client, "/check_appointments", sid, **fields, **container, booking_number="RICFEM100200")
    assert response.status_code == 200, body
    assert body["calendar_found"] is True and body["count"] > 0
    assert body["phase_data"]["unit_number"] == "TCLU3648865"


def test_refused_booking_number_is_portal_rejected(client: Any, sid: str) -> None:
    response, body = post(client, "/check_appointments", sid, **EXPORT, booking_number="RICFEM100300")
    assert response.status_code == 422 and body["error_type"] == "portal_rejected"
    assert body["portal_message"] == body["error_message"] == "No open transactions for this booking number."
    assert body["error"] == "Booking number validation failed"


def test_line_equip_form_asks_then_resumes(client: Any, sid: str) -> None:
    fields = {"trucking_company": COMPANY, "terminal": TRAPAC, "move_type": "DROP EMPTY",
              "container_id": "CAIU3000032", "truck_plate": "9E51234"}
    response, body = post(client, "/check_appointments", sid, **fields)
    assert response.status_code == 400 and body["error_type"] == "missing_fields", body
    assert body["details"]["missing"] == ["line", "equip_size"] and body["current_phase"] == 1
    appt = body["appointment_session_id"]
    response, body = post(client, "/check_appointments", sid, container_type="import",
                          appointment_session_id=appt, line="MSC", equip_size="40DH")
    assert response.status_code == 200, body
    assert body["appointment_session_id"] == appt and body["resumed"] is True
    assert body["selected"]["line"] == "MSC" and body["selected"]["equip_size"] == "40DH"
    assert isinstance(body["available_times"], list)


# --- bookings (capacity consumed; the module teardown resets the sandbox) -----------------------------
def test_not_offered_time_books_nothing(client: Any, sandbox: Any, sid: str) -> None:
    response, body = post(client, "/make_appointment", sid, **PICK_FULL, appointment_time="2025-10-10 10:00")
    assert response.status_code == 422 and body["error_type"] == "slot_not_available"
    assert body["available_times"] == offered(sandbox, TTI) and body.get("submitted") is False
    assert booked(sandbox) == []


def test_slot_taken_at_submit_is_slot_not_available(client: Any, sandbox: Any, sid: str) -> None:
    checked = post(client, "/check_appointments", sid, **PICK_FULL)[1]
    slot = checked["available_times"][-1]
    before = capacity(sandbox, TTI, slot)
    sandbox.admin.put("slots", {"terminal": TTI, "slot": slot, "capacity": 0})  # taken by someone else
    try:
        response, body = post(client, "/make_appointment", sid, appointment_time=slot,
                              appointment_session_id=checked["appointment_session_id"])
    finally:
        sandbox.admin.put("slots", {"terminal": TTI, "slot": slot, "capacity": before})
    assert response.status_code == 422 and body["error_type"] == "slot_not_available", body
    assert body["submitted"] is True and body["appointment_confirmed"] is False
    assert slot not in body["available_times"] and body["portal_message"]
    assert "appointment_session_id" not in body and booked(sandbox) == []


def test_booking_confirms_consumes_capacity_and_replays_by_key(client: Any, sandbox: Any, sid: str) -> None:
    # The check leaves the wizard at step 3; the booking continues it (4.7 Resume) by its id.
    checked = post(client, "/check_appointments", sid, **PICK_FULL)[1]
    slot = checked["available_times"][0]
    before = capacity(sandbox, TTI, slot)
    request = {"session_id": sid, "appointment_session_id": checked["appointment_session_id"],
               "appointment_time": slot}
    response = client.post("/make_appointment", json=request, headers={"Idempotency-Key": "e2e-book-1"})
    body = response.json()
    assert response.status_code == 200, body
    assert body["appointment_confirmed"] is True and body["idempotent_replay"] is False
    assert body["resumed"] is True and body["appointment_details"]["terminal"] == TTI
    [appointment] = booked(sandbox)
    assert body["confirmation_number"] == appointment["number"]
    assert body["appointment_details"]["appointment_time"] == slot
    assert capacity(sandbox, TTI, slot) == before - 1
    assert body["confirmation_screenshot_url"].endswith("_confirmation.png") and body["debug_bundle_url"]

    again = client.post("/make_appointment", json=request, headers={"Idempotency-Key": "e2e-book-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["idempotent_replay"] is True
    assert again.json()["confirmation_number"] == body["confirmation_number"]
    assert len(booked(sandbox)) == 1 and capacity(sandbox, TTI, slot) == before - 1

    other = client.post("/make_appointment", json={**request, "truck_plate": "9E47781"},
                        headers={"Idempotency-Key": "e2e-book-1"})
    assert other.status_code == 422 and other.json()["error_type"] == "idempotency_conflict"
    # The same key and fields for another wizard is another booking: a conflict, never this
    # booking's confirmation replayed (issue 15 item 5; nothing runs either way).
    elsewhere = client.post("/make_appointment", headers={"Idempotency-Key": "e2e-book-1"}, json={
        **request, "appointment_session_id": "appt_1764012600_AnotherWizardOfTheClient"})
    assert elsewhere.status_code == 422 and elsewhere.json()["error_type"] == "idempotency_conflict"
    assert len(booked(sandbox)) == 1

    listed = client.post("/get_appointments", json={"session_id": sid, "infinite_scrolling": False,
                                                    "target_appointment_id": body["confirmation_number"],
                                                    "format": "json"}).json()
    assert listed["found_target_appointment"] == body["confirmation_number"], listed
    assert any(body["confirmation_number"] in row.values() for row in listed["appointments"])


def test_duplicate_booking_is_rejected_with_the_portal_text(client: Any, sandbox: Any, sid: str) -> None:
    assert len(booked(sandbox)) == 1  # from the previous test
    response, body = post(client, "/make_appointment", sid, **PICK_FULL, appointment_time=offered(sandbox, TTI)[0])
    assert response.status_code == 422 and body["error_type"] == "portal_rejected"
    assert "TGBU2000026" in body["portal_message"] and len(booked(sandbox)) == 1


# --- My Appointments -------------------------------------------------------------------------------------
def test_get_appointments_count_and_json(client: Any, sandbox: Any, sid: str) -> None:
    oracle = sandbox.admin.get("accounts/jdoe/appointments")["appointments"]
    response, body = post(client, "/get_appointments", sid, infinite_scrolling=False, target_count=25,
                          format="json")
    assert response.status_code == 200, body
    assert body["work_mode"] == "count" and body["selected_count"] == 25
    assert body["stopped_reason"] == "Target count 25 reached" and body["scroll_cycles"] >= 1
    assert [row["Appointment #"] for row in body["appointments"]] == [a["number"] for a in oracle[:25]]
    assert body["file_name"].startswith("appointments_") and body["file_size"] > 0
    download = client.get(body["file_url"])
    assert download.status_code == 200 and download.content[:2] == b"PK"


def test_get_appointments_infinite_json_and_xlsx_body(client: Any, sandbox: Any, sid: str) -> None:
    oracle = sandbox.admin.get("accounts/jdoe/appointments")["appointments"]
    response, body = post(client, "/get_appointments", sid, format="json")
    assert response.status_code == 200, body
    assert body["work_mode"] == "infinite" and body["selected_count"] == len(oracle) > 20
    assert body["stopped_reason"] == "No new rows after 3 scroll cycles"
    assert [row["Appointment #"] for row in body["appointments"]] == [a["number"] for a in oracle]
    response = client.post("/get_appointments", json={"session_id": sid, "infinite_scrolling": False,
                                                      "format": "xlsx"})
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert response.headers["X-Session-Id"] == sid
    assert "attachment" in response.headers["Content-Disposition"]


def test_no_confirmation_in_time_is_504_with_outcome_unknown(make_service: Any, credentials: Any,
                                                              sandbox: Any) -> None:
    """Guarantee 3 of API_SPEC 4.8: Submit clicked, no Confirmation within CONFIRMATION_TIMEOUT ->
    504, submitted, outcome unknown; and never retried (the portal books it once, later)."""
    service = make_service(confirmation_timeout=2)
    its = "ITS Long Beach"
    request = {**credentials("asmith"), "trucking_company": "SUNSET INTERMODAL INC", "terminal": its,
               "move_type": "PICK FULL", "container_id": "EISU8000080", "truck_plate": "6F11873"}
    check = requests.post(f"{service.base_url}/check_appointments", json=request, timeout=300).json()
    assert check["success"] and check["available_times"], check
    before = len(sandbox.admin.get("accounts/asmith/appointments")["appointments"])
    sandbox.admin.add_fault(type="slow", target="xhr", count=1, delay_ms=6000, path_contains="visit/submit")
    try:
        response = requests.post(f"{service.base_url}/make_appointment", timeout=300, json={
            **request, "appointment_session_id": check["appointment_session_id"],
            "appointment_time": check["available_times"][0]})
        body = response.json()
        assert response.status_code == 504 and body["error_type"] == "portal_timeout", body
        assert body["submitted"] is True and body["outcome"] == "unknown" and "get_appointments" in body["message"]
        # The slow Submit still lands once: exactly one new appointment, no second attempt.
        wait_until = time.monotonic() + 30
        while time.monotonic() < wait_until and \
                len(sandbox.admin.get("accounts/asmith/appointments")["appointments"]) == before:
            time.sleep(0.5)
        assert len(sandbox.admin.get("accounts/asmith/appointments")["appointments"]) == before + 1
    finally:
        sandbox.admin.clear_faults()
