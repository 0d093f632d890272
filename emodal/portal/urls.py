"""Where the portal lives: base URLs from configuration and the page URLs built from them.

Why: the service reaches the real portal or a local replica only through configuration
(PORTAL_SPEC B1/B3, API_SPEC 3.11 "Pages"). Every page URL is ``<base> + <real path>``; nothing
else in the code composes portal URLs, and page identity is decided from these bases plus paths
(B17 rule 1), never from substrings of the whole URL.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from emodal.config import Settings

#: The identity (SSO) host is not configurable: its name is unknown for the real portal and the
#: browser only ever reaches it through redirects. Its login page is recognised by the path
#: ``/Account/Login`` on any host plus the login form (see ``emodal.portal.health``).
IDENTITY_LOGIN_PATH = "/account/login"


@dataclass(frozen=True)
class PortalUrls:
    """Configured portal base URLs (no trailing slash) and the pages the service opens."""

    ecp2: str
    termops: str
    truckerportal: str
    account: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "PortalUrls":
        """Build from a ``Settings``: each field ``<app>`` comes from ``EMODAL_<APP>_URL``, so the
        list of portal apps is written once, as this class's fields."""
        return cls(**{f.name: getattr(settings, f"emodal_{f.name}_url").rstrip("/") for f in fields(cls)})

    # --- pages (API_SPEC 3.11 "Pages") -----------------------------------------------------------
    @property
    def login(self) -> str:
        """Where a login starts; it redirects into the identity chain (PORTAL_SPEC A2)."""
        return f"{self.ecp2}/login"

    @property
    def root(self) -> str:
        """The ecp2 root: after login it lands on the account's default page (Welcome, B17 rule 9)."""
        return f"{self.ecp2}/"

    @property
    def containers(self) -> str:
        return f"{self.ecp2}/containers"

    @property
    def addvisit(self) -> str:
        return f"{self.termops}/trucker/web/addvisit"

    @property
    def keep_alive(self) -> str:
        """Termops home: a cheap authenticated page that refreshes the SSO idle timer (A10)."""
        return f"{self.termops}/trucker/web/"

    @property
    def my_appointments(self) -> str:
        return f"{self.truckerportal}/myappointments"

    # --- identity helpers -------------------------------------------------------------------------
    def app_bases(self) -> dict[str, str]:
        """Name -> base URL of every portal app the service is logged in to when it is on them."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def app_of(self, url: str) -> str | None:
        """Name of the configured app whose base contains ``url`` (scheme, host, port and path
        prefix compared component-wise), or ``None`` for any other page (identity host, errors)."""
        for name, base in self.app_bases().items():
            if relative_path(base, url) is not None:
                return name
        return None


def relative_path(base: str, url: str) -> str | None:
    """Path of ``url`` below ``base`` (always starting with ``/``), or ``None`` when ``url`` is not
    under ``base``.

    Why component-wise: ``https://ecp2.emodal.com.evil/`` or an identity URL whose encoded
    ``ReturnUrl`` contains ``ecp2.emodal.com`` must not count as ecp2 (PORTAL_SPEC A2, B17 rule 1).
    Query and fragment are ignored; the comparison of scheme and host is case-insensitive.
    """
    b, u = urlsplit(base), urlsplit(url)
    if (b.scheme.lower(), _netloc(b)) != (u.scheme.lower(), _netloc(u)):
        return None
    prefix = b.path.rstrip("/")
    path = u.path or "/"
    if not prefix:
        return path
    if path.lower() == prefix.lower():
        return "/"
    if path.lower().startswith(prefix.lower() + "/"):
        return path[len(prefix):]
    return None


def strip_query(url: str) -> str:
    """``url`` without query and fragment (they may carry tokens: API_SPEC 4.10, 5)."""
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


def _netloc(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{host}:{port}"
