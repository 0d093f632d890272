"""One authenticated browser: the registry's unit of bookkeeping (ARCHITECTURE.md "Session objects").

Why a separate object with its own lock: WebDriver is not thread-safe, so exactly one operation,
refresh or close may drive a browser at a time (API_SPEC 3.7); everything else about a session
(listing, counting, expiry) is read without touching the browser.
"""
from __future__ import annotations

import enum
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emodal.portal.urls import strip_query
from emodal.redaction import short_id
from emodal.sessions.credentials import Credentials
from emodal.timefmt import iso_utc

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from emodal.browser.factory import BrowserHandle
    from emodal.browser.snapshot import AuthSnapshot


class SessionState(str, enum.Enum):
    """API_SPEC 4.10 ``state`` values."""

    LOGGING_IN = "logging_in"
    READY = "ready"
    BUSY = "busy"
    RELOGGING = "relogging"
    LOGGED_OUT = "logged_out"
    #: The stored captcha key was refused (bad key, no balance) on a re-login: no automatic
    #: re-login until a request brings another key (re-trying a known-bad key gets it banned).
    NEEDS_ATTENTION = "needs_attention"
    #: A session of an earlier run of the service being brought back into a new browser (its
    #: stored portal cookies put back, else a re-login under the same id): requests wait for it.
    RESTORING = "restoring"
    CLOSING = "closing"


#: States in which nobody drives the browser: eviction candidates when their lock is free.
IDLE_STATES = frozenset({SessionState.READY, SessionState.LOGGED_OUT, SessionState.NEEDS_ATTENTION})

#: Finished operations kept per session for the operator console (newest first); memory only.
OPERATION_HISTORY = 20


