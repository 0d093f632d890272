"""Benchmark of the cluster layout (issue 11): one API instance + one Grid node against two + two.

For each layout it starts Redis, a Grid hub with its nodes (scripts/cluster.py), the API instances
(``emodal_business_api.py`` with ``STATE_URL=redis://…``, ``SELENIUM_REMOTE_URL``) and the sandbox
portal in this process, opens K keep-alive sessions (the two sandbox accounts under as many API keys
as needed, spread over the instances), then measures:

* throughput of a mixed read workload: ``/get_container_timeline`` and ``/get_booking_number`` on
  first-batch containers of each session's account, sent by 2K client threads, each call through
  the next API instance (a round-robin load balancer), every session used from every instance;
* memory per session on the nodes: the PSS of each node's Chromium and ChromeDriver processes
  (its process group without the node's JVM) divided by the sessions it runs, plus the JVMs.

It prints the figures and the throughput ratio; it asserts nothing. Usage::

    .venv/bin/python bench/cluster.py [--sessions 4] [--calls 48] [--profile fast|realistic]

Everything runs on this machine: with all browsers sharing its cores, a second node and instance
add no CPU, so the ratio shows the coordination overhead, not a capacity gain (docs/DEPLOYMENT.md).
"""
from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emodal.browser.factory import group_pids  # noqa: E402
from emodal.sandbox import SandboxServer  # noqa: E402
from scripts import cluster as cluster_script  # noqa: E402

ACCOUNTS = {"jdoe": "sandbox-pass", "asmith": "sandbox-pass-2"}
CAPTCHA_KEY = "sandbox-key"
TIMEOUT = 600
#: Rows of the Containers grid's first batch: reads of these need no scrolling.
FIRST_BATCH = 24


def api_keys(count: int) -> list[str]:
    return [f"bench-cluster-tenant-{i:02d}-0123456789abcdef" for i in range(count)]


def workload(sandbox: SandboxServer, sessions: list[tuple[str, str, str]], calls: int) -> list[tuple[str, dict[str, Any]]]:
    """``calls`` requests (key, route + body) cycling over the sessions, timelines and booking numbers."""
    containers = {user: [c["number"] for c in sandbox.admin.get(f"accounts/{user}/containers")["containers"][:FIRST_BATCH]]
                  for user in ACCOUNTS}
    out = []
    for i, (key, user, sid) in zip(range(calls), itertools.cycle(sessions)):
        route = "/get_container_timeline" if i % 2 == 0 else "/get_booking_number"
        number = containers[user][(i // len(sessions)) % len(containers[user])]
        out.append((key, {"route": route, "json": {"session_id": sid, "container_id": number}}))
    return out


def node_memory(cluster: Any) -> list[tuple[str, float, float, int]]:
    """Per node: (name, browsers' PSS MB, JVM PSS MB, sessions)."""
    status = {node["uri"]: sum(1 for s in node["slots"] if s.get("session")) for node in cluster.status()["nodes"]}
    out = []
    for node in cluster.nodes:
        browsers = jvm = 0
        for pid in group_pids(node.popen.pid):
            try:
                pss = psutil.Process(pid).memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if pid == node.popen.pid:
                jvm += pss
            else:
                browsers += pss
        out.append((node.name, browsers / 2**20, jvm / 2**20, status.get(node.url, 0)))
    return out


def run_layout(sandbox: SandboxServer, apis: int, nodes: int, sessions: int, calls: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="emodal-bench-cluster-"))
    cluster = cluster_script.start(work / "grid", nodes=nodes, max_sessions=math.ceil(sessions / nodes))
    instances: list[Any] = []
    keys = api_keys(math.ceil(sessions / len(ACCOUNTS)))
    try:
        env = {**cluster_script.api_environment(cluster, work / "downloads", Fernet.generate_key().decode()),
               **cluster_script.sandbox_environment(sandbox.base_url), "EMODAL_API_KEYS": ",".join(keys),
               "MAX_SESSIONS": str(sessions), "SERVER_THREADS": str(4 * sessions + 8),
               "MAX_CONCURRENT_LOGINS": "2", "CAPTCHA_POLL_INTERVAL": "0.3", "LOG_LEVEL": "WARNING"}
        instances = [cluster_script.start_api(work, f"api-{i + 1}", env) for i in range(apis)]
        urls = itertools.cycle([p.url for p in instances])
        url_lock = threading.Lock()

        def next_url() -> str:
            with url_lock:
                return next(urls)

        opened: list[tuple[str, str, str]] = []
        for key, user in itertools.islice(itertools.product(keys, ACCOUNTS), sessions):
            body = {"username": user, "password": ACCOUNTS[user], "captcha_api_key": CAPTCHA_KEY}
            answer = requests.post(f"{next_url()}/get_session", json=body, headers={"X-API-Key": key}, timeout=TIMEOUT)
            answer.raise_for_status()
            opened.append((key, user, answer.json()["session_id"]))
        requests_ = workload(sandbox, opened, calls)

        def call(item: tuple[str, dict[str, Any]]) -> float:
            key, spec = item
            started = time.monotonic()
            answer = requests.post(f"{next_url()}{spec['route']}", json=spec["json"], headers={"X-API-Key": key},
                                   timeout=TIMEOUT)
            if answer.status_code != 200:
                raise RuntimeError(f"{spec['route']}: {answer.status_code} {answer.text[:200]}")
            return time.monotonic() - started

        with ThreadPoolExecutor(2 * sessions) as pool:  # warm-up: every session attached on every instance
            list(pool.map(call, requests_[: 2 * sessions]))
            started = time.monotonic()
            latencies = list(pool.map(call, requests_))
            elapsed = time.monotonic() - started
        return {"apis": apis, "nodes": nodes, "calls": calls, "elapsed": elapsed, "throughput": calls / elapsed,
                "median": statistics.median(latencies), "p90": sorted(latencies)[int(0.9 * len(latencies)) - 1],
                "memory": node_memory(cluster)}
    finally:
        for process in instances:
            process.stop()
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=4, help="K sessions (default 4)")
    parser.add_argument("--calls", type=int, default=48, help="measured calls per layout (default 48)")
    parser.add_argument("--profile", choices=("fast", "realistic"), default="fast", help="sandbox timings")
    args = parser.parse_args()
    sandbox = SandboxServer(profile=args.profile).start()
    try:
        results = [run_layout(sandbox, apis, nodes, args.sessions, args.calls) for apis, nodes in ((1, 1), (2, 2))]
    finally:
        sandbox.stop()
    print(f"\nMixed read workload: {args.calls} calls (timelines + booking numbers) on {args.sessions} sessions, "
          f"{2 * args.sessions} client threads, sandbox profile {args.profile}, {psutil.cpu_count()} CPUs")
    print(f"{'layout':<22}{'calls/s':>9}{'median s':>10}{'p90 s':>8}")
    for r in results:
        print(f"{r['apis']} API + {r['nodes']} node(s){'':<5}{r['throughput']:9.2f}{r['median']:10.2f}{r['p90']:8.2f}")
    print(f"throughput ratio (2+2 / 1+1): {results[1]['throughput'] / results[0]['throughput']:.2f}")
    print("\nMemory on the nodes (PSS):")
    for r in results:
        for name, browsers, jvm, count in r["memory"]:
            per = f"{browsers / count:6.0f} MB per session" if count else "no session"
            print(f"  {r['apis']}+{r['nodes']} {name}: {count} sessions, browsers {browsers:6.0f} MB ({per}), "
                  f"node JVM {jvm:5.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
