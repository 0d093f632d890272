"""App shell, testability and the primitive Material widgets in a real browser (B9.1-B9.3)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

STABLE_JS = "return !!window.getAllAngularTestabilities && getAllAngularTestabilities().every(t => t.isStable())"
ERROR_WORDS = re.compile(r"error|403|404|500|forbidden|not found", re.I)


@pytest.fixture(scope="module")
def driver(chrome_factory, sandbox, portal_login):
    browser = chrome_factory()
    sandbox.admin.reset()
    portal_login(browser, "jdoe")
    yield browser
    browser.quit()


def open_booted(driver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(STABLE_JS))


@pytest.fixture
def welcome(driver, sandbox):
    open_booted(driver, f"{sandbox.base_url}/account/Home/Welcome")
    return driver


def test_served_html_has_empty_app_root(driver, sandbox):
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    html = requests.get(f"{sandbox.base_url}/account/Home/Welcome", cookies=cookies, timeout=10).text
    assert "<app-root></app-root>" in html
    assert "Welcome to eModal" not in html and "getAllAngularTestabilities" not in html


def test_boot_delay_keeps_page_blank_and_unstable(driver, sandbox):
    sandbox.admin.set_config(page_boot_ms={"account": 1500})
    try:
        driver.get(f"{sandbox.base_url}/account/Home/Welcome")
        early = driver.execute_script(
            "return [document.querySelector('app-root').innerHTML, getAllAngularTestabilities()[0].isStable()]")
        assert early == ["", False]
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(STABLE_JS))
        root = driver.find_element(By.TAG_NAME, "app-root")
        assert root.get_attribute("ng-version") == "14.2.12"
        assert driver.find_elements(By.CSS_SELECTOR,
                                    "app-root > mat-sidenav-container > mat-sidenav-content > mat-toolbar")
    finally:
        sandbox.admin.set_config(page_boot_ms={"account": 0})


@pytest.mark.parametrize("path, bar_text, colour", [
    ("/account/Home/Welcome", "menu\nsettings\nhelp\nperson", "rgba(0, 137, 123, 1)"),
    ("/termops/trucker/web/", "menu\neModal Community Portal\nshopping_cart\nsettings\nhelp\nperson",
     "rgba(66, 66, 66, 1)"),
])
def test_app_bar_text_order_and_square_colour(driver, sandbox, path, bar_text, colour):
    open_booted(driver, sandbox.base_url + path)
    toolbar = driver.find_element(By.CSS_SELECTOR, "mat-toolbar.mat-toolbar.mat-primary.mat-toolbar-single-row")
    assert toolbar.text == bar_text
    square = toolbar.find_element(By.CSS_SELECTOR, "button.menu-square")
    assert square.value_of_css_property("background-color") == colour
    headings = driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3")
    assert not any(ERROR_WORDS.search(h.text) for h in headings)
    assert not ERROR_WORDS.search(driver.title)


def test_routes_are_case_insensitive_and_unknown_paths_404(driver, sandbox):
    open_booted(driver, f"{sandbox.base_url}/TERMOPS/Trucker/Web/")
    assert driver.title == "eModal Community Portal"
    driver.get(f"{sandbox.base_url}/no/such/page")
    assert driver.title == "404 Not Found"


def test_tracked_delay_and_whenstable(welcome):
    result = welcome.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const t = getAllAngularTestabilities()[0];
        EM.delay(300);
        const during = [t.isStable(), t.getPendingRequestCount()];
        t.whenStable(ok => done([during, ok, t.isStable(), getAngularTestability(document.body) === t]));""")
    assert result == [[False, 1], True, True, True]


def test_buttons_and_icons_follow_the_catalogue(welcome):
    welcome.execute_script("""
        const host = document.querySelector('router-outlet').parentNode;
        host.appendChild(EM.button('Next', {flavour: 'mat-stroked-button', classes: 'text-next'}));
        const off = EM.button('Submit', {flavour: 'mat-flat-button', disabled: true});
        host.appendChild(off);
        const excel = EM.button(EM.svgIcon('xls'), {flavour: 'mat-icon-button', attrs: {mattooltip: 'Excel'}});
        excel.id = 'probe-excel';
        host.appendChild(excel);
        EM.tooltip(excel, 'Excel');""")
    assert welcome.find_element(By.XPATH, "//button[contains(@class,'text-next') and .//span[text()='Next']]")
    wrapper = welcome.find_element(By.XPATH, "//span[@class='mat-button-wrapper' and text()='Submit']")
    submit = wrapper.find_element(By.XPATH, "..")
    assert submit.get_attribute("disabled") and "mat-button-disabled" in submit.get_attribute("class")
    icon = welcome.find_element(By.CSS_SELECTOR, "button[mattooltip=Excel] > span > mat-icon[svgicon=xls]")
    assert set(icon.get_attribute("class").split()) >= {"mat-icon", "notranslate", "svg-xls-icon", "mat-icon-no-color"}
    assert icon.get_attribute("role") == "img" and icon.get_attribute("data-mat-icon-type") == "svg"
    assert icon.find_element(By.CSS_SELECTOR, "svg g#excel_icon > path#Path_346[data-name='Path 346'][fill='#1a8e07']")
    assert icon.text == ""
    menu = welcome.find_element(By.XPATH, "//mat-icon[text()='menu']")
    assert menu.get_attribute("class") == "mat-icon notranslate material-icons mat-icon-no-color"
    assert menu.get_attribute("data-mat-icon-type") == "font" and menu.get_attribute("aria-hidden") == "true"
    ActionChains(welcome).move_to_element(welcome.find_element(By.ID, "probe-excel")).perform()
    tip = welcome.find_element(By.CSS_SELECTOR,
                               ".cdk-overlay-container .cdk-overlay-pane mat-tooltip-component > div.mat-tooltip")
    assert tip.text == "Excel"
    ActionChains(welcome).move_to_element(welcome.find_element(By.TAG_NAME, "mat-toolbar")).perform()
    assert welcome.find_elements(By.CSS_SELECTOR, "mat-tooltip-component") == []


