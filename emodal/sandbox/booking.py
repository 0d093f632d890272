"""Slots, capacity and appointments of the sandbox portal (PORTAL_SPEC B11.5, B8.6, B12).

Pure Python: no Flask. The wizard and My Appointments pages call a `BookingBook` that the
platform builds from the world after data generation. Capacity is computed lazily from a
seeded hash of (seed, terminal, slot start), so the slot window can roll forward with the
sandbox clock without regenerating anything; only consumed or admin-set capacities are stored.
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
import datetime as dt
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Iterable

from . import booking_rules as rules
from .booking_rules import BookingRefused

TTI = "Total Terminals Intl LLC"
ITS = "ITS Long Beach"
PORT_EVERGLADES = "Port Everglades Terminal"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SUNDAY = 6
# Slots of these start hours get a capacity of at least 2 every day, so TTI and ITS always offer
# at least 3 such slots within 3 days whatever the seed (B11.5 "Guarantee"): even from a
# Saturday night, Monday (today + 2) carries three of them.
_GUARANTEED_HOURS = {TTI: {10, 14, 19}, ITS: {13, 17, 23}}
# (probability of zero capacity, lowest, highest) per terminal family.
_CAPACITY_DRAW = {TTI: (0.6, 1, 3), ITS: (0.3, 2, 10), "other": (0.5, 1, 4)}
EMPTY_TEXT_TTI = "No Appointments Available!"
EMPTY_TEXT = "No Appointments Available"
UPCOMING_STATUS = "CONFIRMED"
SEEDED_COUNTS = {"jdoe": 45, "asmith": 8}
_STATUS_SHARES = (("COMPLETED", 0.6), ("MISSED", 0.1), ("CANCELED", 0.1), (UPCOMING_STATUS, 0.2))


def slot_text(start: datetime, end: datetime) -> str:
    """`Friday 10/03/2025 23:00 - 01:30`: English weekday and date of the start (A8.4)."""
    return f"{_WEEKDAYS[start.weekday()]} {start:%m/%d/%Y %H:%M} - {end:%H:%M}"


def daily_slots(terminal: str, day: date, tz: Any) -> list[tuple[datetime, datetime]]:
    """The terminal's slot pattern for one day (B11.5), as aware (start, end) pairs."""
    def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
        return datetime.combine(day + timedelta(days=days), time(hour % 24, minute), tz)

    if terminal == PORT_EVERGLADES:
        return []  # the empty-case fixture: never any slot
    if terminal == TTI:
        pairs = [(at(h), at(h + 1)) for h in range(7, 23)]
        late_end = 1 if day.weekday() == 5 else 2  # Saturday's late slot is shorter
        return pairs + [(at(23), at(late_end, days=1))]
    if terminal == ITS:
        return [(at(7), at(12)), (at(13), at(16)), (at(17), at(22)), (at(23), at(1, 30, days=1))]
    return [(at(h, 30), at(h + 1, 30, days=1 if h == 23 else 0)) for h in range(6, 24)]


@dataclass
class Appointment:
    """One booked move, as stored (B11.5 "Stored") and shown on My Appointments (B12)."""

    number: str
    username: str
    company: str
    terminal: str
    move_type: str
    container: str | None
    booking: str | None
    line: str
    size_type: str
    plate: str
    slot: str
    start: datetime
    status: str
    created: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def time_text(self) -> str:
        """`MM/DD/YYYY HH:MM - HH:MM` [S]: the slot text without its weekday."""
        return self.slot.split(" ", 1)[1]

    def row(self) -> list[str]:
        """The My Appointments columns (`myappointments.COLUMNS`), as displayed and exported."""
        return [self.number, self.time_text, self.terminal, self.move_type, self.container or "",
                self.booking or "", self.line, self.size_type, self.plate, self.company, self.status]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(start=self.start.isoformat(), created=self.created.isoformat(),
                     appointment_time=self.time_text)
        return data


