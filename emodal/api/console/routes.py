"""``/console``: the operator console's pages and actions (server-rendered HTML, issue 14).

Why HTML routes next to a JSON API: an operator wants one URL that shows every session of their
key, what it does and what its browser last saw, its jobs and failing webhooks, and can close a
stuck session, cancel a job or retry a delivery, without another tool. The pages read registry
data, the session folders and the jobs/webhooks records only (never a browser); a little plain
JavaScript (static/console.js) re-fetches the page every few seconds and swaps the parts marked
``data-live``. Errors are still raised as ``emodal.errors`` classes; this blueprint renders them
as an HTML page instead of the JSON envelope.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import (Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for)

from emodal.api import files, http, jobs as jobs_api, ops
from emodal.api.auth import OPEN_TENANT, scope_tenant
from emodal.api.console import signin, views
from emodal.errors import ApiError, NotFound, SessionNotFound
from emodal.jobs import Jobs
from emodal.jobs.store import CANCELLED, FINISHED
from emodal.webhooks.runtime import Webhooks

log = logging.getLogger("emodal.console")

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")
bp.record_once(lambda state: signin.install(state.app))

#: Reachable signed out: the sign-in form and the stylesheet/script.
_SIGNED_OUT_ENDPOINTS = frozenset({"console.sign_in_form", "console.sign_in", "console.static"})
#: Every POST of the console is a form post; the page may be framed by nothing and load only itself.
_SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
FILES_PREFIX = "/console/files/"


@dataclass(frozen=True)
class Tab:
    """A console page in the navigation."""

    label: str
    endpoint: str


TABS = (Tab("Sessions", "console.index"), Tab("Jobs", "console.jobs"), Tab("Webhooks", "console.webhooks"))


# --- sign-in, CSRF and headers for every console request ---------------------------------------------
@bp.before_request
def _signed_in() -> Response | None:
    signin.load_viewer(http.settings())
    if request.method == "POST":
        signin.check_csrf()
    if g.tenant is None and request.endpoint not in _SIGNED_OUT_ENDPOINTS:
        return redirect(url_for("console.sign_in_form"), 303)
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.update(_SECURITY_HEADERS)
    return response


@bp.errorhandler(ApiError)
def _error(error: ApiError) -> tuple[str, int, dict[str, str]]:
    g.error_type = error.error_type
    page = _render("console/error.html", error=error, request_id=g.get("request_id"))
    return page, error.status, error.headers


# --- pages -------------------------------------------------------------------------------------------
@bp.get("/sign-in")
def sign_in_form() -> Any:
    if g.tenant is not None:
        return redirect(url_for("console.index"), 303)
    return _render("console/sign_in.html")


@bp.post("/sign-in")
def sign_in() -> Any:
    if signin.sign_in(http.settings(), request.form.get("api_key", "").strip()):
        return redirect(url_for("console.index"), 303)
    return _render("console/sign_in.html", refused=True), 401


@bp.post("/sign-out")
def sign_out() -> Response:
    signin.sign_out()
    return redirect(url_for("console.sign_in_form"), 303)


@bp.get("")
def index() -> str:
    settings = http.settings()
    owner = _admin_view()
    rows = [_row(s, settings, owner) for s in http.registry().list(scope_tenant())]
    return _render("console/sessions.html", rows=rows, owner=owner, figures=_figures(),
                   active_tab="console.index")


@bp.get("/sessions/<session_id>")
def session_page(session_id: str) -> str:
    settings = http.settings()
    session = _session(session_id)
    shown, more = views.files(settings.downloads_dir, session_id)
    return _render("console/session.html", s=_row(session, settings, _admin_view()),
                   shots=views.screenshots(settings.downloads_dir, session_id),
                   operations=views.operations(session.recent_operations), files=shown, more_files=more,
                   active_tab="console.index")


@bp.post("/sessions/<session_id>/close")
def close_session(session_id: str) -> Response:
    session = _session(session_id)
    try:
        http.registry().close(scope_tenant(), session_id)
    except SessionNotFound:
        raise _not_found() from None
    log.info("%s closed from the console (tenant %s)", session.short_id, g.tenant)
    flash(f"Closed the session of {session.username} ({session.short_id}).")
    return redirect(url_for("console.index"), 303)


@bp.get("/jobs")
def jobs() -> str:
    owner = _admin_view()
    runtime = _jobs()
    active, recent, older = views.jobs_overview(runtime.service.list(scope_tenant()), owner=owner)
    schedules = views.schedule_rows(runtime.schedules.all(scope_tenant()), owner=owner)
    return _render("console/jobs.html", active=active, recent=recent, older=older, schedules=schedules,
                   owner=owner, figures=_figures(), active_tab="console.jobs")


@bp.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    service = _jobs().service
    before = service.get(scope_tenant(), job_id)["status"]
    job = service.cancel(scope_tenant(), job_id)  # a finished job is left as it is
    if before in FINISHED or job["status"] != CANCELLED:
        flash(f"Job {job_id} had already {job['status']}: nothing to cancel.")
    else:
        log.info("job %s cancelled from the console (tenant %s)", job_id, g.tenant)
        flash(f"Cancelled job {job_id} ({job['kind']}); an item in progress finishes first.")
    return redirect(url_for("console.jobs"), 303)


@bp.get("/jobs/<job_id>/result")
def job_result(job_id: str) -> Response:
    """A job's rows (JSON, or ``?format=xlsx``) under the cookie sign-in, as ``/jobs/<id>/result`` answers."""
    return jobs_api.result_response(job_id)


