"""The portal auth snapshot: what a logged-in browser holds of its portal login, taken out and put
back into a new browser (issue 10: durable sessions).

Why: after a restart the portal's own login (its cookies, possibly tokens in web storage) is
usually still valid for hours (PORTAL_SPEC B5.2: idle timeout, absolute lifetime). Putting it into
a new browser brings the session back with no login and no paid captcha. What is taken:

- every cookie a portal host would receive: the four configured app hosts (ecp2, termops,
  truckerportal, account) and the identity (SSO) host learned during the login, with domain,
  path, expiry and flags. Local Chromium gives all of them at once through CDP
  ``Network.getAllCookies``; a remote (Grid) browser only the current page's, which are merged
  into the previous snapshot;
- localStorage and sessionStorage of each portal origin, read on the page the browser shows (a
  browser is only ever on one origin at a time), merged per origin.

Putting back: CDP ``Network.setCookies`` on local Chromium (no navigation needed); on a remote
browser WebDriver can only add cookies for the page's own host, so it navigates to one portal
origin per cookie host and adds them there. Web storage always needs its origin's page.

The snapshot is a secret (cookie values are the login): the session journal seals it, and it is
never logged. :meth:`AuthSnapshot.digest` is the cheap comparison that decides whether a new
snapshot must be stored (names, values, expiries and storage; not the flags).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import urlsplit

from selenium.webdriver.remote.webdriver import WebDriver

from emodal.browser.factory import BROWSER_ERRORS, BrowserHandle

log = logging.getLogger(__name__)

#: Cookie attributes kept (CDP ``Network.Cookie`` names); ``expires`` is -1 for a session cookie.
COOKIE_KEYS = ("name", "value", "domain", "path", "expires", "httpOnly", "secure", "sameSite")

_READ_STORAGE_JS = """
function dump(s) { var o = {}; try { for (var i = 0; i < s.length; i++) { var k = s.key(i); o[k] = s.getItem(k); } }
                   catch (e) {} return o; }
return {origin: location.origin, local: dump(window.localStorage), session: dump(window.sessionStorage)};
"""
_WRITE_STORAGE_JS = """
var data = arguments[0];
Object.keys(data.local || {}).forEach(function (k) { window.localStorage.setItem(k, data.local[k]); });
Object.keys(data.session || {}).forEach(function (k) { window.sessionStorage.setItem(k, data.session[k]); });
return true;
"""


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class PortalOrigins:
    """The origins whose cookies and storage make up the portal login."""

    origins: tuple[str, ...]

    @classmethod
    def of(cls, base_urls: Iterable[str], identity_origin: str | None) -> "PortalOrigins":
        found: list[str] = []
        for url in [*base_urls, *([identity_origin] if identity_origin else [])]:
            origin = origin_of(url)
            if origin and origin not in found:
                found.append(origin)
        return cls(tuple(found))

    def wants_cookie(self, domain: str) -> bool:
        """True when a portal host would receive a cookie of ``domain`` (``.emodal.com``
        included), by the browser's own domain-match rule."""
        return self.origin_for_host(domain) is not None

    def origin_for_host(self, domain: str) -> str | None:
        """A portal origin on which a cookie of ``domain`` can be set (its host domain-matches)."""
        return next((o for o in self.origins if domain_matches(urlsplit(o).hostname or "", domain)), None)


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265 domain match: ``host`` receives cookies of ``domain`` (leading dot ignored)."""
    bare = domain.lstrip(".").lower()
    return bool(host) and (host == bare or host.endswith("." + bare))


@dataclass(frozen=True)
class AuthSnapshot:
    """Cookies (CDP shape, :data:`COOKIE_KEYS`) and per-origin web storage of a portal login."""

    cookies: tuple[dict[str, Any], ...] = ()
    storage: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def digest(self) -> str:
        """Cheap comparison: hash of cookie names, domains, paths, values and expiries plus the
        storage; equal digests mean nothing worth storing again changed."""
        cookies = sorted((c.get("domain", ""), c.get("path", ""), c.get("name", ""), c.get("value", ""),
                          round(float(c.get("expires", -1)))) for c in self.cookies)
        text = json.dumps([cookies, self.storage], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def live_cookies(self, now: float | None = None) -> list[dict[str, Any]]:
        """Cookies not expired at ``now`` (session cookies, ``expires`` -1, always count)."""
        stamp = time.time() if now is None else now
        return [c for c in self.cookies if float(c.get("expires", -1)) < 0 or float(c["expires"]) > stamp]

    def to_dict(self) -> dict[str, Any]:
        return {"cookies": [dict(c) for c in self.cookies], "storage": self.storage}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "AuthSnapshot":
        data = data or {}
        cookies = tuple({k: c[k] for k in COOKIE_KEYS if k in c} for c in data.get("cookies") or ()
                        if isinstance(c, dict) and c.get("name") and c.get("domain"))
        storage = {str(o): {"local": dict(v.get("local") or {}), "session": dict(v.get("session") or {})}
                   for o, v in (data.get("storage") or {}).items() if isinstance(v, dict)}
        return cls(cookies, storage)


def normalise_cookie(raw: dict[str, Any]) -> dict[str, Any]:
    """A CDP or WebDriver cookie in the CDP shape (WebDriver says ``expiry``, no expiry = session)."""
    out = {k: raw[k] for k in COOKIE_KEYS if k in raw and raw[k] is not None}
    if "expires" not in out:
        out["expires"] = float(raw["expiry"]) if raw.get("expiry") is not None else -1
    out.setdefault("path", "/")
    return out


# --- taking a snapshot ------------------------------------------------------------------------------
def capture(handle: BrowserHandle, origins: PortalOrigins, previous: AuthSnapshot | None) -> AuthSnapshot:
    """The browser's portal login now. Raises a WebDriver error if the browser does not answer."""
    driver = handle.driver
    previous = previous or AuthSnapshot()
    if handle.remote:
        here = origin_of(driver.current_url) or ""
        host = urlsplit(here).hostname or ""
        fresh = [normalise_cookie(c) for c in driver.get_cookies()]
        # Cookies of other hosts are not visible from this page: keep the previous ones.
        kept = [c for c in previous.cookies if not domain_matches(host, c.get("domain", ""))]
        cookies = kept + fresh
    else:
        cookies = [normalise_cookie(c) for c in
                   driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]]  # type: ignore[attr-defined]
    cookies = [c for c in cookies if origins.wants_cookie(c.get("domain", ""))]
    storage = dict(previous.storage)
    page = driver.execute_script(_READ_STORAGE_JS)
    origin = origin_of(str((page or {}).get("origin") or ""))
    if origin in origins.origins:
        entry = {"local": dict(page.get("local") or {}), "session": dict(page.get("session") or {})}
        if entry["local"] or entry["session"]:
            storage[origin] = entry
        else:
            storage.pop(origin, None)
    return AuthSnapshot(tuple(cookies), storage)


