"""The session journal: each session as a record in the state store, so it outlives the process.

Why: a restart, crash or deploy must not cost every session a paid captcha and a full login
(issue 10). The registry writes a session's record after its login, re-login, refresh and
operations, and at graceful shutdown; the next start reads them back (``load_all``) and restores
the sessions under their old ids.

Record (namespace ``sessions``), keyed by a hash of the session id:

- clear metadata, readable without the key (``/health`` counts, an operator's look): short id,
  tenant, credential lookup key (an HMAC), username, kind, state, times, login count, last error,
  ``restored_at``, the identity origin, and marks (hashes) of open appointment wizards;
- ``"sealed"`` (``SecretBox``, Fernet): the full session id (a bearer token), password, captcha
  key and the portal auth snapshot (cookies + web storage).

A copy of the database file therefore holds no password, key, PIN, cookie value or usable id.
A record the key cannot open (wrong or lost ``STATE_ENCRYPTION_KEY``) is dropped with one warning
and never read in any other way. A write that fails (disk full) is logged and the session keeps
working; it only would not survive a restart until a later write succeeds.
"""
from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from emodal.browser.snapshot import AuthSnapshot
from emodal.errors import CaptchaKeyInvalid, CaptchaZeroBalance
from emodal.operations.wizard_state import wizard_mark
from emodal.sessions.credentials import Credentials
from emodal.sessions.session import BrowserSession, SessionState
from emodal.state.crypto import SecretBox
from emodal.state.errors import StateError, UndecryptableSecret
from emodal.state.sealed import SEALED, SESSIONS_NAMESPACE
from emodal.state.store import Record, StateStore

log = logging.getLogger(__name__)

#: Store namespace of session records (one of ``emodal.state.sealed.SEALED_NAMESPACES``).
NAMESPACE = SESSIONS_NAMESPACE
#: The captcha errors that put a session in ``needs_attention``, by ``error_type`` (restored as such).
ATTENTION_ERRORS: dict[str, type[Exception]] = {CaptchaKeyInvalid.error_type: CaptchaKeyInvalid,
                                                 CaptchaZeroBalance.error_type: CaptchaZeroBalance}


