"""Page object of the appointment wizard ``<termops>/trucker/web/addvisit`` (PORTAL_SPEC A8).

The wizard is one Angular page with a 4-step ``mat-stepper`` (1 Add required data, 2 Add move
details, 3 Choose appointment time, 4 Confirmation). All four step panels stay in the DOM, so
every look-up here is scoped to the **active panel**, found through the selected step header's
``aria-controls`` (B17 rule 4); a page-wide "first checkbox" or "first autocomplete" could hit a
hidden step. Refusals come as ``mat-dialog``s, whatever their text (B17 rule 6).

Services only: the page object reads and acts, the operation decides (STYLE.md 4).
"""
from __future__ import annotations

import enum
from datetime import date
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.portal.components import (CHECKBOX_INPUT_CSS, FIELD_ERROR_CSS, Material, Stepper, StepOutcome,
                                      labelled, text_of)
from emodal.portal.datepicker import DatePicker
from emodal.portal.navigation import open_page
from emodal.portal.urls import PortalUrls, relative_path
from emodal.portal.waits import wait_for

# --- locators ----------------------------------------------------------------------------------------
CONTAINER_INPUT = "input[formcontrolname='containerNumber']"
BOOKING_INPUT = "input[formcontrolname='bookingNumber']"
AUTOCOMPLETE_CLASS = "mat-autocomplete-trigger"
AUTOCOMPLETE_INPUT = f"input.{AUTOCOMPLETE_CLASS}"
QUANTITY_INPUT_XPATH = labelled("Quantity", "input")
MOVE_CHECKBOX = CHECKBOX_INPUT_CSS
PIN_INPUTS = "input[formcontrolname='Pin'], input[matinput][placeholder*='PIN']"
UNIT_INPUTS = "input[formcontrolname='Unit'], input[matinput][uppercase][maxlength='11']"
SEAL_INPUT = "input[formcontrolname='Seal{n}_Num']"
PLATE_INPUT = "input[formcontrolname='Plate']"
SLOT_SELECT = "mat-select[formcontrolname='slot']"
SUBMIT_XPATH = ".//button//span[contains(text(),'Submit')]/.."
NO_SLOTS_PREFIX = "No Appointments Available"
INFO_PREFIX = "Check-In for this visit"
# Label/value pairs of a panel, read generically (the Confirmation content is unknown on the real
# site, A13 item 8): for every element whose class names a label, its value is the sibling with a
# data/value class at the same index (works for label,value,label,value and for labels-first
# grids), else the next sibling. ``blocks`` = every own-text run in document order, as a fallback.
_PAIRS_JS = """
var panel = arguments[0], pairs = [], blocks = [];
function cls(e) { return (e.getAttribute && e.getAttribute('class')) || ''; }
function clean(t) { return (t || '').replace(/\\s+/g, ' ').trim(); }
panel.querySelectorAll('[class*="label"]').forEach(function (l) {
  if (l.closest('mat-form-field') || !l.parentElement) { return; }
  var kids = Array.prototype.slice.call(l.parentElement.children);
  var labels = kids.filter(function (k) { return /label/.test(cls(k)); });
  var values = kids.filter(function (k) { return /(data|value)/.test(cls(k)) && !/label/.test(cls(k)); });
  var v = values[labels.indexOf(l)] || l.nextElementSibling;
  pairs.push([clean(l.innerText), v ? clean(v.innerText) : '']);
});
var walker = document.createTreeWalker(panel, NodeFilter.SHOW_TEXT, null);
while (walker.nextNode()) {
  var t = clean(walker.currentNode.nodeValue);
  if (t && walker.currentNode.parentElement.offsetParent !== null) { blocks.push(t); }
}
return {pairs: pairs, blocks: blocks, text: clean(panel.innerText)};
"""



class MoveForm(enum.Enum):
    """The second card step 1 shows once the Move Type is chosen (A8.2)."""

    CONTAINER = "container"    # container number chips
    BOOKING = "booking"        # a booking number chip and a Quantity
    LINE_EQUIP = "line_equip"  # Line and Equip Size autocompletes and a Quantity


class PinField(enum.Enum):
    """Whether step 2 shows a PIN input, and whether the portal marks it required."""

    ABSENT = "absent"
    OPTIONAL = "optional"
    REQUIRED = "required"


