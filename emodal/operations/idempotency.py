"""Idempotent booking: `Idempotency-Key` records of `/make_appointment` (API_SPEC 4.8).

Why: a client whose connection drops while the portal books cannot know whether the
appointment exists; retrying blindly could book twice. With a key, the first call writes a
record **before** clicking Submit (state ``submitting``) and completes it with the final status
and body afterwards; a retry with the same key and payload gets the stored answer and books
nothing. A record still ``submitting`` with no call running means the process died between
Submit and the answer: the outcome is unknown, so 409 and never a second Submit.

Records live in the state store (namespace ``idempotency``, never served), one per (tenant,
key), under a hash of both so a key never becomes part of a name in the store; their expiry is
the store's (``IDEMPOTENCY_TTL`` after the last write). Each write is one atomic, durable store
write, so a crash leaves either the old or the new record. The ``submitting`` record is created
with ``put_if_absent``: of two calls that both passed the check (two processes sharing a store,
later), only one may click Submit.

Nothing on disk may give a secret back (API_SPEC 2): the fingerprint covers the PIN, which has
only 10,000 values, so it is an HMAC keyed with a sub-key of ``SESSION_SECRET`` (a plain hash
would be reversed in a second), and stored bodies lose every secret field. Records carry the id
of the key that printed them: after a restart with another secret a print cannot be compared,
so such a record is never replayed (409 while ``submitting``, else 422).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from emodal.browser.bundles import redact
from emodal.errors import IdempotencyConflict, SessionBusy
from emodal.state.store import StateStore

#: Store namespace of the records.
NAMESPACE = "idempotency"
SUBMITTING = "submitting"
COMPLETED = "completed"

#: Request fields that define "the same booking" (a replay must be for the same thing): every
#: /make_appointment field but the session, debug and key fields. ``appointment_session_id`` is
#: one: a resumed booking sends little more than it, and another wizard is another booking.
FINGERPRINT_FIELDS: tuple[str, ...] = (
    "container_type", "trucking_company", "terminal", "move_type", "container_id", "line",
    "equip_size", "booking_number", "truck_plate", "own_chassis", "unit_number", "seal_value",
    "seals", "appointment_time", "appointment_date", "pin_code", "container_number",
    "appointment_session_id",
)
#: Labels of the sub-keys derived from SESSION_SECRET (one key, one purpose).
_PRINT_LABEL = b"emodal idempotency fingerprint v1"
_KEY_ID_LABEL = b"emodal idempotency key id v1"


@dataclass(frozen=True)
class Replay:
    """A stored final answer to send again."""

    status: int
    body: dict[str, Any]


class IdempotencyStore:
    """Records in the state store plus in-process tracking of calls that are still running."""

    def __init__(self, store: StateStore, ttl: float, wait_timeout: float, *, secret: bytes,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock``: the wall clock of record times and expiries (the store's, in tests)."""
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._wait_timeout = wait_timeout
        self._print_key = hmac.new(secret, _PRINT_LABEL, hashlib.sha256).digest()
        self._key_id = hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]
        self._cond = threading.Condition()
        self._running: set[str] = set()

    def booking_fingerprint(self, params: Mapping[str, Any]) -> str:
        """HMAC-SHA256 (server sub-key) of the booking fields in canonical JSON: "the same
        booking" for a replay, and nothing a copy of the store could reverse (the PIN is in it)."""
        subset = {name: params.get(name) for name in FINGERPRINT_FIELDS if params.get(name) is not None}
        canonical = json.dumps(subset, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(self._print_key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()

    # --- records -----------------------------------------------------------------------------------
    @staticmethod
    def record_key(tenant: str, key: str) -> str:
        """The store key of (tenant, key): a hash, so neither appears in the store."""
        return hashlib.sha256(f"{tenant}\0{key}".encode("utf-8")).hexdigest()

    def _read(self, name: str) -> dict[str, Any] | None:
        record = self._store.get(NAMESPACE, name)
        return None if record is None else record.value

    def _value(self, record: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """The stored value (with the print's ``key_id``) and its expiry."""
        return {**record, "key_id": self._key_id}, float(record["updated_at"]) + self._ttl

    # --- protocol ----------------------------------------------------------------------------------
    def check(self, tenant: str, key: str, print_: str, *, route: str = "") -> Replay | None:
        """Before the call runs: a :class:`Replay`, or ``None`` (no record: go ahead).

        ``None`` reserves the key for this call: the caller must end with :meth:`complete` or
        :meth:`release`. A record of another payload is 422; one still ``submitting`` waits while its call runs
        in this process (as for the session lock, then 409 ``session_busy``), and is 409
        ``idempotency_conflict`` when nothing is running (left by a crash). ``route`` names the
        caller's route in that 409's details.
        """
        token = self.record_key(tenant, key)
        deadline = time.monotonic() + self._wait_timeout
        with self._cond:
            while True:
                record = self._read(token)
                if record is not None:
                    replay = self._judge(record, print_, running=token in self._running,
                                         comparable=record.get("key_id") == self._key_id)
                    if replay is not None:
                        return replay
                elif token not in self._running:
                    # Reserve the key: a second call with it waits for this one to finish.
                    self._running.add(token)
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SessionBusy("A request with this Idempotency-Key is still running",
                                      details={"running_route": route})
                self._cond.wait(remaining)

    @staticmethod
    def _judge(record: Mapping[str, Any], print_: str, running: bool, comparable: bool) -> Replay | None:
        """A stored record's verdict: replay, conflict (raised), or ``None`` = wait for its call.

        ``comparable`` is false for a record printed with another secret (a restart without a
        fixed SESSION_SECRET): its payload cannot be checked, so it is never replayed.
        """
        if comparable and record.get("fingerprint") != print_:
            raise IdempotencyConflict("Idempotency-Key was already used with different booking fields",
                                      details={"reason": "fingerprint_mismatch"})
        if record.get("state") == COMPLETED:
            if not comparable:
                raise IdempotencyConflict("Idempotency-Key was already used before a restart with another "
                                          "SESSION_SECRET; its booking fields cannot be compared",
                                          details={"reason": "secret_changed"})
            return Replay(int(record["status"]), dict(record["body"]))
        if not running:
            raise IdempotencyConflict(
                "An earlier request with this Idempotency-Key was cut off after Submit; its outcome "
                "is unknown. Check /get_appointments before retrying with a new key.",
                status=409, details={"reason": "outcome_unknown"}, submitted=True, outcome="unknown")
        return None

    def begin(self, tenant: str, key: str, print_: str) -> None:
        """Create the ``submitting`` record; called right before the Submit click.

        Only if no record exists: a record that appeared since :meth:`check` belongs to another
        call with this key, and clicking Submit as well could book twice (409)."""
        now = self._clock()
        value, expires_at = self._value({"fingerprint": print_, "state": SUBMITTING, "created_at": now,
                                         "updated_at": now})
        with self._cond:
            if not self._store.put_if_absent(NAMESPACE, self.record_key(tenant, key), value, expires_at=expires_at):
                raise IdempotencyConflict("Another request with this Idempotency-Key is already submitting",
                                          status=409, details={"reason": "concurrent_submit"})

    def complete(self, tenant: str, key: str, print_: str, status: int, body: Mapping[str, Any]) -> None:
        """Store the final answer (without secret fields) and wake any request waiting for it."""
        name = self.record_key(tenant, key)
        now = self._clock()
        value, expires_at = self._value({"fingerprint": print_, "state": COMPLETED, "created_at": now,
                                         "updated_at": now, "status": int(status), "body": redact(dict(body))})
        with self._cond:
            try:
                self._store.put(NAMESPACE, name, value, expires_at=expires_at)
            finally:
                self._running.discard(name)
                self._cond.notify_all()

    def release(self, tenant: str, key: str) -> None:
        """End the reservation of a call that did not complete.

        Before Submit nothing was written, so the key is free again; after a Submit whose call
        died mid-way the record stays ``submitting`` and later calls get 409.
        """
        with self._cond:
            self._running.discard(self.record_key(tenant, key))
            self._cond.notify_all()


__all__ = ["COMPLETED", "FINGERPRINT_FIELDS", "IdempotencyStore", "Replay", "SUBMITTING"]
