"""Client of the 2captcha legacy protocol (``in.php`` / ``res.php``) for reCAPTCHA v2 tokens.

Why our own client: the official ``2captcha-python`` package takes only a host name and always
speaks HTTPS, so it cannot reach a configurable base URL such as the sandbox's ``{origin}/2captcha``
(PORTAL_SPEC B7.1). Why these error rules (API_SPEC 3.9): a bad or unfunded key is never retried
(2captcha bans keys that keep making bad calls); "no slot" backs off; an unsolvable task gets a new
task a bounded number of times; the whole solve is bounded by ``CAPTCHA_TIMEOUT``.

The API key is a secret: it is sent to the service and nowhere else (no logs, no exception text).
"""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from emodal.captcha.schedule import PollSchedule
from emodal.errors import CaptchaKeyInvalid, CaptchaUnavailable, CaptchaZeroBalance, RecaptchaFailed

log = logging.getLogger(__name__)

NOT_READY = "CAPCHA_NOT_READY"  # sic: the protocol's own spelling
KEY_ERRORS = frozenset({"ERROR_WRONG_USER_KEY", "ERROR_KEY_DOES_NOT_EXIST"})
ZERO_BALANCE = "ERROR_ZERO_BALANCE"
NO_SLOT = "ERROR_NO_SLOT_AVAILABLE"
UNSOLVABLE = "ERROR_CAPTCHA_UNSOLVABLE"

#: Consecutive network failures tolerated while polling a task already paid for.
_POLL_NETWORK_TOLERANCE = 2
#: Longest back-off between submits while the service has no free worker.
_MAX_NO_SLOT_BACKOFF = 30.0


