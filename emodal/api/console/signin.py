"""Who is looking at the console: an API key typed once into a form, the tenant kept in a cookie.

Why a cookie and not the key header: a browser cannot add ``X-API-Key`` to links, images and
forms, and the key must never travel in a URL or be written into a page. The sign-in form posts
the key once; the console keeps only the tenant fingerprint (API_SPEC 2) in Flask's signed session
cookie, scoped to ``/console``, HttpOnly, SameSite=Strict, and Secure when the request came over
https. Every request checks that fingerprint against the keys configured now, so removing a key
from EMODAL_API_KEYS signs its console users out at their next request.

Every POST carries a per-cookie CSRF token (SameSite=Strict alone does not cover older browsers).
"""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface

from emodal.api.auth import tenant_id, tenant_of
from emodal.errors import Forbidden
from emodal.state.errors import UndecryptableSecret
from emodal.state.sealed import SECRETS_NAMESPACE, persistent_secret

log = logging.getLogger("emodal.console")

COOKIE_NAME = "emodal_console"
COOKIE_PATH = "/console"
#: A sign-in lasts this long (the cookie's expiry and the signature's maximum age).
SIGN_IN_LIFETIME = timedelta(hours=12)
#: Name of the cookie-signing secret in the state store's ``secrets`` namespace.
SECRET_NAME = "console_cookie_secret"
CSRF_FIELD = "csrf_token"


class ConsoleCookie(SecureCookieSessionInterface):
    """Flask's signed-cookie session with the console's cookie attributes (decided per request)."""

    def get_cookie_name(self, app: Flask) -> str:
        return COOKIE_NAME

    def get_cookie_path(self, app: Flask) -> str:
        # Behind a proxy prefix (TRUSTED_PROXY_HOPS) the console lives under the script root.
        return request.script_root + COOKIE_PATH

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Strict"


def cookie_secret(app: Flask) -> str:
    """The key that signs console cookies.

    How it is chosen: when the app carries a state store (``app.extensions["emodal_state"]``, with
    ``.store`` and ``.box``), the secret is the store's sealed ``console_cookie_secret``, created
    on first use, so sign-ins survive a restart and every process sharing the store accepts them;
    a stored secret this encryption key cannot open is replaced. Without a store, a random secret
    for this process: sign-ins then end when the process does.
    """
    state = app.extensions.get("emodal_state")
    if state is None:
        return secrets.token_urlsafe(32)
    try:
        return persistent_secret(state.store, state.box, SECRET_NAME)
    except UndecryptableSecret:
        log.warning("the stored console cookie secret cannot be decrypted with this STATE_ENCRYPTION_KEY; "
                    "a new one was generated (console users sign in again)")
        state.store.delete(SECRETS_NAMESPACE, SECRET_NAME)
        return persistent_secret(state.store, state.box, SECRET_NAME)


def install(app: Flask) -> None:
    """Give ``app`` the console's cookie session (the console is the app's only session user)."""
    app.secret_key = cookie_secret(app)
    app.session_interface = ConsoleCookie()
    app.permanent_session_lifetime = SIGN_IN_LIFETIME


def load_viewer(settings: Any) -> None:
    """Set ``g.tenant`` / ``g.is_admin`` from the cookie (open mode: left as ``authenticate`` set them).

    A fingerprint no configured key has any more signs the cookie out."""
    if not settings.auth_enabled:
        return
    tenant = session.get("tenant")
    admins = {tenant_id(k) for k in settings.emodal_admin_keys}
    if tenant is not None and (tenant in admins or tenant in {tenant_id(k) for k in settings.emodal_api_keys}):
        g.tenant, g.is_admin = tenant, tenant in admins
        return
    session.pop("tenant", None)
    g.tenant, g.is_admin = None, False


def sign_in(settings: Any, key: str) -> bool:
    """Sign the cookie in as the tenant of ``key``; False (nothing changed) for an unknown key.

    A fresh cookie (new CSRF token) on every sign-in: nothing set before it carries over."""
    owner = tenant_of(settings, key) if key else None
    if owner is None:
        log.warning("console sign-in refused: unknown API key")
        return False
    session.clear()
    session.permanent = True
    session["tenant"] = owner[0]
    log.info("console sign-in: tenant %s%s", owner[0], " (admin)" if owner[1] else "")
    return True


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    """The CSRF token of this cookie, created on first use."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """403 unless the form's token is this cookie's token."""
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode("utf-8"), str(expected).encode("utf-8")):
        raise Forbidden("Missing or invalid CSRF token", details="reload the console page and try again")
