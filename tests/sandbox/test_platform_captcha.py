"""The reCAPTCHA-like widget in a real browser (PORTAL_SPEC B6, Part C item 5)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.sandbox.conftest import log_out_everyone
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

ANCHOR = (By.XPATH, "//iframe[contains(@src,'recaptcha/api2/anchor')]")
BFRAME = (By.XPATH, "//iframe[contains(@src,'recaptcha/api2/bframe')]")


@pytest.fixture
def login_page(driver, sandbox):
    log_out_everyone(driver, sandbox)
    driver.get(f"{sandbox.base_url}/ecp2/login")
    WebDriverWait(driver, 10).until(EC.presence_of_element_located(ANCHOR))
    yield driver
    driver.switch_to.default_content()
    sandbox.admin.set_config(captcha_mode="challenge", token_ttl_s=120)


def click_checkbox(driver) -> None:
    driver.switch_to.frame(driver.find_element(*ANCHOR))
    driver.find_element(By.ID, "recaptcha-anchor").click()
    driver.switch_to.default_content()


def anchor_state(driver) -> tuple[str, str]:
    driver.switch_to.frame(driver.find_element(*ANCHOR))
    try:
        box = driver.find_element(By.ID, "recaptcha-anchor")
        return box.get_attribute("aria-checked"), box.get_attribute("class")
    finally:
        driver.switch_to.default_content()


def wait_anchor_checked(driver, expected: str, timeout: float = 5) -> None:
    WebDriverWait(driver, timeout).until(lambda d: anchor_state(d)[0] == expected)


def test_page_exposes_google_shaped_api(login_page):
    info = login_page.execute_script("""
        const c = window.___grecaptcha_cfg.clients[0].Q.Q;
        return [window.___grecaptcha_cfg.count, c.sitekey, c.callback, c['expired-callback'],
                typeof grecaptcha.getResponse, typeof grecaptcha.reset, typeof grecaptcha.render,
                typeof grecaptcha.execute, typeof grecaptcha.ready];""")
    assert info[:4] == [1, "6LcSBXAAAAAAsandbox-emodal-login-key00AA", "recaptchaCallback", "recaptchaExpired"]
    assert set(info[4:]) == {"function"}
    frame = login_page.find_element(*ANCHOR)
    assert "k=6LcSBXAAAAAAsandbox-emodal-login-key00AA" in frame.get_attribute("src")
    assert frame.get_attribute("title") == "reCAPTCHA"


def test_trusted_mode_checks_box_without_challenge(login_page, sandbox):
    sandbox.admin.set_config(captcha_mode="trusted")
    click_checkbox(login_page)
    wait_anchor_checked(login_page, "true", timeout=3)
    assert login_page.find_elements(*BFRAME) == []
    assert login_page.find_element(By.ID, "btnLogin").is_enabled()
    token = login_page.find_element(By.ID, "hdnToken").get_attribute("value")
    assert token.startswith("03A") and token == login_page.execute_script("return grecaptcha.getResponse()")
    login_page.find_element(By.ID, "Username").send_keys("jdoe")
    login_page.find_element(By.ID, "Password").send_keys("sandbox-pass")
    login_page.find_element(By.ID, "btnLogin").click()
    WebDriverWait(login_page, 10).until(lambda d: urlparse(d.current_url).path == "/account/Home/Welcome")


def test_audio_challenge_answer_enables_login(login_page, sandbox):
    click_checkbox(login_page)
    frame = WebDriverWait(login_page, 5).until(EC.visibility_of_element_located(BFRAME))
    assert anchor_state(login_page)[0] == "false"
    assert not login_page.find_element(By.ID, "btnLogin").is_enabled()
    login_page.switch_to.frame(frame)
    login_page.find_element(By.ID, "recaptcha-audio-button").click()
    src = WebDriverWait(login_page, 5).until(
        lambda d: d.find_element(By.ID, "audio-source").get_attribute("src"))
    audio = requests.get(src, timeout=10)
    assert audio.headers["Content-Type"] == "audio/wav" and audio.content[:4] == b"RIFF"
    login_page.find_element(By.ID, "audio-response").send_keys("robot")
    login_page.find_element(By.ID, "recaptcha-verify-button").click()
    WebDriverWait(login_page, 5).until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, ".rc-audiochallenge-error-message"), "Please try again."))
    assert login_page.find_element(By.ID, "audio-source").get_attribute("src") != src
    login_page.find_element(By.ID, "audio-response").send_keys("Sandbox")
    login_page.find_element(By.ID, "recaptcha-verify-button").click()
    login_page.switch_to.default_content()
    WebDriverWait(login_page, 5).until(EC.element_to_be_clickable((By.ID, "btnLogin")))
    assert login_page.find_elements(*BFRAME) == []
    wait_anchor_checked(login_page, "true")


def test_click_outside_closes_challenge_unchecked(login_page):
    click_checkbox(login_page)
    WebDriverWait(login_page, 5).until(EC.visibility_of_element_located(BFRAME))
    login_page.execute_script("document.body.click()")
    WebDriverWait(login_page, 5).until(lambda d: d.find_elements(*BFRAME) == [])
    checked, classes = anchor_state(login_page)
    assert checked == "false" and "recaptcha-checkbox-loading" not in classes
    assert not login_page.find_element(By.ID, "btnLogin").is_enabled()


def test_widget_expiry_unchecks_and_disables_login(login_page, sandbox):
    sandbox.admin.set_config(captcha_mode="trusted", token_ttl_s=2)
    click_checkbox(login_page)
    WebDriverWait(login_page, 5).until(EC.element_to_be_clickable((By.ID, "btnLogin")))
    WebDriverWait(login_page, 10).until(lambda d: not d.find_element(By.ID, "btnLogin").is_enabled())
    assert login_page.find_element(By.ID, "hdnToken").get_attribute("value") == ""
    checked, classes = anchor_state(login_page)
    assert checked == "false" and "recaptcha-checkbox-expired" in classes
