"""Application factory: blueprints, the one error handler, request hooks and the service lifecycle.

Nothing happens at import time. ``create_app(settings)`` opens the state store once (issue 10:
the process lock, the encryption key, the kept SESSION_SECRET), wires the session registry and
the refresher (built here unless handed in, e.g. by tests) onto ``app.extensions`` and starts
them: browsers an earlier run left behind are reaped, then its sessions restored. :func:`shutdown`
stops them in the order of API_SPEC 3.10 and closes the store.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from emodal.api import appointments, auth, console, containers, files, ops, sessions, storage
from emodal.api import jobs as jobs_api
from emodal.api import watches as watches_api
from emodal.api import webhooks as webhooks_api
from emodal.api.http import error_body, new_request_id
from emodal.api.metrics import Metrics
from emodal.config import Settings
from emodal.errors import (ApiError, BadRequest, InternalError, MethodNotAllowed, NotFound, PayloadTooLarge,
                           ShuttingDown)
from emodal.jobs import Jobs, build_jobs
from emodal.logging_setup import configure_logging
from emodal.operations.idempotency import IdempotencyStore
from emodal.operations.runner import OperationRunner
from emodal.state.service import ServiceState, open_service_state
from emodal.state.store import StateStore
from emodal.watches import build_watches
from emodal.webhooks.runtime import Webhooks, build_webhooks

if TYPE_CHECKING:
    from emodal.sessions.protocol import Registry
    from emodal.sessions.refresher import Refresher

log = logging.getLogger("emodal.app")

RETENTION_PERIOD_S = 3600
#: How long shutdown waits for a retention pass still running before it closes the state store.
RETENTION_JOIN_S = 10


class Lifecycle:
    """Background parts of one app: refresher, jobs and schedules, webhook deliveries, hourly file
    retention, and the shutdown sequence."""

    def __init__(self, settings: Settings, registry: Registry, refresher: Refresher | None, store: StateStore,
                 jobs: Jobs | None = None, webhooks: Webhooks | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.refresher = refresher
        self.store = store
        self.jobs = jobs
        self.webhooks = webhooks
        self.shutting_down = threading.Event()
        self._stop_retention = threading.Event()
        self._retention = threading.Thread(target=self._retention_loop, name="emodal-retention", daemon=True)
        self._shutdown_lock = threading.Lock()
        self._done = False

    def start(self) -> None:
        if self.refresher is not None:
            self.refresher.start()
        if self.jobs is not None:
            self.jobs.start()
        if self.webhooks is not None:
            self.webhooks.start()
        self._retention.start()

    def _retention_loop(self) -> None:
        # First pass at start-up, then hourly (API_SPEC 3.11 FILE_RETENTION_HOURS).
        while True:
            try:
                storage.cleanup(self.settings, self.settings.file_retention_hours, None, self.registry.list(None))
                # Expired records (idempotency keys never reused) would otherwise stay on disk forever.
                self.store.purge_expired()
            except Exception:  # noqa: BLE001 - retention must never kill the service
                log.exception("retention cleanup failed")
            if self._stop_retention.wait(RETENTION_PERIOD_S):
                return

    def shutdown(self) -> None:
        """API_SPEC 3.10: refuse new requests, stop the refresher, give running operations
        SHUTDOWN_GRACE, then quit every browser. Idempotent.

        One grace in all: the refresher is told to stop without waiting for it, because a refresh
        it is running holds a session lock, which ``close_all`` waits for within the same grace
        (waiting for the refresher first would spend the grace twice). A booking already past its
        Submit click gets ``CONFIRMATION_TIMEOUT`` instead (``close_all``)."""
        with self._shutdown_lock:
            if self._done:
                return
            self._done = True
        self.shutting_down.set()
        log.info("shutting down: refusing new requests")
        self._stop_retention.set()
        if self.refresher is not None:
            self.refresher.stop(timeout=0)
        if self.jobs is not None:
            self.jobs.stop()  # no new schedule fires; workers stop after their current item (same grace)
        closed = self.registry.close_all(self.settings.shutdown_grace)
        log.info("shutdown complete: %s session browser(s) closed, their sessions kept for the next start", closed)
        if self.jobs is not None:
            self.jobs.join()  # a worker writes its last row before the store closes
        if self.webhooks is not None:
            self.webhooks.stop()  # after the jobs' last events are queued; pending ones go out at the next start
        if self._retention.ident is not None:
            self._retention.join(RETENTION_JOIN_S)  # a pass still running uses the store: let it end first
        self.store.close()


def _default_registry(settings: Settings, state: ServiceState, webhooks: Webhooks) -> tuple[Registry, Refresher]:
    from emodal.browser.factory import BrowserFactory
    from emodal.browser.ledger import BrowserLedger
    from emodal.sessions import LoginFlow, Refresher, SessionRegistry
    from emodal.sessions.cluster import SessionCluster
    from emodal.sessions.journal import SessionJournal
    from emodal.sessions.login_hints import LoginHintStore

    factory = BrowserFactory(settings, ledger=BrowserLedger(state.store))
    factory.reap_stale()  # browsers of an earlier run killed before it could close them: before any restore
    journal = SessionJournal(state.store, state.box, wizard_ttl=settings.appointment_session_ttl)
    cluster = None
    if state.store.backend == "redis":  # a store shared with other API instances (issue 11)
        assert settings.instance_id is not None
        cluster = SessionCluster(state.store, settings.instance_id)
        log.info("cluster mode: instance %s, shared state on redis, browsers on %s", settings.instance_id,
                 settings.selenium_remote_url or "this host")
        if not settings.selenium_remote_url:
            log.warning("STATE_URL is a shared redis store but SELENIUM_REMOTE_URL is unset: another instance "
                        "cannot attach to this instance's local browsers and would start its own; run one "
                        "instance, or put the browsers on a Selenium Grid (docs/DEPLOYMENT.md)")
    login_flow = LoginFlow(settings, factory, hints=LoginHintStore(state.store))
    registry = SessionRegistry(settings, factory, login_flow, journal=journal, cluster=cluster,
                               on_attention=webhooks.session_needs_attention)
    registry.restore_all()
    factory.start_spares()  # SPARE_BROWSERS started ahead for the next new login (closed at shutdown)
    return registry, Refresher(registry, settings)


def create_app(settings: Settings, *, registry: Registry | None = None, refresher: Refresher | None = None) -> Flask:
    """Build the service app. Without ``registry`` the real session registry and refresher are built;
    a given ``registry`` comes with its own ``refresher`` (or none).

    Raises the ``StateError`` classes when the state store cannot be opened (``StateLocked``: another
    process uses this STATE_DIR; ``StateCorrupt``) and ``ConfigError`` for a malformed key."""
    configure_logging(settings)
    state, settings = open_service_state(settings)
    webhooks = build_webhooks(settings, state)
    if registry is None:
        try:
            registry, refresher = _default_registry(settings, state, webhooks)
        except BaseException:
            state.store.close()
            raise
    app = Flask("emodal")
    # Bodies read by the app itself (any WSGI server); waitress caps what it reads too (emodal.server).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # keep the spec's key order in responses
    # No 308 from "/files//etc/passwd" to a merged path: such a request is refused as it stands.
    app.url_map.merge_slashes = False
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops,  # type: ignore[method-assign]
                                x_prefix=hops)
    assert settings.session_secret is not None  # resolved by open_service_state
    idempotency = IdempotencyStore(state.store, settings.idempotency_ttl, settings.session_lock_timeout,
                                   secret=settings.session_secret)
    metrics = Metrics(registry.stats, instance=settings.instance_id or "")
    def make_runner() -> OperationRunner:
        return OperationRunner(settings, registry, metrics)

    jobs = build_jobs(settings, state, registry, make_runner, webhooks.events)
    watches = build_watches(settings, state, make_runner, webhooks.events)
    if refresher is not None:
        refresher.hook = watches  # watch passes ride on the refresh ticks (emodal/watches)
    lifecycle = Lifecycle(settings, registry, refresher, state.store, jobs, webhooks)
    app.extensions.update({
        "emodal_idempotency": idempotency, "emodal_state": state, "emodal_jobs": jobs, "emodal_webhooks": webhooks,
        "emodal_watches": watches,
        "emodal_settings": settings, "emodal_registry": registry, "emodal_refresher": refresher,
        "emodal_metrics": metrics, "emodal_lifecycle": lifecycle,
        "emodal_started_at": time.time(),
    })
    for blueprint in (ops.bp, sessions.bp, files.bp, containers.bp, appointments.bp, jobs_api.bp, webhooks_api.bp,
                      watches_api.bp, console.bp):
        app.register_blueprint(blueprint)
    _install_hooks(app, settings, lifecycle)
    auth.log_auth_mode(settings)
    lifecycle.start()
    return app


def shutdown(app: Flask) -> None:
    """Graceful stop of ``app`` (SIGTERM/SIGINT path of the entry point; tests)."""
    app.extensions["emodal_lifecycle"].shutdown()


# --- request hooks and the one error handler ------------------------------------------------------
def _install_hooks(app: Flask, settings: Settings, lifecycle: Lifecycle) -> None:
    @app.before_request
    def _begin() -> None:
        g.request_id = new_request_id(request.headers.get("X-Request-Id"))
        g.started = time.monotonic()
        if lifecycle.shutting_down.is_set():
            raise ShuttingDown()
        # A declared oversize body is refused before the key check: the answer must not depend on
        # the key, and nothing of the body is read.
        if (request.content_length or 0) > settings.max_request_bytes:
            raise PayloadTooLarge.over(settings.max_request_bytes)
        auth.authenticate(settings)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id") or new_request_id(None)
        response.headers["Cache-Control"] = "no-store"
        if g.get("session_id"):
            response.headers["X-Session-Id"] = g.session_id
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        app.extensions["emodal_metrics"].observe_request(
            rule, response.status_code, g.get("error_type", ""), time.monotonic() - g.get("started", time.monotonic()))
        return response

    @app.errorhandler(Exception)
    def _error(exc: Exception) -> Response:
        error = _as_api_error(exc)
        body = error_body(error)
        body["request_id"] = g.get("request_id") or new_request_id(None)
        g.error_type = error.error_type
        response = jsonify(body)
        response.status_code = error.status
        response.headers.update(error.headers)
        return response


def _as_api_error(exc: Exception) -> ApiError:
    """Every exception as an ApiError: ours as is, Werkzeug's by status, anything else a logged 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, HTTPException):
        if exc.code == 404:
            return NotFound("Not found", details=f"No route {request.method} {request.path}")
        if exc.code == 405:
            allowed = sorted(getattr(exc, "valid_methods", None) or [])
            return MethodNotAllowed(f"Method {request.method} not allowed", headers={"Allow": ", ".join(allowed)},
                                    details={"allowed": allowed})
        if exc.code == 413:  # a body without Content-Length (chunked) read past MAX_CONTENT_LENGTH
            return PayloadTooLarge.over(current_app.config["MAX_CONTENT_LENGTH"])
        if exc.code == 400:
            return BadRequest()
        error = ApiError(exc.description or exc.name)
        error.status, error.error_type = exc.code or 500, "bad_request" if (exc.code or 500) < 500 else "internal_error"
        return error
    log.error("unhandled exception on %s %s [%s]", request.method, request.path, g.get("request_id"),
              exc_info=exc)
    return InternalError()
