"""The registry as its callers see it: the HTTP layer, the operation runner and the app lifecycle.

Why a protocol: unit tests of those callers run over a browser-free fake registry; both the real
:class:`~emodal.sessions.registry.SessionRegistry` and the fake are checked against this one
interface (tests/unit/test_registry_protocol.py), so the fake cannot drift from the real thing.
The refresher drives the real registry only (``refresh``, ``expire_idle``) and is not part of it.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from emodal.sessions.credentials import Credentials
    from emodal.sessions.session import BrowserSession


class Registry(Protocol):
    """Sessions by tenant (API_SPEC 3.3-3.10); see docs/ARCHITECTURE.md "Session objects"."""

    def resolve(self, tenant: str, session_id: str | None, credentials: Credentials | None, *,
                keep_alive: bool, promote: bool) -> tuple[BrowserSession, bool]:
        """The session a call runs under and whether it was just created; pinned until ``acquire``."""

    def release(self, session: BrowserSession | None = None) -> None:
        """Drop the calling thread's pin (a call that ends between ``resolve`` and ``acquire``)."""

    def acquire(self, session: BrowserSession, route: str, request_id: str | None, timeout: float | None = None,
                *, touch: bool = True) -> AbstractContextManager[BrowserSession]:
        """Hold the session lock for one operation (``SessionBusy`` after ``timeout``)."""

    def ensure_healthy(self, session: BrowserSession) -> bool:
        """Probe the page under the lock; re-login in place if needed. True when it recovered."""

    def relogin(self, session: BrowserSession) -> None:
        """Fresh login under the same session id (under the lock)."""

    def get(self, tenant: str | None, session_id: str) -> BrowserSession | None:
        """The session if it exists and belongs to ``tenant`` (``None``: any tenant)."""

    def list(self, tenant: str | None = None) -> list[BrowserSession]:
        """The tenant's sessions (``None``: all), oldest first."""

    def close(self, tenant: str | None, session_id: str) -> None:
        """Close one session (``SessionNotFound``, ``SessionBusy``)."""

    def close_all(self, grace: float | None = None) -> int:
        """Shutdown: wait for running operations within ``grace``, close everything."""

    def emergency_close_all(self) -> int:
        """Close every session without waiting for locks; processes killed."""

    def reap_orphans(self) -> int:
        """Kill this service's browsers that belong to no session; how many."""

    def stats(self) -> dict[str, Any]:
        """Registry figures for /health and /metrics (never touches a browser)."""
