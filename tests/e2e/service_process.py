"""The real entry point (``emodal_business_api.py``) as a subprocess, for the tests that stop and
start the service (durable sessions, jobs resumed after a restart). The ``start`` fixture
(tests/e2e/conftest.py) launches one and ends whatever is left of it after the test."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[2]
READY = "EMODAL API READY "


@dataclass
class Service:
    """One run of ``emodal_business_api.py`` (its process, URL and stderr file)."""

    proc: subprocess.Popen[str]
    base: str
    stderr: Path

    def post(self, path: str, **body: Any) -> requests.Response:
        return requests.post(self.base + path, json=body, timeout=300)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, timeout=60)

    def browsers(self) -> list[psutil.Process]:
        return [p for p in psutil.Process(self.proc.pid).children(recursive=True) if alive(p)]

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(120)


def launch(sandbox: Any, workdir: Path, **env: str) -> tuple[subprocess.Popen[str], Path]:
    """The entry point on ``workdir/downloads`` (so the same STATE_DIR every time), pointed at
    ``sandbox`` by its portal URL variables (not ``--sandbox``: that one would start a portal of its
    own, which would die with the service). Returns the process and its stderr file."""
    base = sandbox.base_url
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("STATE_", "SESSION_SECRET"))}
    full = {**inherited, "PYTHONPATH": str(ROOT), "DOWNLOADS_DIR": str(workdir / "downloads"), "PORT": "0",
            "CAPTCHA_POLL_INTERVAL": "0.3", "SHUTDOWN_GRACE": "5", "LOG_LEVEL": "INFO",
            "EMODAL_ECP2_URL": f"{base}/ecp2", "EMODAL_TERMOPS_URL": f"{base}/termops",
            "EMODAL_TRUCKERPORTAL_URL": f"{base}/truckerportal", "EMODAL_ACCOUNT_URL": f"{base}/account",
            "CAPTCHA_SERVICE_URL": f"{base}/2captcha", **env}
    errors = workdir / f"stderr-{len(list(workdir.glob('stderr-*')))}.log"
    with errors.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "emodal_business_api.py"], cwd=ROOT, env=full, text=True,
                                stdout=subprocess.PIPE, stderr=sink)
    return proc, errors


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
