"""A real local webhook receiver for the webhook tests: http.server on 127.0.0.1, free port.

It records every request (path, headers, body) and answers from a script of responses
(status codes, or ``("redirect", location)``); when the script is empty it answers 204.
``hold`` makes it keep requests waiting until ``release()`` (a receiver too slow to answer).
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Any] = deque()
        self.held = threading.Event()
        self.held.set()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._arrived:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    receiver._arrived.notify_all()
                receiver.held.wait(30)
                answer = receiver.script.popleft() if receiver.script else 204
                if isinstance(answer, tuple):
                    self.send_response(307)
                    self.send_header("Location", answer[1])
                else:
                    self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        """Wait until ``count`` requests have arrived (the worker's own thread sends them)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def hold(self) -> None:
        self.held.clear()

    def release(self) -> None:
        self.held.set()

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
