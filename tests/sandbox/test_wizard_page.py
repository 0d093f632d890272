"""Appointment wizard of the sandbox in real Chromium (PORTAL_SPEC B11; Part C items 11-14).

Tests of the replica's DOM drive the page with raw real-site locators: mat-labels, exact-class
option spans, the text-next XPath, the active panel found through the selected step header. Tests
that only need to *be* at step 3 get there with the service's own page object
(:func:`walk_to_step3`). Oracles come from the admin API. Booking consumes shared capacity, so the
module resets the sandbox at its end.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from emodal.portal.appointment_wizard import AppointmentWizard, StepOutcome
from tests.conftest import sandbox_urls, ui_login

pytestmark = [pytest.mark.browser]

TTI = "Total Terminals Intl LLC"
SLOT_RE = re.compile(r"^[A-Z][a-z]+day \d\d/\d\d/\d{4} \d\d:\d\d - \d\d:\d\d$")
PAGE_NEXT = "//button[contains(@class,'text-next') and .//span[text()='Next']]"  # the real-site XPath (A8.1)
NEXT = "." + PAGE_NEXT
CLOSE = "//span[@class='mat-button-wrapper' and text()='CLOSE']"
SUBMIT = ".//button//span[contains(text(),'Submit')]/.."
OPTIONS = "//div[contains(@class,'cdk-overlay-container')]//mat-option//span[@class='mat-option-text']"


# ---- page helpers (the service's way of driving the wizard) ----------------------------------
def wait_stable(driver: Any) -> None:
    WebDriverWait(driver, 15).until(lambda d: d.execute_script(
        "return !!window.getAllAngularTestabilities && "
        "window.getAllAngularTestabilities().every(function (t) { return t.isStable(); })"))


def active_panel(driver: Any) -> tuple[int, WebElement]:
    header = driver.find_element(By.CSS_SELECTOR, "mat-step-header[aria-selected='true']")
    return int(header.get_attribute("aria-posinset")), driver.find_element(By.ID, header.get_attribute("aria-controls"))


def choose(driver: Any, label: str, text: str) -> None:
    driver.find_element(By.XPATH, f"//mat-label[contains(text(),'{label}')]/ancestor::mat-form-field//mat-select").click()
    driver.find_element(By.XPATH, f"//mat-option//span[normalize-space(text())='{text}']").click()


def option_texts(driver: Any) -> list[str]:
    return [e.get_attribute("textContent").strip() for e in driver.find_elements(By.XPATH, OPTIONS)]


def next_step(driver: Any) -> int:
    _, panel = active_panel(driver)
    panel.find_element(By.XPATH, NEXT).click()
    wait_stable(driver)
    return active_panel(driver)[0]


def close_dialog(driver: Any) -> str:
    text = driver.find_element(By.CSS_SELECTOR, "mat-dialog-container .dialog-content").text
    driver.find_element(By.XPATH, CLOSE).click()
    assert not driver.find_elements(By.CSS_SELECTOR, "mat-dialog-container")
    return text


def open_wizard(driver: Any, base_url: str) -> None:
    driver.get(f"{base_url}/termops/trucker/web/addvisit")
    wait_stable(driver)
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "mat-step-header"))


def step1(driver: Any, terminal: str, move: str, chips: list[str] = (), wait: bool = True) -> None:
    choose(driver, "Terminal", terminal)
    choose(driver, "Move Type", move)
    for chip in chips:
        field = driver.find_element(By.CSS_SELECTOR, "input[formcontrolname=containerNumber], input[formcontrolname=bookingNumber]")
        field.send_keys(chip, Keys.ENTER)
        if wait:
            wait_stable(driver)


def step2(driver: Any, plate: str = "9E51234") -> int:
    driver.execute_script("arguments[0].closest('mat-checkbox').click()",
                          driver.find_element(By.CSS_SELECTOR, "input.mat-checkbox-input"))
    _, panel = active_panel(driver)
    field = panel.find_element(By.CSS_SELECTOR, "input[formcontrolname=Plate]")
    field.click()
    driver.find_element(By.XPATH, f"//mat-option//span[contains(text(),'{plate}')]").click()
    return next_step(driver)


def walk_to_step3(driver: Any, base_url: str, terminal: str, move: str, container: str,
                  plate: str = "9E51234") -> None:
    """Open a fresh wizard and walk it to step 3 with the service's page object."""
    wizard = AppointmentWizard(driver, sandbox_urls(base_url), element_timeout=15, page_timeout=30,
                               confirmation_timeout=30)
    wizard.open()
    wizard.choose("Terminal", terminal, "terminal")
    wizard.choose("Move Type", move, "move_type")
    assert wizard.add_container(container)
    assert wizard.next() is StepOutcome.ADVANCED
    wizard.check_move()
    wizard.choose_plate(plate)
    assert wizard.next() is StepOutcome.ADVANCED and wizard.position() == 3


