"""One delivery attempt: POST the signed body, classify the answer.

Redirects are not followed by default: a receiver that answers 3xx has moved, and following would
let an accepted public URL bounce the request to an internal one. A subscription created with
``follow_redirects`` gets up to ``MAX_REDIRECTS`` hops, each re-checked (scheme here, address in the
guarded transport) and each a POST of the same body and headers (a webhook has no meaning as GET).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from emodal.webhooks.guard import AddressGuard, BlockedDestination, guarded_session

#: Bound of one attempt's connect and of its wait for the answer, s (issue 12).
ATTEMPT_TIMEOUT = 10.0
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Attempt:
    """What one attempt gave: ``delivered`` on a 2xx; ``status_code`` of the last answer (None
    when there was none); ``error`` a short text for the delivery listing (None when delivered)."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None


class Sender:
    """Posts webhook bodies through a guarded session. Used by one worker thread at a time
    (a ``requests.Session`` is not meant to be shared between threads)."""

    def __init__(self, guard: AddressGuard, *, timeout: float = ATTEMPT_TIMEOUT) -> None:
        self.guard = guard
        self.timeout = timeout
        self._session = guarded_session(guard)

    def send(self, url: str, body: str, headers: dict[str, str], *, follow_redirects: bool = False) -> Attempt:
        """POST ``body`` to ``url``; never raises for a network or receiver failure."""
        all_headers = {"Content-Type": "application/json", "User-Agent": "emodal-webhooks/1", **headers}
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                self.guard.check_url(target)
                # stream=True: the answer's body is never read (only its status counts), so a
                # receiver cannot keep the attempt busy by trickling a large body.
                with self._session.post(target, data=body.encode("utf-8"), headers=all_headers,
                                        timeout=self.timeout, allow_redirects=False, stream=True) as response:
                    code, location = response.status_code, response.headers.get("Location")
            except BlockedDestination as exc:
                return Attempt(False, None, f"refused: {exc}")
            except requests.Timeout:
                return Attempt(False, None, f"no answer within {self.timeout:g} s")
            except requests.RequestException as exc:
                return Attempt(False, None, f"connection failed: {_short(exc)}")
            if 200 <= code < 300:
                return Attempt(True, code)
            if not (300 <= code < 400 and location):
                return Attempt(False, code, f"HTTP {code}")
            next_url = urljoin(target, location)
            if not follow_redirects:
                return Attempt(False, code, f"HTTP {code} redirect to {_origin(next_url)} not followed")
            target = next_url
        return Attempt(False, code, f"more than {MAX_REDIRECTS} redirects")

    def close(self) -> None:
        self._session.close()


def _origin(url: str) -> str:
    """Scheme and host of a URL: paths and queries may carry a receiver's token, never shown."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def _short(exc: requests.RequestException) -> str:
    """The cause of a requests error without the URL (its path or query may hold a token)."""
    cause = exc.args[0] if exc.args else exc
    cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the connection error
    return str(cause).rsplit(": ", 1)[-1][:200]
