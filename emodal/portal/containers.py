"""Page object of the portal's Containers page, ``<ECP2>/containers`` (PORTAL_SPEC A7).

Services: open the page, load rows by infinite scroll (first page, a count, a target container,
or everything), read every loaded row, find/expand/collapse a container's row and read its
booking number. The timeline of an expanded row is read by :mod:`emodal.portal.timeline`.

Portal facts this relies on (all Part A, none sandbox-only): the scroll container
``div#searchres[matinfinitescroll]`` with a native table (A7.2), the header texts (A7.3), rows
appended on scroll and never recycled (A7.5), the number as its element's first text node and the
row arrow ligatures (A7.3, A7.6), ``div.field-label`` ``Booking #`` (A7.7). Scripts live in
:mod:`emodal.portal.containers_js`.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import ContainerNotFound, PortalTimeout, PortalUnavailable
from emodal.portal import containers_js as js
from emodal.portal.health import SETTLED, PageState, assert_logged_in, classify, raise_for_state
from emodal.portal.urls import PortalUrls
from emodal.portal.waits import is_stable, js_click, page_state, wait_for

#: After a scroll that loaded nothing, how long the grid must stay quiet (Angular stable, same row
#: count) before the cycle counts as idle. The earlier automation recounted 0.6-0.7 s after its
#: last step (A7.5); a load that starts makes Angular unstable and ends the wait early.
SCROLL_SETTLE_SECONDS = 0.7

#: An expanded row's booking number must look like one (A12.1: ``[A-Z0-9]{8,12}``, with digits).
_BOOKING_RE = re.compile(r"^(?=.*\d)[A-Z0-9]{8,12}$")


@dataclass(frozen=True)
class GridData:
    """Every loaded row: the portal's header texts, cell texts per row (grid order) and badges."""

    headers: list[str]
    rows: list[list[str]]
    badges: list[str | None]


@dataclass(frozen=True)
class LoadResult:
    """How a load ended (API_SPEC 4.3 ``work_mode``, ``scroll_cycles``, ``stopped_reason``)."""

    work_mode: str
    rows_loaded: int
    scroll_cycles: int
    stopped_reason: str
    target_found: bool | None = None


