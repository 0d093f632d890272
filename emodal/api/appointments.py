"""Appointment routes: ``/check_appointments``, ``/make_appointment``, ``/get_appointments``
(API_SPEC 4.7-4.9). Thin: request model -> :func:`execute` -> operation; ``/make_appointment`` adds the
idempotency record check between validation and the session (API_SPEC 6.1 order)."""
from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import Field, create_model

from emodal.api import http
from emodal.api.business import execute
from emodal.api.openapi import register
from emodal.api.schemas import (AbsentValues, Bool, BusinessRequest, Check, Choice, Container, DateText, Int,
                                Pattern, RequiredIf, Secret, Str, StrList, Text, parse)
from emodal.config import Settings
from emodal.errors import ApiError, InvalidField
from emodal.operations.appointments import check_appointments, make_appointment
from emodal.operations.idempotency import IdempotencyStore, Replay
from emodal.operations.my_appointments import get_appointments

bp = Blueprint("appointments", __name__)
_PLATE_RE = re.compile(r"[A-Za-z0-9 -]{1,20}")


def _export(p: dict[str, Any]) -> bool:
    return p.get("container_type") == "export"


def _fresh(p: dict[str, Any]) -> bool:
    """Wizard fields are required unless the call continues a stored wizard (4.7 "Resume")."""
    return not p.get("appointment_session_id")


def _needs_container(p: dict[str, Any]) -> bool:
    return _fresh(p) and not _export(p) and not (p.get("line") and p.get("equip_size"))


def _move_types(settings: Settings) -> tuple[str, ...]:
    return tuple(settings.emodal_move_types)


def _optional(kind: Any, description: str, *markers: Any) -> tuple[Any, Any]:
    """A ``create_model`` field definition: absent by default, with its markers."""
    return (Annotated[kind, *markers] | None if markers else kind | None), Field(None, description=description)


def _wizard_fields(*, booking: bool) -> dict[str, Any]:
    """The fields of 4.7/4.8 in the order of the 4.8 missing-fields message."""
    fields: dict[str, Any] = {
        "container_type": (Annotated[Str, Choice(("import", "export"))],
                           Field("import", description="import (default) or export, any case.")),
        "trucking_company": _optional(Str, "Trucking company as the portal lists it.", RequiredIf(_fresh)),
        "terminal": _optional(Str, "Terminal as the portal lists it.", RequiredIf(_fresh)),
        "move_type": _optional(Str, "One of EMODAL_MOVE_TYPES.", Choice(_move_types), RequiredIf(_fresh)),
        "container_id": _optional(Container, "Import: container number (unless line + equip_size).",
                                  RequiredIf(_needs_container)),
        "booking_number": _optional(Str, "Export: booking number (quantity 1).", Pattern(r"[A-Za-z0-9-]{1,30}"),
                                    RequiredIf(lambda p: _fresh(p) and _export(p))),
        "unit_number": _optional(Str, "Export unit number, the container delivered (check default: container_id, "
                                      "else container_number, else '1').",
                                 RequiredIf(lambda p: booking and _fresh(p) and _export(p))),
        "truck_plate": _optional(Str, "Truck plate as offered" + ("." if booking else "; '*' = first offered plate."),
                                 RequiredIf(_fresh)),
    }
    if booking:
        fields["appointment_time"] = _optional(Str, "An offered slot text (import; export if the portal asks).",
                                               RequiredIf(lambda p: not _export(p)))
        fields["appointment_date"] = _optional(DateText, "Export: YYYY-MM-DD or MM/DD/YYYY.", RequiredIf(_export))
    fields.update({
        "line": _optional(Str, "Line, for the Line/Equip Size form."),
        "equip_size": _optional(Str, "Equip Size, for the Line/Equip Size form."),
        "pin_code": _optional(Str, "Typed only if a PIN field is shown.", Pattern(r"\d{1,10}"), Secret()),
        "own_chassis": _optional(Bool, "YES/NO; absent: portal default.", AbsentValues("ignore")),
        "seal_value": _optional(Str, "Seal value (check default '1')."),
    })
    if booking:
        fields["seals"] = (StrList | None, Field(None, max_length=4, description="Up to 4 seal values."))
    fields["container_number"] = _optional(Str, "Overlay label only.")
    fields["appointment_session_id"] = _optional(Str, "Continue a wizard (4.7 Resume).")
    if booking:
        fields["idempotency_key"] = _optional(Text(255), "As the Idempotency-Key header.")
    return fields


