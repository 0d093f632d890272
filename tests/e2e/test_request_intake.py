"""The request-body cap end to end (API_SPEC 1.1-1.3): the real entry point, raw sockets, no key.

Why raw sockets: the defect is what the server *reads* before the app runs (waitress spools a
body to a temporary file before the API-key check), so the client must be able to declare or
stream far more than it sends, and the test must watch the server process's open files while
it streams. No browser is started: the requests never pass the key check.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "intake-test-key-" + "x" * 32
MIB = 1024 * 1024
CAP = MIB  # MAX_REQUEST_BYTES default
#: Bytes a streaming client offers in total: far beyond anything the server may keep.
STREAMED = 64 * MIB
READY = "EMODAL API READY http://"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, int]]:
    """``emodal_business_api.py --port 0`` with a key configured and every default limit."""
    downloads = tmp_path_factory.mktemp("intake")
    env = {**os.environ, "EMODAL_API_KEYS": KEY, "DOWNLOADS_DIR": str(downloads), "LOG_LEVEL": "INFO"}
    env.pop("MAX_REQUEST_BYTES", None)
    process = subprocess.Popen([sys.executable, str(ROOT / "emodal_business_api.py"), "--port", "0"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = ""
        for line in process.stdout:
            if line.startswith(READY):
                break
        assert line.startswith(READY), "the service did not start"
        yield process, int(line.strip().rsplit(":", 1)[1])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    return sock


def head(port: int, extra: str) -> bytes:
    return (f"POST /get_session HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Request-Id: intake-1\r\n{extra}\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response (Content-Length framed, as every answer of this service)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    raw_head, body = data.split(b"\r\n\r\n", 1)
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def assert_json_413(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert status == 413, body
    assert headers["content-type"].startswith("application/json"), headers
    envelope = json.loads(body)
    assert envelope["success"] is False and envelope["error_type"] == "payload_too_large"
    assert envelope["error"] == "Request body over 1 MiB" and envelope["details"] == {"max": CAP}
    assert envelope["request_id"] == headers["x-request-id"] == "intake-1"
    return envelope


def largest_temp_file(pid: int) -> int:
    """Size of the largest deleted (spool) file the server process holds open."""
    largest = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).endswith("(deleted)"):
                largest = max(largest, os.stat(fd).st_size)
        except OSError:  # closed meanwhile
            continue
    return largest


def stream(sock: socket.socket, pid: int, payload: Iterator[bytes]) -> tuple[int, int]:
    """Send ``payload`` until the server stops reading; returns (bytes sent, largest spool file seen)."""
    sent = largest = 0
    try:
        for piece in payload:
            sock.sendall(piece)
            sent += len(piece)
            largest = max(largest, largest_temp_file(pid))
    except OSError:  # the server answered and closed: it reads no further
        pass
    return sent, max(largest, largest_temp_file(pid))


def test_declared_oversize_body_is_refused_before_it_is_read(server) -> None:
    process, port = server
    with connect(port) as sock:
        sock.sendall(head(port, f"Content-Length: {STREAMED}\r\n"))  # headers only: the body never comes
        envelope = assert_json_413(*read_response(sock))
    assert "session_id" not in envelope
    assert process.poll() is None


def assert_not_spooled(sent: int, largest: int) -> None:
    assert largest <= CAP + 256 * 1024, f"the server spooled {largest} bytes"
    assert sent < STREAMED, "the server read the whole stream"


def test_streamed_oversize_body_stops_being_read_at_the_cap(server) -> None:
    process, port = server
    piece = b" " * (256 * 1024)
    with connect(port) as sock:
        sock.sendall(head(port, f"Content-Length: {STREAMED}\r\n"))
        assert_not_spooled(*stream(sock, process.pid, iter([piece] * (STREAMED // len(piece)))))


def test_chunked_oversize_body_is_413_json_and_not_spooled(server) -> None:
    process, port = server
    data = b" " * (256 * 1024)
    chunk = f"{len(data):x}\r\n".encode() + data + b"\r\n"
    with connect(port) as sock:
        sock.sendall(head(port, "Transfer-Encoding: chunked\r\n"))
        assert_not_spooled(*stream(sock, process.pid, iter([chunk] * (STREAMED // len(data)))))
        assert_json_413(*read_response(sock))


def post_body(port: int, size: int) -> tuple[int, dict[str, str], bytes]:
    """POST a JSON object of exactly ``size`` bytes, without a key."""
    body = b"{" + b" " * (size - 2) + b"}"
    with connect(port) as sock:
        sock.sendall(head(port, f"Content-Length: {len(body)}\r\n") + body)
        return read_response(sock)


def test_body_just_over_the_cap_is_413_json(server) -> None:
    assert_json_413(*post_body(server[1], CAP + 1))


def test_body_at_the_cap_reaches_the_key_check(server) -> None:
    status, _, answer = post_body(server[1], CAP)
    assert status == 401 and json.loads(answer)["error_type"] == "unauthorized"


def test_request_waitress_cannot_parse_is_400_json(server) -> None:
    process, port = server
    with connect(port) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        status, headers, body = read_response(sock)
    assert status == 400 and headers["content-type"].startswith("application/json")
    envelope = json.loads(body)
    assert envelope["error_type"] == "bad_request" and envelope["request_id"] == headers["x-request-id"]
    assert process.poll() is None
