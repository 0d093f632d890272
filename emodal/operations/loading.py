"""How far to scroll a lazily loaded list, and how the API words it (API_SPEC 4.3, 4.9).

Why here and not in the page objects: ``/get_containers`` and ``/get_appointments`` share one
stop policy (target id > target count > infinite > first page) and one vocabulary
(``work_mode``, ``stopped_reason``); the pages only scroll until a goal holds
(:class:`~emodal.portal.scrolling.InfiniteScroll`) and say why they stopped.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from emodal.portal.scrolling import ScrollResult, Stop

FIRST_PAGE_REASON = "First page only"
CYCLE_LIMIT_REASON = "Scroll cycle limit reached"


class ScrollingPage(Protocol):
    """What a page with an infinite list offers (ContainersPage, MyAppointmentsPage)."""

    def row_count(self) -> int: ...

    def load(self, goal: Callable[[int], bool]) -> ScrollResult: ...


@dataclass(frozen=True)
class Loaded:
    """How loading ended: ``work_mode``, ``scroll_cycles``, ``stopped_reason``, whether the goal of
    an ``id``/``count`` load was reached, and the rows loaded."""

    work_mode: str
    scroll_cycles: int
    stopped_reason: str
    reached: bool
    rows: int


def work_mode(target_id: str | None, target_count: int | None, infinite: bool) -> str:
    """``id``, ``count``, ``infinite`` or ``first_page``, in this priority."""
    if target_id:
        return "id"
    if target_count:
        return "count"
    return "infinite" if infinite else "first_page"


def load_list(page: ScrollingPage, *, target_id: str | None, target_count: int | None, infinite: bool,
              found: Callable[[], bool], noun: str, idle_cycles: int) -> Loaded:
    """Scroll ``page`` per the stop policy. ``found()`` tells whether the target id is loaded;
    ``noun`` names what is sought in the reason (``Container``, ``Appointment``).

    A target never reached is not an error: the reason says why scrolling stopped.
    """
    mode = work_mode(target_id, target_count, infinite)
    if mode == "first_page":
        return Loaded(mode, 0, FIRST_PAGE_REASON, False, page.row_count())
    if mode == "id":
        result = page.load(lambda rows: found())
    elif mode == "count":
        result = page.load(lambda rows: rows >= (target_count or 0))
    else:
        result = page.load(lambda rows: False)
    reached = result.stop is Stop.GOAL
    if reached and mode == "id":
        reason = f"{noun} {target_id} found ({'pre-scroll' if result.cycles == 0 else 'during scroll'})"
    elif reached:
        reason = f"Target count {target_count} reached"
    elif result.stop is Stop.IDLE:
        reason = f"No new rows after {idle_cycles} scroll cycles"
    else:
        reason = CYCLE_LIMIT_REASON
    return Loaded(mode, result.cycles, reason, reached, result.rows)


__all__ = ["Loaded", "ScrollingPage", "load_list", "work_mode"]
