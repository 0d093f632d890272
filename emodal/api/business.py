"""The runner of every business route: validation, session resolution, lock, probe, retry, envelope.

A business route is three lines::

    @bp.post("/get_container_timeline")
    def get_container_timeline():
        return execute("/get_container_timeline", TIMELINE_SCHEMA, container_timeline, bundle_kind="PREGATE")

Order (API_SPEC 6.1): the key was checked by ``auth`` before the route; then JSON and the schema
(types, required, formats); then the session (3.3); only then is a browser touched. The lock is
taken with ``SESSION_LOCK_TIMEOUT`` (3.7), the session probed (``ensure_healthy``), the operation
run once and, on ``PortalSessionLost`` before Submit, re-logged in and retried once (3.6).
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Response, current_app, g, jsonify

from emodal.api import http
from emodal.api.files import ensure_session_folder, send_download
from emodal.api.schemas import Schema, missing_fields_error, parse, redact
from emodal.browser.bundles import write_bundle
from emodal.browser.factory import BROWSER_ERRORS
from emodal.browser.screenshots import OverlayInfo, capture
from emodal.errors import ApiError, InternalError, OutcomeUnknown, PortalSessionLost
from emodal.operations.context import FileResult, OperationContext, OperationLog
from emodal.portal.urls import PortalUrls
from emodal.sessions.credentials import Credentials

Operation = Callable[[OperationContext], "dict[str, Any] | FileResult"]
CREDENTIAL_FIELDS = ("username", "password", "captcha_api_key")


def request_credentials(params: Mapping[str, Any]) -> Credentials | None:
    """Credentials when all three fields are present, else ``None`` (3.3: only complete ones count)."""
    if all(params.get(name) for name in CREDENTIAL_FIELDS):
        return Credentials(params["username"], params["password"], params["captcha_api_key"])
    return None


def resolve_session(params: Mapping[str, Any], *, keep_alive: bool, promote: bool) -> tuple[Any, bool]:
    """API_SPEC 3.3 for the current request; remembers the result for error bodies and headers."""
    credentials = request_credentials(params)
    session_id = params.get("session_id")
    if session_id is None and credentials is None:
        missing = [name for name in CREDENTIAL_FIELDS if not params.get(name)]
        error = missing_fields_error(["username", "password", "captcha_api_key"])
        error.message += " (or valid session_id)"
        error.details = {"missing": missing}
        raise error
    session, is_new = http.registry().resolve(g.tenant, session_id, credentials,
                                              keep_alive=keep_alive, promote=promote)
    http.remember_session(session.session_id, is_new)
    try:
        ensure_session_folder(http.settings(), session.session_id, g.tenant)
    except BaseException:
        http.registry().release(session)  # the request ends here: the session may be evicted again
        raise
    return session, is_new


def execute(route: str, schema_or_parsed: Schema | Mapping[str, Any], operation: Operation, *,
            creates_keep_alive: bool = False, bundle_kind: str = "DEBUG",
            always_bundle: bool = False) -> Response:
    """Run ``operation`` for the current request and render the JSON envelope (or a file body).

    ``schema_or_parsed``: a :class:`Schema` (the body is read and validated here) or params already
    validated by the route (when it needs checks of its own between validation and the session,
    e.g. idempotency). ``creates_keep_alive``: a session this call creates is keep-alive even
    without ``keep_browser_alive``. ``bundle_kind``: KIND of the debug bundle (API_SPEC 5);
    ``always_bundle``: build it even without ``debug`` (/make_appointment).
    """
    settings = http.settings()
    params = (parse(schema_or_parsed, http.json_body(), settings) if isinstance(schema_or_parsed, Schema)
              else dict(schema_or_parsed))
    keep = bool(params.get("keep_browser_alive"))
    session, is_new = resolve_session(params, keep_alive=creates_keep_alive or keep, promote=keep)
    registry = http.registry()
    metrics = current_app.extensions["emodal_metrics"]
    waited = time.monotonic()
    with registry.acquire(session, route, g.request_id, timeout=settings.session_lock_timeout):
        metrics.observe_lock_wait(route, time.monotonic() - waited)
        ctx = _context(route, params, session, settings)
        recovered = False if is_new else registry.ensure_healthy(session)
        try:
            result, retried = _run_with_retry(ctx, operation, registry)
            bundle = _bundle(ctx, bundle_kind, "success", None) if (ctx.debug or always_bundle) else {}
        except Exception as exc:
            error = _failure(ctx, exc)
            _record_failure(ctx, error)
            if error is exc:
                raise
            raise error from exc
        recovered = recovered or retried
    if recovered:
        metrics.count_recovery(route)
    return _render(result, ctx, is_new=is_new, recovered=recovered, bundle=bundle)


# --- internals ---------------------------------------------------------------------------------------
#: Request fields whose value is "the container" of the overlay line (API_SPEC 5, line 4).
_CONTAINER_FIELDS = ("container_id", "container_number", "target_container_id")


def _capture(ctx: OperationContext, tag: str, container: str | None) -> Path:
    """Screenshot with the overlay strip for ``ctx`` (see ``emodal.browser.screenshots``)."""
    params, settings = ctx.params, ctx.settings
    container = container or next((params[f] for f in _CONTAINER_FIELDS if params.get(f)), None)
    booking = params.get("booking_number") if params.get("container_type") == "export" else None
    info = OverlayInfo(user=params.get("screens_label") or ctx.session.username, route=ctx.route, tag=tag,
                       request_id=ctx.request_id, container=container, booking=booking,
                       vm_email=params.get("vm_email"))
    return capture(ctx.session.driver, ctx.session_dir, info, overlay=settings.screenshot_overlay,
                   display_timezone=settings.display_timezone)


def _context(route: str, params: dict[str, Any], session: Any, settings: Any) -> OperationContext:
    return OperationContext(
        settings=settings, urls=PortalUrls.from_settings(settings), session=session,
        request_id=g.request_id, route=route, params=params, debug=bool(params.get("debug")),
        deadline=time.monotonic() + settings.operation_timeout,
        log=OperationLog(logging.getLogger("emodal.operation"), f"{session.short_id} {route} {g.request_id}"),
        session_dir=session.session_dir(settings.downloads_dir), base_url=http.base_url(),
        capture=_capture,
    )


def _run_with_retry(ctx: OperationContext, operation: Operation, registry: Any) -> tuple[Any, bool]:
    """Run once; on a lapsed portal login or a crashed browser before Submit, re-establish the
    session in place (a new browser when the old one is dead) and run once more (API_SPEC 3.6)."""
    try:
        return operation(ctx), False
    except PortalSessionLost:
        if ctx.no_retry:
            raise
        ctx.log.warning("portal session lost; re-logging in and retrying once")
    except BROWSER_ERRORS:
        # Only a dead browser is recovered here; a WebDriver error in a live browser is a bug or a
        # page we do not understand, which a blind retry would only repeat.
        handle = ctx.session.handle
        if ctx.no_retry or (handle is not None and handle.alive()):
            raise
        ctx.log.warning("browser died during the operation; starting a new one and retrying once")
    registry.relogin(ctx.session)
    return operation(ctx), True


def _failure(ctx: OperationContext, exc: Exception) -> ApiError:
    """The error to answer with; the one place that maps every failure after Submit.

    Once ``ctx.no_retry`` is set the portal may have booked, whatever failed next (no Confirmation
    in time, a crashed or killed browser, a lost login, a failing read, a full disk). The only
    definite answers are the ones the operation read from the portal and marked ``submitted`` (a
    refusal dialog); everything else is :class:`OutcomeUnknown` (504), never a plain failure a
    client would retry with a new key. Before Submit an unexpected exception is a bug: a clean 500.
    """
    if not isinstance(exc, ApiError):
        ctx.log.exception("operation failed unexpectedly")
    if ctx.no_retry and not (isinstance(exc, ApiError) and exc.extra.get("submitted") is True):
        ctx.log.warning("failure after Submit: the outcome of the booking is unknown")
        if isinstance(exc, ApiError):
            return OutcomeUnknown(exc.message, cause=exc.error_type)
        return OutcomeUnknown(cause="browser_error" if isinstance(exc, BROWSER_ERRORS) else "internal_error")
    return exc if isinstance(exc, ApiError) else InternalError()


def _record_failure(ctx: OperationContext, exc: ApiError) -> None:
    """A failure after the browser was used: one ``failure`` shot and a FAILED bundle, named in the error."""
    ctx.session.record_error(exc.error_type)
    if not ctx.browser_used:
        return
    with contextlib.suppress(Exception):  # a dead browser must not replace the real error
        url = ctx.screenshot("failure", always=True)
        if url:
            exc.extra.setdefault("screenshot_url", url)
    exc.extra.setdefault("screenshots", list(ctx.screenshots))
    with contextlib.suppress(Exception):
        exc.extra.update(_bundle(ctx, "FAILED", "failure", exc))


def _bundle(ctx: OperationContext, kind: str, outcome: str, error: ApiError | None) -> dict[str, str]:
    """Write this operation's debug bundle; return the envelope's bundle keys."""
    path = write_bundle(ctx, kind=kind, outcome=outcome,
                        error_type=error.error_type if error else None,
                        request=redact(ctx.params))
    urls = ctx.file_urls(path)
    return {"debug_bundle_url": urls["file_url"], "debug_bundle_path": urls["file_path"],
            "bundle_url": urls["file_url"]}


def _render(result: dict[str, Any] | FileResult, ctx: OperationContext, *, is_new: bool, recovered: bool,
            bundle: dict[str, str]) -> Response:
    if isinstance(result, FileResult):
        response = send_download(result.path, result.download_name)
        if result.mimetype:
            response.mimetype = result.mimetype
        response.headers.update(result.headers)
        response.headers["X-Is-New-Session"] = "true" if is_new else "false"
        response.headers["X-File-Url"] = ctx.file_urls(result.path)["file_url"]
        return response
    body: dict[str, Any] = {"success": True, "session_id": ctx.session.session_id, "is_new_session": is_new}
    body.update(result)
    body["success"] = True
    if recovered:
        body["session_recovered"] = True
    if ctx.session.take_restored():
        body["session_restored"] = True
    body["screenshots"] = list(ctx.screenshots)
    body.update(bundle)
    return jsonify(body)
