"""The session registry: which browser serves which tenant and credentials (API_SPEC 3.3-3.10).

Concurrency design, the reason this module exists as one piece:
- one registry-wide ``RLock`` guards only the maps and counters; it is never held while a browser
  is driven or a login runs, so ``/health`` and ``/sessions`` stay instant;
- each ``BrowserSession`` has its own lock; whoever drives the browser (operation, refresher, the
  first login, close, eviction) holds it;
- a new session is registered in state ``logging_in`` *before* its login starts, which gives
  single flight (concurrent identical credentials find it and wait on ``login_done``) and makes
  ``MAX_SESSIONS`` count logins in progress;
- at most ``MAX_CONCURRENT_LOGINS`` logins (first logins and re-logins) run at once;
- with a :class:`~emodal.sessions.journal.SessionJournal` every session is also a record in the
  state store (written after logins, refreshes and operations, kept at shutdown, deleted only when
  the session ends for good), and :meth:`restore_all` brings the sessions of an earlier run back;
- with a :class:`~emodal.sessions.cluster.SessionCluster` (a store shared by several API instances,
  issue 11) every instance serves every session: a session this instance does not hold is adopted
  from its record and its Grid browser attached (no new browser, no login); the session lock is
  backed by a store lease and each hold starts by reading the record again; logins are single
  flight across instances and ``MAX_SESSIONS`` counts every instance's sessions.
Callers use it through ``emodal.sessions.protocol.Registry``; each method below states its contract.
"""
from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterator

from emodal.browser import snapshot as auth_snapshot
from emodal.browser.factory import BROWSER_ERRORS, QUIT_TIMEOUT, BrowserFactory, BrowserHandle
from emodal.errors import (
    ApiError,
    CaptchaKeyInvalid,
    CaptchaZeroBalance,
    CapacityExhausted,
    InvalidCredentials,
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
from emodal.sessions.cluster import SessionCluster
from emodal.sessions.journal import RestoreDecision, SessionJournal, StoredSession, record_key, restore_decision
from emodal.sessions.login_flow import LoginFlow
from emodal.sessions.session import IDLE_STATES, BrowserSession, SessionState
from emodal.sessions.stats import RegistryStats
from emodal.state.lease import HeldLease
from emodal.timefmt import iso_utc

if TYPE_CHECKING:
    from emodal.config import Settings

log = logging.getLogger(__name__)


def new_session_id() -> str:
    """``session_<unix seconds>_<128-bit URL-safe token>`` (API_SPEC 3.1): opaque, unguessable."""
    return f"session_{int(time.time())}_{secrets.token_urlsafe(16)}"


class SessionRegistry:
    """All live sessions of this process. Thread-safe; see the module docstring."""

    def __init__(self, settings: Settings, browser_factory: BrowserFactory, login_flow: LoginFlow, *,
                 journal: SessionJournal | None = None, cluster: SessionCluster | None = None,
                 on_attention: Callable[[BrowserSession], None] | None = None) -> None:
        if cluster is not None and journal is None:
            raise ValueError("a cluster registry needs the session journal")
        self.settings = settings
        #: Told when a session enters NEEDS_ATTENTION (the app emits ``session.needs_attention``).
        self.on_attention = on_attention
        self.factory = browser_factory
        self.login_flow = login_flow
        self.journal = journal
        self.cluster = cluster
        # Without SESSION_SECRET and a state store (a registry built by a test) lookups only need
        # to hold within this process.
        self._secret: bytes = settings.session_secret or secrets.token_bytes(32)
        self.urls = PortalUrls.from_settings(settings)
        self._lock = threading.RLock()
        self._sessions: dict[str, BrowserSession] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        #: Thread ident -> the session that thread resolved and has not locked yet (see ``resolve``).
        self._pins: dict[int, BrowserSession] = {}
        self._login_slots = threading.BoundedSemaphore(settings.max_concurrent_logins)
        self.stats_book = RegistryStats()
        self._shutting_down = False
        #: Background restores of keep-alive sessions at start (``MAX_CONCURRENT_LOGINS`` workers).
        self._restorer: ThreadPoolExecutor | None = None

    @property
    def shutting_down(self) -> bool:
        """True once ``close_all`` began: no new session, no new operation."""
        return self._shutting_down

    # --- resolution (API_SPEC 3.3) ------------------------------------------------------------------
    def resolve(self, tenant: str, session_id: str | None, credentials: Credentials | None, *,
                keep_alive: bool, promote: bool) -> tuple[BrowserSession, bool]:
        """Find or create the session a call runs under (API_SPEC 3.3, 3.4): ``(session, is_new)``.

        ``session_id`` and ``credentials`` may each be ``None``, not both (the caller validates its
        request first). Raises ``SessionNotFound`` (id unusable, no credentials),
        ``CapacityExhausted``, ``ShuttingDown`` and every login error. A new session is logged in
        before this returns; concurrent identical credentials share that login (the waiters get
        ``is_new=False``). ``keep_alive``: kind of a session this call creates; ``promote``: make a
        matched regular session keep-alive. Matching credentials replace the stored captcha key.

        The session comes back *pinned* to the calling thread: neither eviction nor expiry closes
        it before this thread's ``acquire`` takes its lock (or :meth:`release` drops the pin), so a
        request with valid credentials never gets ``session_not_found`` from a race. A thread
        holds at most one pin: resolving again drops the previous one (a new request on a reused
        server thread).
        """
        key = credentials_key(self._secret, tenant, credentials) if credentials else None
        self.release()
        if session_id:
            if self.cluster is not None:
                self.get(tenant, session_id)  # adopts a session another instance created
            with self._lock:
                session = self._get_local(tenant, session_id)
                usable = session is not None and (key is None or session.lookup_key == key)
                if usable:
                    self._pin_locked(session)
            if usable:
                return self._reuse(session, credentials, promote), False
            if credentials is None:
                raise SessionNotFound()
        if credentials is None or key is None:
            # The caller validates its request (a session id or credentials) before resolving.
            raise ValueError("resolve needs a session_id or credentials")
        login_lease = self._shared_login(tenant, key) if self.cluster is not None else None
        try:
            elsewhere = self._logins_elsewhere(tenant)
            with self._lock:
                if self._shutting_down:
                    raise ShuttingDown()
                existing = self._sessions.get(self._by_key.get((tenant, key), ""))
                if existing is None:
                    self._admit_locked(tenant, elsewhere)
                    session = BrowserSession(new_session_id(), tenant, credentials, key, keep_alive=keep_alive)
                    session.lock.acquire()  # held by the first login; released in _first_login
                    self._sessions[session.session_id] = session
                    self._by_key[(tenant, key)] = session.session_id
                self._pin_locked(existing or session)
            if existing is not None:
                return self._reuse(existing, credentials, promote), False
            reservation = self.cluster.reserve_login(tenant, key, self.settings.login_timeout + 60) \
                if self.cluster is not None else None
            try:
                self._first_login(session)
            finally:
                if reservation is not None:
                    self.cluster.end_login(reservation)  # type: ignore[union-attr]
            return session, True
        finally:
            if login_lease is not None:
                login_lease.release()

    def _shared_login(self, tenant: str, key: str) -> HeldLease | None:
        """Cluster single flight: make sure the session of these credentials, if any instance has
        it, is in this registry; else hold the login lease (returned) so that only this instance
        logs in. Waits for a login running on another instance (``SessionBusy`` if it never ends)."""
        assert self.cluster is not None and self.journal is not None
        with self._lock:
            known = self._sessions.get(self._by_key.get((tenant, key), ""))
        if known is not None and (not known.login_done.is_set() or self.journal.exists(known.session_id)):
            return None
        if known is not None:
            self._let_go(known, "closed on another instance")
        journal = self.journal
        found = self.cluster.await_login(
            tenant, key, lambda: journal.find(tenant, key),
            self.settings.login_timeout + self.settings.session_lock_timeout, lambda: self._shutting_down)
        if found is None:
            if self._shutting_down:
                raise ShuttingDown()
            raise SessionBusy("Session is still logging in", details="login in progress on another instance")
        if isinstance(found, HeldLease):
            return found
        self._adopt(found)
        return None

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
        if self.cluster is not None:
            session.pending_match = (credentials, promote)  # applied again over the record at acquire
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
            self._unhold(victim)
        session.handle = handle
        session.identity_origin = handle.identity_origin
        session.login_count = 1
        session.last_used = session.last_refresh = time.time()
        session.state = SessionState.READY
        session.record_url()
        self._persist(session, snapshot=True)
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
                            self._unhold(taken)
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
    def _logins_elsewhere(self, tenant: str) -> dict[str | None, int]:
        """Cluster: logins running on other instances (they count like ours); {} alone."""
        if self.cluster is None:
            return {}
        self._sync_all()
        return {tenant: self.cluster.logins_elsewhere(tenant), None: self.cluster.logins_elsewhere()}

    def _admit_locked(self, tenant: str, elsewhere: dict[str | None, int] | None = None) -> None:
        """With the registry lock held: may one more login start for ``tenant``?

        Sessions and logins in progress both count. Over a limit, the login may start only when
        enough sessions it could displace are idle now (it displaces them once it has succeeded);
        over ``MAX_SESSIONS_PER_TENANT`` only the tenant's own sessions may be displaced, so one
        key can never take every slot. Else ``CapacityExhausted`` with ``Retry-After``. In a cluster
        the registry mirrors every instance's sessions and ``elsewhere`` adds their logins."""
        for scope, limit in ((tenant, self.settings.max_sessions_per_tenant), (None, self.settings.max_sessions)):
            needed = self._count_locked(scope) + (elsewhere or {}).get(scope, 0) + 1 - limit
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
            try:
                if self._hold(candidate, "evict", 0):
                    return candidate
            except SessionNotFound:
                continue  # closed by another instance meanwhile
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
            got = self._hold(session, route, wait)
        finally:
            self.release(session)
        if not got:
            if self._shutting_down:
                raise ShuttingDown()
            op = session.current_operation
            running = f"running {op['route']} since {iso_utc(op['started_at'])}" if op else "in use"
            if op is None and self.cluster is not None:
                running = "in use on another API instance"
            raise SessionBusy(details=f"Session is busy: {running}")
        try:
            if self._shutting_down:
                raise ShuttingDown()
            if self._sessions.get(session.session_id) is not session or session.state is SessionState.CLOSING:
                raise SessionNotFound()
            pending, session.pending_match = session.pending_match, None
            if pending is not None:
                self._matched(session, *pending)  # this request's captcha key and kind, over the record
            previous = session.state
            session.state = SessionState.BUSY if previous is SessionState.READY else previous
            session.begin_operation(route, request_id)
            error: BaseException | None = None
            try:
                yield session
            except BaseException as exc:
                error = exc
                raise
            finally:
                session.end_operation(error)
                session.submitting = False
                if session.state is SessionState.BUSY:
                    session.state = SessionState.READY
                if touch:
                    session.last_used = time.time()
                session.record_url()
                # After a refresh or a successful operation the portal may have renewed its cookies.
                self._persist(session, snapshot=error is None)
        finally:
            self._unhold(session)

    def _hold(self, session: BrowserSession, purpose: str, timeout: float) -> bool:
        """Exclusive use of ``session`` within ``timeout`` (0: one try): its lock, and in a cluster
        its store lease too (renewed until :meth:`_unhold`), after which the record is read again
        (another instance may have used the session). ``SessionNotFound`` (nothing held) when the
        record is gone: the session was closed on another instance."""
        if not session.lock.acquire(blocking=timeout > 0, timeout=timeout if timeout > 0 else -1):
            return False
        if self.cluster is None:
            return True
        started = time.monotonic()
        try:
            session.lease = self.cluster.hold_session(
                record_key(session.session_id), purpose, max(0.0, timeout - (time.monotonic() - started)),
                lambda: self._shutting_down)
            if session.lease is None:
                session.lock.release()
                return False
            self._sync(session)
        except BaseException:
            self._unhold(session)
            raise
        return True

    def _unhold(self, session: BrowserSession) -> None:
        lease, session.lease = session.lease, None
        if lease is not None:
            lease.release()
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
        if session.restore_pending:
            # A restart's restore is answered as session_restored; in a cluster attaching is no
            # event at all, and a browser rebuilt after its node died is a recovery.
            if self._restore(session) != "attached":
                return self.cluster is not None
        elif session.state is not SessionState.LOGGED_OUT and self._rebuildable(session):
            self._restore(session)  # the Grid node died: the stored portal login into a new browser
            return True
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
            self._tell_attention(session, InvalidCredentials)  # closed, but the dispatcher must know why
            raise
        except (CaptchaKeyInvalid, CaptchaZeroBalance) as exc:
            session.state = SessionState.NEEDS_ATTENTION
            session.record_error(exc.error_type)
            log.warning("%s needs attention: %s on re-login; no automatic re-login until a request "
                        "brings another captcha key", session.short_id, exc.error_type)
            self._tell_attention(session, type(exc))
            raise
        except ApiError as exc:
            session.state = SessionState.LOGGED_OUT
            session.record_error(exc.error_type)
            raise
        session.login_count += 1
        session.last_refresh = time.time()
        session.identity_origin = session.handle.identity_origin or session.identity_origin  # type: ignore[union-attr]
        # Still inside the caller's acquire(): busy until it releases the lock.
        session.state = SessionState.BUSY if session.current_operation else SessionState.READY
        self.stats_book.count("recoveries")
        log.info("%s re-established (login %d)", session.short_id, session.login_count)
        self._persist(session, snapshot=True)

    def _tell_attention(self, session: BrowserSession, error: type[ApiError]) -> None:
        """A re-login was refused for good (captcha key: ``needs_attention``; password: closed):
        remember why and tell ``on_attention``. Every re-login (refresher, a request's or a job
        item's probe, a restore) goes through :meth:`relogin`, so this is the one place."""
        session.attention_error = error
        if self.on_attention is not None:
            self.on_attention(session)

    def _rebuildable(self, session: BrowserSession) -> bool:
        """Cluster: the session's Grid browser is gone and its snapshot can rebuild it (no login)."""
        return self.cluster is not None and session.snapshot is not None and not self._browser_alive(session)

    def _browser_alive(self, session: BrowserSession) -> bool:
        return session.handle is not None and session.handle.alive()

    def _probe_keep_alive(self, session: BrowserSession) -> PageState:
        session.driver.get(self.urls.keep_alive)
        state = health.settle_served(session.driver, self.urls, self.settings.page_load_timeout)
        session.record_url()
        return state

    # --- durability (issue 10): records, snapshots, restore -----------------------------------------
    def _origins(self, session: BrowserSession) -> auth_snapshot.PortalOrigins:
        return auth_snapshot.PortalOrigins.of(self.urls.app_bases().values(), session.identity_origin)

    def _persist(self, session: BrowserSession, *, snapshot: bool) -> None:
        """Write the session's record; with ``snapshot`` (lock held, browser used successfully)
        first read the browser's portal login and keep it when it changed (cheap digest)."""
        if self.journal is None or session.state is SessionState.CLOSING:
            return
        if snapshot and session.handle is not None and not session.handle.closed:
            try:
                taken = auth_snapshot.capture(session.handle, self._origins(session), session.snapshot)
            except Exception as exc:  # noqa: BLE001 - a snapshot never fails the operation it follows
                # A browser that died (or an odd page) keeps the last good snapshot.
                log.info("%s: no new snapshot (%s)", session.short_id, type(exc).__name__)
            else:
                digest = taken.digest()
                if digest != session.snapshot_digest:
                    session.snapshot, session.snapshot_digest = taken, digest
        self.journal.save(session)

    def restore_all(self) -> int:
        """At start-up (after the stale browsers were reaped): register the sessions of the
        journal under their old ids. Keep-alive ones are restored now in the background, at most
        ``MAX_CONCURRENT_LOGINS`` at once; regular ones when a request first uses them; regular
        ones that expired while the service was down are deleted. Returns how many came back."""
        if self.journal is None:
            return 0
        if self.cluster is not None:
            # Other instances may be serving these sessions right now: nothing is restored here,
            # each is attached (or rebuilt) by whichever instance uses or refreshes it first.
            return len(self.list())
        now = time.time()
        stored = sorted(self.journal.load_all(), key=lambda s: s.last_used, reverse=True)
        background: list[BrowserSession] = []
        registered = 0
        for item in stored:
            decision = restore_decision(item, now, self.settings.session_timeout)
            session = item.to_session(now)
            # Matching follows this run's SESSION_SECRET, even if the operator changed it meanwhile.
            session.lookup_key = credentials_key(self._secret, session.tenant, item.credentials)
            with self._lock:
                room = (decision is not RestoreDecision.DROP and len(self._sessions) < self.settings.max_sessions
                        and self._count_locked(item.tenant) < self.settings.max_sessions_per_tenant)
                if room:
                    self._sessions[session.session_id] = session
                    self._by_key[(session.tenant, session.lookup_key)] = session.session_id
            if not room:
                why = "expired while the service was down" if decision is RestoreDecision.DROP else "over MAX_SESSIONS"
                log.warning("stored session %s not restored: %s", session.short_id, why)
                self.journal.delete(item.session_id)
                continue
            registered += 1
            if decision is RestoreDecision.BACKGROUND:
                background.append(session)
            else:
                session.login_done.set()  # no login to wait for: the first request restores it
        for session in background:
            session.login_done.clear()  # requests wait for the restore as for a first login
        if background:
            self._restorer = ThreadPoolExecutor(self.settings.max_concurrent_logins, thread_name_prefix="restore")
            for session in background:
                self._restorer.submit(self._restore_in_background, session)
        if registered:
            log.info("%d stored session(s) found: %d keep-alive restoring now, the rest on first use",
                     registered, len(background))
        return registered

    def _restore_in_background(self, session: BrowserSession) -> None:
        try:
            with session.lock:
                with self._lock:
                    current = self._sessions.get(session.session_id) is session and not self._shutting_down
                if current and session.restore_pending:
                    self._restore(session)
        except ApiError:
            pass  # logged and recorded by _restore; the next request or refresh tries again
        except Exception:  # noqa: BLE001 - a restore must never kill the worker silently
            log.exception("%s: restore failed unexpectedly", session.short_id)
        finally:
            session.login_done.set()

    def _restore(self, session: BrowserSession) -> str:
        """Bring a session of an earlier run back (lock held): a new browser, the stored portal
        cookies and storage put back, the keep-alive page, the logged-in check. Logged in: ready,
        no login at all. The portal refused the cookies (login page, 401 text): a re-login with
        the stored credentials under the same id. Anything else fails (logged, ``last_error``):
        the session stays ``logged_out`` and the next request or refresh tries again.

        Remote mode, when this instance has no driver object for the session: first attach to its
        browser still running on the Grid (``attached``: nothing else to do). Returns the outcome:
        ``attached``, ``cookies`` or ``relogin``."""
        if session.handle is None and self._attach(session):
            return "attached"
        session.state = SessionState.RESTORING
        outcome = "failed"
        try:
            if session.handle is None or not self._browser_alive(session):
                if session.handle is not None:
                    session.handle.close()
                session.handle = self.factory.create()
                session.handle.identity_origin = session.identity_origin
            state = self._put_back(session)
            if state in (PageState.LOGIN_PAGE, PageState.EXPIRED_401):
                log.info("%s: the portal no longer accepts the stored login; logging in again", session.short_id)
                session.restore_pending = False  # from here on the ordinary re-login rules apply
                self.relogin(session)
                outcome = "relogin"
            else:
                health.raise_for_state(state, session.current_url or "")  # an error page: try again later
                session.restore_pending = False
                outcome = "cookies"
        except ApiError as exc:
            if session.state is SessionState.RESTORING:
                session.state = SessionState.LOGGED_OUT
                session.record_error(exc.error_type)
            log.warning("%s: restore failed (%s: %s)", session.short_id, exc.error_type, exc.details or exc.message)
            raise
        finally:
            self.stats_book.count(f"restores:{outcome}")
        if self.cluster is None:
            session.mark_restored(time.time())
        session.last_refresh = time.time()
        session.state = SessionState.BUSY if session.current_operation else SessionState.READY
        log.info("%s %s (%s)", session.short_id, "rebuilt" if self.cluster is not None else "restored",
                 "portal cookies" if outcome == "cookies" else "re-login")
        self._persist(session, snapshot=True)
        return outcome

    def _attach(self, session: BrowserSession) -> bool:
        """Remote mode: take a driver object on the session's running Grid browser (lock held).
        False when there is none to attach to (local mode, no browser id, the browser is gone)."""
        if not self.settings.selenium_remote_url or not session.remote_id:
            return False
        try:
            session.handle = self.factory.attach(session.remote_id)
        except PortalUnavailable:
            log.info("%s: its browser is gone from the Grid; rebuilding it", session.short_id)
            return False
        session.handle.identity_origin = session.identity_origin
        session.restore_pending = False
        if self.cluster is None:
            session.mark_restored(time.time())  # one process with a Grid: its browser outlived a restart
        self.stats_book.count("attaches")
        log.info("%s attached to its browser on the Grid", session.short_id)
        return True

    def _put_back(self, session: BrowserSession) -> PageState:
        """Snapshot into the browser, then the keep-alive page: is the portal login still good?"""
        handle = session.handle
        assert handle is not None
        try:
            if session.snapshot is not None:
                auth_snapshot.restore(handle, self._origins(session), session.snapshot)
            return self._probe_keep_alive(session)
        except BROWSER_ERRORS as exc:
            raise PortalUnavailable("Browser failed while restoring the session", details=type(exc).__name__) from None

    # --- cluster (issue 11): the records are the truth, this registry a cache of them -------------
    def _adopt(self, stored: StoredSession) -> BrowserSession:
        """Register a session another instance created (no browser here yet: its Grid browser is
        attached on first use); the registered one if another thread was first."""
        now = time.time()
        session = stored.to_session(now)
        stored.apply_to(session, now)  # its state as the cluster sees it, not "restoring"
        session.lookup_key = credentials_key(self._secret, session.tenant, stored.credentials)
        session.login_done.set()
        with self._lock:
            current = self._sessions.get(session.session_id)
            if current is not None:
                return current
            self._sessions[session.session_id] = session
            self._by_key[(session.tenant, session.lookup_key)] = session.session_id
        return session

    def _sync(self, session: BrowserSession) -> None:
        """Held session: read its record again (another instance may have used, re-logged in,
        rebuilt or closed it). A browser id that changed means this driver object is stale: it is
        dropped (never quit) and the current browser attached on the way (``restore_pending``)."""
        assert self.journal is not None
        stored = self.journal.load(session.session_id)
        if stored is None:
            if not session.login_done.is_set():
                return  # our own first login: no record yet
            self._let_go(session, "closed on another instance")
            raise SessionNotFound()
        mine = session.current_remote_id()
        stored.apply_to(session, time.time())
        if session.handle is not None and stored.remote_id != mine:
            session.handle.detach()
            session.handle = None
        if session.handle is None:
            session.restore_pending = True

    def _sync_all(self) -> None:
        """Mirror the store: adopt sessions created elsewhere, let go of sessions closed elsewhere,
        refresh the clear figures (state, times, kind) of idle ones for listings and the refresher."""
        assert self.journal is not None
        records = {r.key: r for r in self.journal.records()}
        with self._lock:
            known = {record_key(s.session_id): s for s in self._sessions.values()}
        for key, session in known.items():
            record = records.get(key)
            if record is None and session.login_done.is_set() and not session.busy and not session.pins:
                self._let_go(session, "closed on another instance")
            elif record is not None and not session.busy:
                value = record.value
                session.last_used = float(value.get("last_used") or session.last_used)
                session.last_refresh = value.get("last_refresh")
                session.keep_alive = value.get("kind") == "keep_alive"
        for key in records.keys() - known.keys():
            stored = self.journal.open(records[key])
            if stored is not None:
                self._adopt(stored)

    def _let_go(self, session: BrowserSession, reason: str) -> None:
        """Forget a session here without touching its browser or record (both are another
        instance's business now)."""
        with self._lock:
            self._remove_locked(session)
        session.state = SessionState.CLOSING
        handle, session.handle = session.handle, None
        if handle is not None:
            handle.detach()
        session.wipe_secrets()
        log.info("%s %s", session.short_id, reason)

    # --- look-up ------------------------------------------------------------------------------------
    def get(self, tenant: str | None, session_id: str) -> BrowserSession | None:
        """The session if it exists and belongs to ``tenant`` (``None`` = any tenant, admin); in a
        cluster also one that only another instance has used so far (adopted from its record)."""
        session = self._get_local(None, session_id)
        if session is None and self.cluster is not None:
            stored = self.journal.load(session_id)  # type: ignore[union-attr]
            session = self._adopt(stored) if stored is not None else None
        if session is None or (tenant is not None and session.tenant != tenant):
            return None
        return session

    def _get_local(self, tenant: str | None, session_id: str) -> BrowserSession | None:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or (tenant is not None and session.tenant != tenant):
            return None
        return session

    def list(self, tenant: str | None = None) -> list[BrowserSession]:
        """The tenant's sessions (``None``: all), oldest first; in a cluster every instance's."""
        if self.cluster is not None:
            self._sync_all()
        with self._lock:
            sessions = list(self._sessions.values())
        return sorted((s for s in sessions if tenant is None or s.tenant == tenant), key=lambda s: s.created_at)

    # --- closing (API_SPEC 3.4, 3.10, 4.10, 4.12) -----------------------------------------------------
    def close(self, tenant: str | None, session_id: str) -> None:
        session = self.get(tenant, session_id)
        if session is None:
            raise SessionNotFound("Session not found")
        if not self._hold(session, "close", self.settings.session_lock_timeout):
            op = session.current_operation
            raise SessionBusy(details=f"Session is busy: running {op['route']}" if op else "Session is busy")
        try:
            with self._lock:
                if self._sessions.get(session_id) is not session:
                    raise SessionNotFound("Session not found")
                self._remove_locked(session)
            self._dispose(session, "closed")
        finally:
            self._unhold(session)

    def expire_idle(self) -> int:
        """Close regular sessions unused for SESSION_TIMEOUT (busy or pinned ones wait for the next tick)."""
        closed = 0
        timeout = self.settings.session_timeout
        for session in self.list():
            if session.keep_alive or not session.is_expired(timeout):
                continue
            try:
                if not self._hold(session, "expire", 0):
                    continue
            except SessionNotFound:
                continue  # closed on another instance meanwhile
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
                self._unhold(session)
        return closed

    def close_all(self, grace: float | None = None) -> int:
        """Shutdown: refuse new sessions and operations, give running operations ``grace`` seconds
        overall (a booking past its Submit click: ``CONFIRMATION_TIMEOUT``), quit every session's
        browser (its record stays, with a last snapshot, for the next start), then kill every
        browser still open (logins and re-logins in progress) and start no more."""
        with self._lock:
            self._shutting_down = True
        if self._restorer is not None:
            self._restorer.shutdown(wait=False, cancel_futures=True)
        started = time.monotonic()
        deadline = started + (self.settings.shutdown_grace if grace is None else grace)
        closed = 0
        for session in self.list():
            got = self._await_operation(session, started, deadline)
            if not got:
                self.login_flow.cancel.set()  # a login still waiting on the solver stops now
            try:
                # The record stays (the next start restores the session): a last snapshot first.
                # In a cluster the record is current after every operation and other instances
                # may be using the session: nothing is written, the browser is left running.
                if self.cluster is None:
                    self._persist(session, snapshot=got)
                with self._lock:
                    self._remove_locked(session)
                self._dispose(session, "stopped (kept for the next start)",
                              quit_timeout=max(0.0, deadline - time.monotonic()), forget=False)
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

    def _dispose(self, session: BrowserSession, reason: str, *, quit_timeout: float = QUIT_TIMEOUT,
                 forget: bool = True) -> int:
        """Quit the browser (given ``quit_timeout``, then killed), reap its processes, delete its
        profile, forget secrets and wizards; with ``forget`` (the session ends for good) delete its
        record too. Shutdown passes ``forget=False``."""
        session.state = SessionState.CLOSING
        if forget and self.journal is not None:
            self.journal.delete(session.session_id)
        handle, session.handle = session.handle, None
        if handle is None and forget and self._attach(session):
            handle, session.handle = session.handle, None  # a Grid browser only other instances drove
        if handle is not None and not forget and self.cluster is not None:
            handle.detach()  # the cluster goes on: another instance serves the session from its browser
            handle = None
        killed = handle.close(quit_timeout=quit_timeout) if handle is not None else 0
        session.wipe_secrets()
        log.info("%s %s", session.short_id, reason)
        return killed

    # --- statistics ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts for /health and /metrics; registry data only (no browser is touched)."""
        sessions = self.list()
        out = self.stats_book.summary(sessions, self.settings.max_sessions, self.login_flow.captcha_solves)
        if self.journal is not None:
            out["state"] = {"backend": self.journal.backend, "sessions": self.journal.count(),
                            "restored": sum(s.restored_at is not None for s in sessions),
                            "restoring": sum(s.state is SessionState.RESTORING for s in sessions)}
        return out
