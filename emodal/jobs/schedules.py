"""Schedules: a job spec run ``every`` interval or on a cron text, and the scheduler thread.

Record ``schedules/<id>`` (clear): ``id, tenant, kind, every, every_s, cron, timezone, paused,
paused_reason, created_at, next_run, last_run_at, last_job_id, runs, base_url`` and ``sealed``
(the job spec: params, session id, credentials, as in a job record).

The scheduler is one tick loop per process: it waits (an ``Event`` wait, woken early when a
schedule changes) until the earliest due time, then fires each due schedule under a store lease
``schedule:<id>`` and re-reads the record under it, so with several instances on a shared store
only one of them creates the job; ``next_run`` is persisted by compare-and-set. A schedule whose
session is gone (deleted, or ``needs_attention``: its captcha key was refused) pauses itself and
emits ``schedule.paused`` instead of creating jobs that would fail.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from emodal.errors import NotFound
from emodal.jobs.events import SCHEDULE_PAUSED, EventSink, emit_safely
from emodal.jobs.store import Change, JobSpec, cas_update
from emodal.jobs.timing import next_run
from emodal.sessions.session import SessionState
from emodal.state.crypto import SecretBox
from emodal.state.sealed import SEALED
from emodal.state.store import StateStore

if TYPE_CHECKING:
    from emodal.jobs.service import JobService
    from emodal.sessions.protocol import Registry

log = logging.getLogger("emodal.jobs")

NAMESPACE = "schedules"
#: Longest wait of the tick loop, s: picks up schedules created by another instance.
MAX_WAIT_S = 60.0
#: Life of the lease taken while one schedule fires, s (firing is a few store writes).
LEASE_TTL_S = 60.0
SESSION_DELETED = "session_deleted"
SESSION_NEEDS_ATTENTION = "session_needs_attention"


def new_schedule_id(now: float) -> str:
    return f"sched_{int(now):08x}{secrets.token_hex(8)}"


class ScheduleStore:
    """Schedule records; changes by compare-and-set."""

    def __init__(self, store: StateStore, box: SecretBox, clock: Callable[[], float] = time.time) -> None:
        self._store, self._box, self._clock = store, box, clock

    def create(self, tenant: str, spec: JobSpec, *, every: str | None, every_s: int | None, cron: str | None,
               timezone: str, base_url: str) -> dict[str, Any]:
        now = self._clock()
        schedule = {"id": new_schedule_id(now), "tenant": tenant, "kind": spec.kind, "every": every,
                    "every_s": every_s, "cron": cron, "timezone": timezone, "paused": False, "paused_reason": None,
                    "created_at": now, "next_run": None, "last_run_at": None, "last_job_id": None, "runs": 0,
                    "base_url": base_url, SEALED: self._box.seal(spec.secrets())}
        schedule["next_run"] = due_after(schedule, now)
        self._store.put(NAMESPACE, schedule["id"], schedule, expect_version=0)
        return schedule

    def get(self, tenant: str | None, schedule_id: str) -> dict[str, Any]:
        """The schedule if ``tenant`` may see it (``None``: any); else 404."""
        record = self._store.get(NAMESPACE, schedule_id)
        if record is None or (tenant is not None and record.value["tenant"] != tenant):
            raise NotFound("Schedule not found", details={"schedule_id": schedule_id})
        return record.value

    def all(self, tenant: str | None = None) -> list[dict[str, Any]]:
        return [r.value for r in self._store.scan(NAMESPACE) if tenant is None or r.value["tenant"] == tenant]

    def spec(self, schedule: dict[str, Any]) -> JobSpec:
        return JobSpec.from_secrets(schedule["kind"], self._box.open(schedule[SEALED]))

    def update(self, schedule_id: str, change: Change) -> dict[str, Any] | None:
        return cas_update(self._store, NAMESPACE, schedule_id, change)

    def set_paused(self, tenant: str | None, schedule_id: str, paused: bool, reason: str | None = None) -> dict[str, Any]:
        """Pause, or resume with the next due time counted from now (runs missed while paused are
        not made up)."""
        self.get(tenant, schedule_id)
        now = self._clock()

        def change(schedule: dict[str, Any]) -> dict[str, Any]:
            updated = {**schedule, "paused": paused, "paused_reason": reason if paused else None}
            if not paused:
                updated["next_run"] = due_after(schedule, now)
            return updated

        updated = self.update(schedule_id, change)
        if updated is None:
            raise NotFound("Schedule not found", details={"schedule_id": schedule_id})
        return updated

    def delete(self, tenant: str | None, schedule_id: str) -> None:
        self.get(tenant, schedule_id)
        self._store.delete(NAMESPACE, schedule_id)

    def acquire(self, schedule_id: str, owner: str) -> bool:
        return self._store.acquire_lease(f"schedule:{schedule_id}", owner, LEASE_TTL_S)

    def release(self, schedule_id: str, owner: str) -> None:
        self._store.release_lease(f"schedule:{schedule_id}", owner)


def due_after(schedule: dict[str, Any], now: float) -> float:
    """The schedule's first due time after ``now`` (``every`` keeps the phase of its creation)."""
    return next_run(after=now, every_s=schedule["every_s"], anchor=schedule["created_at"], cron=schedule["cron"],
                    timezone=schedule["timezone"])


