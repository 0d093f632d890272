"""Opening a portal page: navigate, then make sure the portal answered with that page.

Why its own module: navigation is the one action every page object starts with, and it mixes two
concerns the page objects should not repeat: the page classification of :mod:`emodal.portal.health`
(a lapsed login answers with the identity login or the termops 401 text instead of the page, A10)
and the Angular readiness wait of :mod:`emodal.portal.waits` (the page is a blank shell until
Angular boots, A6, A8.1).
"""
from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver

from emodal.portal.health import assert_logged_in
from emodal.portal.urls import PortalUrls
from emodal.portal.waits import wait_ready


def open_page(driver: WebDriver, url: str, urls: PortalUrls, timeout: float, what: str) -> None:
    """Load a portal page and wait until its app is ready, failing fast with ``PortalSessionLost``
    when the portal answers with the login page or the 401 text instead (A10)."""
    driver.get(url)
    assert_logged_in(driver, urls, timeout=timeout)
    wait_ready(driver, timeout, what)


__all__ = ["open_page"]
