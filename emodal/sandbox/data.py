"""The deterministic sandbox world: accounts, named fixtures, containers, bookings (B4, B8).

``build_world(seed, containers, today, tz, extra_accounts)`` gives identical data for identical
arguments: each account draws from its own ``random.Random("<seed>:<username>")`` (string seeds
are hashed deterministically by ``random``; Python's salted ``hash()`` is never used), and
accounts are generated in a fixed order so numbers stay unique across them.

``extra_accounts`` adds generated logins (``user001``, ``user002``, ...; see
:func:`generated_specs`) after the B4 accounts, for load and capacity measurements that need
many distinct sessions. Being generated last, they change nothing of jdoe's or asmith's data.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from .data_detail import detail_json
from .data_model import (
    COLUMNS, HEADERS, NA, TERMINAL_NAMES, TICKET_FORMATS, Account, Booking, Container, Milestone,
    make_ticket, terminal_name,
)
from .data_plan import plan_rows
from .data_rows import Generator, RowSpec, build_container

# Pages and the booking book import the model from here; the data_* modules are internals.
__all__ = [
    "COLUMNS", "HEADERS", "NA", "TERMINAL_NAMES", "TICKET_FORMATS", "Account", "Booking", "Container",
    "Milestone", "World", "build_world", "detail_json", "generated_specs", "make_ticket", "terminal_name",
]

FIRST_BATCH_SPAN = 20  # fixture rows "in the first batch" sit within this many top rows
DEEP_ROW = 300  # B4: TCLU9000099 sits at row >= 300
NEAR_SPAN = 150  # other fixtures: after the first batch, yet reachable with a few scrolls


@dataclass(frozen=True)
class Fixture:
    """A named container of B4 and where it goes: ``first``, ``deep`` or ``near``."""

    spec: RowSpec
    place: str = "near"


@dataclass(frozen=True)
class AccountSpec:
    """One row of the B4 accounts table plus its fixtures and bookings."""

    username: str
    password: str
    companies: tuple[str, ...]
    plates: tuple[str, ...]
    default_page: str
    fixed_count: int | None  # None: the ``containers`` argument
    min_exports: int
    min_upcoming: int  # upcoming tickets B8.6's seeded CONFIRMED appointments need
    fixtures: tuple[Fixture, ...]
    bookings: tuple[Booking, ...]


def _imp(number: str, status: str, **kw: Any) -> RowSpec:
    ticket = "past" if status in ("GATE OUT", "GATE IN") else "none"
    return RowSpec(number=number, trade_type="IMPORT", status=status, ticket=ticket, **kw)


def _exp(number: str, status: str, **kw: Any) -> RowSpec:
    return RowSpec(number=number, trade_type="EXPORT", status=status, ticket="past", **kw)


ACCOUNT_SPECS: tuple[AccountSpec, ...] = (
    AccountSpec(
        "jdoe", "sandbox-pass", ("B & T DRAYAGE LLC", "Harbor Cartage Express"),
        ("9E51234", "9E47781", "8Z30516", "7W92204"), "welcome", None, 3, 9,
        (
            Fixture(_imp("MSCU1000017", "ON VESSEL", holds=True, line="MSCU", destination="TTI"), "first"),
            Fixture(_imp("TGBU2000026", "IN YARD", line="MSCU", terminal="TTI", destination=NA,
                         lfd_offset=2), "first"),
            Fixture(_imp("CAIU3000032", "GATE OUT", line="HDMU", terminal="ITS")),
            Fixture(_exp("TRHU4000040", "GATE IN", line="ONEY", size_type="40HC", terminal="TRP1",
                         booking_number="RICFEM100200")),
            Fixture(RowSpec(number="HDMU5000052", unknown=True, badge="")),
            Fixture(_imp("ONEU6000067", "GATE IN", badge="E", line="ONEY")),
            Fixture(_imp("YMMU7000078", "IN YARD", holds=True, line="YMJA", terminal="ITS")),
            Fixture(_imp("TCLU9000099", "GATE OUT", line="MSCU", size_type="20GP"), "deep"),
        ),
        (Booking("RICFEM100200", "ONEY", "40HC", 3), Booking("RICFEM100300", "ONEY", "40HC", 0),
         Booking("BKGNOLINE001", None, "40DH", 2)),
    ),
    AccountSpec(
        "asmith", "sandbox-pass-2", ("SUNSET INTERMODAL INC",), ("6F11873", "6F20455"),
        "containers", 60, 1, 2,
        (
            Fixture(_imp("EISU8000080", "IN YARD", line="EGLV", terminal="ITS", destination=NA)),
            Fixture(_exp("MEDU1100115", "GATE IN", line="MSCU", booking_number="510000123")),
            Fixture(_imp("SEGU1200126", "GATE OUT", line="MSCU")),
        ),
        (Booking("510000123", "MSCU", "40DH", 2),),
    ),
)


#: Containers of each generated account: a few grid batches, enough for every list route.
GENERATED_CONTAINERS = 40
#: Trucking companies of generated accounts (each gets one, drawn from the seed).
GENERATED_COMPANIES = ("PACIFIC COAST DRAYAGE", "INLAND EMPIRE TRUCKING", "BAYSIDE CARTAGE CO",
                       "GATEWAY INTERMODAL LLC", "HARBOR LINK EXPRESS", "SIERRA FREIGHT LINES")


def generated_specs(seed: int, count: int) -> tuple[AccountSpec, ...]:
    """``count`` generated accounts: ``userNNN`` with a password drawn from the seed, one company,
    two plates, :data:`GENERATED_CONTAINERS` containers of their own, the Welcome default page."""
    specs = []
    for n in range(1, count + 1):
        username = f"user{n:03d}"
        rng = random.Random(f"{seed}:{username}:profile")
        password = f"pw-{rng.getrandbits(48):012x}"
        plates = tuple(f"{rng.randint(1, 9)}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randint(10000, 99999)}"
                       for _ in range(2))
        specs.append(AccountSpec(username, password, (rng.choice(GENERATED_COMPANIES),), plates, "welcome",
                                 GENERATED_CONTAINERS, 1, 2, (), ()))
    return tuple(specs)


@dataclass
class World:
    """All accounts; containers are looked up by number across accounts."""

    seed: int
    today: date
    tz: str
    accounts: dict[str, Account]
    _index: dict[str, tuple[Account, Container]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for account in self.accounts.values():
            for container in account.containers:
                self._index[container.number] = (account, container)

    def container(self, number: str) -> Container | None:
        """The container with this number (any account), or None."""
        hit = self._index.get((number or "").strip().upper())
        return hit[1] if hit else None

    def account_of(self, number: str) -> Account | None:
        """The account owning this container number, or None."""
        hit = self._index.get((number or "").strip().upper())
        return hit[0] if hit else None

    def oracle(self, username: str) -> dict[str, Any]:
        """Admin oracle (B15): the account's containers in grid order with timelines."""
        account = self.accounts[username.strip().lower()]
        return {
            "username": account.username,
            "total": len(account.containers),
            "containers": [_oracle_row(i, c) for i, c in enumerate(account.containers)],
        }

    def oracle_row(self, username: str, number: str) -> dict[str, Any] | None:
        """The oracle entry of one of the account's containers, or None."""
        account = self.accounts[username.strip().lower()]
        wanted = (number or "").strip().upper()
        return next((_oracle_row(i, c) for i, c in enumerate(account.containers) if c.number == wanted), None)


