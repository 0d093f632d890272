"""Container routes: ``/get_containers``, ``/get_container_timeline``, ``/get_booking_number``,
``/get_info_bulk`` (API_SPEC 4.3-4.6). Thin: request model -> :func:`execute` -> operation."""
from __future__ import annotations

from typing import Annotated, Any, ClassVar

from flask import Blueprint, Response
from pydantic import AliasChoices, Field

from emodal.api.business import execute
from emodal.api.openapi import register
from emodal.api.schemas import Bool, BusinessRequest, Check, Choice, Container, ContainerList, Int, Str
from emodal.config import Settings
from emodal.errors import InvalidContainerNumber, InvalidField, MissingFields
from emodal.operations.bulk import get_info_bulk
from emodal.operations.containers import list_containers
from emodal.operations.timeline import booking_number, container_timeline
from emodal.validation import container_number_problem

bp = Blueprint("containers", __name__)

_SESSION_EXAMPLE = {"success": True, "session_id": "session_1764012345_JpJZ6krlXaZW5RhloZfgWg",
                    "is_new_session": False, "screenshots": []}


class GetContainersRequest(BusinessRequest):
    infinite_scrolling: Bool = Field(
        True, description="Scroll until SCROLL_IDLE_CYCLES cycles add no rows; false: first load only.")
    target_count: Int(1, 100000) | None = Field(None, description="Stop once >= N rows are loaded.")
    target_container_id: Container | None = Field(None, description="Stop once this container is loaded.")
    return_url: Bool = Field(False, description="JSON with file_url instead of the xlsx body.")
    format: Annotated[Str, Choice(("xlsx", "json"))] = Field(
        "xlsx", description="json: JSON with the rows inline (the workbook is still written).")
    mode: Str | None = Field(None, description="Legacy, ignored.")


register("/get_containers", "POST", GetContainersRequest,
         "Scrape the Containers grid into containers_scraped_<ts>.xlsx (file body, URL or JSON rows).", {
    **_SESSION_EXAMPLE, "work_mode": "count",
    "file_url": "http://127.0.0.1:5010/files/session_…/containers_scraped_20251124_193000.xlsx",
    "file_path": "/files/session_…/containers_scraped_20251124_193000.xlsx",
    "file_name": "containers_scraped_20251124_193000.xlsx", "file_size": 48213, "total_containers": 52,
    "scroll_cycles": 3, "stopped_reason": "Target count 50 reached"}, file_response=True)


class ContainerRequest(BusinessRequest):
    """One container of the account (/get_container_timeline, /get_booking_number)."""

    container_id: Container = Field(validation_alias=AliasChoices("container_id", "container"),
                                    description="ISO 6346 container number of the account.")


register("/get_container_timeline", "POST", ContainerRequest,
         "Expand the container's row and read its milestones and Pregate state.", {
    **_SESSION_EXAMPLE, "container_id": "MSCU5165756", "passed_pregate": True,
    "pregate_status": "completed", "pregate_date": "10/08/2025 13:05",
    "timeline": [{"milestone": "Pregate", "date": "10/08/2025 13:05", "status": "completed"}],
    "milestone_count": 1, "detection_method": "dom_class_check"})
register("/get_booking_number", "POST", ContainerRequest, "Expand the container's row and read its Booking # field.", {
    **_SESSION_EXAMPLE, "container_id": "TRHU1866154", "booking_number": "RICFEM857500",
    "booking_source": "field"})


def _bulk_checks(params: dict[str, Any], settings: Settings) -> None:
    """API_SPEC 4.6 before login (see :func:`check_bulk_lists`), within BULK_MAX_CONTAINERS."""
    check_bulk_lists(params, settings, cap=settings.bulk_max_containers)


def check_bulk_lists(params: dict[str, Any], settings: Settings, *, cap: int | None) -> None:
    """One list non-empty, together within ``cap`` (``None``: no cap, an ``info_bulk`` job), and
    every offender of both lists named at once in ``details.invalid``."""
    lists = {name: params.get(name) or [] for name in ("import_containers", "export_containers")}
    if not any(lists.values()):
        raise MissingFields("At least one of 'import_containers' or 'export_containers' must be provided",
                            details={"missing": list(lists)})
    total = sum(len(items) for items in lists.values())
    if cap is not None and total > cap:
        raise InvalidField(f"Too many containers: {total} (max {cap})",
                           details={"field": "import_containers", "reason": "too_many", "max": cap})
    invalid = [{"field": name, "index": index, **problem}
               for name, items in lists.items() for index, raw in enumerate(items)
               if (problem := container_number_problem(
                   raw, validate_check_digit=settings.validate_check_digit)) is not None]
    if invalid:
        raise InvalidContainerNumber(
            "Invalid container number(s): " + ", ".join(str(item["value"]) for item in invalid),
            details={"invalid": invalid})


_BULK_LIMIT = "Both lists together: at most BULK_MAX_CONTAINERS (default 200)."


class GetInfoBulkRequest(BusinessRequest):
    import_containers: ContainerList = Field([], description=f"Timeline + Pregate of each. {_BULK_LIMIT}")
    export_containers: ContainerList = Field([], description=f"Booking number of each. {_BULK_LIMIT}")
    checks: ClassVar[tuple[Check, ...]] = (_bulk_checks,)


register("/get_info_bulk", "POST", GetInfoBulkRequest,
         "Timelines of import and booking numbers of export containers, in one browser.", {
    **_SESSION_EXAMPLE, "message": "Bulk processing completed: 1 successful, 0 failed",
    "results": {"import_results": [], "export_results": [
        {"container_id": "TRHU1866154", "success": True, "booking_number": "RICFEM857500"}],
        "summary": {"total_import": 0, "total_export": 1, "import_success": 0, "import_failed": 0,
                    "export_success": 1, "export_failed": 0}}})


@bp.post("/get_containers")
def get_containers() -> Response:
    return execute("/get_containers", GetContainersRequest, list_containers, bundle_kind="DEBUG")


@bp.post("/get_container_timeline")
def get_container_timeline() -> Response:
    return execute("/get_container_timeline", ContainerRequest, container_timeline, bundle_kind="PREGATE")


@bp.post("/get_booking_number")
def get_booking_number() -> Response:
    return execute("/get_booking_number", ContainerRequest, booking_number, bundle_kind="BOOKING")


@bp.post("/get_info_bulk")
def get_info_bulk_route() -> Response:
    return execute("/get_info_bulk", GetInfoBulkRequest, get_info_bulk, bundle_kind="BULK")
