"""Sandbox configuration: B2 process options plus the B14 timing/behaviour knobs.

One `SandboxConfig` object is built from (lowest to highest precedence) the profile defaults,
`EMODAL_SANDBOX_<OPTION>` environment variables, and explicit arguments (the CLI). Knobs stay
live-patchable afterwards through `/_sandbox/config`, so every reader asks `config.knob(name)` at
use time instead of caching a value.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

# Apps whose pages boot an Angular-like shell; per-app knobs are dicts keyed by these.
APPS = ("ecp2", "account", "termops", "truckerportal")

DEFAULT_SITEKEY = "6LcSBXAAAAAAsandbox-emodal-login-key00AA"

# B14. Per-app knobs are dicts; `xhr_latency_ms` is an inclusive [low, high] jitter range.
_COMMON: dict[str, Any] = {
    "token_ttl_s": 120,
    "first_batch": 24,
    "batch_size": 24,
    "slot_days": 7,
    "line_size_terminals": ["TraPac LLC - Los Angeles"],
    "require_hdn_token": True,
    "single_session_per_account": False,
    "shuffle_per_session": False,
    "sitekey": DEFAULT_SITEKEY,
    "captcha_audio_answer": "sandbox",
    "captcha_mode": "challenge",
    "idle_timeout_s": 1200,
    "absolute_lifetime_s": 12 * 3600,
}

PROFILES: dict[str, dict[str, Any]] = {
    "fast": {
        "page_boot_ms": {"ecp2": 0, "account": 0, "termops": 50, "truckerportal": 0},
        "xhr_latency_ms": [0, 10],
        "scroll_batch_latency_ms": 10,
        "expand_animation_ms": 0,
        "step_transition_ms": 0,
        "booking_validation_ms": 0,
        "oidc_hop_ms": 0,
        "captcha_click_ms": 100,
        "captcha_solve_delay_s": 0.5,
        "excel_ms": {"ecp2": 0, "truckerportal": 0},
    },
    "realistic": {
        "page_boot_ms": {"ecp2": 1500, "account": 1500, "termops": 8000, "truckerportal": 4000},
        "xhr_latency_ms": [300, 1200],
        "scroll_batch_latency_ms": 800,
        "expand_animation_ms": 300,
        "step_transition_ms": 2500,
        "booking_validation_ms": 2000,
        "oidc_hop_ms": 2000,
        "captcha_click_ms": 1500,
        "captcha_solve_delay_s": 20,
        "excel_ms": {"ecp2": 800, "truckerportal": 3000},
    },
}

CAPTCHA_MODES = ("challenge", "trusted")


def profile_knobs(profile: str) -> dict[str, Any]:
    """A fresh copy of a profile's knobs (B14 table + the shared behaviour knobs)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    return {**copy.deepcopy(_COMMON), **copy.deepcopy(PROFILES[profile])}


def _coerce(current: Any, raw: Any) -> Any:
    """Convert `raw` (CLI string or JSON value) to the type of the knob's current value."""
    if isinstance(current, bool):
        if isinstance(raw, str):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        return bool(raw)
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        value = float(raw)
        return int(value) if isinstance(current, int) and value.is_integer() else value
    if isinstance(current, list):
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.strip().startswith("[") else _split_list(raw, current)
        return list(raw)
    return raw if not isinstance(current, str) else str(raw)


def _split_list(raw: str, current: list) -> list:
    """`300-1200` or `a,b` forms for list knobs typed on a command line."""
    if current and all(isinstance(v, (int, float)) for v in current):
        parts = raw.replace(",", "-").split("-") if "-" in raw or "," in raw else [raw, raw]
        return [int(float(p)) for p in parts]
    return [p.strip() for p in raw.split(",") if p.strip()]


#: Generated account names have three digits (user001-user999).
MAX_GENERATED_ACCOUNTS = 999


