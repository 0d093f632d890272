"""Benchmark: the issue-13 targets side by side with the portal's floor and the ratio.

Starts the sandbox portal (``realistic`` profile, solve delay 2 s, generated accounts) and the
service in their own processes, exactly as a user would, then measures over HTTP:

* fresh login (``POST /get_session`` creating a session): the first after start (on a fresh
  STATE_DIR nothing is learned: the solver is polled at 2captcha's own 5 s pace and the solve waits
  for the login page; with ``--restart`` an earlier life of the service on the same STATE_DIR
  logged in ``--restart`` times first, and its learned solve time and captcha target are kept),
  then the median of further fresh logins (learned solve time, solve started beside the browser,
  the spare browser of ``SPARE_BROWSERS``);
* reuse (``POST /get_session`` with the same credentials, repeated);
* memory per idle keep-alive session: PSS summed over every ChromeDriver/Chromium process of the
  service (shared pages counted once), divided by the sessions;
* wall time of each business route on a warm session, with its floor (see ``common.Floors``).
  Every XHR takes the profile's mean latency (``--jitter`` keeps the seeded jitter), so the
  floor is exact and a ratio measures the automation, not the draw.

It prints figures and ratios; it asserts nothing (tests never time anything). Usage::

    .venv/bin/python bench/run.py [--profile realistic|fast] [--solve-delay 2] [--sessions 10]
                                  [--reuse 20] [--skip-routes] [--jitter] [--restart N]
                                  [--spare-browsers N]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import requests

from common import (B4_ACCOUNTS, Floors, Processes, browser_pss_mb, credentials, generated_accounts, login,
                    median, percentile, post)
from emodal.sandbox.config import SandboxConfig  # noqa: E402 - common puts the project on sys.path

#: Issue 13 targets: an idle session's PSS, and the largest ratio to the floor.
MEMORY_TARGET_MB = 150
LOGIN_TARGET_OVER_SOLVE = 2.0
WARM_TARGET_RATIO = 1.10


class Report:
    """Rows of the targets table: what, measured, floor, ratio, target."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, label: str, seconds: float, floor: float | None, target: str = "") -> None:
        ratio = f"{seconds / floor:5.2f} x" if floor else "-"
        self.rows.append((label, f"{seconds:7.2f} s", f"{floor:6.2f} s" if floor else "-", ratio, target))

    def add_value(self, label: str, measured: str, target: str) -> None:
        self.rows.append((label, measured, "-", "-", target))

    def print(self) -> None:
        header = ("target", "measured", "floor", "ratio", "goal")
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(5)]
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                            for i, cell in enumerate(row)), flush=True)


def wizard_request(sid: str) -> dict[str, Any]:
    """An import PICK FULL of the sandbox's bookable fixture container at TTI."""
    return {"session_id": sid, "trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
            "move_type": "PICK FULL", "container_id": "TGBU2000026", "truck_plate": "9E51234"}


def route_calls(sid: str, floors: Floors, rows: dict[str, int], total: int
                ) -> list[tuple[str, str, dict[str, Any], float | None]]:
    """The business routes of a typical dispatcher's day on the warm jdoe session, with floors."""
    per_extra_expand = floors.xhr + floors.knobs["expand_animation_ms"] / 1000
    bulk = ["MSCU1000017", "TGBU2000026", "TRHU4000040"]
    return [
        ("get_containers first page", "/get_containers",
         {"session_id": sid, "infinite_scrolling": False, "return_url": True},
         floors.containers(floors.knobs["first_batch"])),
        ("get_containers target_count=100", "/get_containers",
         {"session_id": sid, "target_count": 100, "return_url": True}, floors.containers(100)),
        (f"get_containers all {total} rows", "/get_containers", {"session_id": sid, "return_url": True},
         floors.containers(total)),
        ("get_container_timeline", "/get_container_timeline", {"session_id": sid, "container_id": "MSCU1000017"},
         floors.expand(rows["MSCU1000017"])),
        ("get_booking_number", "/get_booking_number", {"session_id": sid, "container_id": "TRHU4000040"},
         floors.expand(rows["TRHU4000040"])),
        ("get_info_bulk (2 import, 1 export)", "/get_info_bulk",
         {"session_id": sid, "import_containers": bulk[:2], "export_containers": bulk[2:]},
         floors.expand(max(rows[n] for n in bulk)) + (len(bulk) - 1) * per_extra_expand),
        ("check_appointments (import)", "/check_appointments", wizard_request(sid), floors.check_appointments()),
        ("get_appointments first page", "/get_appointments",
         {"session_id": sid, "infinite_scrolling": False, "format": "json"},
         floors.appointments_export()),
    ]


def grid_rows(sandbox: str, user: str) -> tuple[dict[str, int], int]:
    """Grid position of each of ``user``'s containers (the sandbox oracle) and their number."""
    oracle = requests.get(f"{sandbox}/_sandbox/accounts/{user}/containers", timeout=30).json()
    return {row["number"]: row["row"] for row in oracle["containers"]}, oracle["total"]


