"""Shutdown and browsers left behind, end to end (API_SPEC 3.10, 4.12; issue 15 items 1, 13, 14).

Each test runs its own service: a ``make_service`` instance, or the real entry point as a
subprocess for the SIGKILL test (nothing in-process can play a killed process)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from emodal.app import shutdown
from emodal.browser.factory import group_pids
from tests.e2e.conftest import PASSWORDS, SOLVER_KEY, Client, eventually

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def test_request_waiting_for_the_session_lock_at_shutdown_gets_503(make_service: Any, credentials: Any) -> None:
    running = make_service(shutdown_grace=30)
    client = Client(running.base_url)
    sid = client.post("/get_session", json=credentials("asmith")).json()["session_id"]
    session = running.registry.get(None, sid)
    held, finish = threading.Event(), threading.Event()

    def operation() -> None:  # a long operation of another request
        with running.registry.acquire(session, "/get_appointments", "req_running"):
            held.set()
            finish.wait(60)

    holder = threading.Thread(target=operation)
    holder.start()
    assert held.wait(10)
    answers: list[requests.Response] = []
    waiter = threading.Thread(target=lambda: answers.append(client.post("/get_session", json=credentials("asmith"))))
    waiter.start()
    eventually(lambda: session.pins == 1, 30, "the second request to wait for the lock")
    stopper = threading.Thread(target=shutdown, args=(running.app,))
    stopper.start()
    eventually(lambda: running.registry.shutting_down, 10, "shutdown to start")
    finish.set()
    for thread in (holder, waiter, stopper):
        thread.join(60)
    assert answers[0].status_code == 503, answers[0].text
    assert answers[0].json()["error_type"] == "shutting_down"


def test_shutdown_kills_the_browser_of_a_login_still_running(make_service: Any, credentials: Any,
                                                             sandbox: Any) -> None:
    running = make_service(shutdown_grace=1)
    factory = running.registry.factory
    sandbox.admin.add_fault(type="slow", target="page", count=1, delay_ms=8000, path_contains="login")
    try:
        answers: list[requests.Response] = []
        login = threading.Thread(target=lambda: answers.append(
            Client(running.base_url).post("/get_session", json=credentials("asmith"))))
        login.start()
        [handle] = eventually(factory.open_handles, 60, "the login's browser")
        pgid = handle.pgid
        shutdown(running.app)
        assert group_pids(pgid) == [] and factory.open_handles() == []  # nothing outlives the service
        login.join(60)
    finally:
        sandbox.admin.clear_faults()
    assert answers[0].status_code == 503 and answers[0].json()["error_type"] == "shutting_down", answers[0].text


@pytest.fixture
def reset_sandbox(sandbox: Any) -> Iterator[None]:
    yield
    sandbox.admin.clear_faults()
    sandbox.admin.reset()  # the booking consumes capacity shared by the other modules


def test_shutdown_gives_a_booking_past_submit_its_confirmation_time(make_service: Any, credentials: Any,
                                                                    sandbox: Any, reset_sandbox: None) -> None:
    running = make_service(shutdown_grace=1, confirmation_timeout=60)
    request = {**credentials("asmith"), "trucking_company": "SUNSET INTERMODAL INC", "terminal": "ITS Long Beach",
               "move_type": "PICK FULL", "container_id": "EISU8000080", "truck_plate": "6F11873"}
    check = requests.post(f"{running.base_url}/check_appointments", json=request, timeout=300).json()
    assert check["success"] and check["available_times"], check
    # The portal takes 5 s to confirm: longer than SHUTDOWN_GRACE, well within CONFIRMATION_TIMEOUT.
    sandbox.admin.add_fault(type="slow", target="xhr", count=1, delay_ms=5000, path_contains="visit/submit")
    answers: list[requests.Response] = []
    booking = threading.Thread(target=lambda: answers.append(requests.post(
        f"{running.base_url}/make_appointment", timeout=300,
        json={**request, "appointment_session_id": check["appointment_session_id"],
              "appointment_time": check["available_times"][0]})))
    booking.start()
    # The slow fault is consumed when the Submit request reaches the portal: Submit was clicked.
    eventually(lambda: not sandbox.admin.get("faults")["faults"], 120, "the Submit click")
    shutdown(running.app)
    booking.join(60)
    body = answers[0].json()
    assert answers[0].status_code == 200 and body["appointment_confirmed"] is True, body
    assert running.registry.list() == []


def start_entry_point(downloads: Path) -> tuple[subprocess.Popen[str], str]:
    """``emodal_business_api.py --sandbox`` on free ports; returns the process and its base URL."""
    env = {**os.environ, "DOWNLOADS_DIR": str(downloads), "PORT": "0", "CAPTCHA_POLL_INTERVAL": "0.3", "SPARE_BROWSERS": "1",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "emodal_business_api.py", "--sandbox", "--sandbox-profile", "fast"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("EMODAL API READY"):
            return proc, line.split()[-1].strip()
    raise AssertionError(f"service exited with {proc.wait()}")


def test_browsers_of_a_killed_run_are_reaped_at_the_next_start(tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    browsers: list[psutil.Process] = []
    profiles: set[str] = set()
    try:
        first, base = start_entry_point(downloads)
        try:
            created = requests.post(f"{base}/get_session", timeout=300, json={
                "username": "jdoe", "password": PASSWORDS["jdoe"], "captcha_api_key": SOLVER_KEY})
            assert created.status_code == 200, created.text

            def session_and_spare() -> tuple[list[psutil.Process], set[str]] | None:
                running = [p for p in psutil.Process(first.pid).children(recursive=True) if _alive(p)]
                profiles = {a.split("=", 1)[1] for a in _cmdlines(running) if a.startswith("--user-data-dir=")}
                return (running, profiles) if len(profiles) == 2 else None

            # The session's browser (the spare it took) and the replacement spare (SPARE_BROWSERS=1).
            browsers, profiles = eventually(session_and_spare, 60, "the session's and the spare's browsers")
        finally:
            first.kill()  # SIGKILL: nothing of the service runs at exit
            first.wait(30)
        assert all(_alive(p) for p in browsers)  # ChromeDriver and Chromium live on without their service
        second, _ = start_entry_point(downloads)
        try:
            eventually(lambda: not any(_alive(p) for p in browsers), 30, "the old browser processes to end")
            assert not any(Path(p).parent.exists() for p in profiles)  # the browsers' temporary root folders too
            assert not recorded_browsers(downloads / ".state") & {p.pid for p in browsers}  # records dropped
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(120)
    finally:
        for process in browsers:  # whatever a failed assertion left running
            if _alive(process):
                process.kill()


def recorded_browsers(state_dir: Path) -> set[int]:
    """Process groups in the browser ledger of the state store (read-only, beside the running service)."""
    db = sqlite3.connect(f"file:{state_dir / 'state.db'}?mode=ro", uri=True)
    try:
        return {int(key) for (key,) in db.execute("SELECT key FROM records WHERE namespace = 'browsers'")}
    finally:
        db.close()


def _alive(process: psutil.Process) -> bool:
    """Still running as the same process (``is_running`` checks the start time: no reused PID)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdlines(processes: list[psutil.Process]) -> list[str]:
    """Every argument of the processes still running (a helper may exit meanwhile)."""
    args: list[str] = []
    for process in processes:
        try:
            args += process.cmdline()
        except psutil.NoSuchProcess:
            continue
    return args
