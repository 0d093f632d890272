"""Job records and their result rows in the state store.

Why two namespaces: a job's clear metadata (status, progress, the plan of items) is read by every
``GET /jobs`` and changed by compare-and-set from two sides (the worker between items, a
``DELETE`` at any time); its result rows are written once per item and only read for
``/result``. Keying rows by item index (``job_rows/<job id>.<index>``) is what makes a resumed job
produce every row exactly once: re-running an item after a crash overwrites its own row, and an
item whose row exists is skipped.

Record ``jobs/<job id>`` (clear): ``id, tenant, kind, status, created_at, started_at, finished_at,
progress {done, total, current}, error, items (the plan, null until planned), base_url,
schedule_id`` and ``sealed``: ``{params, session_id, credentials}``. Everything a caller sent is
sealed (a full session id, credentials, a PIN inside a check are secrets; the rest rides along so
one token holds the input). Row records are sealed whole: they carry screenshot URLs, whose path
names the session.

A finished job (record and rows) expires ``JOB_RETENTION_HOURS`` after it finished.

Who runs a job: the holder of the store lease ``job:<id>`` (:meth:`JobStore.hold`), taken for the
whole run and renewed meanwhile, so of several workers or API instances sharing the store one
runs it; a killed holder's lease runs out within :data:`LEASE_TTL_S` and the job is free again.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emodal.operations.runner import SessionRef
from emodal.sessions.credentials import Credentials
from emodal.state.crypto import SecretBox
from emodal.state.errors import VersionConflict
from emodal.state.lease import HeldLease, take_lease
from emodal.state.sealed import SEALED
from emodal.state.store import StateStore

NAMESPACE = "jobs"
ROWS_NAMESPACE = "job_rows"
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
#: Life of a job's lease after its last renewal, s: how long a killed instance keeps its jobs waiting.
LEASE_TTL_S = 30.0
#: Compare-and-set rounds before an update gives up (two writers at most: worker and DELETE).
_CAS_TRIES = 10
#: ``change(value) -> new value or None`` of a compare-and-set update.
Change = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True)
class JobSpec:
    """What to run: the kind, its validated params, and the session (an id, credentials, or both)."""

    kind: str
    params: dict[str, Any]
    session_id: str | None = None
    credentials: Credentials | None = None

    def ref(self) -> SessionRef:
        return SessionRef(self.session_id, self.credentials)

    def secrets(self) -> dict[str, Any]:
        """The part sealed in a record."""
        creds = self.credentials
        return {"params": self.params, "session_id": self.session_id,
                "credentials": None if creds is None else
                {"username": creds.username, "password": creds.password, "captcha_api_key": creds.captcha_api_key}}

    @classmethod
    def from_secrets(cls, kind: str, opened: dict[str, Any]) -> JobSpec:
        creds = opened.get("credentials")
        return cls(kind, dict(opened["params"]), opened.get("session_id"),
                   Credentials(**creds) if creds else None)


def new_job_id(now: float) -> str:
    """``job_`` + seconds (hex) + random: unguessable and in creation order when sorted as text."""
    return f"job_{int(now):08x}{secrets.token_hex(8)}"


class JobStore:
    """Reads and writes job records and rows; every change is a compare-and-set."""

    def __init__(self, store: StateStore, box: SecretBox, *, retention_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._store, self._box, self._clock = store, box, clock
        self.retention_s = retention_s

    # --- jobs ------------------------------------------------------------------------------------
    def create(self, tenant: str, spec: JobSpec, *, base_url: str, schedule_id: str | None = None) -> dict[str, Any]:
        now = self._clock()
        job = {"id": new_job_id(now), "tenant": tenant, "kind": spec.kind, "status": QUEUED, "created_at": now,
               "started_at": None, "finished_at": None, "progress": {"done": 0, "total": None, "current": None},
               "error": None, "items": None, "base_url": base_url, "schedule_id": schedule_id,
               SEALED: self._box.seal(spec.secrets())}
        self._store.put(NAMESPACE, job["id"], job, expect_version=0)
        return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        record = self._store.get(NAMESPACE, job_id)
        return None if record is None else record.value

    def all(self) -> list[dict[str, Any]]:
        """Every job, oldest first (ids sort by creation time)."""
        return [r.value for r in self._store.scan(NAMESPACE)]

    def spec(self, job: dict[str, Any]) -> JobSpec:
        return JobSpec.from_secrets(job["kind"], self._box.open(job[SEALED]))

    def update(self, job_id: str, change: Change) -> dict[str, Any] | None:
        """Apply ``change`` to the job by compare-and-set (see :func:`cas_update`); a finished job
        starts its retention period."""
        return cas_update(self._store, NAMESPACE, job_id, change,
                          lambda job: self._clock() + self.retention_s if job["status"] in FINISHED else None)

    def now(self) -> float:
        return self._clock()

    def hold(self, job_id: str, owner: str) -> HeldLease | None:
        """The job's lease (one try), renewed until released; ``None`` while another worker, of
        this instance or another, holds it."""
        return take_lease(self._store, f"job:{job_id}", owner, LEASE_TTL_S, 0)

    # --- rows ------------------------------------------------------------------------------------
    def put_rows(self, job_id: str, index: int, rows: list[dict[str, Any]]) -> None:
        """The rows of item ``index`` (written again when the item ran again: never twice)."""
        self._store.put(ROWS_NAMESPACE, _row_key(job_id, index), {SEALED: self._box.seal({"rows": rows})},
                        expires_at=self._clock() + self.retention_s)

    def has_rows(self, job_id: str, index: int) -> bool:
        return self._store.get(ROWS_NAMESPACE, _row_key(job_id, index)) is not None

    def rows(self, job_id: str, total: int) -> list[dict[str, Any]]:
        """Every stored row of the job's ``total`` items, in item order."""
        out: list[dict[str, Any]] = []
        for index in range(total):
            record = self._store.get(ROWS_NAMESPACE, _row_key(job_id, index))
            if record is not None:
                out.extend(self._box.open(record.value[SEALED])["rows"])
        return out


def cas_update(store: StateStore, namespace: str, key: str, change: Change,
               expires_at: Callable[[dict[str, Any]], float | None] = lambda value: None) -> dict[str, Any] | None:
    """Apply ``change(value) -> new value`` (``None``: leave it) by compare-and-set, again on a
    conflict; returns the value as stored afterwards, ``None`` when the record does not exist.
    ``expires_at(new value)``: the record's new expiry."""
    for _ in range(_CAS_TRIES):
        record = store.get(namespace, key)
        if record is None:
            return None
        new = change(dict(record.value))
        if new is None:
            return record.value
        try:
            store.put(namespace, key, new, expect_version=record.version, expires_at=expires_at(new))
        except VersionConflict:
            continue
        return new
    raise VersionConflict(f"{namespace}/{key} kept changing under {_CAS_TRIES} updates")


def _row_key(job_id: str, index: int) -> str:
    return f"{job_id}.{index:06d}"


__all__ = ["CANCELLED", "FAILED", "FINISHED", "LEASE_TTL_S", "NAMESPACE", "QUEUED", "ROWS_NAMESPACE", "RUNNING", "STATUSES",
           "SUCCEEDED", "Change", "JobSpec", "JobStore", "cas_update"]
