"""Sandbox login chain in a real browser (PORTAL_SPEC Part C items 2, 3, 4 (UI part) and 6)."""

from __future__ import annotations

import json
from urllib.parse import unquote, urlparse

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import anchor_sitekey, deliver_token, solve_captcha
from tests.sandbox.conftest import log_out_everyone

pytestmark = pytest.mark.browser

ANCHOR = (By.XPATH, "//iframe[contains(@src,'recaptcha/api2/anchor')]")


@pytest.fixture
def fresh(driver, sandbox):
    """A logged-out browser (server-side sessions killed, so the identity cookie dies too);
    config knobs restored afterwards."""
    log_out_everyone(driver, sandbox)
    yield driver
    sandbox.admin.set_config(oidc_hop_ms=0)


PROTECTED_PAGE = "/ecp2/containers"  # Part C item 2


def fill_credentials(driver, username: str, password: str) -> None:
    WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.NAME, "Username"))).send_keys(username)
    driver.find_element(By.NAME, "Password").send_keys(password)


def test_logged_out_page_lands_on_identity_login_with_pkce(fresh, sandbox):
    fresh.get(sandbox.base_url + PROTECTED_PAGE)
    url = urlparse(fresh.current_url)
    assert url.path == "/identity/Account/Login"
    assert fresh.current_url.endswith("code_challenge_method%3DS256")
    assert "signin-oidc" in unquote(url.query)
    assert fresh.title == "eModal Login"
    button = fresh.find_element(By.XPATH, "//button[@type='submit']")
    assert button.text == "LOGIN" and not button.is_enabled()
    fresh.switch_to.frame(fresh.find_element(*ANCHOR))
    try:
        assert fresh.find_element(By.ID, "recaptcha-anchor").get_attribute("aria-checked") == "false"
    finally:
        fresh.switch_to.default_content()


def test_solver_token_via_callback_logs_in_through_signin_oidc(fresh, sandbox):
    target = PROTECTED_PAGE
    sandbox.admin.set_config(oidc_hop_ms=1500)  # long enough to observe the form_post hop
    fresh.get(sandbox.base_url + target)
    fill_credentials(fresh, "jdoe", "sandbox-pass")
    created = requests.get(f"{sandbox.base_url}/2captcha/in.php", params={
        "key": "sandbox-key", "method": "userrecaptcha", "googlekey": anchor_sitekey(fresh),
        "pageurl": fresh.current_url, "json": 1}, timeout=10).json()
    first = requests.get(f"{sandbox.base_url}/2captcha/res.php", params={
        "key": "sandbox-key", "action": "get", "id": created["request"], "json": 1}, timeout=10).json()
    assert first == {"status": 0, "request": "CAPCHA_NOT_READY"}
    token = solve_captcha(sandbox.base_url, anchor_sitekey(fresh), fresh.current_url)
    assert deliver_token(fresh, token) == "recaptchaCallback"
    login = WebDriverWait(fresh, 5).until(EC.element_to_be_clickable((By.ID, "btnLogin")))
    assert fresh.find_element(By.ID, "hdnToken").get_attribute("value") == token
    login.click()
    WebDriverWait(fresh, 10).until(EC.title_is("Submit this form"))
    action = fresh.find_element(By.CSS_SELECTOR, "form[method=post]").get_attribute("action")
    assert action == f"{sandbox.base_url}/{target.split('/')[1]}/signin-oidc"
    WebDriverWait(fresh, 10).until(lambda d: urlparse(d.current_url).path == target)
    cookie = fresh.get_cookie("AuthCookie")
    payload = json.loads(unquote(cookie["value"]))
    assert set(payload) == {"bearer", "refresh_token", "expires_in"} and payload["bearer"]
    assert not cookie.get("httpOnly")


def test_wrong_password_shows_error_and_consumes_token(fresh, sandbox):
    fresh.get(f"{sandbox.base_url}/ecp2/login")
    fill_credentials(fresh, "jdoe", "not-the-password")
    token = solve_captcha(sandbox.base_url, anchor_sitekey(fresh), fresh.current_url)
    deliver_token(fresh, token)
    WebDriverWait(fresh, 5).until(EC.element_to_be_clickable((By.ID, "btnLogin"))).click()
    error = WebDriverWait(fresh, 10).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "div.validation-summary-errors > ul > li")))
    assert error.text == "Invalid username or password"
    assert urlparse(fresh.current_url).path == "/identity/Account/Login"
    assert fresh.find_element(By.NAME, "Username").get_attribute("value") == "jdoe"
    assert fresh.find_element(By.NAME, "Password").get_attribute("value") == ""
    assert not fresh.find_element(By.ID, "btnLogin").is_enabled()
    # The same token again, now with the right password: already consumed by the failed try.
    fresh.find_element(By.NAME, "Password").send_keys("sandbox-pass")
    deliver_token(fresh, token)
    WebDriverWait(fresh, 5).until(EC.element_to_be_clickable((By.ID, "btnLogin"))).click()
    # The first error is still on screen until the POST answers: wait for the new page's error.
    WebDriverWait(fresh, 10).until(EC.staleness_of(error))
    error = WebDriverWait(fresh, 10).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "div.validation-summary-errors li")))
    assert error.text == "Please verify that you are not a robot."


@pytest.mark.parametrize("username, path, default_page", [
    ("jdoe", "/account/Home/Welcome", "User Profile"),
    ("asmith", "/ecp2/containers", "Containers"),
])
def test_ecp2_root_follows_default_page(fresh, sandbox, portal_login, username, path, default_page):
    portal_login(fresh, username)
    fresh.get(f"{sandbox.base_url}/ecp2/")
    WebDriverWait(fresh, 10).until(lambda d: urlparse(d.current_url).path == path)
    fresh.get(f"{sandbox.base_url}/account/Home/Welcome")
    WebDriverWait(fresh, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".pref-card")))
    text = fresh.find_element(By.TAG_NAME, "app-root").text
    assert "Welcome to eModal" in text
    assert f"Default page\n{default_page}" in text