def timed(fn: Callable[[], tuple[float, requests.Response]], label: str) -> float:
    seconds, response = fn()
    status = "ok" if response.ok else f"HTTP {response.status_code} {response.text[:120]}"
    print(f"  {label:<40} {seconds:8.2f} s   {status}", flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("fast", "realistic"), default="realistic")
    parser.add_argument("--solve-delay", type=float, default=2.0, help="sandbox captcha_solve_delay_s")
    parser.add_argument("--sessions", type=int, default=10, help="sessions for the memory figure (>= 2)")
    parser.add_argument("--reuse", type=int, default=20, help="reuse calls to time")
    parser.add_argument("--skip-routes", action="store_true", help="only login/reuse/memory")
    parser.add_argument("--jitter", action="store_true",
                        help="keep the profile's seeded XHR jitter (default: every XHR at the mean latency, "
                             "so the floor is exact and a ratio is not luck of the draw)")
    parser.add_argument("--restart", type=int, default=0, metavar="N",
                        help="first run the service once on the same STATE_DIR with N fresh logins of a spare "
                             "account, stop it, then measure (the first login after a restart)")
    parser.add_argument("--spare-browsers", type=int, default=None, metavar="N",
                        help="SPARE_BROWSERS of the service (default: its own default)")
    args = parser.parse_args()
    sessions = max(2, args.sessions)
    accounts = B4_ACCOUNTS + generated_accounts(sessions - 2)
    # A fresh STATE_DIR for every run: nothing restored from, and nothing learned by, an earlier run.
    downloads = Path(tempfile.mkdtemp(prefix="emodal-bench-"))
    env = {"MAX_SESSIONS": str(sessions + 2), "DOWNLOADS_DIR": str(downloads)}
    if args.spare_browsers is not None:
        env["SPARE_BROWSERS"] = str(args.spare_browsers)
    try:
        return measure(args, sessions, accounts, env)
    finally:
        shutil.rmtree(downloads, ignore_errors=True)


def earlier_life(procs: Processes, sandbox: str, env: dict[str, str], account: tuple[str, str], logins: int) -> None:
    """The service's previous run on the same STATE_DIR: ``logins`` fresh logins of ``account``
    (each session closed again, so nothing is restored), then a graceful stop."""
    service, base = procs.service(sandbox, env)
    for _ in range(logins):
        seconds, sid = login(base, account)
        requests.delete(f"{base}/sessions/{sid}", timeout=60).raise_for_status()
        print(f"  earlier life: fresh login {seconds:.2f} s", flush=True)
    procs.stop(service)


def measure(args: argparse.Namespace, sessions: int, accounts: list[tuple[str, str]], env: dict[str, str]) -> int:
    """The figures, on one sandbox and service (after the earlier life with ``--restart``)."""
    print(f"Benchmark: sandbox '{args.profile}' profile, solve delay {args.solve_delay:g} s, "
          f"{sessions} sessions", flush=True)
    with Processes() as procs:
        sets = [f"captcha_solve_delay_s={args.solve_delay:g}"]
        if not args.jitter:
            sets.append(f"xhr_latency_ms={fixed_xhr_latency(args.profile)}")
        spare_account = args.restart > 0
        sandbox = procs.sandbox(args.profile, accounts=sessions - 2 + spare_account, sets=sets)
        if spare_account:
            earlier_life(procs, sandbox, env, generated_accounts(sessions - 1)[-1], args.restart)
        service, base = procs.service(sandbox, env)
        floors = Floors.of(sandbox)
        report = Report()

        first, sid = login(base, accounts[0])
        reuse = [post(base, "/get_session", credentials(accounts[0]))[0] for _ in range(args.reuse)]
        later = [login(base, account)[0] for account in accounts[1:]]
        time.sleep(5)  # let the landing pages boot: the figure is of idle sessions
        pss, processes = browser_pss_mb(service.pid)

        goal = f"<= {floors.login():.1f} s (solve + {LOGIN_TARGET_OVER_SOLVE:g} s)"
        start = f"a restart ({args.restart} logins before)" if args.restart else "start"
        report.add(f"fresh login, first after {start}", first, floors.login(), goal)
        report.add(f"fresh login, median of {len(later)} more", median(later), floors.login(), goal)
        report.add_value(f"reuse by credentials, median of {len(reuse)}",
                         f"{median(reuse) * 1000:.1f} ms (p95 {percentile(reuse, 0.95) * 1000:.1f})", "")
        report.add_value(f"memory per idle session ({sessions} sessions, spare browser included)",
                         f"{pss / sessions:.0f} MB PSS ({processes / sessions:.0f} processes)",
                         f"<= {MEMORY_TARGET_MB} MB")
        if not args.skip_routes:
            rows, total = grid_rows(sandbox, accounts[0][0])
            print("\nroutes on the warm session:", flush=True)
            for label, route, body, floor in route_calls(sid, floors, rows, total):
                seconds = timed(lambda: post(base, route, body), label)
                report.add(label, seconds, floor, f"<= {WARM_TARGET_RATIO:.2f} x")
            resumed = book_first_offered_slot(base, sid)
            if resumed is not None:
                report.add("make_appointment (resumed at step 3)", resumed, floors.make_resumed(),
                           f"<= {WARM_TARGET_RATIO:.2f} x")
        print(flush=True)
        report.print()
    return 0


def fixed_xhr_latency(profile: str) -> str:
    """``low-high`` knob value pinning every XHR to the profile's mean latency."""
    low, high = SandboxConfig(profile=profile).knob("xhr_latency_ms")
    mean = round((low + high) / 2)
    return f"{mean}-{mean}"


def book_first_offered_slot(base: str, sid: str) -> float | None:
    """/make_appointment continuing a check left at step 3 (books the first offered slot)."""
    check = wizard_request(sid)
    offer = post(base, "/check_appointments", check)[1].json()
    if not offer.get("available_times"):
        print(f"  make_appointment skipped: nothing offered ({offer.get('error') or offer.get('portal_message')})")
        return None
    resumed = {**check, "appointment_session_id": offer["appointment_session_id"],
               "appointment_time": offer["available_times"][0]}
    return timed(lambda: post(base, "/make_appointment", resumed), "make_appointment (resumed at step 3)")


if __name__ == "__main__":
    sys.exit(main())
