"""Reading the page after LOGIN (PORTAL_SPEC A2-A3), with a scripted browser (no Chromium).

Why a unit test: the race below needs the navigation to commit between two WebDriver calls,
which a real browser does only now and then.
"""
from __future__ import annotations

from typing import Any

import pytest

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException

from emodal.config import Settings
from emodal.portal.health import PageState
from emodal.portal.login import LoginPage
from emodal.portal.urls import PortalUrls

URLS = PortalUrls.from_settings(Settings())
LOGIN_URL = "https://identity.emodal.com/Account/Login?ReturnUrl=%2Fconnect%2Fauthorize%3Fclient_id%3Decp2"


class SwitchTo:
    @property
    def alert(self) -> Any:
        raise NoAlertPresentException()


class NavigatingBrowser:
    """Shows the login page; the LOGIN POST's navigation commits right after the first page read."""

    def __init__(self) -> None:
        self.reads = 0
        self.switch_to = SwitchTo()
        self.window_handles = ["main"]
        self.current_window_handle = "main"

    def execute_script(self, script: str, *args: Any) -> Any:
        self.reads += 1
        return {"url": LOGIN_URL, "title": "Log in", "ready_state": "complete", "login_form": True,
                "headings": [], "text": ""}


class OldButton:
    """The LOGIN button of the page the POST was sent from: stale once the navigation committed."""

    def __init__(self, browser: NavigatingBrowser) -> None:
        self.browser = browser

    def is_enabled(self) -> bool:
        if self.browser.reads > 0:
            raise StaleElementReferenceException("navigated")
        return True


def test_a_navigation_between_the_page_read_and_the_stale_check_is_not_a_returned_login_page() -> None:
    browser = NavigatingBrowser()
    page = LoginPage(browser, URLS, element_timeout=1, page_load_timeout=1)  # type: ignore[arg-type]
    # The page read saw the old login page; the old button went stale only afterwards, so that read
    # proves nothing about the new page: keep waiting (it used to answer LOGIN_PAGE, i.e. "LOGIN led
    # back to the login page", and the login failed).
    assert page._outcome(OldButton(browser)) is None  # type: ignore[arg-type]
    # Stale before the read: the read is of the new document, a login page indeed.
    assert page._outcome(OldButton(browser)) is PageState.LOGIN_PAGE  # type: ignore[arg-type]


class ScriptedBrowser(NavigatingBrowser):
    """Shows one fixed page (the snapshot script's answer)."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        super().__init__()
        self.snapshot = snapshot

    def execute_script(self, script: str, *args: Any) -> Any:
        self.reads += 1
        return self.snapshot


class StaleButton:
    def is_enabled(self) -> bool:
        raise StaleElementReferenceException("navigated")


def _shell(url: str, ready_state: str = "complete") -> dict[str, Any]:
    """A portal app page whose Angular app has not booted yet (empty app-root)."""
    return {"url": url, "title": "eModal", "ready_state": ready_state, "login_form": False,
            "app_booted": False, "toolbar": False, "headings": [], "text": ""}


def outcome_of(snapshot: dict[str, Any]) -> PageState | None:
    page = LoginPage(ScriptedBrowser(snapshot), URLS, element_timeout=1, page_load_timeout=1)  # type: ignore[arg-type]
    return page._outcome(StaleButton())  # type: ignore[arg-type]


def test_the_landing_app_page_counts_once_loaded_without_waiting_for_its_boot() -> None:
    assert outcome_of(_shell("https://account.emodal.com/Home/Welcome")) is PageState.LOGGED_IN


@pytest.mark.parametrize("snapshot", [
    _shell("https://account.emodal.com/Home/Welcome", ready_state="interactive"),  # still loading
    _shell("https://identity.emodal.com/connect/authorize/callback?client_id=ecp2"),  # in the hop
])
def test_pages_short_of_a_loaded_portal_app_keep_the_wait(snapshot: dict[str, Any]) -> None:
    assert outcome_of(snapshot) is None


def test_an_error_page_on_the_app_host_is_not_a_landing() -> None:
    error = {**_shell("https://ecp2.emodal.com/"), "title": "500 Error", "headings": ["Server Error"]}
    assert outcome_of(error) is PageState.ERROR_PAGE