def slot_rows(sandbox: Any, terminal: str) -> list[dict]:
    return sandbox.admin.get(f"slots?terminal={quote(terminal)}")["slots"]


def future_slot(sandbox: Any, terminal: str, capacity: int) -> str:
    """A slot starting at least two hours ahead, set to `capacity` (never one about to start)."""
    horizon = datetime.now().astimezone() + timedelta(hours=2)
    rows = slot_rows(sandbox, terminal)
    slot = next(r["slot"] for r in rows if datetime.fromisoformat(r["start"]) > horizon)
    sandbox.admin.put("slots", {"terminal": terminal, "slot": slot, "capacity": capacity})
    return slot


def capacity_of(sandbox: Any, terminal: str, slot: str) -> int:
    return next(r["capacity"] for r in slot_rows(sandbox, terminal) if r["slot"] == slot)


# ---- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def driver(sandbox: Any, chrome_factory: Any, portal_login: Any) -> Iterator[Any]:
    browser = chrome_factory()
    portal_login(browser, "jdoe")
    try:
        yield browser
    finally:
        browser.quit()
        sandbox.admin.reset()  # bookings consumed shared capacity and changed containers


@pytest.fixture
def wizard(driver: Any, sandbox: Any) -> Any:
    open_wizard(driver, sandbox.base_url)
    return driver


# ---- tests ---------------------------------------------------------------------------------------
def test_shell_is_blank_before_boot_then_has_four_steps(driver: Any, sandbox: Any) -> None:
    sandbox.admin.set_config(page_boot_ms={"termops": 1500})
    try:
        driver.get(f"{sandbox.base_url}/termops/trucker/web/addvisit")
        assert driver.execute_script("return document.querySelector('app-root').children.length") == 0
        assert driver.find_element(By.TAG_NAME, "body").text.strip() == ""
        wait_stable(driver)
    finally:
        sandbox.admin.set_config(page_boot_ms={"termops": 50})
    assert driver.title == "Add Appointment"
    headers = driver.find_elements(By.CSS_SELECTOR, "mat-step-header")
    assert [h.get_attribute("aria-posinset") for h in headers] == ["1", "2", "3", "4"]
    assert [h.get_attribute("aria-selected") for h in headers].count("true") == 1
    assert [h.text.split("\n")[-1] for h in headers] == \
        ["Add required data", "Add move details", "Choose appointment time", "Confirmation"]
    panels = driver.find_elements(By.CSS_SELECTOR, "div.mat-horizontal-stepper-content[role=tabpanel]")
    assert len(panels) == 4
    assert sum("mat-horizontal-stepper-content-inactive" in p.get_attribute("class") for p in panels) == 3


def _footer(panel: WebElement) -> dict[str, int]:
    """How many Next, Back and Submit buttons a step panel holds (shown or not)."""
    return {name: len(panel.find_elements(By.XPATH, xpath)) for name, xpath in
            (("next", NEXT), ("back", ".//button[.//span[text()='Back']]"), ("submit", SUBMIT))}


