"""Scroll-until-idle: load a lazily filled list by scrolling until a goal holds or nothing more comes.

Why one component: the Containers grid (scrolls ``div#searchres``, A7.5) and My Appointments
(scrolls the window, A9, B17 rule 5) load the same way: no pager, rows appended on scroll, no
spinner (A6 "Loading states"). Only the scroll script and the row count differ, so the wait after a
scroll, the idle rule and the deadline check live here once, and each page object supplies its
two scripts. What to aim for (a container, a count, everything) and how to word the result for
the API are the operation's business: this component only reports *why* it stopped.
"""
from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from selenium.webdriver.remote.webdriver import WebDriver

from emodal.errors import PortalTimeout, PortalUnavailable
from emodal.portal.waits import is_stable, wait_for

#: After a scroll that loaded nothing, how long the list must stay quiet (Angular stable, same row
#: count) before the cycle counts as idle. The earlier automation recounted 0.6-0.7 s after its
#: last step (A7.5); the scroll event fires on the next frame, so a load may start only then. A
#: load that starts makes Angular unstable and ends the wait early.
SETTLE_SECONDS = 0.7
#: Stable polls in a row needed to call the list quiet: one can fall between two chained XHRs.
STABLE_POLLS = 2


class Stop(enum.Enum):
    """Why scrolling stopped."""

    GOAL = "goal"                # the caller's goal held (before any scroll when ``cycles == 0``)
    IDLE = "idle"                # ``idle_cycles`` scrolls in a row brought no new row
    CYCLE_LIMIT = "cycle_limit"  # ``max_cycles`` scrolls done


@dataclass(frozen=True)
class ScrollLimits:
    """How long to keep scrolling (SCROLL_IDLE_CYCLES, MAX_SCROLL_CYCLES, API_SPEC 3.11)."""

    idle_cycles: int
    max_cycles: int


@dataclass(frozen=True)
class ScrollResult:
    """How a load ended: the reason, scroll cycles done, rows loaded then."""

    stop: Stop
    cycles: int
    rows: int


class InfiniteScroll:
    """Scrolls one list of a page.

    ``count()`` returns the rows loaded, or -1 when the list is no longer on the page; then
    ``check_page()`` runs (it raises for a lapsed login or an error page) and, if it does not,
    :class:`PortalUnavailable` says the list disappeared. ``name`` names the list in errors.
    """

    def __init__(self, driver: WebDriver, *, name: str, scroll_js: str, count: Callable[[], int],
                 timeout: float, check_page: Callable[[], None] = lambda: None,
                 log: logging.Logger | logging.LoggerAdapter | None = None) -> None:
        self.driver = driver
        self.name = name
        self.scroll_js = scroll_js
        self.count = count
        self.timeout = timeout
        self.check_page = check_page
        self.log = log or logging.getLogger(__name__)

    def cycle(self) -> tuple[int, int]:
        """Scroll to the bottom once and wait for new rows or a quiet list; ``(before, after)`` counts.

        Waits on conditions only: the row count grew, or Angular stayed stable with an unchanged
        count for ``SETTLE_SECONDS``.
        """
        before = self._loaded()
        self.driver.execute_script(self.scroll_js)
        started = time.monotonic()
        stable_polls = 0

        def grown_or_quiet(driver: WebDriver) -> tuple[int] | None:
            # A one-item tuple is truthy for every count, also 0 and -1 (the list is gone: the
            # page reloaded to the login form after a request found the login lapsed).
            nonlocal stable_polls
            count = self.count()
            if count < 0 or count > before:
                return (count,)
            stable_polls = stable_polls + 1 if is_stable(driver) else 0
            quiet = time.monotonic() - started >= SETTLE_SECONDS
            return (count,) if quiet and stable_polls >= STABLE_POLLS else None

        (after,) = wait_for(self.driver, grown_or_quiet, self.timeout, f"more rows of {self.name} after scrolling")
        if after < 0:
            self._gone()
        return before, after

    def run(self, goal: Callable[[int], bool], limits: ScrollLimits, deadline: float | None = None) -> ScrollResult:
        """Scroll until ``goal(rows loaded)`` holds (asked before the first scroll too), the list stays
        idle for ``limits.idle_cycles`` cycles, or ``limits.max_cycles`` are done.

        ``deadline`` is a ``time.monotonic()`` bound checked before every cycle (the operation's
        cooperative OPERATION_TIMEOUT): reaching it raises :class:`PortalTimeout`.
        """
        rows = self.count()
        if goal(rows):
            return ScrollResult(Stop.GOAL, 0, rows)
        cycles = idle = 0
        while cycles < limits.max_cycles:
            if deadline is not None and time.monotonic() >= deadline:
                raise PortalTimeout(f"Operation deadline reached while scrolling {self.name} ({rows} rows loaded)")
            before, rows = self.cycle()
            cycles += 1
            if goal(rows):
                return ScrollResult(Stop.GOAL, cycles, rows)
            idle = idle + 1 if rows == before else 0
            if cycles % 5 == 0 or idle:
                self.log.info("scroll cycle %d: %d rows loaded%s", cycles, rows,
                              f" (idle {idle}/{limits.idle_cycles})" if idle else "")
            if idle >= limits.idle_cycles:
                return ScrollResult(Stop.IDLE, cycles, rows)
        return ScrollResult(Stop.CYCLE_LIMIT, cycles, rows)

    def _loaded(self) -> int:
        count = self.count()
        if count < 0:
            self._gone()
        return count

    def _gone(self) -> NoReturn:
        self.check_page()
        raise PortalUnavailable(f"{self.name[:1].upper()}{self.name[1:]} disappeared while scrolling")


__all__ = ["InfiniteScroll", "SETTLE_SECONDS", "ScrollLimits", "ScrollResult", "Stop"]
