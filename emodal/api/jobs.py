"""``/jobs`` and ``/schedules`` (issue 12 sections 1-2): thin routes over ``emodal.jobs``.

Parse (the job request, then the kind's params with that kind's model, so a bad field is a 400 in
the JSON envelope before anything is stored) -> jobs service or schedule store -> render. Jobs
and schedules are the caller's own, like sessions: another tenant's is 404, an admin key sees all.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import Field, create_model

from emodal.api import http
from emodal.api.appointments import CheckAppointmentsRequest, GetAppointmentsRequest
from emodal.api.auth import scope_tenant
from emodal.api.containers import check_bulk_lists
from emodal.api.openapi import register
from emodal.api.schemas import (Bool, BusinessRequest, Check, Choice, ContainerList, Int, RawStr, RequestModel,
                                Secret, Str, invalid_field, missing_fields_error, parse)
from emodal.errors import ApiError, InvalidField, SessionNotFound
from emodal.jobs import Jobs, JobSpec
from emodal.jobs.kinds import KINDS
from emodal.jobs.results import columns, result_workbook
from emodal.jobs.store import FINISHED
from emodal.jobs.timing import ScheduleError, parse_cron, parse_every, parse_timezone
from emodal.sessions.credentials import Credentials
from emodal.timefmt import iso_utc

bp = Blueprint("jobs", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _subset(name: str, model: type[RequestModel], names: tuple[str, ...], checks: tuple[Check, ...] = ()
            ) -> type[RequestModel]:
    """A model of some fields of ``model`` (same kinds, markers and descriptions)."""
    fields = model.model_fields
    return create_model(name, __base__=RequestModel, checks=(ClassVar[tuple[Check, ...]], checks),
                        **{n: (fields[n].annotation, fields[n]) for n in names})


# --- request models -------------------------------------------------------------------------------
#: The wizard fields of a sweep's appointment check; the container comes from each kept row.
SweepCheck = _subset("SweepCheck", CheckAppointmentsRequest,
                     ("trucking_company", "terminal", "move_type", "truck_plate", "own_chassis", "pin_code",
                      "seal_value"), CheckAppointmentsRequest.checks)
#: One check of ``check_appointments_bulk``: a ``/check_appointments`` body without the session
#: fields (the job's session runs it) and without resuming a wizard.
BulkCheck = _subset("BulkCheck", CheckAppointmentsRequest,
                    tuple(n for n in CheckAppointmentsRequest.model_fields
                          if n not in BusinessRequest.model_fields and n != "appointment_session_id"),
                    CheckAppointmentsRequest.checks)
MyAppointmentsParams = _subset("MyAppointmentsParams", GetAppointmentsRequest,
                               ("infinite_scrolling", "target_count", "target_appointment_id"))


class SweepParams(RequestModel):
    holds: Annotated[Str, Choice(("none", "any"))] | None = Field(None, description="none: Holds NO; any: YES.")
    pregate_ticket: Annotated[Str, Choice(("none", "any"))] | None = Field(
        None, description="none: no Pregate Ticket#; any: a ticket (a masked one too).")
    trade_type: Annotated[Str, Choice(("import", "export"))] | None = Field(None, description="Trade Type.")
    status_contains: Str | None = Field(None, description="Substring of Status, any case.")
    limit: Int(1, 100000) | None = Field(None, description="At most this many kept containers (grid order).")
    timeline: Bool = Field(True, description="Imports: read the timeline (pregate).")
    booking: Bool = Field(True, description="Exports: read the booking number.")
    check_appointments: dict[str, Any] | None = Field(
        None, description="Appointment check per kept container: trucking_company, terminal, move_type, "
                          "truck_plate ('*' = first), own_chassis, pin_code (as /check_appointments).")


class InfoBulkParams(RequestModel):
    import_containers: ContainerList = Field([], description="Timeline + Pregate of each (no cap).")
    export_containers: ContainerList = Field([], description="Booking number of each (no cap).")
    checks: ClassVar[tuple[Check, ...]] = (lambda params, settings: check_bulk_lists(params, settings, cap=None),)


class ChecksParams(RequestModel):
    """``checks``: a list of ``/check_appointments`` bodies without the session fields; read by
    :func:`job_spec` item by item (a field of that name would hide ``RequestModel.checks``)."""


class CredentialsBody(RequestModel):
    username: Str = Field(description="E-Modal username.")
    password: Annotated[RawStr, Secret()] = Field(description="E-Modal password (sealed in the job).")
    captcha_api_key: Annotated[Str, Secret()] = Field(description="2captcha key (sealed in the job).")


class JobRequest(RequestModel):
    kind: Annotated[Str, Choice(tuple(KINDS))] = Field(description="The job kind.")
    session_id: Str | None = Field(None, description="The session to run under (or credentials).")
    credentials: dict[str, Any] | None = Field(
        None, description="{username, password, captcha_api_key}: the session is found or created per item.")
    params: dict[str, Any] | None = Field(
        None, description="Kind params (docs/JOBS_AND_WEBHOOKS.md): containers_sweep {holds, pregate_ticket, "
                          "trade_type, status_contains, limit, timeline, booking, check_appointments}; info_bulk "
                          "{import_containers, export_containers}; check_appointments_bulk {checks: [...]}; "
                          "my_appointments {infinite_scrolling, target_count, target_appointment_id}.")


class ScheduleRequest(RequestModel):
    job: dict[str, Any] = Field(description="A POST /jobs body.")
    every: Str | None = Field(None, description="Interval: 30m, 2h, 1h30m, 1d (or cron).")
    cron: Str | None = Field(None, description="5-field cron text, e.g. '0 6-18/2 * * 1-5' (or every).")
    timezone: Str | None = Field(None, description="IANA zone of the cron text (default DISPLAY_TIMEZONE).")


PARAMS: dict[str, type[RequestModel]] = {"containers_sweep": SweepParams, "info_bulk": InfoBulkParams,
                                         "check_appointments_bulk": ChecksParams,
                                         "my_appointments": MyAppointmentsParams}


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_field(name, "must be an object", reason="type")
    return value


def job_spec(body: dict[str, Any]) -> JobSpec:
    """A validated job request: kind, params checked by the kind's model, the session."""
    settings = http.settings()
    fields = parse(JobRequest, body, settings)
    kind = fields["kind"]
    raw = _object(fields, "params")
    params = parse(PARAMS[kind], raw, settings)
    if kind == "containers_sweep" and params["check_appointments"] is not None:
        params["check_appointments"] = parse(SweepCheck, params["check_appointments"], settings)
    if kind == "check_appointments_bulk":
        params["checks"] = _checks(raw.get("checks"), settings)
    credentials = None
    if fields["credentials"] is not None:
        given = parse(CredentialsBody, _object(fields, "credentials"), settings)
        credentials = Credentials(given["username"], given["password"], given["captcha_api_key"])
    if fields["session_id"] is None and credentials is None:
        error = missing_fields_error(["session_id"])
        error.message += " (or credentials)"
        raise error
    if credentials is None and http.registry().get(g.tenant, fields["session_id"]) is None:
        raise SessionNotFound()
    return JobSpec(kind, params, fields["session_id"], credentials)