def _shown_next(driver: Any) -> list[WebElement]:
    """The page-wide text-next XPath filtered the real-site way: visible and enabled (A8.1)."""
    return [b for b in driver.find_elements(By.XPATH, PAGE_NEXT) if b.is_displayed() and b.is_enabled()]


def test_every_step_panel_is_rendered_from_the_start_and_only_the_active_one_shows(wizard: Any) -> None:
    """B11.1: all four panels, with their footers, stay in the DOM; inactive ones are not displayed,
    so the page-wide Next XPath matches one button per step and only the active step's is visible."""
    driver = wizard
    panels = driver.find_elements(By.CSS_SELECTOR, "div.mat-horizontal-stepper-content[role=tabpanel]")
    assert [p.get_attribute("id") for p in panels] == [f"cdk-step-content-0-{i}" for i in range(4)]
    assert [_footer(p) for p in panels] == [
        {"next": 1, "back": 0, "submit": 0}, {"next": 1, "back": 1, "submit": 0},
        {"next": 0, "back": 1, "submit": 1}, {"next": 0, "back": 0, "submit": 0}]
    assert [p.is_displayed() for p in panels] == [True, False, False, False]
    assert [driver.execute_script("return getComputedStyle(arguments[0]).visibility", p) for p in panels[1:]] == \
        ["hidden"] * 3
    nexts = driver.find_elements(By.XPATH, PAGE_NEXT)
    assert len(nexts) == 2 and _shown_next(driver) == [nexts[0]]
    # The A6 trap: step 2's plate autocomplete and step 3's slot select are there, hidden, before step 1 is done.
    plate = driver.find_element(By.CSS_SELECTOR, "input[formcontrolname=Plate].mat-autocomplete-trigger")
    slot = driver.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]")
    assert not plate.is_displayed() and not slot.is_displayed()
    assert driver.find_elements(By.CSS_SELECTOR, "input.mat-autocomplete-trigger") == [plate]

    step1(driver, TTI, "DROP EMPTY", ["CAIU3000032"])
    assert next_step(driver) == 2
    assert driver.find_elements(By.XPATH, PAGE_NEXT) == nexts  # the same buttons, never re-rendered
    assert _shown_next(driver) == [nexts[1]]
    assert [p.is_displayed() for p in panels] == [False, True, False, False]
    assert step2(driver) == 3
    assert _shown_next(driver) == []  # step 3 has Back and Submit only; both Next stay hidden
    assert [p.is_displayed() for p in panels] == [False, False, True, False]
    _, panel = active_panel(driver)
    assert panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]") == slot and slot.is_displayed()
    panel.find_element(By.XPATH, ".//button[.//span[text()='Back']]").click()
    wait_stable(driver)
    assert active_panel(driver)[0] == 2 and _shown_next(driver) == [nexts[1]]
    assert [p.is_displayed() for p in panels] == [False, True, False, False]