def _oracle_row(row: int, c: Container) -> dict[str, Any]:
    detail = detail_json(c)
    return {
        "row": row, **c.grid_json(),
        "booking_number": c.booking_number, "masked": c.masked,
        "ticket_terminal": c.ticket_terminal, "move_type": c.move_type,
        "appointment_at": c.appointment_at.isoformat() if c.appointment_at else None,
        "export_row": c.export_row(), "facilities": detail["facilities"], "cards": detail["cards"],
        "timeline": detail["timeline"],
    }


def build_world(seed: int, containers: int, today: date, tz: str | tzinfo, extra_accounts: int = 0) -> World:
    """Generate every account's data for this seed, jdoe size, date, time zone and number of
    generated accounts."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    ref = datetime.combine(today, time(0, 0), zone)
    used_numbers = {f.spec.number for spec in ACCOUNT_SPECS for f in spec.fixtures if f.spec.number}
    used_tickets: set[str] = set()
    accounts = {}
    for spec in ACCOUNT_SPECS + generated_specs(seed, extra_accounts):
        gen = Generator(random.Random(f"{seed}:{spec.username}"), today, ref, used_numbers, used_tickets)
        total = spec.fixed_count if spec.fixed_count is not None else containers
        accounts[spec.username] = _build_account(gen, spec, total)
    return World(seed=seed, today=today, tz=str(tz), accounts=accounts)


def _build_account(gen: Generator, spec: AccountSpec, total: int) -> Account:
    if total < len(spec.fixtures):
        raise ValueError(f"{spec.username} needs at least {len(spec.fixtures)} containers")
    fixture_specs = [f.spec for f in spec.fixtures]
    generated = [build_container(gen, row) for row in
                 plan_rows(gen.rng, total, fixture_specs, spec.min_exports, spec.min_upcoming)]
    fixtures = [(f.place, build_container(gen, f.spec)) for f in spec.fixtures]
    return Account(
        username=spec.username, password=spec.password, companies=list(spec.companies),
        plates=list(spec.plates), default_page=spec.default_page,
        containers=_grid_order(gen.rng, generated, fixtures, total),
        bookings={b.number: Booking(b.number, b.line, b.size, b.open_qty) for b in spec.bookings},
    )


def _grid_order(rng: random.Random, generated: list[Container],
                fixtures: list[tuple[str, Container]], total: int) -> list[Container]:
    """Seeded grid order with the fixtures at their B4 positions."""
    rng.shuffle(generated)
    slots: list[Container | None] = [None] * total
    ranges = {"first": (0, min(FIRST_BATCH_SPAN, total)),
              "deep": (min(DEEP_ROW, total - 1), total),
              "near": (min(FIRST_BATCH_SPAN + 4, total - 1), min(NEAR_SPAN, total))}
    for place, container in fixtures:
        lo, hi = ranges[place]
        free = [i for i in range(lo, hi) if slots[i] is None] or [i for i in range(total) if slots[i] is None]
        slots[rng.choice(free)] = container
    rest = iter(generated)
    return [slot if slot is not None else next(rest) for slot in slots]
