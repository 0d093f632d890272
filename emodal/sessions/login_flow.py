"""A complete portal login: browser + login page + captcha solver (API_SPEC 3.9).

Why a separate composition: the registry decides *when* to log in (new session, recovery,
refresh) and must not know *how*; tests and the benchmark drive this object directly. The flow's
one promise besides logging in: when it fails, no browser and no profile it created are left
behind (API_SPEC 6.3).

Why the solve runs beside the browser: the solver needs only the sitekey and the page URL, and it
takes longer than anything else in a login. So the task is submitted as soon as they are known -
read from the login page before the credentials are typed, or, for a new browser, taken from the
previous login page this service saw (the portal's sitekey and login URL do not change) and
submitted before the browser even starts. The page's own sitekey and URL are still read and
compared: on a mismatch that early token is dropped and a new task submitted (one wasted task,
never a refused login). A token older than :data:`EARLY_TOKEN_MAX_AGE` is dropped too (Google
accepts one for 120 s).

Why a new login takes a spare browser (``BrowserFactory.take``): one started ahead is ready at
once, so the login page opens while the early solve runs instead of after a 1-2.4 s start.

Why the hints are kept (:mod:`emodal.sessions.login_hints`): the solve times and the captcha target
are what make a login fast, and a restart would otherwise forget both; they are loaded when the
flow is built and saved after every login that read the page.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable

from emodal.browser.factory import BROWSER_ERRORS, BrowserFactory, BrowserHandle
from emodal.browser.snapshot import origin_of
from emodal.captcha.client import CaptchaClient
from emodal.captcha.schedule import PollSchedule
from emodal.config import Settings
from emodal.errors import InvalidCredentials, LoginPageReturned, PortalTimeout, PortalUnavailable
from emodal.portal.health import PageState
from emodal.portal.login import LoginPage
from emodal.portal.urls import PortalUrls
from emodal.sessions.credentials import Credentials
from emodal.sessions.login_hints import CaptchaTarget, LoginHints, LoginHintStore

log = logging.getLogger(__name__)

CaptchaClientFactory = Callable[[str], CaptchaClient]
#: Oldest early token still handed to the page: Google's 120 s minus room for LOGIN and its hop.
EARLY_TOKEN_MAX_AGE = 90.0


class LoginFlow:
    """``login(credentials) -> BrowserHandle`` within ``LOGIN_TIMEOUT``.

    ``cancel`` is set at shutdown so a login waiting on the captcha service stops at once.
    ``captcha_client_factory(api_key)`` is injectable for tests; by default it builds a
    :class:`CaptchaClient` for ``CAPTCHA_SERVICE_URL`` with ``CAPTCHA_TIMEOUT``, the poll interval
    and the flow's shared :class:`PollSchedule` (solve times learned across logins). ``hints``:
    where what logins learned is kept across restarts (the state store); without it (tests) the
    flow starts from nothing.
    """

    def __init__(self, settings: Settings, factory: BrowserFactory, *,
                 captcha_client_factory: CaptchaClientFactory | None = None,
                 cancel: threading.Event | None = None, hints: LoginHintStore | None = None) -> None:
        self.settings = settings
        self.factory = factory
        self.urls = PortalUrls.from_settings(settings)
        self.cancel = cancel or threading.Event()
        self._hints = hints
        learned = hints.load() if hints is not None else LoginHints()
        self.poll_schedule = PollSchedule(settings.captcha_poll_interval, samples=learned.samples)
        self._captcha_client_factory = captcha_client_factory or self._default_captcha_client
        self._counter_lock = threading.Lock()
        #: The last login page's (sitekey, URL): lets the next new browser's solve start at once.
        self._known_target: CaptchaTarget | None = learned.target
        #: Tokens obtained from the captcha service (for /metrics).
        self.captcha_solves = 0

    def login(self, credentials: Credentials, *, handle: BrowserHandle | None = None) -> BrowserHandle:
        """Log ``credentials`` in and return the browser, on the account's default page.

        With ``handle`` the login runs in that (live) browser and the caller keeps ownership even
        on failure; without it a new browser is created and closed again if anything fails.
        Raises the login errors of API_SPEC 3.9 (InvalidCredentials, RecaptchaFailed, Captcha*,
        PortalUnavailable, PortalTimeout).
        """
        deadline = time.monotonic() + self.settings.login_timeout
        own = handle is None
        started = time.monotonic()
        # A new browser has no identity session, so it will show the login page: solve right away.
        early = self._solve(credentials, self._known_target, deadline) if own and self._known_target else None
        browser: BrowserHandle | None = handle
        try:
            if browser is None:
                browser = self.factory.take(_remaining(deadline))
            try:
                self._run(browser, credentials, deadline, early)
            except BROWSER_ERRORS as exc:
                # The browser died or refused a command mid-login: a portal-side failure to the caller.
                raise PortalUnavailable("Browser failed during login", details=type(exc).__name__) from None
        except BaseException as exc:
            log.info("login of %s failed after %.1f s: %s (%s)", credentials.username,
                     time.monotonic() - started, type(exc).__name__, getattr(exc, "details", None))
            if own and browser is not None:
                browser.close()
            raise
        finally:
            self._save_hints()
            if own:
                self.factory.refill_spares()  # now, not during the login: both would share the CPU
        log.info("login of %s succeeded in %.1f s", credentials.username, time.monotonic() - started)
        return browser

    def _save_hints(self) -> None:
        """Keep what this login learned (solve time, captcha target) for the next start."""
        if self._hints is not None and self._known_target is not None:
            self._hints.save(LoginHints(tuple(self.poll_schedule.samples()), self._known_target))

    def _run(self, browser: BrowserHandle, credentials: Credentials, deadline: float,
             early: "_Solve | None") -> None:
        try:
            self._attempt(browser, credentials, deadline, early)
        except LoginPageReturned:
            log.warning("login of %s: the portal showed the login page again without a message; "
                        "trying once more", credentials.username)
            try:
                self._attempt(browser, credentials, deadline, None)
            except LoginPageReturned as exc:
                raise InvalidCredentials(details=exc.details) from None

    def _attempt(self, browser: BrowserHandle, credentials: Credentials, deadline: float,
                 early: "_Solve | None") -> None:
        """One pass over the login page; ends on the portal page the identity chain leads to
        (the account's default page, B17 rule 9: callers go straight to their target page)."""
        s = self.settings
        page = LoginPage(browser.driver, self.urls, element_timeout=s.element_timeout,
                         page_load_timeout=s.page_load_timeout)
        if page.open() is PageState.LOGGED_IN:
            return  # the identity session was still valid: the chain already landed
        browser.identity_origin = origin_of(browser.driver.current_url) or browser.identity_origin
        target = (page.sitekey(), page.captcha_page_url())
        self._known_target = target
        solve = early if early is not None and early.usable_for(target) else None
        if early is not None and solve is None:
            log.info("login of %s: the login page changed its captcha; the early token is dropped",
                     credentials.username)
        if solve is None:
            solve = self._solve(credentials, target, deadline)
        page.fill_credentials(credentials.username, credentials.password)  # while the solver works
        page.deliver_token(solve.token(deadline))
        page.submit(_remaining(deadline))

    def _solve(self, credentials: Credentials, target: CaptchaTarget, deadline: float) -> "_Solve":
        """Submit a solver task for ``target`` now and let it run in the background."""
        client = self._captcha_client_factory(credentials.captcha_api_key)
        client.timeout = min(client.timeout, _remaining(deadline))
        return _Solve(target, lambda: self._count(client.solve_recaptcha_v2(*target)))

    def _count(self, token: str) -> str:
        with self._counter_lock:
            self.captcha_solves += 1
        return token

    def _default_captcha_client(self, api_key: str) -> CaptchaClient:
        s = self.settings
        return CaptchaClient(s.captcha_service_url, api_key, timeout=s.captcha_timeout,
                             poll_interval=s.captcha_poll_interval, cancel=self.cancel,
                             schedule=self.poll_schedule)


class _Solve:
    """One solver task running in a daemon thread; :meth:`token` waits for it.

    A solve nobody collects (the browser failed to start, the page's captcha changed) finishes on
    its own within its client's timeout, or at once when the flow's ``cancel`` is set.
    """

    def __init__(self, target: CaptchaTarget, solve: Callable[[], str]) -> None:
        self.target = target
        self._future: Future[str] = Future()
        self._solved_at: float | None = None
        threading.Thread(target=self._run, args=(solve,), name="captcha-solve", daemon=True).start()

    def _run(self, solve: Callable[[], str]) -> None:
        try:
            token = solve()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever collects the token
            self._future.set_exception(exc)
            return
        self._solved_at = time.monotonic()
        self._future.set_result(token)

    def usable_for(self, target: CaptchaTarget) -> bool:
        """Same sitekey and page, and not a token about to expire."""
        if target != self.target:
            return False
        return self._solved_at is None or time.monotonic() - self._solved_at <= EARLY_TOKEN_MAX_AGE

    def token(self, deadline: float) -> str:
        """The token (or the solve's error), waiting at most until ``deadline``."""
        try:
            return self._future.result(timeout=_remaining(deadline))
        except FutureTimeout:
            raise PortalTimeout("Login did not finish within LOGIN_TIMEOUT",
                                details="waiting for the captcha service") from None


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise PortalTimeout("Login did not finish within LOGIN_TIMEOUT")
    return left
