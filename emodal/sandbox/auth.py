"""Portal-side authentication (B5, B13): cookies, login decorators, the start of the OIDC chain,
`signin-oidc`, and the termops 401 page.

The identity host itself (authorize, login page, callback) lives in `identity.py`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from functools import wraps
from typing import Any, Callable
from urllib.parse import quote, unquote, urlencode

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request

from .shell import origin
from .state import AuthSession, get_state

AUTH_COOKIE = "AuthCookie"
IDSRV_COOKIE = "idsrv.session"
# Apps that bounce a logged-out page into the identity chain; termops shows its 401 page instead.
CHAIN_APPS = ("ecp2", "account", "truckerportal")
OIDC_CODE_TTL_S = 60

bp = Blueprint("sandbox_auth", __name__)


# ---- cookies and the current session ---------------------------------------------------------
def _bearer_from_auth_cookie() -> str | None:
    raw = request.cookies.get(AUTH_COOKIE)
    if not raw:
        return None
    try:
        return str(json.loads(unquote(raw)).get("bearer") or "") or None
    except (ValueError, AttributeError):
        return None


def current_session(touch: bool, identity: bool = False) -> AuthSession | None:
    """The valid session of this request. Portal hosts read `AuthCookie`; the identity host also
    accepts its own `idsrv.session` cookie. Both point to one server-side session (B5.2)."""
    state = get_state()
    session = state.valid_session(_bearer_from_auth_cookie(), touch)
    if session is None and identity:
        session = state.valid_session(request.cookies.get(IDSRV_COOKIE), touch)
    return session


def set_session_cookies(response: Response, session: AuthSession) -> None:
    idle = get_state().config.knob("idle_timeout_s")
    value = quote(json.dumps({"bearer": session.bearer, "refresh_token": session.refresh_token,
                              "expires_in": idle}, separators=(",", ":")), safe="")
    response.set_cookie(AUTH_COOKIE, value, path="/", samesite="Lax", httponly=False, secure=False)
    response.set_cookie(IDSRV_COOKIE, session.bearer, path="/identity", samesite="Lax", httponly=True)


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(AUTH_COOKIE, path="/")
    response.delete_cookie(IDSRV_COOKIE, path="/identity")


def app_of_request() -> str:
    """First path segment, i.e. the portal app (`ecp2`, `termops`, ...)."""
    return request.path.strip("/").split("/", 1)[0].lower()


def _bind(session: AuthSession) -> bool:
    """Expose the session and its account on `g`; False if the account vanished (reset)."""
    account = get_state().account(session.username)
    if account is None:
        return False
    g.auth_session, g.account = session, account
    return True


# ---- responses for logged-out requests -------------------------------------------------------
def error_page(status: int, title: str, heading: str, lines: list[str]) -> Response:
    response = Response(render_template("error.html", title=title, heading=heading, lines=lines),
                        status=status, mimetype="text/html")
    return response


def unauthorized_page() -> Response:
    """Classic ASP.NET 401 of termops (A10, B13)."""
    return error_page(401, "401 - Unauthorized", "401", [
        "You are either not logged in or your session has expired.",
        "Please use your back button or return to the home page and login.",
    ])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def start_chain(app: str, return_path: str) -> Response:
    """302 into the identity chain (B5.1 step 1), remembering where to come back to."""
    state = get_state()
    oidc_state = secrets.token_hex(16)
    with state.lock:
        state.oidc_states[oidc_state] = {"app": app, "path": return_path}
    # PKCE-shaped: the challenge is S256 of a verifier only the "client" (we) would know.
    challenge = _b64url(hashlib.sha256(secrets.token_bytes(32)).digest())
    query = urlencode({
        "client_id": app, "redirect_uri": f"{origin()}/{app}/signin-oidc", "response_type": "code",
        "scope": "openid profile", "response_mode": "form_post", "state": oidc_state,
        "nonce": secrets.token_hex(16), "code_challenge": challenge, "code_challenge_method": "S256",
    }, quote_via=quote)
    return redirect(f"{origin()}/identity/connect/authorize?{query}", code=302)


def _original_path() -> str:
    query = request.query_string.decode()
    return request.path + (f"?{query}" if query else "")


# ---- decorators (SANDBOX_INTERNALS Python contract) ------------------------------------------
def page_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """HTML pages: refresh the idle timer, or bounce (ecp2/account/truckerportal) / 401 (termops)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = current_session(touch=True)
        if session is not None and _bind(session):
            return view(*args, **kwargs)
        app = app_of_request()
        if app in CHAIN_APPS:
            return start_chain(app, _original_path())
        return unauthorized_page()
    return wrapper


def xhr_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Page-script XHRs: 401 JSON without a session, which makes the page reload (B13)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = current_session(touch=True)
        if session is not None and _bind(session):
            return view(*args, **kwargs)
        return jsonify({"error": "unauthorized", "message": "Session expired"}), 401
    return wrapper


# ---- the client end of the chain -------------------------------------------------------------
def _signin_oidc() -> Response:
    """B5.1 step 6: single-use code + matching state, then back to the stored original path."""
    app = app_of_request()
    state = get_state()
    code, oidc_state = request.form.get("code", ""), request.form.get("state", "")
    with state.lock:
        grant = state.oidc_codes.pop(code, None)
        target = state.oidc_states.pop(oidc_state, None)
    fresh = grant is not None and grant["state"] == oidc_state and grant["app"] == app and \
        state.clock.timestamp() - grant["issued"] <= OIDC_CODE_TTL_S
    session = state.valid_session(grant["bearer"], touch=True) if fresh else None
    if session is None:
        return start_chain(app, f"/{app}/")
    response = redirect(origin() + (target["path"] if target else f"/{app}/"), code=302)
    set_session_cookies(response, session)
    return response


for _app in ("ecp2", "account", "termops", "truckerportal"):
    bp.add_url_rule(f"/{_app}/signin-oidc", f"signin_oidc_{_app}", _signin_oidc, methods=["POST"])


def _session_info() -> Any:
    """`GET /<app>/api/session` [S]: a private heartbeat XHR of every app shell (refreshes idle)."""
    state = get_state()
    idle = state.config.knob("idle_timeout_s")
    return jsonify({"username": g.account.username, "expires_in": idle})


for _app in ("ecp2", "account", "termops", "truckerportal"):
    bp.add_url_rule(f"/{_app}/api/session", f"session_info_{_app}", xhr_login_required(_session_info))
