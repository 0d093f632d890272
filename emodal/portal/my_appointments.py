"""Page object of My Appointments ``<truckerportal>/myappointments`` (PORTAL_SPEC A9).

What is known of the real page is little: legacy ``mat-checkbox`` rows whose *input* carries
``aria-checked``, infinite scroll on the **window** (not an inner container, B17 rule 5), and an
Excel button in the toolbar found by A9's selector chain. Layout and columns are unknown (A13
item 7), so rows and headers are read generically from the checkbox's row element, and the
exported workbook is taken as the portal made it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import PortalTimeout, PortalUnavailable
from emodal.portal.components import Material
from emodal.portal.health import open_page
from emodal.portal.urls import PortalUrls
from emodal.portal.waits import is_stable, js_click, wait_for

ROW_CHECKBOX = "input.mat-checkbox-input"
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
#: After a window scroll the page needs a moment before it even starts loading (the scroll event
#: fires on the next frame); an unchanged, stable list for this long means nothing more came.
SCROLL_SETTLE_SECONDS = 0.7
DOWNLOAD_SUFFIXES = (".xlsx", ".xls")

# One script: every row (the element holding a row checkbox), its cells' texts (the checkbox
# cell excluded), its checked state; plus header texts (empty headers = the select column).
_ROWS_JS = """
function clean(t) { return (t || '').replace(/\\s+/g, ' ').trim(); }
var inputs = document.querySelectorAll(arguments[0]), rows = [];
for (var i = 0; i < inputs.length; i++) {
  var input = inputs[i];
  var row = input.closest('tr, mat-row, [role=row]');
  if (!row || row.querySelector('th, mat-header-cell, [role=columnheader]')) { continue; }
  var cells = row.querySelectorAll('td, mat-cell, [role=gridcell]'), values = [];
  for (var j = 0; j < cells.length; j++) {
    if (!cells[j].querySelector('input.mat-checkbox-input')) { values.push(clean(cells[j].innerText)); }
  }
  rows.push({values: values, checked: input.getAttribute('aria-checked') === 'true'});
}
var headers = [];
document.querySelectorAll('th, mat-header-cell, [role=columnheader]').forEach(function (h) {
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
_SELECT_JS = """
var inputs = Array.prototype.slice.call(document.querySelectorAll(arguments[0])).filter(function (i) {
  var row = i.closest('tr, mat-row, [role=row]');
  return row && !row.querySelector('th, mat-header-cell, [role=columnheader]');
}).slice(0, arguments[1]);
inputs.forEach(function (i) { if (i.getAttribute('aria-checked') !== 'true') { i.click(); } });
return inputs.filter(function (i) { return i.getAttribute('aria-checked') === 'true'; }).length;
"""


@dataclass
class AppointmentRows:
    """What the list shows: header texts and, per row, its cell texts and checked state."""

    headers: list[str]
    rows: list[list[str]]
    checked: list[bool]


class MyAppointmentsPage:
    """Services of My Appointments: open, load more by scrolling, select rows, export."""

    def __init__(self, driver: WebDriver, urls: PortalUrls, *, element_timeout: float,
                 page_timeout: float) -> None:
        self.driver = driver
        self.urls = urls
        self.m = Material(driver, element_timeout)
        self.element_timeout = element_timeout
        self.page_timeout = page_timeout

    def open(self) -> None:
        """Load the page and wait for Angular and its first rows request to settle."""
        open_page(self.driver, self.urls.my_appointments, self.urls, self.page_timeout, "My Appointments to load")

    def row_count(self) -> int:
        return len(self.read().rows)

    def read(self) -> AppointmentRows:
        """Every loaded row in one script."""
        raw = self.driver.execute_script(_ROWS_JS, ROW_CHECKBOX)
        rows = [list(r["values"]) for r in raw["rows"]]
        return AppointmentRows([str(h) for h in raw["headers"]], rows, [bool(r["checked"]) for r in raw["rows"]])

    def scroll_more(self) -> tuple[int, int]:
        """Scroll the window to the bottom once; ``(before, after)`` row counts once settled."""
        before = self.row_count()
        self.driver.execute_script(_SCROLL_JS)
        started = time.monotonic()

        def _grown_or_quiet(driver: WebDriver) -> int | None:
            count = self.row_count()
            if count > before:
                return count + 1
            quiet = time.monotonic() - started >= SCROLL_SETTLE_SECONDS
            return count + 1 if quiet and is_stable(driver) else None

        return before, wait_for(self.driver, _grown_or_quiet, self.element_timeout,
                                "more appointments after scrolling") - 1

    def select_first(self, count: int) -> int:
        """Check the first ``count`` rows; returns how many are checked (each verified)."""
        if count <= 0:
            return 0
        checked = int(self.driver.execute_script(_SELECT_JS, ROW_CHECKBOX, count))
        if checked < count:  # A9 fallback order: the input, then its mat-checkbox host
            for input_el in self._row_inputs()[:count]:
                if input_el.get_attribute("aria-checked") != "true":
                    self.m.click(input_el.find_element(By.XPATH, "./ancestor::mat-checkbox[1]"))
            checked = sum(1 for i in self._row_inputs()[:count] if i.get_attribute("aria-checked") == "true")
        return checked

    def _row_inputs(self) -> list[WebElement]:
        return [i for i in self.driver.find_elements(By.CSS_SELECTOR, ROW_CHECKBOX)
                if not i.find_elements(By.XPATH, "./ancestor::*[self::tr or self::mat-row or @role='row'][1]"
                                                 "[.//th or .//mat-header-cell or .//*[@role='columnheader']]")]

    def export(self, download_dir: Path) -> Path:
        """Click the Excel button and return the downloaded workbook (newest .xlsx, complete).

        No file within ELEMENT_TIMEOUT is 502 ``portal_unavailable`` (API_SPEC 4.9).
        """
        before = {p.name for p in download_dir.glob("*")} if download_dir.is_dir() else set()
        self.driver.execute_script("window.scrollTo(0, 0);")  # reveal the toolbar (A9)
        button = self._excel_button()
        js_click(self.driver, button)

        def _new_file(_: WebDriver) -> Path | None:
            if not download_dir.is_dir() or any(p.suffix == ".crdownload" for p in download_dir.iterdir()):
                return None
            fresh = [p for p in download_dir.iterdir()
                     if p.name not in before and p.suffix.lower() in DOWNLOAD_SUFFIXES and p.stat().st_size > 0]
            return max(fresh, key=lambda p: p.stat().st_mtime) if fresh else None

        try:
            return wait_for(self.driver, _new_file, self.element_timeout, "the My Appointments Excel download")
        except PortalTimeout as exc:
            raise PortalUnavailable("No file after the Excel export click", details=exc.message) from None

    def _excel_button(self) -> WebElement:
        for by, selector in EXCEL_CHAIN:
            found = self.driver.find_elements(by, selector)
            if found:
                buttons = found[0].find_elements(By.XPATH, "./ancestor-or-self::button[1]")
                return buttons[0] if buttons else found[0]
        raise PortalUnavailable("Excel button not found on My Appointments")


def row_has_token(values: list[str], token: str) -> bool:
    """True when a cell of the row holds ``token`` as a whole whitespace-separated word (case-insensitive)."""
    wanted = token.strip().casefold()
    return any(part.casefold() == wanted for value in values for part in value.split())


__all__ = ["AppointmentRows", "MyAppointmentsPage", "row_has_token"]
