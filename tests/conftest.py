"""Shared fixtures: a running sandbox portal, headless Chrome, and a portal login helper.

- `sandbox`: session-scoped `SandboxServer(profile="fast")`, started; `.base_url`, `.admin`.
- `chrome_factory`: session-scoped callable `chrome_factory(download_dir=None)` returning a new
  headless Chrome (Debian chromium + chromedriver, never downloaded); all are quit at the end.
- `portal_login`: `portal_login(driver, username="jdoe", password=None)` logs a browser in
  through the real UI path (solver token delivered via the page callback) and returns once the
  browser has left the identity host.

Tests that change sandbox state (knobs, faults, clock, bookings) restore it in their teardown.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests

CHROME_BINARY = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--window-size=1920,1080")
PASSWORDS = {"jdoe": "sandbox-pass", "asmith": "sandbox-pass-2"}
SOLVER_KEY = "sandbox-key"

# Finds the page's reCAPTCHA callback through ___grecaptcha_cfg, as generic solvers do (B17.2).
FIND_CALLBACK_JS = """
const seen = new Set();
function walk(node, depth) {
  if (!node || typeof node !== 'object' || seen.has(node) || depth > 6) return null;
  seen.add(node);
  if ('callback' in node && 'sitekey' in node) return node.callback;
  for (const key of Object.keys(node)) { const hit = walk(node[key], depth + 1); if (hit) return hit; }
  return null;
}
const cb = walk(window.___grecaptcha_cfg && window.___grecaptcha_cfg.clients, 0);
const fn = typeof cb === 'function' ? cb : window[cb];
document.getElementById('g-recaptcha-response').value = arguments[0];
fn(arguments[0]);
return typeof cb === 'function' ? 'function' : cb;
"""


#: Fixtures that start headless Chromium, directly or through the service's session registry.
BROWSER_FIXTURES = frozenset({"chrome_factory", "service", "make_service", "jdoe_session"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``browser`` every test that can start Chromium (every e2e test, and any test using a
    browser fixture, however indirectly), so ``pytest -m "not browser"`` runs without one."""
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if "/e2e/" in f"/{item.nodeid}" or uses & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    from emodal.sandbox import SandboxServer

    server = SandboxServer(profile="fast").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chrome_factory() -> Iterator[Callable[..., Any]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []
    profiles: list[str] = []

    def make(download_dir: str | Path | None = None) -> Any:
        options = Options()
        options.binary_location = CHROME_BINARY
        for arg in CHROME_ARGS:
            options.add_argument(arg)
        profile = tempfile.mkdtemp(prefix="sandbox-chrome-")
        profiles.append(profile)
        options.add_argument(f"--user-data-dir={profile}")
        if download_dir is not None:
            options.add_experimental_option("prefs", {
                "download.default_directory": str(download_dir),
                "download.prompt_for_download": False,
                "download.directory_upgrade": True,
            })
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        drivers.append(driver)
        if download_dir is not None:
            driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": str(download_dir)})
        return driver

    try:
        yield make
    finally:
        for driver in drivers:
            process = getattr(driver.service, "process", None)
            if process is not None and process.poll() is None:  # not quit by its test yet
                driver.quit()
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)


def solve_captcha(base_url: str, sitekey: str, pageurl: str, key: str = SOLVER_KEY,
                  timeout: float = 30.0) -> str:
    """Ask the sandbox solver (legacy protocol) for a token and poll until it is ready."""
    created = requests.get(f"{base_url}/2captcha/in.php", params={
        "key": key, "method": "userrecaptcha", "googlekey": sitekey, "pageurl": pageurl, "json": 1,
    }, timeout=10).json()
    assert created["status"] == 1, created
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(f"{base_url}/2captcha/res.php", params={
            "key": key, "action": "get", "id": created["request"], "json": 1}, timeout=10).json()
        if answer["request"] != "CAPCHA_NOT_READY":
            assert answer["status"] == 1, answer
            return answer["request"]
        time.sleep(0.1)
    raise AssertionError("solver never answered")


def anchor_sitekey(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    src = driver.find_element(By.XPATH, "//iframe[contains(@src,'recaptcha/api2/anchor')]").get_attribute("src")
    return parse_qs(urlparse(src).query)["k"][0]


def deliver_token(driver: Any, token: str) -> Any:
    """Hand a token to the page the portable way: the callback found via ___grecaptcha_cfg."""
    return driver.execute_script(FIND_CALLBACK_JS, token)


@pytest.fixture(scope="session")
def portal_login(sandbox: Any) -> Callable[..., None]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    def login(driver: Any, username: str = "jdoe", password: str | None = None,
              start_url: str | None = None) -> None:
        driver.get(start_url or f"{sandbox.base_url}/ecp2/login")
        wait = WebDriverWait(driver, 20)
        wait.until(EC.presence_of_element_located((By.NAME, "Username"))).send_keys(username)
        driver.find_element(By.NAME, "Password").send_keys(password or PASSWORDS[username])
        token = solve_captcha(sandbox.base_url, anchor_sitekey(driver), driver.current_url)
        deliver_token(driver, token)
        wait.until(EC.element_to_be_clickable((By.ID, "btnLogin"))).click()
        wait.until(lambda d: urlparse(d.current_url).path.split("/")[1] not in ("identity", "")
                   and "/signin-oidc" not in urlparse(d.current_url).path)

    return login