def _checks(items: Any, settings: Any) -> list[dict[str, Any]]:
    """Each check validated as a ``/check_appointments`` body; an error names its ``index``."""
    if not items:
        raise missing_fields_error(["checks"])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise invalid_field("checks", "must be an array of objects", reason="type")
    checked = []
    for index, item in enumerate(items):
        try:
            checked.append(parse(BulkCheck, item, settings))
        except ApiError as exc:
            exc.details = {**(exc.details if isinstance(exc.details, dict) else {}), "index": index}
            raise
    return checked


def _jobs() -> Jobs:
    return current_app.extensions["emodal_jobs"]


# --- rendering ----------------------------------------------------------------------------------------
def job_view(job: dict[str, Any]) -> dict[str, Any]:
    base = f"{job['base_url']}/jobs/{job['id']}"
    return {"job_id": job["id"], "kind": job["kind"], "status": job["status"], "progress": job["progress"],
            "created_at": iso_utc(job["created_at"]), "started_at": iso_utc(job["started_at"]),
            "finished_at": iso_utc(job["finished_at"]), "status_url": base, "result_url": f"{base}/result",
            "error": job["error"], "schedule_id": job.get("schedule_id")}


def schedule_view(schedule: dict[str, Any]) -> dict[str, Any]:
    return {"schedule_id": schedule["id"], "kind": schedule["kind"], "every": schedule["every"],
            "cron": schedule["cron"], "timezone": schedule["timezone"], "paused": schedule["paused"],
            "paused_reason": schedule["paused_reason"], "next_run": iso_utc(schedule["next_run"]),
            "last_run_at": iso_utc(schedule["last_run_at"]), "last_job_id": schedule["last_job_id"],
            "runs": schedule["runs"], "created_at": iso_utc(schedule["created_at"])}


