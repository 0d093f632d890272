"""The curve: how memory, refresher CPU and latency grow with the number of keep-alive sessions.

For each level (default 1, 10, 30, 60 sessions) on one running service, against the sandbox
(``realistic`` profile, solve delay 2 s, generated accounts ``user001``...):

1. log sessions in up to the level (``POST /get_session``, ``MAX_CONCURRENT_LOGINS`` at a time);
2. idle memory: PSS summed over every ChromeDriver/Chromium process (shared pages once) / sessions;
3. refresher CPU share: CPU time of the service and its browsers over an idle window, divided by
   the window and the cores; also CPU seconds per refresh and the share that implies at the
   default ``SESSION_REFRESH_INTERVAL`` (300 s);
4. latency with 8 concurrent clients spread over the sessions: reuse (``/get_session`` by
   credentials) and ``/get_container_timeline``, median and p95;
5. working memory: PSS per session after that load (sessions left on the Containers page).

Memory is watched: the run stops before a level when the machine uses more than ``--max-used-gb``.
Everything is bounded in time and every process is ended at exit. Usage::

    .venv/bin/python bench/curve.py [--levels 1,10,30,60] [--clients 8] [--rounds 3]
                                    [--idle-window 120] [--refresh-interval 120] [--max-used-gb 18]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psutil
import requests

from common import (Processes, browser_pss_mb, cpu_seconds, credentials, generated_accounts, login, median,
                    metric, percentile, post, used_memory_gb)

DEFAULT_REFRESH_INTERVAL = 300
REFRESHES_OK = 'emodal_refreshes_total{result="ok"}'


@dataclass
class Level:
    """The figures of one level of the curve."""

    sessions: int
    logins: list[float] = field(default_factory=list)
    idle_mb: float = 0.0
    processes: int = 0
    cpu_share: float = 0.0
    refreshes: float = 0.0
    cpu_per_refresh: float | None = None
    reuse: list[float] = field(default_factory=list)
    timeline: list[float] = field(default_factory=list)
    errors: int = 0
    working_mb: float = 0.0
    used_gb: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def first_timeline_container(sandbox: str, user: str) -> str:
    """A known import container of the account's first grid batch (the sandbox oracle)."""
    oracle = requests.get(f"{sandbox}/_sandbox/accounts/{user}/containers", timeout=30).json()
    return next(row["number"] for row in oracle["containers"]
                if not row["unknown"] and row["trade_type"] == "IMPORT")


def client_load(base: str, sessions: list[tuple[tuple[str, str], str, str]], client: int, clients: int,
                rounds: int, level: Level) -> None:
    """One client: ``rounds`` times, a reuse and a timeline on each of its share of the sessions."""
    mine = sessions[client::clients] or [sessions[client % len(sessions)]]
    for _ in range(rounds):
        for account, sid, container in mine:
            record(level, level.reuse, post(base, "/get_session", credentials(account)))
            record(level, level.timeline, post(base, "/get_container_timeline",
                                               {"session_id": sid, "container_id": container}))


def record(level: Level, into: list[float], result: tuple[float, requests.Response]) -> None:
    """Keep the latency of a success; count a failure (list.append and the lock: thread-safe)."""
    seconds, response = result
    if response.ok:
        into.append(seconds)
        return
    with level.lock:
        level.errors += 1


def run_level(base: str, sandbox: str, service_pid: int, target: int, args: argparse.Namespace,
              accounts: list[tuple[str, str]], sessions: list[tuple[tuple[str, str], str, str]]) -> Level:
    level = Level(target)
    new = accounts[len(sessions):target]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for account, (seconds, sid) in zip(new, pool.map(lambda a: login(base, a), new)):
            level.logins.append(seconds)
            sessions.append((account, sid, first_timeline_container(sandbox, account[0])))
    time.sleep(5)  # landing pages boot
    pss, level.processes = browser_pss_mb(service_pid)
    level.idle_mb = pss / target

    cpu_before, refreshes_before = cpu_seconds(service_pid), metric(base, REFRESHES_OK)
    time.sleep(args.idle_window)
    cpu = cpu_seconds(service_pid) - cpu_before
    level.refreshes = metric(base, REFRESHES_OK) - refreshes_before
    level.cpu_share = cpu / (args.idle_window * psutil.cpu_count())
    if level.refreshes:
        level.cpu_per_refresh = cpu / level.refreshes

    clients = args.clients
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda c: client_load(base, sessions, c, clients, args.rounds, level), range(clients)))
    level.working_mb = browser_pss_mb(service_pid)[0] / target
    level.used_gb = used_memory_gb()
    return level


