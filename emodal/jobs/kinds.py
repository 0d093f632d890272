"""The job kinds: how each one plans its items and turns an item's outcome into result rows.

A kind is data plus pure functions; the browser work is an operation of
``emodal/operations/job_items.py`` (or an existing one) that the worker runs through the operation
runner once per item. Params arrive validated by the HTTP layer (``emodal/api/jobs.py``).

| kind | items | rows per item |
|---|---|---|
| ``containers_sweep`` | the grid rows kept by the filters (read once, at planning) | one per container |
| ``info_bulk`` | ``import_containers`` then ``export_containers``, duplicates once, no cap | one (the ``/get_info_bulk`` item) |
| ``check_appointments_bulk`` | ``checks``, in order | one per check |
| ``my_appointments`` | one | one per appointment row |
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from emodal.errors import ApiError
from emodal.operations.bulk import EXPORT_FAILURE, IMPORT_FAILURE, failed_item, unique
from emodal.operations.containers import read_grid
from emodal.operations.job_items import info_container, slot_offer, sweep_container
from emodal.operations.my_appointments import get_appointments
from emodal.operations.runner import Operation
from emodal.timefmt import iso_utc

#: ``run(operation, params) -> data``: an operation under the job's session (planning only).
Run = Callable[[Operation, dict[str, Any]], Mapping[str, Any]]
_DATE = re.compile(r"\b(\d{2})/(\d{2})/(\d{4})\b")
#: Grid texts meaning "nothing here" (A7.3).
_EMPTY = ("", "N/A")


@dataclass(frozen=True)
class Kind:
    """``plan(params, run) -> items`` (JSON dicts, stored in the job); ``label(item)`` for
    ``progress.current``; ``item_params(params, item)`` the params of the item's ``operation``;
    ``rows(params, item, data, now)`` and ``failed(params, item, error, now)`` its result rows."""

    name: str
    plan: Callable[[dict[str, Any], Run], list[dict[str, Any]]]
    label: Callable[[dict[str, Any]], str]
    item_params: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    operation: Operation
    rows: Callable[[dict[str, Any], dict[str, Any], Mapping[str, Any], datetime], list[dict[str, Any]]]
    failed: Callable[[dict[str, Any], dict[str, Any], ApiError, datetime], list[dict[str, Any]]]


def _container_label(item: dict[str, Any]) -> str:
    return str(item["container"])


# --- containers_sweep ------------------------------------------------------------------------------
def keep(row: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Does a grid row (``format: json`` keys) pass the sweep's filters?

    ``holds``: ``none`` = the Holds column says NO, ``any`` = YES; ``pregate_ticket``: ``none`` =
    no ticket (N/A), ``any`` = a ticket (another company's masked one counts); ``trade_type``:
    equal, any case; ``status_contains``: a substring of Status, any case.
    """
    holds = str(row.get("holds", "")).strip().upper()
    if params.get("holds") and holds != ("NO" if params["holds"] == "none" else "YES"):
        return False
    has_ticket = str(row.get("pregate_ticket", "")).strip().upper() not in _EMPTY
    if params.get("pregate_ticket") and has_ticket != (params["pregate_ticket"] == "any"):
        return False
    if params.get("trade_type") and str(row.get("trade_type", "")).casefold() != params["trade_type"].casefold():
        return False
    status = params.get("status_contains")
    return not status or status.casefold() in str(row.get("status", "")).casefold()


def last_free_day(lfd_gtd: str) -> date | None:
    """The LFD of an ``LFD/GTD`` cell (``MM/DD/YYYY - MM/DD/YYYY``: the first date), else None."""
    found = _DATE.search(lfd_gtd or "")
    if found is None:
        return None
    month, day, year = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _plan_sweep(params: dict[str, Any], run: Run) -> list[dict[str, Any]]:
    rows = run(read_grid, {})["containers"]
    kept = [row for row in rows if keep(row, params)]
    if params.get("limit"):
        kept = kept[:params["limit"]]
    return [{"container": row["container_number"], "trade_type": row.get("trade_type"), "status": row.get("status"),
             "holds": row.get("holds"), "lfd_gtd": row.get("lfd_gtd")} for row in kept]


