"""In-memory sandbox state: config, clock, world, booking book, auth sessions, captcha tokens.

Everything mutable hangs off one `SandboxState` per app (`app.extensions["emodal_sandbox"]`), and
every mutation happens under `state.lock` because the server is threaded (B2: >= 16 concurrent
browser sessions). A restart, or `reset()`, gives fresh state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import random
import secrets
import string
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from .clock import SandboxClock
from .config import SandboxConfig

EXTENSION_KEY = "emodal_sandbox"
REQUEST_LOG_SIZE = 5000
_TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"


@dataclass
class AuthSession:
    """One successful login (B5.2). `bearer` is the opaque id carried by both cookies."""

    bearer: str
    username: str
    created: float
    last_seen: float
    refresh_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass
class CaptchaToken:
    """A reCAPTCHA-like token (B6.4): valid once, for one sitekey, for `token_ttl_s`."""

    sitekey: str
    issued_at: float
    used: bool = False


@dataclass
class Fault:
    """A queued B15 fault; `count` is decremented as requests consume it."""

    type: str
    count: int = 1
    target: str = "any"
    path_contains: str | None = None
    delay_ms: int = 0
    endpoint: str = "any"
    code: str = "ERROR_CAPTCHA_UNSOLVABLE"

    def view(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _build_world(seed: int, containers: int, today: dt.date, tz: str, accounts: int) -> Any:
    """The world of `data.py` (sandbox-containers helper); imported late to keep state light."""
    data = importlib.import_module("emodal.sandbox.data")
    return data.build_world(seed, containers, today, tz, accounts)


def _build_book(world: Any, state: "SandboxState") -> Any:
    """The booking book of `booking.py` (sandbox-wizard helper), sharing the state's lock."""
    booking = importlib.import_module("emodal.sandbox.booking")
    return booking.BookingBook(world, state.clock, state.config.seed,
                               knob=state.config.knob, lock=state.lock)


class SandboxState:
    """All mutable sandbox state of one app."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.clock = SandboxClock(config.tz, config.today)
        self.world: Any = None
        self.book: Any = None
        self.sessions: dict[str, AuthSession] = {}
        self.tokens: dict[str, CaptchaToken] = {}
        self.faults: list[Fault] = []
        self.geo_block = False
        # OIDC: state -> {"app", "path"}; code -> {"bearer", "state", "app", "issued"}.
        self.oidc_states: dict[str, dict[str, str]] = {}
        self.oidc_codes: dict[str, dict[str, Any]] = {}
        # Audio challenges (captcha.py) and solver tasks (solver.py) keyed by their ids.
        self.audio_challenges: dict[str, str] = {}
        self.solver_tasks: dict[str, dict[str, Any]] = {}
        self.latency_rng = random.Random(f"{config.seed}:latency")
        # Page and XHR requests in arrival order (admin GET /requests): tests prove with it that
        # two operations on one browser did not interleave. Kept across resets, bounded.
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.request_seq = 0
        self.reset()

    def log_request(self, kind: str, method: str, path: str) -> None:
        with self.lock:
            self.request_seq += 1
            self.request_log.append({"seq": self.request_seq, "kind": kind, "method": method, "path": path})

    # ---- lifecycle -------------------------------------------------------------------------
    def reset(self, seed: int | None = None, containers: int | None = None,
              today: dt.date | None = None) -> None:
        """Regenerate data and drop sessions, tokens, appointments and faults (B15 reset)."""
        with self.lock:
            if seed is not None:
                self.config.seed = int(seed)
            if containers is not None:
                self.config.containers = int(containers)
            if today is not None:
                self.config.today = today
            self.clock = SandboxClock(self.config.tz, self.config.today)
            self.world = _build_world(self.config.seed, self.config.containers,
                                      self.clock.today(), self.config.tz, self.config.accounts)
            self.book = _build_book(self.world, self)
            for store in (self.sessions, self.tokens, self.oidc_states, self.oidc_codes,
                          self.audio_challenges, self.solver_tasks):
                store.clear()
            self.faults.clear()
            self.geo_block = False
            self.latency_rng = random.Random(f"{self.config.seed}:latency")

    def account(self, username: str) -> Any:
        """The world's account for a case-insensitive username, or None."""
        return self.world.accounts.get((username or "").strip().lower())

    # ---- auth sessions (B5.2) --------------------------------------------------------------
    def create_session(self, username: str) -> AuthSession:
        now = self.clock.timestamp()
        with self.lock:
            if self.config.knob("single_session_per_account"):
                self.logout_user(username)
            session = AuthSession(bearer=secrets.token_hex(20), username=username.lower(),
                                  created=now, last_seen=now)
            self.sessions[session.bearer] = session
            return session

    def _expired(self, session: AuthSession, now: float) -> bool:
        return (now - session.last_seen > self.config.knob("idle_timeout_s")
                or now - session.created > self.config.knob("absolute_lifetime_s"))

    def valid_session(self, bearer: str | None, touch: bool) -> AuthSession | None:
        """The live session for a bearer; expired ones are dropped. `touch` refreshes idle."""
        if not bearer:
            return None
        now = self.clock.timestamp()
        with self.lock:
            session = self.sessions.get(bearer)
            if session is None:
                return None
            if self._expired(session, now):
                del self.sessions[bearer]
                return None
            if touch:
                session.last_seen = now
            return session

    def logout_user(self, username: str) -> int:
        """Kill every session of an account; returns how many died."""
        with self.lock:
            doomed = [b for b, s in self.sessions.items() if s.username == username.lower()]
            for bearer in doomed:
                del self.sessions[bearer]
            return len(doomed)

    def sessions_view(self) -> list[dict[str, Any]]:
        now = self.clock.timestamp()
        idle = self.config.knob("idle_timeout_s")
        with self.lock:
            live = [s for s in self.sessions.values() if not self._expired(s, now)]
            return [{
                # A stable handle of the server-side session (not the bearer itself): a test tells
                # a reused portal session from a new login with it.
                "id": hashlib.sha256(s.bearer.encode()).hexdigest()[:12],
                "username": s.username,
                "created": dt.datetime.fromtimestamp(s.created, self.clock.tz).isoformat(),
                "last_seen": dt.datetime.fromtimestamp(s.last_seen, self.clock.tz).isoformat(),
                "seconds_left": round(min(idle - (now - s.last_seen),
                                          self.config.knob("absolute_lifetime_s") - (now - s.created)), 1),
            } for s in live]

    # ---- captcha tokens (B6.4) -------------------------------------------------------------
    def issue_token(self, sitekey: str) -> str:
        token = "03A" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(440))
        with self.lock:
            self.tokens[token] = CaptchaToken(sitekey=sitekey, issued_at=self.clock.timestamp())
        return token

    def verify_token(self, token: str, sitekey: str) -> bool:
        """Siteverify: known, same sitekey, unused, young enough. Always consumes the token."""
        with self.lock:
            record = self.tokens.get(token or "")
            if record is None:
                return False
            fresh = not record.used and record.sitekey == sitekey and \
                self.clock.timestamp() - record.issued_at <= self.config.knob("token_ttl_s")
            record.used = True
            return fresh

    # ---- faults (B15) ----------------------------------------------------------------------
    def take_fault(self, types: tuple[str, ...], matches: Any) -> Fault | None:
        """Consume one unit of the first queued fault of `types` for which `matches(fault)`."""
        with self.lock:
            for fault in self.faults:
                if fault.type in types and matches(fault):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
            return None


def get_state() -> SandboxState:
    """The `SandboxState` of the current Flask app."""
    return current_app.extensions[EXTENSION_KEY]
