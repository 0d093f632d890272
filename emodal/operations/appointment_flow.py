"""Walking the appointment wizard to step 3, with resumable state (API_SPEC 4.7, 4.8).

Shared by `/check_appointments` and `/make_appointment`: both choose the same things in steps 1
and 2 and differ only at step 3. A :class:`WizardRun` ties the page object to the wizard record
(`appointment_session_id`) so that a call can continue a wizard left open by an earlier one, or
replay it from stored fields when the browser has moved on.

Errors raised while walking are decorated with `appointment_session_id`, `current_phase` and a
`message` telling the client how to continue (4.7 "Errors"), so a caller missing a field the
portal asked for (Line/Equip Size form, required PIN) can add it without starting over.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emodal.errors import ApiError, MissingFields, PortalRejected, PortalSessionLost, PortalTimeout
from emodal.operations.context import OperationContext
from emodal.operations.wizard_state import WIZARD_FIELDS, WizardRecord, WizardStore, check_not_lost
from emodal.portal.appointment_wizard import AppointmentWizard, MoveForm, PinField, StepOutcome
from emodal.timefmt import iso_utc
from emodal.validation import normalize_container_number

BOOKING_REFUSED = "Booking number validation failed"
PORTAL_REFUSED = "Portal rejected the request"
#: v1's default of the export Unit/Seal fields on checks (API_SPEC 4.7): always the seals, the unit
#: only when the request names no container.
CHECK_EXPORT_DEFAULT = "1"
#: Plates that mean "the first plate offered" on /check_appointments (API_SPEC 4.7): ``*``, and
#: ``ABC123``, the placeholder the v1 clients send (PORTAL_SPEC A8.3: a wildcard plate).
PLATE_WILDCARDS = ("*", "ABC123")


@dataclass
class WizardRun:
    """One call's walk through the wizard."""

    ctx: OperationContext
    wizard: AppointmentWizard
    store: WizardStore
    record: WizardRecord
    fields: dict[str, Any]
    resumed: bool
    #: A check never submits: it may use the `*` plate and the export Unit/Seal defaults.
    checking: bool
    selected: dict[str, Any] = field(default_factory=dict)
    form: MoveForm | None = None

    @property
    def export(self) -> bool:
        return self.fields.get("container_type") == "export"

    @property
    def check_defaults(self) -> dict[str, str]:
        """Unit/Seal values typed when the request leaves them out: export checks only."""
        if not (self.checking and self.export):
            return {}
        return check_export_defaults({**self.ctx.params, **self.fields})

    def phase(self) -> int:
        """Current wizard phase for error bodies (1-3)."""
        with contextlib.suppress(Exception):
            position = self.wizard.position()
            if position:
                return max(1, min(3, position))
        return self.record.phase

    def expires_at(self) -> str:
        return iso_utc(self.record.expires_at(self.ctx.settings.appointment_session_ttl))

    def ids(self) -> dict[str, Any]:
        """The keys every wizard-stage answer carries."""
        return {"appointment_session_id": self.record.appointment_session_id,
                "appointment_session_expires_at": self.expires_at()}


def check_export_defaults(fields: Mapping[str, Any]) -> dict[str, str]:
    """The export check's Unit and Seal defaults (API_SPEC 4.7).

    The unit of an export drop is the container being delivered, and the portal accepts only a
    valid container number there for DROP FULL: with v1's ``"1"`` an old client never reached the
    calendar. So the unit is ``container_id`` (or the overlay's ``container_number``), ``"1"``
    only when the request names neither.
    """
    container = fields.get("container_id") or fields.get("container_number")
    unit = normalize_container_number(container) if container else CHECK_EXPORT_DEFAULT
    return {"unit_number": unit, "seal_value": CHECK_EXPORT_DEFAULT}


