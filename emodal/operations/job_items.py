"""Operations of one job item: one container of a sweep or of an info bulk, one appointment check.

Why one operation per item (and not one for the whole list as ``/get_info_bulk`` does): a job
(``emodal/jobs``) runs each item through the operation runner on its own, so the session lock is
released between items (an interactive call waits at most one item) and every finished item is
stored before the next starts (a restart resumes after it). The grid the browser already shows is
reused (``open_containers_page(reuse=True)``): rows loaded stay loaded, so consecutive items do
not reload it.

Inputs are ``ctx.params`` as the job builds them: the wizard fields of ``/check_appointments`` at
the top level (``check_appointments`` reads them there), plus ``container_id`` and, for a sweep,
``read_timeline``, ``read_booking`` and ``check`` (bool).
"""
from __future__ import annotations

from typing import Any

from emodal.operations.appointments import check_appointments
from emodal.operations.bulk import export_item, import_item
from emodal.operations.containers import open_containers_page
from emodal.operations.context import OperationContext
from emodal.operations.timeline import read_booking_number, read_container_timeline
from emodal.operations.wizard_state import WizardStore


def slot_offer(ctx: OperationContext) -> dict[str, Any]:
    """Run ``/check_appointments`` with ``ctx.params`` and keep the evidence: slot count, first
    slot, the screenshot of the open slot list (calendar for exports), the portal's message.

    The wizard it opened is forgotten at once: a job's check is evidence, not the start of a
    booking, and an open wizard would keep the refresher away from the session for
    ``APPOINTMENT_SESSION_TTL``.
    """
    body = check_appointments(ctx)
    WizardStore(ctx.session.wizards, ctx.settings.appointment_session_ttl).drop(body["appointment_session_id"])
    export = body["container_type"] == "export"
    offered = body["available_dates_text"] if export else body["available_times"]
    return {"slots_count": body["count"], "first_slot": offered[0] if offered else None,
            "available": list(offered), "portal_message": body.get("portal_message"),
            "screenshot_url": body["calendar_screenshot_url" if export else "dropdown_screenshot_url"]}


def sweep_container(ctx: OperationContext) -> dict[str, Any]:
    """One kept container of a sweep: Pregate status from the timeline (imports), the booking
    number (exports), then the appointment check if asked (an export's uses its booking)."""
    params = ctx.params
    container_id = params["container_id"]
    export = params.get("container_type") == "export"
    found: dict[str, Any] = {"pregate": None, "booking": None}
    if (params.get("read_timeline") and not export) or (params.get("read_booking") and export):
        page = open_containers_page(ctx, reuse=True)
        if export:
            found["booking"] = read_booking_number(ctx, page, container_id)["booking_number"]
            params["booking_number"] = found["booking"]
        else:
            found["pregate"] = read_container_timeline(ctx, page, container_id)["pregate_status"]
    if params.get("check"):
        found.update(slot_offer(ctx))
    return found


def info_container(ctx: OperationContext) -> dict[str, Any]:
    """One container of an ``info_bulk`` job: the ``/get_info_bulk`` item fields."""
    page = open_containers_page(ctx, reuse=True)
    reader = export_item if ctx.params.get("container_type") == "export" else import_item
    return reader(ctx, page, ctx.params["container_id"])


__all__ = ["info_container", "slot_offer", "sweep_container"]
