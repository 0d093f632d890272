"""The identity host (`/identity`, B5.1 steps 2-5): authorize, the login page, the callback.

It mimics IdentityServer: an authorize request without an identity session lands on
`/Account/Login?ReturnUrl=<encoded callback>`, so the login URL itself contains `signin-oidc`
and host names (the trap of A2).
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import parse_qs, quote, urlencode

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request

from .auth import clear_session_cookies, current_session, set_session_cookies
from .config import APPS
from .shell import origin
from .state import get_state

CALLBACK_PATH = "/identity/connect/authorize/callback"
ANTIFORGERY_COOKIE = ".AspNetCore.Antiforgery.sbx"
ERROR_CREDENTIALS = "Invalid username or password"
ERROR_CAPTCHA = "Please verify that you are not a robot."

bp = Blueprint("sandbox_identity", __name__)


def _login_url(return_url: str) -> str:
    return f"{origin()}/identity/Account/Login?ReturnUrl={quote(return_url, safe='')}"


@bp.route("/identity/connect/authorize")
def authorize() -> Response:
    query = request.query_string.decode()
    callback = f"{CALLBACK_PATH}?{query}"
    if current_session(touch=True, identity=True) is not None:
        return redirect(origin() + callback, code=302)
    return redirect(_login_url(callback), code=302)


def _anchor_url(sitekey: str) -> str:
    co = base64.b64encode(origin().encode()).decode().rstrip("=")
    query = urlencode({"ar": 1, "k": sitekey, "co": co, "hl": "en", "v": "sandbox",
                       "size": "normal", "cb": secrets.token_hex(6)})
    return f"{origin()}/google/recaptcha/api2/anchor?{query}"


def _render_login(return_url: str, username: str = "", error: str | None = None) -> Response:
    """B6.1 page. The anti-forgery cookie is kept per browser (as ASP.NET does), and the hidden
    field must match it."""
    sitekey = get_state().config.knob("sitekey")
    antiforgery = request.cookies.get(ANTIFORGERY_COOKIE) or secrets.token_urlsafe(32)
    html = render_template(
        "login.html", action=_login_url(return_url) if return_url else request.url,
        return_url=return_url, username=username, error=error, sitekey=sitekey,
        anchor_url=_anchor_url(sitekey), frame_name=f"a-{secrets.token_hex(6)}",
        antiforgery=antiforgery, origin=origin(),
    )
    response = make_response(html, 200)
    response.set_cookie(ANTIFORGERY_COOKIE, antiforgery, path="/identity", httponly=True, samesite="Strict")
    return response


def _safe_return_url(value: str) -> str:
    """Only local identity callbacks are valid ReturnUrls (no open redirect)."""
    return value if value.startswith(CALLBACK_PATH) else ""


@bp.route("/identity/Account/Login", methods=["GET"])
def login_page() -> Response:
    return _render_login(_safe_return_url(request.args.get("ReturnUrl", "")))


@bp.route("/identity/Account/Login", methods=["POST"])
def login_post() -> Response:
    """B5.1 step 4: anti-forgery, then captcha (B6.4), then credentials."""
    state = get_state()
    form = request.form
    expected = request.cookies.get(ANTIFORGERY_COOKIE)
    if not expected or form.get("__RequestVerificationToken") != expected:
        abort(400)
    return_url = _safe_return_url(form.get("ReturnUrl", "") or request.args.get("ReturnUrl", ""))
    username = form.get("Username", "")
    token = form.get("g-recaptcha-response", "")
    # Like Google's siteverify, the check consumes the token whatever happens next.
    captcha_ok = state.verify_token(token, state.config.knob("sitekey"))
    if state.config.knob("require_hdn_token") and form.get("hdnToken", "") != token:
        captcha_ok = False
    if not captcha_ok:
        return _render_login(return_url, username, ERROR_CAPTCHA)
    account = state.account(username)
    if account is None or account.password != form.get("Password", ""):
        return _render_login(return_url, username, ERROR_CREDENTIALS)
    session = state.create_session(account.username)
    response = redirect(origin() + (return_url or "/ecp2/"), code=302)
    set_session_cookies(response, session)
    return response


@bp.route(CALLBACK_PATH)
def authorize_callback() -> Response:
    """B5.1 step 5: the OIDC form_post page that carries the code to `<app>/signin-oidc`."""
    state = get_state()
    session = current_session(touch=True, identity=True)
    query = request.query_string.decode()
    if session is None:
        return redirect(_login_url(f"{CALLBACK_PATH}?{query}"), code=302)
    params = {k: v[0] for k, v in parse_qs(query).items()}
    app = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if app not in APPS or redirect_uri != f"{origin()}/{app}/signin-oidc":
        abort(400)
    code = secrets.token_hex(32).upper()
    with state.lock:
        state.oidc_codes[code] = {"bearer": session.bearer, "state": params.get("state", ""),
                                  "app": app, "issued": state.clock.timestamp()}
    html = render_template(
        "form_post.html", action=redirect_uri, code=code, scope=params.get("scope", "openid profile"),
        state=params.get("state", ""), session_state=f"{secrets.token_urlsafe(32)}.{secrets.token_hex(16)}",
        hop_ms=state.config.knob("oidc_hop_ms"),
    )
    return make_response(html, 200)


@bp.route("/identity/Account/Logout", methods=["GET", "POST"])
def logout() -> Response:
    """Ends this browser's session (B5.1 MAY)."""
    state = get_state()
    session = current_session(touch=False, identity=True)
    if session is not None:
        with state.lock:
            state.sessions.pop(session.bearer, None)
    response = redirect(f"{origin()}/ecp2/", code=302)
    clear_session_cookies(response)
    return response