def record_key(session_id: str) -> str:
    """The store key of a session: a hash, so the id (a bearer token) is not in the database."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:32]


@dataclass
class StoredSession:
    """A session as read back from its record (secrets opened)."""

    session_id: str
    tenant: str
    lookup_key: str
    credentials: Credentials
    keep_alive: bool
    state: str
    created_at: float
    last_used: float
    last_refresh: float | None = None
    login_count: int = 0
    last_error: dict[str, Any] | None = None
    restored_at: float | None = None
    identity_origin: str | None = None
    lost_wizards: dict[str, float] = field(default_factory=dict)
    snapshot: AuthSnapshot = field(default_factory=AuthSnapshot)
    #: The Grid's WebDriver session id of the session's browser (remote mode), else None.
    remote_id: str | None = None

    def to_session(self, now: float) -> BrowserSession:
        """A registry entry for this record: no browser yet, waiting to be restored."""
        session = BrowserSession(self.session_id, self.tenant, self.credentials, self.lookup_key,
                                 keep_alive=self.keep_alive)
        session.created_at = self.created_at
        self.apply_to(session, now)
        session.restore_pending = True
        if session.state is not SessionState.NEEDS_ATTENTION:
            session.state = SessionState.RESTORING if self.keep_alive else SessionState.LOGGED_OUT
        return session

    def apply_to(self, session: BrowserSession, now: float) -> None:
        """Bring ``session`` up to this record (cluster: another API instance wrote it since):
        kind, times, counts, last error, credentials, portal snapshot, wizard marks, browser id and
        the resting state (``needs_attention``, ``logged_out``, else ``ready``)."""
        session.keep_alive = self.keep_alive
        session.last_used, session.last_refresh = self.last_used, self.last_refresh
        session.login_count, session.last_error, session.restored_at = self.login_count, self.last_error, self.restored_at
        session.identity_origin = self.identity_origin
        session.credentials = self.credentials
        session.lost_wizards = {m: t for m, t in self.lost_wizards.items() if t > now}
        digest = self.snapshot.digest()
        if digest != session.snapshot_digest:
            session.snapshot, session.snapshot_digest = self.snapshot, digest
        session.remote_id = self.remote_id
        attention = ATTENTION_ERRORS.get((self.last_error or {}).get("error_type", ""))
        session.attention_error = None
        if self.state == SessionState.NEEDS_ATTENTION.value and attention is not None:
            session.state, session.attention_error = SessionState.NEEDS_ATTENTION, attention
        elif self.state == SessionState.LOGGED_OUT.value:
            session.state = SessionState.LOGGED_OUT
        else:
            session.state = SessionState.READY


class RestoreDecision(str, enum.Enum):
    """What the start-up does with a stored session."""

    DROP = "drop"                # a regular session whose SESSION_TIMEOUT ran out while the service was down
    BACKGROUND = "background"    # keep-alive: restored at once, in the background
    FIRST_USE = "first_use"      # regular (or needs_attention): restored when a request uses it


def restore_decision(stored: StoredSession, now: float, session_timeout: float) -> RestoreDecision:
    if not stored.keep_alive and stored.last_used + session_timeout <= now:
        return RestoreDecision.DROP
    if stored.keep_alive and stored.state != SessionState.NEEDS_ATTENTION.value:
        return RestoreDecision.BACKGROUND
    return RestoreDecision.FIRST_USE


def encode(session: BrowserSession, box: SecretBox, wizard_ttl: float,
           sealed: str | None = None) -> dict[str, Any]:
    """The record value of ``session``; ``sealed``: a token already sealed for the same secrets."""
    open_marks = {wizard_mark(k): float(getattr(w, "last_used", time.time())) + wizard_ttl
                  for k, w in list(session.wizards.items())}
    return {
        "short_id": session.short_id,
        "tenant": session.tenant,
        "lookup_key": session.lookup_key,
        "username": session.username,
        "kind": session.kind,
        "state": session.state.value,
        "created_at": session.created_at,
        "last_used": session.last_used,
        "last_refresh": session.last_refresh,
        "login_count": session.login_count,
        "last_error": session.last_error,
        "restored_at": session.restored_at,
        "identity_origin": session.identity_origin,
        "lost_wizards": {**session.lost_wizards, **open_marks},
        SEALED: sealed or box.seal(secrets_of(session)),
    }


def secrets_of(session: BrowserSession) -> dict[str, Any]:
    credentials = session.credentials
    assert credentials is not None
    return {"session_id": session.session_id, "password": credentials.password,
            "captcha_api_key": credentials.captcha_api_key,
            "snapshot": (session.snapshot or AuthSnapshot()).to_dict(),
            # A bearer capability on the Grid (anyone reaching the hub could drive the browser).
            "remote_id": session.current_remote_id()}


def decode(value: dict[str, Any], box: SecretBox) -> StoredSession:
    """A record value back to a :class:`StoredSession`. ``UndecryptableSecret`` for a wrong key,
    ``KeyError``/``TypeError``/``ValueError`` for a malformed record."""
    secret = box.open(value[SEALED])
    return StoredSession(
        session_id=str(secret["session_id"]), tenant=str(value["tenant"]), lookup_key=str(value["lookup_key"]),
        credentials=Credentials(str(value["username"]), str(secret["password"]), str(secret["captcha_api_key"])),
        keep_alive=value["kind"] == "keep_alive", state=str(value["state"]),
        created_at=float(value["created_at"]), last_used=float(value["last_used"]),
        last_refresh=None if value.get("last_refresh") is None else float(value["last_refresh"]),
        login_count=int(value.get("login_count") or 0), last_error=value.get("last_error"),
        restored_at=None if value.get("restored_at") is None else float(value["restored_at"]),
        identity_origin=value.get("identity_origin"),
        lost_wizards={str(k): float(v) for k, v in (value.get("lost_wizards") or {}).items()},
        snapshot=AuthSnapshot.from_dict(secret.get("snapshot")),
        remote_id=secret.get("remote_id"),
    )


class SessionJournal:
    """Writes, deletes and reads back session records. Thread-safe.

    A deleted session is remembered for the life of the process, so a late write (an operation
    finishing while ``/emergency_recovery`` closes everything) never brings its record back.
    """

    def __init__(self, store: StateStore, box: SecretBox, *, wizard_ttl: float) -> None:
        self.store = store
        self._box = box
        self._wizard_ttl = wizard_ttl
        self._lock = threading.Lock()
        self._deleted: set[str] = set()
        #: session id -> (digest of its secrets, sealed token): no re-encryption when nothing secret changed.
        self._sealed: dict[str, tuple[str, str]] = {}

    @property
    def backend(self) -> str:
        return self.store.backend

    def save(self, session: BrowserSession) -> bool:
        """Write the session's record; False (logged) when the store refused the write."""
        if session.credentials is None:
            return False
        with self._lock:
            if session.session_id in self._deleted:
                return False
            try:
                value = encode(session, self._box, self._wizard_ttl, self._sealed_token(session))
                self.store.put(NAMESPACE, record_key(session.session_id), value)
            except StateError as exc:
                log.error("%s: session state not saved (%s); the session keeps working but would not "
                          "survive a restart until a later save succeeds", session.short_id, exc)
                return False
        return True

    def _sealed_token(self, session: BrowserSession) -> str:
        secrets = secrets_of(session)
        digest = hashlib.sha256(repr((secrets["password"], secrets["captcha_api_key"],
                                      session.snapshot_digest, secrets["remote_id"])).encode("utf-8")).hexdigest()
        cached = self._sealed.get(session.session_id)
        if cached is None or cached[0] != digest:
            cached = (digest, self._box.seal(secrets))
            self._sealed[session.session_id] = cached
        return cached[1]

    def delete(self, session_id: str) -> None:
        """Forget a closed session (DELETE, eviction, invalid credentials, expiry) for good."""
        with self._lock:
            self._deleted.add(session_id)
            self._sealed.pop(session_id, None)
            try:
                self.store.delete(NAMESPACE, record_key(session_id))
            except StateError as exc:
                log.error("session record not deleted (%s); it is dropped at the next start if it cannot "
                          "be restored", exc)

    def load(self, session_id: str) -> StoredSession | None:
        """One stored session (another API instance may have written it), or None when there is
        no such record or its secrets do not open (logged)."""
        record = self.store.get(NAMESPACE, record_key(session_id))
        return None if record is None else self.open(record)

    def exists(self, session_id: str) -> bool:
        return self.store.get(NAMESPACE, record_key(session_id)) is not None

    def find(self, tenant: str, lookup_key: str) -> StoredSession | None:
        """The stored session of ``tenant`` whose credential lookup key is ``lookup_key`` (matched
        on the clear metadata: only the match is decrypted), or None."""
        for record in self.store.scan(NAMESPACE):
            if record.value.get("tenant") == tenant and record.value.get("lookup_key") == lookup_key:
                return self.open(record)
        return None

    def records(self) -> list[Record]:
        """Every session record as stored (clear metadata readable without decryption)."""
        return self.store.scan(NAMESPACE)

    def open(self, record: Record) -> StoredSession | None:
        """A record with its secrets opened; None (logged, the record left alone: it may belong to
        an instance that has the right key) when it cannot be read."""
        try:
            return decode(record.value, self._box)
        except UndecryptableSecret:
            log.warning("stored session %s cannot be decrypted with this STATE_ENCRYPTION_KEY (every instance "
                        "of a cluster needs the same key)", record.value.get("short_id", record.key[:8]))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("stored session %s unreadable (%s)", record.value.get("short_id", record.key[:8]),
                        type(exc).__name__)
        return None

    def load_all(self) -> list[StoredSession]:
        """Every stored session whose secrets open; the others are deleted with one warning each."""
        out: list[StoredSession] = []
        for record in self.store.scan(NAMESPACE):
            short = record.value.get("short_id", record.key[:8])
            try:
                out.append(decode(record.value, self._box))
            except UndecryptableSecret:
                log.warning("stored session %s (%s) dropped: its secrets cannot be decrypted with this "
                            "STATE_ENCRYPTION_KEY (wrong or lost key); the account must log in again",
                            short, record.value.get("username"))
                self.store.delete(NAMESPACE, record.key)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("stored session %s dropped: unreadable record (%s)", short, type(exc).__name__)
                self.store.delete(NAMESPACE, record.key)
        return out

    def count(self) -> int:
        return len(self.store.scan(NAMESPACE))
