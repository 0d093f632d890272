"""Changing a container while the service watches it: the body of
``PATCH /_sandbox/accounts/<user>/containers/<number>`` (issue 12), validated, then applied.

The grid row, the expansion (detail cards + timeline) and the Excel export are all rendered from
the live ``Container``, so one change here shows on all three at the next XHR (rows already on
screen are never re-rendered, B10: a page reload shows the change, as on the real portal). The patch
keeps the columns consistent the way the generator does (B8.4, B8.5): ``holds`` drives the
Holds/Releases card, ``lfd`` the LFD/GTD column, the card and the ``Last Free Day`` milestone.
Nothing else is inferred (clearing holds does not complete ``Ready for pick up``): a test says
every change it wants. Appointments (My Appointments, slot capacity) are not touched.

Validation is complete before anything changes: a bad body is refused whole (400), never half
applied.
"""
from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .data_model import EXPORT_MILESTONES, IMPORT_MILESTONES, NA, Container, fmt_day, fmt_time

HOLD_KINDS = ("custom", "line", "other")  # the Holds/Releases card's Custom / Line / Other Holds
STATUSES = ("ON VESSEL", "IN YARD", "GATE OUT", "GATE IN")
PREGATE_STATUSES = ("COMPLETED", "MISSED", "CONFIRMED", "CANCELED", "N/A")
GATE_STATUSES = ("ACCEPTED", "CONFIRMED", "REJECTED", "CANCELED", "PENDING", "N/A")
LFD_MILESTONE = "Last Free Day"
_TICKET = re.compile(r"[A-Z0-9]{2,8}-\d{4}-\d{5}")
_LOCATION = re.compile(r"[A-Z0-9]{2,8}")


class PatchError(ValueError):
    """The patch cannot be applied; ``status`` is the HTTP status of the refusal."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PregatePatch(_Strict):
    """Pregate Ticket# (first part + small grey number), Emodal Pregate Status, Gate Status."""

    ticket: str | None = None
    small: Annotated[str, Field(pattern=r"^\d{0,7}$")] | None = None
    status: Literal[PREGATE_STATUSES] | None = None  # type: ignore[valid-type]
    gate_status: Literal[GATE_STATUSES] | None = None  # type: ignore[valid-type]

    @field_validator("ticket")
    @classmethod
    def _ticket(cls, value: str | None) -> str | None:
        if value is not None and not _TICKET.fullmatch(value):
            raise ValueError("a ticket reads <PREFIX>-MMDD-NNNNN, e.g. TTI-0910-08535")
        return value


class MilestonePatch(_Strict):
    """``completed`` and/or ``date`` (ISO date-time, sandbox-local if naive; ``null`` = ``N/A``)."""

    completed: bool | None = None
    date: datetime | None = None


class ContainerPatch(_Strict):
    """Every field is optional; an absent field is left as it is, ``null`` clears where allowed."""

    holds: Literal["YES", "NO"] | list[Literal[HOLD_KINDS]] | None = None  # type: ignore[valid-type]
    lfd: date | None = None
    gtd: date | None = None
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    current_loc: str | None = None
    pregate: PregatePatch | None = None
    timeline: dict[str, MilestonePatch] | None = None

    @field_validator("current_loc")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None and value != NA and not _LOCATION.fullmatch(value):
            raise ValueError("a location code (2-8 upper-case letters or digits) or N/A")
        return value


def parse_patch(body: Any) -> ContainerPatch:
    """The validated patch, or ``PatchError`` naming the first bad field."""
    if not isinstance(body, dict) or not body:
        raise PatchError("the body must be a JSON object with at least one field")
    for name in ("holds", "status", "current_loc", "timeline"):
        if name in body and body[name] is None:
            raise PatchError(f"{name}: cannot be null")
    try:
        return ContainerPatch.model_validate(body)
    except ValidationError as exc:
        # Of a union's alternatives, the deepest error is the one the caller meant (a list with a
        # bad item, rather than "not YES or NO").
        error = max(exc.errors(include_url=False), key=lambda e: len(e["loc"]))
        where = ".".join(str(part) for part in error["loc"] if not str(part).startswith(("literal[", "list[")))
        raise PatchError(f"{where}: {error['msg'].removeprefix('Value error, ')}") from None