# --- jobs -----------------------------------------------------------------------------------------------
@bp.post("/jobs")
def create_job() -> Response:
    job = _jobs().service.create(g.tenant, job_spec(http.json_body()), base_url=http.base_url())
    view = job_view(job)
    response = jsonify({"success": True, **view})
    response.status_code = 202
    response.headers["Location"] = view["status_url"]
    return response


@bp.get("/jobs")
def list_jobs() -> Response:
    jobs = [job_view(j) for j in _jobs().service.list(scope_tenant())]
    return jsonify({"success": True, "count": len(jobs), "jobs": jobs})


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    return jsonify({"success": True, **job_view(_jobs().service.get(scope_tenant(), job_id))})


@bp.get("/jobs/<job_id>/result")
def job_result(job_id: str) -> Response:
    return result_response(job_id)


def result_response(job_id: str) -> Response:
    """The job's rows so far as JSON or, with ``?format=xlsx``, a workbook; the operator console
    serves the same answer under its cookie sign-in (a browser link cannot send the key header)."""
    wanted = request.args.get("format", "json").lower()
    if wanted not in ("json", "xlsx"):
        raise invalid_field("format", "must be 'json' or 'xlsx'", reason="not_allowed", allowed=["json", "xlsx"])
    job, rows = _jobs().service.result(scope_tenant(), job_id)
    if wanted == "xlsx":
        response = current_app.response_class(result_workbook(rows), mimetype=XLSX)
        response.headers["Content-Disposition"] = f'attachment; filename="{job_id}_result.xlsx"'
        response.headers["X-Total-Rows"] = str(len(rows))
        return response
    return jsonify({"success": True, **job_view(job), "complete": job["status"] in FINISHED,
                    "columns": columns(rows), "count": len(rows), "rows": rows})


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    job = _jobs().service.cancel(scope_tenant(), job_id)
    return jsonify({"success": True, **job_view(job),
                    "message": f"Job {job_id} {job['status']}" + (
                        "; a running item finishes first" if job["status"] == "cancelled" else "")})


# --- schedules ------------------------------------------------------------------------------------------
@bp.post("/schedules")
def create_schedule() -> Response:
    settings = http.settings()
    fields = parse(ScheduleRequest, http.json_body(), settings)
    spec = job_spec(fields["job"])
    if (fields["every"] is None) == (fields["cron"] is None):
        raise InvalidField("Give exactly one of every or cron", details={"field": "every", "reason": "one_of"})
    timezone = fields["timezone"] or settings.display_timezone
    try:
        every_s = parse_every(fields["every"]) if fields["every"] is not None else None
        cron = parse_cron(fields["cron"]) if fields["cron"] is not None else None
        parse_timezone(timezone)
    except ScheduleError as exc:
        raise InvalidField(str(exc), details={"field": exc.field, "reason": "format"}) from None
    jobs = _jobs()
    schedule = jobs.schedules.create(g.tenant, spec, every=fields["every"], every_s=every_s, cron=cron,
                                     timezone=timezone, base_url=http.base_url())
    jobs.scheduler.wake()
    response = jsonify({"success": True, **schedule_view(schedule)})
    response.status_code = 201
    return response


@bp.get("/schedules")
def list_schedules() -> Response:
    schedules = [schedule_view(s) for s in _jobs().schedules.all(scope_tenant())]
    return jsonify({"success": True, "count": len(schedules), "schedules": schedules})


@bp.get("/schedules/<schedule_id>")
def get_schedule(schedule_id: str) -> Response:
    return jsonify({"success": True, **schedule_view(_jobs().schedules.get(scope_tenant(), schedule_id))})


