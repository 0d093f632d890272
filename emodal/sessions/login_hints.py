"""What logins learned, kept across restarts: the solver's recent solve times and the login page's
captcha target (sitekey, page URL).

Why: both only exist after a login ran. Without them the first login after a start polls the
solver at 2captcha's cautious 5 s pace and cannot submit its solve before the browser has shown
the login page: 7.8 s against 4.7 s for later logins (docs/PERFORMANCE.md). Kept in the state
store (namespace ``login_hints``, one record ``captcha``), the first login after a start is like
any later one. In a cluster the record is shared: every instance learns from the others' logins.

Nothing here is secret: solve durations, the public reCAPTCHA sitekey (it is in the login page's
HTML) and the login page's URL without its query (no OIDC state). A record that cannot be read
(an older or foreign shape) is ignored with a warning: the flow then learns again, as on a first
start. A store that cannot be written only loses the hint, never a login.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from emodal.state.errors import StateError
from emodal.state.store import StateStore

log = logging.getLogger(__name__)

NAMESPACE = "login_hints"
KEY = "captcha"
#: A hint not refreshed by any login for this long is dropped by the store (a long-idle service
#: relearns the solver's pace; the portal's sitekey is read from the page again anyway).
TTL_SECONDS = 30 * 86400
#: Solve times outside this range are not plausible samples (LOGIN_TIMEOUT bounds a real one).
MAX_SAMPLE_S = 3600.0

#: (sitekey, page URL) of a login page: all a solver task needs.
CaptchaTarget = tuple[str, str]


@dataclass(frozen=True)
class LoginHints:
    """Solve-time samples (oldest first) and the last login page's captcha target, if any."""

    samples: tuple[float, ...] = ()
    target: CaptchaTarget | None = None


class LoginHintStore:
    """``load()`` at start, ``save(hints)`` after a login; over the ``login_hints`` record."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def load(self) -> LoginHints:
        """The stored hints, or empty ones (none stored, unreadable, or the store failed)."""
        try:
            record = self.store.get(NAMESPACE, KEY)
        except StateError as exc:
            log.warning("login hints not read from the state store: %s", exc)
            return LoginHints()
        if record is None:
            return LoginHints()
        hints = _parse(record.value)
        if hints is None:
            log.warning("unreadable login hints in the state store ignored (the solver's pace is learned again)")
            return LoginHints()
        return hints

    def save(self, hints: LoginHints) -> None:
        value: dict[str, Any] = {"samples": list(hints.samples), "saved_at": time.time()}
        if hints.target is not None:
            value["sitekey"], value["page_url"] = hints.target
        try:
            self.store.put(NAMESPACE, KEY, value, expires_at=time.time() + TTL_SECONDS)
        except StateError as exc:
            log.warning("login hints not saved in the state store: %s", exc)


def _parse(value: dict[str, Any]) -> LoginHints | None:
    samples = value.get("samples")
    if not isinstance(samples, list) or not all(_plausible(x) for x in samples):
        return None
    sitekey, page_url = value.get("sitekey"), value.get("page_url")
    if sitekey is None and page_url is None:
        return LoginHints(tuple(float(x) for x in samples))
    if not (isinstance(sitekey, str) and sitekey and isinstance(page_url, str)
            and page_url.startswith(("http://", "https://"))):
        return None
    return LoginHints(tuple(float(x) for x in samples), (sitekey, page_url))


def _plausible(sample: Any) -> bool:
    return (isinstance(sample, (int, float)) and not isinstance(sample, bool) and math.isfinite(sample)
            and 0 <= sample <= MAX_SAMPLE_S)


__all__ = ["CaptchaTarget", "LoginHintStore", "LoginHints"]
