"""Helpers for the legacy Angular Material widgets of the real portal (PORTAL_SPEC A6, A8.2-A8.4).

Why one module: the wizard and My Appointments are built from the same handful of widgets
(mat-select, mat-autocomplete, chip inputs, button toggles, the stepper, message dialogs). Their
quirks are handled once here:

* select and autocomplete panels render in ``.cdk-overlay-container`` at the end of ``body``,
  never inside the form, so options are read there (one panel is open at a time);
* option texts live in ``span.mat-option-text`` whose *first text node* is the label (the Move
  Type options put an SVG icon before it), so the text is read from text nodes, in one script;
* every choice obeys the API's matching rule (:func:`emodal.validation.match_option`): exactly
  one option, never a fallback to another one;
* panels close on a click whose target is ``body`` (CDK outside-click handling).
"""
from __future__ import annotations

import enum
from typing import Any

from selenium.common.exceptions import ElementClickInterceptedException, ElementNotInteractableException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import OptionNotAvailable, PortalTimeout
from emodal.portal.waits import first_displayed, is_stable, js_click, scroll_into_view, wait_for, wait_stable
from emodal.validation import match_option

# --- locators (defined once) -----------------------------------------------------------------------
OVERLAY_OPTIONS_CSS = ".cdk-overlay-container mat-option"
OPEN_PANEL_CSS = ".cdk-overlay-container .mat-select-panel, .cdk-overlay-container .mat-autocomplete-panel"
BACKDROP_CSS = ".cdk-overlay-backdrop"
DIALOG_CSS = "mat-dialog-container"
FIELD_ERROR_CSS = "mat-error"
#: A legacy mat-checkbox: its input carries ``aria-checked``, its host takes the click (A9).
CHECKBOX_INPUT_CSS = "input.mat-checkbox-input"
CHECKBOX_HOST_XPATH = "./ancestor::mat-checkbox[1]"
#: A step's fields the portal refused: an invalid form field or its error text.
FIELD_INVALID_CSS = f".mat-form-field-invalid, {FIELD_ERROR_CSS}"
CLOSE_BUTTON_XPATH = ".//span[@class='mat-button-wrapper' and text()='CLOSE']"
NEXT_BUTTON_XPATH = ".//button[contains(@class,'text-next') and .//span[text()='Next']]"
TOGGLE_XPATH = (".//span[normalize-space(text())='{text}']"
                "/ancestor::*[self::button or self::mat-button-toggle][contains(@class,'mat-button-toggle')][1]")


def labelled(label: str, control: str, *, exact: bool = False) -> str:
    """XPath of ``control`` inside the mat-form-field whose mat-label contains ``label`` (reads
    exactly ``label`` with ``exact``), relative to a scope (A8.2: fields are found by their labels)."""
    test = f"normalize-space(text())='{label}'" if exact else f"contains(text(),'{label}')"
    return f".//mat-label[{test}]/ancestor::mat-form-field[1]//{control}"


class StepOutcome(enum.Enum):
    """What a wizard step did after Next or Submit."""

    ADVANCED = "advanced"  # the stepper moved on
    DIALOG = "dialog"      # a mat-dialog opened: a refusal, whatever its text (B17 rule 6)
    INVALID = "invalid"    # the page settled on the same step showing field errors
    STUCK = "stuck"        # no visible reaction: the caller's reading of a timed-out Next


# Label text of an option: the span's own text nodes (an icon may precede them), whitespace
# collapsed; the whole text content only when there are no direct text nodes.
_TEXT_JS = """
function emText(el) {
  var span = el.querySelector('span.mat-option-text') || el, t = '';
  for (var i = 0; i < span.childNodes.length; i++) {
    if (span.childNodes[i].nodeType === 3) { t += span.childNodes[i].nodeValue; }
  }
  t = t.replace(/\\s+/g, ' ').trim();
  return t || (span.textContent || '').replace(/\\s+/g, ' ').trim();
}
"""
_READ_OPTIONS_JS = _TEXT_JS + """
var out = [], opts = document.querySelectorAll(arguments[0]);
for (var i = 0; i < opts.length; i++) { out.push([opts[i], emText(opts[i])]); }
return out;
"""
_DIALOG_JS = """
var d = document.querySelector(arguments[0]);
if (!d) { return null; }
var c = d.querySelector('[class*="dialog-content"]') || d;
return (c.innerText || c.textContent || '').replace(/\\s+/g, ' ').trim();
"""
_STEPPER_JS = """
var h = document.querySelector("mat-step-header[aria-selected='true']");
if (!h) { return null; }
var panel = document.getElementById(h.getAttribute('aria-controls'));
return [parseInt(h.getAttribute('aria-posinset'), 10), panel];
"""