def _plate_check(*, wildcard: bool) -> Check:
    """A plate is letters/digits; ``*`` (first offered plate) only where a check allows it."""
    def check(params: dict[str, Any], settings: Settings) -> None:
        plate = params.get("truck_plate")
        if plate is None or (wildcard and plate == "*"):
            return
        if not _PLATE_RE.fullmatch(plate):
            raise InvalidField("truck_plate must be a plate number" + (" or '*'" if wildcard else ""),
                               details={"field": "truck_plate", "reason": "format"})
    return check


_EXAMPLE = {"success": True, "session_id": "session_1764012345_JpJZ6krlXaZW5RhloZfgWg",
            "is_new_session": False, "screenshots": []}

CheckAppointmentsRequest = create_model(
    "CheckAppointmentsRequest", __base__=BusinessRequest,
    checks=(ClassVar[tuple[Check, ...]], (_plate_check(wildcard=True),)), **_wizard_fields(booking=False))
MakeAppointmentRequest = create_model(
    "MakeAppointmentRequest", __base__=BusinessRequest,
    checks=(ClassVar[tuple[Check, ...]], (_plate_check(wildcard=False),)), **_wizard_fields(booking=True))

register("/check_appointments", "POST", CheckAppointmentsRequest,
         "Walk the appointment wizard to step 3 and read the offered times (import) or days (export); never submits.", {
             **_EXAMPLE, "container_type": "import", "appointment_session_id": "appt_1764012600_Jv5BqLbqkUoZPEkY5fCIcg",
             "current_phase": 3, "available_times": ["Tuesday 11/25/2025 09:00 - 10:00"], "count": 1,
             "portal_message": None,
             "portal_info": "Check-In for this visit should be completed by 11/25/2025 03:00"})
register("/make_appointment", "POST", MakeAppointmentRequest,
         "Walk the wizard and click Submit (books); success only when the Confirmation step shows.", {
             **_EXAMPLE, "container_type": "import", "appointment_confirmed": True, "submitted": True,
             "confirmation_number": "TTI-1125-01234", "idempotent_replay": False})


class GetAppointmentsRequest(BusinessRequest):
    infinite_scrolling: Bool = Field(True, description="Scroll until idle; false: first load.")
    target_count: Int(1, 100000) | None = Field(None, description="First N rows.")
    target_appointment_id: Str | None = Field(
        None, description="Scroll until a row holds it as a whole token; select up to it.")
    format: Annotated[Str, Choice(("url", "xlsx", "json"))] = Field(
        "url", description="url: JSON with file_url; xlsx: file body; json: rows inline too.")


register("/get_appointments", "POST", GetAppointmentsRequest,
         "Select rows on My Appointments and deliver the portal's Excel export.", {
             **_EXAMPLE, "work_mode": "count", "selected_count": 20, "total_appointments": 20, "scroll_cycles": 1,
             "stopped_reason": "Target count 20 reached", "file_name": "appointments_20251124_195010.xlsx"},
         file_response=True)


@bp.post("/check_appointments")
def check_route() -> Response:
    return execute("/check_appointments", CheckAppointmentsRequest, check_appointments, bundle_kind="check_appointments")


@bp.post("/get_appointments")
def appointments_route() -> Response:
    return execute("/get_appointments", GetAppointmentsRequest, get_appointments, bundle_kind="APPOINTMENTS")


