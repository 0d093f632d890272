"""``/watches`` (issue 12 section 3): thin routes over ``emodal.watches``.

Parse (fields, containers, the appointment check with the same rules as a sweep's) -> watch store
-> render. A watch is the caller's own, like sessions and jobs: another tenant's is 404, an admin
key sees every watch in the list.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify
from pydantic import Field

from emodal.api import http
from emodal.api.auth import scope_tenant
from emodal.api.jobs import SweepCheck
from emodal.api.openapi import register
from emodal.api.schemas import ContainerList, RequestModel, Str, StrList, invalid_field, missing_fields_error, parse
from emodal.errors import NotFound, SessionNotFound
from emodal.timefmt import iso_utc
from emodal.watches import WatchHook
from emodal.watches.diff import APPOINTMENT_SLOTS, FIELDS

bp = Blueprint("watches", __name__)

ALL = "all"


class WatchRequest(RequestModel):
    session_id: Str = Field(description="The session whose refresh ticks read the watched data (keep-alive "
                                        "recommended).")
    containers: list[Str] | Str = Field(description="Container numbers, or \"all\" (every container of the grid).")
    fields: StrList = Field(description="Watched fields: " + ", ".join(FIELDS) + ".")
    check_appointments: dict[str, Any] | None = Field(
        None, description="Needed by appointment_slots: trucking_company, terminal, move_type, truck_plate "
                          "('*' = first), own_chassis, pin_code (as /check_appointments).")


class WatchContainers(RequestModel):
    containers: ContainerList = Field(description="Container numbers.")


def _hook() -> WatchHook:
    return current_app.extensions["emodal_watches"]


def _containers(value: Any) -> list[str] | str:
    """``"all"`` (any case) or the numbers, each checked as ISO 6346 (an empty list is already
    ``missing_fields``)."""
    if isinstance(value, str):
        if value.casefold() != ALL:
            raise invalid_field("containers", "must be a list of container numbers or 'all'", reason="format")
        return ALL
    return parse(WatchContainers, {"containers": value}, http.settings())["containers"]


def watch_request(body: dict[str, Any]) -> dict[str, Any]:
    """The validated request: known fields (each once), containers, the check when slots are watched."""
    settings = http.settings()
    request = parse(WatchRequest, body, settings)
    unknown = [name for name in request["fields"] if name not in FIELDS]
    if unknown:
        raise invalid_field("fields", f"unknown field {unknown[0]!r}; allowed: " + ", ".join(FIELDS),
                            reason="not_allowed", allowed=list(FIELDS))
    request["fields"] = [name for name in FIELDS if name in request["fields"]]
    request["containers"] = _containers(request["containers"])
    check = request["check_appointments"]
    if APPOINTMENT_SLOTS in request["fields"]:
        if check is None:
            error = missing_fields_error(["check_appointments"])
            error.message += " (appointment_slots runs an appointment check)"
            raise error
        if not isinstance(check, dict):
            raise invalid_field("check_appointments", "must be an object", reason="type")
        request["check_appointments"] = parse(SweepCheck, check, settings)
    else:
        request["check_appointments"] = None
    if http.registry().get(g.tenant, request["session_id"]) is None:
        raise SessionNotFound()
    return request


def watch_view(watch: dict[str, Any]) -> dict[str, Any]:
    return {"watch_id": watch["id"], "fields": watch["fields"], "containers": watch["containers"],
            "created_at": iso_utc(watch["created_at"]), "last_checked_at": iso_utc(watch["last_checked_at"]),
            "last_error": watch["last_error"], "events_url": f"{watch['base_url']}/watches/{watch['id']}/events"}


def event_view(event: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event["event_id"], "type": event["type"], "created_at": iso_utc(event["created_at"]),
            **event["data"]}


def _owned(watch_id: str) -> dict[str, Any]:
    watch = _hook().store.get(watch_id)
    tenant = scope_tenant()
    if watch is None or (tenant is not None and watch["tenant"] != tenant):
        raise NotFound("Watch not found", details={"watch_id": watch_id})
    return watch


@bp.post("/watches")
def create_watch() -> Response:
    request = watch_request(http.json_body())
    watch = _hook().store.create(g.tenant, request["session_id"], request["fields"], request["containers"],
                                 request["check_appointments"], base_url=http.base_url())
    response = jsonify({"success": True, **watch_view(watch)})
    response.status_code = 201
    return response


@bp.get("/watches")
def list_watches() -> Response:
    tenant = scope_tenant()
    watches = [watch_view(w) for w in reversed(_hook().store.all()) if tenant is None or w["tenant"] == tenant]
    return jsonify({"success": True, "count": len(watches), "watches": watches})


@bp.get("/watches/<watch_id>")
def get_watch(watch_id: str) -> Response:
    return jsonify({"success": True, **watch_view(_owned(watch_id))})


@bp.get("/watches/<watch_id>/events")
def watch_events(watch_id: str) -> Response:
    watch = _owned(watch_id)
    events = [event_view(e) for e in _hook().store.events(watch["id"])]
    return jsonify({"success": True, "watch_id": watch["id"], "count": len(events), "events": events})


@bp.delete("/watches/<watch_id>")
def delete_watch(watch_id: str) -> Response:
    _hook().store.delete(_owned(watch_id)["id"])
    return jsonify({"success": True, "message": f"Watch {watch_id} deleted"})


# --- /openapi.json ----------------------------------------------------------------------------------------
_WATCH = {"success": True, "watch_id": "watch_6925a1c0f3a9b2c4d5e6f708", "fields": ["lfd", "holds"],
          "containers": ["TGBU2000026"], "created_at": "2025-11-24T19:25:45Z",
          "last_checked_at": "2025-11-24T19:35:47Z", "last_error": None,
          "events_url": "http://127.0.0.1:5010/watches/watch_6925a1c0f3a9b2c4d5e6f708/events"}
_EVENT = {"event_id": "evt_019ab7c5e1f3a1b2c3d4e5f6", "type": "container.changed", "created_at": "2025-11-24T19:35:47Z",
          "watch_id": "watch_6925a1c0f3a9b2c4d5e6f708", "container": "TGBU2000026", "not_found": False,
          "changes": {"lfd": {"before": "11/26/2025", "after": "11/28/2025"}}}
register("/watches", "POST", WatchRequest, "Watch containers' fields on a session's refresh ticks; changes become "
         "events (container.changed, container.lfd_changed, container.available, appointment.slots_opened).",
         _WATCH, status=201)
register("/watches", "GET", None, "The caller's watches, newest first.", {"success": True, "count": 1,
                                                                          "watches": [_WATCH]})
register("/watches/{watch_id}", "GET", None, "One of the caller's watches.", _WATCH)
register("/watches/{watch_id}/events", "GET", None, "The watch's events with before/after values, oldest first.",
         {"success": True, "watch_id": _WATCH["watch_id"], "count": 1, "events": [_EVENT]})
register("/watches/{watch_id}", "DELETE", None, "Delete a watch and its events.",
         {"success": True, "message": "Watch watch_6925a1c0f3a9b2c4d5e6f708 deleted"})

__all__ = ["bp", "event_view", "watch_request", "watch_view"]
