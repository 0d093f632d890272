"""A browser-free stand-in for ``SessionRegistry`` for unit tests of the HTTP layer and the runner.

It implements the ``emodal.sessions.protocol.Registry`` interface (tests/unit/test_registry_protocol.py
checks both it and the real registry against it); sessions are plain objects with the attributes
``describe`` and the runner need. "Logging in" just creates an entry, so the runner's logic
(envelope, retry, failure records) is tested without a browser.
"""
from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from emodal.errors import SessionNotFound
from emodal.redaction import short_id


class FakeSession:
    def __init__(self, session_id: str, tenant: str, username: str = "jdoe") -> None:
        self.session_id, self.tenant, self.username = session_id, tenant, username
        self.keep_alive, self.lock, self.wizards = True, threading.Lock(), {}
        self.created_at = self.last_used = time.time()
        self.closed = False
        self.driver = object()  # never driven: operations in unit tests do not touch it
        self.handle = None
        self.errors: list[str] = []
        self.lost_wizards: dict[str, float] = {}
        self.restored = False
        self.recent_operations: list[dict[str, Any]] = []  # BrowserSession's finished operations

    def take_restored(self) -> bool:
        taken, self.restored = self.restored, False
        return taken

    def session_dir(self, downloads_dir) -> Path:
        return Path(downloads_dir) / self.session_id

    def record_error(self, error_type: str) -> None:
        self.errors.append(error_type)

    def record_url(self) -> None:
        pass

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    @property
    def short_id(self) -> str:
        return short_id(self.session_id)

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

    def resolve(self, tenant: str, session_id: str | None, credentials: Any, *, keep_alive: bool,
                promote: bool) -> tuple[FakeSession, bool]:
        self.resolve_calls.append((tenant, session_id, credentials, keep_alive, promote))
        session = self.get(tenant, session_id) if session_id else None
        if session is not None and credentials is None:
            return session, False
        if credentials is None:
            raise SessionNotFound("Invalid or expired session_id")
        session = self.add(f"session_1764012345_{credentials.username}FakeToken0123456789", tenant)
        return session, True

    @contextlib.contextmanager
    def acquire(self, session: FakeSession, route: str, request_id: str | None, timeout: float | None = None,
                *, touch: bool = True) -> Iterator[FakeSession]:
        with session.lock:
            yield session

    def release(self, session: FakeSession | None = None) -> None:
        pass

    def ensure_healthy(self, session: FakeSession) -> bool:
        return False

    def relogin(self, session: FakeSession) -> None:
        self.relogins += 1

    def close(self, tenant: str | None, session_id: str) -> None:
        if self.get(tenant, session_id) is None:
            raise SessionNotFound("Session not found")
        self.sessions.pop(session_id).closed = True

    def close_all(self, grace: float | None = None) -> int:
        self.closed_all = True
        return len(self.sessions)

    def emergency_close_all(self) -> int:
        closed = len(self.sessions)
        self.sessions.clear()
        return closed

    def reap_orphans(self) -> int:
        return 0

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