@bp.post("/make_appointment")
def make_route() -> Response:
    params = parse(MakeAppointmentRequest, http.json_body(), http.settings())
    params["idempotency_key"] = resolve_key(request.headers.get("Idempotency-Key"), params.get("idempotency_key"))
    guard = _KeyGuard(params) if params["idempotency_key"] else None
    if guard is not None and guard.replay is not None:
        return _replayed(guard.replay)
    try:
        response = _book(params, guard.before_submit if guard else None)
    except ApiError as exc:
        _count(_result_of(exc))
        if guard is not None:
            guard.failed(exc)
        raise
    except BaseException:
        if guard is not None:
            guard.release()
        raise
    _count("confirmed")
    if guard is not None:
        guard.done(response)
    return response


#: API_SPEC 4.8: 1-255 printable ASCII characters.
_KEY_MAX = 255


def resolve_key(header_value: str | None, field_value: str | None) -> str | None:
    """The request's idempotency key: header `Idempotency-Key` or field, header wins.

    Both given and different is ambiguous: 400 rather than guessing which one the client meant.
    """
    header = _validate_key(header_value, "Idempotency-Key") if header_value is not None else None
    body = _validate_key(field_value, "idempotency_key") if field_value is not None else None
    if header is not None and body is not None and header != body:
        raise InvalidField("Idempotency-Key header and idempotency_key field differ",
                           details={"field": "idempotency_key", "reason": "conflicts_with_header"})
    return header if header is not None else body


def _validate_key(value: str, name: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= _KEY_MAX or not all(
            32 <= ord(ch) <= 126 for ch in value):
        raise InvalidField(f"{name} must be 1-{_KEY_MAX} printable ASCII characters",
                           details={"field": "idempotency_key", "max": _KEY_MAX})
    return value


class _KeyGuard:
    """One request's idempotency record: replay check first, `submitting` before the click,
    final answer after (API_SPEC 4.8 "Idempotency")."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.store, self.tenant, self.key = _store(), g.tenant, params["idempotency_key"]
        self.print = self.store.booking_fingerprint(params)
        self.submitted = False
        self.replay = self.store.check(self.tenant, self.key, self.print, route="/make_appointment")

    def before_submit(self) -> None:
        self.store.begin(self.tenant, self.key, self.print)
        self.submitted = True

    def done(self, response: Response) -> None:
        self.store.complete(self.tenant, self.key, self.print, response.status_code, response.get_json())

    def failed(self, exc: ApiError) -> None:
        """A refusal the portal showed after Submit is the final answer and is stored. Before Submit
        nothing is stored (key reusable); an unknown outcome leaves the record ``submitting``, so
        a replay with this key gets 409 and never a second Submit (API_SPEC 4.8)."""
        if self.submitted and _result_of(exc) == "rejected":
            self.store.complete(self.tenant, self.key, self.print, exc.status, http.error_body(exc))
        else:
            self.release()

    def release(self) -> None:
        # After a Submit the record stays "submitting": later calls get 409 (outcome unknown).
        self.store.release(self.tenant, self.key)


def _result_of(exc: ApiError) -> str:
    """Metrics label of a failed booking: refused after Submit, unknown outcome, or failed before."""
    if not exc.extra.get("submitted"):
        return "failed"
    return "unknown" if exc.extra.get("outcome") == "unknown" else "rejected"


def _count(result: str) -> None:
    http.metrics().count_appointment(result)


def _book(params: dict[str, Any], before_submit: Any = None) -> Response:
    return execute("/make_appointment", params, lambda ctx: make_appointment(ctx, before_submit=before_submit),
                   always_bundle=True, bundle_kind="appointment_submitted")


def _store() -> IdempotencyStore:
    """The app's idempotency store (created with the app, purged with the files)."""
    return current_app.extensions["emodal_idempotency"]


def _replayed(replay: Replay) -> Response:
    """The stored final answer again, marked as a replay; nothing runs (4.8)."""
    body = dict(replay.body)
    body["idempotent_replay"] = True
    if not body.get("success"):
        body["request_id"] = g.request_id
    response = jsonify(body)
    response.status_code = replay.status
    response.headers["Idempotent-Replayed"] = "true"
    if body.get("session_id"):
        response.headers["X-Session-Id"] = body["session_id"]
    return response


__all__ = ["CheckAppointmentsRequest", "GetAppointmentsRequest", "MakeAppointmentRequest", "bp"]
