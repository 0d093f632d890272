"""Credential lookup key (API_SPEC 3.2) and the secret-hiding Credentials object."""
from __future__ import annotations

import hashlib
import hmac
import struct

from emodal.sessions.credentials import Credentials, credentials_key, lookup_key

SECRET = b"0123456789abcdef0123456789abcdef"


def test_lookup_key_is_the_documented_hmac() -> None:
    user = "jdoe".encode()
    expected = hmac.new(SECRET, b"tenantA" + struct.pack(">Q", len(user)) + user + b"sandbox-pass",
                        hashlib.sha256).hexdigest()
    assert lookup_key(SECRET, "tenantA", "jdoe", "sandbox-pass") == expected


def test_key_depends_on_tenant_secret_and_password_but_not_captcha_key() -> None:
    base = lookup_key(SECRET, "t1", "jdoe", "pw")
    assert lookup_key(SECRET, "t2", "jdoe", "pw") != base
    assert lookup_key(b"another-secret-of-32-bytes......", "t1", "jdoe", "pw") != base
    assert lookup_key(SECRET, "t1", "jdoe", "pw2") != base
    a = credentials_key(SECRET, "t1", Credentials("jdoe", "pw", "key-1"))
    b = credentials_key(SECRET, "t1", Credentials("jdoe", "pw", "key-2"))
    assert a == b == base


def test_username_password_boundary_is_unambiguous() -> None:
    assert lookup_key(SECRET, "t", "ab", "c") != lookup_key(SECRET, "t", "a", "bc")


def test_username_is_trimmed() -> None:
    assert Credentials("  jdoe ", "pw", "k").username == "jdoe"
    assert lookup_key(SECRET, "t", " jdoe ", "pw") == lookup_key(SECRET, "t", "jdoe", "pw")


def test_repr_and_str_hide_secrets() -> None:
    creds = Credentials("jdoe", "hunter2-password", "captcha-key-xyz")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "jdoe" in text
        assert "hunter2-password" not in text and "captcha-key-xyz" not in text


def test_with_captcha_key_keeps_the_account() -> None:
    creds = Credentials("jdoe", "pw", "old").with_captcha_key("new")
    assert (creds.username, creds.password, creds.captcha_api_key) == ("jdoe", "pw", "new")
