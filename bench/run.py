"""Benchmark: what a persistent session saves, and what each route costs on a warm session.

Starts the service exactly as a user would (``emodal_business_api.py --sandbox``) with the sandbox
portal in the chosen timing profile, then measures over HTTP:

* fresh login (``POST /get_session`` creating a session: browser start + captcha solve + login chain);
* reuse (``POST /get_session`` with the same credentials, repeated) and the ratio between the two;
* memory per idle session (PSS of the service's Chromium/ChromeDriver processes, divided by sessions);
* wall time of each business route on the warm session.

It prints figures and ratios; it asserts nothing (tests never time anything). Usage::

    .venv/bin/python bench/run.py [--profile realistic|fast] [--reuse 20] [--sessions 2] [--skip-routes]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = [("jdoe", "sandbox-pass"), ("asmith", "sandbox-pass-2")]
CAPTCHA_KEY = "sandbox-key"
TIMEOUT = 600


def start_service(profile: str) -> tuple[subprocess.Popen[str], str]:
    """Run the service with an in-process sandbox on free ports; return the process and its base URL."""
    env = dict(os.environ, LOG_LEVEL="WARNING", DOWNLOADS_DIR=str(ROOT / "downloads" / "bench"))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "emodal_business_api.py"), "--sandbox", "--sandbox-profile", profile,
         "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("EMODAL API READY "):
            return proc, line.split()[-1].strip()
    raise SystemExit("service did not start")


def stop_service(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()


def browser_pss_mb(pid: int) -> float:
    """Proportional set size of the browser processes under ``pid``: shared pages counted once."""
    total = 0
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "chrom" in child.name():
                total += child.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / (1024 * 1024)


def post(base: str, route: str, body: dict[str, Any]) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = requests.post(base + route, json=body, timeout=TIMEOUT)
    return time.perf_counter() - started, response


def credentials(account: tuple[str, str]) -> dict[str, str]:
    return {"username": account[0], "password": account[1], "captcha_api_key": CAPTCHA_KEY}


def wizard_request(sid: str) -> dict[str, Any]:
    """An import PICK FULL of the sandbox's bookable fixture container at TTI."""
    return {"session_id": sid, "trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
            "move_type": "PICK FULL", "container_id": "TGBU2000026", "truck_plate": "9E51234"}


def route_calls(sid: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The business routes of a typical dispatcher's day, on the warm jdoe session."""
    return [
        ("get_containers first page", "/get_containers",
         {"session_id": sid, "infinite_scrolling": False, "return_url": True}),
        ("get_containers target_count=100", "/get_containers",
         {"session_id": sid, "target_count": 100, "return_url": True}),
        ("get_containers all rows", "/get_containers", {"session_id": sid, "return_url": True}),
        ("get_container_timeline", "/get_container_timeline", {"session_id": sid, "container_id": "MSCU1000017"}),
        ("get_booking_number", "/get_booking_number", {"session_id": sid, "container_id": "TRHU4000040"}),
        ("get_info_bulk (2 import, 1 export)", "/get_info_bulk",
         {"session_id": sid, "import_containers": ["MSCU1000017", "TGBU2000026"],
          "export_containers": ["TRHU4000040"]}),
        ("check_appointments (import)", "/check_appointments", wizard_request(sid)),
        ("get_appointments first page", "/get_appointments",
         {"session_id": sid, "infinite_scrolling": False, "format": "json"}),
    ]


def book_first_offered_slot(base: str, sid: str) -> None:
    """/make_appointment continuing a check left at step 3 (books the first offered slot)."""
    check = wizard_request(sid)
    offer = post(base, "/check_appointments", check)[1].json()
    if not offer.get("available_times"):
        print(f"  make_appointment skipped: nothing offered ({offer.get('error') or offer.get('portal_message')})")
        return
    resumed = {**check, "appointment_session_id": offer["appointment_session_id"],
               "appointment_time": offer["available_times"][0]}
    measure(lambda: post(base, "/make_appointment", resumed), "make_appointment (resumed at step 3)")


def measure(fn: Callable[[], tuple[float, requests.Response]], label: str) -> float:
    seconds, response = fn()
    status = "ok" if response.ok else f"HTTP {response.status_code} {response.text[:120]}"
    print(f"  {label:<40} {seconds:8.2f} s   {status}", flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("fast", "realistic"), default="realistic")
    parser.add_argument("--reuse", type=int, default=20, help="reuse calls to time")
    parser.add_argument("--sessions", type=int, default=2, choices=(1, 2), help="sessions for the memory figure")
    parser.add_argument("--skip-routes", action="store_true", help="only login/reuse/memory")
    args = parser.parse_args()

    print(f"Benchmark on the sandbox portal, profile '{args.profile}'", flush=True)
    proc, base = start_service(args.profile)
    try:
        idle_before = browser_pss_mb(proc.pid)
        fresh, response = post(base, "/get_session", credentials(ACCOUNTS[0]))
        response.raise_for_status()
        sid = response.json()["session_id"]
        reuse = [post(base, "/get_session", credentials(ACCOUNTS[0]))[0] for _ in range(args.reuse)]
        for account in ACCOUNTS[1:args.sessions]:
            post(base, "/get_session", credentials(account))[1].raise_for_status()
        per_session = (browser_pss_mb(proc.pid) - idle_before) / args.sessions

        median_reuse = statistics.median(reuse)
        print(f"\nfresh login (POST /get_session, new session)      {fresh:8.2f} s")
        print(f"reuse by credentials (median of {args.reuse})              {median_reuse * 1000:8.1f} ms"
              f"   (p95 {sorted(reuse)[int(len(reuse) * 0.95) - 1] * 1000:.1f} ms)")
        print(f"fresh login / reuse ratio                          {fresh / median_reuse:8.0f} x")
        print(f"browser memory per idle session (PSS)              {per_session:8.0f} MB"
              f"   ({args.sessions} sessions)")
        if not args.skip_routes:
            print("\nroutes on the warm session:")
            for label, route, body in route_calls(sid):
                measure(lambda: post(base, route, body), label)
            book_first_offered_slot(base, sid)
    finally:
        stop_service(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
