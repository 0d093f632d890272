"""Page object of My Appointments ``<truckerportal>/myappointments`` (PORTAL_SPEC A9).

What is known of the real page is little: legacy ``mat-checkbox`` rows whose *input* carries
``aria-checked``, infinite scroll on the **window** (not an inner container, B17 rule 5), and an
Excel button in the toolbar found by A9's selector chain. Layout and columns are unknown (A13
item 7), so rows and headers are read generically from the checkbox's row element, and the
exported workbook is taken as the portal made it. Loading by scroll is the shared
:class:`~emodal.portal.scrolling.InfiniteScroll` on the window.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import PortalTimeout, PortalUnavailable
from emodal.portal.components import CHECKBOX_HOST_XPATH, CHECKBOX_INPUT_CSS, Material
from emodal.portal.navigation import open_page
from emodal.portal.scrolling import InfiniteScroll, ScrollLimits, ScrollResult
from emodal.portal.urls import PortalUrls
from emodal.portal.waits import js_click, wait_for

if TYPE_CHECKING:
    from emodal.browser.downloads import DownloadWatch

ROW_CHECKBOX = CHECKBOX_INPUT_CSS
#: Generic row, header-cell and cell elements: the list's markup is unknown (A13 item 7).
ROW_CSS = "tr, mat-row, [role=row]"
HEADER_CELL_CSS = "th, mat-header-cell, [role=columnheader]"
CELL_CSS = "td, mat-cell, [role=gridcell]"
#: A9's Excel selectors, first match wins (the real markup is inferred, not observed).
EXCEL_CHAIN: tuple[tuple[str, str], ...] = (
    (By.XPATH, "//mat-icon[@svgicon='xls']"),
    (By.XPATH, "//mat-icon[contains(@class,'svg-xls-icon')]"),
    (By.XPATH, "//mat-icon[contains(@class,'xls')]"),
    (By.CSS_SELECTOR, "svg.xls"),
    (By.XPATH, "//button[contains(@class,'excel') or contains(translate(@aria-label,'EXCEL','excel'),'excel')]"),
    (By.XPATH, "//*[@mattooltip='Excel']"),
    (By.XPATH, "//mat-icon[@role='img'][.//*[local-name()='svg']]"),
    (By.XPATH, "//*[self::mat-toolbar or contains(@class,'toolbar')]//mat-icon[.//*[local-name()='svg']]"),
)
#: What the Excel export downloads (the operation watches the browser's downloads for it).
DOWNLOAD_SUFFIXES = (".xlsx", ".xls")

# Prepended to the row scripts: the row checkboxes of data rows (a row without a header cell).
_DATA_INPUTS_JS = (
    f"var BOX = {json.dumps(ROW_CHECKBOX)}, ROW = {json.dumps(ROW_CSS)}, HEAD = {json.dumps(HEADER_CELL_CSS)},"
    f" CELL = {json.dumps(CELL_CSS)};"
    + """
