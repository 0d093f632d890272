"""One way to run a business operation, for an HTTP request and a background job alike (no Flask).

``OperationRunner.run`` does everything between "the request is valid" and "render the answer":
resolve the session (API_SPEC 3.3), create its folder, take its lock (3.7) with the lock-wait metric,
build the :class:`OperationContext`, probe the session, run the operation with one re-login retry
(3.6), and on failure take the ``failure`` screenshot and the FAILED bundle; on success the debug
bundle. It returns an :class:`OperationResult` (data or file, flags, screenshots, bundle keys);
the caller turns that into an HTTP response or a job record.

After Submit (``ctx.no_retry``) nothing is retried, and every failure but a refusal the operation
read from the portal (an ``ApiError`` marked ``submitted``) becomes :class:`OutcomeUnknown`.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from emodal.browser.bundles import write_bundle
from emodal.browser.factory import BROWSER_ERRORS
from emodal.browser.screenshots import OverlayInfo, capture
from emodal.errors import ApiError, InternalError, OutcomeUnknown, PortalSessionLost
from emodal.operations.context import FileResult, OperationContext, OperationLog
from emodal.portal.urls import PortalUrls
from emodal.sessions.folders import ensure_session_folder

if TYPE_CHECKING:
    from emodal.config import Settings
    from emodal.sessions.credentials import Credentials
    from emodal.sessions.protocol import Registry
    from emodal.sessions.session import BrowserSession

#: A business operation: a plain function of its context returning JSON fields or a file.
Operation = Callable[[OperationContext], "dict[str, Any] | FileResult"]
#: Called once the session is known (before anything can fail on it): error answers name it.
OnSession = Callable[["BrowserSession", bool], None]

#: Request fields whose value is "the container" of the overlay line (API_SPEC 5, line 4).
_CONTAINER_FIELDS = ("container_id", "container_number", "target_container_id")


class RunMetrics(Protocol):
    """The two figures the runner records (``emodal.api.metrics.Metrics`` has them)."""

    def observe_lock_wait(self, route: str, seconds: float) -> None: ...

    def count_recovery(self, route: str) -> None: ...


@dataclass(frozen=True)
class SessionRef:
    """Which session a call runs under (API_SPEC 3.3): an id, complete credentials, or both.

    ``keep_alive``: the kind of a session this call creates; ``promote``: make a matched regular
    session keep-alive.
    """

    session_id: str | None = None
    credentials: Credentials | None = None
    keep_alive: bool = False
    promote: bool = False

    def __post_init__(self) -> None:
        if self.session_id is None and self.credentials is None:
            raise ValueError("a SessionRef needs a session_id or credentials")


@dataclass(frozen=True)
class OperationResult:
    """What a successful run produced, for the caller to render.

    ``data``: the operation's JSON fields (empty for a file); ``file`` and ``file_url``: the file
    answer and its absolute URL; ``recovered``: the session was re-established on the way
    (``session_recovered``); ``restored``: the first answer on a session brought back from the state
    store after a restart (``session_restored``); ``bundle``: the debug-bundle keys of the envelope
    (empty without one).
    """

    session_id: str
    is_new: bool
    recovered: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    file: FileResult | None = None
    file_url: str | None = None
    screenshots: tuple[str, ...] = ()
    bundle: Mapping[str, str] = field(default_factory=dict)
    restored: bool = False


class OperationRunner:
    """Runs operations against the registry's sessions; holds no state of its own."""

    def __init__(self, settings: Settings, registry: Registry, metrics: RunMetrics) -> None:
        self.settings = settings
        self.registry = registry
        self.metrics = metrics
        self.urls = PortalUrls.from_settings(settings)

    # --- sessions ---------------------------------------------------------------------------------
    def open_session(self, tenant: str, ref: SessionRef, *, request_id: str, route: str,
                     on_session: OnSession | None = None) -> tuple[BrowserSession, bool]:
        """Resolve a session without an operation (``/get_session``); a reused one is probed and
        re-established in place when its browser or portal login was lost."""
        session, is_new = self._resolve(tenant, ref, on_session)
        if is_new:
            self.registry.release(session)  # just logged in: nothing to run under its lock
            return session, True
        with self.registry.acquire(session, route, request_id, timeout=self.settings.session_lock_timeout):
            self.registry.ensure_healthy(session)
        return session, False

    def _resolve(self, tenant: str, ref: SessionRef, on_session: OnSession | None) -> tuple[BrowserSession, bool]:
        """The pinned session and its folder; the pin is dropped if the call ends here."""
        session, is_new = self.registry.resolve(tenant, ref.session_id, ref.credentials,
                                                keep_alive=ref.keep_alive, promote=ref.promote)
        try:
            if on_session is not None:
                on_session(session, is_new)
            ensure_session_folder(self.settings, session.session_id, tenant)
        except BaseException:
            self.registry.release(session)  # the call ends here: the session may be evicted again
            raise
        return session, is_new

    # --- operations -------------------------------------------------------------------------------
    def run(self, tenant: str, ref: SessionRef, operation: Operation, params: dict[str, Any], *,
            request_id: str, route: str, base_url: str, bundle_kind: str = "DEBUG", always_bundle: bool = False,
            on_session: OnSession | None = None) -> OperationResult:
        """Run ``operation`` under the session ``ref`` names; raises the ``ApiError`` to answer with.

        ``params``: the validated request fields; ``route``: names the call in logs, metrics,
        screenshots and bundles; ``base_url``: of the absolute file URLs; ``bundle_kind``: KIND of
        the debug bundle (API_SPEC 5), written with ``debug`` or ``always_bundle``.
        """
        session, is_new = self._resolve(tenant, ref, on_session)
        waited = time.monotonic()
        with self.registry.acquire(session, route, request_id, timeout=self.settings.session_lock_timeout):
            self.metrics.observe_lock_wait(route, time.monotonic() - waited)
            ctx = self._context(session, params, request_id=request_id, route=route, base_url=base_url)
            recovered = False if is_new else self.registry.ensure_healthy(session)
            try:
                value, retried = self._run_with_retry(ctx, operation)
                bundle = _bundle(ctx, bundle_kind, "success", None) if (ctx.debug or always_bundle) else {}
                file_url = ctx.file_urls(value.path)["file_url"] if isinstance(value, FileResult) else None
            except Exception as exc:
                _raise_failure(ctx, exc)
            recovered = recovered or retried
        if recovered:
            self.metrics.count_recovery(route)
        restored = session.take_restored()
        if isinstance(value, FileResult):
            return OperationResult(session.session_id, is_new, recovered, file=value, file_url=file_url,
                                   restored=restored)
        return OperationResult(session.session_id, is_new, recovered, data=value,
                               screenshots=tuple(ctx.screenshots), bundle=bundle, restored=restored)

    def run_held(self, session: BrowserSession, operation: Operation, params: dict[str, Any], *,
                 request_id: str, route: str, base_url: str) -> dict[str, Any] | FileResult:
        """Run ``operation`` on a session whose lock the caller holds and has just probed (the
        refresher's tick hook, emodal/watches): no resolve, no lock, no probe of its own; the same
        context, re-login retry and failure record (screenshot, FAILED bundle) as :meth:`run`."""
        ctx = self._context(session, params, request_id=request_id, route=route, base_url=base_url)
        try:
            return self._run_with_retry(ctx, operation)[0]
        except Exception as exc:
            _raise_failure(ctx, exc)

    def _context(self, session: BrowserSession, params: dict[str, Any], *, request_id: str, route: str,
                 base_url: str) -> OperationContext:
        settings = self.settings
        return OperationContext(
            settings=settings, urls=self.urls, session=session, request_id=request_id, route=route,
            params=params, debug=bool(params.get("debug")), deadline=time.monotonic() + settings.operation_timeout,
            log=OperationLog(logging.getLogger("emodal.operation"), f"{session.short_id} {route} {request_id}"),
            session_dir=session.session_dir(settings.downloads_dir), base_url=base_url, capture=_capture,
        )

    def _run_with_retry(self, ctx: OperationContext, operation: Operation) -> tuple[dict[str, Any] | FileResult, bool]:
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
        self.registry.relogin(ctx.session)
        return operation(ctx), True


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


def _raise_failure(ctx: OperationContext, exc: Exception) -> NoReturn:
    """Raise the error to answer with (see :func:`_failure`) after recording it; called in ``except``."""
    error = _failure(ctx, exc)
    _record_failure(ctx, error)
    if error is exc:
        raise exc
    raise error from exc


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
    path = write_bundle(ctx, kind=kind, outcome=outcome, error_type=error.error_type if error else None)
    urls = ctx.file_urls(path)
    return {"debug_bundle_url": urls["file_url"], "debug_bundle_path": urls["file_path"],
            "bundle_url": urls["file_url"]}


__all__ = ["Operation", "OperationResult", "OperationRunner", "RunMetrics", "SessionRef"]