class ContainersPage:
    """The Containers grid of ecp2. ``deadline`` is a ``time.monotonic()`` bound for long scrolls."""

    def __init__(self, driver: WebDriver, urls: PortalUrls, settings: Any,
                 log: logging.Logger | logging.LoggerAdapter | None = None,
                 deadline: float | None = None) -> None:
        self.driver = driver
        self.urls = urls
        self.settings = settings
        self.log = log or logging.getLogger(__name__)
        self.deadline = deadline

    # --- page ------------------------------------------------------------------------------------
    def open(self) -> None:
        """Navigate to the page and wait for the grid with its first batch (A7.2, A11 <= 25 s)."""
        self.driver.get(self.urls.containers)

        def _arrived(driver: WebDriver) -> PageState | None:
            # A lapsed login redirects to the identity login, which never boots an Angular app:
            # recognise it at once instead of waiting PAGE_LOAD_TIMEOUT for a grid.
            if page_state(driver) == "ready" and driver.find_elements(By.CSS_SELECTOR, js.GRID_CSS):
                return PageState.LOGGED_IN
            state = classify(driver, self.urls)
            return state if state in SETTLED and state is not PageState.LOGGED_IN else None

        try:
            state = wait_for(self.driver, _arrived, self.settings.page_load_timeout,
                             "the Containers grid (div#searchres)")
        except PortalTimeout:
            self._check_health()
            raise
        raise_for_state(state, self.driver.current_url)
        self._check_health()

    def is_open(self) -> bool:
        """True when the browser already shows this page's grid (lets bulk work skip reloads)."""
        return self.row_count() >= 0

    def row_count(self) -> int:
        """Number of loaded data rows, or -1 when the grid is not on the page."""
        return int(self.driver.execute_script(js.ROW_COUNT_JS))

    def read_rows(self) -> GridData:
        """Every loaded row in one script: header texts and the 18 cell texts per row."""
        raw = self.driver.execute_script(js.READ_ROWS_JS) or {}
        if raw.get("error"):
            self._check_health()
            raise PortalUnavailable("Unexpected Containers grid structure",
                                    details=f"{raw['error']}: headers {raw.get('headers')}")
        return GridData(headers=list(raw["headers"]), rows=[list(r) for r in raw["rows"]],
                        badges=list(raw["badges"]))

    # --- scrolling -------------------------------------------------------------------------------
    def scroll_cycle(self) -> tuple[int, int]:
        """Scroll ``#searchres`` to its bottom once and wait for new rows or a quiet grid.

        Returns ``(before, after)`` row counts. Waits on conditions only: the row count grew, or
        Angular stayed stable with an unchanged count for ``SCROLL_SETTLE_SECONDS``.
        """
        before = self.row_count()
        if before < 0:
            self._check_health()
            raise PortalUnavailable("Containers grid disappeared while scrolling")
        self.driver.execute_script(js.SCROLL_JS)
        started = time.monotonic()
        stable_polls = [0]

        def _grown_or_quiet(driver: WebDriver) -> int | None:
            count = self.row_count()
            if count < 0 or count > before:
                return count
            # Two stable polls in a row: a single "stable" can fall between two chained XHRs.
            stable_polls[0] = stable_polls[0] + 1 if is_stable(driver) else 0
            quiet = time.monotonic() - started >= SCROLL_SETTLE_SECONDS
            return count if quiet and stable_polls[0] >= 2 else None

        # ``wait_for`` treats 0 as falsy; shift by one so an empty grid still ends the wait.
        after = wait_for(self.driver, lambda d: _plus_one(_grown_or_quiet(d)),
                         self.settings.element_timeout, "more Containers rows after scrolling") - 1
        if after < 0:
            self._check_health()
            raise PortalUnavailable("Containers grid disappeared while scrolling")
        return before, after

    def load(self, *, target_container_id: str | None = None, target_count: int | None = None,
             infinite: bool = True) -> LoadResult:
        """Load rows by scrolling, stopping per API_SPEC 4.3 (priority id > count > infinite).

        A target never reached is not an error here: the result says why scrolling stopped.
        """
        if target_container_id:
            mode = "id"
        elif target_count:
            mode = "count"
        else:
            mode = "infinite" if infinite else "first_page"

        def reached(loaded: int) -> bool:
            if mode == "id":
                return self.has_container(target_container_id or "")
            return mode == "count" and loaded >= (target_count or 0)

        rows = self.row_count()

        def result(cycles: int, reason: str, hit: bool) -> LoadResult:
            return LoadResult(mode, rows, cycles, reason, hit if mode == "id" else None)

        if reached(rows):
            return result(0, self._reached_reason(mode, target_container_id, target_count, "pre-scroll"), True)
        if mode == "first_page":
            return result(0, "First page only", False)

        idle_limit = self.settings.scroll_idle_cycles
        cycles = idle = 0
        while cycles < self.settings.max_scroll_cycles:
            self._check_deadline(f"scrolling the Containers grid ({rows} rows loaded)")
            before, rows = self.scroll_cycle()
            cycles += 1
            if reached(rows):
                return result(cycles, self._reached_reason(mode, target_container_id, target_count,
                                                           "during scroll"), True)
            idle = idle + 1 if rows == before else 0
            if cycles % 5 == 0 or idle:
                self.log.info("scroll cycle %d: %d rows loaded%s", cycles, rows,
                              f" (idle {idle}/{idle_limit})" if idle else "")
            if idle >= idle_limit:
                return result(cycles, f"No new rows after {idle_limit} scroll cycles", False)
        return result(cycles, "Scroll cycle limit reached", False)

    def has_container(self, container_id: str) -> bool:
        """True when ``//*[contains(text(), ID)]`` inside the grid is loaded and displayed (A7.5)."""
        return bool(self.driver.execute_script(js.HAS_CONTAINER_JS, container_id))

    # --- one row -----------------------------------------------------------------------------------
    def find_row(self, container_id: str) -> WebElement:
        """The container's data row, scrolling until it is loaded; centred in the grid.

        Raises :class:`ContainerNotFound` (404) after a full scroll without it.
        """
        result = self.load(target_container_id=container_id)
        row = self.driver.execute_script(js.ROW_JS, container_id) if result.target_found else None
        if row is None:
            raise ContainerNotFound(
                f"Container '{container_id}' not found after scrolling",
                details=f"searched {result.rows_loaded} rows in {result.scroll_cycles} scroll cycles",
            )
        return row

    def expand(self, container_id: str) -> WebElement | None:
        """Expand the container's row and return its detail row once the panel has loaded.

        ``None`` when the row has no arrow: unknown containers (all ``N/A``) cannot expand (A7.3).
        Success = ``keyboard_arrow_down`` or a detail row holding the timeline (A7.6); a click that
        did not register (Angular stable, arrow unchanged) is repeated once.
        """
        row = self.find_row(container_id)
        state = self._row_state(row)
        if state["arrow"] == "none":
            return None
        for attempt in (1, 2):
            if state["arrow"] == "expanded" or (state["flow"] and state["detail_visible"]):
                break
            js_click(self.driver, state["icon"])
            state = wait_for(self.driver, lambda d: self._settled_after_click(row),
                             self.settings.element_timeout, f"row {container_id} to expand")
            if attempt == 2 and state["arrow"] == "collapsed" and not state["flow"]:
                raise PortalUnavailable(f"Row of container '{container_id}' did not expand",
                                        details="arrow still keyboard_arrow_right after two clicks")
        detail = wait_for(self.driver, lambda d: self._loaded_detail(row),
                          self.settings.element_timeout, f"the detail panel of {container_id}")
        self._check_health()
        return detail

    def collapse(self, container_id: str) -> None:
        """Collapse the row again (``keyboard_arrow_down`` -> ``keyboard_arrow_right``), so the grid
        is left as found for the next operation on this session."""
        row = self.driver.execute_script(js.ROW_JS, container_id)
        if row is None:
            return
        state = self._row_state(row)
        if state["arrow"] != "expanded":
            return
        js_click(self.driver, state["icon"])
        wait_for(self.driver, lambda d: self._row_state(row)["arrow"] == "collapsed",
                 self.settings.element_timeout, f"row {container_id} to collapse")

    def booking_number(self, detail_row: WebElement) -> tuple[str | None, str | None]:
        """``(booking number, source)`` from an expanded detail panel (A7.7).

        ``source`` is ``field`` (label/value pair), ``text`` (the line fallback) or ``None`` when
        the panel shows no booking (imports) or only ``N/A``.
        """
        raw = self.driver.execute_script(js.BOOKING_JS, detail_row) or {}
        value = raw.get("value")
        if raw.get("source") == "field":
            return (value, "field") if value and value.upper() != "N/A" else (None, None)
        for line in raw.get("lines") or []:
            if _BOOKING_RE.match(line):
                return line, "text"
        return None, None

    # --- helpers -----------------------------------------------------------------------------------
    def _row_state(self, row: WebElement) -> dict[str, Any]:
        return dict(self.driver.execute_script(js.ROW_STATE_JS, row))

    def _settled_after_click(self, row: WebElement) -> dict[str, Any] | None:
        state = self._row_state(row)
        if state["arrow"] == "expanded" or (state["flow"] and state["detail_visible"]):
            return state
        return state if is_stable(self.driver) else None

    def _loaded_detail(self, row: WebElement) -> WebElement | None:
        state = self._row_state(row)
        if state["flow"] and state["detail_visible"] and is_stable(self.driver):
            return state["detail"]
        return None

    def _check_health(self) -> None:
        assert_logged_in(self.driver, self.urls)

    def _check_deadline(self, what: str) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise PortalTimeout(f"Operation deadline reached while {what}")

    @staticmethod
    def _reached_reason(mode: str, container_id: str | None, count: int | None, when: str) -> str:
        if mode == "id":
            return f"Container {container_id} found ({when})"
        return f"Target count {count} reached"


def _plus_one(value: int | None) -> int | None:
    return None if value is None else value + 1


__all__ = ["ContainersPage", "GridData", "LoadResult", "SCROLL_SETTLE_SECONDS"]
