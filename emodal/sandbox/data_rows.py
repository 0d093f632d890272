"""Turning a row shape (``RowSpec``) into a fully populated ``Container`` (B8.2, B8.4).

The shape (status, holds, badge, size, ticket kind...) is decided by quotas in
``data_plan``; everything else (number, line, vessel, voyage, locations, dates, tickets,
detail extras) is drawn here from the account's PRNG. Named fixtures use the same path
with forced values, so they look like any other row.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from . import iso6346
from .data_detail import Chain, export_chain, import_chain, slot_start, timeline
from .data_model import NA, Container, DetailExtras, MASKED_GATE_STATUS, MASKED_PREGATE_STATUS, \
    MASKED_TICKET, make_ticket

# B8.2 owner-prefix families: (weight, prefixes, line or None for "lessor").
PREFIX_FAMILIES: tuple[tuple[float, tuple[str, ...], str | None], ...] = (
    (45, ("MSDU", "MSMU", "MSNU", "MSBU", "MSCU", "MEDU"), "MSCU"),
    (35, ("TGBU", "TCNU", "TCLU", "TRHU", "TXGU", "TIIU", "TEMU", "TLLU", "FFAU", "CAIU", "BEAU",
          "GAOU", "GCXU", "GLDU", "FBLU", "RFCU", "UETU", "SEGU", "CRSU"), None),
    (7, ("HMMU", "HDMU", "KOCU"), "HDMU"),
    (5, ("ONEU", "NYKU"), "ONEY"),
    (5, ("YMMU", "YMLU"), "YMJA"),
    (3, ("EISU",), "EGLV"),
)
LESSOR_LINES = ("MSCU", "ONEY", "HDMU", "CMDU", "YMJA", "GMSU", "OOLU", "EGLV")

# Vessel name -> first six IMO digits; the seventh is the IMO check digit (B8.2).
VESSEL_IMO6: dict[str, str] = {
    "MSC ARIANE": "948444", "MSC JOSSELINE": "939802", "MSC VITA": "930437",
    "MSC BETTINA": "939980", "MSC ALIYA": "946509", "MSC AMSTERDAM": "961835",
    "MSC FLORA": "929531", "MSC VENICE": "937245", "MSC UBERTY VIII": "922546",
    "MSC COTONOU VIII": "920261", "ONE ALTAIR": "933763", "ONE MANEUVER": "974174",
    "NYK METEOR": "946217", "YM WHOLESOME": "968401", "YM WELLNESS": "968402",
    "HMM AMETHYST": "974253", "CMA CGM BETTER WAYS": "984019", "NMT": "930812",
    "YMB": "935427", "YMM": "936019", "NDT": "927508", "VALUE": "918375",
}
LINE_VESSELS: dict[str, tuple[str, ...]] = {
    "MSCU": tuple(name for name in VESSEL_IMO6 if name.startswith("MSC ")),
    "ONEY": ("ONE ALTAIR", "ONE MANEUVER", "NYK METEOR"),
    "YMJA": ("YM WHOLESOME", "YM WELLNESS"),
    "HDMU": ("HMM AMETHYST",),
    "CMDU": ("CMA CGM BETTER WAYS",),
}
SHORT_VESSELS = ("NMT", "YMB", "YMM", "NDT", "VALUE")

# Terminal codes weighted towards the five big ones (B8.4).
TERMINAL_WEIGHTS: dict[str, float] = {
    "TTI": 24, "ITS": 20, "TRP1": 14, "ETSLAX": 12, "PCT": 10, "SSA": 4, "ETSOAK": 2,
    "ETSTAC": 1.5, "FIT": 1.5, "HUSKY": 1.5, "OICT": 1.5, "PACKR": 1, "PET": 1, "SSAT30": 1.5,
    "SSAT5": 1.5, "T18": 1, "TRPOAK": 1, "WUT": 1,
}
RAIL_DESTINATIONS = ("LPCHI", "BNLPC")
DRIVERS = ("JOSE MARTINEZ", "DAVID NGUYEN", "MARIA LOPEZ", "JAMES CARTER", "LUIS HERNANDEZ",
           "KEVIN PARK", "ANA SILVA", "ROBERT JOHNSON")
FEE_NAMES = ("Demurrage", "Exam Fee", "Clean Truck Fee", "TMF")


@dataclass
class RowSpec:
    """The decided shape of one row; ``None`` fields are drawn at build time."""

    unknown: bool = False
    trade_type: str = "IMPORT"
    status: str = "GATE OUT"
    holds: bool = False
    badge: str = "L"
    size_type: str = "40DH"
    fees: bool = False
    ticket: str = "none"  # none | upcoming | past | masked
    outcome: str = "COMPLETED"  # past tickets: COMPLETED | MISSED | CANCELED
    number: str | None = None
    line: str | None = None
    terminal: str | None = None
    destination: str | None = None
    lfd_offset: int | None = None  # IN YARD: LFD = today + offset
    booking_number: str | None = None


@dataclass
class Generator:
    """Per-account draw state; ``used`` sets are shared across accounts for uniqueness."""

    rng: random.Random
    today: date
    ref: datetime  # midnight of today in the sandbox tz: every completed event is before it
    used_numbers: set[str] = field(default_factory=set)
    used_tickets: set[str] = field(default_factory=set)

    def weighted(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def new_number(self, prefix: str) -> str:
        while True:
            number = iso6346.container_number(prefix, self.rng.randint(100000, 999999))
            if number and number not in self.used_numbers:
                self.used_numbers.add(number)
                return number

    def draw_prefix_and_line(self) -> tuple[str, str]:
        weights = [family[0] for family in PREFIX_FAMILIES]
        _, prefixes, line = self.rng.choices(PREFIX_FAMILIES, weights=weights)[0]
        return self.rng.choice(prefixes), line or self.rng.choice(LESSOR_LINES)

    def vessel(self, line: str) -> tuple[str, str]:
        names = LINE_VESSELS.get(line)
        name = self.rng.choice(names) if names and self.rng.random() >= 0.05 else self.rng.choice(SHORT_VESSELS)
        return name, iso6346.imo_number(VESSEL_IMO6[name])

    def voyage(self) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.45:
            text = f"{r.choice(('FV', 'GO', 'FA', 'QR', 'MA'))}{r.randint(500, 560)}{r.choice('NSEW')}"
        elif kind < 0.95:
            text = f"{r.randint(20, 99):03d}{r.choice('EWA')}"
        else:
            text = f"0{''.join(r.choice('ABCDEKLM') for _ in range(5))}1MA"
        return text + " " if r.random() < 0.03 else text  # B8.2: ~3% keep a trailing space

    def ticket(self, terminal: str, day: date) -> tuple[str, str]:
        while True:
            small = str(self.rng.randint(10 ** 6, 10 ** 7 - 1)) if terminal == "ITS" else \
                str(self.rng.randint(10 ** 5, 10 ** 6 - 1))
            ticket, small = make_ticket(terminal, day, self.rng.randint(1, 99999), small)
            if ticket not in self.used_tickets:
                self.used_tickets.add(ticket)
                return ticket, small

    def booking_number(self) -> str:
        if self.rng.random() < 0.8:
            letters = "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(6))
            return f"{letters}{self.rng.randint(0, 999999):06d}"
        return str(self.rng.randint(100000000, 999999999))


def build_unknown(gen: Generator, spec: RowSpec) -> Container:
    """A row the portal knows nothing about: every column ``N/A``, no badge, no timeline."""
    number = spec.number or gen.new_number(gen.draw_prefix_and_line()[0])
    return Container(number=number, unknown=True)


def build_container(gen: Generator, spec: RowSpec) -> Container:
    """Draw every column of a known row consistently with its status (B8.4, B8.5)."""
    if spec.unknown:
        return build_unknown(gen, spec)
    if spec.number:
        number, line = spec.number, spec.line or "MSCU"
    else:
        prefix, drawn_line = gen.draw_prefix_and_line()
        number, line = gen.new_number(prefix), spec.line or drawn_line
    vessel_name, vessel_code = gen.vessel(line)
    terminal = spec.terminal or gen.weighted(TERMINAL_WEIGHTS)
    c = Container(number=number, badge=spec.badge, trade_type=spec.trade_type, status=spec.status,
                  holds="YES" if spec.holds else "NO", line=line, vessel_name=vessel_name,
                  vessel_code=vessel_code, voyage=gen.voyage(), size_type=spec.size_type,
                  fees_icon=spec.fees)
    if spec.trade_type == "EXPORT":
        _fill_export(gen, spec, c, terminal)
    else:
        _fill_import(gen, spec, c, terminal)
    c.extras = _extras(gen, spec, c)
    return c


def _fill_import(gen: Generator, spec: RowSpec, c: Container, terminal: str) -> None:
    rng, status = gen.rng, spec.status
    if status == "ON VESSEL":
        c.destination = spec.destination or terminal
        chain = import_chain(rng, status, spec.holds, None, None, gen.ref)
    else:
        c.origin = terminal
        if status == "IN YARD":
            c.current_loc = terminal
            c.destination = spec.destination or (rng.choice(RAIL_DESTINATIONS) if rng.random() < 0.1 else NA)
            offset = spec.lfd_offset if spec.lfd_offset is not None else rng.randint(-3, 5)
            c.lfd = gen.today + timedelta(days=offset)
            upcoming = None
            if spec.ticket == "upcoming":
                day = gen.today + timedelta(days=rng.randint(1, 3))
                upcoming = slot_start(rng, day, gen.ref.tzinfo)
            chain = import_chain(rng, status, spec.holds, c.lfd, upcoming, gen.ref)
        else:
            c.current_loc = terminal if status == "GATE IN" else NA
            chain = import_chain(rng, status, spec.holds, None, None, gen.ref)
            discharged = chain.events["Discharged"]
            assert discharged is not None
            c.lfd = min(discharged.date() + timedelta(days=rng.randint(3, 5)), gen.today - timedelta(days=1))
    if c.lfd:
        gtd = c.lfd if rng.random() < 0.5 else c.lfd + timedelta(days=rng.randint(1, 3))
        c.gtd = gtd if status == "IN YARD" else min(gtd, gen.today - timedelta(days=1))
    move = "DROP EMPTY" if status == "GATE IN" else "PICK FULL"
    _apply_ticket(gen, spec, c, terminal, chain, move)
    c.timeline = timeline("IMPORT", chain, c.lfd)


def _fill_export(gen: Generator, spec: RowSpec, c: Container, terminal: str) -> None:
    rng = gen.rng
    c.destination = terminal
    c.current_loc = NA if spec.status == "ON VESSEL" else terminal
    c.lfd = gen.today + timedelta(days=rng.randint(0, 10))
    c.gtd = c.lfd if rng.random() < 0.6 else c.lfd + timedelta(days=rng.randint(1, 3))
    c.booking_number = spec.booking_number or gen.booking_number()
    chain = export_chain(rng, spec.status, gen.ref)
    _apply_ticket(gen, spec, c, terminal, chain, "PICK EMPTY" if spec.status == "GATE OUT" else "DROP FULL")
    c.timeline = timeline("EXPORT", chain, None)


_OUTCOME_GATE = {"COMPLETED": "ACCEPTED", "MISSED": "REJECTED", "CANCELED": "CANCELED"}


def _apply_ticket(gen: Generator, spec: RowSpec, c: Container, terminal: str, chain: Chain,
                  move: str) -> None:
    if spec.ticket == "none" or chain.appointment_at is None:
        return
    if spec.ticket == "masked":  # another company's appointment: nothing of it is shown
        c.pregate_ticket, c.emodal_pregate_status, c.gate_status = \
            MASKED_TICKET, MASKED_PREGATE_STATUS, MASKED_GATE_STATUS
        c.masked = True
        return
    c.pregate_ticket, c.pregate_ticket_small = gen.ticket(terminal, chain.appointment_at.date())
    c.ticket_terminal, c.appointment_at, c.move_type = terminal, chain.appointment_at, move
    if spec.ticket == "upcoming":
        c.emodal_pregate_status = "CONFIRMED"
        c.gate_status = "CONFIRMED" if gen.rng.random() < 0.5 else "PENDING"
    else:
        c.emodal_pregate_status, c.gate_status = spec.outcome, _OUTCOME_GATE[spec.outcome]


def _extras(gen: Generator, spec: RowSpec, c: Container) -> DetailExtras:
    rng = gen.rng
    # Holds YES: one or two of Custom/Line/Other holds (B8.4).
    chosen = set(rng.sample(range(3), rng.randint(1, 2))) if spec.holds else set()
    flags = tuple(i in chosen for i in range(3))
    trucked = c.has_ticket and spec.ticket == "past"
    extras = DetailExtras(
        hold_flags=flags,
        truck=f"{rng.randint(1, 9)}{rng.choice('EFWZ')}{rng.randint(10000, 99999)}" if trucked else NA,
        trucker_scac="".join(rng.choice("ABCDEFGHKLMNPRSTW") for _ in range(4)) if trucked else NA,
        driver_name=rng.choice(DRIVERS) if trucked else NA,
        haz=rng.choice((NA, "NO")), od=rng.choice((NA, "NO")),
        reefer="YES" if c.size_type == "40RH" else "NO",
        yard_location="WHEELED" if rng.random() < 0.3 else f"#{rng.randint(100, 999)}",
        weight=str(rng.randint(2000, 30480)),
    )
    if c.fees_icon:
        extras.fees = ((rng.choice(FEE_NAMES), f"${rng.randint(2, 60) * 25}.00"),)
    return extras
