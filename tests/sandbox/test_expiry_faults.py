"""Session expiry, keep-alive and fault injection (PORTAL_SPEC B13, B15; Part C items 16, 17)."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

PHRASES_401 = ("you are either not logged in", "your session has expired", "please use your back button")
STABLE_JS = "return !!window.getAllAngularTestabilities && getAllAngularTestabilities().every(t => t.isStable())"


@pytest.fixture
def logged_in(driver, sandbox, portal_login):
    """jdoe logged in on a fresh sandbox; the sandbox is reset afterwards (clock, faults)."""
    sandbox.admin.reset()
    driver.delete_all_cookies()
    portal_login(driver, "jdoe")
    yield driver
    sandbox.admin.reset()


def open_home(driver, sandbox) -> None:
    driver.get(f"{sandbox.base_url}/termops/trucker/web/")


def home_is_healthy(driver) -> bool:
    WebDriverWait(driver, 10).until(lambda d: d.title != "" and (
        d.title.startswith("401") or d.execute_script(STABLE_JS)))
    return driver.title == "eModal Community Portal" and bool(driver.find_elements(By.TAG_NAME, "mat-toolbar"))


def shows_401(driver) -> bool:
    text = driver.find_element(By.TAG_NAME, "body").text.lower()
    return driver.title == "401 - Unauthorized" and all(p in text for p in PHRASES_401)


def test_force_logout_gives_401_on_termops_and_login_elsewhere(logged_in, sandbox):
    open_home(logged_in, sandbox)
    assert home_is_healthy(logged_in)
    assert "Add Appointment" in logged_in.find_element(By.TAG_NAME, "app-root").text
    sandbox.admin.logout("jdoe")
    open_home(logged_in, sandbox)
    assert shows_401(logged_in)
    assert logged_in.find_element(By.TAG_NAME, "h1").text == "401"
    for page in ("/ecp2/", "/truckerportal/myappointments", "/account/Home/Welcome"):
        logged_in.get(sandbox.base_url + page)
        assert urlparse(logged_in.current_url).path == "/identity/Account/Login"


def test_keep_alive_extends_session_until_idle_expiry(logged_in, sandbox):
    sandbox.admin.advance_clock(1000)
    open_home(logged_in, sandbox)
    assert home_is_healthy(logged_in)           # 1000 s idle < 1200 s: still alive, and refreshed
    sandbox.admin.advance_clock(1000)
    open_home(logged_in, sandbox)
    assert home_is_healthy(logged_in)           # only 1000 s since the keep-alive
    assert sandbox.admin.get("sessions")["sessions"][0]["username"] == "jdoe"
    sandbox.admin.advance_clock(1201)
    open_home(logged_in, sandbox)
    assert shows_401(logged_in)
    assert sandbox.admin.get("sessions")["sessions"] == []


def test_xhr_401_reloads_page_into_login(logged_in, sandbox):
    logged_in.get(f"{sandbox.base_url}/account/Home/Welcome")
    WebDriverWait(logged_in, 10).until(lambda d: d.execute_script(STABLE_JS))
    sandbox.admin.logout("jdoe")
    logged_in.execute_script("EM.api('GET', 'api/session')")
    WebDriverWait(logged_in, 10).until(lambda d: urlparse(d.current_url).path == "/identity/Account/Login")


def test_xhr_500_fault_fails_twice_then_recovers(logged_in, sandbox):
    logged_in.get(f"{sandbox.base_url}/account/Home/Welcome")
    WebDriverWait(logged_in, 10).until(lambda d: d.execute_script(STABLE_JS))
    sandbox.admin.add_fault(type="http500", target="xhr", count=2)
    call = """const done = arguments[arguments.length - 1];
              EM.api('GET', 'api/session').then(b => done(b.username), e => done(e.status));"""
    assert [logged_in.execute_async_script(call) for _ in range(3)] == [500, 500, "jdoe"]


def test_page_500_fault_shows_error_page_once(logged_in, sandbox):
    sandbox.admin.add_fault(type="http500", target="page", count=1, path_contains="/trucker/web/")
    open_home(logged_in, sandbox)
    assert logged_in.title == "500 - Internal server error."
    assert logged_in.find_element(By.TAG_NAME, "h1").text == "500 - Internal server error."
    open_home(logged_in, sandbox)
    assert home_is_healthy(logged_in)


def test_slow_fault_delays_one_page(logged_in, sandbox):
    sandbox.admin.add_fault(type="slow", target="page", count=1, delay_ms=600)
    started = time.monotonic()
    open_home(logged_in, sandbox)
    assert time.monotonic() - started >= 0.6   # a lower bound: the injected delay happened
    assert home_is_healthy(logged_in)
    assert sandbox.admin.get("faults")["faults"] == []


def test_geo_block_forbids_login_and_identity(driver, sandbox):
    driver.delete_all_cookies()
    sandbox.admin.add_fault(type="geo_block", enabled=True)
    try:
        driver.get(f"{sandbox.base_url}/ecp2/login")
        assert driver.title == "403 Forbidden"
        assert urlparse(driver.current_url).path == "/ecp2/login"
        driver.get(f"{sandbox.base_url}/identity/Account/Login")
        assert driver.title == "403 Forbidden"
    finally:
        sandbox.admin.clear_faults()
    driver.get(f"{sandbox.base_url}/ecp2/login")
    assert driver.title == "eModal Login"


def test_captcha_spin_fault_spins_forever(driver, sandbox):
    driver.delete_all_cookies()
    sandbox.admin.add_fault(type="captcha_spin", count=1)
    try:
        driver.get(f"{sandbox.base_url}/ecp2/login")
        anchor = WebDriverWait(driver, 10).until(EC.presence_of_element_located(
            (By.XPATH, "//iframe[contains(@src,'recaptcha/api2/anchor')]")))
        driver.switch_to.frame(anchor)
        box = driver.find_element(By.ID, "recaptcha-anchor")
        box.click()
        WebDriverWait(driver, 5).until(lambda d: "recaptcha-checkbox-loading" in box.get_attribute("class"))
        with pytest.raises(TimeoutException):  # ten times captcha_click_ms: nothing ever follows
            WebDriverWait(driver, 1).until(lambda d: box.get_attribute("aria-checked") == "true" or
                                           "recaptcha-checkbox-loading" not in box.get_attribute("class"))
        driver.switch_to.default_content()
        assert driver.find_elements(By.XPATH, "//iframe[contains(@src,'recaptcha/api2/bframe')]") == []
        assert not driver.find_element(By.ID, "btnLogin").is_enabled()
    finally:
        driver.switch_to.default_content()
        sandbox.admin.clear_faults()