# --- putting it back ------------------------------------------------------------------------------
def restore(handle: BrowserHandle, origins: PortalOrigins, snapshot: AuthSnapshot) -> int:
    """Put ``snapshot`` into the (new, blank) browser of ``handle``; return how many cookies were
    set. Cookies the browser refuses are logged and skipped: the logged-in check that follows
    decides whether the login survived."""
    cookies = snapshot.live_cookies()
    if handle.remote:
        count = _restore_remote_cookies(handle.driver, origins, cookies)
    else:
        params = [p for p in (_cdp_cookie(c, origins) for c in cookies) if p is not None]
        if params:
            handle.driver.execute_cdp_cmd("Network.setCookies", {"cookies": params})  # type: ignore[attr-defined]
        count = len(params)
    for origin, entry in snapshot.storage.items():
        if origin not in origins.origins:
            continue
        handle.driver.get(origin + "/")
        if origin_of(handle.driver.current_url) == origin:
            handle.driver.execute_script(_WRITE_STORAGE_JS, entry)
        else:
            log.warning("web storage of a portal origin not restored: its page redirected elsewhere")
    return count


def _cdp_cookie(cookie: dict[str, Any], origins: PortalOrigins) -> dict[str, Any] | None:
    """``Network.CookieParam`` of a stored cookie. A host-only cookie (no leading dot) is set
    through a URL of its host so it stays host-only; a domain cookie keeps its domain."""
    domain = str(cookie.get("domain", ""))
    param: dict[str, Any] = {"name": cookie["name"], "value": cookie.get("value", ""),
                             "path": cookie.get("path") or "/", "secure": bool(cookie.get("secure")),
                             "httpOnly": bool(cookie.get("httpOnly"))}
    if cookie.get("sameSite"):
        param["sameSite"] = cookie["sameSite"]
    if float(cookie.get("expires", -1)) >= 0:
        param["expires"] = float(cookie["expires"])
    if domain.startswith("."):
        param["domain"] = domain
        return param
    origin = origins.origin_for_host(domain)
    if origin is None:
        return None
    scheme = "https" if param["secure"] else urlsplit(origin).scheme
    param["url"] = f"{scheme}://{urlsplit(origin).netloc}{param['path']}"
    return param


def _restore_remote_cookies(driver: WebDriver, origins: PortalOrigins, cookies: list[dict[str, Any]]) -> int:
    """WebDriver ``add_cookie`` works for the current page's host only: visit one portal origin
    per cookie host and add that host's cookies there."""
    by_origin: dict[str, list[dict[str, Any]]] = {}
    for cookie in cookies:
        origin = origins.origin_for_host(str(cookie.get("domain", "")))
        if origin is not None:
            by_origin.setdefault(origin, []).append(cookie)
    count = 0
    for origin, group in by_origin.items():
        driver.get(origin + "/")
        for cookie in group:
            added: dict[str, Any] = {"name": cookie["name"], "value": cookie.get("value", ""),
                                     "path": cookie.get("path") or "/", "secure": bool(cookie.get("secure")),
                                     "httpOnly": bool(cookie.get("httpOnly"))}
            if str(cookie.get("domain", "")).startswith("."):
                added["domain"] = cookie["domain"]
            if float(cookie.get("expires", -1)) >= 0:
                added["expiry"] = int(float(cookie["expires"]))
            if cookie.get("sameSite"):
                added["sameSite"] = cookie["sameSite"]
            try:
                driver.add_cookie(added)
                count += 1
            except BROWSER_ERRORS as exc:
                log.warning("a portal cookie was refused by the remote browser: %s", type(exc).__name__)
    return count