class Material:
    """Material widget services bound to one driver and the element timeout.

    ``scope`` arguments are elements (usually the active wizard step panel, PORTAL_SPEC B17
    rule 4): look-ups never leave them, because hidden steps keep their widgets in the DOM.
    """

    def __init__(self, driver: WebDriver, timeout: float) -> None:
        self.driver = driver
        self.timeout = timeout

    # --- generic ----------------------------------------------------------------------------------
    def click(self, element: WebElement) -> None:
        """Native click (what Angular's listeners expect), JS click when an overlay intercepts it."""
        scroll_into_view(self.driver, element)
        try:
            element.click()
        except (ElementClickInterceptedException, ElementNotInteractableException):
            js_click(self.driver, element)

    def body_click(self) -> None:
        """Close open panels the way the earlier automation did: a click whose target is ``body``."""
        self.driver.execute_script("document.body.click();")

    def close_panels(self) -> None:
        """Close any select/autocomplete panel and wait until it is gone."""
        self.dismiss_overlay(OPEN_PANEL_CSS, "the dropdown panel to close")

    def dismiss_overlay(self, shown_css: str, what: str) -> None:
        """Close the CDK overlay whose content matches ``shown_css`` (a click on its backdrop, else
        on ``body``) and wait until that content is gone; nothing to do when it is not shown."""
        if not self.driver.find_elements(By.CSS_SELECTOR, shown_css):
            return
        backdrops = self.driver.find_elements(By.CSS_SELECTOR, BACKDROP_CSS)
        if backdrops:
            js_click(self.driver, backdrops[-1])
        else:
            self.body_click()
        wait_for(self.driver, lambda d: not d.find_elements(By.CSS_SELECTOR, shown_css), self.timeout, what)

    def shown_in(self, scope: WebElement, locator: str, by: str = By.XPATH, *,
                 enabled: bool = False) -> WebElement | None:
        """The first displayed (and enabled, if asked) match of ``locator`` inside ``scope``.

        Why: the one scoped look-up of every control; hidden wizard steps keep copies in the DOM.
        """
        return first_displayed(scope.find_elements(by, locator), enabled=enabled)

    def stable(self, what: str) -> None:
        wait_stable(self.driver, self.timeout, what)

    def overlay_options(self) -> list[tuple[WebElement, str]]:
        """(element, text) of every option of the open panel, read in one script."""
        return [(pair[0], pair[1]) for pair in self.driver.execute_script(_READ_OPTIONS_JS, OVERLAY_OPTIONS_CSS)]

    def _wait_options(self, what: str) -> list[tuple[WebElement, str]]:
        return wait_for(self.driver, lambda d: self.overlay_options() or False, self.timeout, what)

    # --- mat-select ---------------------------------------------------------------------------------
    def find_select(self, scope: WebElement, label: str) -> WebElement:
        """The mat-select of the form field whose mat-label contains ``label`` (A8.2)."""
        xpath = labelled(label, "mat-select")
        return wait_for(self.driver, lambda d: self.shown_in(scope, xpath) or False,
                        self.timeout, f"the '{label}' dropdown")

    def open_select(self, select: WebElement, what: str) -> list[tuple[WebElement, str]]:
        """Open a mat-select and return its options once rendered."""
        self.close_panels()
        triggers = select.find_elements(By.CSS_SELECTOR, ".mat-select-trigger")
        self.click(triggers[0] if triggers else select)
        return self._wait_options(f"the options of {what}")

    def choose_in_select(self, select: WebElement, requested: str, field: str) -> str:
        """Select the one option matching ``requested``; return the text the select then shows.

        The read-back is what the portal really took, so responses report it (``selected``).
        """
        options = self.open_select(select, field)
        chosen = match_option(requested, [text for _, text in options], field=field)
        element = next(el for el, text in options if text == chosen)
        self.click(element)
        self.close_panels()
        self.stable(f"the portal to accept {field}")
        return self.select_value(select)

    def select_by_label(self, scope: WebElement, label: str, requested: str, field: str) -> str:
        """Find the select by its mat-label in ``scope`` and choose ``requested`` in it."""
        return self.choose_in_select(self.find_select(scope, label), requested, field)

    def select_value(self, select: WebElement) -> str:
        texts = select.find_elements(By.CSS_SELECTOR, "span.mat-select-value-text")
        return " ".join(texts[0].text.split()) if texts else ""

    # --- autocomplete -------------------------------------------------------------------------------
    def autocomplete_options(self, input_el: WebElement, what: str) -> list[tuple[WebElement, str]]:
        """Open an autocomplete with an empty input and return every option.

        Material opens the panel on focus with the unfiltered list; the earlier automation typed a
        space when nothing showed, which lists everything on the real site too.
        """
        self.close_panels()
        input_el.clear()
        self.click(input_el)
        try:
            return wait_for(self.driver, lambda d: self.overlay_options() or False,
                            min(self.timeout, 5), f"the options of {what}")
        except PortalTimeout:
            input_el.send_keys(" ")
            return self._wait_options(f"the options of {what}")

    def autocomplete_choose(self, input_el: WebElement, requested: str, field: str, *,
                            or_first: bool = False) -> tuple[str, list[str]]:
        """Pick the option matching ``requested``; with ``or_first``, a value that matches no option
        picks the first one offered (the caller decides when that is allowed).

        Returns the input's value after the choice and the full offer.
        """
        options = self.autocomplete_options(input_el, field)
        texts = [text for _, text in options]
        try:
            chosen = match_option(requested, texts, field=field)
        except OptionNotAvailable:
            if not or_first or not texts:
                raise
            chosen = texts[0]
        self.click(next(el for el, text in options if text == chosen))
        self.close_panels()
        self.body_click()
        self.stable(f"the portal to accept {field}")
        return (input_el.get_attribute("value") or "").strip(), texts

    # --- chips, toggles, checkboxes -------------------------------------------------------------------
    def add_chip(self, input_el: WebElement, value: str) -> bool:
        """Type ``value`` + Enter into a chip input; True once a chip shows it (A8.2).

        A portal that refuses the value (a booking refused by XHR) opens a dialog instead; the
        caller reads it, so this returns False then rather than raising.
        """
        chip_xpath = f".//mat-chip//span[contains(text(),'{value}')]"
        chip_list = input_el.find_element(By.XPATH, "./ancestor::mat-form-field[1]")
        if chip_list.find_elements(By.XPATH, chip_xpath):
            return True
        input_el.clear()
        input_el.send_keys(value + Keys.ENTER)
        self.stable(f"the portal to validate {value}")
        return bool(wait_for(
            self.driver,
            lambda d: "chip" if chip_list.find_elements(By.XPATH, chip_xpath)
            else ("dialog" if d.find_elements(By.CSS_SELECTOR, DIALOG_CSS) else False),
            self.timeout, f"the chip {value}") == "chip")

    def set_toggle(self, scope: WebElement, yes: bool) -> bool:
        """Press YES or NO of a mat-button-toggle pair; return the state read back (True = YES)."""
        wanted = "YES" if yes else "NO"
        xpath = TOGGLE_XPATH.format(text=wanted)
        target = wait_for(self.driver, lambda d: self.shown_in(scope, xpath) or False,
                          self.timeout, f"the {wanted} toggle")
        if not _toggle_pressed(target):
            self.click(_toggle_button(target) or target)
            wait_for(self.driver, lambda d: _toggle_pressed(target), self.timeout, f"the {wanted} toggle to be pressed")
        return _toggle_pressed(target) == yes

    def toggle_pressed(self, scope: WebElement, text: str) -> bool | None:
        """Whether the shown toggle reading ``text`` in ``scope`` is pressed; None if there is none."""
        target = self.shown_in(scope, TOGGLE_XPATH.format(text=text))
        return None if target is None else _toggle_pressed(target)

    def ensure_checked(self, checkbox_input: WebElement) -> None:
        """Check a legacy mat-checkbox (state = the input's ``aria-checked``), clicking its host."""
        if checkbox_input.get_attribute("aria-checked") == "true":
            return
        host = checkbox_input.find_element(By.XPATH, CHECKBOX_HOST_XPATH)
        self.click(host)
        wait_for(self.driver, lambda d: checkbox_input.get_attribute("aria-checked") == "true",
                 self.timeout, "the move checkbox to be checked")

    # --- dialogs ---------------------------------------------------------------------------------------
    def read_dialog(self) -> str | None:
        """Text of an open mat-dialog (any dialog is a refusal, B17 rule 6), else None."""
        return self.driver.execute_script(_DIALOG_JS, DIALOG_CSS)

    def close_dialog(self) -> None:
        """Close the dialog with its CLOSE button (Escape if it has none) and wait until gone."""
        dialogs = self.driver.find_elements(By.CSS_SELECTOR, DIALOG_CSS)
        if not dialogs:
            return
        buttons = dialogs[0].find_elements(By.XPATH, CLOSE_BUTTON_XPATH)
        if buttons:
            js_click(self.driver, buttons[0].find_element(By.XPATH, "./ancestor::button[1]"))
        else:
            self.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        wait_for(self.driver, lambda d: not d.find_elements(By.CSS_SELECTOR, DIALOG_CSS),
                 self.timeout, "the portal dialog to close")


