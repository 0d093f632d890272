"""``/get_container_timeline`` and ``/get_booking_number`` (API_SPEC 4.4, 4.5).

Both scroll the Containers grid to one row, expand it, read its detail panel and collapse it
again. The per-container readers (:func:`read_container_timeline`, :func:`read_booking_number`)
take an open :class:`ContainersPage`, so ``/get_info_bulk`` runs many of them on one page load.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import PortalTimeout
from emodal.operations.containers import open_containers_page
from emodal.operations.context import OperationContext
from emodal.portal.containers import ContainersPage
from emodal.portal.timeline import Timeline, read_timeline

NO_DETAILS_MESSAGE = "The portal shows no details for this container"
NO_BOOKING_MESSAGE = "Booking number not available"


@contextlib.contextmanager
def expanded_row(ctx: OperationContext, page: ContainersPage, container_id: str) -> Iterator[WebElement | None]:
    """Expand the container's row for the ``with`` body, then collapse it again.

    Yields the detail row, or ``None`` for a row without an arrow (unknown container, A7.3).
    Collapsing is tidying up for the next operation on this browser: if it fails, the answer
    already read stays valid, so the failure is only logged.
    """
    with ctx.step(f"expand_{container_id}"):
        detail = page.expand(container_id)
    ctx.screenshot("row_expanded" if detail is not None else "row_not_expandable", container=container_id)
    try:
        yield detail
    finally:
        if detail is not None:
            try:
                page.collapse(container_id)
            except PortalTimeout as exc:
                ctx.log.warning("row %s did not collapse: %s", container_id, exc.message)


def read_container_timeline(ctx: OperationContext, page: ContainersPage, container_id: str) -> dict[str, Any]:
    """The timeline part of a 4.4 answer for one container on an open page."""
    with expanded_row(ctx, page, container_id) as detail:
        if detail is None:
            return {**Timeline().as_dict(), "message": NO_DETAILS_MESSAGE}
        timeline = read_timeline(page.driver, detail)
    ctx.log.info("timeline of %s: %d milestones, pregate %s", container_id,
                 len(timeline.milestones), timeline.pregate["status"] if timeline.pregate else "absent")
    return timeline.as_dict()


def read_booking_number(ctx: OperationContext, page: ContainersPage, container_id: str) -> dict[str, Any]:
    """``booking_number`` and ``booking_source`` (plus ``message`` when absent) for one container."""
    with expanded_row(ctx, page, container_id) as detail:
        number, source = page.booking_number(detail) if detail is not None else (None, None)
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

__all__ = ["booking_number", "container_timeline", "expanded_row",
           "read_booking_number", "read_container_timeline"]