def start(ctx: OperationContext, *, checking: bool) -> WizardRun:
    """Find the wizard named by `appointment_session_id` (same tenant and session) or open a new one."""
    settings = ctx.settings
    session = ctx.session
    store = WizardStore(session.wizards, settings.appointment_session_ttl)
    check_not_lost(ctx.params.get("appointment_session_id"), session.wizards, session.lost_wizards)
    record = store.get(ctx.params.get("appointment_session_id"), session.tenant, session.session_id)
    resumed = record is not None
    if record is None:
        record = store.create(session.tenant, session.session_id, ctx.params)
    else:
        record.fields = record.merged(ctx.params)
    record.touch()
    wizard = AppointmentWizard(ctx.driver, ctx.urls, element_timeout=settings.element_timeout,
                               page_timeout=settings.page_load_timeout,
                               confirmation_timeout=settings.confirmation_timeout)
    selected = dict(record.selected) if resumed else {}
    return WizardRun(ctx, wizard, store, record, dict(record.fields), resumed, checking, selected)


def walk_to_step3(run: WizardRun) -> None:
    """Continue or replay steps 1-2 until step 3 shows; errors carry the wizard's id and phase."""
    try:
        first = _continue_phase(run)
        if first is None:
            with run.ctx.step("open_wizard"):
                run.wizard.open()
            run.store.claim_page(run.record)
            run.record.applied.clear()
            first = 1
        for phase in range(first, 3):
            with run.ctx.step(f"phase_{phase}"):
                _advance(run, phase)
            run.record.record_phase(phase, run.fields)
            run.record.selected = dict(run.selected)
            if phase + 1 < 3:
                run.ctx.screenshot(f"phase_{phase + 1}_loaded")
        # A booking always documents the step it is about to submit from (API_SPEC 5).
        run.ctx.screenshot("phase_3_loaded", always=not run.checking)
    except PortalSessionLost:
        run.store.drop(run.record.appointment_session_id)  # the retry starts a fresh wizard
        raise
    except ApiError as exc:
        decorate(run, exc)
        raise
    finally:
        run.record.touch()


def decorate(run: WizardRun, exc: ApiError) -> None:
    """Add the resume keys to a wizard-stage error (4.7 "Errors")."""
    exc.extra.setdefault("current_phase", run.phase())
    exc.extra.update({k: v for k, v in run.ids().items() if k not in exc.extra})
    if "message" not in exc.extra:
        missing = (exc.details or {}).get("missing") if isinstance(exc.details, dict) else None
        what = ", ".join(missing) if missing else "corrected fields"
        exc.extra["message"] = (f"Please provide {what} and retry with appointment_session_id "
                                f"{run.record.appointment_session_id}")


def _continue_phase(run: WizardRun) -> int | None:
    """The phase to continue at on the current page, or None to replay from a fresh wizard."""
    record = run.record
    if not (run.resumed and record.on_page):
        return None
    try:
        shown = run.wizard.is_shown() and run.wizard.position() == record.phase
    except Exception:  # a dead or navigated page simply means "replay"
        shown = False
    stale = record.first_stale_phase(run.fields)
    if not shown or (stale is not None and stale < record.phase):
        return None
    return record.phase


# --- steps 1 and 2 ----------------------------------------------------------------------------------
def _advance(run: WizardRun, phase: int) -> None:
    """Fill a step and click Next; one re-fill and retry when the page stays on the step."""
    fill = _FILLERS[phase]
    fill(run)
    try:
        outcome = run.wizard.next()
    except PortalTimeout:  # no visible reaction: the earlier automation re-filled and retried too
        outcome = StepOutcome.ADVANCED if (run.wizard.position() or 0) > phase else StepOutcome.STUCK
    if outcome in (StepOutcome.INVALID, StepOutcome.STUCK):
        run.ctx.log.info("step %d did not advance (%s); re-filling once", phase, outcome.value)
        fill(run)
        outcome = run.wizard.next()
    if outcome is StepOutcome.DIALOG:
        raise_refusal(run, BOOKING_REFUSED if run.form is MoveForm.BOOKING and phase == 1 else PORTAL_REFUSED)
    if outcome is StepOutcome.INVALID:
        # The portal marked fields invalid (mat-error): a refusal with its own words, not an outage.
        errors = run.wizard.field_errors()
        text = "; ".join(errors)
        raise PortalRejected(f"Wizard step {phase} refused the values entered", portal_message=text,
                             error_message=text, details={"field_errors": errors})


