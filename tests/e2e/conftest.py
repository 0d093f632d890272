"""End-to-end fixtures: the real service (real registry, real headless Chromium) against the sandbox.

- `service`: session-scoped; the app of ``create_app(Settings.with_sandbox(...))`` served by a
  threaded Werkzeug server on a free port, short refresher intervals. ``.base_url``, ``.app``,
  ``.settings``, ``.registry``. Shut down (every browser quit) at the end of the test session.
- `client`: a tiny HTTP client bound to the service (``client.post(path, json=...)``,
  ``client.get(path)``, ``client.delete(path)``, ``client.url(path)``) returning ``requests`` responses.
- `jdoe_session`: session-scoped; logs jdoe in once through ``POST /get_session`` and returns the
  response body. Every e2e module reuses it, which keeps the number of browsers low.
- `credentials(username)`: the request fields of a sandbox account (password + solver key).
- `make_service(**overrides)`: a second, private service instance (e.g. to test shutdown);
  every instance made is shut down at the end of the test using it.
- `start(**env)`: the real entry point as a subprocess on the test's own STATE_DIR (a second call
  is a restart); see tests/e2e/service_process.py.
- `eventually(condition, timeout, what)`: poll a condition from a test (the code under test never
  sleeps; tests may wait for other threads and processes).
- `slow_container_details(sandbox, count, delay_ms)`: hold the next container-detail XHRs, so a
  job is still mid-work when a test acts on it, however fast the machine.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from emodal.app import create_app, shutdown
from emodal.config import Settings
from tests.e2e.service_process import READY, Service, alive, launch

PASSWORDS = {"jdoe": "sandbox-pass", "asmith": "sandbox-pass-2"}
SOLVER_KEY = "sandbox-key"
TIMEOUT = 300


def eventually(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy (returned) or ``timeout`` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def slow_container_details(sandbox: Any, count: int, delay_ms: int) -> Iterator[None]:
    """Hold each of the next ``count`` container-detail XHRs (``/ecp2/api/containers/<number>``: one
    per job item, the row's expansion) for ``delay_ms``: a queued sandbox ``slow`` fault, so that a
    test that acts on a running job finds it still running, however fast the machine. Every queued
    fault is cleared on the way out, whether the job consumed them all or not."""
    sandbox.admin.add_fault(type="slow", target="xhr", count=count, delay_ms=delay_ms,
                            path_contains="/ecp2/api/containers/")
    try:
        yield
    finally:
        sandbox.admin.clear_faults()


@dataclass
class RunningService:
    app: Any
    settings: Settings
    base_url: str
    _server: Any
    _thread: threading.Thread

    @property
    def registry(self) -> Any:
        return self.app.extensions["emodal_registry"]

    def stop(self) -> None:
        """Graceful service shutdown (browsers closed), then the HTTP server; idempotent."""
        if not self._thread.is_alive():
            return
        try:
            shutdown(self.app)
        finally:
            self._server.shutdown()
            self._thread.join(timeout=10)


def start_service(sandbox: Any, downloads: Path, **overrides: Any) -> RunningService:
    settings = Settings.from_env({}, **{
        "downloads_dir": downloads, "max_sessions": 4, "server_threads": 8, "max_concurrent_logins": 2,
        "refresh_check_interval": 2, "session_refresh_interval": 60, "captcha_poll_interval": 0.3,
        "login_timeout": 90, "captcha_timeout": 60, "shutdown_grace": 5, **overrides,
    }).with_sandbox(sandbox.base_url)
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="service", daemon=True)
    thread.start()
    return RunningService(app, settings, f"http://127.0.0.1:{server.server_port}", server, thread)


class Client:
    """``requests`` bound to a base URL, with the long timeout business calls need."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = headers or {}

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", TIMEOUT)
        kw["headers"] = {**self.headers, **kw.get("headers", {})}
        return requests.request(method, self.url(path), **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self._call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self._call("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self._call("DELETE", path, **kw)


@pytest.fixture(scope="session")
def credentials() -> Callable[..., dict[str, str]]:
    def make(username: str = "jdoe", password: str | None = None, key: str = SOLVER_KEY) -> dict[str, str]:
        return {"username": username, "password": password or PASSWORDS[username], "captcha_api_key": key}

    return make


@pytest.fixture(scope="session")
def service(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(sandbox, tmp_path_factory.mktemp("service") / "downloads")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def client(service: RunningService) -> Client:
    return Client(service.base_url)


@pytest.fixture(scope="session")
def jdoe_session(client: Client, credentials: Callable[..., dict[str, str]]) -> dict[str, Any]:
    response = client.post("/get_session", json=credentials("jdoe"))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def make_service(sandbox: Any, tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    made: list[RunningService] = []

    def make(**overrides: Any) -> RunningService:
        made.append(start_service(sandbox, tmp_path / f"downloads{len(made)}", **overrides))
        return made[-1]

    try:
        yield make
    finally:
        for running in made:
            running.stop()


@pytest.fixture
def start(sandbox: Any, tmp_path: Path) -> Iterator[Any]:
    """``start(**env)``: the real entry point as a subprocess on ``tmp_path`` (the same STATE_DIR
    every time, so a second ``start()`` is a restart); what is left of each run is ended after."""
    running: list[Service] = []

    def make(**env: str) -> Service:
        proc, errors = launch(sandbox, tmp_path, **env)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(READY):
                service = Service(proc, line.split()[-1].strip(), errors)
                running.append(service)
                return service
        raise AssertionError(f"service exited with {proc.wait()}: {errors.read_text()}")

    yield make
    for service in running:
        leftovers = service.browsers() if service.proc.poll() is None else []
        if service.proc.poll() is None:
            service.terminate()
        for process in leftovers:
            if alive(process):
                process.kill()
