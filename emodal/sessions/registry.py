"""The session registry: which browser serves which tenant and credentials (API_SPEC 3.3-3.10).

Concurrency design, the reason this module exists as one piece:
- one registry-wide ``RLock`` guards only the maps and counters; it is never held while a browser
  is driven or a login runs, so ``/health`` and ``/sessions`` stay instant;
- each ``BrowserSession`` has its own lock; whoever drives the browser (operation, refresher, the
  first login, close, eviction) holds it;
- a new session is registered in state ``logging_in`` *before* its login starts, which gives
  single flight (concurrent identical credentials find it and wait on ``login_done``) and makes
  ``MAX_SESSIONS`` count logins in progress;
- at most ``MAX_CONCURRENT_LOGINS`` logins (first logins and re-logins) run at once.
The public API is documented in ``emodal/sessions/__init__.py``.
"""
from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from typing import Any, Callable, Iterator

from emodal.browser.factory import BROWSER_ERRORS, QUIT_TIMEOUT, BrowserFactory, BrowserHandle
from emodal.errors import (
    ApiError,
    CaptchaKeyInvalid,
    CaptchaZeroBalance,
    CapacityExhausted,
    InvalidCredentials,
    MissingFields,
    PortalTimeout,
    PortalUnavailable,
    SessionBusy,
    SessionNotFound,
    ShuttingDown,
)
from emodal.portal import health
from emodal.portal.health import PageState
from emodal.portal.urls import PortalUrls
from emodal.sessions.credentials import Credentials, credentials_key
from emodal.sessions.login_flow import LoginFlow
from emodal.sessions.session import IDLE_STATES, BrowserSession, SessionState, iso_utc
from emodal.sessions.stats import RegistryStats

log = logging.getLogger(__name__)

MISSING_CREDENTIALS = ("username", "password", "captcha_api_key")


def new_session_id() -> str:
    """``session_<unix seconds>_<128-bit URL-safe token>`` (API_SPEC 3.1): opaque, unguessable."""
    return f"session_{int(time.time())}_{secrets.token_urlsafe(16)}"


