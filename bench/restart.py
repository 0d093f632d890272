"""Benchmark: a restart with N keep-alive sessions (issue 10, durable sessions).

Starts the sandbox portal on its own (it must outlive the service, like the real portal), then the
service (``emodal_business_api.py`` pointed at it) with two API keys, so up to four distinct
sessions exist (2 keys x 2 sandbox accounts). It logs N keep-alive sessions in, stops the service
(SIGTERM, or SIGKILL with ``--kill``), starts it again on the same STATE_DIR and measures:

* time from the new process's start until every session is ``ready`` again (``GET /sessions``);
* the first business call on a restored session (``/get_containers`` first page);
* captcha solves used by the restart (the sandbox's ``GET /_sandbox/solver``),

printed beside a fresh login of the first run. It asserts nothing. Usage::

    .venv/bin/python bench/restart.py [--profile fast|realistic] [--sessions 3] [--kill]
"""
from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from common import B4_ACCOUNTS, TIMEOUT, Processes, credentials

KEYS = ("bench-key-one-0123456789abcdefghijklmnop", "bench-key-two-0123456789abcdefghijklmnop")


def start_service(processes: Processes, portal: str, downloads: Path) -> tuple[subprocess.Popen[str], str, float]:
    """The service on ``downloads`` pointed at ``portal``; returns process, URL and its start time."""
    started = time.perf_counter()
    proc, base = processes.service(portal, {"DOWNLOADS_DIR": str(downloads), "EMODAL_API_KEYS": ",".join(KEYS),
                                            "CAPTCHA_POLL_INTERVAL": "0.5"})
    return proc, base, started


def stop_service(processes: Processes, proc: subprocess.Popen[str], *, kill: bool) -> None:
    """SIGKILL (nothing of the service runs at exit) or SIGTERM (its graceful shutdown)."""
    proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    proc.wait(120)
    processes.procs.remove(proc)


def solver_tasks(portal: str) -> int:
    return int(requests.get(f"{portal}/_sandbox/solver", timeout=30).json()["tasks_created"])


def states(base: str) -> list[str]:
    """States of every session (each key sees its own)."""
    out: list[str] = []
    for key in KEYS:
        body = requests.get(f"{base}/sessions", headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
        out += [s["state"] for s in body["sessions"]]
    return out


def keyed_post(base: str, key: str, route: str, body: dict[str, Any]) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = requests.post(base + route, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT)
    return time.perf_counter() - started, response


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("fast", "realistic"), default="fast")
    parser.add_argument("--sessions", type=int, default=3, choices=(1, 2, 3, 4))
    parser.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    args = parser.parse_args()
    pairs = [(key, account) for key in KEYS for account in B4_ACCOUNTS][: args.sessions]
    downloads = Path(tempfile.mkdtemp(prefix="emodal-bench-restart-"))
    print(f"Restart benchmark, profile '{args.profile}', {args.sessions} keep-alive sessions", flush=True)
    with Processes() as processes:
        # The sandbox outlives both services, as the real portal would.
        portal = processes.sandbox(args.profile)
        proc, base, _ = start_service(processes, portal, downloads)
        logins = []
        try:
            for key, account in pairs:
                seconds, response = keyed_post(base, key, "/get_session", credentials(account))
                response.raise_for_status()
                logins.append(seconds)
        finally:
            stop_service(processes, proc, kill=args.kill)
        before = solver_tasks(portal)
        proc, base, started = start_service(processes, portal, downloads)
        up = time.perf_counter() - started
        while True:
            current = states(base)
            if len(current) == len(pairs) and all(s == "ready" for s in current):
                break
            if time.perf_counter() - started > TIMEOUT:
                raise SystemExit(f"sessions not ready: {current}")
            time.sleep(0.05)
        all_ready = time.perf_counter() - started
        sid = keyed_post(base, pairs[0][0], "/get_session", credentials(pairs[0][1]))[1].json()["session_id"]
        first_call, response = keyed_post(base, pairs[0][0], "/get_containers",
                                          {"session_id": sid, "infinite_scrolling": False, "return_url": True})
        solves = solver_tasks(portal) - before
    shutil.rmtree(downloads, ignore_errors=True)
    print(f"\nfresh login (first run, mean of {len(logins)})              {sum(logins) / len(logins):8.2f} s"
          f"   (1 captcha solve each)")
    print(f"restart: process start -> API ready                 {up:8.2f} s")
    print(f"restart: process start -> all {len(pairs)} sessions ready       {all_ready:8.2f} s"
          f"   ({solves} captcha solves)")
    print(f"first /get_containers on a restored session         {first_call:8.2f} s"
          f"   ({'ok' if response.ok else response.status_code})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
