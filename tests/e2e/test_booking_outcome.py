"""A booking whose answer is lost after Submit (API_SPEC 4.8; issue 15 item 1), end to end.

Whatever fails once Submit was clicked (here: the browser killed by /emergency_recovery while the
portal is still processing the Submit, and a disk error writing the confirmation screenshot),
the answer is 504 with ``submitted: true, outcome: "unknown"``, the metrics count it as
``unknown``, the idempotency record stays ``submitting`` so the same key answers 409, and
nothing is submitted twice. Oracles: the sandbox's appointments list. Each test runs its own
service (metrics start at zero; emergency recovery must not close the shared session).
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
import requests

from emodal.operations import runner

pytestmark = pytest.mark.browser

ASMITH = {"trucking_company": "SUNSET INTERMODAL INC", "terminal": "ITS Long Beach", "truck_plate": "6F11873"}
TIMEOUT = 300


@pytest.fixture(scope="module", autouse=True)
def reset_after_module(sandbox: Any):
    yield
    sandbox.admin.reset()  # the bookings made here consume capacity shared by other modules


def appointments(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.admin.get("accounts/asmith/appointments")["appointments"]


def counted(service: Any) -> dict[str, float]:
    text = requests.get(f"{service.base_url}/metrics", timeout=30).text
    return {m[0]: float(m[1]) for m in re.findall(r'emodal_appointments_total\{[^}]*result="(\w+)"[^}]*\} ([\d.]+)', text)}


def checked_booking(service: Any, credentials: Any, **move: str) -> dict[str, Any]:
    """A /make_appointment request continuing a fresh check at step 3 (first offered slot)."""
    request = {**credentials("asmith"), **ASMITH, **move}
    check = requests.post(f"{service.base_url}/check_appointments", json=request, timeout=TIMEOUT).json()
    assert check["success"] and check["available_times"], check
    return {**request, "appointment_session_id": check["appointment_session_id"],
            "appointment_time": check["available_times"][0]}


def book(service: Any, booking: dict[str, Any], key: str) -> requests.Response:
    return requests.post(f"{service.base_url}/make_appointment", json=booking, headers={"Idempotency-Key": key},
                         timeout=TIMEOUT)


def assert_outcome_unknown(response: requests.Response) -> None:
    body = response.json()
    assert response.status_code == 504 and body["error_type"] == "portal_timeout", body
    assert body["submitted"] is True and body["outcome"] == "unknown" and body["appointment_confirmed"] is False
    assert body["details"]["reason"] == "outcome_unknown" and "get_appointments" in body["message"]


def assert_replay_is_409(service: Any, booking: dict[str, Any], key: str) -> None:
    again = book(service, booking, key)
    body = again.json()
    assert again.status_code == 409 and body["error_type"] == "idempotency_conflict", body
    assert body["details"]["reason"] == "outcome_unknown" and body["submitted"] is True


def test_browser_killed_during_the_confirmation_wait(make_service: Any, credentials: Any, sandbox: Any) -> None:
    service = make_service(confirmation_timeout=120)
    booking = checked_booking(service, credentials, move_type="PICK FULL", container_id="EISU8000080")
    before = len(appointments(sandbox))
    sandbox.admin.add_fault(type="slow", target="xhr", count=1, delay_ms=4000, path_contains="visit/submit")
    answer: dict[str, requests.Response] = {}
    caller = threading.Thread(target=lambda: answer.update(response=book(service, booking, "kill-1")))
    try:
        caller.start()
        deadline = time.monotonic() + TIMEOUT
        while sandbox.admin.get("faults")["faults"] and time.monotonic() < deadline:
            time.sleep(0.2)  # the Submit XHR took the fault: the portal is processing it now
        killed = requests.post(f"{service.base_url}/emergency_recovery", timeout=60).json()
        assert killed["success"] and killed["killed_count"] >= 1, killed
        caller.join(TIMEOUT)
    finally:
        sandbox.admin.clear_faults()
    assert_outcome_unknown(answer["response"])
    assert counted(service) == {"unknown": 1.0}
    assert_replay_is_409(service, booking, "kill-1")
    # The Submit the portal received lands once; nothing submitted it a second time.
    deadline = time.monotonic() + 30
    while len(appointments(sandbox)) == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(appointments(sandbox)) == before + 1


def test_disk_error_on_the_confirmation_screenshot(make_service: Any, credentials: Any, sandbox: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    service = make_service()
    booking = checked_booking(service, credentials, move_type="DROP EMPTY", container_id="SEGU1200126")
    before = len(appointments(sandbox))
    real_capture = runner._capture

    def disk_full_at_confirmation(ctx: Any, tag: str, container: str | None) -> Any:
        if tag == "confirmation":
            raise OSError(28, "No space left on device")
        return real_capture(ctx, tag, container)

    monkeypatch.setattr(runner, "_capture", disk_full_at_confirmation)
    response = book(service, booking, "disk-1")
    assert_outcome_unknown(response)
    assert len(appointments(sandbox)) == before + 1  # the portal did book: a retry would book twice
    assert counted(service) == {"unknown": 1.0}
    assert_replay_is_409(service, booking, "disk-1")
    assert len(appointments(sandbox)) == before + 1
