"""A complete portal login: browser + login page + captcha solver (API_SPEC 3.9).

Why a separate composition: the registry decides *when* to log in (new session, recovery,
refresh) and must not know *how*; tests and the benchmark drive this object directly. The flow's
one promise besides logging in: when it fails, no browser and no profile it created are left
behind (API_SPEC 6.3).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from emodal.browser.factory import BROWSER_ERRORS, BrowserFactory, BrowserHandle
from emodal.browser.snapshot import origin_of
from emodal.captcha.client import CaptchaClient
from emodal.config import Settings
from emodal.errors import InvalidCredentials, LoginPageReturned, PortalTimeout, PortalUnavailable
from emodal.portal.health import PageState
from emodal.portal.login import LoginPage
from emodal.portal.urls import PortalUrls
from emodal.sessions.credentials import Credentials

log = logging.getLogger(__name__)

CaptchaClientFactory = Callable[[str], CaptchaClient]


class LoginFlow:
    """``login(credentials) -> BrowserHandle`` within ``LOGIN_TIMEOUT``.

    ``cancel`` is set at shutdown so a login waiting on the captcha service stops at once.
    ``captcha_client_factory(api_key)`` is injectable for tests; by default it builds a
    :class:`CaptchaClient` for ``CAPTCHA_SERVICE_URL`` with ``CAPTCHA_TIMEOUT`` and the poll interval.
    """

    def __init__(self, settings: Settings, factory: BrowserFactory, *,
                 captcha_client_factory: CaptchaClientFactory | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.settings = settings
        self.factory = factory
        self.urls = PortalUrls.from_settings(settings)
        self.cancel = cancel or threading.Event()
        self._captcha_client_factory = captcha_client_factory or self._default_captcha_client
        self._counter_lock = threading.Lock()
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
        browser = self.factory.create() if handle is None else handle
        started = time.monotonic()
        try:
            try:
                self._run(browser, credentials, deadline)
            except BROWSER_ERRORS as exc:
                # The browser died or refused a command mid-login: a portal-side failure to the caller.
                raise PortalUnavailable("Browser failed during login", details=type(exc).__name__) from None
        except BaseException as exc:
            log.info("login of %s failed after %.1f s: %s (%s)", credentials.username,
                     time.monotonic() - started, type(exc).__name__, getattr(exc, "details", None))
            if own:
                browser.close()
            raise
        log.info("login of %s succeeded in %.1f s", credentials.username, time.monotonic() - started)
        return browser

    def _run(self, browser: BrowserHandle, credentials: Credentials, deadline: float) -> None:
        try:
            self._attempt(browser, credentials, deadline)
        except LoginPageReturned:
            log.warning("login of %s: the portal showed the login page again without a message; "
                        "trying once more", credentials.username)
            try:
                self._attempt(browser, credentials, deadline)
            except LoginPageReturned as exc:
                raise InvalidCredentials(details=exc.details) from None

    def _attempt(self, browser: BrowserHandle, credentials: Credentials, deadline: float) -> None:
        s = self.settings
        page = LoginPage(browser.driver, self.urls, element_timeout=s.element_timeout,
                         page_load_timeout=s.page_load_timeout)
        if page.open() is PageState.LOGIN_PAGE:
            browser.identity_origin = origin_of(browser.driver.current_url) or browser.identity_origin
            page.fill_credentials(credentials.username, credentials.password)
            sitekey = page.sitekey()
            client = self._captcha_client_factory(credentials.captcha_api_key)
            client.timeout = min(client.timeout, _remaining(deadline))
            token = client.solve_recaptcha_v2(sitekey, page.captcha_page_url())
            with self._counter_lock:
                self.captcha_solves += 1
            page.deliver_token(token)
            page.submit(_remaining(deadline))
        page.land(min(_remaining(deadline), s.page_load_timeout))

    def _default_captcha_client(self, api_key: str) -> CaptchaClient:
        s = self.settings
        return CaptchaClient(s.captcha_service_url, api_key, timeout=s.captcha_timeout,
                             poll_interval=s.captcha_poll_interval, cancel=self.cancel)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise PortalTimeout("Login did not finish within LOGIN_TIMEOUT")
    return left
