"""Readiness and stability waits shared by every page object.

Why this module exists: the portal is a legacy Angular Material app whose pages are blank shells
until Angular boots (PORTAL_SPEC A6, A8.1) and whose data arrives by XHR afterwards. A page object
that looks for an element too early either fails or, worse, reads a half-built page. Every wait
here is an explicit condition polled by ``WebDriverWait`` (never a fixed sleep, PORTAL_SPEC B17
rule 3) and every timeout becomes :class:`emodal.errors.PortalTimeout` naming *what* was awaited,
so an operator reading the error knows which page or widget did not show up.
"""
from __future__ import annotations

from typing import Callable, Iterable, TypeVar

from selenium.common.exceptions import (
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from emodal.errors import PortalTimeout, exception_summary

T = TypeVar("T")

#: How often conditions are re-evaluated. Short because each check is one cheap round trip and
#: the sandbox's fast profile settles within milliseconds.
POLL_SECONDS = 0.1

#: Exceptions that mean "the DOM moved under us, look again" rather than a real failure:
#: Angular re-renders replace nodes, and a navigation can interrupt a script.
TRANSIENT = (StaleElementReferenceException, NoSuchElementException, JavascriptException)

# One script, one round trip. The order of the checks matters:
#  1. readyState: the document itself is still loading.
#  2. testabilities: Angular's own "no pending macrotasks/XHRs" signal. Production builds expose
#     getAllAngularTestabilities() only once the app has bootstrapped, so its absence says nothing.
#  3. an app container with content: the index.html shell already holds an EMPTY <app-root>, so a
#     bare presence test would call a blank, not-yet-booted page ready. We therefore require an
#     app-root with element children, or one of the containers Angular only renders after boot.
_PAGE_STATE_JS = """
if (document.readyState !== 'complete') { return 'loading'; }
if (typeof window.getAllAngularTestabilities === 'function') {
  var t = window.getAllAngularTestabilities() || [];
  for (var i = 0; i < t.length; i++) { if (!t[i].isStable()) { return 'busy'; } }
}
var root = document.querySelector('app-root');
if (root && root.children.length > 0) { return 'ready'; }
if (document.querySelector('router-outlet, mat-sidenav-container, main')) { return 'ready'; }
return 'blank';
"""

# Stability only: used after an action on a page that is already up (a click that starts an XHR).
_STABLE_JS = """
if (document.readyState !== 'complete') { return false; }
if (typeof window.getAllAngularTestabilities !== 'function') { return true; }
var t = window.getAllAngularTestabilities() || [];
for (var i = 0; i < t.length; i++) { if (!t[i].isStable()) { return false; } }
return true;
"""


def wait_for(
    driver: WebDriver,
    condition: Callable[[WebDriver], T],
    timeout: float,
    what: str,
    *,
    poll: float = POLL_SECONDS,
) -> T:
    """Poll ``condition(driver)`` until it returns something truthy and return that value.

    Why: the single place that turns Selenium's anonymous ``TimeoutException`` into
    ``PortalTimeout("Timed out after 30 s waiting for <what>")``, which the HTTP layer maps to 504.
    Stale or vanished elements during a re-render are retried, not raised. The last transient
    error (if any) goes into ``details`` to help diagnose selectors that never matched.
    """
    last_error: list[BaseException] = []

    def _probe(drv: WebDriver) -> T | bool:
        try:
            return condition(drv)
        except TRANSIENT as exc:
            last_error[:] = [exc]
            return False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=poll).until(_probe)  # type: ignore[return-value]
    except TimeoutException:
        details = None
        if last_error:
            details = f"last error: {type(last_error[0]).__name__}: {exception_summary(last_error[0])}"
        raise PortalTimeout(f"Timed out after {timeout:g} s waiting for {what}", details=details) from None


def page_state(driver: WebDriver) -> str:
    """Return ``loading``, ``busy``, ``blank`` or ``ready`` for the current document.

    Why public: diagnostics and the health probe want to say *how far* a page got.
    A navigation in progress can make the script fail; that counts as ``loading``.
    """
    try:
        return str(driver.execute_script(_PAGE_STATE_JS))
    except (JavascriptException, WebDriverException):
        return "loading"


def wait_ready(driver: WebDriver, timeout: float, what: str = "the portal page to finish loading") -> None:
    """Wait until the Angular page is loaded, booted and stable (PORTAL_SPEC A6 "Readiness").

    Why: called after every navigation to an Angular page (Containers, wizard, My Appointments,
    keep-alive home). Not for non-Angular pages (identity login, OIDC form_post, 401/403 pages):
    those never get an app container, so wait for their own elements instead.
    """
    wait_for(driver, lambda d: page_state(d) == "ready", timeout, what)


def is_stable(driver: WebDriver) -> bool:
    """True when the document is complete and Angular reports no pending work."""
    try:
        return bool(driver.execute_script(_STABLE_JS))
    except (JavascriptException, WebDriverException):
        return False


def wait_stable(driver: WebDriver, timeout: float, what: str = "the portal page to become idle") -> None:
    """Wait until Angular has no pending XHR/timer (after a click, selection or scroll).

    Why: the portal shows no spinner (A6 "Loading states"), so "data arrived" can only be read
    from Angular's testability; pages without Angular count as stable once complete.
    """
    wait_for(driver, is_stable, timeout, what)


def first_displayed(elements: Iterable[WebElement], *, enabled: bool = False) -> WebElement | None:
    """The first of ``elements`` that is displayed (and enabled, when asked), else None.

    Why: hidden copies of a control must never be used. The wizard keeps all four step panels in
    the DOM with their controls (one Next per step, PORTAL_SPEC A6, A8.1, B11.1), so among all
    matches the first *displayed* one wins; clicking a disabled button silently does nothing.
    """
    return next((e for e in elements if e.is_displayed() and (not enabled or e.is_enabled())), None)


def wait_visible(driver: WebDriver, by: str, selector: str, timeout: float, what: str) -> WebElement:
    """Return the first element matching the locator once it is displayed (see :func:`first_displayed`)."""
    return wait_for(driver, lambda d: first_displayed(d.find_elements(by, selector)) or False,
                    timeout, what)  # type: ignore[return-value]


def wait_enabled(driver: WebDriver, by: str, selector: str, timeout: float, what: str) -> WebElement:
    """Return the first displayed element matching the locator once it is enabled.

    Why: the portal gates actions by disabling buttons (LOGIN until the captcha is solved).
    """
    return wait_for(driver, lambda d: first_displayed(d.find_elements(by, selector), enabled=True) or False,
                    timeout, what)  # type: ignore[return-value]


def scroll_into_view(driver: WebDriver, element: WebElement) -> None:
    """Centre ``element`` in its scroll container.

    Why: headless Chrome refuses native clicks on elements outside the viewport or under the
    sticky app bar; centring avoids both without scrolling the page by guessed offsets.
    """
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});", element)


def js_click(driver: WebDriver, element: WebElement) -> None:
    """Click through JavaScript after scrolling the element into view.

    Why: Material overlays (backdrops, tooltips, ripple layers) often sit on top of the target and
    make a native click raise ``ElementClickInterceptedException``; ``element.click()`` in the page
    dispatches the same click event Angular listens to.
    """
    scroll_into_view(driver, element)
    driver.execute_script("arguments[0].click();", element)



__all__ = [
    "POLL_SECONDS",
    "TRANSIENT",
    "first_displayed",
    "is_stable",
    "js_click",
    "page_state",
    "scroll_into_view",
    "wait_enabled",
    "wait_for",
    "wait_ready",
    "wait_stable",
    "wait_visible",
]