def test_step1_selects_chips_and_variants(wizard: Any) -> None:
    driver = wizard
    company = driver.find_element(By.XPATH, "//mat-label[text()='Trucking company']/ancestor::mat-form-field//mat-select")
    assert company.text == "B & T DRAYAGE LLC"
    assert company.get_dom_attribute("aria-label") is None
    driver.find_element(By.XPATH, "//mat-label[contains(text(),'Terminal')]/ancestor::mat-form-field//mat-select").click()
    terminals = option_texts(driver)
    assert len(terminals) == 18 and terminals == sorted(terminals, key=str.casefold)
    assert driver.find_elements(By.CSS_SELECTOR, ".cdk-overlay-backdrop")
    driver.execute_script("document.body.click()")
    assert option_texts(driver) == []
    company.click()
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    assert option_texts(driver) == [] and company.get_attribute("aria-expanded") == "false"
    choose(driver, "Terminal", TTI)
    assert not driver.find_elements(By.XPATH, "//mat-icon[text()='calendar_month']")
    driver.find_element(By.XPATH, "//mat-label[contains(text(),'Move Type')]/ancestor::mat-form-field//mat-select").click()
    first = driver.find_element(By.XPATH, OPTIONS)
    assert driver.execute_script("return arguments[0].firstElementChild.tagName.toLowerCase()", first) == "svg"
    assert [o for o in option_texts(driver)] == ["PICK FULL", "DROP FULL", "PICK EMPTY", "DROP EMPTY"]
    driver.find_element(By.XPATH, "//mat-option//span[normalize-space(text())='PICK FULL']").click()
    assert driver.find_elements(By.XPATH, "//mat-icon[text()='calendar_month']")

    chip_input = driver.find_element(By.CSS_SELECTOR, "input[formcontrolname=containerNumber][placeholder='Container number(s)']")
    chip_input.send_keys(" tgbu2000026 ", Keys.ENTER)
    chip_input.send_keys("TGBU2000026", Keys.ENTER)
    assert [c.text for c in driver.find_elements(By.XPATH, "//mat-chip//span[contains(text(),'TGBU2000026')]")] == ["TGBU2000026"]
    assert driver.find_element(By.CSS_SELECTOR, "mat-hint").text == "1 / Maximum Allowed(10)"
    chip_input.send_keys("BAD123", Keys.ENTER)
    assert driver.find_element(By.CSS_SELECTOR, "mat-error").text == "Invalid container number"
    chip_input.send_keys("MSCU1000017")
    driver.execute_script("document.body.click()")
    assert len(driver.find_elements(By.CSS_SELECTOR, "mat-chip")) == 1  # blur adds nothing
    assert driver.find_elements(By.CSS_SELECTOR, "input.mat-checkbox-input") == []

    choose(driver, "Terminal", "TraPac LLC - Los Angeles")
    choose(driver, "Move Type", "DROP EMPTY")
    _, panel = active_panel(driver)
    triggers = panel.find_elements(By.CSS_SELECTOR, "input[matinput].mat-autocomplete-trigger")
    assert len(triggers) == 2  # page-wide there is a third: step 2's hidden Truck Plate
    assert all(t.get_dom_attribute("placeholder") is None and t.get_dom_attribute("formcontrolname") is None for t in triggers)
    triggers[0].click()
    assert option_texts(driver) == ["CMDU", "EGLV", "GMSU", "HDMU", "MSC", "ONEY", "OOLU", "YMJA"]
    triggers[1].click()  # focus moves on: one panel at a time, now Equip Size's
    assert option_texts(driver) == ["20GP", "40GP", "40DH", "40HC", "45DH", "40RH"]
    triggers[1].send_keys("40")
    assert option_texts(driver) == ["40GP", "40DH", "40HC", "40RH"]
    assert driver.find_elements(By.XPATH, "//mat-label[contains(text(),'Quantity')]")


def test_refusals_show_dialogs(wizard: Any) -> None:
    driver = wizard
    step1(driver, TTI, "DROP FULL", ["RICFEM100300"])
    assert close_dialog(driver) == "No open transactions for this booking number."
    assert driver.find_elements(By.CSS_SELECTOR, "mat-chip") == []
    driver.find_element(By.CSS_SELECTOR, "input[formcontrolname=bookingNumber]").send_keys("BKGNOLINE001", Keys.ENTER)
    wait_stable(driver)
    assert close_dialog(driver) == "Booking shippingline is required"
    assert driver.find_elements(By.CSS_SELECTOR, "mat-chip") == []

    open_wizard(driver, driver.current_url.split("/termops")[0])
    step1(driver, "ITS Long Beach", "PICK FULL", ["YMMU7000078"])
    assert next_step(driver) == 1
    assert close_dialog(driver) == "Container YMMU7000078 has holds."


