"""Unit tests of the sandbox booking book (PORTAL_SPEC B11.5, B8.6, B12): pure Python."""
from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from emodal.sandbox import booking_rules as rules
from emodal.sandbox.booking import BookingBook, daily_slots, slot_text
from emodal.sandbox.booking_rules import BookingRefused
from emodal.sandbox.data_model import Account, Booking, Container

TZ = ZoneInfo("America/Los_Angeles")
TTI = "Total Terminals Intl LLC"
ITS = "ITS Long Beach"
SLOT_RE = re.compile(r"^[A-Z][a-z]+day \d\d/\d\d/\d{4} \d\d:\d\d - \d\d:\d\d$")
# Wednesday 10:15 local: the window runs Wed..Tue, with Sunday skipped.
NOW = datetime(2025, 10, 22, 10, 15, tzinfo=TZ)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def today(self) -> date:
        return self.current.date()


def _container(number: str, **fields) -> Container:
    base = dict(trade_type="IMPORT", status="IN YARD", holds="NO", current_loc="TTI",
                line="MSCU", size_type="40DH")
    base.update(fields)
    return Container(number=number, **base)


def _ticketed(i: int, status: str, start: datetime) -> Container:
    return _container(f"MSCU{i:06d}0", status="GATE OUT", pregate_ticket=f"TTI-{start:%m%d}-{i:05d}",
                      emodal_pregate_status=status, gate_status="ACCEPTED", ticket_terminal="TTI",
                      appointment_at=start, move_type="PICK FULL")


def _world() -> SimpleNamespace:
    seeded = [_ticketed(i, "COMPLETED", NOW - timedelta(days=1 + i % 20, hours=i % 5)) for i in range(40)]
    seeded += [_ticketed(100 + i, s, NOW - timedelta(days=2 + i)) for i, s in
               enumerate(["MISSED"] * 6 + ["CANCELED"] * 6)]
    seeded += [_ticketed(200 + i, "CONFIRMED", datetime.combine(NOW.date() + timedelta(days=1 + i % 2),
                                                                datetime.min.time(), TZ).replace(hour=9 + i))
               for i in range(10)]
    jdoe = Account("jdoe", "sandbox-pass", ["B & T DRAYAGE LLC", "Harbor Cartage Express"],
                   ["9E51234", "9E47781"], "welcome",
                   containers=[_container("TGBU2000026"), _container("YMMU7000078", holds="YES"),
                               _container("CAIU3000032", status="GATE OUT", current_loc="N/A",
                                          origin="ITS"),
                               _container("MSCU1000017", status="ON VESSEL")] + seeded,
                   bookings={"RICFEM100200": Booking("RICFEM100200", "ONEY", "40HC", 3),
                             "RICFEM100300": Booking("RICFEM100300", "ONEY", "40HC", 0),
                             "BKGNOLINE001": Booking("BKGNOLINE001", None, "40DH", 2)})
    asmith = Account("asmith", "sandbox-pass-2", ["SUNSET INTERMODAL INC"], ["6F11873"], "containers",
                     containers=[_container("EISU8000080", current_loc="ITS")])
    accounts = {"jdoe": jdoe, "asmith": asmith}
    by_number = {c.number: c for a in accounts.values() for c in a.containers}
    return SimpleNamespace(accounts=accounts, container=by_number.get)


@pytest.fixture
def world() -> SimpleNamespace:
    return _world()


@pytest.fixture
def book(world) -> BookingBook:
    return BookingBook(world, FakeClock(NOW), seed=1, knob={"slot_days": 7}.get)


def _open_slot(book: BookingBook, terminal: str) -> str:
    return book.slots(terminal, "PICK FULL")[0]


def test_slot_patterns_follow_b11_5() -> None:
    monday, saturday = date(2025, 10, 20), date(2025, 10, 25)
    tti = [slot_text(*p) for p in daily_slots(TTI, monday, TZ)]
    assert tti[0] == "Monday 10/20/2025 07:00 - 08:00"
    assert tti[-2:] == ["Monday 10/20/2025 22:00 - 23:00", "Monday 10/20/2025 23:00 - 02:00"]
    assert slot_text(*daily_slots(TTI, saturday, TZ)[-1]) == "Saturday 10/25/2025 23:00 - 01:00"
    its = [slot_text(*p)[-13:] for p in daily_slots(ITS, monday, TZ)]
    assert its == ["07:00 - 12:00", "13:00 - 16:00", "17:00 - 22:00", "23:00 - 01:30"]
    other = [slot_text(*p)[-13:] for p in daily_slots("OICT", monday, TZ)]
    assert other[0] == "06:30 - 07:30" and other[-1] == "23:30 - 00:30"
    assert daily_slots("Port Everglades Terminal", monday, TZ) == []


