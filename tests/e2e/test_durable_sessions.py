"""Durable sessions end to end (issue 10): the real entry point as a subprocess, stopped and started
again on the same STATE_DIR, against the test's own sandbox (which outlives the service, as the real
portal does). The sandbox's admin API is the oracle: solver tasks created, portal sessions."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emodal.state import SecretBox, new_key
from emodal.state.sealed import SEALED
from tests.e2e.conftest import PASSWORDS, SOLVER_KEY, eventually
from tests.e2e.service_process import Service, alive, launch

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

JSON_FIRST_PAGE = {"infinite_scrolling": False, "format": "json"}
WIZARD = {"trucking_company": "SUNSET INTERMODAL INC", "terminal": "ITS Long Beach", "move_type": "PICK FULL",
          "container_id": "EISU8000080", "truck_plate": "6F11873"}


def login(username: str = "jdoe") -> dict[str, str]:
    return {"username": username, "password": PASSWORDS[username], "captcha_api_key": SOLVER_KEY}


def solver_tasks(sandbox: Any) -> int:
    return sandbox.admin.solver_tasks()["tasks_created"]


def portal_sessions(sandbox: Any, username: str) -> set[str]:
    return {s["id"] for s in sandbox.admin.get("sessions")["sessions"] if s["username"] == username}


def restores(service: Service) -> dict[str, float]:
    text = service.get("/metrics").text
    return {line.split('result="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("emodal_restores_total{")}


# --- restarts -----------------------------------------------------------------------------------------
def test_sigkill_restart_serves_the_old_id_from_the_portal_cookies(start: Any, sandbox: Any) -> None:
    first = start()
    created = first.post("/get_session", **login("jdoe")).json()
    sid = created["session_id"]
    assert created["is_new"] is True, created
    browsers = first.browsers()
    assert len(browsers) > 1
    portal, tasks = portal_sessions(sandbox, "jdoe"), solver_tasks(sandbox)
    first.proc.kill()  # SIGKILL: nothing of the service runs at exit
    first.proc.wait(30)

    second = start()
    body = second.post("/get_containers", session_id=sid, **JSON_FIRST_PAGE).json()
    assert body["success"] is True and body["session_id"] == sid, body
    assert body["session_restored"] is True and body["is_new_session"] is False
    assert body["total_containers"] > 0
    assert solver_tasks(sandbox) == tasks                # no captcha solved
    assert portal_sessions(sandbox, "jdoe") == portal    # the portal session of the first run, no new login
    eventually(lambda: not any(alive(p) for p in browsers), 30, "the first run's browsers to be reaped")
    again = second.post("/get_containers", session_id=sid, **JSON_FIRST_PAGE).json()
    assert again["success"] is True and "session_restored" not in again  # only the first time
    [listed] = second.get("/sessions").json()["sessions"]
    assert listed["session_id"] == sid and listed["restored_at"] and listed["login_count"] == 1
    health = second.get("/health").json()
    assert health["state"] == {"backend": "sqlite", "sessions": 1, "restored": 1, "restoring": 0}
    assert restores(second) == {"cookies": 1.0}


def test_sigterm_restart_get_session_returns_the_old_id_and_the_file_holds_no_secret(
        start: Any, sandbox: Any, tmp_path: Path) -> None:
    first = start()
    sid = first.post("/get_session", **login("asmith")).json()["session_id"]
    check = first.post("/check_appointments", session_id=sid, **WIZARD).json()
    assert check["success"] and check["appointment_session_id"], check
    browsers = first.browsers()
    assert first.terminate() == 0
    assert not any(alive(p) for p in browsers)  # SIGTERM quits the browsers ...
    tasks = solver_tasks(sandbox)

    second = start()                              # ... but keeps the sessions
    again = second.post("/get_session", **login("asmith")).json()
    assert again["success"] and again["session_id"] == sid and again["is_new"] is False, again
    assert solver_tasks(sandbox) == tasks
    # The open wizard lived in the old browser's tab: its id is expired, not silently a new wizard.
    lost = second.post("/check_appointments", session_id=sid, appointment_session_id=check["appointment_session_id"],
                       **WIZARD)
    assert lost.status_code == 404 and lost.json()["error_type"] == "appointment_session_expired", lost.text
    assert "/check_appointments" in lost.json()["error"]

    state_dir = tmp_path / "downloads" / ".state"
    token = sid.split("_", 2)[2]  # session_<seconds>_<token_urlsafe>: the token itself may contain "_"
    secrets = {PASSWORDS["asmith"], SOLVER_KEY, sid, token} | cookie_values(state_dir)
    assert len(secrets) > 4  # the portal's AuthCookie and idsrv.session were stored
    copied = b"".join(p.read_bytes() for p in state_dir.glob("state.db*"))  # state.db, -wal, -shm
    assert b"asmith" in copied                   # the copy is the real thing ...
    for secret in secrets:                       # ... and holds none of the secrets in clear
        assert secret.encode() not in copied, f"{secret[:4]}... found in the database file"


def cookie_values(state_dir: Path) -> set[str]:
    """The stored cookie values, read the way only the key holder can (state.key)."""
    box = SecretBox((state_dir / "state.key").read_text().strip())
    db = sqlite3.connect(f"file:{state_dir / 'state.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT value FROM records WHERE namespace = 'sessions'").fetchall()
    finally:
        db.close()
    values = set()
    for (text,) in rows:
        sealed = box.open(json.loads(text)[SEALED])
        values |= {c["value"] for c in sealed["snapshot"]["cookies"] if len(c["value"]) >= 8}
    return values


@pytest.fixture
def clock_back(sandbox: Any) -> Iterator[list[float]]:
    moved: list[float] = []
    yield moved
    for seconds in moved:
        sandbox.admin.advance_clock(-seconds)


def test_portal_login_lapsed_while_down_comes_back_under_the_same_id_with_one_login(
        start: Any, sandbox: Any, clock_back: list[float]) -> None:
    first = start()
    sid = first.post("/get_session", **login("jdoe")).json()["session_id"]
    assert first.terminate() == 0
    idle = sandbox.admin.get("config")["knobs"]["idle_timeout_s"]
    clock_back.append(idle + 60)
    sandbox.admin.advance_clock(idle + 60)   # the portal forgot the login while the service was down
    tasks = solver_tasks(sandbox)

    second = start()
    body = second.post("/get_containers", session_id=sid, **JSON_FIRST_PAGE).json()
    assert body["success"] is True and body["session_id"] == sid and body["session_restored"] is True, body
    assert solver_tasks(sandbox) == tasks + 1    # exactly one re-login
    [listed] = second.get("/sessions").json()["sessions"]
    assert listed["login_count"] == 2 and listed["restored_at"]
    assert restores(second) == {"relogin": 1.0}


# --- keys and faults ----------------------------------------------------------------------------------
def test_wrong_key_drops_the_sessions_with_a_warning_and_new_logins_work(start: Any, sandbox: Any) -> None:
    first = start(STATE_ENCRYPTION_KEY=new_key())
    old = first.post("/get_session", **login("asmith")).json()["session_id"]
    assert first.terminate() == 0

    second = start(STATE_ENCRYPTION_KEY=new_key())
    assert "dropped" in second.log() and "STATE_ENCRYPTION_KEY" in second.log()
    assert second.get("/sessions").json()["sessions"] == []
    fresh = second.post("/get_session", **login("asmith")).json()
    assert fresh["success"] and fresh["is_new"] is True and fresh["session_id"] != old, fresh

    # A second service on the same STATE_DIR refuses to start, naming the lock; the first serves on.
    third, errors = launch(sandbox, second.stderr.parent)
    assert third.wait(60) == 3
    message = errors.read_text()
    assert "state.lock" in message and "Traceback" not in message, message
    assert second.get("/sessions").json()["sessions"][0]["session_id"] == fresh["session_id"]


def test_a_corrupt_database_stops_the_start_with_one_clear_message(sandbox: Any, tmp_path: Path) -> None:
    state_dir = tmp_path / "downloads" / ".state"
    state_dir.mkdir(parents=True)
    (state_dir / "state.db").write_bytes(b"this is not a database at all" * 200)
    proc, errors = launch(sandbox, tmp_path)
    assert proc.wait(60) == 3
    message = errors.read_text()
    assert "state.db" in message and "Traceback" not in message, message
    assert (state_dir / "state.db").read_bytes().startswith(b"this is not a database")  # left for the operator