def test_legacy_checkbox_toggles_once_per_click_without_host_aria(welcome):
    welcome.execute_script("""
        window.__changes = [];
        const box = EM.checkbox({label: 'probe', onChange: c => window.__changes.push(c)});
        const probe = EM.h('div', {id: 'probe-box'}, box.el);
        document.querySelector('router-outlet').parentNode.appendChild(probe);""")
    host = welcome.find_element(By.CSS_SELECTOR, "#probe-box > mat-checkbox.mat-checkbox.mat-accent")
    box_input = host.find_element(By.CSS_SELECTOR, "input.mat-checkbox-input.cdk-visually-hidden[type=checkbox]")
    host.click()                                                          # user click on the host
    welcome.execute_script("arguments[0].click()", box_input)             # script click on the input
    host.find_element(By.CSS_SELECTOR, "span.mat-checkbox-inner-container").click()
    welcome.execute_script("arguments[0].click()", host)                  # script click on the host
    host.find_element(By.CSS_SELECTOR, "label.mat-checkbox-layout").click()
    assert welcome.execute_script("return window.__changes") == [True, False, True, False, True]
    assert box_input.get_attribute("aria-checked") == "true" and box_input.is_selected()
    assert "mat-checkbox-checked" in host.get_attribute("class")
    assert host.get_attribute("aria-checked") is None
    label = host.find_element(By.CSS_SELECTOR, "label.mat-checkbox-layout")
    assert label.get_attribute("for") == box_input.get_attribute("id") == host.get_attribute("id") + "-input"


def open_panel(driver) -> None:
    driver.execute_script("""
        const anchor = document.querySelector('mat-toolbar');
        const panel = EM.h('div', {class: 'mat-select-panel', role: 'listbox'}, 'probe');
        window.__closed = null;
        EM.overlay.connect(anchor, panel, {onClose: r => { window.__closed = r; }});""")
    assert driver.find_elements(By.CSS_SELECTOR,
                                ".cdk-overlay-container > .cdk-overlay-backdrop.cdk-overlay-transparent-backdrop")
    assert driver.find_element(By.CSS_SELECTOR, ".cdk-overlay-connected-position-bounding-box > "
                                                ".cdk-overlay-pane > .mat-select-panel").text == "probe"


def closed_reason(driver) -> str | None:
    gone = not driver.find_elements(By.CSS_SELECTOR, ".mat-select-panel, .cdk-overlay-backdrop")
    return driver.execute_script("return window.__closed") if gone else None


def test_overlay_panel_closes_on_body_click_escape_and_backdrop(welcome):
    open_panel(welcome)
    welcome.execute_script("document.body.click()")
    assert closed_reason(welcome) == "body"
    open_panel(welcome)
    welcome.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    assert closed_reason(welcome) == "escape"
    open_panel(welcome)
    welcome.find_element(By.TAG_NAME, "body").click()   # a real click lands on the backdrop
    assert closed_reason(welcome) == "backdrop"


def test_dialog_close_paths_and_sweep_survival(welcome):
    open_dialog = """window.__dialog = 'open';
        EM.dialog('Booking shippingline is required').then(() => { window.__dialog = 'closed'; });"""
    welcome.execute_script(open_dialog)
    content = welcome.find_element(By.XPATH, "//div[contains(@class,'dialog-content')]//span"
                                             "[contains(text(),'Booking shippingline is required')]")
    assert content.is_displayed()
    container = welcome.find_element(By.CSS_SELECTOR, "mat-dialog-container.mat-dialog-container[role=dialog]")
    assert container.get_attribute("aria-modal") == "true"
    welcome.find_element(By.XPATH, "//span[@class='mat-button-wrapper' and text()='CLOSE']").click()
    assert welcome.execute_script("return window.__dialog") == "closed"
    assert welcome.find_elements(By.TAG_NAME, "mat-dialog-container") == []
    welcome.execute_script(open_dialog)
    welcome.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    assert welcome.execute_script("return window.__dialog") == "closed"
    # The earlier automation's popup sweep deletes dialogs and overlay containers outright.
    welcome.execute_script(open_dialog)
    welcome.execute_script("""document.querySelectorAll('[role="dialog"], .modal, .popup, .alert, .notification, '
                              + '.cdk-overlay-container').forEach(e => e.remove());""")
    welcome.execute_script(open_dialog)
    assert welcome.execute_script("return document.body.lastElementChild.className") == "cdk-overlay-container"
    backdrop = welcome.find_element(By.CSS_SELECTOR, ".cdk-overlay-dark-backdrop")
    ActionChains(welcome).move_to_element_with_offset(backdrop, -800, -400).click().perform()
    assert welcome.execute_script("return window.__dialog") == "closed"
    assert urlparse(welcome.current_url).path == "/account/Home/Welcome"