class AppointmentWizard:
    """Services of the addvisit page: fill each step, read the offer, submit, read the result.

    Every control is found here and acted on here; callers pass and get plain values.
    """

    def __init__(self, driver: WebDriver, urls: PortalUrls, *, element_timeout: float,
                 page_timeout: float, confirmation_timeout: float) -> None:
        self._driver = driver
        self._urls = urls
        self._m = Material(driver, element_timeout)
        self._stepper = Stepper(self._m)
        self._calendar = DatePicker(self._m)
        self._page_timeout = page_timeout
        self._confirmation_timeout = confirmation_timeout

    # --- page ----------------------------------------------------------------------------------------
    def open(self) -> None:
        """Load a fresh wizard and wait for step 1 (the page is blank until Angular boots, A8.1)."""
        open_page(self._driver, self._urls.addvisit, self._urls, self._page_timeout, "the appointment wizard to load")
        wait_for(self._driver, lambda d: self._stepper.position() == 1, self._page_timeout,
                 "step 1 of the appointment wizard")

    def is_shown(self) -> bool:
        """True when the browser is on the wizard page with a stepper (a resume can continue)."""
        path = relative_path(self._urls.termops, self._driver.current_url)
        return (path or "").rstrip("/").lower() == "/trucker/web/addvisit" and self._stepper.position() is not None

    def position(self) -> int | None:
        return self._stepper.position()

    def _panel(self) -> WebElement:
        return self._stepper.active_panel()

    def next(self) -> StepOutcome:
        """Click Next of the active step: ADVANCED, DIALOG or INVALID; PortalTimeout without any."""
        return self._stepper.next()

    def settle(self, what: str) -> None:
        """Wait until the page has no pending XHR (e.g. the offer refreshed after a refusal)."""
        self._m.stable(what)

    def dialog_text(self) -> str | None:
        return self._m.read_dialog()

    def close_dialog(self) -> None:
        self._m.close_dialog()

    def _shown(self, locator: str, by: str = By.CSS_SELECTOR, panel: WebElement | None = None) -> WebElement | None:
        """The first displayed match of ``locator`` in the active step panel (B17 rule 4).

        Every control look-up goes through here: hidden steps keep their controls in the DOM
        (PORTAL_SPEC A6, B11.1), so a page-wide match, or a hidden one, is never used.
        ``panel`` saves a round trip when the caller already holds the active panel.
        """
        return self._m.shown_in(panel or self._panel(), locator, by)

    def field_errors(self) -> list[str]:
        """Visible mat-error texts of the active step (why Next did not advance)."""
        return [text_of(self._driver, e) for e in self._panel().find_elements(By.CSS_SELECTOR, FIELD_ERROR_CSS)
                if e.is_displayed()]

    # --- step 1 --------------------------------------------------------------------------------------
    def choose(self, label: str, requested: str, field: str) -> str:
        """Choose in the step's mat-select labelled ``label``; returns the value shown."""
        return self._m.select_by_label(self._panel(), label, requested, field)

    def detect_form(self) -> MoveForm:
        """Which second card step 1 shows after the Move Type."""
        def _form(d: WebDriver) -> MoveForm | bool:
            panel = self._panel()
            if self._shown(CONTAINER_INPUT, panel=panel):
                return MoveForm.CONTAINER
            if self._shown(BOOKING_INPUT, panel=panel):
                return MoveForm.BOOKING
            if self._shown(AUTOCOMPLETE_INPUT, panel=panel):
                return MoveForm.LINE_EQUIP
            return False
        return wait_for(self._driver, _form, self._m.timeout, "the step-1 move form")

    def add_container(self, number: str) -> bool:
        return self._m.add_chip(self._shown(CONTAINER_INPUT), number)

    def add_booking(self, number: str) -> bool:
        """Add the booking chip; the portal validates it by XHR and may answer with a dialog."""
        return self._m.add_chip(self._shown(BOOKING_INPUT), number)

    def set_line_equip(self, line: str, equip_size: str) -> tuple[str, str]:
        """Fill the Line and Equip Size autocompletes (by mat-label, else first/second, A8.2)."""
        values = []
        for index, (label, value, field) in enumerate(
                (("Line", line, "line"), ("Equip Size", equip_size, "equip_size"))):
            values.append(self._m.autocomplete_choose(self._autocomplete(label, index), value, field)[0])
        return values[0], values[1]

    def _autocomplete(self, label: str, index: int) -> WebElement:
        panel = self._panel()
        by_label = self._shown(labelled(label, f"input[contains(@class,'{AUTOCOMPLETE_CLASS}')]", exact=True),
                               By.XPATH, panel)
        if by_label is not None:
            return by_label
        triggers = [e for e in panel.find_elements(By.CSS_SELECTOR, AUTOCOMPLETE_INPUT) if e.is_displayed()]
        return triggers[index]

    def set_quantity(self, quantity: int) -> None:
        """Type the Quantity (initial 0 on the portal) when the form has one."""
        quantity_input = self._shown(QUANTITY_INPUT_XPATH, By.XPATH)
        if quantity_input is not None:
            _type(quantity_input, str(quantity))

    # --- step 2 --------------------------------------------------------------------------------------
    def check_move(self) -> None:
        """Check the move card's checkbox: the active panel's first ``input.mat-checkbox-input``.

        Not filtered on display: Material hides that input (``cdk-visually-hidden``) and shows its host.
        Waited for: the cards may render just after the step is selected.
        """
        box = wait_for(self._driver,
                       lambda d: next(iter(self._panel().find_elements(By.CSS_SELECTOR, MOVE_CHECKBOX)), False),
                       self._m.timeout, "the move checkbox")
        self._m.ensure_checked(box)

    def pin_field(self) -> PinField:
        """Whether the step shows a PIN input, and whether the portal marks it required."""
        pin = self._shown(PIN_INPUTS)
        if pin is None:
            return PinField.ABSENT
        required = bool(self._driver.execute_script(
            "var i = arguments[0], f = i.closest('mat-form-field');"
            "return i.required || i.getAttribute('aria-required') === 'true' ||"
            " !!(f && f.querySelector('.mat-form-field-required-marker'));", pin))
        return PinField.REQUIRED if required else PinField.OPTIONAL

    def enter_pin(self, pin: str) -> None:
        """Type the PIN into the step's PIN input (call only when :meth:`pin_field` found one)."""
        _type(wait_for(self._driver, lambda d: self._shown(PIN_INPUTS) or False, self._m.timeout, "the PIN field"), pin)

    def set_unit(self, unit: str) -> bool:
        """Type the Unit number when the field is editable (it is pre-filled read-only on imports)."""
        unit_input = self._shown(UNIT_INPUTS)
        if unit_input is None or not unit_input.is_enabled() or unit_input.get_attribute("readonly") is not None:
            return False
        _type(unit_input, unit)
        return True

    def set_seals(self, seals: list[str]) -> int:
        """Type seals into Seal1_Num..; returns how many fields took a value."""
        typed = 0
        panel = self._panel()
        for n, value in enumerate(seals[:4], start=1):
            field = self._shown(SEAL_INPUT.format(n=n), panel=panel)
            if field is not None:
                _type(field, value)
                typed += 1
        return typed

    def choose_plate(self, plate: str, *, or_first: bool = False) -> str:
        """Pick the truck plate in its autocomplete (exact match rule) and return the value shown.
        With ``or_first``, a plate that matches no option picks the first one offered."""
        panel = self._panel()
        plate_input = self._shown(PLATE_INPUT, panel=panel)
        if plate_input is None:  # fallback of the earlier automation: the step's first autocomplete
            plate_input = self._shown(AUTOCOMPLETE_INPUT, panel=panel)
        return self._m.autocomplete_choose(plate_input, plate, "truck_plate", or_first=or_first)[0]

    def set_own_chassis(self, yes: bool) -> bool:
        return self._m.set_toggle(self._panel(), yes)

    def own_chassis(self) -> bool | None:
        """The pressed own-chassis toggle (True = YES), None when the step has none."""
        panel = self._panel()
        for text, value in (("YES", True), ("NO", False)):
            if self._m.toggle_pressed(panel, text):
                return value
        return None

    # --- step 3 --------------------------------------------------------------------------------------
    def has_slot_select(self) -> bool:
        """True when the active step shows the appointment time dropdown."""
        return self._slot_select() is not None

    def _slot_select(self) -> WebElement | None:
        return self._shown(SLOT_SELECT)

    def open_slots(self) -> list[str]:
        """Open the slot select and return its option texts verbatim (panel left open for a shot)."""
        select = wait_for(self._driver, lambda d: self._slot_select() or False, self._m.timeout,
                          "the appointment time dropdown")
        return [text for _, text in self._m.open_select(select, "appointment_time")]

    def close_panels(self) -> None:
        self._m.close_panels()

    def close_calendar(self) -> None:
        self._calendar.close()

    def choose_slot(self, text: str) -> str:
        """Select exactly the offered slot ``text``; returns the value the select shows."""
        return self._m.choose_in_select(self._slot_select(), text, "appointment_time")

    def info_text(self) -> str | None:
        """The step's "Check-In for this visit ..." line, found by its text, not by a class."""
        text = str(self._driver.execute_script("return arguments[0].innerText || '';", self._panel()))
        start = text.find(INFO_PREFIX)
        return " ".join(text[start:].splitlines()[0].split()) if start >= 0 else None

    def open_calendar(self) -> list[tuple[str, date]]:
        """Open the export date picker and return its enabled days (label, date); left open."""
        self._calendar.open(self._panel())
        return self._calendar.enabled_days()

    def choose_day(self, day: date) -> None:
        """Pick ``day`` on the date picker (the operation checked that it is offered)."""
        self._calendar.choose(self._panel(), day)

    def wait_submit_ready(self) -> None:
        """Wait until the step shows its Submit button; PortalTimeout when it never does (nothing
        is booked then, so callers check this before they commit to submitting)."""
        self._submit_button()

    def submit(self) -> None:
        """Click Submit: this books on the portal."""
        self._m.click(self._submit_button())

    def _submit_button(self) -> WebElement:
        """The step's Submit button (`//button//span[contains(text(),'Submit')]/..`, A8.1)."""
        return wait_for(self._driver, lambda d: self._shown(SUBMIT_XPATH, By.XPATH) or False,
                        self._m.timeout, "the Submit button")

    def wait_after_submit(self) -> StepOutcome:
        """ADVANCED once step 4 is selected, DIALOG on a refusal; PortalTimeout otherwise."""
        return self._stepper.wait_position(4, self._confirmation_timeout, "the Confirmation step after Submit")

    def confirmation(self) -> dict[str, Any]:
        """Step 4 read generically: ``text``, label/value ``pairs`` and the appointment ``number``."""
        data = self._driver.execute_script(_PAIRS_JS, self._panel())
        pairs = [(str(k), str(v)) for k, v in data["pairs"]]
        return {"text": str(data["text"])[:2000], "pairs": pairs,
                "number": confirmation_number(pairs, [str(b) for b in data["blocks"]])}


