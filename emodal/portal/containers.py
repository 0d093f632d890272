"""Page object of the portal's Containers page, ``<ECP2>/containers`` (PORTAL_SPEC A7).

Services: open the page, load rows by infinite scroll until a goal holds (the shared
:class:`~emodal.portal.scrolling.InfiniteScroll`), read every loaded row, and for one container:
expand its row, read its timeline (:mod:`emodal.portal.timeline`) or booking number, collapse it.
Containers are named by their number; no element leaves this module.

Portal facts this relies on (all Part A, none sandbox-only): the scroll container
``div#searchres[matinfinitescroll]`` with a native table (A7.2), the header texts (A7.3), rows
appended on scroll and never recycled (A7.5), the number as its element's first text node and the
row arrow ligatures (A7.3, A7.6), ``div.field-label`` ``Booking #`` (A7.7). Scripts live in
:mod:`emodal.portal.containers_js`.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import ContainerNotFound, PortalTimeout, PortalUnavailable
from emodal.portal import containers_js as js
from emodal.portal.health import SETTLED, PageState, assert_logged_in, classify, raise_for_state
from emodal.portal.scrolling import InfiniteScroll, ScrollLimits, ScrollResult, Stop
from emodal.portal.timeline import Milestone, read_milestones
from emodal.portal.urls import PortalUrls
from emodal.portal.waits import is_stable, js_click, page_state, wait_for

if TYPE_CHECKING:
    from emodal.config import Settings

#: An expanded row's booking number must look like one (A12.1: ``[A-Z0-9]{8,12}``, with digits).
_BOOKING_RE = re.compile(r"^(?=.*\d)[A-Z0-9]{8,12}$")


@dataclass(frozen=True)
class GridData:
    """Every loaded row: the portal's header texts, cell texts per row (grid order) and badges."""

    headers: list[str]
    rows: list[list[str]]
    badges: list[str | None]


