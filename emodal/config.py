"""Service configuration: one frozen :class:`Settings` object read from the environment (API_SPEC 3.11).

Field names are the environment variable names lower-cased, so the README table, the spec and the
code use one vocabulary. Validation happens in ``__post_init__``: a bad value stops start-up with a
message naming the variable, instead of surfacing minutes later inside a browser operation.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emodal.capacity import default_max_sessions

#: Minimum length of an API key (API_SPEC 2): shorter keys are guessable.
MIN_API_KEY_LENGTH = 32

DEFAULT_MOVE_TYPES: tuple[str, ...] = ("PICK FULL", "DROP FULL", "PICK EMPTY", "DROP EMPTY")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the environment variable."""


def _secret_factory() -> bytes:
    # Random per start (API_SPEC 3.11): sessions do not survive a restart anyway.
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service with its documented default (README table = API_SPEC 3.11)."""

    host: str = "127.0.0.1"
    port: int = 5010
    server_threads: int = 32
    #: Largest request body read at all (API_SPEC 1.1), checked before the API key.
    max_request_bytes: int = 1024 * 1024
    public_base_url: str | None = None
    trusted_proxy_hops: int = 0
    emodal_api_keys: tuple[str, ...] = ()
    emodal_admin_keys: tuple[str, ...] = ()
    session_secret: bytes = field(default_factory=_secret_factory, repr=False)
    #: Derived from the machine's memory (emodal.capacity); MAX_SESSIONS overrides it.
    max_sessions: int = field(default_factory=default_max_sessions)
    #: ``None`` means ``max_sessions`` (resolved in ``__post_init__``): one API key may use every slot.
    max_sessions_per_tenant: int | None = None
    max_concurrent_logins: int = 2
    session_timeout: int = 1800
    session_refresh_interval: int = 300
    refresh_check_interval: int = 60
    session_lock_timeout: int = 120
    capacity_retry_after: int = 30
    appointment_session_ttl: int = 600
    operation_timeout: int = 600
    login_timeout: int = 240
    captcha_timeout: int = 180
    captcha_poll_interval: float = 5
    page_load_timeout: int = 60
    element_timeout: int = 30
    confirmation_timeout: int = 90
    scroll_idle_cycles: int = 3
    max_scroll_cycles: int = 500
    bulk_max_containers: int = 200
    idempotency_ttl: int = 86400
    downloads_dir: Path = Path("downloads")
    #: ``None`` means ``<downloads_dir>/.state`` (resolved in ``__post_init__``).
    state_dir: Path | None = None
    #: ``None`` means ``sqlite:///<state_dir>/state.db`` (emodal.state.open_store).
    state_url: str | None = None
    #: Fernet key(s) sealing stored secrets; ``None`` = generated once into ``<state_dir>/state.key``.
    state_encryption_key: str | None = field(default=None, repr=False)
    file_retention_hours: int = 24
    display_timezone: str = "UTC"
    screenshot_overlay: bool = True
    validate_check_digit: bool = True
    emodal_move_types: tuple[str, ...] = DEFAULT_MOVE_TYPES
    emodal_ecp2_url: str = "https://ecp2.emodal.com"
    emodal_termops_url: str = "https://termops.emodal.com"
    emodal_truckerportal_url: str = "https://truckerportal.emodal.com"
    emodal_account_url: str = "https://account.emodal.com"
    captcha_service_url: str = "https://2captcha.com"
    #: ``None`` = look the binary up on ``PATH`` when a browser starts.
    chrome_binary: str | None = None
    chromedriver_path: str | None = None
    selenium_remote_url: str | None = None
    headless: bool = True
    #: (width, height) of the browser window and of screenshots.
    window_size: tuple[int, int] = (1920, 1080)
    browser_proxy: str | None = None
    shutdown_grace: int = 30
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.state_dir is None:
            object.__setattr__(self, "state_dir", Path(self.downloads_dir) / ".state")
        if self.max_sessions_per_tenant is None:
            object.__setattr__(self, "max_sessions_per_tenant", self.max_sessions)
        for name in ("downloads_dir", "state_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        for name in ("emodal_ecp2_url", "emodal_termops_url", "emodal_truckerportal_url",
                     "emodal_account_url", "captcha_service_url", "public_base_url"):
            value = getattr(self, name)
            if value is not None:
                # Page URLs are composed as base + real path; a trailing slash would double it.
                object.__setattr__(self, name, value.rstrip("/"))
        object.__setattr__(self, "log_level", self.log_level.upper())
        for name in ("emodal_api_keys", "emodal_admin_keys", "emodal_move_types", "window_size"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if isinstance(self.session_secret, str):
            object.__setattr__(self, "session_secret", self.session_secret.encode("utf-8"))
        _validate(self)

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` are typed field values
        applied last (tests, CLI flags). Unset or empty variables keep their default."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.name.upper())
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _convert(f.name, raw.strip())
        values.update(overrides)
        return cls(**values)

    def with_sandbox(self, base_url: str) -> "Settings":
        """These settings pointed at a sandbox portal at ``base_url`` (PORTAL_SPEC B3 layout)."""
        base = base_url.rstrip("/")
        return dataclasses.replace(
            self,
            emodal_ecp2_url=f"{base}/ecp2",
            emodal_termops_url=f"{base}/termops",
            emodal_truckerportal_url=f"{base}/truckerportal",
            emodal_account_url=f"{base}/account",
            captcha_service_url=f"{base}/2captcha",
        )

    # --- derived views --------------------------------------------------------------------------
    @property
    def auth_enabled(self) -> bool:
        """False in open mode (API_SPEC 2): no key needed, one tenant ``open``."""
        return bool(self.emodal_api_keys or self.emodal_admin_keys)

    @property
    def is_loopback_host(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict safe to log: keys and the secret replaced by counts/markers."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["emodal_api_keys"] = f"<{len(self.emodal_api_keys)} keys>"
        out["emodal_admin_keys"] = f"<{len(self.emodal_admin_keys)} keys>"
        out["session_secret"] = "<hidden>"
        out["state_encryption_key"] = None if self.state_encryption_key is None else "<hidden>"
        return out


# --- parsing helpers -------------------------------------------------------------------------------
_FIELD_TYPES: dict[str, str] = {}  # filled lazily from the dataclass annotations


def _kind_of(name: str) -> str:
    if not _FIELD_TYPES:
        for f in dataclasses.fields(Settings):
            _FIELD_TYPES[f.name] = str(f.type)
    return _FIELD_TYPES[name]


def _convert(name: str, raw: str) -> Any:
    """One environment string -> the field's type; ConfigError names the variable on failure."""
    kind = _kind_of(name)
    var = name.upper()
    try:
        if name == "window_size":
            width, height = (int(part) for part in raw.replace("x", ",").split(","))
            return (width, height)
        if name == "session_secret":
            return raw.encode("utf-8")
        if kind.startswith("tuple[str"):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if kind == "bool":
            return parse_bool_env(var, raw)
        if kind in ("int", "int | None"):
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("Path"):
            return Path(raw)
        return raw
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{var}: invalid value ({exc.__class__.__name__})") from None


