"""API keys and tenants (API_SPEC 2).

Why tenants are key fingerprints: a session belongs to the key that created it, and nothing of the
key itself may be stored or logged; the first 16 hex of its SHA-256 identify the owner in the
registry, in ``.owner`` files and in ``/sessions`` (admin view) without revealing the key.
"""
from __future__ import annotations

import hashlib
import hmac
import logging

from flask import g, request

from emodal.config import Settings
from emodal.errors import Forbidden, Unauthorized

log = logging.getLogger("emodal.auth")

OPEN_TENANT = "open"
OPEN_MODE_LOG = ("API authentication is DISABLED (EMODAL_API_KEYS unset): "
                 "any caller can use every session")
#: Routes reachable without a key even when keys are configured.
PUBLIC_ENDPOINTS = frozenset({"ops.health"})
#: Blueprints that check their own sign-in instead of a key header: the operator console keeps the
#: tenant in a signed cookie (emodal/api/console/signin.py) so a browser never sends the key again.
SIGNED_IN_BLUEPRINTS = frozenset({"console"})


def tenant_id(key: str) -> str:
    """Tenant id of a key: first 16 hex of SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def presented_key() -> str | None:
    """The key of the request from ``X-API-Key`` or ``Authorization: Bearer``; both and different: 401."""
    header_key = request.headers.get("X-API-Key") or None
    bearer = None
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        bearer = authorization[7:].strip() or None
    if header_key and bearer and not hmac.compare_digest(header_key.encode(), bearer.encode()):
        raise Unauthorized("Missing or invalid API key", details="X-API-Key and Authorization differ")
    return header_key or bearer


def _matches(candidate: str, keys: tuple[str, ...]) -> bool:
    """Constant-time membership: every configured key is compared, no early exit."""
    found = False
    for key in keys:
        found |= hmac.compare_digest(candidate.encode("utf-8"), key.encode("utf-8"))
    return found


def authenticate(settings: Settings) -> None:
    """``before_request`` hook: set ``g.tenant`` and ``g.is_admin`` or raise 401.

    Runs before anything else (API_SPEC 6.1 "key" first), also for unknown routes, so a caller
    without a key learns nothing about which routes exist.
    """
    if not settings.auth_enabled:
        g.tenant, g.is_admin = OPEN_TENANT, True
        return
    g.tenant, g.is_admin = None, False
    if request.blueprint in SIGNED_IN_BLUEPRINTS:
        return  # a matched route of such a blueprint: its own before_request signs the caller in
    key = presented_key()
    owner = tenant_of(settings, key) if key is not None else None
    if owner is not None:
        g.tenant, g.is_admin = owner
        return
    if request.endpoint in PUBLIC_ENDPOINTS and request.method in ("GET", "HEAD"):
        return
    raise Unauthorized()


def tenant_of(settings: Settings, key: str) -> tuple[str, bool] | None:
    """``(tenant, is_admin)`` of a configured key, else ``None``; constant time over every key."""
    is_admin = _matches(key, settings.emodal_admin_keys)
    if is_admin or _matches(key, settings.emodal_api_keys):
        return tenant_id(key), is_admin
    return None


def require_admin() -> None:
    """403 ``forbidden`` unless open mode or an admin key."""
    if not g.get("is_admin"):
        raise Forbidden()


def scope_tenant() -> str | None:
    """Tenant filter for listings: ``None`` (everything) for admins and open mode."""
    return None if g.get("is_admin") else g.tenant


def log_auth_mode(settings: Settings) -> None:
    """The start-up line of API_SPEC 2 (open mode) plus a warning when listening beyond loopback."""
    if settings.auth_enabled:
        log.info("API authentication enabled: %d key(s), %d admin key(s)",
                 len(settings.emodal_api_keys), len(settings.emodal_admin_keys))
        return
    log.warning(OPEN_MODE_LOG)
    if not settings.is_loopback_host:
        log.warning("HOST %s is not a loopback address: open mode exposes every session to the network",
                    settings.host)