class ContainersPage:
    """The Containers grid of ecp2. ``deadline`` is a ``time.monotonic()`` bound for long scrolls."""

    def __init__(self, driver: WebDriver, urls: PortalUrls, settings: Settings,
                 log: logging.Logger | logging.LoggerAdapter | None = None,
                 deadline: float | None = None) -> None:
        self._driver = driver
        self._urls = urls
        self._settings = settings
        self.deadline = deadline
        self._scroll = InfiniteScroll(driver, name="the Containers grid", scroll_js=js.SCROLL_JS,
                                      count=self.row_count, timeout=settings.element_timeout,
                                      check_page=self._check_health, log=log)

    # --- page ------------------------------------------------------------------------------------
    def open(self) -> None:
        """Navigate to the page and wait for the grid with its first batch (A7.2, A11 <= 25 s)."""
        self._driver.get(self._urls.containers)

        def _arrived(driver: WebDriver) -> PageState | None:
            # A lapsed login redirects to the identity login, which never boots an Angular app:
            # recognise it at once instead of waiting PAGE_LOAD_TIMEOUT for a grid.
            if page_state(driver) == "ready" and driver.find_elements(By.CSS_SELECTOR, js.GRID_CSS):
                return PageState.LOGGED_IN
            state = classify(driver, self._urls)
            return state if state in SETTLED and state is not PageState.LOGGED_IN else None

        try:
            state = wait_for(self._driver, _arrived, self._settings.page_load_timeout,
                             "the Containers grid (div#searchres)")
        except PortalTimeout:
            self._check_health()
            raise
        raise_for_state(state, self._driver.current_url)
        self._check_health()

    def is_open(self) -> bool:
        """True when the browser already shows this page's grid (lets bulk work skip reloads)."""
        return self.row_count() >= 0

    def row_count(self) -> int:
        """Number of loaded data rows, or -1 when the grid is not on the page."""
        return int(self._driver.execute_script(js.ROW_COUNT_JS))

    def read_rows(self) -> GridData:
        """Every loaded row in one script: header texts and the 18 cell texts per row."""
        raw = self._driver.execute_script(js.READ_ROWS_JS) or {}
        if raw.get("error"):
            self._check_health()
            raise PortalUnavailable("Unexpected Containers grid structure",
                                    details=f"{raw['error']}: headers {raw.get('headers')}")
        return GridData(headers=list(raw["headers"]), rows=[list(r) for r in raw["rows"]],
                        badges=list(raw["badges"]))

    # --- scrolling -------------------------------------------------------------------------------
    def load(self, goal: Callable[[int], bool] = lambda rows: False) -> ScrollResult:
        """Scroll ``#searchres`` until ``goal(rows loaded)`` holds, the grid stays idle for
        SCROLL_IDLE_CYCLES cycles or MAX_SCROLL_CYCLES are done (the default goal: load everything).

        Scrolling never clicks the grid (a click can expand a row, A7.5).
        """
        limits = ScrollLimits(self._settings.scroll_idle_cycles, self._settings.max_scroll_cycles)
        return self._scroll.run(goal, limits, self.deadline)

    def has_container(self, container_id: str) -> bool:
        """True when ``//*[contains(text(), ID)]`` inside the grid is loaded and displayed (A7.5)."""
        return bool(self._driver.execute_script(js.HAS_CONTAINER_JS, container_id))

    # --- one row -----------------------------------------------------------------------------------
    def expand(self, container_id: str) -> bool:
        """Scroll to the container's row, expand it and wait until its detail panel has loaded.

        False when the row has no arrow: unknown containers (all ``N/A``) cannot expand (A7.3).
        Raises :class:`ContainerNotFound` (404) when a full scroll never loads the row.
        Success = ``keyboard_arrow_down`` or a detail row holding the timeline (A7.6); a click that
        did not register (Angular stable, arrow unchanged) is repeated once.
        """
        row = self._find_row(container_id)
        state = self._row_state(row)
        if state["arrow"] == "none":
            return False
        for attempt in (1, 2):
            if state["arrow"] == "expanded" or (state["flow"] and state["detail_visible"]):
                break
            js_click(self._driver, state["icon"])
            state = self._wait(lambda d: self._settled_after_click(row), f"row {container_id} to expand")
            if attempt == 2 and state["arrow"] == "collapsed" and not state["flow"]:
                raise PortalUnavailable(f"Row of container '{container_id}' did not expand",
                                        details="arrow still keyboard_arrow_right after two clicks")
        self._wait(lambda d: self._loaded_detail(row), f"the detail panel of {container_id}")
        self._check_health()
        return True

    def collapse(self, container_id: str) -> None:
        """Collapse the row again (``keyboard_arrow_down`` -> ``keyboard_arrow_right``), so the grid
        is left as found for the next operation on this session."""
        row = self._driver.execute_script(js.ROW_JS, container_id)
        if row is None:
            return
        state = self._row_state(row)
        if state["arrow"] != "expanded":
            return
        js_click(self._driver, state["icon"])
        self._wait(lambda d: self._row_state(row)["arrow"] == "collapsed", f"row {container_id} to collapse")

    def timeline(self, container_id: str) -> list[Milestone]:
        """The milestones of an expanded row, newest first (A7.8)."""
        return read_milestones(self._driver, self._detail(container_id))

    def booking_number(self, container_id: str) -> tuple[str | None, str | None]:
        """``(booking number, source)`` from an expanded row's detail panel (A7.7).

        ``source`` is ``field`` (label/value pair), ``text`` (the line fallback) or ``None`` when
        the panel shows no booking (imports) or only ``N/A``.
        """
        raw = self._driver.execute_script(js.BOOKING_JS, self._detail(container_id)) or {}
        value = raw.get("value")
        if raw.get("source") == "field":
            return (value, "field") if value and value.upper() != "N/A" else (None, None)
        for line in raw.get("lines") or []:
            if _BOOKING_RE.match(line):
                return line, "text"
        return None, None

    # --- helpers -----------------------------------------------------------------------------------
    def _find_row(self, container_id: str) -> WebElement:
        """The container's data row, scrolling until it is loaded; centred in the grid."""
        result = self.load(lambda rows: self.has_container(container_id))
        row = self._driver.execute_script(js.ROW_JS, container_id) if result.stop is Stop.GOAL else None
        if row is None:
            raise ContainerNotFound(
                f"Container '{container_id}' not found after scrolling",
                details=f"searched {result.rows} rows in {result.cycles} scroll cycles",
            )
        return row

    def _detail(self, container_id: str) -> WebElement:
        """The detail row under the container's expanded row (A7.6)."""
        row = self._driver.execute_script(js.ROW_JS, container_id)
        detail = self._row_state(row)["detail"] if row is not None else None
        if detail is None:
            raise PortalUnavailable(f"Row of container '{container_id}' is not expanded",
                                    details="no detail row after the data row")
        return detail

    def _row_state(self, row: WebElement) -> dict[str, Any]:
        return dict(self._driver.execute_script(js.ROW_STATE_JS, row))

    def _settled_after_click(self, row: WebElement) -> dict[str, Any] | None:
        state = self._row_state(row)
        if state["arrow"] == "expanded" or (state["flow"] and state["detail_visible"]):
            return state
        return state if is_stable(self._driver) else None

    def _loaded_detail(self, row: WebElement) -> bool:
        state = self._row_state(row)
        return bool(state["flow"] and state["detail_visible"] and is_stable(self._driver))

    def _wait(self, condition: Callable[[WebDriver], Any], what: str) -> Any:
        """``wait_for`` within ELEMENT_TIMEOUT; on a timeout the page is classified first: the
        portal reloads to its login form when a row's detail request finds the login lapsed (the
        grid a job reuses between containers looks logged in until then), which is
        ``PortalSessionLost`` (re-login and retry), not a timeout."""
        try:
            return wait_for(self._driver, condition, self._settings.element_timeout, what)
        except PortalTimeout:
            self._check_health()
            raise

    def _check_health(self) -> None:
        assert_logged_in(self._driver, self._urls)


__all__ = ["ContainersPage", "GridData"]
