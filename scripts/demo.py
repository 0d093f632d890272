"""`make demo`: the whole service end to end against the local sandbox portal, in one command.

Starts the sandbox (realistic timings: boot delays, XHR latency, a 20 s captcha solve) and the
service on free loopback ports in this process, then walks through what a client does: /health,
/get_session (new, then reused), /sessions, and every business route the service offers (found in
/openapi.json) with the sandbox account jdoe / sandbox-pass and the solver key sandbox-key.
It prints what it did, the figures and where the screenshots and files are, then stops everything
(every browser quit) even when a step fails.

    .venv/bin/python scripts/demo.py [--profile fast|realistic]
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from waitress import create_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emodal.app import create_app, shutdown  # noqa: E402
from emodal.config import Settings  # noqa: E402
from emodal.redaction import short_id  # noqa: E402
from emodal.sandbox import SandboxServer  # noqa: E402

CREDENTIALS = {"username": "jdoe", "password": "sandbox-pass", "captcha_api_key": "sandbox-key"}
APPOINTMENT = {"trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
               "move_type": "PICK FULL", "container_id": "TGBU2000026", "truck_plate": "9E51234"}


def say(text: str = "") -> None:
    print(text, flush=True)


class Demo:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session_id = ""
        self.files: list[str] = []
        self.appointment_session_id: str | None = None
        self.offered_time: str | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any], float]:
        started = time.monotonic()
        response = requests.request(method, self.base_url + path, json=body, timeout=900)
        elapsed = time.monotonic() - started
        data = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        for key, value in data.items():
            if key.endswith("_url") and isinstance(value, str):
                self.files.append(value)
        self.files.extend(data.get("screenshots") or [])
        return response.status_code, data, elapsed

    def step(self, title: str, method: str, path: str, body: dict[str, Any] | None,
             summary: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
        say(f"\n== {title}: {method} {path}")
        status, data, elapsed = self.call(method, path, body)
        timing = f"{elapsed * 1000:.0f} ms" if elapsed < 1 else f"{elapsed:.1f} s"
        if data.get("success"):
            say(f"   {status} in {timing}: {summary(data)}")
        else:
            say(f"   {status} in {timing}: {data.get('error_type')}: {data.get('error')} {data.get('details') or ''}")
        return data

    # --- the walk-through ---------------------------------------------------------------------------
    def run(self) -> None:
        self.step("Health", "GET", "/health", None,
                  lambda d: f"{d['status']}, {d['session_capacity']} sessions, auth {d['auth']['mode']}")
        first = self.step("Log in (new browser, reCAPTCHA solved by the sandbox solver)", "POST", "/get_session",
                          CREDENTIALS,
                          lambda d: f"{d['message']} {short_id(d['session_id'])}, is_new={d['is_new']}")
        if not first.get("success"):
            raise SystemExit("login failed; nothing else to show")
        self.session_id = first["session_id"]
        self.step("Same credentials again (reuse: no login)", "POST", "/get_session", CREDENTIALS,
                  lambda d: f"{d['message']}, same id: {d['session_id'] == self.session_id}")
        self.step("Sessions", "GET", "/sessions", None, lambda d: "; ".join(
            f"{short_id(s['session_id'])} {s['username']} {s['state']} keep_alive={s['keep_alive']}"
            for s in d["sessions"]))
        for path, title, body, summary in self.business_calls():
            self.step(title, "POST", path, {"session_id": self.session_id, **body()}, summary)

    def business_calls(self) -> list[tuple[str, str, Callable[[], dict[str, Any]], Callable[[dict[str, Any]], str]]]:
        """(route, title, request body, one-line summary) of every business route, in a sensible order."""
        def remember_offer(d: dict[str, Any]) -> str:
            self.appointment_session_id = d.get("appointment_session_id")
            times = d.get("available_times") or []
            self.offered_time = times[0] if times else None
            return f"{len(times)} slots offered, e.g. {times[:2]}; wizard left at step {d.get('current_phase')}"

        return [
            ("/get_containers", "Containers grid -> Excel (first 50 rows)",
             lambda: {"target_count": 50, "return_url": True},
             lambda d: f"{d['total_containers']} rows, {d['scroll_cycles']} scroll cycles, {d['stopped_reason']}"),
            ("/get_container_timeline", "Timeline of TGBU2000026 (with debug screenshots)",
             lambda: {"container_id": "TGBU2000026", "debug": True},
             lambda d: f"passed_pregate={d['passed_pregate']}, {d['milestone_count']} milestones, "
                       f"{len(d['screenshots'])} screenshots"),
            ("/get_booking_number", "Booking number of export TRHU4000040",
             lambda: {"container_id": "TRHU4000040"}, lambda d: f"booking_number={d['booking_number']}"),
            ("/get_info_bulk", "Bulk: two imports, one export, one browser",
             lambda: {"import_containers": ["MSCU1000017", "TGBU2000026"], "export_containers": ["TRHU4000040"]},
             lambda d: d["message"]),
            ("/check_appointments", "Appointment wizard to step 3 (never submits)",
             lambda: dict(APPOINTMENT), remember_offer),
            ("/make_appointment", "Book the first offered slot (in the sandbox)",
             lambda: {**APPOINTMENT, "appointment_time": self.offered_time or "none offered",
                      **({"appointment_session_id": self.appointment_session_id}
                         if self.appointment_session_id else {})},
             lambda d: f"confirmed={d.get('appointment_confirmed')}, number {d.get('confirmation_number')}"),
            ("/get_appointments", "My Appointments -> the portal's own Excel export",
             lambda: {"target_count": 10}, lambda d: f"{d['selected_count']} selected, file {d.get('file_name')}"),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("fast", "realistic"), default="realistic")
    args = parser.parse_args()
    say(f"Starting the sandbox portal ({args.profile} timings) and the service on free loopback ports ...")
    sandbox = SandboxServer(profile=args.profile).start()
    # Quiet logs: the walk-through's own lines are the story; warnings and errors still show.
    settings = Settings.from_env(host="127.0.0.1", port=0, max_sessions=2, server_threads=8,
                                 log_level="WARNING").with_sandbox(sandbox.base_url)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(settings)
    server = create_server(app, host="127.0.0.1", port=0, threads=settings.server_threads)
    threading.Thread(target=server.run, name="waitress", daemon=True).start()
    base_url = f"http://127.0.0.1:{server.effective_port}"
    say(f"Sandbox portal: {sandbox.base_url}/ecp2/login   Service: {base_url}")
    demo = Demo(base_url)
    try:
        demo.run()
    finally:
        say("\nStopping: closing every browser ...")
        shutdown(app)
        server.close()
        sandbox.stop()
    downloads = Path(settings.downloads_dir).resolve()
    say(f"\nFiles written under {downloads} (one folder per session):")
    for url in dict.fromkeys(u for u in demo.files if "/files/" in u):
        say(f"   {downloads / url.split('/files/', 1)[1]}")
    factory = app.extensions["emodal_registry"].factory
    left = sum(len(handle.pids()) for handle in factory.open_handles())
    say(f"Done: {left} browser processes left running.")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
