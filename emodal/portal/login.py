"""The identity login page and the way from LOGIN to a logged-in portal page (PORTAL_SPEC A2-A4, B17).

Why it works the way it does:
- the reCAPTCHA frames are cross-origin on the real site, so the page object never enters them:
  the sitekey comes from the anchor iframe's ``src`` (``k=``, fallback ``data-sitekey``) and the
  solver's token is handed to the page's own callback, found through ``___grecaptcha_cfg`` or
  ``data-callback``; that callback enables LOGIN and fills ``#hdnToken`` (A3, B17 rule 2);
- the outcome of LOGIN is read from page identity (configured bases + paths + DOM), never from
  substrings of the URL, because the login URL itself contains ``ecp2``/``signin-oidc`` (A2);
- the real invalid-credentials text was never recorded (A2), so a failed login is recognised by
  structure: a *new* login page (the old one went stale) showing the form plus an error summary.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import InvalidCredentials, LoginPageReturned, PortalUnavailable, RecaptchaFailed, exception_summary
from emodal.portal import health
from emodal.portal.health import PASSWORD_CSS, USERNAME_CSS, PageState
from emodal.portal.urls import PortalUrls, strip_query
from emodal.portal.waits import wait_enabled, wait_for, wait_visible

USERNAME = (By.CSS_SELECTOR, USERNAME_CSS)
PASSWORD = (By.CSS_SELECTOR, PASSWORD_CSS)
LOGIN_BUTTON = (By.XPATH, "//button[@type='submit']")
ANCHOR_IFRAME = (By.XPATH, "//iframe[contains(@src,'recaptcha/api2/anchor')]")
SITEKEY_HOLDER = (By.CSS_SELECTOR, "[data-sitekey]")
#: Error summaries of ASP.NET / IdentityServer / Bootstrap login pages (generic, not sandbox text).
ERROR_SUMMARY_CSS = ".validation-summary-errors, .alert-danger, [role='alert'], .field-validation-error"
#: Words that mark a captcha refusal rather than wrong credentials, whatever the exact sentence.
CAPTCHA_ERROR_WORDS = ("robot", "captcha")

# Set the standard response textarea, then call the widget callback the page registered. The
# callback is looked up in ___grecaptcha_cfg (Google's own registry: any nesting depth, name or
# function) and then in data-callback. Returns what was used so the caller can fall back.
_DELIVER_TOKEN_JS = """
var token = arguments[0];
document.querySelectorAll('textarea[name="g-recaptcha-response"]').forEach(function (t) {
  t.value = token; t.innerHTML = token;
});
function resolve(cb) {
  if (typeof cb === 'function') { return cb; }
  if (typeof cb !== 'string' || !cb) { return null; }
  var target = window;
  cb.split('.').forEach(function (part) { target = target ? target[part] : undefined; });
  return typeof target === 'function' ? target : null;
}
function search(node, depth, seen) {
  if (!node || typeof node !== 'object' || depth > 5 || seen.indexOf(node) >= 0) { return null; }
  seen.push(node);
  if ('callback' in node && ('sitekey' in node || depth > 0)) {
    var fn = resolve(node.callback); if (fn) { return fn; }
  }
  for (var key in node) {
    if (!Object.prototype.hasOwnProperty.call(node, key)) { continue; }
    var value = node[key];
    if (value && typeof value === 'object' && !(value instanceof Node)) {
      var found = search(value, depth + 1, seen); if (found) { return found; }
    }
  }
  return null;
}
var cb = null;
var cfg = window.___grecaptcha_cfg;
if (cfg && cfg.clients) { cb = search(cfg.clients, 0, []); }
if (!cb) {
  var holder = document.querySelector('[data-callback]');
  if (holder) { cb = resolve(holder.getAttribute('data-callback')); }
}
if (cb) { cb(token); }
var hdn = document.getElementById('hdnToken');
if (hdn && hdn.value !== token) { hdn.value = token; }
return cb ? 'callback' : 'no-callback';
"""


class LoginPage:
    """Services of the identity login page: open, fill, sitekey, token delivery, submit (to the landing page)."""

    def __init__(self, driver: WebDriver, urls: PortalUrls, *, element_timeout: float,
                 page_load_timeout: float) -> None:
        self.driver = driver
        self.urls = urls
        self.element_timeout = element_timeout
        self.page_load_timeout = page_load_timeout

    # --- opening ----------------------------------------------------------------------------------
    def open(self) -> PageState:
        """Load ``<ECP2>/login`` and follow its redirects to a settled page.

        Returns ``LOGIN_PAGE`` (form shown) or ``LOGGED_IN`` (the identity session was still valid).
        Raises ``PortalUnavailable`` for an unreachable portal, a 403 geo-block or an error page.
        """
        try:
            self.driver.get(self.urls.login)
        except WebDriverException as exc:
            raise PortalUnavailable("Portal unreachable", details=exception_summary(exc)) from None
        state = health.settle(self.driver, self.urls, self.page_load_timeout)
        if state in (PageState.LOGIN_PAGE, PageState.LOGGED_IN):
            return state
        if state is PageState.UNKNOWN and self._is_browser_error_page():
            raise PortalUnavailable("Portal unreachable", details=f"browser could not load {self.urls.login}")
        health.raise_for_state(state, self._url())  # raises for every other state
        return state

    def fill_credentials(self, username: str, password: str) -> None:
        """Type username and password (the page accepts per-keystroke input, A3)."""
        for locator, value, what in ((USERNAME, username, "the Username field"),
                                     (PASSWORD, password, "the Password field")):
            field = wait_visible(self.driver, *locator, self.element_timeout, what)
            field.clear()
            field.send_keys(value)

    # --- captcha ----------------------------------------------------------------------------------
    def sitekey(self) -> str:
        """The reCAPTCHA sitekey: ``k=`` of the anchor iframe, else ``data-sitekey`` (A4, B17 rule 2)."""

        def _find(drv: WebDriver) -> str | None:
            for frame in drv.find_elements(*ANCHOR_IFRAME):
                key = parse_qs(urlsplit(frame.get_attribute("src") or "").query).get("k", [""])[0]
                if key:
                    return key
            for holder in drv.find_elements(*SITEKEY_HOLDER):
                key = (holder.get_attribute("data-sitekey") or "").strip()
                if key:
                    return key
            return None

        return wait_for(self.driver, _find, self.element_timeout, "the reCAPTCHA widget sitekey")

    def captcha_page_url(self) -> str:
        """The page URL the solver needs: without query (the OIDC state is nobody else's business)."""
        return strip_query(self._url())

    def deliver_token(self, token: str) -> None:
        """Hand the solver's token to the page callback and wait until LOGIN is enabled."""
        self.driver.execute_script(_DELIVER_TOKEN_JS, token)
        wait_enabled(self.driver, *LOGIN_BUTTON, self.element_timeout, "the LOGIN button to become enabled")

    # --- submitting -------------------------------------------------------------------------------
    def submit(self, timeout: float) -> None:
        """Click LOGIN and follow the identity -> signin-oidc chain to the portal page it ends on.

        The chain ends on the account's default page (Welcome or another, B17 rule 9). It counts as
        reached once that app page has loaded, without waiting for its Angular app to boot: the
        signin-oidc answer already set the portal's cookies, and every caller goes straight on to
        its own target page (a boot nobody reads would only add seconds to each login).
        Raises ``InvalidCredentials`` or ``RecaptchaFailed`` when a new login page shows an error
        summary, ``PortalUnavailable`` for 403/error pages, ``PortalTimeout`` when nothing settles.
        """
        button = wait_enabled(self.driver, *LOGIN_BUTTON, self.element_timeout, "the LOGIN button")
        button.click()
        outcome = wait_for(self.driver, lambda d: self._outcome(button), timeout,
                           "the portal to answer LOGIN")
        if outcome is PageState.LOGIN_PAGE:
            self._raise_login_error()
        health.raise_for_state(outcome, self._url())

    # --- internals --------------------------------------------------------------------------------
    def _outcome(self, old_button: WebElement) -> PageState | None:
        """A settled page after LOGIN, or None to keep waiting."""
        self._accept_alert()
        self._follow_newest_window()
        # Staleness first: a page read taken before the POST's navigation commits still shows the
        # old login page, so only a read made after the old button went stale can be of the new one.
        navigated = _is_stale(old_button)
        snap = health.snapshot(self.driver)
        state = health.classify_snapshot(snap, self.urls)
        if state is PageState.LOGIN_PAGE and (snap.ready_state != "complete" or not navigated):
            return None  # the POST has not navigated yet (same page) or the new page is loading
        if state is PageState.LOADING and navigated and health.is_served_app_page(snap, self.urls):
            return PageState.LOGGED_IN  # past signin-oidc on a portal app whose shell still boots
        return state if state in health.SETTLED else None

    def _raise_login_error(self) -> None:
        messages = [el.text.strip() for el in self.driver.find_elements(By.CSS_SELECTOR, ERROR_SUMMARY_CSS)
                    if el.text.strip()]
        text = " ".join(messages)[:300]
        if any(word in text.lower() for word in CAPTCHA_ERROR_WORDS):
            raise RecaptchaFailed(details=f"portal refused the captcha token: {text}")
        if not text:
            raise LoginPageReturned(details="the portal showed the login page again without a message")
        raise InvalidCredentials(details=f"portal message: {text}")

    def _accept_alert(self) -> None:
        # The earlier automation accepted any JS alert after LOGIN (A3); an open alert would
        # otherwise make every further command fail.
        try:
            self.driver.switch_to.alert.accept()
        except WebDriverException:  # NoAlertPresentException is the usual case
            return

    def _follow_newest_window(self) -> None:
        # "OIDC sometimes opens a new window" (A2): keep driving the newest one.
        try:
            handles = self.driver.window_handles
            if len(handles) > 1 and self.driver.current_window_handle != handles[-1]:
                self.driver.switch_to.window(handles[-1])
        except WebDriverException:
            return

    def _is_browser_error_page(self) -> bool:
        return self._url().startswith("chrome-error://")

    def _url(self) -> str:
        try:
            return self.driver.current_url
        except WebDriverException:
            return ""


def _is_stale(element: WebElement) -> bool:
    """True once ``element``'s document was replaced. Other errors (a navigation racing the call)
    prove nothing, so they count as "not yet": the caller polls again."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException:
        return False