def test_empty_slot_texts(driver: Any, sandbox: Any) -> None:
    walk_to_step3(driver, sandbox.base_url, "Port Everglades Terminal", "DROP EMPTY", "CAIU3000032")
    _, panel = active_panel(driver)
    panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]").click()
    assert option_texts(driver) == ["No Appointments Available"]
    driver.execute_script("document.body.click()")

    for row in slot_rows(sandbox, TTI):
        sandbox.admin.put("slots", {"terminal": TTI, "slot": row["slot"], "capacity": 0})
    walk_to_step3(driver, sandbox.base_url, TTI, "DROP EMPTY", "CAIU3000032")
    _, panel = active_panel(driver)
    slot = panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]")
    assert slot.get_dom_attribute("aria-label") is None
    slot.click()
    assert option_texts(driver) == ["No Appointments Available!"]


def test_pick_full_books_once_and_only_for_jdoe(wizard: Any, sandbox: Any, portal_login: Any) -> None:
    driver = wizard
    sandbox.admin.reset()  # fresh capacity (the previous test emptied TTI); drops the session
    portal_login(driver, "jdoe")
    open_wizard(driver, sandbox.base_url)
    slot = future_slot(sandbox, TTI, 1)
    step1(driver, TTI, "PICK FULL", ["TGBU2000026"])
    assert next_step(driver) == 2
    _, panel = active_panel(driver)
    box = driver.find_element(By.CSS_SELECTOR, "input.mat-checkbox-input")  # the page's first one
    assert panel.find_elements(By.CSS_SELECTOR, "input.mat-checkbox-input")[0] == box
    plate = panel.find_element(By.CSS_SELECTOR, "input[formcontrolname=Plate]")
    plate.click()
    assert driver.find_elements(By.CSS_SELECTOR, "div.cdk-overlay-container mat-option")
    driver.find_element(By.TAG_NAME, "body").click()
    driver.execute_script("document.body.click()")
    assert driver.find_elements(By.CSS_SELECTOR, "div.cdk-overlay-container mat-option") == []
    toggles = {b.text: b for b in panel.find_elements(By.CSS_SELECTOR, "button.mat-button-toggle-button")}
    assert toggles["NO"].get_attribute("aria-pressed") == "true"
    toggles["YES"].click()
    host = toggles["YES"].find_element(By.XPATH, "./ancestor::mat-button-toggle")
    assert "mat-button-toggle-checked" in host.get_attribute("class")
    assert panel.find_element(By.CSS_SELECTOR, "input[formcontrolname=Pin][placeholder=PIN]")
    assert step2(driver) == 3

    _, panel = active_panel(driver)
    panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]").click()
    offered = option_texts(driver)
    assert offered and all(SLOT_RE.match(t) for t in offered) and slot in offered
    driver.find_element(By.XPATH, f"//mat-option//span[normalize-space(text())='{slot}']").click()
    start = datetime.strptime(slot.split(" ", 1)[1][:16], "%m/%d/%Y %H:%M") - timedelta(hours=6)
    assert panel.find_element(By.CSS_SELECTOR, "div.info-box").text.endswith(
        f"Check-In for this visit should be completed by {start:%m/%d/%Y %H:%M}")
    panel.find_element(By.XPATH, SUBMIT).click()
    wait_stable(driver)
    step, panel = active_panel(driver)
    assert step == 4
    assert "Your appointment request has been submitted." in panel.text
    label = panel.find_element(By.XPATH, ".//div[contains(@class,'field-label') and text()='Appointment #']")
    number = label.find_element(By.XPATH, "following-sibling::div[1]").text
    assert re.fullmatch(r"TTI-\d{4}-\d{5}", number)
    assert capacity_of(sandbox, TTI, slot) == 0
    assert slot not in [r["slot"] for r in slot_rows(sandbox, TTI) if r["capacity"] > 0]
    oracle = sandbox.admin.get("accounts/jdoe/appointments")["appointments"]
    assert any(a["number"] == number and a["container"] == "TGBU2000026" for a in oracle)
    container = next(c for c in sandbox.admin.get("accounts/jdoe/containers")["containers"]
                     if c.get("number") == "TGBU2000026")
    assert number in str(container)

    open_wizard(driver, sandbox.base_url)
    step1(driver, TTI, "PICK FULL", ["TGBU2000026"])
    assert next_step(driver) == 1
    assert close_dialog(driver) == \
        "An appointment already exists for container TGBU2000026 and move type PICK FULL."

    driver.get(f"{sandbox.base_url}/truckerportal/myappointments")
    wait_stable(driver)
    assert driver.find_elements(By.XPATH, f"//td[text()='{number}']")

    sandbox.admin.logout("jdoe")  # kills the identity session too (its cookie is path-scoped)
    portal_login(driver, "asmith")
    assert all(a["number"] != number for a in sandbox.admin.get("accounts/asmith/appointments")["appointments"])
    driver.get(f"{sandbox.base_url}/truckerportal/myappointments")
    wait_stable(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "tr.mat-row")
    assert not driver.find_elements(By.XPATH, f"//td[text()='{number}']")
    open_wizard(driver, sandbox.base_url)
    step1(driver, TTI, "PICK FULL", ["TGBU2000026"])
    assert next_step(driver) == 1
    assert close_dialog(driver) == "Container TGBU2000026 was not found."
    sandbox.admin.logout("asmith")
    portal_login(driver, "jdoe")  # the module's browser belongs to jdoe