class BrowserSession:
    """A portal login held by one browser, owned by one tenant.

    ``credentials`` and ``lookup_key`` are private to the registry (re-login, matching); they are
    wiped when the session closes and never appear in :meth:`describe` or ``repr``.
    """

    def __init__(self, session_id: str, tenant: str, credentials: Credentials, lookup_key: str,
                 *, keep_alive: bool) -> None:
        now = time.time()
        self.session_id = session_id
        self.tenant = tenant
        self.username = credentials.username
        self.keep_alive = keep_alive
        self.state = SessionState.LOGGING_IN
        self.created_at = now
        self.last_used = now
        self.last_refresh: float | None = None
        self.login_count = 0
        self.last_error: dict[str, Any] | None = None
        self.current_url: str | None = None
        self.current_operation: dict[str, Any] | None = None
        #: The last :data:`OPERATION_HISTORY` finished operations (see :meth:`end_operation`).
        self.recent_operations: deque[dict[str, Any]] = deque(maxlen=OPERATION_HISTORY)
        #: One operation at a time per browser. A plain Lock: re-entry would mean two code paths
        #: believe they own the driver.
        self.lock = threading.Lock()
        self.handle: BrowserHandle | None = None
        #: Open appointment workflows (appointment_session_id -> wizard object with ``last_used``).
        self.wizards: dict[str, Any] = {}
        self.credentials: Credentials | None = credentials
        self.lookup_key = lookup_key
        #: Refresher back-off: no refresh attempt before this epoch; failures double the delay.
        self.refresh_failures = 0
        self.next_refresh_at = 0.0
        #: Set when the first login finished (successfully or not); single-flight waiters block on it.
        self.login_done = threading.Event()
        self.login_error: BaseException | None = None
        #: Requests that resolved this session and have not taken its lock yet (registry-owned):
        #: a pinned session is never evicted or expired, so ``acquire`` finds it still open.
        self.pins = 0
        #: ``time.monotonic()`` of the Submit click of a running booking, else None; see :attr:`submitting`.
        self.submitted_at: float | None = None
        #: The captcha error class that put the session in ``needs_attention`` (re-raised, never re-tried).
        self.attention_error: type[Exception] | None = None
        # --- durability (issue 10; the registry and its journal own these) ---
        #: Epoch when this session of an earlier run was brought back (``/sessions`` ``restored_at``).
        self.restored_at: float | None = None
        #: True while the session waits to be brought back into a new browser (a regular one until
        #: its first use, a keep-alive one until the background restore reached it).
        self.restore_pending = False
        #: The portal auth snapshot (cookies + web storage; a secret) and its cheap digest.
        self.snapshot: AuthSnapshot | None = None
        self.snapshot_digest: str | None = None
        #: Origin of the identity host the login went through (its cookies are in the snapshot).
        self.identity_origin: str | None = None
        #: Marks (``wizard_mark``) of appointment wizards open when the service stopped, with the
        #: epoch they would have expired: their ids answer ``appointment_session_expired``.
        self.lost_wizards: dict[str, float] = {}
        self._restored_unreported = False
        # --- cluster (issue 11; the registry owns these) ---
        #: The Grid's WebDriver session id last known for this session's browser (remote mode):
        #: an instance without a driver object attaches to it.
        self.remote_id: str | None = None
        #: The store lease held with :attr:`lock` while this instance drives the browser (cluster).
        self.lease: Any = None
        #: ``(credentials, promote)`` of the request that resolved the session, applied again over
        #: the record once the lock is held (a newer captcha key must not be lost to the re-read).
        self.pending_match: tuple[Any, bool] | None = None

    def __repr__(self) -> str:
        return f"BrowserSession({self.short_id}, user={self.username!r}, state={self.state.value})"

    # --- derived ---------------------------------------------------------------------------------
    @property
    def short_id(self) -> str:
        """The id with its random part cut to 6 characters, for logs (API_SPEC 2: ids are bearer tokens)."""
        return short_id(self.session_id)

    @property
    def driver(self) -> WebDriver:
        """The session's WebDriver; only use it while holding :attr:`lock`."""
        if self.handle is None:
            raise RuntimeError(f"{self.short_id} has no browser")
        return self.handle.driver

    def current_remote_id(self) -> str | None:
        """The Grid session id of the browser in use, else the last one known (None when local)."""
        handle = self.handle
        if handle is not None and not handle.closed and handle.remote:
            self.remote_id = handle.remote_id
        return self.remote_id

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    @property
    def submitting(self) -> bool:
        """True while a booking whose Submit was clicked runs: shutdown then gives the operation
        ``CONFIRMATION_TIMEOUT`` instead of ``SHUTDOWN_GRACE`` before it kills the browser, since
        killing it would turn a probably-booked appointment into an unknown outcome."""
        return self.submitted_at is not None

    @submitting.setter
    def submitting(self, value: bool) -> None:
        self.submitted_at = time.monotonic() if value else None

    @property
    def kind(self) -> str:
        return "keep_alive" if self.keep_alive else "regular"

    def expires_at(self, session_timeout: float) -> float | None:
        """Keep-alive sessions never expire; regular ones ``SESSION_TIMEOUT`` after last use."""
        return None if self.keep_alive else self.last_used + session_timeout

    def is_expired(self, session_timeout: float, now: float | None = None) -> bool:
        expiry = self.expires_at(session_timeout)
        return expiry is not None and (now if now is not None else time.time()) >= expiry

    def newest_wizard_use(self) -> float | None:
        """Epoch of the most recently used open appointment workflow, or ``None``."""
        uses = [float(getattr(w, "last_used", 0.0)) for w in list(self.wizards.values())]
        return max(uses) if uses else None

    def session_dir(self, downloads_dir: Path | str) -> Path:
        """``<DOWNLOADS_DIR>/<session_id>/``: this session's served files (API_SPEC 5)."""
        return Path(downloads_dir) / self.session_id

    # --- updates ---------------------------------------------------------------------------------
    def record_url(self) -> None:
        """Remember the browser's URL without query/fragment (they may carry tokens)."""
        if self.handle is None:
            return
        try:
            self.current_url = strip_query(self.handle.driver.current_url)
        except Exception:  # noqa: BLE001 - a dead browser simply leaves the last known URL
            return

    def begin_operation(self, route: str, request_id: str | None) -> None:
        """Mark the operation that now holds the lock (``/sessions`` ``current_operation``)."""
        self.current_operation = {"route": route, "request_id": request_id, "started_at": time.time(),
                                  "started_mono": time.monotonic()}

    def end_operation(self, error: BaseException | None) -> None:
        """Clear the current operation and keep it in :attr:`recent_operations` with its duration
        and outcome (``ok`` or the ``error_type`` it failed with), so an operator can see what a
        session did without reading logs."""
        op, self.current_operation = self.current_operation, None
        if op is None:
            return
        outcome = "ok" if error is None else getattr(error, "error_type", "internal_error")
        self.recent_operations.appendleft({
            "route": op["route"], "request_id": op["request_id"], "started_at": op["started_at"],
            "duration_s": time.monotonic() - op["started_mono"], "outcome": outcome})

    def record_error(self, error_type: str) -> None:
        self.last_error = {"error_type": error_type, "at": iso_utc(time.time())}

    def wipe_secrets(self) -> None:
        """Forget credentials, the portal snapshot and wizards (API_SPEC 3.2: wiped at close)."""
        self.credentials = None
        self.snapshot = None
        self.wizards.clear()

    def mark_restored(self, at: float) -> None:
        """Brought back from an earlier run: the next successful response says so once."""
        self.restored_at = at
        self._restored_unreported = True

    def take_restored(self) -> bool:
        """True once after :meth:`mark_restored` (the response adds ``session_restored: true``)."""
        taken, self._restored_unreported = self._restored_unreported, False
        return taken

    def describe(self, session_timeout: float, *, owner: bool = False) -> dict[str, Any]:
        """The ``/sessions`` object of API_SPEC 4.10, from registry data only (no browser call)."""
        op = self.current_operation
        out: dict[str, Any] = {
            "session_id": self.session_id,
            "username": self.username,
            "keep_alive": self.keep_alive,
            "state": self.state.value,
            "busy": self.busy,
            "current_operation": None if op is None else {
                "route": op.get("route"), "request_id": op.get("request_id"),
                "started_at": iso_utc(op.get("started_at")),
            },
            "created_at": iso_utc(self.created_at),
            "last_used": iso_utc(self.last_used),
            "last_refresh": iso_utc(self.last_refresh),
            "expires_at": iso_utc(self.expires_at(session_timeout)),
            "current_url": self.current_url,
            "login_count": self.login_count,
            "last_error": self.last_error,
            "open_appointment_workflows": len(self.wizards),
            "restored_at": iso_utc(self.restored_at),
        }
        if owner:
            out["owner"] = self.tenant
        return out
