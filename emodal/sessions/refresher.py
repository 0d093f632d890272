"""Background keep-alive thread (API_SPEC 3.5, PORTAL_SPEC A10).

Why: the portal's SSO session lapses after an unknown idle time (above 2 minutes, A10). A
keep-alive session that nobody uses would be logged out by the time a request arrives, turning a
1-second reuse into a 30-120 s re-login. So every ``REFRESH_CHECK_INTERVAL`` one thread closes
expired regular sessions and refreshes the keep-alive sessions that have been quiet for
``SESSION_REFRESH_INTERVAL``. It never waits for a session lock (busy sessions are skipped until
the next tick) and never refreshes a session with a young open appointment wizard, because
loading the keep-alive page would navigate away from the wizard the client is in the middle of.

In a cluster every instance runs one; the registry lists every instance's sessions and taking a
session's lock takes its store lease and re-reads its record, so the check repeated under the
lock sees a refresh done elsewhere: each session is refreshed once per interval, by whichever
instance gets there first, and refreshing goes on as long as one instance lives.

A :class:`TickHook` (the container watches, ``emodal/watches``) rides on the refresh: under the same
lock hold, right after the refresh, it reads what it watches, so that costs no extra lock and no
extra login. A session the hook wants is refreshed on that tick even when the refresh itself is not
due (also a regular session: watching it does not keep it alive, its idle expiry is untouched).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from emodal.config import Settings
from emodal.errors import ApiError, SessionBusy, SessionNotFound, ShuttingDown
from emodal.sessions.registry import SessionRegistry
from emodal.sessions.session import BrowserSession, SessionState

log = logging.getLogger(__name__)

#: Longest wait between refresh attempts of a failing session (API_SPEC 3.5).
MAX_BACKOFF_SECONDS = 900.0


class TickHook(Protocol):
    """Work done on a session's refresh tick under its lock (kept free of Flask and of any watch logic)."""

    def wants(self, session: BrowserSession, now: float) -> bool:
        """Is work due on ``session``? Then the refresher refreshes it on this tick."""

    def run(self, session: BrowserSession) -> None:
        """Do the due work; the caller holds the lock and has just refreshed the session. Never raises."""


class Refresher:
    """``start()`` / ``stop()`` with the app; ``tick()`` is one synchronous pass (tests call it)."""

    def __init__(self, registry: SessionRegistry, settings: Settings, hook: TickHook | None = None) -> None:
        self.registry = registry
        self.settings = settings
        #: Set by ``create_app`` once the watches exist (they need the runner, built after the refresher).
        self.hook = hook
        self.last_tick: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="session-refresher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the current refresh; wait for the thread at most ``timeout`` seconds
        (default ``SHUTDOWN_GRACE``; shutdown passes 0). A refresh still running then (a re-login
        waiting on the captcha service) keeps its session lock; shutdown's ``close_all`` waits for
        that lock within its grace, then cancels the captcha wait and kills the browser."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.settings.shutdown_grace if timeout is None else timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the thread must survive any single bad pass
                log.exception("refresher pass failed")
            if self._stop.wait(self.settings.refresh_check_interval):
                return

    def tick(self) -> None:
        """One pass: expire idle regular sessions, then refresh what is due."""
        expired = self.registry.expire_idle()
        if expired:
            log.info("closed %d expired regular session(s)", expired)
        for session in self.registry.list():
            if self._stop.is_set():
                break
            now = time.time()
            if self.is_due(session, now) or self._hook_due(session, now):
                self._refresh(session)
        self.last_tick = time.time()

    def is_due(self, session: BrowserSession, now: float) -> bool:
        """API_SPEC 3.5 selection: keep-alive, idle, quiet long enough, no young wizard, not backing off."""
        if not session.keep_alive or session.busy or now < session.next_refresh_at:
            return False
        if session.state is SessionState.LOGGED_OUT:
            return True  # a lapsed session is re-established as soon as its back-off allows
        if session.state is not SessionState.READY:
            return False  # also needs_attention: its captcha key is known bad, only a request can fix it
        return self._quiet(session, now)

    def _hook_due(self, session: BrowserSession, now: float) -> bool:
        """The hook wants an idle ready session (keep-alive or not) that is not backing off."""
        return (not session.busy and session.state is SessionState.READY and now >= session.next_refresh_at
                and self._hook_wants(session, now))

    def _hook_wants(self, session: BrowserSession, now: float) -> bool:
        return self.hook is not None and not self._young_wizard(session, now) and self.hook.wants(session, now)

    def _young_wizard(self, session: BrowserSession, now: float) -> bool:
        newest_wizard = session.newest_wizard_use()
        return newest_wizard is not None and now - newest_wizard < self.settings.appointment_session_ttl

    def _quiet(self, session: BrowserSession, now: float) -> bool:
        """Neither refreshed nor used for SESSION_REFRESH_INTERVAL, and no young open wizard."""
        if self._young_wizard(session, now):
            return False
        quiet_since = max(session.last_refresh or 0.0, session.last_used)
        return now - quiet_since >= self.settings.session_refresh_interval

    def _refresh(self, session: BrowserSession) -> None:
        try:
            with self.registry.acquire(session, "refresh", None, timeout=0, touch=False):
                # Asked again under the lock: taking it re-read the record, and in a cluster another
                # instance may have refreshed or used the session since (one refresh per interval).
                now = time.time()
                if (session.state is SessionState.BUSY and not self._quiet(session, now)
                        and not self._hook_wants(session, now)):
                    return
                recovered = self.registry.refresh(session)
                if self.hook is not None:
                    self.hook.run(session)
        except (SessionBusy, SessionNotFound, ShuttingDown):
            return  # in use, closed meanwhile or stopping: nothing to do this tick
        except ApiError as exc:
            session.refresh_failures += 1
            delay = min(self.settings.refresh_check_interval * 2 ** (session.refresh_failures - 1),
                        MAX_BACKOFF_SECONDS)
            session.next_refresh_at = time.time() + delay
            log.warning("%s refresh failed (%s); next attempt in %.0f s",
                        session.short_id, exc.error_type, delay)
            return
        session.refresh_failures = 0
        session.next_refresh_at = 0.0
        log.info("%s refreshed%s", session.short_id, " (re-established)" if recovered else "")