def apply_patch(container: Container, patch: ContainerPatch, *, today: date, tz: tzinfo) -> None:
    """Check ``patch`` against ``container`` (``PatchError``), then change the container.

    The caller holds the sandbox state lock: pages read the container under it.
    """
    given = patch.model_fields_set
    milestones = _check(container, patch, given)
    if "holds" in given:
        _apply_holds(container, patch.holds)  # type: ignore[arg-type]
    if "lfd" in given or "gtd" in given:
        _apply_lfd(container, patch, given, today)
    if "status" in given:
        container.status = patch.status  # type: ignore[assignment]
    if "current_loc" in given:
        container.current_loc = patch.current_loc  # type: ignore[assignment]
    if "pregate" in given:
        _apply_pregate(container, patch.pregate)
    for name, change in milestones.items():
        _apply_milestone(container, name, change, tz)


def _check(container: Container, patch: ContainerPatch, given: set[str]) -> dict[str, MilestonePatch]:
    if container.unknown:
        raise PatchError(f"{container.number} is unknown to the portal (every column N/A); it cannot change",
                         status=409)
    lfd = patch.lfd if "lfd" in given else container.lfd
    if "gtd" in given and patch.gtd is not None:
        if lfd is None:
            raise PatchError("gtd: needs a last free day (give lfd too)")
        if patch.gtd < lfd:
            raise PatchError("gtd: the good-through date cannot be before the last free day")
    if "pregate" in given and patch.pregate is not None and not patch.pregate.model_fields_set:
        raise PatchError("pregate: give ticket, small, status and/or gate_status, or null to clear")
    milestones = patch.timeline or {}
    names = IMPORT_MILESTONES if container.trade_type == "IMPORT" else EXPORT_MILESTONES
    for name, change in milestones.items():
        if name not in names:
            raise PatchError(f"timeline: {name!r} is not a milestone of this {container.trade_type} container "
                             f"({', '.join(names)})")
        if not change.model_fields_set:
            raise PatchError(f"timeline.{name}: give completed and/or date")
        if name == LFD_MILESTONE and "date" in change.model_fields_set:
            raise PatchError("timeline.Last Free Day: its date is the LFD; change lfd instead")
        current = next((m for m in container.timeline if m.name == name), None)
        if current is None:
            raise PatchError(f"timeline: {container.number} shows no {name!r} milestone")
        completed = current.completed if change.completed is None else change.completed
        if change.date is not None and not completed:
            raise PatchError(f"timeline.{name}: a pending milestone shows N/A, it has no date")
    return milestones


def _apply_holds(container: Container, holds: str | list[str]) -> None:
    """B8.4: Holds YES sets at least one of Custom/Line/Other Holds, NO clears them all."""
    if isinstance(holds, list):
        flags = tuple(kind in holds for kind in HOLD_KINDS)
    elif holds == "NO":
        flags = (False, False, False)
    else:
        current = container.extras.hold_flags
        flags = current if any(current) else (True, False, False)
    container.extras.hold_flags = flags
    container.holds = "YES" if any(flags) else "NO"


def _apply_lfd(container: Container, patch: ContainerPatch, given: set[str], today: date) -> None:
    if "lfd" in given:
        container.lfd = patch.lfd
        container.gtd = None  # a new LFD without a GTD is good through that day (gtd None = lfd)
    if "gtd" in given:
        container.gtd = patch.gtd
    if container.lfd is None:
        container.gtd = None
    for milestone in container.timeline:
        if milestone.name == LFD_MILESTONE:  # B8.5: its date always shows; done once it has passed
            milestone.date = fmt_day(container.lfd)
            milestone.completed = container.lfd is not None and container.lfd <= today


def _apply_pregate(container: Container, pregate: PregatePatch | None) -> None:
    if pregate is None:  # cleared: no ticket of any company
        container.pregate_ticket, container.pregate_ticket_small = NA, ""
        container.emodal_pregate_status, container.gate_status = NA, NA
        container.ticket_terminal = container.appointment_at = container.move_type = None
        container.masked = False
        return
    fields = pregate.model_fields_set
    if "ticket" in fields:
        container.pregate_ticket = pregate.ticket or NA
        container.masked = False
        if pregate.ticket is None:
            container.pregate_ticket_small = ""
    if "small" in fields:
        container.pregate_ticket_small = pregate.small or ""
    if "status" in fields:
        container.emodal_pregate_status = pregate.status or NA
    if "gate_status" in fields:
        container.gate_status = pregate.gate_status or NA


def _apply_milestone(container: Container, name: str, change: MilestonePatch, tz: tzinfo) -> None:
    milestone = next(m for m in container.timeline if m.name == name)  # present: checked by _check
    fields = change.model_fields_set
    if "completed" in fields and change.completed is not None:
        milestone.completed = change.completed
        if not change.completed and name != LFD_MILESTONE:
            milestone.date = NA
    if "date" in fields:
        moment = change.date
        if moment is not None and moment.tzinfo is not None:
            moment = moment.astimezone(tz)
        milestone.date = fmt_time(moment)
