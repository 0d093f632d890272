"""E-Modal credentials and the credential lookup key (API_SPEC 3.2).

Why an HMAC: the registry must find "the tenant's session for these credentials" without keeping a
plain or unsalted hash that would let anyone with a memory dump or a log line test passwords
offline (v1 used SHA-256 of ``user:password``). The secret is ``SESSION_SECRET``; the captcha key is
deliberately not part of the key, so a caller rotating its 2captcha key still reuses its session.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """Username, password and the caller's 2captcha key, held in memory only.

    ``repr``/``str`` never show the password or the key, so a stray log line or traceback with a
    ``Credentials`` in it leaks nothing. The username is trimmed (API_SPEC 1.5, 3.2).
    """

    username: str
    password: str = field(repr=False)
    captcha_api_key: str = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "username", self.username.strip())

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>, captcha_api_key=<hidden>)"

    __str__ = __repr__

    def with_captcha_key(self, captcha_api_key: str) -> "Credentials":
        """Same account with a newer captcha key (a matching request replaces the stored key)."""
        return Credentials(self.username, self.password, captcha_api_key)


def lookup_key(secret: bytes, tenant: str, username: str, password: str) -> str:
    """``HMAC-SHA256(secret, tenant || len(username) || username || password)`` as hex.

    ``len(username)`` is the UTF-8 byte length as a fixed 8-byte big-endian integer, which makes the
    split between username and password unambiguous (``"ab" + "c"`` vs ``"a" + "bc"``). The tenant
    is a fixed-length fingerprint or the literal ``open``, neither of which ends in ambiguity with
    the binary length field that follows.
    """
    user = username.strip().encode("utf-8")
    message = b"".join((
        tenant.encode("utf-8"),
        struct.pack(">Q", len(user)),
        user,
        password.encode("utf-8"),
    ))
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def credentials_key(secret: bytes, tenant: str, credentials: Credentials) -> str:
    """:func:`lookup_key` for a :class:`Credentials`."""
    return lookup_key(secret, tenant, credentials.username, credentials.password)
