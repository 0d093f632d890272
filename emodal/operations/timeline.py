"""``/get_container_timeline`` and ``/get_booking_number`` (API_SPEC 4.4, 4.5).

Both scroll the Containers grid to one row, expand it, read its detail panel and collapse it
again. The per-container readers (:func:`read_container_timeline`, :func:`read_booking_number`)
take an open :class:`ContainersPage`, so ``/get_info_bulk`` runs many of them on one page load.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from emodal.errors import PortalTimeout
from emodal.operations.containers import open_containers_page
from emodal.operations.context import OperationContext
from emodal.portal.containers import ContainersPage
from emodal.portal.timeline import Milestone

NO_DETAILS_MESSAGE = "The portal shows no details for this container"
NO_BOOKING_MESSAGE = "Booking number not available"
#: How the status was decided (API_SPEC 4.4); only the DOM class check is implemented.
DOM_CLASS_CHECK = "dom_class_check"
#: The milestone whose name is exactly this one decides ``passed_pregate`` (A7.8).
PREGATE = "Pregate"


def timeline_body(milestones: list[Milestone]) -> dict[str, Any]:
    """The timeline part of the /get_container_timeline body: milestones newest first (order
    untouched), ``completed``/``pending``, ``N/A`` for a missing date, and the Pregate verdict."""
    timeline = [{"milestone": m.name, "date": m.date or "N/A", "status": "completed" if m.completed else "pending"}
                for m in milestones]
    pregate = next((m for m in timeline if m["milestone"] == PREGATE), None)
    return {
        "passed_pregate": None if pregate is None else pregate["status"] == "completed",
        "pregate_status": None if pregate is None else pregate["status"],
        "pregate_date": None if pregate is None else pregate["date"],
        "timeline": timeline,
        "milestone_count": len(timeline),
        "detection_method": DOM_CLASS_CHECK,
    }


@contextlib.contextmanager
def expanded_row(ctx: OperationContext, page: ContainersPage, container_id: str) -> Iterator[bool]:
    """Expand the container's row for the ``with`` body, then collapse it again.

    Yields False for a row without an arrow (unknown container, A7.3), which shows no details.
    Collapsing is tidying up for the next operation on this browser: if it fails, the answer
    already read stays valid, so the failure is only logged.
    """
    with ctx.step(f"expand_{container_id}"):
        expanded = page.expand(container_id)
    ctx.screenshot("row_expanded" if expanded else "row_not_expandable", container=container_id)
    try:
        yield expanded
    finally:
        if expanded:
            try:
                page.collapse(container_id)
            except PortalTimeout as exc:
                ctx.log.warning("row %s did not collapse: %s", container_id, exc.message)


def read_container_timeline(ctx: OperationContext, page: ContainersPage, container_id: str) -> dict[str, Any]:
    """The timeline part of a 4.4 answer for one container on an open page."""
    with expanded_row(ctx, page, container_id) as expanded:
        if not expanded:
            return {**timeline_body([]), "message": NO_DETAILS_MESSAGE}
        body = timeline_body(page.timeline(container_id))
    ctx.log.info("timeline of %s: %d milestones, pregate %s", container_id,
                 body["milestone_count"], body["pregate_status"] or "absent")
    return body


def read_booking_number(ctx: OperationContext, page: ContainersPage, container_id: str) -> dict[str, Any]:
    """``booking_number`` and ``booking_source`` (plus ``message`` when absent) for one container."""
    with expanded_row(ctx, page, container_id) as expanded:
        number, source = page.booking_number(container_id) if expanded else (None, None)
    ctx.log.info("booking number of %s: %s (source %s)", container_id, number, source)
    body: dict[str, Any] = {"booking_number": number, "booking_source": source}
    if number is None:
        body["message"] = NO_BOOKING_MESSAGE
    return body


def _single(reader: Callable[[OperationContext, ContainersPage, str], dict[str, Any]]
            ) -> Callable[[OperationContext], dict[str, Any]]:
    """An operation running ``reader`` for the request's ``container_id`` on a fresh page load."""

    def operation(ctx: OperationContext) -> dict[str, Any]:
        container_id = ctx.params["container_id"]
        page = open_containers_page(ctx)
        return {"container_id": container_id, **reader(ctx, page, container_id)}

    operation.__doc__ = f"Operation of one container: {reader.__doc__}"
    return operation


#: ``POST /get_container_timeline`` (API_SPEC 4.4).
container_timeline = _single(read_container_timeline)
#: ``POST /get_booking_number`` (API_SPEC 4.5).
booking_number = _single(read_booking_number)

__all__ = ["DOM_CLASS_CHECK", "booking_number", "container_timeline", "expanded_row",
           "read_booking_number", "read_container_timeline", "timeline_body"]