def test_window_excludes_started_slots_sundays_and_far_days(book) -> None:
    texts = book.slots(TTI, "PICK FULL") + book.slots("OICT", "PICK FULL")
    assert texts and all(SLOT_RE.match(t) for t in texts)
    starts = [datetime.strptime(t.split(" ", 1)[1][:16], "%m/%d/%Y %H:%M").replace(tzinfo=TZ)
              for t in texts]
    assert all(s > NOW for s in starts)
    assert all(s.weekday() != 6 for s in starts)
    assert max(s.date() for s in starts) <= NOW.date() + timedelta(days=6)
    tti = book.slots(TTI, "PICK FULL")
    assert tti == sorted(tti, key=lambda t: datetime.strptime(t.split(" ", 1)[1][:16], "%m/%d/%Y %H:%M"))


def test_capacity_is_deterministic_per_seed(world) -> None:
    first = BookingBook(world, FakeClock(NOW), seed=7).capacity_report(TTI)
    again = BookingBook(_world(), FakeClock(NOW), seed=7).capacity_report(TTI)
    other = BookingBook(_world(), FakeClock(NOW), seed=8).capacity_report(TTI)
    assert first == again
    assert first != other


@pytest.mark.parametrize("seed", range(1, 16))
@pytest.mark.parametrize("now", [NOW, datetime(2025, 10, 25, 23, 40, tzinfo=TZ),
                                 datetime(2025, 10, 26, 12, 0, tzinfo=TZ)])
def test_tti_and_its_guarantee_three_roomy_slots_within_three_days(seed, now) -> None:
    book = BookingBook(SimpleNamespace(accounts={}), FakeClock(now), seed=seed)
    for terminal in (TTI, ITS):
        roomy = [r for r in book.capacity_report(terminal)
                 if r["capacity"] >= 2 and date.fromisoformat(r["date"]) <= now.date() + timedelta(days=2)]
        assert len(roomy) >= 3, (terminal, seed, now)


def test_empty_terminal_and_empty_texts(book) -> None:
    assert book.slots("Port Everglades Terminal", "PICK FULL") == []
    assert book.empty_text(TTI) == "No Appointments Available!"
    assert book.empty_text("Port Everglades Terminal") == "No Appointments Available"


def test_book_consumes_capacity_and_updates_the_container(book, world) -> None:
    jdoe = world.accounts["jdoe"]
    slot = _open_slot(book, TTI)
    book.set_capacity(TTI, slot, 1)
    made = book.book(jdoe, jdoe.companies[0], TTI, "PICK FULL", [{"container": "TGBU2000026"}],
                     "9E51234", slot)
    assert len(made) == 1
    assert re.fullmatch(r"TTI-\d{4}-\d{5}", made[0].number)
    assert made[0].number[4:8] == slot.split(" ")[1][:5].replace("/", "")
    assert slot not in book.slots(TTI, "PICK FULL")  # capacity 0: the slot vanishes
    row = next(r for r in book.capacity_report(TTI) if r["slot"] == slot)
    assert row["capacity"] == 0
    container = world.container("TGBU2000026")
    assert (container.pregate_ticket, container.emodal_pregate_status, container.gate_status) == \
        (made[0].number, "CONFIRMED", "PENDING")
    assert len(container.pregate_ticket_small) == 6


def test_duplicate_and_gone_slot_are_refused(book, world) -> None:
    jdoe = world.accounts["jdoe"]
    slot = _open_slot(book, TTI)
    book.set_capacity(TTI, slot, 5)
    args = (jdoe, jdoe.companies[0], TTI, "PICK FULL", [{"container": "TGBU2000026"}], "9E51234")
    book.book(*args, slot)
    with pytest.raises(BookingRefused) as refused:
        book.book(*args, slot)
    assert refused.value.message == \
        "An appointment already exists for container TGBU2000026 and move type PICK FULL."
    assert book.has_duplicate("TGBU2000026", "PICK FULL")
    assert not book.has_duplicate("TGBU2000026", "DROP EMPTY")
    gone = book.slots(TTI, "PICK FULL")[-1]
    book.set_capacity(TTI, gone, 0)
    with pytest.raises(BookingRefused, match="no longer available"):
        book.book(jdoe, jdoe.companies[0], TTI, "DROP EMPTY", [{"container": "CAIU3000032"}],
                  "9E51234", gone)