# --- pure helpers (unit-tested) ------------------------------------------------------------------------
def is_no_slots(options: list[str]) -> bool:
    """A single option starting with ``No Appointments Available`` means no slots (B17 rule 7)."""
    return len(options) == 1 and options[0].strip().startswith(NO_SLOTS_PREFIX)


def _looks_like_id(value: str) -> bool:
    return bool(value) and " " not in value and any(ch.isdigit() for ch in value) and len(value) <= 40


def confirmation_number(pairs: list[tuple[str, str]], blocks: list[str]) -> str | None:
    """The value whose label contains ``Appointment`` (not the time/date), else the text after it."""
    for label, value in pairs:
        low = label.lower()
        if "appointment" in low and "time" not in low and "date" not in low and _looks_like_id(value):
            return value
    for i, block in enumerate(blocks):
        low = block.lower()
        if "appointment" in low and "time" not in low and "date" not in low and len(block) <= 40:
            nxt = next((b for b in blocks[i + 1:i + 3] if _looks_like_id(b)), None)
            if nxt:
                return nxt
    return None


def _type(element: WebElement, text: str) -> None:
    """Replace an input's value by typing (Angular forms listen to key input events)."""
    element.clear()
    element.send_keys(text)


__all__ = ["AppointmentWizard", "MoveForm", "PinField", "StepOutcome", "confirmation_number", "is_no_slots"]
