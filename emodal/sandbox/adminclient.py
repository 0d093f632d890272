"""Client of the `/_sandbox` admin API (B15) for tests and demo tooling (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class AdminError(RuntimeError):
    """An admin call answered with a non-2xx status."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"admin API answered {status}: {body}")
        self.status, self.body = status, body


class AdminClient:
    """`get/post/patch/put/delete(path, json)` return the parsed JSON of `/_sandbox/<path>`."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, payload: Any = None) -> Any:
        url = f"{self.base_url}/_sandbox/{path.lstrip('/')}"
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            raise AdminError(exc.code, json.loads(raw) if raw else None) from None
        return json.loads(body) if body else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, json: Any = None) -> Any:  # noqa: A002 - mirrors requests' keyword
        return self.request("POST", path, {} if json is None else json)

    def patch(self, path: str, json: Any) -> Any:  # noqa: A002
        return self.request("PATCH", path, json)

    def put(self, path: str, json: Any) -> Any:  # noqa: A002
        return self.request("PUT", path, json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    # ---- conveniences used by the test suites ------------------------------------------------
    def reset(self, **kw: Any) -> Any:
        """`seed`, `containers`, `today`: regenerate data; drop sessions, tokens, faults."""
        return self.post("reset", kw)

    def set_config(self, **knobs: Any) -> Any:
        return self.patch("config", knobs)

    def logout(self, username: str) -> Any:
        return self.post("sessions/logout", {"username": username})

    def solver_tasks(self) -> Any:
        """`{"tasks_created": N, "by_key": {key: N}}` since the last reset."""
        return self.get("solver")

    def advance_clock(self, seconds: float) -> Any:
        return self.post("clock", {"advance_s": seconds})

    def add_fault(self, **fault: Any) -> Any:
        return self.post("faults", fault)

    def clear_faults(self) -> Any:
        return self.delete("faults")