class SessionRegistry:
    """All live sessions of this process. Thread-safe; see the module docstring."""

    def __init__(self, settings: Any, browser_factory: BrowserFactory, login_flow: LoginFlow) -> None:
        self.settings = settings
        self.factory = browser_factory
        self.login_flow = login_flow
        self.urls = PortalUrls.from_settings(settings)
        self._lock = threading.RLock()
        self._sessions: dict[str, BrowserSession] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        #: Thread ident -> the session that thread resolved and has not locked yet (see ``resolve``).
        self._pins: dict[int, BrowserSession] = {}
        self._login_slots = threading.BoundedSemaphore(settings.max_concurrent_logins)
        self.stats_book = RegistryStats()
        self._shutting_down = False

    @property
    def shutting_down(self) -> bool:
        """True once ``close_all`` began: no new session, no new operation."""
        return self._shutting_down

    # --- resolution (API_SPEC 3.3) ------------------------------------------------------------------
    def resolve(self, tenant: str, session_id: str | None, credentials: Credentials | None, *,
                keep_alive: bool, promote: bool) -> tuple[BrowserSession, bool]:
        """Find or create the session a business request runs under; see the package docstring.

        The session comes back *pinned* to the calling thread: neither eviction nor expiry closes
        it before this thread's ``acquire`` takes its lock (or :meth:`release` drops the pin), so a
        request with valid credentials never gets ``session_not_found`` from a race. A thread
        holds at most one pin: resolving again drops the previous one (a new request on a reused
        server thread).
        """
        key = credentials_key(self.settings.session_secret, tenant, credentials) if credentials else None
        self.release()
        if session_id:
            with self._lock:
                session = self.get(tenant, session_id)
                usable = session is not None and (key is None or session.lookup_key == key)
                if usable:
                    self._pin_locked(session)
            if usable:
                return self._reuse(session, credentials, promote), False
            if credentials is None:
                raise SessionNotFound()
        if credentials is None or key is None:
            raise MissingFields(
                "Missing required fields: username, password, captcha_api_key (or valid session_id)",
                details={"missing": list(MISSING_CREDENTIALS)},
            )
        with self._lock:
            if self._shutting_down:
                raise ShuttingDown()
            existing = self._sessions.get(self._by_key.get((tenant, key), ""))
            if existing is None:
                self._admit_locked(tenant)
                session = BrowserSession(new_session_id(), tenant, credentials, key, keep_alive=keep_alive)
                session.lock.acquire()  # held by the first login; released in _first_login
                self._sessions[session.session_id] = session
                self._by_key[(tenant, key)] = session.session_id
            self._pin_locked(existing or session)
        if existing is not None:
            return self._reuse(existing, credentials, promote), False
        self._first_login(session)
        return session, True

    def release(self, session: BrowserSession | None = None) -> None:
        """Drop the calling thread's pin (only if it is on ``session``, when given).

        ``acquire`` calls it once it holds the lock; the HTTP layer calls it when a request ends
        between ``resolve`` and ``acquire`` (an error) so the session becomes evictable again."""
        ident = threading.get_ident()
        with self._lock:
            pinned = self._pins.get(ident)
            if pinned is not None and (session is None or pinned is session):
                del self._pins[ident]
                pinned.pins -= 1

    def _pin_locked(self, session: BrowserSession) -> None:
        ident = threading.get_ident()
        previous = self._pins.get(ident)
        if previous is not None:
            previous.pins -= 1
        self._pins[ident] = session
        session.pins += 1

    def _reuse(self, session: BrowserSession, credentials: Credentials | None, promote: bool) -> BrowserSession:
        """A found (pinned) session once its first login is done; the pin goes if that login failed."""
        try:
            self._await_login(session)
        except BaseException:
            self.release(session)
            raise
        self._matched(session, credentials, promote)
        return session

    def _matched(self, session: BrowserSession, credentials: Credentials | None, promote: bool) -> None:
        if credentials is not None and session.credentials is not None:
            new_key = credentials.captcha_api_key != session.credentials.captcha_api_key
            session.credentials = session.credentials.with_captcha_key(credentials.captcha_api_key)
            if new_key and session.state is SessionState.NEEDS_ATTENTION:
                # Another key: worth one more login (by this request's probe, or the refresher).
                session.attention_error = None
                session.state = SessionState.LOGGED_OUT
                session.refresh_failures, session.next_refresh_at = 0, 0.0
                log.info("%s got a new captcha key; leaving needs_attention", session.short_id)
        if promote:
            session.keep_alive = True

    def _await_login(self, session: BrowserSession) -> None:
        """Single flight: wait for the first login of ``session``; re-raise its failure."""
        if not session.login_done.wait(self.settings.login_timeout + self.settings.session_lock_timeout):
            raise SessionBusy("Session is still logging in", details="login in progress")
        error = session.login_error
        if error is not None:
            if isinstance(error, ApiError):
                raise type(error)(error.message, details=error.details, headers=error.headers, **error.extra)
            raise error

    def _first_login(self, session: BrowserSession) -> None:
        """Log a new session in (its lock is held), then make room if the registry is over capacity.

        Eviction happens only here, after the login succeeded: a failing login (a wrong password)
        never closes anybody's session. On failure nothing is left: no entry, browser or profile.
        """
        credentials = session.credentials
        assert credentials is not None
        victims: list[BrowserSession] = []
        try:
            try:
                handle = self._login(credentials)
            except ApiError:
                if self._shutting_down:
                    raise ShuttingDown("Server is shutting down; login abandoned") from None
                raise
            try:
                victims = self._make_room(session)
            except BaseException:
                handle.close()
                raise
        except BaseException as exc:
            with self._lock:
                self._remove_locked(session)
            self.release(session)
            session.state = SessionState.CLOSING
            session.wipe_secrets()
            self._finish_first_login(session, exc)
            raise
        for victim in victims:
            self._dispose(victim, "evicted")
            victim.lock.release()
        session.handle = handle
        session.login_count = 1
        session.last_used = session.last_refresh = time.time()
        session.state = SessionState.READY
        session.record_url()
        self._finish_first_login(session, None)

    def _make_room(self, session: BrowserSession) -> list[BrowserSession]:
        """After ``session`` logged in: take the LRU idle sessions it displaces out of the maps
        (their locks held, for the caller to dispose). ``ShuttingDown`` if ``session`` was closed
        meanwhile (emergency recovery, shutdown); ``CapacityExhausted`` if the sessions it needs to
        displace all became busy while it logged in."""
        with self._lock:
            if self._sessions.get(session.session_id) is not session:
                raise ShuttingDown("Session closed during login")
            victims: list[BrowserSession] = []
            for tenant, limit in ((session.tenant, self.settings.max_sessions_per_tenant),
                                  (None, self.settings.max_sessions)):
                while self._count_locked(tenant) - sum(tenant is None or v.tenant == tenant for v in victims) > limit:
                    victim = self._lock_victim_locked(tenant, exclude=victims)
                    if victim is None:
                        for taken in victims:
                            taken.lock.release()
                        raise self._capacity_error(tenant)
                    victims.append(victim)
            for victim in victims:
                self._remove_locked(victim)
                victim.state = SessionState.CLOSING
                self.stats_book.count("evictions")
        return victims

    @staticmethod
    def _finish_first_login(session: BrowserSession, error: BaseException | None) -> None:
        """Publish the outcome to single-flight waiters and release the session lock."""
        session.login_error = error
        session.login_done.set()
        session.lock.release()

    def _login(self, credentials: Credentials, handle: BrowserHandle | None = None) -> BrowserHandle:
        """Run one login within a ``MAX_CONCURRENT_LOGINS`` slot and record its outcome."""
        if not self._login_slots.acquire(timeout=self.settings.login_timeout):
            raise CapacityExhausted("Too many logins in progress", details="login queue full",
                                    headers={"Retry-After": str(self.settings.capacity_retry_after)})
        try:
            result = self.login_flow.login(credentials, handle=handle)
        except ApiError as exc:
            self.stats_book.portal_result("logins", exc.error_type)
            raise
        finally:
            self._login_slots.release()
        self.stats_book.portal_result("logins", None)
        return result

    # --- capacity (API_SPEC 3.8) --------------------------------------------------------------------
    def _admit_locked(self, tenant: str) -> None:
        """With the registry lock held: may one more login start for ``tenant``?

        Sessions and logins in progress both count. Over a limit, the login may start only when
        enough sessions it could displace are idle now (it displaces them once it has succeeded);
        over ``MAX_SESSIONS_PER_TENANT`` only the tenant's own sessions may be displaced, so one
        key can never take every slot. Else ``CapacityExhausted`` with ``Retry-After``."""
        for scope, limit in ((tenant, self.settings.max_sessions_per_tenant), (None, self.settings.max_sessions)):
            needed = self._count_locked(scope) + 1 - limit
            if needed > sum(1 for s in self._scope_locked(scope) if self._idle(s)):
                raise self._capacity_error(scope)

    def _capacity_error(self, tenant: str | None) -> CapacityExhausted:
        if tenant is None:
            details = f"{len(self._sessions)} of {self.settings.max_sessions} sessions busy or logging in"
        else:
            details = (f"{self._count_locked(tenant)} of {self.settings.max_sessions_per_tenant} sessions "
                       "of this API key busy or logging in (MAX_SESSIONS_PER_TENANT)")
        return CapacityExhausted(details=details, headers={"Retry-After": str(self.settings.capacity_retry_after)})

    def _scope_locked(self, tenant: str | None) -> list[BrowserSession]:
        return [s for s in self._sessions.values() if tenant is None or s.tenant == tenant]

    def _count_locked(self, tenant: str | None) -> int:
        return len(self._scope_locked(tenant))

    @staticmethod
    def _idle(session: BrowserSession) -> bool:
        """Evictable: nobody drives it, no request is about to (pinned), not logging in."""
        return session.state in IDLE_STATES and not session.pins and not session.busy

    def _lock_victim_locked(self, tenant: str | None, exclude: list[BrowserSession]) -> BrowserSession | None:
        """The least recently used idle session of the scope, its lock taken; None if there is none."""
        for candidate in sorted((s for s in self._scope_locked(tenant) if s not in exclude and self._idle(s)),
                                key=lambda s: s.last_used):
            if candidate.lock.acquire(blocking=False):
                return candidate
        return None

    # --- per-session lock (API_SPEC 3.7) ------------------------------------------------------------
    @contextlib.contextmanager
    def acquire(self, session: BrowserSession, route: str, request_id: str | None,
                timeout: float | None = None, *, touch: bool = True) -> Iterator[BrowserSession]:
        """Hold the session lock for one operation; ``timeout=0`` only tries (refresher).

        Takes over from the calling thread's pin (see ``resolve``). Once shutdown has started,
        no new operation starts: a request that was waiting for the lock gets ``ShuttingDown``."""
        wait = self.settings.session_lock_timeout if timeout is None else timeout
        try:
            got = session.lock.acquire(blocking=wait > 0, timeout=wait if wait > 0 else -1)
        finally:
            self.release(session)
        if not got:
            if self._shutting_down:
                raise ShuttingDown()
            op = session.current_operation
            running = f"running {op['route']} since {iso_utc(op['started_at'])}" if op else "in use"
            raise SessionBusy(details=f"Session is busy: {running}")
        try:
            if self._shutting_down:
                raise ShuttingDown()
            if self._sessions.get(session.session_id) is not session or session.state is SessionState.CLOSING:
                raise SessionNotFound()
            previous = session.state
            session.state = SessionState.BUSY if previous is SessionState.READY else previous
            session.current_operation = {"route": route, "request_id": request_id, "started_at": time.time()}
            try:
                yield session
            finally:
                session.current_operation = None
                session.submitting = False
                if session.state is SessionState.BUSY:
                    session.state = SessionState.READY
                if touch:
                    session.last_used = time.time()
                session.record_url()
        finally:
            session.lock.release()

    # --- health and recovery (API_SPEC 3.5, 3.6); callers hold the session lock ------------------
    def ensure_healthy(self, session: BrowserSession) -> bool:
        """Probe the current page; re-establish in place if needed. True when it recovered."""
        return self._checked(session, self._ensure_healthy)

    def refresh(self, session: BrowserSession) -> bool:
        """Keep-alive refresh (API_SPEC 3.5): load the termops home, check the login, re-establish
        if lapsed. Returns True when it had to recover; raises when the portal is unusable."""
        return self._checked(session, self._refresh)

    def _checked(self, session: BrowserSession, probe: Callable[[BrowserSession], bool]) -> bool:
        """Run a probe; a browser that is logged out, gone or dies during the probe is re-established.
        A session in ``needs_attention`` fails at once with its captcha error: its key is known bad."""
        if session.state is SessionState.NEEDS_ATTENTION and session.attention_error is not None:
            raise session.attention_error(details="the session needs a new captcha_api_key")
        if session.state is SessionState.LOGGED_OUT or not self._browser_alive(session):
            self.relogin(session)
            return True
        try:
            return probe(session)
        except BROWSER_ERRORS:
            if self._browser_alive(session):
                raise PortalUnavailable("Browser failed during the session probe") from None
            self.relogin(session)
            return True

    def _ensure_healthy(self, session: BrowserSession) -> bool:
        state = health.classify(session.driver, self.urls)
        if state is PageState.LOADING or state is PageState.OIDC_HOP:
            state = health.settle_served(session.driver, self.urls, self.settings.page_load_timeout)
        if state not in (PageState.LOGGED_IN, PageState.LOGIN_PAGE, PageState.EXPIRED_401):
            state = self._probe_keep_alive(session)  # an old error page says little: look again
        if state is PageState.LOGGED_IN:
            return False
        if state in (PageState.LOGIN_PAGE, PageState.EXPIRED_401):
            self.relogin(session)
            return True
        health.raise_for_state(state, session.current_url or "")
        return False

    def _refresh(self, session: BrowserSession) -> bool:
        state = self._probe_keep_alive(session)
        if state in (PageState.LOGIN_PAGE, PageState.EXPIRED_401):
            self.relogin(session)
            return True
        try:
            health.raise_for_state(state, session.current_url or "")
        except ApiError as exc:
            self.stats_book.portal_result("refreshes", exc.error_type)
            raise
        session.last_refresh = time.time()
        self.stats_book.portal_result("refreshes", None)
        return False

    def relogin(self, session: BrowserSession) -> None:
        """Fresh login under the same session id (API_SPEC 3.6); the caller holds the lock.

        Reuses the live browser when there is one (cheaper), else starts a new one.
        ``InvalidCredentials`` closes the session; a refused captcha key (bad key, no balance)
        leaves it ``needs_attention`` until a request brings another key; other failures leave it
        ``logged_out`` for the refresher's back-off or the next request.
        """
        credentials = session.credentials
        if credentials is None:
            raise SessionNotFound()
        session.state = SessionState.RELOGGING
        old = session.handle
        in_place = old is not None and self._browser_alive(session)
        try:
            if in_place:
                try:
                    self._login(credentials, handle=old)
                except (PortalUnavailable, PortalTimeout):
                    if self._browser_alive(session):
                        raise
                    in_place = False  # the browser died during the attempt: one go with a new one
            if not in_place:
                session.handle = self._login(credentials)
                if old is not None:
                    old.close()
        except InvalidCredentials:
            session.record_error(InvalidCredentials.error_type)
            with self._lock:
                self._remove_locked(session)
            self._dispose(session, "invalid credentials on re-login")
            raise
        except (CaptchaKeyInvalid, CaptchaZeroBalance) as exc:
            session.state = SessionState.NEEDS_ATTENTION
            session.attention_error = type(exc)
            session.record_error(exc.error_type)
            log.warning("%s needs attention: %s on re-login; no automatic re-login until a request "
                        "brings another captcha key", session.short_id, exc.error_type)
            raise
        except ApiError as exc:
            session.state = SessionState.LOGGED_OUT
            session.record_error(exc.error_type)
            raise
        session.login_count += 1
        session.last_refresh = time.time()
        # Still inside the caller's acquire(): busy until it releases the lock.
        session.state = SessionState.BUSY if session.current_operation else SessionState.READY
        self.stats_book.count("recoveries")
        log.info("%s re-established (login %d)", session.short_id, session.login_count)

    def _browser_alive(self, session: BrowserSession) -> bool:
        return session.handle is not None and session.handle.alive()

    def _probe_keep_alive(self, session: BrowserSession) -> PageState:
        session.driver.get(self.urls.keep_alive)
        state = health.settle_served(session.driver, self.urls, self.settings.page_load_timeout)
        session.record_url()
        return state

    # --- look-up ------------------------------------------------------------------------------------
    def get(self, tenant: str | None, session_id: str) -> BrowserSession | None:
        """The session if it exists and belongs to ``tenant`` (``None`` = any tenant, admin)."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or (tenant is not None and session.tenant != tenant):
            return None
        return session

    def list(self, tenant: str | None = None) -> list[BrowserSession]:
        with self._lock:
            sessions = list(self._sessions.values())
        return sorted((s for s in sessions if tenant is None or s.tenant == tenant), key=lambda s: s.created_at)

    # --- closing (API_SPEC 3.4, 3.10, 4.10, 4.12) -----------------------------------------------------
    def close(self, tenant: str | None, session_id: str) -> None:
        session = self.get(tenant, session_id)
        if session is None:
            raise SessionNotFound("Session not found")
        if not session.lock.acquire(timeout=self.settings.session_lock_timeout):
            op = session.current_operation
            raise SessionBusy(details=f"Session is busy: running {op['route']}" if op else "Session is busy")
        try:
            with self._lock:
                if self._sessions.get(session_id) is not session:
                    raise SessionNotFound("Session not found")
                self._remove_locked(session)
            self._dispose(session, "closed")
        finally:
            session.lock.release()

    def expire_idle(self) -> int:
        """Close regular sessions unused for SESSION_TIMEOUT (busy or pinned ones wait for the next tick)."""
        closed = 0
        timeout = self.settings.session_timeout
        for session in self.list():
            if session.keep_alive or not session.is_expired(timeout) or not session.lock.acquire(blocking=False):
                continue
            try:
                with self._lock:
                    if (self._sessions.get(session.session_id) is not session or not session.is_expired(timeout)
                            or session.pins):
                        continue
                    self._remove_locked(session)
                    self.stats_book.count("expired")
                self._dispose(session, "expired")
                closed += 1
            finally:
                session.lock.release()
        return closed

    def close_all(self, grace: float | None = None) -> int:
        """Shutdown: refuse new sessions and operations, give running operations ``grace`` seconds
        overall (a booking past its Submit click: ``CONFIRMATION_TIMEOUT``), close every session,
        then kill every browser still open (logins and re-logins in progress) and start no more."""
        with self._lock:
            self._shutting_down = True
        started = time.monotonic()
        deadline = started + (self.settings.shutdown_grace if grace is None else grace)
        closed = 0
        for session in self.list():
            got = self._await_operation(session, started, deadline)
            if not got:
                self.login_flow.cancel.set()  # a login still waiting on the solver stops now
            try:
                with self._lock:
                    self._remove_locked(session)
                self._dispose(session, "shutdown", quit_timeout=max(0.0, deadline - time.monotonic()))
                closed += 1
            finally:
                if got:
                    session.lock.release()
        self.login_flow.cancel.set()
        self.factory.shutdown()
        return closed

    def _await_operation(self, session: BrowserSession, started: float, deadline: float) -> bool:
        """Take the lock of ``session`` by ``deadline``, or, while a booking of it is past Submit,
        by ``CONFIRMATION_TIMEOUT`` after that click (at the earliest after shutdown began)."""
        while True:
            submitted_at = session.submitted_at
            until = deadline if submitted_at is None else max(
                deadline, max(submitted_at, started) + self.settings.confirmation_timeout)
            if session.lock.acquire(timeout=max(0.0, until - time.monotonic())):
                return True
            if session.submitted_at == submitted_at:  # no Submit click since: the time is up
                return False

    def emergency_close_all(self) -> int:
        """Close every session without waiting for locks; kill our other browsers (logins)."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
            self._by_key.clear()
        killed = sum(self._dispose(s, "emergency recovery") for s in sessions)
        return killed + self.factory.reap(keep=set(), min_age=0)

    def reap_orphans(self) -> int:
        """Kill our browsers that belong to no session and no running login."""
        keep = {s.handle.pgid for s in self.list() if s.handle is not None and s.handle.pgid is not None}
        return self.factory.reap(keep=keep, min_age=self.settings.login_timeout)

    def _remove_locked(self, session: BrowserSession) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]
        key = (session.tenant, session.lookup_key)
        if self._by_key.get(key) == session.session_id:
            del self._by_key[key]

    def _dispose(self, session: BrowserSession, reason: str, *, quit_timeout: float = QUIT_TIMEOUT) -> int:
        """Quit the browser (given ``quit_timeout``, then killed), reap its processes, delete its
        profile, forget secrets and wizards."""
        session.state = SessionState.CLOSING
        handle, session.handle = session.handle, None
        killed = handle.close(quit_timeout=quit_timeout) if handle is not None else 0
        session.wipe_secrets()
        log.info("%s %s", session.short_id, reason)
        return killed

    # --- statistics ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts for /health and /metrics; registry data only (no browser is touched)."""
        return self.stats_book.summary(self.list(), self.settings.max_sessions, self.login_flow.captcha_solves)
