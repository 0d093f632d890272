"""Timelines (B8.5) and detail-panel cards (B8.4, A7.7) of generated containers.

Timelines are produced from one chain of event times per status, so completed dates are
strictly increasing and always before the reference instant (midnight of "today"), and the
ticket's appointment window is the slot in which the Pregate / In-Gate event happened.
The detail panel is computed from the live ``Container`` so a new booking shows at once.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from .data_model import (
    EXPORT_MILESTONES, IMPORT_MILESTONES, NA, Container, Milestone, fmt_day, fmt_time,
    terminal_name,
)

# Slot starts shared by every terminal's pattern (A12.3: TTI hourly, ITS 07/13/17).
SLOT_START_HOURS = (7, 13, 17)


@dataclass
class Chain:
    """Event times of one container: completed milestone -> datetime (None: no date shown)."""

    events: dict[str, datetime | None]
    appointment_at: datetime | None = None


def slot_start(rng: random.Random, day: date, tzinfo: Any) -> datetime:
    """A seeded appointment window start on ``day``."""
    return datetime.combine(day, time(rng.choice(SLOT_START_HOURS)), tzinfo)


def _later(rng: random.Random, at: datetime, lo_min: int, hi_min: int) -> datetime:
    return at + timedelta(minutes=rng.randint(lo_min, hi_min))


def _earlier(rng: random.Random, at: datetime, lo_min: int, hi_min: int) -> datetime:
    return at - timedelta(minutes=rng.randint(lo_min, hi_min))


def _arrival_chain(rng: random.Random, discharged: datetime) -> dict[str, datetime | None]:
    return {"Container Manifested": _earlier(rng, discharged, 2 * 1440, 6 * 1440),
            "Discharged": discharged}


def import_chain(rng: random.Random, status: str, holds: bool, lfd: date | None,
                 upcoming: datetime | None, ref: datetime) -> Chain:
    """Completed import milestones for a status per the B8.5 table.

    ``upcoming`` is the appointment start of an upcoming ticket (IN YARD only).
    """
    if status == "ON VESSEL":
        return Chain({"Container Manifested": _earlier(rng, ref, 1440, 10 * 1440)})
    if status == "IN YARD":
        assert lfd is not None
        discharged = datetime.combine(lfd - timedelta(days=4), time(rng.randint(1, 22)), ref.tzinfo)
        discharged = min(discharged, _earlier(rng, ref, 26 * 60, 30 * 60))
        events = _arrival_chain(rng, discharged)
        if lfd <= ref.date():
            events["Last Free Day"] = None
        if not holds:
            span = int((ref - discharged).total_seconds() // 60)
            ready = discharged + timedelta(minutes=rng.randint(span // 8, span // 3))
            events["Ready for pick up"] = ready
            if upcoming:
                events["Pregate"] = _pregate_date(rng, _later(rng, ready, 10, max(11, span // 3)))
        return Chain(events, upcoming)
    # GATE OUT / GATE IN: a full pick-up chain around a past appointment.
    back = (8, 40) if status == "GATE IN" else (5, 40)
    appt = slot_start(rng, ref.date() - timedelta(days=rng.randint(*back)), ref.tzinfo)
    pregate = _later(rng, appt, 10, 200)
    departed = _later(rng, pregate, 15, 60)
    ready = _earlier(rng, appt, 1440, 5 * 1440)
    events = _arrival_chain(rng, _earlier(rng, ready, 120, 1200))
    events.update({"Last Free Day": None, "Ready for pick up": ready,
                   "Pregate": _pregate_date(rng, pregate), "Departed Terminal": departed})
    arrived = _later(rng, departed, 60, 240)
    if status == "GATE IN" or rng.random() < 0.8:
        events["Arrived at customer"] = arrived
        released = _later(rng, arrived, 1440, 3 * 1440)
        if status == "GATE IN" or rng.random() < 0.4:
            events["Empty released by customer"] = released
    if status == "GATE IN":
        # The displayed ticket of a returned empty is its DROP EMPTY appointment.
        appt = slot_start(rng, released.date() + timedelta(days=rng.randint(1, 2)), ref.tzinfo)
        events["Empty Received"] = _later(rng, appt, 10, 200)
    return Chain(events, appt)


def export_chain(rng: random.Random, status: str, ref: datetime) -> Chain:
    """Completed export milestones: GATE OUT E1, GATE IN E1-E4, ON VESSEL E1-E5."""
    if status == "GATE OUT":  # empty picked up: the ticket is the PICK EMPTY appointment
        appt = slot_start(rng, ref.date() - timedelta(days=rng.randint(1, 4)), ref.tzinfo)
        return Chain({"Empty Pickup": _later(rng, appt, 10, 200)}, appt)
    days_back = rng.randint(1, 4) if status == "GATE IN" else rng.randint(4, 9)
    appt = slot_start(rng, ref.date() - timedelta(days=days_back), ref.tzinfo)
    in_gate = _later(rng, appt, 10, 200)
    departure = _earlier(rng, appt, 60, 300)
    pickup = _earlier(rng, departure, 3 * 1440, 8 * 1440)
    events: dict[str, datetime | None] = {
        "Empty Pickup": pickup, "Empty Received": _later(rng, pickup, 120, 1440),
        "Load Departure": departure, "Terminal In-Gate": in_gate,
    }
    if status == "ON VESSEL":
        events["Loaded"] = _later(rng, in_gate, 1440, 3 * 1440)
    return Chain(events, appt)


def _pregate_date(rng: random.Random, at: datetime) -> datetime | None:
    """A completed Pregate shows ``N/A`` about half the time (A7.8, B8.5)."""
    return at if rng.random() < 0.5 else None


def timeline(trade_type: str, chain: Chain, lfd: date | None) -> list[Milestone]:
    """Milestones newest first; pending ones read ``N/A``, Last Free Day its date if known."""
    names = IMPORT_MILESTONES if trade_type == "IMPORT" else EXPORT_MILESTONES
    result = []
    for name in reversed(names):
        completed = name in chain.events
        if name == "Last Free Day":
            text = fmt_day(lfd)
        else:
            text = fmt_time(chain.events.get(name)) if completed else NA
        result.append(Milestone(name, text, completed))
    return result


def _facility(code: str) -> str | None:
    name = terminal_name(code)
    return name.upper().replace(" - ", "-") if name else None


def _trucker_fields(c: Container) -> list[tuple[str, str]]:
    x = c.extras
    return [("Truck #", x.truck), ("Trucker Scac", x.trucker_scac), ("Driver Name", x.driver_name),
            ("Pregate Time", fmt_time(c.appointment_at) if c.has_ticket else NA),
            ("Pregate Status", c.emodal_pregate_status)]


def _cards(c: Container) -> list[dict[str, Any]]:
    x = c.extras
    hold_names = ("Custom Hold", "Line Hold", "Other Holds")
    holds = dict(zip(hold_names, ("Yes" if flag else "No" for flag in x.hold_flags)))
    holds_card = [("Custom Hold", holds["Custom Hold"]), ("Custom Release", NA),
                  ("Line Hold", holds["Line Hold"]), ("Line Release", NA),
                  ("Other Holds", holds["Other Holds"]), ("LFD", fmt_day(c.lfd)),
                  ("Good Through", fmt_day(c.gtd or c.lfd))]
    if c.trade_type == "EXPORT":
        arrival = [("Arrival Carrier", "MOTOR CARRIER"), *_trucker_fields(c), ("Rail Number", NA)]
        departure = [("Departure Carrier", "VESSEL"), ("Line", c.line),
                     ("Vessel Code/Voyage", f"{c.vessel_code}/{c.voyage.strip()}")]
    else:
        arrival = [("Arrival Carrier", "VESSEL"), ("Truck #", NA), ("Trucker Scac", NA),
                   ("Driver Name", NA), ("Pregate Time", NA), ("Pregate Status", NA),
                   ("Rail Number", NA)]
        carrier = "MOTOR CARRIER" if c.pregate_ticket != NA or c.status in ("GATE OUT", "GATE IN") else NA
        departure = [("Departure Carrier", carrier), *_trucker_fields(c)]
    other = [("Haz", x.haz), ("OD", x.od), ("Reefer", x.reefer), ("Yard Location", x.yard_location),
             ("Weight", x.weight), ("UOM", "Kilograms" if x.weight != NA else NA),
             ("Yard Status", NA)]
    cards = [("Holds/Releases", holds_card), ("Fees", list(x.fees)), ("Arrival Information", arrival),
             ("Departure Information", departure), ("Other Information", other)]
    return [{"title": title, "fields": [list(pair) for pair in fields]} for title, fields in cards]


def detail_json(c: Container) -> dict[str, Any]:
    """Everything the expanded row shows (B10 detail panel + timeline)."""
    first = _facility(c.origin) or "UNKNOWN"
    second = _facility(c.current_loc) or _facility(c.destination) or "UNKNOWN"
    return {
        "number": c.number,
        "facilities": [first, second],
        "status": c.status,
        "booking_number": c.booking_number,
        "cards": [] if c.unknown else _cards(c),
        "timeline": [m.to_json() for m in c.timeline],
    }