def _sweep_params(params: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    check = params.get("check_appointments") or {}
    export = str(item.get("trade_type") or "").casefold() == "export"
    return {**check, "container_id": item["container"], "container_type": "export" if export else "import",
            "read_timeline": params.get("timeline", True), "read_booking": params.get("booking", True),
            "check": bool(check)}


def _sweep_rows(params: dict[str, Any], item: dict[str, Any], data: Mapping[str, Any],
                now: datetime) -> list[dict[str, Any]]:
    lfd = last_free_day(item.get("lfd_gtd") or "")
    return [{"container": item["container"], "trade_type": item.get("trade_type"), "status": item.get("status"),
             "holds": item.get("holds"), "lfd": lfd.strftime("%m/%d/%Y") if lfd else None,
             "days_to_lfd": (lfd - now.date()).days if lfd else None, "pregate": data.get("pregate"),
             "booking": data.get("booking"), "slots_count": data.get("slots_count"),
             "first_slot": data.get("first_slot"), "screenshot_url": data.get("screenshot_url"),
             "checked_at": iso_utc(now), "error_type": data.get("error_type"), "error": data.get("error")}]


def _sweep_failed(params: dict[str, Any], item: dict[str, Any], error: ApiError, now: datetime) -> list[dict[str, Any]]:
    return _sweep_rows(params, item, {"error_type": error.error_type, "error": error.message}, now)


# --- info_bulk -------------------------------------------------------------------------------------
def _plan_info(params: dict[str, Any], run: Run) -> list[dict[str, Any]]:
    return ([{"container": c, "trade_type": "import"} for c in unique(params.get("import_containers"))]
            + [{"container": c, "trade_type": "export"} for c in unique(params.get("export_containers"))])


def _info_params(params: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    return {"container_id": item["container"], "container_type": item["trade_type"]}


def _info_rows(params: dict[str, Any], item: dict[str, Any], data: Mapping[str, Any],
               now: datetime) -> list[dict[str, Any]]:
    return [{"container_id": item["container"], "trade_type": item["trade_type"], "success": True, **data,
             "checked_at": iso_utc(now)}]


def _info_failed(params: dict[str, Any], item: dict[str, Any], error: ApiError, now: datetime) -> list[dict[str, Any]]:
    failure = EXPORT_FAILURE if item["trade_type"] == "export" else IMPORT_FAILURE
    row = failed_item(item["container"], failure, error.error_type, error.message)
    return [{"container_id": row.pop("container_id"), "trade_type": item["trade_type"], **row,
             "checked_at": iso_utc(now)}]


# --- check_appointments_bulk -----------------------------------------------------------------------
def _plan_checks(params: dict[str, Any], run: Run) -> list[dict[str, Any]]:
    return [{"index": i, "container": check.get("container_id") or check.get("booking_number") or f"check {i + 1}"}
            for i, check in enumerate(params["checks"])]


def _check_rows(params: dict[str, Any], item: dict[str, Any], data: Mapping[str, Any],
                now: datetime) -> list[dict[str, Any]]:
    check = params["checks"][item["index"]]
    return [{"index": item["index"], "container_type": check.get("container_type"),
             "container_id": check.get("container_id"), "booking_number": check.get("booking_number"),
             "terminal": check.get("terminal"), "move_type": check.get("move_type"),
             "slots_count": data.get("slots_count"), "first_slot": data.get("first_slot"),
             "available": data.get("available"), "portal_message": data.get("portal_message"),
             "screenshot_url": data.get("screenshot_url"), "checked_at": iso_utc(now),
             "error_type": data.get("error_type"), "error": data.get("error")}]


def _check_failed(params: dict[str, Any], item: dict[str, Any], error: ApiError, now: datetime) -> list[dict[str, Any]]:
    return _check_rows(params, item, {"error_type": error.error_type, "error": error.message}, now)


# --- my_appointments -------------------------------------------------------------------------------
def _appointments_rows(params: dict[str, Any], item: dict[str, Any], data: Mapping[str, Any],
                       now: datetime) -> list[dict[str, Any]]:
    return list(data.get("appointments") or [])


def _appointments_failed(params: dict[str, Any], item: dict[str, Any], error: ApiError,
                         now: datetime) -> list[dict[str, Any]]:
    return [{"error_type": error.error_type, "error": error.message, "checked_at": iso_utc(now)}]


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("containers_sweep", _plan_sweep, _container_label, _sweep_params, sweep_container, _sweep_rows,
         _sweep_failed),
    Kind("info_bulk", _plan_info, _container_label, _info_params, info_container, _info_rows, _info_failed),
    Kind("check_appointments_bulk", _plan_checks, _container_label, lambda p, item: dict(p["checks"][item["index"]]),
         slot_offer, _check_rows, _check_failed),
    Kind("my_appointments", lambda params, run: [{"container": "My Appointments"}], _container_label,
         lambda p, item: {**p, "format": "json"}, get_appointments, _appointments_rows, _appointments_failed),
)}

__all__ = ["KINDS", "Kind", "Run", "keep", "last_free_day"]
