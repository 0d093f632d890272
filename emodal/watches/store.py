"""Watch records and their events in the state store.

Record ``watches/<watch id>`` (clear): ``id, tenant, session_key`` (the session journal's hash of
the session id: the refresher's hook finds a session's watches without opening anything),
``fields, containers`` (a list or ``"all"``), ``created_at, last_attempt_at, last_checked_at,
last_error, base_url, seen`` (the last reading per container, see ``watches/diff.py``) and
``sealed``: ``{session_id, check_appointments}`` (a full session id is a bearer secret; a check may
carry a PIN). Events: ``watch_events/<watch id>.<ms>.<seq>`` (in the order emitted), deleted
with the watch, or ``WATCH_EVENT_RETENTION_HOURS`` after they happened (a watch can run for months;
its history must not grow without end). Both survive restarts; a watch lives until it is deleted.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from emodal.jobs.store import Change, cas_update
from emodal.sessions.journal import record_key
from emodal.state.crypto import SecretBox
from emodal.state.sealed import SEALED
from emodal.state.store import StateStore

NAMESPACE = "watches"
EVENTS_NAMESPACE = "watch_events"


def new_watch_id(now: float) -> str:
    """``watch_`` + seconds (hex) + random: unguessable and in creation order when sorted as text."""
    return f"watch_{int(now):08x}{secrets.token_hex(8)}"


class WatchStore:
    def __init__(self, store: StateStore, box: SecretBox, clock: Callable[[], float] = time.time, *,
                 event_retention: float = 7 * 86400) -> None:
        self._store, self._box, self._clock = store, box, clock
        self._event_retention = event_retention

    def create(self, tenant: str, session_id: str, fields: list[str], containers: list[str] | str,
               check_appointments: dict[str, Any] | None, *, base_url: str) -> dict[str, Any]:
        now = self._clock()
        watch = {"id": new_watch_id(now), "tenant": tenant, "session_key": record_key(session_id),
                 "fields": fields, "containers": containers, "created_at": now, "last_attempt_at": None,
                 "last_checked_at": None, "last_error": None, "base_url": base_url, "seen": {},
                 SEALED: self._box.seal({"session_id": session_id, "check_appointments": check_appointments})}
        self._store.put(NAMESPACE, watch["id"], watch, expect_version=0)
        return watch

    def get(self, watch_id: str) -> dict[str, Any] | None:
        record = self._store.get(NAMESPACE, watch_id)
        return None if record is None else record.value

    def all(self) -> list[dict[str, Any]]:
        """Every watch, oldest first."""
        return [r.value for r in self._store.scan(NAMESPACE)]

    def of_session(self, tenant: str, session_id: str) -> list[dict[str, Any]]:
        key = record_key(session_id)
        return [w for w in self.all() if w["session_key"] == key and w["tenant"] == tenant]

    def check_appointments(self, watch: dict[str, Any]) -> dict[str, Any] | None:
        return self._box.open(watch[SEALED])["check_appointments"]

    def update(self, watch_id: str, change: Change) -> dict[str, Any] | None:
        return cas_update(self._store, NAMESPACE, watch_id, change)

    def delete(self, watch_id: str) -> bool:
        for record in self._events(watch_id):
            self._store.delete(EVENTS_NAMESPACE, record.key)
        return self._store.delete(NAMESPACE, watch_id)

    def add_event(self, watch_id: str, event: dict[str, Any], seq: int) -> None:
        """Keyed by time and ``seq`` (the event's place in its pass): events of one millisecond keep
        their order, which event ids alone (time + random) would not."""
        key = f"{watch_id}.{int(event['created_at'] * 1000):013x}.{seq:05d}"
        # The store expires records on its own (wall) clock, not on the injectable one.
        self._store.put(EVENTS_NAMESPACE, key, event, expires_at=time.time() + self._event_retention)

    def events(self, watch_id: str) -> list[dict[str, Any]]:
        """The watch's events, oldest first."""
        return [r.value for r in self._events(watch_id)]

    def _events(self, watch_id: str) -> list[Any]:
        prefix = f"{watch_id}."
        return [r for r in self._store.scan(EVENTS_NAMESPACE) if r.key.startswith(prefix)]


__all__ = ["EVENTS_NAMESPACE", "NAMESPACE", "WatchStore"]
