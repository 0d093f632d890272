"""CaptchaClient against a tiny local 2captcha-protocol server (no sandbox, no browser)."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from emodal.captcha.client import CaptchaClient
from emodal.captcha.schedule import PollSchedule
from emodal.errors import CaptchaKeyInvalid, CaptchaUnavailable, CaptchaZeroBalance, RecaptchaFailed

TOKEN = "03A" + "x" * 400


class FakeSolver:
    """Behaviour chosen by the API key; records every call so tests can count submits and polls."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.no_slot_left = 2
        self.not_ready_polls = 2

    def answer(self, endpoint: str, params: dict[str, str]) -> tuple[int, str]:
        self.calls.append((endpoint, params))
        key = params.get("key", "")
        if endpoint == "/in.php":
            if key == "wrong":
                return 200, json.dumps({"status": 0, "request": "ERROR_WRONG_USER_KEY"})
            if key == "missing":
                return 200, json.dumps({"status": 0, "request": "ERROR_KEY_DOES_NOT_EXIST"})
            if key == "zero":
                return 200, json.dumps({"status": 0, "request": "ERROR_ZERO_BALANCE"})
            if key == "odd":
                return 200, "<html>maintenance</html>"
            if key == "http500":
                return 500, "oops"
            if key == "noslot" and self.no_slot_left > 0:
                self.no_slot_left -= 1
                return 200, json.dumps({"status": 0, "request": "ERROR_NO_SLOT_AVAILABLE"})
            return 200, json.dumps({"status": 1, "request": str(100 + len(self.calls))})
        if key == "unsolvable":
            return 200, json.dumps({"status": 0, "request": "ERROR_CAPTCHA_UNSOLVABLE"})
        if key == "slow":
            return 200, json.dumps({"status": 0, "request": "CAPCHA_NOT_READY"})
        polls = sum(1 for e, p in self.calls if e == "/res.php" and p.get("id") == params.get("id"))
        if polls <= self.not_ready_polls:
            return 200, json.dumps({"status": 0, "request": "CAPCHA_NOT_READY"})
        return 200, json.dumps({"status": 1, "request": TOKEN})

    def count(self, endpoint: str) -> int:
        return sum(1 for e, _ in self.calls if e == endpoint)


@pytest.fixture(scope="module")
def solver_server() -> Iterator[tuple[FakeSolver, str]]:
    fake = FakeSolver()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, params: dict[str, str]) -> None:
            status, body = fake.answer(urlsplit(self.path).path, params)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._reply({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            self._reply({k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()})

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def solver(solver_server: tuple[FakeSolver, str]) -> tuple[FakeSolver, str]:
    solver_server[0].reset()
    return solver_server


def client(base: str, key: str, **kw: Any) -> CaptchaClient:
    kw.setdefault("timeout", 5)
    kw.setdefault("poll_interval", 0.01)
    return CaptchaClient(base, key, **kw)


def test_token_after_not_ready_polls(solver: tuple[FakeSolver, str]) -> None:
    fake, base = solver
    token = client(base, "good").solve_recaptcha_v2("SITEKEY", "http://127.0.0.1/identity/Account/Login")
    assert token == TOKEN
    submit = [p for e, p in fake.calls if e == "/in.php"][0]
    assert submit["method"] == "userrecaptcha" and submit["googlekey"] == "SITEKEY" and submit["json"] == "1"
    assert fake.count("/res.php") == 3  # two CAPCHA_NOT_READY, then the token


@pytest.mark.parametrize("key, error", [("wrong", CaptchaKeyInvalid), ("missing", CaptchaKeyInvalid),
                                        ("zero", CaptchaZeroBalance)])
def test_key_errors_are_never_retried(solver: tuple[FakeSolver, str], key: str, error: type) -> None:
    fake, base = solver
    with pytest.raises(error) as info:
        client(base, key).solve_recaptcha_v2("SITEKEY", "http://x/")
    assert fake.count("/in.php") == 1 and fake.count("/res.php") == 0
    assert key not in str(info.value) + str(info.value.details)


def test_unsolvable_gets_new_tasks_then_fails(solver: tuple[FakeSolver, str]) -> None:
    fake, base = solver
    with pytest.raises(RecaptchaFailed):
        client(base, "unsolvable", max_unsolvable_retries=2).solve_recaptcha_v2("SITEKEY", "http://x/")
    assert fake.count("/in.php") == 3


def test_no_slot_backs_off_then_submits(solver: tuple[FakeSolver, str]) -> None:
    fake, base = solver
    assert client(base, "noslot").solve_recaptcha_v2("SITEKEY", "http://x/") == TOKEN
    assert fake.count("/in.php") == 3


def test_overall_timeout_is_recaptcha_failed(solver: tuple[FakeSolver, str]) -> None:
    fake, base = solver
    with pytest.raises(RecaptchaFailed):
        client(base, "slow", timeout=0.3, poll_interval=0.05).solve_recaptcha_v2("SITEKEY", "http://x/")
    assert fake.count("/res.php") >= 2


@pytest.mark.parametrize("key", ["odd", "http500"])
def test_odd_answers_are_unavailable(solver: tuple[FakeSolver, str], key: str) -> None:
    _, base = solver
    with pytest.raises(CaptchaUnavailable):
        client(base, key).solve_recaptcha_v2("SITEKEY", "http://x/")


def test_unreachable_service_is_unavailable_and_hides_the_key() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CaptchaUnavailable) as info:
        client(f"http://127.0.0.1:{port}", "secret-key-123").solve_recaptcha_v2("SITEKEY", "http://x/")
    assert "secret-key-123" not in str(info.value) + str(info.value.details)


def test_cancel_stops_waiting(solver: tuple[FakeSolver, str]) -> None:
    _, base = solver
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CaptchaUnavailable):
        client(base, "slow", cancel=cancel).solve_recaptcha_v2("SITEKEY", "http://x/")


@pytest.mark.parametrize("url", ["http://2captcha.com", "http://10.0.0.5:8080/2captcha", "ftp://127.0.0.1"])
def test_plain_http_only_for_loopback(url: str) -> None:
    with pytest.raises(CaptchaUnavailable):
        CaptchaClient(url, "key")


@pytest.mark.parametrize("url", ["https://2captcha.com", "http://127.0.0.1:8470/2captcha", "http://localhost:1"])
def test_https_and_loopback_accepted(url: str) -> None:
    assert "key" not in repr(CaptchaClient(url, "key")).replace("key=<hidden>", "")


def test_solve_times_are_learned_by_the_shared_schedule(solver: tuple[FakeSolver, str]) -> None:
    _, base = solver
    schedule = PollSchedule(0.01)
    assert schedule.expected() is None
    client(base, "good", schedule=schedule).solve_recaptcha_v2("SITEKEY", "http://x/")
    assert schedule.expected() is not None
