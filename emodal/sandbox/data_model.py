"""Data classes and reference tables of the sandbox world (PORTAL_SPEC A7.3, A12, B4, B8).

Kept apart from the generator so page modules (containers, wizard, My Appointments) can
import the shapes and constants without pulling in generation logic. Every string field of
``Container`` holds the exact text the grid shows, so pages render them verbatim.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

NA = "N/A"

# A12.3: terminal code -> wizard name, in the wizard's dropdown order.
TERMINAL_NAMES: dict[str, str] = {
    "ETSLAX": "Everport Terminal Services - Los Angeles",
    "ETSOAK": "Everport Terminal Services - Oakland",
    "ETSTAC": "Everport Terminal Services Inc. - Tacoma, WA",
    "FIT": "Florida International Terminal (FIT)",
    "HUSKY": "Husky Terminal and Stevedoring, Inc.",
    "ITS": "ITS Long Beach",
    "OICT": "OICT",
    "PCT": "Pacific Container Terminal",
    "PACKR": "Packer Avenue Marine Terminal",
    "PET": "Port Everglades Terminal",
    "SSA": "SSA Terminal - PierA / LB",
    "SSAT30": "SSAT - Terminal 30",
    "SSAT5": "SSAT - Terminal 5",
    "T18": "Terminal 18",
    "TTI": "Total Terminals Intl LLC",
    "TRPOAK": "TraPac - Oakland",
    "TRP1": "TraPac LLC - Los Angeles",
    "WUT": "Washington United Terminals",
}

# B8.4 ticket formats: terminal code -> (ticket prefix, digits of the small grey number or 0).
TICKET_FORMATS: dict[str, tuple[str, int]] = {
    "TTI": ("TTI", 6),
    "ITS": ("ITSLB", 7),
    "TRP1": ("TRPCLA", 0),
    "ETSLAX": ("ETSLAX", 0),
    "PCT": ("PCT", 0),
}

# A7.3 data-column headers in grid/export order, with the cdk column name [S] of each.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("containerNumber", "Container #"),
    ("tradeType", "Trade Type"),
    ("status", "Status"),
    ("holds", "Holds"),
    ("pregateTicket", "Pregate Ticket#"),
    ("emodalPregateStatus", "Emodal Pregate Status"),
    ("gateStatus", "Gate Status"),
    ("origin", "Origin"),
    ("destination", "Destination"),
    ("currentLoc", "Current Loc"),
    ("line", "Line"),
    ("vesselName", "Vessel Name"),
    ("vesselCode", "Vessel Code"),
    ("voyage", "Voyage"),
    ("sizeType", "Size Type"),
    ("fees", "Fees"),
    ("lfdGtd", "LFD/GTD"),
    ("tags", "Tags"),
)
HEADERS: tuple[str, ...] = tuple(header for _, header in COLUMNS)

IMPORT_MILESTONES: tuple[str, ...] = (  # B8.5, oldest -> newest
    "Container Manifested", "Discharged", "Last Free Day", "Ready for pick up", "Pregate",
    "Departed Terminal", "Arrived at customer", "Empty released by customer", "Empty Received",
)
EXPORT_MILESTONES: tuple[str, ...] = (
    "Empty Pickup", "Empty Received", "Load Departure", "Terminal In-Gate", "Loaded",
)

MASKED_TICKET = "**************"
MASKED_PREGATE_STATUS = "*********"
MASKED_GATE_STATUS = "********"


def terminal_name(code: str) -> str | None:
    """Wizard name of a terminal code, or None for non-terminal locations."""
    return TERMINAL_NAMES.get(code)


def make_ticket(terminal_code: str, day: date, serial: int, small: str = "") -> tuple[str, str]:
    """Return (ticket, small number) per B8.4: ``<PREFIX>-MMDD-NNNNN`` + optional digits."""
    prefix, width = TICKET_FORMATS.get(terminal_code, (terminal_code, 0))
    ticket = f"{prefix}-{day:%m%d}-{serial % 100000:05d}"
    return ticket, (small if width else "")


def fmt_day(value: date | None) -> str:
    """``MM/DD/YYYY`` or ``N/A``: the portal's date format."""
    return value.strftime("%m/%d/%Y") if value else NA


def fmt_time(value: datetime | None) -> str:
    """``MM/DD/YYYY HH:MM`` (24-hour) or ``N/A``."""
    return value.strftime("%m/%d/%Y %H:%M") if value else NA


@dataclass
class Milestone:
    """One timeline milestone as displayed: date text is ``N/A`` when unknown."""

    name: str
    date: str
    completed: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "date": self.date, "completed": self.completed}


