"""Fault injection and simulated latency (B14 `xhr_latency_ms`, B15 faults).

A `before_request` hook classifies each request (page / xhr / asset / other) and applies, in
order: the geo-block, the first matching queued `http500`/`slow` fault, then the XHR latency.
`/_sandbox`, the reCAPTCHA frames and the solver are never touched by page/xhr faults; the
captcha faults are consumed by `captcha.py` and `solver.py` through `take_captcha_fault`.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, jsonify, request

from .auth import error_page
from .state import Fault, get_state

PORTAL_PREFIXES = ("ecp2", "account", "identity", "termops", "truckerportal")
FAULT_TYPES = ("http500", "slow", "captcha_error", "captcha_spin", "geo_block")
TARGETS = ("page", "xhr", "any")


def request_class(path: str) -> str:
    """`xhr` (/<app>/api/...), `asset` (/<app>/assets/...), `page` (other portal paths) or `other`."""
    parts = path.strip("/").lower().split("/")
    if parts[0] not in PORTAL_PREFIXES:
        return "other"
    if len(parts) > 1 and parts[1] in ("api", "assets"):
        return "xhr" if parts[1] == "api" else "asset"
    return "page"


def _geo_blocked(path: str) -> bool:
    lowered = path.lower()
    return lowered.rstrip("/") == "/ecp2/login" or lowered.startswith("/identity/")


def forbidden_page() -> Response:
    return error_page(403, "403 Forbidden", "403 Forbidden",
                      ["You don't have permission to access this resource."])


def server_error(kind: str) -> Response | tuple[Response, int]:
    if kind == "xhr":
        return jsonify({"error": "Internal server error"}), 500
    return error_page(500, "500 - Internal server error.", "500 - Internal server error.", [])


def _matches(kind: str, path: str) -> Any:
    def check(fault: Fault) -> bool:
        return fault.target in (kind, "any") and (not fault.path_contains or
                                                  fault.path_contains.lower() in path.lower())
    return check


def _before_request() -> Response | tuple[Response, int] | None:
    kind = request_class(request.path)
    if kind in ("other", "asset"):
        return None
    state = get_state()
    state.log_request(kind, request.method, request.path)
    if state.geo_block and _geo_blocked(request.path):
        return forbidden_page()
    fault = state.take_fault(("http500", "slow"), _matches(kind, request.path))
    if fault is not None and fault.type == "http500":
        return server_error(kind)
    if fault is not None:
        time.sleep(fault.delay_ms / 1000)
    if kind == "xhr":
        low, high = state.config.knob("xhr_latency_ms")
        with state.lock:
            delay_ms = state.latency_rng.uniform(low, high)
        time.sleep(delay_ms / 1000)
    return None


def take_captcha_fault(kind: str, endpoint: str | None = None) -> Fault | None:
    """Consume a `captcha_spin` (kind) or a `captcha_error` for solver `endpoint` (`in`/`res`)."""
    return get_state().take_fault(
        (kind,), lambda f: endpoint is None or f.endpoint in (endpoint, "any"))


def add_fault(spec: dict[str, Any]) -> Fault | None:
    """Queue one fault from its JSON spec; `geo_block` toggles a flag instead of queueing."""
    state = get_state()
    kind = spec.get("type")
    if kind not in FAULT_TYPES:
        raise ValueError(f"unknown fault type {kind!r}")
    if kind == "geo_block":
        state.geo_block = bool(spec.get("enabled", True))
        return None
    fields = {k: spec[k] for k in ("count", "target", "path_contains", "delay_ms", "endpoint", "code")
              if spec.get(k) is not None}
    fault = Fault(type=kind, **fields)
    if fault.target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    with state.lock:
        state.faults.append(fault)
    return fault


def init_app(app: Flask) -> None:
    app.before_request(_before_request)