function dataInputs() {
  return Array.prototype.slice.call(document.querySelectorAll(BOX)).filter(function (i) {
    var row = i.closest(ROW);
    return row && !row.querySelector(HEAD);
  });
}
""")
# Every data row's cell texts (the checkbox cell excluded) and checked state, plus the header
# texts (empty headers = the select column).
_ROWS_JS = _DATA_INPUTS_JS + """
function clean(t) { return (t || '').replace(/\\s+/g, ' ').trim(); }
var rows = dataInputs().map(function (input) {
  var cells = input.closest(ROW).querySelectorAll(CELL), values = [];
  for (var j = 0; j < cells.length; j++) {
    if (!cells[j].querySelector(BOX)) { values.push(clean(cells[j].innerText)); }
  }
  return {values: values, checked: input.getAttribute('aria-checked') === 'true'};
});
var headers = [];
document.querySelectorAll(HEAD).forEach(function (h) {
  var t = clean(h.innerText);
  if (t) { headers.push(t); }
});
return {rows: rows, headers: headers};
"""
_SCROLL_JS = """
window.scrollTo(0, Math.max(document.body.scrollHeight, document.documentElement.scrollHeight));
window.dispatchEvent(new Event('scroll'));
"""
# Check the first N unchecked row boxes with one script (a click on the input toggles a legacy
# mat-checkbox once); returns how many rows now read aria-checked=true among the first N.
_SELECT_JS = _DATA_INPUTS_JS + """
var inputs = dataInputs().slice(0, arguments[0]);
inputs.forEach(function (i) { if (i.getAttribute('aria-checked') !== 'true') { i.click(); } });
return inputs.filter(function (i) { return i.getAttribute('aria-checked') === 'true'; }).length;
"""
_ROW_INPUTS_JS = _DATA_INPUTS_JS + "return dataInputs();"


@dataclass
class AppointmentRows:
    """What the list shows: header texts and, per row, its cell texts and checked state."""

    headers: list[str]
    rows: list[list[str]]
    checked: list[bool]


class MyAppointmentsPage:
    """Services of My Appointments: open, load more by scrolling, select rows, export.

    ``limits`` and ``deadline`` (a ``time.monotonic()`` bound) bound :meth:`load`.
    """

    def __init__(self, driver: WebDriver, urls: PortalUrls, *, element_timeout: float,
                 page_timeout: float, limits: ScrollLimits, deadline: float | None = None) -> None:
        self._driver = driver
        self._urls = urls
        self._m = Material(driver, element_timeout)
        self._element_timeout = element_timeout
        self._page_timeout = page_timeout
        self._limits = limits
        self._deadline = deadline
        self._scroll = InfiniteScroll(driver, name="My Appointments", scroll_js=_SCROLL_JS,
                                      count=self.row_count, timeout=element_timeout)

    def open(self) -> None:
        """Load the page and wait for Angular and its first rows request to settle."""
        open_page(self._driver, self._urls.my_appointments, self._urls, self._page_timeout,
                  "My Appointments to load")

    def row_count(self) -> int:
        return len(self.read().rows)

    def read(self) -> AppointmentRows:
        """Every loaded row in one script."""
        raw = self._driver.execute_script(_ROWS_JS)
        rows = [list(r["values"]) for r in raw["rows"]]
        return AppointmentRows([str(h) for h in raw["headers"]], rows, [bool(r["checked"]) for r in raw["rows"]])

    def load(self, goal: Callable[[int], bool]) -> ScrollResult:
        """Scroll the window until ``goal(rows loaded)`` holds, the list stays idle or the limits
        are reached (B17 rule 5: the window scrolls, not an inner container)."""
        return self._scroll.run(goal, self._limits, self._deadline)

    def select_first(self, count: int) -> int:
        """Check the first ``count`` rows; returns how many are checked (each verified)."""
        if count <= 0:
            return 0
        checked = int(self._driver.execute_script(_SELECT_JS, count))
        if checked < count:  # A9 fallback order: the input, then its mat-checkbox host
            for input_el in self._row_inputs()[:count]:
                if input_el.get_attribute("aria-checked") != "true":
                    self._m.click(input_el.find_element(By.XPATH, CHECKBOX_HOST_XPATH))
            checked = sum(1 for i in self._row_inputs()[:count] if i.get_attribute("aria-checked") == "true")
        return checked

    def _row_inputs(self) -> list[WebElement]:
        return list(self._driver.execute_script(_ROW_INPUTS_JS))

    def export(self, downloads: DownloadWatch) -> Path:
        """Click the Excel button and return the downloaded workbook (a new .xlsx, complete), as
        ``downloads`` (created before this call) sees it: a local file either way.

        No file within ELEMENT_TIMEOUT is 502 ``portal_unavailable`` (API_SPEC 4.9).
        """
        self._driver.execute_script("window.scrollTo(0, 0);")  # reveal the toolbar (A9)
        button = self._excel_button()
        js_click(self._driver, button)
        try:
            return wait_for(self._driver, lambda _: downloads.finished(), self._element_timeout,
                            "the My Appointments Excel download")
        except PortalTimeout as exc:
            raise PortalUnavailable("No file after the Excel export click", details=exc.message) from None

    def _excel_button(self) -> WebElement:
        for by, selector in EXCEL_CHAIN:
            found = self._driver.find_elements(by, selector)
            if found:
                buttons = found[0].find_elements(By.XPATH, "./ancestor-or-self::button[1]")
                return buttons[0] if buttons else found[0]
        raise PortalUnavailable("Excel button not found on My Appointments")


__all__ = ["AppointmentRows", "MyAppointmentsPage"]
