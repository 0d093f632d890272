"""Request-scoped helpers shared by every blueprint: JSON body, request id, caller, URL base.

Why one module: API_SPEC 1.1/1.7/6.1 rules (what counts as JSON, which X-Request-Id is echoed,
how absolute URLs are built behind proxies) must be identical on every route.
"""
from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from flask import current_app, g, request

from emodal.errors import ApiError, InvalidJson
from emodal.operations.runner import OperationRunner

if TYPE_CHECKING:
    from emodal.api.metrics import Metrics
    from emodal.config import Settings
    from emodal.sessions.protocol import Registry

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id(supplied: str | None) -> str:
    """The caller's X-Request-Id if it is ``[A-Za-z0-9._-]{1,64}``, else ``req_<16 hex>`` (API_SPEC 1.1)."""
    if supplied and _REQUEST_ID_RE.match(supplied):
        return supplied
    return f"req_{secrets.token_hex(8)}"


def settings() -> Settings:
    """The running app's ``Settings``."""
    return current_app.extensions["emodal_settings"]


def registry() -> Registry:
    """The running app's session registry."""
    return current_app.extensions["emodal_registry"]


def metrics() -> Metrics:
    """The running app's Prometheus metrics."""
    return current_app.extensions["emodal_metrics"]


def runner() -> OperationRunner:
    """The operation runner over this app's registry (it holds no state: one per call is free)."""
    return OperationRunner(settings(), registry(), metrics())


def json_body(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object, or ``InvalidJson`` (``Request must be JSON``).

    ``optional``: a request without body and without Content-Type counts as ``{}`` (/cleanup,
    admin routes: API_SPEC 4.11, 4.12).
    """
    raw = request.get_data(cache=True)
    if optional and not raw.strip() and not request.mimetype:
        return {}
    if request.mimetype != "application/json":
        raise InvalidJson("Request must be JSON", details="Content-Type must be application/json")
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        # ``silent`` only covers ValueError; "[[[[..." deeper than the parser's recursion limit is
        # bad input like any other malformed JSON, not a 500 with a traceback.
        raise InvalidJson("Request must be JSON", details="JSON nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidJson("Request must be JSON", details="body must be a JSON object")
    return body


def base_url() -> str:
    """``<base>`` of every absolute URL (API_SPEC 1.7): PUBLIC_BASE_URL, else the request's own
    scheme, host and prefix (already rewritten from X-Forwarded-* by ProxyFix when
    TRUSTED_PROXY_HOPS > 0, see ``create_app``)."""
    configured = settings().public_base_url
    if configured:
        return configured
    return request.url_root.rstrip("/")


def remember_session(session_id: str, is_new: bool) -> None:
    """Mark the request as having resolved a session: error bodies and headers then name it (1.2)."""
    g.session_id = session_id
    g.is_new_session = is_new


def error_body(error: ApiError) -> dict[str, Any]:
    """The error envelope of this request (API_SPEC 1.2): ``session_id``/``is_new_session`` once a
    session was resolved. Shared by the error handler and stored idempotent answers."""
    body = error.body()
    if g.get("session_id"):
        body["session_id"] = g.session_id
        body["is_new_session"] = bool(g.get("is_new_session"))
    return body
