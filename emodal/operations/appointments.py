"""`/check_appointments` and `/make_appointment`: step 3 of the wizard (API_SPEC 4.7, 4.8).

Both walk steps 1-2 through :mod:`emodal.operations.appointment_flow`; here they part ways:

* a check reads the offer (slot texts for imports, calendar days for exports) and leaves the
  wizard open at step 3 for a later booking; it **never** clicks Submit;
* a booking checks that the requested time/date is offered (else 422, nothing submitted), then
  clicks Submit once and reports success only when the Confirmation step shows. Right before the
  click the context is marked ``no_retry``: nothing is retried after it, and the runner turns any
  failure but a refusal read from the portal into 504 outcome unknown (API_SPEC 4.8).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date
from typing import Any

from emodal.errors import (ApiError, MissingFields, OptionNotAvailable, PortalRejected, PortalTimeout,
                           SlotNotAvailable)
from emodal.operations import appointment_flow as flow
from emodal.operations.appointment_flow import WizardRun
from emodal.operations.context import OperationContext
from emodal.portal.appointment_wizard import StepOutcome, is_no_slots
from emodal.validation import match_option

# --- /check_appointments ---------------------------------------------------------------------------
def check_appointments(ctx: OperationContext) -> dict[str, Any]:
    """Walk to step 3 and read what the portal offers; the wizard stays open for a booking."""
    run = flow.start(ctx, checking=True)
    flow.walk_to_step3(run)
    try:
        offer = _read_export_offer(run) if run.export else _read_import_offer(run)
    except ApiError as exc:
        flow.decorate(run, exc)
        raise
    run.record.touch()
    body: dict[str, Any] = {
        "container_type": run.fields.get("container_type") or "import", **run.ids(), "current_phase": 3,
        "resumed": run.resumed, "phase_data": _check_phase_data(run), "selected": dict(run.selected),
    }
    body.update(offer)
    return body


def _check_phase_data(run: WizardRun) -> dict[str, Any]:
    """The wizard fields in force (stored + this request), with the export check defaults."""
    data = flow.phase_data({**run.ctx.params, **run.fields})
    for name, value in run.check_defaults.items():
        data.setdefault(name, value)
    return data


def _read_import_offer(run: WizardRun) -> dict[str, Any]:
    with run.ctx.step("read_slots"):
        options = run.wizard.open_slots()
        shot = run.ctx.screenshot("appointment_dropdown_opened", always=True)
        run.wizard.close_panels()
        info = run.wizard.info_text()
    times = [] if is_no_slots(options) else options
    message = f"Found {len(times)} available appointment time(s)"
    return {"available_times": times, "appointment_times": list(times), "count": len(times),
            "portal_message": options[0] if is_no_slots(options) else None, "portal_info": info,
            "dropdown_screenshot_url": shot, "message": message}


def _read_export_offer(run: WizardRun) -> dict[str, Any]:
    with run.ctx.step("read_calendar"):
        try:
            days = run.wizard.open_calendar()
        except PortalTimeout:  # no calendar on this step: still a valid answer (4.7)
            days = None
        shot = run.ctx.screenshot("calendar_opened", always=True)
        run.wizard.close_calendar()
    found = days is not None
    days = days or []
    return {"calendar_found": found, "available_dates": [d.isoformat() for _, d in days],
            "available_dates_text": [label for label, _ in days], "count": len(days),
            "calendar_screenshot_url": shot,
            "message": f"Found {len(days)} available date(s)" if found else "Calendar not found"}


# --- /make_appointment -------------------------------------------------------------------------------
def make_appointment(ctx: OperationContext, *, before_submit: Callable[[], None] | None = None) -> dict[str, Any]:
    """Book: guarantees 1-4 of API_SPEC 4.8. ``before_submit`` runs right before the click
    (the idempotency record is written there)."""
    run = flow.start(ctx, checking=False)
    flow.walk_to_step3(run)
    try:
        with ctx.step("choose_time"):
            chosen = _choose_export_time(run) if run.export else _choose_import_time(run)
    except ApiError as exc:
        flow.decorate(run, exc)
        raise
    run.wizard.wait_submit_ready()  # checked before the record is written: a miss books nothing
    ctx.screenshot("before_submit", always=True)
    if before_submit is not None:
        before_submit()
    # Past this line the portal may have booked: never retry, never resume this wizard.
    ctx.no_retry = True
    ctx.session.submitting = True  # shutdown now gives this call CONFIRMATION_TIMEOUT, not SHUTDOWN_GRACE
    run.store.drop(run.record.appointment_session_id)
    with ctx.step("submit"):
        run.wizard.submit()
        outcome = run.wizard.wait_after_submit()
    if outcome is StepOutcome.DIALOG:
        _raise_submit_refusal(run, chosen)
    with ctx.step("read_confirmation"):
        confirmation = run.wizard.confirmation()
        shot = ctx.screenshot("confirmation", always=True)
    details = dict(run.selected)
    details["appointment_time"] = chosen.get("appointment_time")
    if chosen.get("appointment_date"):
        details["appointment_date"] = chosen["appointment_date"]
    return {
        "container_type": run.fields.get("container_type") or "import", "appointment_confirmed": True,
        "submitted": True, "current_phase": 4, "resumed": run.resumed, "confirmation_number": confirmation["number"],
        "confirmation_text": confirmation["text"], "appointment_details": details,
        "requested": flow.phase_data(ctx.params), "confirmation_screenshot_url": shot,
        "idempotency_key": ctx.params.get("idempotency_key"), "idempotent_replay": False,
        "message": "Appointment confirmed by the portal",
    }


def _choose_import_time(run: WizardRun) -> dict[str, Any]:
    options = run.wizard.open_slots()
    run.wizard.close_panels()
    times = [] if is_no_slots(options) else options
    requested = run.fields.get("appointment_time") or run.ctx.params.get("appointment_time")
    wanted = _match_slot(requested, times, portal_message=options[0] if is_no_slots(options) else None)
    shown = run.wizard.choose_slot(wanted)
    run.selected["appointment_time"] = shown
    return {"appointment_time": shown}


def _choose_export_time(run: WizardRun) -> dict[str, Any]:
    days = run.wizard.open_calendar()
    run.wizard.close_calendar()
    requested: date | None = run.ctx.params.get("appointment_date")
    offered = [d for _, d in days]
    if requested is None:
        raise MissingFields("Missing required field: appointment_date", details={"missing": ["appointment_date"]},
                            available_dates=[d.isoformat() for d in offered])
    if requested not in offered:
        raise SlotNotAvailable(f"Date {requested.isoformat()} is not offered by the portal",
                               available_dates=[d.isoformat() for d in offered],
                               available_dates_text=[label for label, _ in days], submitted=False)
    run.wizard.choose_day(requested)
    chosen: dict[str, Any] = {"appointment_date": requested.isoformat(), "appointment_time": None}
    if not run.wizard.has_slot_select():
        return chosen
    options = run.wizard.open_slots()
    run.wizard.close_panels()
    if not options:
        return chosen
    times = [] if is_no_slots(options) else options
    requested_time = run.ctx.params.get("appointment_time")
    if requested_time is None:  # the portal asks for a time: never pick one for the client
        raise MissingFields("Missing required field: appointment_time", details={"missing": ["appointment_time"]},
                            available_times=times)
    chosen["appointment_time"] = run.wizard.choose_slot(
        _match_slot(requested_time, times, portal_message=options[0] if is_no_slots(options) else None))
    return chosen


def _match_slot(requested: str | None, times: list[str], *, portal_message: str | None) -> str:
    """The offered slot text equal to ``requested`` (matching rule), else 422 slot_not_available."""
    if requested is not None:
        with contextlib.suppress(OptionNotAvailable):
            return match_option(requested, times, field="appointment_time")
    raise SlotNotAvailable(f"Appointment time '{requested}' is not offered by the portal",
                           available_times=times, appointment_times=list(times),
                           portal_message=portal_message, submitted=False)


def _raise_submit_refusal(run: WizardRun, chosen: dict[str, Any]) -> None:
    """A dialog after Submit: `slot_not_available` when our slot is gone from the refreshed offer,
    else `portal_rejected`; both say the request was submitted but not confirmed."""
    text = run.wizard.dialog_text() or ""
    run.ctx.screenshot("portal_dialog", always=True)
    run.wizard.close_dialog()
    extra = {"portal_message": text, "error_message": text, "submitted": True,
             "appointment_confirmed": False, "current_phase": 3}
    slot = chosen.get("appointment_time")
    if slot and run.wizard.has_slot_select():
        run.wizard.settle("the refreshed appointment times")
        options = run.wizard.open_slots()
        run.wizard.close_panels()
        times = [] if is_no_slots(options) else options
        if slot not in times:
            raise SlotNotAvailable("The requested appointment time is no longer available",
                                   available_times=times, appointment_times=list(times), **extra)
    raise PortalRejected("Portal rejected the appointment", **extra)


__all__ = ["check_appointments", "make_appointment"]