class CaptchaClient:
    """Solve reCAPTCHA v2 through a 2captcha-compatible service.

    ``timeout`` bounds one :meth:`solve_recaptcha_v2` call end to end; ``poll_interval`` is the
    longest wait between ``res.php`` polls (2captcha asks for 5 s) and the first back-off of a
    busy service; ``schedule`` plans the polls and learns solve times (see
    :mod:`emodal.captcha.schedule`; share one per service, the default learns only within this
    client); ``cancel`` (an Event) aborts waits early (service shutdown). ``http`` is injectable
    for tests.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 180, poll_interval: float = 5,
                 max_unsolvable_retries: int = 2, request_timeout: float = 30,
                 http: requests.Session | None = None, cancel: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic, schedule: PollSchedule | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        _require_secure(self.base_url)
        self._key = api_key
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.max_unsolvable_retries = max_unsolvable_retries
        self.request_timeout = request_timeout
        self._http = http or requests.Session()
        self._cancel = cancel or threading.Event()
        self._clock = clock
        self.schedule = schedule or PollSchedule(poll_interval)
        #: Tasks submitted by this client (observability and tests).
        self.tasks_submitted = 0

    def __repr__(self) -> str:
        return f"CaptchaClient({self.base_url!r}, key=<hidden>)"

    def solve_recaptcha_v2(self, sitekey: str, page_url: str) -> str:
        """Return a token for ``sitekey`` on ``page_url``.

        Raises ``CaptchaKeyInvalid`` / ``CaptchaZeroBalance`` (never retried), ``RecaptchaFailed``
        (unsolvable after retries, or ``timeout`` passed), ``CaptchaUnavailable`` (unreachable
        service or an answer the protocol does not define).
        """
        deadline = self._clock() + self.timeout
        unsolvable = 0
        while True:
            task_id = self._submit(sitekey, page_url, deadline)
            code, value = self._poll(task_id, deadline)
            if code == "OK":
                return value
            # Only UNSOLVABLE comes back from _poll; every other code raised already.
            unsolvable += 1
            log.info("captcha task unsolvable (%d of %d retries used)", unsolvable - 1, self.max_unsolvable_retries)
            if unsolvable > self.max_unsolvable_retries:
                raise RecaptchaFailed(details=f"captcha service could not solve the reCAPTCHA ({unsolvable} tasks)")

    # --- protocol steps ---------------------------------------------------------------------------
    def _submit(self, sitekey: str, page_url: str, deadline: float) -> str:
        """``in.php``; waits out ``ERROR_NO_SLOT_AVAILABLE`` with a doubling back-off."""
        backoff = self.poll_interval
        while True:
            status, value = self._call("POST", "in.php", {
                "key": self._key, "method": "userrecaptcha", "googlekey": sitekey,
                "pageurl": page_url, "json": "1",
            })
            if status == 1:
                self.tasks_submitted += 1
                return value
            if value != NO_SLOT:
                self._raise_for_code(value)
            self._wait(backoff, deadline)
            backoff = min(backoff * 2, _MAX_NO_SLOT_BACKOFF)

    def _poll(self, task_id: str, deadline: float) -> tuple[str, str]:
        """``res.php`` until a token (``("OK", token)``) or ``("UNSOLVABLE", "")``, on the schedule's plan."""
        plan = self.schedule.plan()
        submitted = self._clock()
        polls = network_failures = 0
        while True:
            self._wait(plan.wait(polls), deadline)
            polls += 1
            try:
                status, value = self._call("GET", "res.php", {
                    "key": self._key, "action": "get", "id": task_id, "json": "1",
                })
            except CaptchaUnavailable:
                network_failures += 1
                if network_failures > _POLL_NETWORK_TOLERANCE:
                    raise
                continue
            network_failures = 0
            if status == 1:
                self.schedule.record(plan, self._clock() - submitted)
                return "OK", value
            if value == NOT_READY:
                continue
            if value == UNSOLVABLE:
                return "UNSOLVABLE", ""
            self._raise_for_code(value)

    def _call(self, method: str, endpoint: str, params: dict[str, str]) -> tuple[int, str]:
        """One protocol request -> ``(status, request)`` of the JSON answer."""
        url = f"{self.base_url}/{endpoint}"
        try:
            if method == "POST":
                resp = self._http.post(url, data=params, timeout=self.request_timeout)
            else:
                resp = self._http.get(url, params=params, timeout=self.request_timeout)
        except requests.RequestException as exc:
            # The exception text may contain the URL with the key in its query: never show it.
            raise CaptchaUnavailable(details=f"captcha service unreachable ({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise CaptchaUnavailable(details=f"captcha service answered HTTP {resp.status_code}")
        try:
            body: Any = resp.json()
            status, value = int(body["status"]), str(body["request"])
        except (ValueError, KeyError, TypeError):
            raise CaptchaUnavailable(details="captcha service gave an unexpected answer") from None
        return status, value

    @staticmethod
    def _raise_for_code(code: str) -> None:
        if code in KEY_ERRORS:
            raise CaptchaKeyInvalid(details=code)
        if code == ZERO_BALANCE:
            raise CaptchaZeroBalance(details=code)
        raise CaptchaUnavailable(details=f"captcha service error {code[:64]}")

    def _wait(self, seconds: float, deadline: float) -> None:
        """Wait ``seconds`` (less if the deadline is nearer); RecaptchaFailed if it has already passed.

        After a shortened final wait the caller still makes its last request.
        """
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise RecaptchaFailed(details=f"captcha not solved within {self.timeout:g} s")
        # An Event wait, not a sleep: shutdown sets ``cancel`` and the login stops at once.
        if self._cancel.wait(min(seconds, remaining)):
            raise CaptchaUnavailable(details="captcha solving cancelled (shutting down)")


def _require_secure(base_url: str) -> None:
    """HTTPS for any real service; plain HTTP only for a loopback solver such as the sandbox's.

    Why: the key travels in every request; on plain HTTP anyone on the path could take it.
    """
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return
    host = parts.hostname or ""
    if parts.scheme == "http" and _is_loopback(host):
        return
    raise CaptchaUnavailable(details="CAPTCHA_SERVICE_URL must use HTTPS (plain HTTP only for loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