def test_booking_moves_pick_a_day_then_a_slot(wizard: Any, sandbox: Any) -> None:
    driver = wizard
    step1(driver, TTI, "DROP FULL", ["RICFEM100200"])
    assert [c.text for c in driver.find_elements(By.CSS_SELECTOR, "mat-chip span")] == ["RICFEM100200"]
    quantity = driver.find_element(By.XPATH, "//mat-label[contains(text(),'Quantity')]/ancestor::mat-form-field//input")
    assert quantity.get_attribute("value") == "0" and quantity.get_dom_attribute("min") == "1"
    assert next_step(driver) == 1  # Quantity 0 is refused on the client
    assert driver.find_element(By.CSS_SELECTOR, "mat-error").text == "Required"
    quantity.clear()
    quantity.send_keys("1")
    assert next_step(driver) == 2
    _, panel = active_panel(driver)
    toggles = {b.text: b.get_attribute("aria-pressed") for b in panel.find_elements(By.CSS_SELECTOR, "button.mat-button-toggle-button")}
    assert toggles == {"YES": "true", "NO": "false"}  # export default YES
    unit = panel.find_element(By.CSS_SELECTOR, "input[matinput][uppercase][maxlength='11'][formcontrolname=Unit]")
    unit.send_keys("trhu4000040")
    panel.find_element(By.CSS_SELECTOR, "input[formcontrolname=Seal1_Num]").send_keys("1")
    assert step2(driver) == 3
    _, panel = active_panel(driver)
    panel.find_element(By.XPATH, ".//mat-icon[text()='calendar_month']/ancestor::button").click()
    enabled = driver.find_elements(By.CSS_SELECTOR, "td.mat-calendar-body-cell:not(.mat-calendar-body-disabled)")
    assert enabled and re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4}", enabled[0].get_attribute("aria-label"))
    assert driver.find_elements(By.CSS_SELECTOR, "td.mat-calendar-body-disabled")
    day = datetime.strptime(enabled[-1].get_attribute("aria-label"), "%B %d, %Y")
    enabled[-1].click()
    wait_stable(driver)
    select = panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]")
    assert select.text.split(" ")[1] == f"{day:%m/%d/%Y}"
    panel.find_element(By.XPATH, SUBMIT).click()
    wait_stable(driver)
    step, panel = active_panel(driver)
    assert step == 4
    assert panel.find_element(By.XPATH, ".//div[text()='Booking #']/following-sibling::div[1]").text == "RICFEM100200"


