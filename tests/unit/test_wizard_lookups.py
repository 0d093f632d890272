"""Scoped look-ups of the wizard page object, with stand-in elements (no browser).

Why unit tests: the replica renders the move cards before it selects step 2, so a browser run
cannot show a page object reading the active panel before its cards exist; the real portal may
(Angular renders a step's ``*ngFor`` after the step changes). These fakes answer the two
questions the page object asks: which panel is active, and what it holds.
"""
from __future__ import annotations

from typing import Any

from emodal.config import Settings
from emodal.portal.appointment_wizard import AppointmentWizard
from emodal.portal.urls import PortalUrls

URLS = PortalUrls.from_settings(Settings())


class FakeElement:
    def __init__(self, shown: bool = True, checked: bool = True) -> None:
        self.shown, self.checked = shown, checked

    def is_displayed(self) -> bool:
        return self.shown

    def is_enabled(self) -> bool:
        return True

    def get_attribute(self, name: str) -> str | None:
        return str(self.checked).lower() if name == "aria-checked" else None


class FakePanel:
    """The active step panel; each look-up returns the next of ``answers`` (the last one repeats)."""

    def __init__(self, *answers: list[FakeElement]) -> None:
        self.answers = list(answers)
        self.locators: list[str] = []

    def find_elements(self, by: str, locator: str) -> list[FakeElement]:
        self.locators.append(locator)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class FakeDriver:
    """Only the stepper script is run: it answers step 2 and the panel its header controls."""

    def __init__(self, panel: FakePanel) -> None:
        self.panel = panel

    def execute_script(self, script: str, *args: Any) -> Any:
        return [2, self.panel]


def wizard(panel: FakePanel) -> AppointmentWizard:
    return AppointmentWizard(FakeDriver(panel), URLS, element_timeout=2,  # type: ignore[arg-type]
                             page_timeout=2, confirmation_timeout=2)


def test_check_move_waits_for_the_cards_of_the_active_step():
    box = FakeElement(checked=True)
    panel = FakePanel([], [], [box])
    wizard(panel).check_move()  # used to raise IndexError on the first, empty answer
    assert panel.locators == ["input.mat-checkbox-input"] * 3


def test_controls_are_the_shown_ones_of_the_active_panel():
    hidden, shown = FakeElement(shown=False), FakeElement()
    assert wizard(FakePanel([hidden, shown])).has_slot_select() is True
    assert wizard(FakePanel([hidden])).has_slot_select() is False
