"""Eligibility rules and texts of the sandbox wizard (PORTAL_SPEC B11.2, B11.5, B16).

Split from `booking.py` so that module keeps to slots, capacity and storage. Everything that
reads the world's containers and bookings goes through the few accessors here, so the
world's field names are known in one place only.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .data_model import TERMINAL_NAMES, TICKET_FORMATS
from .iso6346 import is_valid_container_number

MOVE_TYPES = ("PICK FULL", "DROP FULL", "PICK EMPTY", "DROP EMPTY")
LINE_OPTIONS = ("CMDU", "EGLV", "GMSU", "HDMU", "MSC", "ONEY", "OOLU", "YMJA")
EQUIP_SIZE_OPTIONS = ("20GP", "40GP", "40DH", "40HC", "45DH", "40RH")
DEFAULT_LINE_SIZE_TERMINALS = ("TraPac LLC - Los Angeles",)

# B16 texts; the real ones (A8.2) are reproduced exactly.
TEXT_NO_OPEN = "No open transactions for this booking number."
TEXT_NO_LINE = "Booking shippingline is required"
TEXT_SLOT_GONE = "The selected appointment time is no longer available."
TEXT_QUANTITY = "Quantity exceeds the open transactions for this booking."
TEXT_FAILED = "Something went wrong. Please try again."


class BookingRefused(Exception):
    """A refusal the page shows in a dialog; `message` is the exact B16/A8 text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---- terminals -----------------------------------------------------------------------------
def terminal_names() -> list[str]:
    """The 18 wizard terminals, alphabetical as in the dropdown (A12.3)."""
    return sorted(TERMINAL_NAMES.values(), key=str.casefold)


def terminal_code(name: str) -> str:
    """Location code of a terminal name (`TTI` for `Total Terminals Intl LLC`)."""
    return next(code for code, full in TERMINAL_NAMES.items() if full == name)


def ticket_prefix(name: str) -> str:
    """Confirmation prefix (B11.5): the ticket prefix of B8.4, else the location code."""
    code = terminal_code(name)
    return TICKET_FORMATS.get(code, (code, 0))[0]


def form_variant(move_type: str, terminal: str, line_size_terminals: Any = None) -> str:
    """`container`, `booking` or `line_size`: which second card step 1 shows (B11.2)."""
    if move_type in ("DROP FULL", "PICK EMPTY"):
        return "booking"
    if move_type == "DROP EMPTY" and terminal in (line_size_terminals or DEFAULT_LINE_SIZE_TERMINALS):
        return "line_size"
    return "container"


# ---- world accessors -------------------------------------------------------------------------
def _own_container(account: Any, number: str) -> Any:
    return next((c for c in account.containers if c.number == number), None)


def seeded_ticket(container: Any) -> tuple[str, str, str, datetime, str] | None:
    """(number, terminal name, status, start, move type) of a container's own appointment
    ticket (B8.6: the ticket's first part is the appointment number), else None."""
    if not container.has_ticket or container.appointment_at is None:
        return None
    terminal = TERMINAL_NAMES.get(container.ticket_terminal or "")
    if terminal is None:
        return None
    move = container.move_type or ("DROP FULL" if container.trade_type == "EXPORT" else "PICK FULL")
    return (container.pregate_ticket, terminal, container.emodal_pregate_status,
            container.appointment_at, move)


def move_of_container(container: Any) -> dict:
    """The stored move of a seeded appointment."""
    return {"container": container.number, "booking": container.booking_number,
            "line": container.line, "size_type": container.size_type}


def mark_container_booked(container: Any, number: str, terminal: str, start: datetime,
                          move_type: str, rng: Any) -> None:
    """Ecp2 shows a new booking on the container (B11.5 SHOULD), small number included."""
    if container is None:
        return
    code = terminal_code(terminal)
    width = TICKET_FORMATS.get(code, (code, 0))[1]
    small = "".join(str(rng.randint(0, 9)) for _ in range(width))
    container.record_appointment(number, small, code, start, move_type)


# ---- checks ------------------------------------------------------------------------------------
def duplicate_text(move: dict, move_type: str) -> str:
    key = f"container {move['container']}" if move.get("container") else f"booking {move['booking']}"
    return f"An appointment already exists for {key} and move type {move_type}."


def check_container(account: Any, terminal: str, move_type: str, number: str) -> dict:
    """Step-1 eligibility of one chip (B11.2 "Next checks"); returns the move it makes."""
    container = _own_container(account, number)
    if container is None:
        raise BookingRefused(f"Container {number} was not found.")
    not_eligible = BookingRefused(
        f"Container {number} is not eligible for {move_type} at this terminal.")
    if move_type == "PICK FULL":
        if container.trade_type != "IMPORT" or container.status != "IN YARD":
            raise not_eligible
        if container.current_loc != terminal_code(terminal):
            raise not_eligible
        if container.holds != "NO":
            raise BookingRefused(f"Container {number} has holds.")
    elif move_type == "DROP EMPTY":
        if container.trade_type != "IMPORT" or container.status != "GATE OUT":
            raise not_eligible
    else:
        raise not_eligible
    return {"container": number, "booking": None, "line": container.line,
            "size_type": container.size_type}


def check_booking(account: Any, number: str) -> Any:
    """Booking look-up of the booking form; refusals carry the real texts (B4)."""
    booking = account.bookings.get(number)
    if booking is None or booking.open_qty <= 0:
        raise BookingRefused(TEXT_NO_OPEN)
    if not booking.line:
        raise BookingRefused(TEXT_NO_LINE)
    return booking


def check_quantity(account: Any, number: str, quantity: int) -> None:
    booking = check_booking(account, number)
    if quantity > booking.open_qty:
        raise BookingRefused(TEXT_QUANTITY)


def check_move(account: Any, terminal: str, move_type: str, variant: str, move: dict) -> dict:
    """Normalise and re-check one submitted move of a `form_variant`; extra keys (pin,
    seals...) are kept."""
    extra = {k: v for k, v in move.items() if k not in ("container", "booking", "line", "size_type")}
    if variant == "container":
        checked = check_container(account, terminal, move_type, str(move.get("container") or ""))
    elif variant == "booking":
        booking = check_booking(account, str(move.get("booking") or ""))
        checked = {"container": None, "booking": booking.number, "line": booking.line,
                   "size_type": booking.size}
        unit = str(extra.get("unit") or "")
        if move_type == "DROP FULL" and not is_valid_container_number(unit):
            raise BookingRefused(TEXT_FAILED)
    else:
        line, size = move.get("line"), move.get("size_type")
        if line not in LINE_OPTIONS or size not in EQUIP_SIZE_OPTIONS:
            raise BookingRefused(TEXT_FAILED)
        checked = {"container": None, "booking": None, "line": line, "size_type": size}
    return {**extra, **checked}
