"""What the benchmark scripts share: a sandbox and a service in their own processes, HTTP calls,
memory and CPU of the service's browsers, percentiles, and the portal's own floor per route.

Why separate processes: the sandbox simulates the portal's latencies with sleeps and serves every
page a browser loads; in the service's process it would compete with it for the GIL and blur the
figures. The service is started exactly as a user would start it, pointed at the sandbox by the
documented portal variables.
"""
from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emodal.sandbox.data import generated_specs  # noqa: E402 - bench tooling may read the sandbox's data

CAPTCHA_KEY = "sandbox-key"
B4_ACCOUNTS = [("jdoe", "sandbox-pass"), ("asmith", "sandbox-pass-2")]
TIMEOUT = 600
SEED = 1


def generated_accounts(count: int, seed: int = SEED) -> list[tuple[str, str]]:
    """The sandbox's ``--accounts`` logins (user001...) with their passwords."""
    return [(spec.username, spec.password) for spec in generated_specs(seed, count)]


class Processes:
    """The sandbox and service processes of one benchmark; ``close()`` ends both (idempotent)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], ready_prefix: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> tuple[subprocess.Popen[str], str]:
        """Run ``args`` and return it with the URL of its READY line."""
        proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            if line.startswith(ready_prefix):
                return proc, line.split()[-1].strip()
            if time.monotonic() > deadline:
                break
        self.close()
        raise SystemExit(f"{args[1:3]} did not start")

    def sandbox(self, profile: str, *, accounts: int = 0, sets: Iterable[str] = ()) -> str:
        args = [sys.executable, "-m", "emodal.sandbox", "--port", "0", "--profile", profile,
                "--seed", str(SEED), "--accounts", str(accounts)]
        for item in sets:
            args += ["--set", item]
        return self.start(args, "EMODAL SANDBOX READY ")[1]

    def service(self, sandbox_url: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
        """The service, configured for the sandbox through its documented variables."""
        portal = {"EMODAL_ECP2_URL": f"{sandbox_url}/ecp2", "EMODAL_TERMOPS_URL": f"{sandbox_url}/termops",
                  "EMODAL_TRUCKERPORTAL_URL": f"{sandbox_url}/truckerportal",
                  "EMODAL_ACCOUNT_URL": f"{sandbox_url}/account", "CAPTCHA_SERVICE_URL": f"{sandbox_url}/2captcha",
                  "LOG_LEVEL": "WARNING", "DOWNLOADS_DIR": str(ROOT / "downloads" / "bench")}
        return self.start([sys.executable, str(ROOT / "emodal_business_api.py"), "--port", "0"],
                          "EMODAL API READY ", {**portal, **(env or {})})

    def close(self) -> None:
        """SIGTERM (the service closes its browsers), then SIGKILL whatever of it is left."""
        for proc in reversed(self.procs):
            end(proc)
        self.procs.clear()

    def stop(self, proc: subprocess.Popen[str]) -> None:
        """End one of the processes (a service to be started again on the same STATE_DIR)."""
        end(proc)
        self.procs.remove(proc)

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def end(proc: subprocess.Popen[str]) -> None:
    """SIGTERM ``proc`` (a service closes its browsers), then SIGKILL whatever of it is left."""
    try:
        leftovers = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        leftovers = []
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for process in leftovers:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


# --- measuring ---------------------------------------------------------------------------------------
def browser_processes(service_pid: int) -> list[psutil.Process]:
    """ChromeDriver and Chromium processes started by the service."""
    found = []
    for child in psutil.Process(service_pid).children(recursive=True):
        try:
            if "chrom" in child.name():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def browser_pss_mb(service_pid: int) -> tuple[float, int]:
    """Summed PSS (shared pages counted once across processes) and the number of processes."""
    total = count = 0
    for process in browser_processes(service_pid):
        try:
            total += process.memory_full_info().pss
            count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**20, count


def cpu_seconds(service_pid: int) -> float:
    """CPU time (user + system) used so far by the service and its browsers."""
    total = 0.0
    for process in [psutil.Process(service_pid), *browser_processes(service_pid)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def used_memory_gb() -> float:
    memory = psutil.virtual_memory()
    return (memory.total - memory.available) / 2**30


def post(base: str, route: str, body: dict[str, Any]) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = requests.post(base + route, json=body, timeout=TIMEOUT)
    return time.perf_counter() - started, response


def credentials(account: tuple[str, str]) -> dict[str, str]:
    return {"username": account[0], "password": account[1], "captcha_api_key": CAPTCHA_KEY}


def login(base: str, account: tuple[str, str]) -> tuple[float, str]:
    """``POST /get_session`` -> (seconds, session id); raises on failure."""
    seconds, response = post(base, "/get_session", credentials(account))
    response.raise_for_status()
    return seconds, response.json()["session_id"]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0-1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values)


def metric(base: str, name: str) -> float:
    """One Prometheus sample of ``/metrics`` (first line starting with ``name``), 0 if absent."""
    text = requests.get(base + "/metrics", timeout=30).text
    match = re.search(rf"^{re.escape(name)}\s+([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


# --- the portal's floor ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Floors:
    """The time the portal itself imposes on a route, from the sandbox's live knobs: page boots,
    the mean XHR latency, scroll batch latency, animations, step transitions, solve and OIDC hop.
    A client that waited for nothing else would take this long (mean latencies, so a lucky run of
    the seeded jitter can end below 1.0 x)."""

    knobs: dict[str, Any]

    @classmethod
    def of(cls, sandbox_url: str) -> "Floors":
        return cls(requests.get(f"{sandbox_url}/_sandbox/config", timeout=30).json()["knobs"])

    def _boot(self, app: str) -> float:
        return float(self.knobs["page_boot_ms"].get(app, 0)) / 1000

    @property
    def xhr(self) -> float:
        low, high = self.knobs["xhr_latency_ms"]
        return (low + high) / 2000

    def login(self) -> float:
        return float(self.knobs["captcha_solve_delay_s"]) + self.knobs["oidc_hop_ms"] / 1000

    def containers(self, rows: int) -> float:
        """The grid with ``rows`` rows loaded: boot, first batch, then one scroll batch per batch."""
        first, batch = self.knobs["first_batch"], self.knobs["batch_size"]
        batches = max(0, math.ceil((rows - first) / batch))
        return self._boot("ecp2") + self.xhr + batches * (self.xhr + self.knobs["scroll_batch_latency_ms"] / 1000)

    def expand(self, row: int) -> float:
        """Open the grid down to ``row`` (0-based), then expand it (detail XHR + animation)."""
        return self.containers(row + 1) + self.xhr + self.knobs["expand_animation_ms"] / 1000

    def check_appointments(self) -> float:
        """Wizard to step 3: termops boot, step-1 validation XHR + transition, slots XHR + transition."""
        transition = self.knobs["step_transition_ms"] / 1000
        return self._boot("termops") + 2 * (self.xhr + transition)

    def appointments_export(self) -> float:
        """My Appointments: truckerportal boot, first rows XHR, then the portal's own Excel export
        (its ``excel_ms`` preparation and the export XHR)."""
        return self._boot("truckerportal") + 2 * self.xhr + self.knobs["excel_ms"]["truckerportal"] / 1000

    def make_resumed(self) -> float:
        """Submit at step 3: the submit XHR and the transition to the confirmation."""
        return self.xhr + self.knobs["step_transition_ms"] / 1000
