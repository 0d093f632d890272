"""Shared fixtures: a running sandbox portal, headless Chrome, and a portal login helper.

- `sandbox`: session-scoped `SandboxServer(profile="fast")`, started; `.base_url`, `.admin`.
- `chrome_factory`: session-scoped callable `chrome_factory(download_dir=None)` returning a new
  headless Chrome (Debian chromium + chromedriver, never downloaded); all are quit at the end.
- `portal_login`: `portal_login(driver, username="jdoe", password=None, start_url=None)` logs a
  browser in through the real UI path with the service's own login page object
  (:class:`emodal.portal.login.LoginPage`; the sandbox solver's token goes to the page callback)
  and returns once the portal shows a logged-in page (`start_url`, else where login lands).
  `ui_login(driver, base_url, ...)` is the same for a sandbox other than the session's.
- `redis_server`: session-scoped Debian ``redis-server`` on a free loopback port in a temporary
  dir (scripts/cluster.py ``start_redis``); ``.port``, ``.url`` (``redis://…/0``). Tests using it
  are marked ``redis`` and isolate themselves with a key prefix of their own.
- `grid_cluster`: session-scoped cluster of scripts/cluster.py (Redis + Selenium Grid hub + two
  nodes); ``.redis_url``, ``.grid_url``, ``.nodes`` (``.kill()`` one to lose it), ``.status()``.
  Tests using it are marked ``cluster``.

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
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from scripts.cluster import start_redis

    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def grid_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from scripts import cluster

    running = cluster.start(tmp_path_factory.mktemp("cluster"))
    try:
        yield running
    finally:
        running.stop()


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


def sandbox_urls(base_url: str) -> Any:
    """The portal URLs of a sandbox, as the service configures them (``--sandbox``)."""
    from emodal.config import Settings
    from emodal.portal.urls import PortalUrls

    return PortalUrls.from_settings(Settings().with_sandbox(base_url))


def ui_login(driver: Any, base_url: str, username: str = "jdoe", password: str | None = None,
             start_url: str | None = None, timeout: float = 30) -> None:
    """Log ``driver`` in with the service's login page object; the login form must show."""
    from emodal.portal import health
    from emodal.portal.health import PageState
    from emodal.portal.login import LoginPage

    urls = sandbox_urls(base_url)
    page = LoginPage(driver, urls, element_timeout=timeout, page_load_timeout=timeout)
    if start_url is None:
        state = page.open()
    else:  # a page behind the login: the portal sends the browser to the form and back here after
        driver.get(start_url)
        state = health.settle(driver, urls, timeout)
    assert state is PageState.LOGIN_PAGE, f"expected the login form, the portal shows {state.value}"
    page.fill_credentials(username, password or PASSWORDS[username])
    page.deliver_token(solve_captcha(base_url, page.sitekey(), page.captcha_page_url()))
    page.submit(timeout)


@pytest.fixture(scope="session")
def portal_login(sandbox: Any) -> Callable[..., None]:
    def login(driver: Any, username: str = "jdoe", password: str | None = None,
              start_url: str | None = None) -> None:
        ui_login(driver, sandbox.base_url, username, password, start_url)

    return login
