"""What page is the browser on, and is the portal session still good?

Why: the refresher probe, the pre-operation probe and every operation mid-flow must tell a healthy
logged-in page from the identity login, the termops 401 text, a 500 page or a geo-block 403
(PORTAL_SPEC A6 "Unhealthy-page rules", A10, B17 rules 1 and 10). The decision is split in two:
one ``execute_script`` collects a :class:`PageSnapshot`; the pure :func:`classify_snapshot` applies
the rules, so the rules are unit-tested without a browser.

Page identity comes from the configured base URLs plus paths and from the DOM, never from
substrings of the whole URL: the identity login URL carries an encoded ``ReturnUrl`` that contains
``ecp2``, ``login`` and ``signin-oidc`` (PORTAL_SPEC A2).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from emodal.errors import PortalSessionLost, PortalTimeout, PortalUnavailable
from emodal.portal.urls import IDENTITY_LOGIN_PATH, PortalUrls
from emodal.portal.waits import wait_for
from emodal.redaction import redact_url


class PageState(str, enum.Enum):
    LOGGED_IN = "logged_in"        # a configured portal app, booted, no error or login markers
    LOGIN_PAGE = "login_page"      # identity /Account/Login or any page with the login form
    OIDC_HOP = "oidc_hop"          # authorize / form_post / signin-oidc: transient, between pages
    EXPIRED_401 = "expired_401"    # termops "not logged in / session has expired" text (A10)
    GEO_BLOCKED = "geo_blocked"    # a "403 Forbidden" page: the portal's geo-block (A1)
    ERROR_PAGE = "error_page"      # 500/404/other error page (A6 rules)
    LOADING = "loading"            # document or app not ready yet (blank shell before boot)
    UNKNOWN = "unknown"            # about:blank, a foreign host, an unexpected structure


#: States after which waiting longer changes nothing.
SETTLED = frozenset(PageState) - {PageState.LOADING, PageState.OIDC_HOP}

# A10: case-insensitive substrings of the termops expiry page.
EXPIRY_PHRASES = ("you are either not logged in", "your session has expired", "please use your back button")

# A6, tightened by the earlier automation after false positives on healthy pages.
_ERROR_PATH_SEGMENTS = frozenset({"error", "404", "403", "500", "notfound", "forbidden"})
_ERROR_TITLE_PHRASES = ("404 not found", "500 error", "internal server error", "access denied",
                        "page not found", "not found", "error 400", "error 401", "error 403",
                        "error 404", "error 500")
_ERROR_HEADING_WORDS = ("error", "403", "404", "500", "forbidden", "not found")
_GENERIC_ERROR_PHRASES = ("internal server error", "service unavailable", "bad gateway",
                          "page not found", "access denied", "an error occurred",
                          "server error", "not authorized")
_OIDC_PATH_SUFFIXES = ("/signin-oidc", "/connect/authorize", "/connect/authorize/callback")

#: The identity login form's fields (A3): they make a page the login page here, and
#: :class:`emodal.portal.login.LoginPage` types into them.
USERNAME_CSS = "input[name='Username']"
PASSWORD_CSS = "input[name='Password']"

# One round trip collecting everything the rules need. Headings use innerText so hidden wizard
# steps (kept in the DOM, A6) do not count; the body text is capped to keep the payload small.
_SNAPSHOT_JS = """
var q = function (s) { return document.querySelector(s); };
var heads = [];
document.querySelectorAll('h1, h2, h3').forEach(function (h) {
  var t = (h.innerText || '').trim(); if (t) { heads.push(t); }
});
var hop = false;
document.querySelectorAll('form[action]').forEach(function (f) {
  if (/\\/signin-oidc$/i.test(f.getAttribute('action').split('?')[0]) && f.querySelector('input[name=code]')) {
    hop = true;
  }
});
var root = q('app-root');
return {
  url: location.href,
  title: document.title || '',
  ready_state: document.readyState,
  login_form: !!(q(arguments[0]) && q(arguments[1])),
  toolbar: !!q('mat-toolbar'),
  app_booted: !!((root && root.children.length > 0) || q('router-outlet, mat-sidenav-container')),
  form_post_hop: hop,
  headings: heads,
  text: ((document.body && document.body.innerText) || '').slice(0, 20000)
};
"""


@dataclass(frozen=True)
class PageSnapshot:
    """What the rules look at, read from the browser in one script."""

    url: str
    title: str = ""
    ready_state: str = "complete"
    login_form: bool = False
    toolbar: bool = False
    app_booted: bool = False
    form_post_hop: bool = False
    headings: tuple[str, ...] = field(default_factory=tuple)
    text: str = ""


def snapshot(driver: WebDriver) -> PageSnapshot:
    """Read a :class:`PageSnapshot`; a navigation racing the script yields a LOADING snapshot."""
    try:
        raw = driver.execute_script(_SNAPSHOT_JS, USERNAME_CSS, PASSWORD_CSS) or {}
    except WebDriverException:
        return PageSnapshot(url="", ready_state="loading")
    return PageSnapshot(
        url=str(raw.get("url", "")), title=str(raw.get("title", "")),
        ready_state=str(raw.get("ready_state", "")), login_form=bool(raw.get("login_form")),
        toolbar=bool(raw.get("toolbar")), app_booted=bool(raw.get("app_booted")),
        form_post_hop=bool(raw.get("form_post_hop")), headings=tuple(raw.get("headings") or ()),
        text=str(raw.get("text", "")),
    )


def classify_snapshot(snap: PageSnapshot, urls: PortalUrls) -> PageState:
    """Apply the rules in order; the first that matches wins (see module docstring)."""
    parts = urlsplit(snap.url)
    if parts.scheme not in ("http", "https"):
        return PageState.LOADING if snap.ready_state == "loading" else PageState.UNKNOWN
    text = snap.text.lower()
    title = snap.title.strip().lower()
    if any(phrase in text for phrase in EXPIRY_PHRASES):
        return PageState.EXPIRED_401
    if "403 forbidden" in title or title == "forbidden" or _heading_says_403(snap.headings):
        return PageState.GEO_BLOCKED
    if _is_error_page(snap, parts.path, parts.query, title, text):
        return PageState.ERROR_PAGE
    path = parts.path.rstrip("/").lower()
    if snap.login_form or path.endswith(IDENTITY_LOGIN_PATH):
        return PageState.LOGIN_PAGE
    if snap.form_post_hop or path.endswith(_OIDC_PATH_SUFFIXES):
        return PageState.OIDC_HOP
    if snap.ready_state != "complete":
        return PageState.LOADING
    if urls.app_of(snap.url) is None:
        return PageState.UNKNOWN
    if snap.toolbar or snap.app_booted:
        return PageState.LOGGED_IN
    # An app page whose shell is still empty: Angular has not booted yet (A8.1 blank page).
    return PageState.LOADING


def classify(driver: WebDriver, urls: PortalUrls) -> PageState:
    """Classify the page the browser shows now (no navigation, one round trip)."""
    return classify_snapshot(snapshot(driver), urls)


def settle(driver: WebDriver, urls: PortalUrls, timeout: float) -> PageState:
    """Wait until the page is in a settled state (not loading, not between OIDC hops) and return it.

    Why: right after a navigation or LOGIN the browser passes through blank shells and the OIDC
    form_post page; judging those would misreport a healthy session.
    """
    return wait_for(
        driver,
        lambda d: (state if (state := classify(d, urls)) in SETTLED else None),
        timeout,
        "the portal page to settle",
    )


def is_served_app_page(snap: PageSnapshot, urls: PortalUrls) -> bool:
    """A configured portal app's document, fully loaded, its client-side boot still pending.

    Why it counts as logged in: the portal's server answers a lapsed session with the identity
    chain (ecp2, account, truckerportal) or its 401 page (termops), never with the app shell, so a
    served shell proves the session. Its Angular boot only matters to whoever reads the page, and
    every caller that does waits for its own elements."""
    return snap.ready_state == "complete" and urls.app_of(snap.url) is not None


def settle_served(driver: WebDriver, urls: PortalUrls, timeout: float) -> PageState:
    """:func:`settle`, except that a served app shell is ``LOGGED_IN`` without awaiting its boot
    (keep-alive and pre-operation probes: seconds per probe on the real termops page)."""
    def _state(d: WebDriver) -> PageState | None:
        snap = snapshot(d)
        state = classify_snapshot(snap, urls)
        if state is PageState.LOADING and is_served_app_page(snap, urls):
            return PageState.LOGGED_IN
        return state if state in SETTLED else None

    return wait_for(driver, _state, timeout, "the portal page to settle")


def assert_logged_in(driver: WebDriver, urls: PortalUrls, timeout: float = 0) -> None:
    """Raise unless the browser shows a logged-in portal page.

    ``PortalSessionLost`` for the login page or the 401 text (the runner re-logs in and retries);
    ``PortalUnavailable`` for 403 (geo-block, with a hint), 500/error pages and unexpected pages;
    ``PortalTimeout`` for a page still loading (blank shell, OIDC hop).
    With ``timeout`` > 0 the page is first allowed to settle.
    """
    state = settle(driver, urls, timeout) if timeout > 0 else classify(driver, urls)
    raise_for_state(state, _current_url(driver))


def raise_for_state(state: PageState, url: str = "") -> None:
    """Map a non-logged-in :class:`PageState` to its error (no-op for LOGGED_IN)."""
    shown = redact_url(url)
    if state is PageState.LOGGED_IN:
        return
    if state in (PageState.LOGIN_PAGE, PageState.EXPIRED_401):
        raise PortalSessionLost(details=f"portal shows {state.value} at {shown}")
    if state is PageState.GEO_BLOCKED:
        raise PortalUnavailable(
            "Portal answered 403 Forbidden",
            details=("The portal blocks non-US addresses; set BROWSER_PROXY to a US egress proxy "
                     f"(page {shown})"),
        )
    if state is PageState.ERROR_PAGE:
        raise PortalUnavailable("Portal shows an error page", details=f"page {shown}")
    if state in (PageState.LOADING, PageState.OIDC_HOP):
        raise PortalTimeout("Portal page did not finish loading", details=f"state {state.value} at {shown}")
    raise PortalUnavailable("Unexpected portal page", details=f"state {state.value} at {shown}")


# --- rule helpers ----------------------------------------------------------------------------------
def _heading_says_403(headings: tuple[str, ...]) -> bool:
    return any("403" in h and "forbidden" in h.lower() for h in headings)


def _is_error_page(snap: PageSnapshot, path: str, query: str, title: str, text: str) -> bool:
    segments = {seg.lower() for seg in path.split("/") if seg}
    if segments & _ERROR_PATH_SEGMENTS:
        return True
    for key, value in parse_qsl(query):
        key, value = key.lower(), value.lower()
        if key == "error" and value == "true":
            return True
        if key == "status" and (value == "500" or (len(value) == 3 and value.startswith("4"))):
            return True
    if any(phrase in title for phrase in _ERROR_TITLE_PHRASES) or title.startswith("500"):
        return True
    if any(word in h.lower() for h in snap.headings for word in _ERROR_HEADING_WORDS):
        return True
    return sum(phrase in text for phrase in _GENERIC_ERROR_PHRASES) >= 2


def _current_url(driver: WebDriver) -> str:
    try:
        return driver.current_url
    except WebDriverException:
        return ""