def print_table(levels: list[Level], args: argparse.Namespace) -> None:
    cores = psutil.cpu_count()
    print(f"\nsessions | login median s | idle MB/session | working MB/session | processes | "
          f"refresher CPU (window {args.idle_window}s, interval {args.refresh_interval}s) | CPU s/refresh | "
          f"CPU at {DEFAULT_REFRESH_INTERVAL}s | reuse ms med/p95 | timeline s med/p95 | errors | used GB")
    for lv in levels:
        at_default = (f"{lv.sessions * lv.cpu_per_refresh / (DEFAULT_REFRESH_INTERVAL * cores) * 100:5.1f} %"
                      if lv.cpu_per_refresh is not None else "-")
        per_refresh = f"{lv.cpu_per_refresh:5.2f}" if lv.cpu_per_refresh is not None else "-"
        reuse = (f"{median(lv.reuse) * 1000:6.1f} / {percentile(lv.reuse, 0.95) * 1000:6.1f}"
                 if lv.reuse else "-")
        timeline = (f"{median(lv.timeline):5.2f} / {percentile(lv.timeline, 0.95):5.2f}" if lv.timeline else "-")
        login_median = f"{median(lv.logins):5.2f}" if lv.logins else "-"
        print(f"{lv.sessions:8d} | {login_median:>13} | {lv.idle_mb:15.0f} | {lv.working_mb:18.0f} | "
              f"{lv.processes:9d} | {lv.cpu_share * 100:5.1f} % ({lv.refreshes:.0f} refreshes) | {per_refresh:>13} | "
              f"{at_default:>9} | {reuse:>16} | {timeline:>18} | {lv.errors:6d} | {lv.used_gb:7.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,30,60", help="session counts, ascending")
    parser.add_argument("--profile", choices=("fast", "realistic"), default="realistic")
    parser.add_argument("--solve-delay", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the latency phase")
    parser.add_argument("--rounds", type=int, default=3, help="passes of each client over its sessions")
    parser.add_argument("--idle-window", type=int, default=120, help="seconds of the refresher CPU window")
    parser.add_argument("--refresh-interval", type=int, default=120, help="SESSION_REFRESH_INTERVAL of the run")
    parser.add_argument("--max-used-gb", type=float, default=18.0, help="stop before a level above this")
    args = parser.parse_args()
    targets = sorted(int(n) for n in args.levels.split(","))
    accounts = generated_accounts(targets[-1])

    print(f"Curve on {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB: "
          f"levels {targets}, {args.clients} clients, sandbox '{args.profile}'", flush=True)
    levels: list[Level] = []
    with Processes() as procs:
        sandbox = procs.sandbox(args.profile, accounts=targets[-1],
                                sets=[f"captcha_solve_delay_s={args.solve_delay:g}"])
        service, base = procs.service(sandbox, {
            "MAX_SESSIONS": str(targets[-1] + 2), "SERVER_THREADS": str(targets[-1] + 2 * args.clients + 8),
            "SESSION_REFRESH_INTERVAL": str(args.refresh_interval), "REFRESH_CHECK_INTERVAL": "10",
        })
        sessions: list[tuple[tuple[str, str], str, str]] = []
        for target in targets:
            if used_memory_gb() > args.max_used_gb:
                print(f"stopping before {target} sessions: {used_memory_gb():.1f} GB used", flush=True)
                break
            started = time.monotonic()
            levels.append(run_level(base, sandbox, service.pid, target, args, accounts, sessions))
            print(f"level {target} done in {time.monotonic() - started:.0f} s", flush=True)
            print_table(levels[-1:], args)
    print_table(levels, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