def test_every_simulated_wait_keeps_the_page_unstable(wizard: Any, sandbox: Any) -> None:
    driver = wizard
    sandbox.admin.set_config(booking_validation_ms=700, step_transition_ms=700)
    try:
        open_wizard(driver, sandbox.base_url)
        step1(driver, TTI, "PICK EMPTY", ["RICFEM100200"], wait=False)
        assert driver.execute_script("return window.getAllAngularTestabilities()[0].isStable()") is False
        wait_stable(driver)
        assert [c.text for c in driver.find_elements(By.CSS_SELECTOR, "mat-chip span")] == ["RICFEM100200"]
        quantity = driver.find_element(By.XPATH, "//mat-label[contains(text(),'Quantity')]/ancestor::mat-form-field//input")
        quantity.clear()
        quantity.send_keys("2")
        _, panel = active_panel(driver)
        panel.find_element(By.XPATH, NEXT).click()
        assert driver.execute_script("return window.getAllAngularTestabilities()[0].isStable()") is False
        wait_stable(driver)
        assert active_panel(driver)[0] == 2
        assert len(driver.find_elements(By.CSS_SELECTOR, "div.move-card")) == 2
    finally:
        sandbox.admin.set_config(booking_validation_ms=0, step_transition_ms=0)


def test_submit_of_a_vanished_slot_stays_on_step_3_with_fresh_slots(driver: Any, sandbox: Any) -> None:
    slot = future_slot(sandbox, "ITS Long Beach", 3)
    walk_to_step3(driver, sandbox.base_url, "ITS Long Beach", "DROP EMPTY", "CAIU3000032")
    _, panel = active_panel(driver)
    panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]").click()
    driver.find_element(By.XPATH, f"//mat-option//span[normalize-space(text())='{slot}']").click()
    sandbox.admin.put("slots", {"terminal": "ITS Long Beach", "slot": slot, "capacity": 0})
    panel.find_element(By.XPATH, SUBMIT).click()
    wait_stable(driver)
    assert close_dialog(driver) == "The selected appointment time is no longer available."
    assert active_panel(driver)[0] == 3
    panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]").click()
    assert slot not in option_texts(driver)
    assert all(a["container"] != "CAIU3000032" or a["status"] != "CONFIRMED"
               for a in sandbox.admin.get("accounts/jdoe/appointments")["appointments"])


@pytest.mark.slow
def test_realistic_profile_login_containers_and_wizard_check(chrome_factory: Any) -> None:
    """C19: with realistic delays, waiting on isStable() alone is enough at every step."""
    from emodal.sandbox import SandboxServer

    server = SandboxServer(profile="realistic").start()
    browser = chrome_factory()
    try:
        server.admin.set_config(captcha_solve_delay_s=0.5)  # the solver wait is not under test
        ui_login(browser, server.base_url, "jdoe", start_url=f"{server.base_url}/ecp2/containers", timeout=60)
        assert browser.current_url.endswith("/ecp2/containers")
        wait_stable(browser)
        assert browser.find_elements(By.CSS_SELECTOR, "#searchres tr.mat-row")
        browser.get(f"{server.base_url}/termops/trucker/web/addvisit")
        wait_stable(browser)  # false all through the 8 s boot
        step1(browser, TTI, "PICK FULL", ["TGBU2000026"])
        assert next_step(browser) == 2
        assert step2(browser) == 3
        _, panel = active_panel(browser)
        panel.find_element(By.CSS_SELECTOR, "mat-select[formcontrolname=slot]").click()
        assert all(SLOT_RE.match(t) for t in option_texts(browser))
    finally:
        browser.quit()
        server.stop()