class Scheduler:
    """The tick loop: creates the jobs of due schedules through the :class:`JobService`."""

    def __init__(self, schedules: ScheduleStore, jobs: JobService, registry: Registry, events: EventSink, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.schedules, self._jobs, self._registry, self._events = schedules, jobs, registry, events
        self._clock = clock
        self._owner = f"scheduler-{secrets.token_hex(6)}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="emodal-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """A schedule was created or resumed: compute the next wait again."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive a store hiccup
                log.exception("scheduler tick failed")
                wait = MAX_WAIT_S
            self._wake.wait(wait)
            self._wake.clear()

    def tick(self) -> float:
        """Fire every due schedule; return the seconds until the next due one (at most MAX_WAIT_S)."""
        now = self._clock()
        upcoming = MAX_WAIT_S
        for schedule in self.schedules.all():
            if schedule["paused"]:
                continue
            if schedule["next_run"] <= now:
                self._fire(schedule["id"], now)
            else:
                upcoming = min(upcoming, schedule["next_run"] - now)
        return max(0.0, upcoming)

    def _fire(self, schedule_id: str, now: float) -> None:
        if not self.schedules.acquire(schedule_id, self._owner):
            return  # another instance fires it
        try:
            try:
                schedule = self.schedules.get(None, schedule_id)
            except NotFound:
                return  # deleted meanwhile
            if schedule["paused"] or schedule["next_run"] > now:
                return  # fired by another instance since we read it
            spec = self.schedules.spec(schedule)
            problem = self._session_problem(schedule["tenant"], spec)
            if problem is not None:
                self._pause(schedule, problem)
                return
            job = self._jobs.create(schedule["tenant"], spec, base_url=schedule["base_url"], schedule_id=schedule_id)
            self.schedules.update(schedule_id, lambda s: {**s, "next_run": due_after(s, now), "last_run_at": now,
                                                          "last_job_id": job["id"], "runs": s["runs"] + 1})
        finally:
            self.schedules.release(schedule_id, self._owner)

    def _session_problem(self, tenant: str, spec: JobSpec) -> str | None:
        """Why the schedule's session cannot run its job, or ``None``. Credentials can always log
        in again: only a schedule bound to a session id alone can lose its session."""
        if spec.session_id is None or spec.credentials is not None:
            return None
        session = self._registry.get(tenant, spec.session_id)
        if session is None:
            return SESSION_DELETED
        return SESSION_NEEDS_ATTENTION if session.state is SessionState.NEEDS_ATTENTION else None

    def _pause(self, schedule: dict[str, Any], reason: str) -> None:
        self.schedules.update(schedule["id"], lambda s: {**s, "paused": True, "paused_reason": reason})
        log.warning("schedule %s paused itself: %s", schedule["id"], reason)
        emit_safely(self._events, schedule["tenant"], SCHEDULE_PAUSED,
                    {"schedule_id": schedule["id"], "kind": schedule["kind"], "reason": reason})


__all__ = ["NAMESPACE", "SESSION_DELETED", "SESSION_NEEDS_ATTENTION", "ScheduleStore", "Scheduler", "due_after"]