def test_step1_checks_give_the_b16_and_real_texts(world) -> None:
    jdoe, asmith = world.accounts["jdoe"], world.accounts["asmith"]
    assert rules.check_container(jdoe, TTI, "PICK FULL", "TGBU2000026")["line"] == "MSCU"
    with pytest.raises(BookingRefused, match=r"^Container TGBU2000026 was not found\.$"):
        rules.check_container(asmith, TTI, "PICK FULL", "TGBU2000026")
    with pytest.raises(BookingRefused, match=r"^Container YMMU7000078 has holds\.$"):
        rules.check_container(jdoe, TTI, "PICK FULL", "YMMU7000078")
    with pytest.raises(BookingRefused, match="not eligible for PICK FULL at this terminal"):
        rules.check_container(jdoe, ITS, "PICK FULL", "TGBU2000026")
    with pytest.raises(BookingRefused, match=r"^No open transactions for this booking number\.$"):
        rules.check_booking(jdoe, "RICFEM100300")
    with pytest.raises(BookingRefused, match=r"^Booking shippingline is required$"):
        rules.check_booking(jdoe, "BKGNOLINE001")
    with pytest.raises(BookingRefused, match="No open transactions"):
        rules.check_booking(asmith, "RICFEM100200")
    with pytest.raises(BookingRefused, match="Quantity exceeds"):
        rules.check_quantity(jdoe, "RICFEM100200", 4)
    assert rules.form_variant("DROP EMPTY", "TraPac LLC - Los Angeles") == "line_size"
    assert rules.form_variant("DROP FULL", TTI) == "booking"
    assert rules.form_variant("DROP EMPTY", TTI) == "container"


def test_booking_moves_of_a_booking_number(book, world) -> None:
    jdoe = world.accounts["jdoe"]
    slot = _open_slot(book, "OICT")
    book.set_capacity("OICT", slot, 2)
    made = book.book(jdoe, jdoe.companies[1], "OICT", "PICK EMPTY",
                     [{"booking": "RICFEM100200"}, {"booking": "RICFEM100200"}], "9E47781", slot)
    assert [m.booking for m in made] == ["RICFEM100200"] * 2
    assert made[0].number != made[1].number and made[0].number.startswith("OICT-")
    assert made[0].line == "ONEY" and made[0].size_type == "40HC"
    with pytest.raises(BookingRefused, match="already exists for booking RICFEM100200"):
        book.book(jdoe, jdoe.companies[1], "OICT", "PICK EMPTY", [{"booking": "RICFEM100200"}],
                  "9E47781", book.slots("OICT", "PICK EMPTY")[0])


def test_seeded_appointments_and_page_order(book) -> None:
    mine = book.appointments_of("jdoe")
    assert len(mine) == 45
    statuses = [a.status for a in mine]
    assert statuses.count("CONFIRMED") == 9 and statuses.count("COMPLETED") == 27
    assert statuses.count("MISSED") + statuses.count("CANCELED") == 9
    upcoming = [a.start for a in mine if a.start > NOW]
    past = [a.start for a in mine if a.start <= NOW]
    assert upcoming == sorted(upcoming) and past == sorted(past, reverse=True)
    assert [a.start for a in mine] == upcoming + past
    assert all(a.username == "jdoe" for a in mine)
    assert book.appointments_of("asmith") == []
    oracle = book.oracle("jdoe")
    assert oracle[0]["number"] == mine[0].number and "appointment_time" in oracle[0]


def test_concurrent_bookings_never_oversell(book, world) -> None:
    jdoe = world.accounts["jdoe"]
    slot = _open_slot(book, "OICT")
    book.set_capacity("OICT", slot, 1)
    outcomes: list[str] = []

    def attempt(booking: str) -> None:
        try:
            book.book(jdoe, jdoe.companies[0], "OICT", "DROP FULL",
                      [{"booking": booking, "unit": "MSCU1000017"}], "9E51234", slot)
            outcomes.append("ok")
        except BookingRefused as refusal:
            outcomes.append(refusal.message)

    world.accounts["jdoe"].bookings["RICFEM100201"] = Booking("RICFEM100201", "ONEY", "40HC", 1)
    threads = [threading.Thread(target=attempt, args=(b,)) for b in ("RICFEM100200", "RICFEM100201")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["The selected appointment time is no longer available.", "ok"]