def raise_refusal(run: WizardRun, error: str, **extra: Any) -> None:
    """Read and close the portal's dialog, then raise `portal_rejected` with its text."""
    text = run.wizard.dialog_text()
    run.ctx.screenshot("portal_dialog", always=True)
    run.wizard.close_dialog()
    raise PortalRejected(error, portal_message=text, error_message=text, **extra)


def require(run: WizardRun, *names: str) -> None:
    """Fields the portal's form needs but the request lacks: 400 missing_fields, resumable."""
    missing = [n for n in names if run.fields.get(n) in (None, "", [])]
    if missing:
        raise MissingFields(f"Missing required field{'s' if len(missing) > 1 else ''} for this portal form: "
                            f"{', '.join(missing)}", details={"missing": missing})


def _fill_step1(run: WizardRun) -> None:
    w, f, sel = run.wizard, run.fields, run.selected
    require(run, "trucking_company", "terminal", "move_type")
    sel["trucking_company"] = w.choose("Trucking company", f["trucking_company"], "trucking_company")
    sel["terminal"] = w.choose("Terminal", f["terminal"], "terminal")
    sel["move_type"] = w.choose("Move Type", f["move_type"], "move_type")
    run.form = w.detect_form()
    if run.form is MoveForm.CONTAINER:
        require(run, "container_id")
        w.add_container(f["container_id"])
        sel["container_id"] = f["container_id"]
    elif run.form is MoveForm.BOOKING:
        require(run, "booking_number")
        w.add_booking(f["booking_number"])
        if w.dialog_text() is not None:  # the portal validates the booking as soon as it is entered
            raise_refusal(run, BOOKING_REFUSED)
        w.set_quantity(1)
        sel["booking_number"] = f["booking_number"]
    else:
        require(run, "line", "equip_size")
        sel["line"], sel["equip_size"] = w.set_line_equip(f["line"], f["equip_size"])
        w.set_quantity(1)


def _fill_step2(run: WizardRun) -> None:
    w, f, sel = run.wizard, run.fields, run.selected
    require(run, "truck_plate")
    w.check_move()
    pin = w.pin_field()
    if pin is not PinField.ABSENT and f.get("pin_code"):
        w.enter_pin(f["pin_code"])
    elif pin is PinField.REQUIRED:
        require(run, "pin_code")
    defaults = run.check_defaults
    unit = f.get("unit_number") or defaults.get("unit_number")
    if unit:
        w.set_unit(unit)
    seal = f.get("seal_value") or defaults.get("seal_value")
    seals = list(f.get("seals") or ([seal] * 4 if seal else []))
    if seals:
        w.set_seals(seals)
    # Only a check may take the first plate for a wildcard: a booking never picks for the client.
    sel["truck_plate"] = w.choose_plate(f["truck_plate"],
                                        or_first=run.checking and f["truck_plate"] in PLATE_WILDCARDS)
    if f.get("own_chassis") is not None:
        w.set_own_chassis(bool(f["own_chassis"]))
    sel["own_chassis"] = w.own_chassis()


_FILLERS: dict[int, Callable[[WizardRun], None]] = {1: _fill_step1, 2: _fill_step2}


def phase_data(params: dict[str, Any]) -> dict[str, Any]:
    """The request's wizard fields echoed back (PIN masked, dates as ISO)."""
    out: dict[str, Any] = {}
    for name in (*WIZARD_FIELDS, "container_number", "appointment_time", "appointment_date"):
        value = params.get(name)
        if value is None:
            continue
        out[name] = "****" if name == "pin_code" else (value.isoformat() if hasattr(value, "isoformat") else value)
    return out


__all__ = ["BOOKING_REFUSED", "PLATE_WILDCARDS", "PORTAL_REFUSED", "WizardRun", "check_export_defaults", "decorate",
           "phase_data", "raise_refusal", "require", "start", "walk_to_step3"]