def parse_bool_env(var: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{var} must be true or false")


def _validate(s: Settings) -> None:
    """Reject settings the service cannot honour; raise ConfigError naming the variable."""
    for name in ("emodal_api_keys", "emodal_admin_keys"):
        for key in getattr(s, name):
            if len(key) < MIN_API_KEY_LENGTH:
                raise ConfigError(f"{name.upper()}: every key must be at least {MIN_API_KEY_LENGTH} characters")
    positive = ("server_threads", "max_request_bytes", "max_sessions", "max_concurrent_logins", "session_timeout",
                "session_refresh_interval", "refresh_check_interval", "session_lock_timeout",
                "capacity_retry_after", "appointment_session_ttl", "operation_timeout", "login_timeout",
                "captcha_timeout", "captcha_poll_interval", "page_load_timeout", "element_timeout",
                "confirmation_timeout", "scroll_idle_cycles", "max_scroll_cycles", "bulk_max_containers",
                "idempotency_ttl", "file_retention_hours")
    for name in positive:
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name.upper()} must be positive")
    if not 0 <= s.port <= 65535:
        raise ConfigError("PORT must be 0-65535")
    if s.trusted_proxy_hops < 0:
        raise ConfigError("TRUSTED_PROXY_HOPS must be >= 0")
    if s.shutdown_grace < 0:
        raise ConfigError("SHUTDOWN_GRACE must be >= 0")
    # Every session may hold a request thread for minutes; /health and /sessions need spare threads.
    if s.server_threads <= s.max_sessions:
        raise ConfigError("SERVER_THREADS must be greater than MAX_SESSIONS")
    if not 1 <= s.max_sessions_per_tenant <= s.max_sessions:  # type: ignore[operator]
        raise ConfigError("MAX_SESSIONS_PER_TENANT must be 1-MAX_SESSIONS")
    if s.max_concurrent_logins > s.max_sessions:
        raise ConfigError("MAX_CONCURRENT_LOGINS must not exceed MAX_SESSIONS")
    if not s.emodal_move_types:
        raise ConfigError("EMODAL_MOVE_TYPES must list at least one move type")
    if len(s.window_size) != 2 or min(s.window_size) <= 0:
        raise ConfigError("WINDOW_SIZE must be 'width,height'")
    try:
        ZoneInfo(s.display_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DISPLAY_TIMEZONE: unknown zone {s.display_timezone!r}") from None
    if logging.getLevelName(s.log_level) == f"Level {s.log_level}":
        raise ConfigError(f"LOG_LEVEL: unknown level {s.log_level!r}")
    for name in ("emodal_ecp2_url", "emodal_termops_url", "emodal_truckerportal_url", "emodal_account_url",
                 "captcha_service_url", "public_base_url", "selenium_remote_url"):
        value = getattr(s, name)
        if value is not None and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name.upper()} must be an http(s) URL")
    if not isinstance(s.session_secret, bytes) or len(s.session_secret) < 16:
        raise ConfigError("SESSION_SECRET must be at least 16 bytes")