@dataclass
class SandboxConfig:
    """B2 options and the live knob table of one sandbox app."""

    host: str = "127.0.0.1"
    port: int = 8470
    profile: str = "fast"
    seed: int = 1
    containers: int = 450
    #: Generated accounts (user001...) besides jdoe and asmith (load measurements).
    accounts: int = 0
    today: dt.date | None = None
    tz: str = "America/Los_Angeles"
    knobs: dict[str, Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Profile defaults first; knobs given explicitly (e.g. by `from_sources`) win.
        self.knobs = {**profile_knobs(self.profile), **self.knobs}
        if self.knobs["captcha_mode"] not in CAPTCHA_MODES:
            raise ValueError(f"captcha mode must be one of {CAPTCHA_MODES}")
        if not 0 <= self.accounts <= MAX_GENERATED_ACCOUNTS:
            raise ValueError(f"accounts must be 0-{MAX_GENERATED_ACCOUNTS}")

    def knob(self, name: str) -> Any:
        """Current value of a knob (live: `/_sandbox/config` may have patched it)."""
        with self._lock:
            return copy.deepcopy(self.knobs[name])

    def app_knob(self, name: str, app: str) -> Any:
        """Resolve a per-app knob (`page_boot_ms`, `excel_ms`) for one app; 0 when not set."""
        value = self.knob(name)
        return value.get(app, 0) if isinstance(value, dict) else value

    def set_knob(self, name: str, raw: Any) -> None:
        """Set a knob from a CLI string or JSON value. `name.app` sets one app of a per-app knob;
        a scalar given for a per-app knob sets every app."""
        base, _, app = name.partition(".")
        with self._lock:
            if base not in self.knobs:
                raise KeyError(f"unknown knob {base!r}")
            current = self.knobs[base]
            if isinstance(current, dict):
                if isinstance(raw, Mapping):
                    current.update({k: _coerce(0, v) for k, v in raw.items()})
                elif app:
                    current[app] = _coerce(current.get(app, 0), raw)
                else:
                    for key in current:
                        current[key] = _coerce(current[key], raw)
                return
            value = _coerce(current, raw)
            if base == "captcha_mode" and value not in CAPTCHA_MODES:
                raise ValueError(f"captcha mode must be one of {CAPTCHA_MODES}")
            self.knobs[base] = value

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready view of options and knobs (for `/_sandbox/config`)."""
        with self._lock:
            return {
                "host": self.host, "port": self.port, "profile": self.profile, "seed": self.seed,
                "containers": self.containers, "accounts": self.accounts, "today": self.today.isoformat() if self.today else None,
                "tz": self.tz, "knobs": copy.deepcopy(self.knobs),
            }

    @classmethod
    def from_sources(cls, options: Mapping[str, Any] | None = None,
                     sets: list[str] | None = None,
                     environ: Mapping[str, str] | None = None) -> "SandboxConfig":
        """Build from env (`EMODAL_SANDBOX_<OPTION>`), then `options` (CLI wins), then `--set`s.

        `options` keys: host, port, profile, seed, containers, accounts, today, tz, idle_timeout, captcha_mode;
        None values mean "not given".
        """
        env = os.environ if environ is None else environ
        merged: dict[str, Any] = {}
        for name in ("host", "port", "profile", "seed", "containers", "accounts", "today", "tz",
                     "idle_timeout", "captcha_mode"):
            value = env.get(f"EMODAL_SANDBOX_{name.upper()}")
            if value not in (None, ""):
                merged[name] = value
        merged.update({k: v for k, v in (options or {}).items() if v is not None})
        env_sets = [s for s in env.get("EMODAL_SANDBOX_SET", "").split(";") if s.strip()]
        config = cls(
            host=str(merged.get("host", "127.0.0.1")),
            port=int(merged.get("port", 8470)),
            profile=str(merged.get("profile", "fast")),
            seed=int(merged.get("seed", 1)),
            containers=int(merged.get("containers", 450)),
            accounts=int(merged.get("accounts", 0)),
            today=_parse_date(merged.get("today")),
            tz=str(merged.get("tz", "America/Los_Angeles")),
        )
        if "idle_timeout" in merged:
            config.set_knob("idle_timeout_s", merged["idle_timeout"])
        if "captcha_mode" in merged:
            config.set_knob("captcha_mode", merged["captcha_mode"])
        for item in env_sets + list(sets or []):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
            config.set_knob(key.strip(), value.strip())
        return config


def _parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
