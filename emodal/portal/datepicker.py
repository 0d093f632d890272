"""The legacy Material date picker (``mat-datepicker`` > ``mat-calendar``) of the export wizard.

Why a module of its own: the export step 3 offers days, not times, on a calendar opened from a
``calendar_month`` icon (PORTAL_SPEC A8.4, [I] for the real site). The calendar renders in the CDK
overlay, shows one month, and reopens on the month last shown, so reading and choosing both page
through months. Days are identified by the cells' ``aria-label`` (Material en-US:
``October 24, 2025``); enabled = no ``mat-calendar-body-disabled``.
"""
from __future__ import annotations

from datetime import date, datetime

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from emodal.portal.components import Material
from emodal.portal.waits import js_click, wait_for

ICON_XPATH = ".//mat-icon[normalize-space(text())='calendar_month'] | .//mat-icon[contains(text(),'calendar')]"
CELLS = ".cdk-overlay-container mat-calendar td.mat-calendar-body-cell"
NEXT = ".cdk-overlay-container mat-calendar .mat-calendar-next-button"
PREVIOUS = ".cdk-overlay-container mat-calendar .mat-calendar-previous-button"
#: Months read from the one the calendar opens on (the booking window spans days, not months).
MONTHS = 3

_ENABLED_JS = """
var out = [], cells = document.querySelectorAll(arguments[0]);
for (var i = 0; i < cells.length; i++) {
  var c = cells[i];
  if (c.classList.contains('mat-calendar-body-disabled') || c.getAttribute('aria-disabled') === 'true') { continue; }
  out.push(c.getAttribute('aria-label') || '');
}
return out;
"""
_FIRST_LABEL_JS = "var c = document.querySelector(arguments[0]); return c ? c.getAttribute('aria-label') : null;"


def label_date(label: str) -> date | None:
    """``October 24, 2025`` -> date; None for anything else."""
    try:
        return datetime.strptime(" ".join(label.split()), "%B %d, %Y").date()
    except ValueError:
        return None


class DatePicker:
    """Open, read and choose on the calendar opened from an icon inside ``scope``."""

    def __init__(self, material: Material) -> None:
        self.m = material
        self.driver = material.driver

    def open(self, scope: WebElement) -> None:
        """Click the scope's ``calendar_month`` icon (its button) and wait for the day cells."""
        # Shown icons only: step 1 keeps its own calendar_month button in the DOM (A6 trap).
        icon = wait_for(self.driver, lambda d: self.m.shown_in(scope, ICON_XPATH) or False,
                        self.m.timeout, "the calendar button")
        buttons = icon.find_elements(By.XPATH, "./ancestor::button[1]")
        self.m.click(buttons[0] if buttons else icon)
        wait_for(self.driver, lambda d: d.find_elements(By.CSS_SELECTOR, CELLS), self.m.timeout,
                 "the calendar to open")

    def close(self) -> None:
        """Close an open calendar (CDK backdrop click) and wait until its cells are gone."""
        self.m.dismiss_overlay(CELLS, "the calendar to close")

    def enabled_days(self) -> list[tuple[str, date]]:
        """Enabled days (label, date) of the open calendar over ``MONTHS`` months, in order."""
        days = self._page()
        for _ in range(MONTHS - 1):
            if not self._turn(NEXT):
                break
            days += self._page()
        return days

    def choose(self, scope: WebElement, day: date) -> None:
        """Open the calendar, page to ``day``'s month and click it; LookupError if never shown."""
        self.close()
        self.open(scope)
        for _ in range(2 * MONTHS):
            dates = [(cell, label_date(cell.get_attribute("aria-label") or ""))
                     for cell in self.driver.find_elements(By.CSS_SELECTOR, CELLS)]
            target = next((cell for cell, shown in dates if shown == day), None)
            if target is not None:
                self.m.click(target)
                self.m.stable("the portal to take the chosen day")
                return
            first = next((shown for _, shown in dates if shown is not None), None)
            if not self._turn(PREVIOUS if first and day < first else NEXT):
                break
        raise LookupError(f"calendar day {day.isoformat()} not shown")

    def _page(self) -> list[tuple[str, date]]:
        labels = self.driver.execute_script(_ENABLED_JS, CELLS)
        return [(label, parsed) for label in labels if (parsed := label_date(label)) is not None]

    def _turn(self, button_css: str) -> bool:
        """Show the next/previous month; False when the picker offers none (min/max date reached)."""
        buttons = self.driver.find_elements(By.CSS_SELECTOR, button_css)
        if not buttons or not buttons[0].is_enabled():
            return False
        before = self.driver.execute_script(_FIRST_LABEL_JS, CELLS)
        js_click(self.driver, buttons[0])
        wait_for(self.driver, lambda d: d.execute_script(_FIRST_LABEL_JS, CELLS) != before,
                 self.m.timeout, "another calendar month")
        return True


__all__ = ["DatePicker", "label_date"]