@dataclass
class DetailExtras:
    """Seeded values the detail panel shows that the grid does not (B8.4, A7.7)."""

    hold_flags: tuple[bool, ...] = (False, False, False)  # custom, line, other holds
    truck: str = NA
    trucker_scac: str = NA
    driver_name: str = NA
    haz: str = NA
    od: str = NA
    reefer: str = "NO"
    yard_location: str = NA
    weight: str = NA
    fees: tuple[tuple[str, str], ...] = ()


@dataclass
class Container:
    """One grid row. Mutable: booking an appointment rewrites the ticket columns."""

    number: str
    unknown: bool = False
    badge: str = ""  # "L", "E" or "" (no badge)
    trade_type: str = NA
    status: str = NA
    holds: str = NA
    pregate_ticket: str = NA  # first part (blue link) or masked
    pregate_ticket_small: str = ""  # small grey number, "" when absent
    emodal_pregate_status: str = NA
    gate_status: str = NA
    origin: str = NA
    destination: str = NA
    current_loc: str = NA
    line: str = NA
    vessel_name: str = NA
    vessel_code: str = NA
    voyage: str = NA
    size_type: str = NA
    fees_icon: bool = False
    lfd: date | None = None
    gtd: date | None = None
    tags: str = NA
    booking_number: str | None = None  # exports only
    ticket_terminal: str | None = None  # terminal code of the ticket's appointment
    appointment_at: datetime | None = None  # start of the ticket's appointment window
    move_type: str | None = None  # move of the ticket (PICK FULL, DROP EMPTY, ...)
    masked: bool = False  # another company's ticket
    timeline: list[Milestone] = field(default_factory=list)  # newest first
    extras: DetailExtras = field(default_factory=DetailExtras)

    @property
    def lfd_gtd(self) -> str:
        """UI text ``MM/DD/YYYY - MM/DD/YYYY`` or ``N/A``."""
        if not self.lfd:
            return NA
        return f"{fmt_day(self.lfd)} - {fmt_day(self.gtd or self.lfd)}"

    @property
    def has_ticket(self) -> bool:
        """True when the row shows a real (unmasked) ticket of this account."""
        return self.pregate_ticket != NA and not self.masked

    def record_appointment(self, ticket: str, small: str, terminal_code: str,
                           at: datetime, move_type: str) -> None:
        """Apply a new booking: the row shows the ticket, CONFIRMED and PENDING (B8.4)."""
        self.pregate_ticket, self.pregate_ticket_small = ticket, small
        self.emodal_pregate_status, self.gate_status = "CONFIRMED", "PENDING"
        self.ticket_terminal, self.appointment_at, self.move_type = terminal_code, at, move_type
        self.masked = False
        for milestone in self.timeline:
            if milestone.name == "Pregate" and not milestone.completed:
                milestone.completed = True

    def grid_json(self) -> dict[str, Any]:
        """The values one grid row renders (the page script's XHR payload)."""
        return {
            "number": self.number, "unknown": self.unknown, "badge": self.badge,
            "trade_type": self.trade_type, "status": self.status, "holds": self.holds,
            "pregate_ticket": self.pregate_ticket, "pregate_ticket_small": self.pregate_ticket_small,
            "emodal_pregate_status": self.emodal_pregate_status, "gate_status": self.gate_status,
            "origin": self.origin, "destination": self.destination, "current_loc": self.current_loc,
            "line": self.line, "vessel_name": self.vessel_name, "vessel_code": self.vessel_code,
            "voyage": self.voyage, "size_type": self.size_type, "fees_icon": self.fees_icon,
            "lfd_gtd": self.lfd_gtd, "tags": self.tags,
        }

    def export_row(self) -> list[str]:
        """The A7.3 export values: no badge, ticket first part, Fees N/A, LFD/GTD unspaced."""
        return [
            self.number, self.trade_type, self.status, self.holds, self.pregate_ticket,
            self.emodal_pregate_status, self.gate_status, self.origin, self.destination,
            self.current_loc, self.line, self.vessel_name, self.vessel_code, self.voyage,
            self.size_type, NA, self.lfd_gtd.replace(" - ", "-"), self.tags,
        ]


@dataclass
class Booking:
    """A booking number of the account's bookings table (B4); ``line`` is None when missing."""

    number: str
    line: str | None
    size: str
    open_qty: int

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "line": self.line, "size": self.size, "open_qty": self.open_qty}


@dataclass
class Account:
    """A portal login with its own containers (grid order) and bookings."""

    username: str
    password: str
    companies: list[str]
    plates: list[str]
    default_page: str  # "welcome" or "containers"
    containers: list[Container] = field(default_factory=list)
    bookings: dict[str, Booking] = field(default_factory=dict)