class BookingBook:
    """Shared slot capacity plus every account's appointments; all mutations under `lock`."""

    def __init__(self, world: Any, clock: Any, seed: int, *,
                 knob: Callable[[str], Any] | None = None,
                 lock: threading.RLock | None = None) -> None:
        self.world = world
        self.clock = clock
        self.seed = seed
        self.lock = lock or threading.RLock()
        self._knob = knob or (lambda name: None)
        self._capacity: dict[tuple[str, datetime], int] = {}
        self._appointments: list[Appointment] = []
        self._numbers: set[str] = set()
        with self.lock:
            for username in world.accounts:
                self._seed_appointments(username)

    # ---- slots and capacity -------------------------------------------------------------
    @property
    def slot_days(self) -> int:
        return int(self._knob("slot_days") or 7)

    def _now(self) -> datetime:
        return self.clock.now()

    def _window(self, terminal: str, day: date | None = None) -> list[tuple[datetime, datetime]]:
        """Bookable (start, end) pairs: window days, no Sundays, not started (B11.5)."""
        now = self._now()
        first = now.date()
        days = [first + timedelta(days=i) for i in range(self.slot_days)]
        if day is not None:
            days = [d for d in days if d == day]
        return [pair for d in days if d.weekday() != _SUNDAY
                for pair in daily_slots(terminal, d, now.tzinfo) if pair[0] > now]

    def _seeded_capacity(self, terminal: str, start: datetime) -> int:
        rng = random.Random(f"{self.seed}:capacity:{terminal}:{start:%Y-%m-%dT%H:%M}")
        zero, low, high = _CAPACITY_DRAW.get(terminal, _CAPACITY_DRAW["other"])
        if start.hour in _GUARANTEED_HOURS.get(terminal, ()):
            return rng.randint(max(low, 2), max(high, 3))
        return 0 if rng.random() < zero else rng.randint(low, high)

    def capacity(self, terminal: str, start: datetime) -> int:
        """Remaining capacity of one slot (stored override, else the seeded value)."""
        with self.lock:
            return self._capacity.get((terminal, start), self._seeded_capacity(terminal, start))

    def slots(self, terminal: str, move: str | None = None, day: date | None = None) -> list[str]:
        """Option texts with remaining capacity > 0, chronological. The move type does not
        change availability in the sandbox; it is accepted so callers state what they ask."""
        with self.lock:
            return [slot_text(s, e) for s, e in self._window(terminal, day)
                    if self.capacity(terminal, s) > 0]

    def available_days(self, terminal: str) -> list[date]:
        """Days of the window with at least one bookable slot (datepicker enabled days)."""
        with self.lock:
            return sorted({s.date() for s, _ in self._window(terminal) if self.capacity(terminal, s) > 0})

    @staticmethod
    def empty_text(terminal: str) -> str:
        """The single option shown without availability: TTI's carries a `!` (A8.4)."""
        return EMPTY_TEXT_TTI if terminal == TTI else EMPTY_TEXT

    def _find_slot(self, terminal: str, text: str) -> tuple[datetime, datetime] | None:
        return next((p for p in self._window(terminal) if slot_text(*p) == text.strip()), None)

    def capacity_report(self, terminal: str | None = None, date: str | None = None) -> list[dict]:
        """Every window slot (zero capacity included) for `GET /_sandbox/slots`; `date` is
        `YYYY-MM-DD`."""
        terminals = [terminal] if terminal else rules.terminal_names()
        day = dt.date.fromisoformat(date) if date else None
        with self.lock:
            return [{"terminal": t, "slot": slot_text(s, e), "date": s.date().isoformat(),
                     "start": s.isoformat(), "capacity": self.capacity(t, s)}
                    for t in terminals for s, e in self._window(t, day)]

    def set_capacity(self, terminal: str, slot: str, capacity: int) -> dict:
        """`PUT /_sandbox/slots`: slot is the option text; raises KeyError when unknown."""
        with self.lock:
            pair = self._find_slot(terminal, slot)
            if pair is None:
                raise KeyError(f"unknown slot {slot!r} at {terminal!r}")
            self._capacity[(terminal, pair[0])] = max(0, int(capacity))
            return {"terminal": terminal, "slot": slot, "capacity": self._capacity[(terminal, pair[0])]}

    # ---- appointments ---------------------------------------------------------------------
    def _new_number(self, terminal: str, day: date, rng: random.Random) -> str:
        prefix = rules.ticket_prefix(terminal)
        while True:
            number = f"{prefix}-{day:%m%d}-{rng.randint(0, 99999):05d}"
            if number not in self._numbers:
                self._numbers.add(number)
                return number

    def has_duplicate(self, key: str, move_type: str) -> bool:
        """A future CONFIRMED appointment for this container/booking and move type (B11.5)."""
        now = self._now()
        with self.lock:
            return any(a.status == UPCOMING_STATUS and a.move_type == move_type
                       and key in (a.container, a.booking) and a.start > now
                       for a in self._appointments)

    def book(self, account: Any, company: str, terminal: str, move_type: str,
             moves: list[dict], plate: str, slot: str) -> list[Appointment]:
        """Book every move into one slot atomically, or raise `BookingRefused` (B16 text).

        Everything is re-checked under the lock (moves, duplicates, capacity) because the
        wizard's earlier checks may be stale: another browser may have taken the last place.
        """
        with self.lock:
            variant = rules.form_variant(move_type, terminal, self._knob("line_size_terminals"))
            checked = [rules.check_move(account, terminal, move_type, variant, m) for m in moves]
            if not checked:
                raise BookingRefused(rules.TEXT_FAILED)
            for move in checked:
                key = move["container"] or move["booking"]
                if key and self.has_duplicate(key, move_type):
                    raise BookingRefused(rules.duplicate_text(move, move_type))
            if plate not in account.plates or company not in account.companies:
                raise BookingRefused(rules.TEXT_FAILED)
            pair = self._find_slot(terminal, slot)
            if pair is None or self.capacity(terminal, pair[0]) < len(checked):
                raise BookingRefused(rules.TEXT_SLOT_GONE)
            self._capacity[(terminal, pair[0])] = self.capacity(terminal, pair[0]) - len(checked)
            rng = random.Random(f"{self.seed}:book:{len(self._appointments)}:{slot}")
            made = [self._store(account.username, company, terminal, move_type, move, plate, pair,
                                self._new_number(terminal, pair[0].date(), rng), UPCOMING_STATUS)
                    for move in checked]
            for appointment in made:
                if appointment.container:
                    rules.mark_container_booked(self.world.container(appointment.container),
                                                appointment.number, terminal, pair[0], move_type, rng)
            return made

    def _store(self, username: str, company: str, terminal: str, move_type: str, move: dict,
               plate: str, pair: tuple[datetime, datetime], number: str, status: str,
               created: datetime | None = None) -> Appointment:
        appointment = Appointment(
            number=number, username=username, company=company, terminal=terminal,
            move_type=move_type, container=move.get("container"), booking=move.get("booking"),
            line=move.get("line") or "", size_type=move.get("size_type") or "", plate=plate,
            slot=slot_text(*pair), start=pair[0], status=status, created=created or self.clock.now(),
            details={k: v for k, v in move.items()
                     if k not in ("container", "booking", "line", "size_type")})
        self._appointments.append(appointment)
        return appointment

    def appointments_of(self, username: str) -> list[Appointment]:
        """One account's appointments: upcoming ascending, then past descending (B12)."""
        now = self._now()
        with self.lock:
            mine = [a for a in self._appointments if a.username.lower() == username.lower()]
        upcoming = sorted((a for a in mine if a.start > now), key=lambda a: (a.start, a.number))
        past = sorted((a for a in mine if a.start <= now), key=lambda a: (a.start, a.number),
                      reverse=True)
        return upcoming + past

    def oracle(self, username: str) -> list[dict]:
        """`GET /_sandbox/accounts/<user>/appointments`: the page's rows, in page order."""
        return [a.to_json() for a in self.appointments_of(username)]

    # ---- seeded appointments (B8.6) -------------------------------------------------------
    def _seed_appointments(self, username: str) -> None:
        """Turn some of the account's ticketed containers into appointments whose numbers are
        the tickets' first parts, with status shares 60/10/10/20 % where the world allows."""
        account = self.world.accounts[username]
        rng = random.Random(f"{self.seed}:{account.username}:appointments")
        pools: dict[str, list[tuple]] = {}
        for container in account.containers:
            ticket = rules.seeded_ticket(container)
            if ticket:
                pools.setdefault(ticket[2], []).append((container, ticket))
        for pool in pools.values():
            rng.shuffle(pool)
        for container, ticket in _pick_by_share(pools, SEEDED_COUNTS.get(username.lower(), 0)):
            self._seed_one(account, container, ticket, rng)

    def _seed_one(self, account: Any, container: Any, ticket: tuple, rng: random.Random) -> None:
        number, terminal, status, start, move_type = ticket
        if start.tzinfo is None:
            start = start.replace(tzinfo=self._now().tzinfo)
        pattern = daily_slots(terminal, start.date(), start.tzinfo) or \
            daily_slots("other", start.date(), start.tzinfo)
        end = next((e for s, e in pattern if s == start), start + timedelta(hours=1))
        if status == UPCOMING_STATUS and start > self._now():
            # Seeded upcoming appointments hold a place like any booking would.
            self._capacity[(terminal, start)] = max(0, self.capacity(terminal, start) - 1)
        self._numbers.add(number)
        self._store(account.username, account.companies[0], terminal, move_type,
                    rules.move_of_container(container), rng.choice(account.plates),
                    (start, end), number, status,
                    # Derived from the slot, not the wall clock: same seed, same oracle.
                    created=start - timedelta(days=2))


def _pick_by_share(pools: dict[str, list[tuple]], wanted: int) -> list[tuple]:
    """Take `wanted` items, each status by its share (largest remainders, so the quotas add
    up exactly), topping up from any pool left over when the world lacks a status."""
    exact = [(status, wanted * share) for status, share in _STATUS_SHARES]
    quotas = {status: int(value) for status, value in exact}
    by_remainder = sorted(exact, key=lambda item: item[1] - int(item[1]), reverse=True)
    for status, _ in by_remainder[:wanted - sum(quotas.values())]:
        quotas[status] += 1
    chosen: list[tuple] = []
    for status, quota in quotas.items():
        chosen += pools.get(status, [])[:quota]
        pools[status] = pools.get(status, [])[quota:]
    leftovers: Iterable[tuple] = (c for pool in pools.values() for c in pool)
    for item in leftovers:
        if len(chosen) >= wanted:
            break
        chosen.append(item)
    return chosen
