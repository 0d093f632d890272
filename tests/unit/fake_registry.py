"""A browser-free stand-in for ``SessionRegistry`` for unit tests of the HTTP layer.

Only the registry methods the routes and the runner call are implemented; sessions are plain
objects with the attributes ``describe`` and the runner need. "Logging in" just creates an entry,
so the runner's logic (envelope, retry, failure records) is tested without a browser.
"""
from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

from emodal.errors import SessionNotFound


class FakeSession:
    def __init__(self, session_id: str, tenant: str, username: str = "jdoe") -> None:
        self.session_id, self.tenant, self.username = session_id, tenant, username
        self.keep_alive, self.lock, self.wizards = True, threading.Lock(), {}
        self.created_at = self.last_used = time.time()
        self.closed = False
        self.driver = object()  # never driven: operations in unit tests do not touch it
        self.errors: list[str] = []
        self.recent_operations: list[dict[str, Any]] = []  # BrowserSession's finished operations

    def session_dir(self, downloads_dir) -> Path:
        return Path(downloads_dir) / self.session_id

    def record_error(self, error_type: str) -> None:
        self.errors.append(error_type)

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    @property
    def short_id(self) -> str:
        return self.session_id[:-10]

    def describe(self, session_timeout: float, *, owner: bool = False) -> dict[str, Any]:
        out = {"session_id": self.session_id, "username": self.username, "keep_alive": self.keep_alive,
               "state": "ready", "busy": self.busy, "created_at": "2025-11-24T19:25:45Z", "expires_at": None}
        if owner:
            out["owner"] = self.tenant
        return out


class FakeRegistry:
    def __init__(self) -> None:
        self.sessions: dict[str, FakeSession] = {}
        self.resolve_calls: list[tuple] = []
        self.closed_all = False
        self.relogins = 0

    def add(self, session_id: str, tenant: str) -> FakeSession:
        self.sessions[session_id] = FakeSession(session_id, tenant)
        return self.sessions[session_id]

    def get(self, tenant: str | None, session_id: str) -> FakeSession | None:
        s = self.sessions.get(session_id)
        return s if s is not None and (tenant is None or s.tenant == tenant) else None

    def list(self, tenant: str | None = None) -> list[FakeSession]:
        return [s for s in self.sessions.values() if tenant is None or s.tenant == tenant]

    def resolve(self, tenant, session_id, credentials, *, keep_alive, promote):
        self.resolve_calls.append((tenant, session_id, credentials, keep_alive, promote))
        session = self.get(tenant, session_id) if session_id else None
        if session is not None and credentials is None:
            return session, False
        if credentials is None:
            raise SessionNotFound("Invalid or expired session_id")
        session = self.add(f"session_1764012345_{credentials.username}FakeToken0123456789", tenant)
        return session, True

    @contextlib.contextmanager
    def acquire(self, session, route, request_id, timeout=None):
        with session.lock:
            yield

    def release(self, session=None) -> None:
        pass

    def ensure_healthy(self, session) -> bool:
        return False

    def relogin(self, session) -> None:
        self.relogins += 1

    def close(self, tenant, session_id) -> None:
        if self.get(tenant, session_id) is None:
            raise SessionNotFound("Session not found")
        self.sessions.pop(session_id).closed = True

    def close_all(self, grace=None) -> int:
        self.closed_all = True
        return len(self.sessions)

    def stats(self) -> dict[str, Any]:
        return {"active_sessions": len(self.sessions), "persistent_sessions": len(self.sessions),
                "busy_sessions": 0, "logins_in_progress": 0, "by_kind_state": {"keep_alive": {"ready": 1}},
                "counters": {"logins": {"success": 2}}, "portal": {"status": "unknown", "last_success_at": None}}


def make_app(tmp_path, registry: FakeRegistry | None = None, **overrides):
    """A service app over a fake registry with downloads in ``tmp_path``; returns (app, registry)."""
    from emodal.app import create_app
    from emodal.config import Settings

    registry = registry or FakeRegistry()
    settings = Settings.from_env({}, downloads_dir=tmp_path / "downloads", **overrides)
    return create_app(settings, registry=registry), registry