@bp.post("/schedules/<schedule_id>/pause")
def pause_schedule(schedule_id: str) -> Response:
    schedule = _jobs().schedules.set_paused(scope_tenant(), schedule_id, True, "paused_by_client")
    return jsonify({"success": True, **schedule_view(schedule)})


@bp.post("/schedules/<schedule_id>/resume")
def resume_schedule(schedule_id: str) -> Response:
    jobs = _jobs()
    schedule = jobs.schedules.set_paused(scope_tenant(), schedule_id, False)
    jobs.scheduler.wake()
    return jsonify({"success": True, **schedule_view(schedule)})


@bp.delete("/schedules/<schedule_id>")
def delete_schedule(schedule_id: str) -> Response:
    _jobs().schedules.delete(scope_tenant(), schedule_id)
    return jsonify({"success": True, "message": f"Schedule {schedule_id} deleted"})


# --- /openapi.json ----------------------------------------------------------------------------------------
_JOB_EXAMPLE = {"success": True, "job_id": "job_6925a1c0f3a9b2c4d5e6f708", "kind": "containers_sweep",
                "status": "running", "progress": {"done": 3, "total": 8, "current": "EISU8000080"},
                "created_at": "2025-11-24T19:25:45Z", "started_at": "2025-11-24T19:25:46Z", "finished_at": None,
                "status_url": "http://127.0.0.1:5010/jobs/job_6925a1c0f3a9b2c4d5e6f708",
                "result_url": "http://127.0.0.1:5010/jobs/job_6925a1c0f3a9b2c4d5e6f708/result",
                "error": None, "schedule_id": None}
_SCHEDULE_EXAMPLE = {"success": True, "schedule_id": "sched_6925a1c0a1b2c3d4e5f60718", "kind": "containers_sweep",
                     "every": "2h", "cron": None, "timezone": "America/Los_Angeles", "paused": False,
                     "paused_reason": None, "next_run": "2025-11-24T21:25:45Z", "last_run_at": None,
                     "last_job_id": None, "runs": 0, "created_at": "2025-11-24T19:25:45Z"}
register("/jobs", "POST", JobRequest, "Queue a job (containers_sweep, info_bulk, check_appointments_bulk, "
         "my_appointments) under a session or credentials; 202 with its status_url.",
         {**_JOB_EXAMPLE, "status": "queued"}, status=202)
register("/jobs", "GET", None, "The caller's jobs, newest first.", {"success": True, "count": 1, "jobs": [_JOB_EXAMPLE]})
register("/jobs/{job_id}", "GET", None, "Status and progress of one of the caller's jobs.", _JOB_EXAMPLE)
register("/jobs/{job_id}/result", "GET", None, "Result rows so far (JSON); ?format=xlsx: a workbook.",
         {**_JOB_EXAMPLE, "status": "succeeded", "complete": True, "columns": ["container", "status"], "count": 1,
          "rows": [{"container": "EISU8000080", "status": "IN YARD"}]}, file_response=True)
register("/jobs/{job_id}", "DELETE", None, "Cancel a job; a running item finishes first.",
         {**_JOB_EXAMPLE, "status": "cancelled", "message": "Job job_6925a1c0f3a9b2c4d5e6f708 cancelled"})
register("/schedules", "POST", ScheduleRequest, "Run a job every interval or on a cron text in a time zone.",
         _SCHEDULE_EXAMPLE, status=201)
register("/schedules", "GET", None, "The caller's schedules.", {"success": True, "count": 1,
                                                                "schedules": [_SCHEDULE_EXAMPLE]})
register("/schedules/{schedule_id}", "GET", None, "One of the caller's schedules.", _SCHEDULE_EXAMPLE)
register("/schedules/{schedule_id}/pause", "POST", None, "Pause a schedule.",
         {**_SCHEDULE_EXAMPLE, "paused": True, "paused_reason": "paused_by_client"})
register("/schedules/{schedule_id}/resume", "POST", None, "Resume a schedule (next run counted from now).",
         _SCHEDULE_EXAMPLE)
register("/schedules/{schedule_id}", "DELETE", None, "Delete a schedule (its jobs stay).",
         {"success": True, "message": "Schedule sched_6925a1c0a1b2c3d4e5f60718 deleted"})

__all__ = ["PARAMS", "bp", "job_spec", "job_view", "result_response", "schedule_view"]