@bp.get("/webhooks")
def webhooks() -> str:
    owner = _admin_view()
    runtime = _webhooks()
    subscriptions = runtime.subscriptions.list(scope_tenant())
    unsettled = runtime.outbox.unsettled(scope_tenant())
    return _render("console/webhooks.html", owner=owner, figures=_figures(), active_tab="console.webhooks",
                   subscriptions=views.webhook_rows(subscriptions, unsettled, owner=owner),
                   deliveries=views.delivery_rows(unsettled, {s.id: s.url for s in subscriptions}, owner=owner))


@bp.post("/webhooks/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str) -> Response:
    runtime = _webhooks()
    delivery = runtime.outbox.retry_now(scope_tenant(), delivery_id)
    runtime.worker.wake()
    log.info("webhook delivery of event %s retried from the console (tenant %s)", delivery["event_id"], g.tenant)
    flash(f"Retrying the {delivery['event_type']} delivery now (attempt {delivery['attempts'] + 1}).")
    return redirect(url_for("console.webhooks"), 303)


@bp.get("/files/<path:subpath>")
def file(subpath: str) -> Response:
    """Screenshots and files for the signed-in tenant (``/files`` needs the key header)."""
    return files.send_session_file(FILES_PREFIX, subpath)


# --- helpers -----------------------------------------------------------------------------------------
def _render(template: str, **context: Any) -> str:
    settings = http.settings()
    return render_template(template, tabs=TABS, csrf_token=signin.csrf_token(), csrf_field=signin.CSRF_FIELD,
                           open_mode=not settings.auth_enabled, tenant=g.get("tenant"),
                           is_admin=g.get("is_admin"), **context)


def _admin_view() -> bool:
    """Show owners (tenant fingerprints) as ``/sessions`` does: for an admin key, not in open mode."""
    return bool(g.is_admin) and g.tenant != OPEN_TENANT


def _session(session_id: str) -> Any:
    session = http.registry().get(scope_tenant(), session_id)
    if session is None:
        raise _not_found()
    return session


def _not_found() -> NotFound:
    return NotFound("Session not found", details="It was closed, or it belongs to another API key.")


def _row(session: Any, settings: Any, owner: bool) -> dict[str, Any]:
    """A session's ``/sessions`` object plus what the console adds: short id, latest screenshot,
    how many times it was logged in again."""
    described = session.describe(settings.session_timeout, owner=owner)
    latest = views.screenshots(settings.downloads_dir, session.session_id, limit=1)
    return {**described, "short_id": session.short_id, "latest": latest[0] if latest else None,
            "relogins": max(0, int(described.get("login_count") or 1) - 1)}


def _figures() -> list[views.Figure]:
    """The health figures every page shows: what /health reports, read the same way."""
    stats = http.registry().stats()
    return views.health_figures(ops.session_figures(http.settings(), stats), ops.portal_check(stats))


def _jobs() -> Jobs:
    return current_app.extensions["emodal_jobs"]


def _webhooks() -> Webhooks:
    return current_app.extensions["emodal_webhooks"]
