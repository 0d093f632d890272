"""Open appointment wizards: `appointment_session_id` records kept on the browser session.

Why: `/check_appointments` leaves the portal wizard at step 3 so that `/make_appointment` (or a
retry after a `missing_fields` error) can continue where it stopped instead of walking two
minutes of wizard again (API_SPEC 4.7 "Resume"). A record remembers which fields were applied
for each wizard phase, so a resume can tell whether the browser's current state still matches
the request (continue) or must be rebuilt from step 1 (replay).

Records live in ``BrowserSession.wizards`` (ARCHITECTURE.md), so they die with the session and
never reach the disk; the PIN stays in process memory only. Every record carries a float
``last_used`` that the refresher reads to leave sessions with a young wizard alone.

A restart does not bring a wizard back (its half-filled form lived in a browser tab): the session
journal keeps only a mark (:func:`wizard_mark`, a hash) of each open wizard with its expiry, and
:func:`check_not_lost` answers ``appointment_session_expired`` for such an id, instead of silently
starting a new wizard the client did not ask for.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, MutableMapping

from emodal.errors import AppointmentSessionExpired

#: Request fields applied in each wizard phase (1 = Add required data, 2 = Add move details).
#: Phase 3 choices (time/date) are made per call and never make a stored wizard stale.
PHASE_FIELDS: dict[int, tuple[str, ...]] = {
    1: ("container_type", "trucking_company", "terminal", "move_type", "container_id", "line",
        "equip_size", "booking_number"),
    2: ("truck_plate", "pin_code", "own_chassis", "unit_number", "seal_value", "seals"),
}
WIZARD_FIELDS: tuple[str, ...] = PHASE_FIELDS[1] + PHASE_FIELDS[2]


def new_appointment_session_id(now: float | None = None) -> str:
    """`appt_<unix seconds>_<token>`: >= 128 random bits, not derived from the session id (3.1)."""
    return f"appt_{int(time.time() if now is None else now)}_{secrets.token_urlsafe(16)}"


def wizard_mark(appointment_session_id: str) -> str:
    """What the session journal keeps of an open wizard's id: a hash (the id itself is a bearer
    token of the wizard and never stored)."""
    return hashlib.sha256(appointment_session_id.encode("utf-8")).hexdigest()[:32]


def check_not_lost(appointment_session_id: str | None, wizards: Mapping[str, Any],
                   lost: Mapping[str, float], now: float | None = None) -> None:
    """Raise ``AppointmentSessionExpired`` for the id of a wizard that was open when the service
    stopped (and would not have expired since); other ids go on as API_SPEC 4.7 says."""
    if not appointment_session_id or appointment_session_id in wizards:
        return
    expires_at = lost.get(wizard_mark(appointment_session_id))
    if expires_at is not None and (time.time() if now is None else now) < expires_at:
        raise AppointmentSessionExpired()


@dataclass
class WizardRecord:
    """One open wizard of one tenant in one browser session."""

    appointment_session_id: str
    tenant: str
    session_id: str
    fields: dict[str, Any]
    phase: int = 1
    #: Fields in force when each phase was completed (or attempted): the resume oracle.
    applied: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: What the portal showed after each choice (the response's `selected`).
    selected: dict[str, Any] = field(default_factory=dict)
    #: False once another wizard took over the browser's page: resuming must then replay.
    on_page: bool = True
    created_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)

    def touch(self, now: float | None = None) -> None:
        self.last_used = time.time() if now is None else now

    def expires_at(self, ttl: float) -> float:
        return self.last_used + ttl

    def expired(self, ttl: float, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at(ttl)

    def merged(self, new_fields: MutableMapping[str, Any]) -> dict[str, Any]:
        """Stored wizard fields overridden by the non-null fields of a new request."""
        out = dict(self.fields)
        out.update({k: v for k, v in new_fields.items() if k in WIZARD_FIELDS and v is not None})
        return out

    def first_stale_phase(self, fields: MutableMapping[str, Any]) -> int | None:
        """The first phase whose applied fields differ from ``fields`` (None: nothing changed).

        A phase never applied counts as stale from that phase on, so a wizard stopped at step 1
        for a missing Line/Equip Size resumes at phase 1.
        """
        for phase, names in PHASE_FIELDS.items():
            applied = self.applied.get(phase)
            if applied is None or any(applied.get(n) != fields.get(n) for n in names):
                return phase
        return None

    def record_phase(self, phase: int, fields: MutableMapping[str, Any]) -> None:
        """Remember that ``phase`` ran with ``fields`` and that the wizard now stands at ``phase + 1``."""
        self.applied[phase] = {n: fields.get(n) for n in PHASE_FIELDS.get(phase, ())}
        for later in [p for p in self.applied if p > phase]:
            del self.applied[later]
        self.phase = max(1, min(3, phase + 1))


class WizardStore:
    """Lookup and lifecycle of wizard records in one session's ``wizards`` dict.

    Unknown, expired and foreign ids all give ``None``: the caller then starts a new wizard
    (v1 behaviour, `resumed: false`). Expiry forgets the record; it never touches the browser.
    """

    def __init__(self, wizards: MutableMapping[str, Any], ttl: float) -> None:
        self._wizards = wizards
        self._ttl = ttl

    def purge_expired(self, now: float | None = None) -> int:
        stale = [k for k, r in list(self._wizards.items())
                 if isinstance(r, WizardRecord) and r.expired(self._ttl, now)]
        for key in stale:
            self._wizards.pop(key, None)
        return len(stale)

    def get(self, appointment_session_id: str | None, tenant: str, session_id: str,
            now: float | None = None) -> WizardRecord | None:
        self.purge_expired(now)
        if not appointment_session_id:
            return None
        record = self._wizards.get(appointment_session_id)
        if not isinstance(record, WizardRecord):
            return None
        if record.tenant != tenant or record.session_id != session_id:
            return None
        return record

    def create(self, tenant: str, session_id: str, fields: MutableMapping[str, Any],
               now: float | None = None) -> WizardRecord:
        """A fresh record that owns the browser's wizard page."""
        stamp = time.time() if now is None else now
        record = WizardRecord(
            appointment_session_id=new_appointment_session_id(stamp), tenant=tenant,
            session_id=session_id, fields={k: fields.get(k) for k in WIZARD_FIELDS},
            created_at=stamp, last_used=stamp)
        self._wizards[record.appointment_session_id] = record
        self.claim_page(record)
        return record

    def claim_page(self, record: WizardRecord) -> None:
        """Mark ``record`` as the wizard shown in the browser; the others can only be replayed.

        Why: one browser shows one wizard. Without this, resuming wizard A after wizard B was
        walked to the same step would continue on B's form.
        """
        for other in self.records():
            other.on_page = other is record

    def drop(self, appointment_session_id: str) -> None:
        self._wizards.pop(appointment_session_id, None)

    def records(self) -> Iterable[WizardRecord]:
        return [r for r in self._wizards.values() if isinstance(r, WizardRecord)]


__all__ = ["PHASE_FIELDS", "WIZARD_FIELDS", "WizardRecord", "WizardStore", "check_not_lost",
           "new_appointment_session_id", "wizard_mark"]
