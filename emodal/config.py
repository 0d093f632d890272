"""Service configuration: one frozen :class:`Settings` object read from the environment (API_SPEC 3.11).

Field names are the environment variable names lower-cased, so the README table, the spec and the
code use one vocabulary. pydantic-settings reads the variables (:class:`_Environment`) and pydantic
types them from the field annotations; a bad value stops start-up with a :class:`ConfigError`
naming the variable, instead of surfacing minutes later inside a browser operation.

``Settings(**values)`` is the defaults plus ``values`` and never reads the environment on its own
(tests and the sandbox build settings that a developer's shell must not change); the service
calls :meth:`Settings.from_env`. A new variable is one annotated field here (plus its README row).
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BeforeValidator, Field, NonNegativeInt, PositiveFloat, PositiveInt,
                      ValidationError, model_validator)
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from emodal.capacity import default_max_sessions

#: Minimum length of an API key (API_SPEC 2): shorter keys are guessable.
MIN_API_KEY_LENGTH = 32

DEFAULT_MOVE_TYPES: tuple[str, ...] = ("PICK FULL", "DROP FULL", "PICK EMPTY", "DROP EMPTY")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the environment variable."""


# --- value types: parsing of the environment strings and the rules of each kind ---------------------
def _flag(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
        raise ValueError("must be true or false")
    return value


def _comma_list(value: Any) -> Any:
    """``"a, b,,c"`` -> ``("a", "b", "c")``; typed values (tuples, lists) pass unchanged."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _whole_seconds(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip().lstrip("+-").isdigit():
            raise ValueError("must be a whole number of seconds")
        return int(value)
    return value


def _api_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    if any(len(key) < MIN_API_KEY_LENGTH for key in keys):
        raise ValueError(f"every key must be at least {MIN_API_KEY_LENGTH} characters")
    return keys


def _non_empty(items: tuple[str, ...]) -> tuple[str, ...]:
    if not items:
        raise ValueError("must list at least one value")
    return items


def _size(value: Any) -> Any:
    """``"1280,720"`` or ``"1280x720"`` -> ``(1280, 720)``."""
    if isinstance(value, str):
        parts = value.replace("x", ",").split(",")
        if len(parts) != 2:
            raise ValueError("must be 'width,height'")
        return tuple(part.strip() for part in parts)
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown zone {name!r}") from None
    return name


def _log_level(name: str) -> str:
    level = name.upper()
    if logging.getLevelName(level) == f"Level {level}":
        raise ValueError(f"unknown level {name!r}")
    return level


def _secret(value: Any) -> Any:
    secret = value.encode("utf-8") if isinstance(value, str) else value
    if isinstance(secret, bytes) and len(secret) < 16:
        raise ValueError("must be at least 16 bytes")
    return secret


Flag = Annotated[bool, BeforeValidator(_flag)]
#: A duration in seconds: a whole number in the environment; callers may pass fractions (sub-second test waits).
Seconds = Annotated[PositiveInt | PositiveFloat, BeforeValidator(_whole_seconds)]
Keys = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list), AfterValidator(_api_keys)]
#: Page URLs are composed as base + real path; a trailing slash would double it.
BaseUrl = Annotated[str, AfterValidator(_http_url), AfterValidator(lambda url: url.rstrip("/"))]


class Settings(BaseSettings):
    """Every tunable of the service with its documented default (README table = API_SPEC 3.11)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=False, hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: Annotated[NonNegativeInt, Field(le=65535)] = 5010
    server_threads: PositiveInt = 32
    #: Largest request body read at all (API_SPEC 1.1), checked before the API key.
    max_request_bytes: PositiveInt = 1024 * 1024
    public_base_url: BaseUrl | None = None
    trusted_proxy_hops: NonNegativeInt = 0
    emodal_api_keys: Keys = ()
    emodal_admin_keys: Keys = ()
    #: ``None`` = generated once and kept (sealed) in the state store, so credential matching and
    #: idempotency fingerprints survive restarts (issue 10); ``create_app`` resolves it.
    session_secret: Annotated[bytes | None, BeforeValidator(_secret)] = Field(default=None, repr=False)
    #: Derived from the machine's memory and the spare browsers (emodal.capacity, resolved by
    #: ``_derived_defaults``); MAX_SESSIONS overrides it.
    max_sessions: PositiveInt
    #: ``None`` means ``max_sessions`` (resolved by ``_derived_defaults``): one API key may use every slot.
    max_sessions_per_tenant: int | None = None
    max_concurrent_logins: PositiveInt = 2
    session_timeout: Seconds = 1800
    session_refresh_interval: Seconds = 300
    refresh_check_interval: Seconds = 60
    session_lock_timeout: Seconds = 120
    capacity_retry_after: PositiveInt = 30
    appointment_session_ttl: Seconds = 600
    operation_timeout: Seconds = 600
    login_timeout: Seconds = 240
    captcha_timeout: Seconds = 180
    captcha_poll_interval: PositiveFloat = 5
    page_load_timeout: Seconds = 60
    element_timeout: Seconds = 30
    confirmation_timeout: Seconds = 90
    scroll_idle_cycles: PositiveInt = 3
    max_scroll_cycles: PositiveInt = 500
    bulk_max_containers: PositiveInt = 200
    #: Background job threads (emodal/jobs): jobs run at most this many at a time.
    job_workers: PositiveInt = 2
    #: Seconds between two scans of the state store for jobs no worker runs (created on another
    #: instance, or orphaned by a killed one once its lease ran out).
    job_scan_interval: Seconds = 15
    #: How long a finished job (record and result rows) stays readable, h.
    job_retention_hours: PositiveInt = 168
    idempotency_ttl: Seconds = 86400
    downloads_dir: Path = Path("downloads")
    #: ``None`` means ``<downloads_dir>/.state`` (resolved by ``_derived_defaults``).
    state_dir: Path | None = None
    #: ``None`` means ``sqlite:///<state_dir>/state.db`` (emodal.state.open_store).
    state_url: str | None = None
    #: Fernet key(s) sealing stored secrets; ``None`` = generated once into ``<state_dir>/state.key``.
    state_encryption_key: str | None = Field(None, repr=False)
    file_retention_hours: PositiveInt = 24
    #: How long a webhook delivery is retried (exponential back-off with jitter) before it is ``failed``.
    webhook_retry_hours: PositiveInt = 24
    #: Least time between two reads of a container watch (on the session's refresh ticks).
    watch_interval: Seconds = 600
    #: How long a watch's events stay listed (GET /watches/<id>/events), h.
    watch_event_retention_hours: PositiveInt = 168
    #: Deliver webhooks to private, loopback, link-local and metadata addresses (tests, on-premises).
    webhook_allow_private: Flag = False
    display_timezone: Annotated[str, AfterValidator(_zone)] = "UTC"
    screenshot_overlay: Flag = True
    validate_check_digit: Flag = True
    emodal_move_types: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list),
                                 AfterValidator(_non_empty)] = DEFAULT_MOVE_TYPES
    emodal_ecp2_url: BaseUrl = "https://ecp2.emodal.com"
    emodal_termops_url: BaseUrl = "https://termops.emodal.com"
    emodal_truckerportal_url: BaseUrl = "https://truckerportal.emodal.com"
    emodal_account_url: BaseUrl = "https://account.emodal.com"
    captcha_service_url: BaseUrl = "https://2captcha.com"
    #: ``None`` = look the binary up on ``PATH`` when a browser starts.
    chrome_binary: str | None = None
    chromedriver_path: str | None = None
    selenium_remote_url: Annotated[str, AfterValidator(_http_url)] | None = None
    #: Browsers kept started ahead for new logins (emodal.browser.spares). Off by default: on the
    #: sandbox it saved nothing measurable (the early solve already overlaps the browser start) and
    #: costs ~110 MB each (docs/PERFORMANCE.md); worth it where browser starts are slow.
    spare_browsers: NonNegativeInt = 0
    headless: Flag = True
    #: (width, height) of the browser window and of screenshots.
    window_size: Annotated[tuple[PositiveInt, PositiveInt], NoDecode, BeforeValidator(_size)] = (1920, 1080)
    browser_proxy: str | None = None
    shutdown_grace: NonNegativeInt = 30
    #: This process's name in a cluster (lease owners, ``/health``, the ``instance`` metric label);
    #: ``None`` means ``<hostname>-<pid>`` (resolved by ``_derived_defaults``).
    instance_id: str | None = None
    log_level: Annotated[str, AfterValidator(_log_level)] = "INFO"

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, values: Any) -> Any:
        """Defaults that follow another variable or the process: STATE_DIR, MAX_SESSIONS (the spare
        browsers' memory is planned first), MAX_SESSIONS_PER_TENANT, INSTANCE_ID."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        if values.get("state_dir") is None:
            values["state_dir"] = Path(values.get("downloads_dir") or cls.model_fields["downloads_dir"].default) / ".state"
        if values.get("max_sessions") is None:
            values["max_sessions"] = default_max_sessions(spares=_count_or_zero(values.get("spare_browsers", 0)))
        if values.get("max_sessions_per_tenant") is None:
            values["max_sessions_per_tenant"] = values["max_sessions"]
        if not values.get("instance_id"):
            values["instance_id"] = f"{socket.gethostname()}-{os.getpid()}"
        return values

    @model_validator(mode="after")
    def _capacity(self) -> Settings:
        # Every session may hold a request thread for minutes; /health and /sessions need spare threads.
        if self.server_threads <= self.max_sessions:
            raise ValueError("SERVER_THREADS must be greater than MAX_SESSIONS")
        if not 1 <= self.max_sessions_per_tenant <= self.max_sessions:  # type: ignore[operator]
            raise ValueError("MAX_SESSIONS_PER_TENANT must be 1-MAX_SESSIONS")
        if self.max_concurrent_logins > self.max_sessions:
            raise ValueError("MAX_CONCURRENT_LOGINS must not exceed MAX_SESSIONS")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   **_others: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values given: the environment is read by :meth:`from_env`, never implicitly."""
        return (init_settings,)

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` are typed field values
        applied last (tests, CLI flags). Unset or empty variables keep their default."""
        return cls(**{**_Environment(cls, os.environ if environ is None else environ)(), **overrides})

    def with_sandbox(self, base_url: str) -> Settings:
        """These settings pointed at a sandbox portal at ``base_url`` (PORTAL_SPEC B3 layout)."""
        base = base_url.rstrip("/")
        return type(self)(**{**dict(self), "emodal_ecp2_url": f"{base}/ecp2", "emodal_termops_url": f"{base}/termops",
                             "emodal_truckerportal_url": f"{base}/truckerportal",
                             "emodal_account_url": f"{base}/account", "captcha_service_url": f"{base}/2captcha"})

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
        out = dict(self)
        out["emodal_api_keys"] = f"<{len(self.emodal_api_keys)} keys>"
        out["emodal_admin_keys"] = f"<{len(self.emodal_admin_keys)} keys>"
        out["session_secret"] = "<hidden>"
        out["state_encryption_key"] = None if self.state_encryption_key is None else "<hidden>"
        return out


class _Environment(EnvSettingsSource):
    """The environment variables of :class:`Settings` from a given mapping (``os.environ`` or a test's
    dict): upper-case names only, values trimmed, blank values unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value.strip() for name, value in self._environ.items()
                if name.isupper() and value.strip()}


def _count_or_zero(value: Any) -> int:
    """``value`` as a count while defaults are derived (a malformed one is refused by its own
    field's validation right after, naming its variable)."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _config_error(exc: ValidationError) -> ConfigError:
    """The first problem as ``<VARIABLE>: <what is wrong>`` (checks across variables name both)."""
    error = exc.errors(include_url=False)[0]
    if not error["loc"]:
        return ConfigError(str(error["ctx"]["error"]))
    var = str(error["loc"][0]).upper()
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error":
        return ConfigError(f"{var}: {ctx['error']}")
    if error["type"] == "greater_than" and ctx.get("gt") == 0:
        return ConfigError(f"{var}: must be positive")
    if error["type"] == "greater_than_equal":
        return ConfigError(f"{var}: must be >= {ctx['ge']}")
    if error["type"] == "less_than_equal":
        return ConfigError(f"{var}: must be <= {ctx['le']}")
    return ConfigError(f"{var}: invalid value ({error['type']})")
