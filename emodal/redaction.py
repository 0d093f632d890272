"""What never leaves the process in clear: secret fields, URL queries, full session ids (API_SPEC 2, 5).

Why one module: bundles, logs, screenshots and error bodies each used to carry their own list or
regex, and the lists drifted (the HTTP one missed ``api_key``, ``authorization``, ``cookie``).
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

#: Field names never written to a bundle, a log or a stored body; matched case-insensitively at any depth.
SECRET_FIELDS = frozenset({"password", "captcha_api_key", "pin_code", "api_key", "x-api-key",
                           "authorization", "cookie", "cookies"})

_SESSION_ID_RE = re.compile(r"\b(session|appt)_(\d+)_([A-Za-z0-9_-]{6})[A-Za-z0-9_-]+")


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret field removed (dicts at any depth, lists included)."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if str(k).lower() not in SECRET_FIELDS}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def redact_url(url: str) -> str:
    """The URL with any query/fragment replaced by ``?...`` (OIDC codes and tokens travel there)."""
    parts = urlsplit(url)
    if not (parts.query or parts.fragment):
        return url
    return parts._replace(query="", fragment="").geturl() + "?..."


def short_id(text: str) -> str:
    """Cut the random part of every session/appointment id in ``text`` to 6 characters plus ``…``.

    Full ids are bearer tokens (API_SPEC 2): logs, bundles and the demo print only this form.
    """
    return _SESSION_ID_RE.sub(lambda m: f"{m.group(1)}_{m.group(2)}_{m.group(3)}…", text)