class Stepper:
    """The wizard's horizontal mat-stepper: position, active panel and Next (A8.1)."""

    def __init__(self, material: Material) -> None:
        self.m = material
        self.driver = material.driver

    def _state(self) -> tuple[int, WebElement] | None:
        state = self.driver.execute_script(_STEPPER_JS)
        return (int(state[0]), state[1]) if state and state[1] is not None else None

    def position(self) -> int | None:
        """1-4 from ``mat-step-header[aria-selected='true']/@aria-posinset``; None without a stepper."""
        state = self._state()
        return state[0] if state else None

    def active_panel(self) -> WebElement:
        """The step content controlled by the selected header (its ``aria-controls``)."""
        return wait_for(self.driver, lambda d: (self._state() or (0, False))[1], self.m.timeout,
                        "the active wizard step")

    def wait_position(self, position: int, timeout: float, what: str) -> StepOutcome:
        """Wait until step ``position`` is selected (ADVANCED) or a dialog opens (DIALOG)."""
        return wait_for(
            self.driver,
            lambda d: StepOutcome.DIALOG if d.find_elements(By.CSS_SELECTOR, DIALOG_CSS)
            else (StepOutcome.ADVANCED if self.position() == position else False),
            timeout, what)

    def next(self) -> StepOutcome:
        """Click the active step's Next; return ADVANCED, DIALOG or INVALID.

        INVALID = the page settled on the same step showing field errors (client validation).
        Without any of these within the timeout, :class:`PortalTimeout` names the step.
        """
        before = self.position()
        panel = self.active_panel()
        # The step's own Next, visible and enabled: every step keeps one in the DOM (A8.1).
        button = wait_for(self.driver, lambda d: self.m.shown_in(panel, NEXT_BUTTON_XPATH, enabled=True) or False,
                          self.m.timeout, f"the Next button of step {before}")
        self.m.click(button)

        def outcome(d: WebDriver) -> StepOutcome | bool:
            if d.find_elements(By.CSS_SELECTOR, DIALOG_CSS):
                return StepOutcome.DIALOG
            now = self.position()
            if now is not None and now != before:
                return StepOutcome.ADVANCED
            if self.m.driver.execute_script("return !!arguments[0].querySelector(arguments[1]);",
                                            panel, FIELD_INVALID_CSS):
                return StepOutcome.INVALID if is_stable(d) else False
            return False

        return wait_for(self.driver, outcome, self.m.timeout, f"step {before} to advance after Next")


def _toggle_button(element: WebElement) -> WebElement | None:
    """The toggle's ``button``: the element itself or its first button descendant."""
    if element.tag_name.lower() == "button":
        return element
    found = element.find_elements(By.TAG_NAME, "button")
    return found[0] if found else None


def _toggle_pressed(element: WebElement) -> bool:
    """A toggle is on when its button says ``aria-pressed=true`` or its host has the checked class."""
    button = _toggle_button(element)
    if button is not None and button.get_attribute("aria-pressed") == "true":
        return True
    hosts = element.find_elements(By.XPATH, "./ancestor-or-self::mat-button-toggle[1]")
    return bool(hosts) and "mat-button-toggle-checked" in (hosts[0].get_attribute("class") or "")


def text_of(driver: WebDriver, element: WebElement) -> str:
    """``innerText`` of an element with whitespace collapsed (one round trip)."""
    value: Any = driver.execute_script("return arguments[0].innerText || '';", element)
    return " ".join(str(value).split())


__all__ = ["Material", "StepOutcome", "Stepper", "labelled", "text_of"]
