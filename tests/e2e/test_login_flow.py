"""LoginFlow with real headless Chromium against the sandbox portal (API_SPEC 3.9, PORTAL_SPEC A2-A4, B17).

Each login costs a browser, so the module keeps one logged-in browser for the checks that need one
and every failing case asserts that its browser and profile are gone afterwards.
"""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from emodal.browser.factory import BrowserFactory, BrowserHandle
from emodal.config import Settings
from emodal.errors import CaptchaKeyInvalid, CaptchaZeroBalance, InvalidCredentials, PortalUnavailable
from emodal.portal import health
from emodal.portal.health import PageState
from emodal.portal.urls import PortalUrls
from emodal.sessions.credentials import Credentials
from emodal.sessions.login_flow import LoginFlow

pytestmark = pytest.mark.browser

JDOE = Credentials("jdoe", "sandbox-pass", "sandbox-key")


def make_settings(sandbox: Any, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"downloads_dir": tmp, "captcha_poll_interval": 0.2, "login_timeout": 90,
                              "captcha_timeout": 60, "page_load_timeout": 30, "element_timeout": 15}
    values.update(overrides)
    return Settings(**values).with_sandbox(sandbox.base_url)


@pytest.fixture(scope="module")
def settings(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(sandbox, tmp_path_factory.mktemp("login"))


@pytest.fixture(scope="module")
def factory(settings: Settings) -> Iterator[BrowserFactory]:
    made = BrowserFactory(settings)
    try:
        yield made
    finally:
        for handle in made.open_handles():
            handle.close()


@pytest.fixture(scope="module")
def flow(settings: Settings, factory: BrowserFactory) -> LoginFlow:
    return LoginFlow(settings, factory)


@pytest.fixture(scope="module")
def logged_in(flow: LoginFlow) -> Iterator[BrowserHandle]:
    handle = flow.login(JDOE)
    try:
        yield handle
    finally:
        handle.close()


def assert_failed_login_left_nothing(factory: BrowserFactory, before: set[int]) -> None:
    leftovers = [h for h in factory.open_handles() if h.pgid not in before]
    assert leftovers == []


def open_groups(factory: BrowserFactory) -> set[int]:
    return {h.pgid for h in factory.open_handles() if h.pgid is not None}


def test_fresh_login_lands_logged_in_on_the_default_page(logged_in: BrowserHandle, settings: Settings) -> None:
    urls = PortalUrls.from_settings(settings)
    # login returns once the default page has loaded; its app boots on its own.
    assert health.settle(logged_in.driver, urls, 20) is PageState.LOGGED_IN
    assert urls.app_of(logged_in.driver.current_url) == "account"  # jdoe's default page is Welcome (B4)
    assert logged_in.pids() and logged_in.download_dir.is_dir()


def test_a_changed_sitekey_drops_the_early_token_and_still_logs_in(sandbox: Any, flow: LoginFlow,
                                                                    logged_in: BrowserHandle) -> None:
    """A new browser's solve starts from the last login page's sitekey before the page is open; when
    the portal has changed its sitekey since, that token would be refused: the flow must notice."""
    assert flow._known_target is not None  # learned by the first login
    old_key = sandbox.admin.get("config")["knobs"]["sitekey"]
    sandbox.admin.set_config(sitekey="6LcSBXAAAAAAsandbox-emodal-login-key99ZZ")
    try:
        handle = flow.login(Credentials("asmith", "sandbox-pass-2", "sandbox-key"))
        handle.close()
        assert flow._known_target[0] == "6LcSBXAAAAAAsandbox-emodal-login-key99ZZ"
    finally:
        sandbox.admin.set_config(sitekey=old_key)


def test_wrong_password_is_invalid_credentials_and_leaves_no_browser(flow: LoginFlow, factory: BrowserFactory) -> None:
    before = open_groups(factory)
    with pytest.raises(InvalidCredentials) as info:
        flow.login(Credentials("jdoe", "not-the-password", "sandbox-key"))
    assert "not-the-password" not in str(info.value.details)
    assert_failed_login_left_nothing(factory, before)


@pytest.mark.parametrize("key, error", [("not-a-valid-key", CaptchaKeyInvalid), ("sandbox-key-zero", CaptchaZeroBalance)])
def test_captcha_key_errors(flow: LoginFlow, factory: BrowserFactory, key: str, error: type) -> None:
    before = open_groups(factory)
    with pytest.raises(error):
        flow.login(Credentials("jdoe", "sandbox-pass", key))
    assert_failed_login_left_nothing(factory, before)


def test_relogin_in_the_same_browser_after_force_logout(sandbox: Any, flow: LoginFlow, logged_in: BrowserHandle,
                                                        settings: Settings) -> None:
    urls = PortalUrls.from_settings(settings)
    sandbox.admin.logout("jdoe")
    logged_in.driver.get(urls.keep_alive)
    assert health.settle(logged_in.driver, urls, 20) is PageState.EXPIRED_401
    assert flow.login(JDOE, handle=logged_in) is logged_in
    logged_in.driver.get(urls.keep_alive)
    assert health.settle(logged_in.driver, urls, 20) is PageState.LOGGED_IN


def test_error_page_is_classified_from_the_real_dom(sandbox: Any, logged_in: BrowserHandle, settings: Settings) -> None:
    urls = PortalUrls.from_settings(settings)
    sandbox.admin.add_fault(type="http500", target="page", count=1)
    try:
        logged_in.driver.get(urls.containers)
        assert health.settle(logged_in.driver, urls, 20) is PageState.ERROR_PAGE
        with pytest.raises(PortalUnavailable):
            health.assert_logged_in(logged_in.driver, urls)
    finally:
        sandbox.admin.clear_faults()


def test_geo_block_is_portal_unavailable_with_proxy_hint(sandbox: Any, flow: LoginFlow, factory: BrowserFactory) -> None:
    before = open_groups(factory)
    sandbox.admin.add_fault(type="geo_block", enabled=True)
    try:
        with pytest.raises(PortalUnavailable) as info:
            flow.login(JDOE)
    finally:
        sandbox.admin.clear_faults()
    assert "BROWSER_PROXY" in str(info.value.details)
    assert_failed_login_left_nothing(factory, before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_portal_is_portal_unavailable(sandbox: Any, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(sandbox, tmp_path, page_load_timeout=10).with_sandbox(dead)
    factory = BrowserFactory(settings)
    with pytest.raises(PortalUnavailable):
        LoginFlow(settings, factory).login(JDOE)
    assert factory.open_handles() == []


def test_remote_webdriver_path(sandbox: Any, tmp_path: Path) -> None:
    port = free_port()
    driver_process = subprocess.Popen(["/usr/bin/chromedriver", f"--port={port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until the remote end answers /status
            try:
                if requests.get(f"http://127.0.0.1:{port}/status", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.1)
        settings = make_settings(sandbox, tmp_path, selenium_remote_url=f"http://127.0.0.1:{port}")
        factory = BrowserFactory(settings)
        handle = LoginFlow(settings, factory).login(JDOE)
        try:
            assert handle.remote and handle.pids() == []
            assert health.settle(handle.driver, PortalUrls.from_settings(settings), 20) is PageState.LOGGED_IN
        finally:
            handle.close()
        assert not handle.root_dir.exists()
    finally:
        driver_process.terminate()
        driver_process.wait(timeout=10)
