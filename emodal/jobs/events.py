"""Where jobs and schedules report what happened: the event sink.

Why a protocol of one method: the signed-webhook outbox (``emodal/webhooks``) is built in
parallel and plugged in by ``create_app`` later; jobs only need to say "this happened to this
tenant". Until then :class:`StoreEventSink` keeps every event as a record in the state store
(namespace ``events``), so nothing emitted before the outbox exists is lost: the outbox can pick
them up, and tests read them.

Event types emitted here: ``job.succeeded``, ``job.failed`` (a job finished) and
``schedule.paused`` (a schedule paused itself because its session is gone).
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from emodal.state.store import StateStore

log = logging.getLogger("emodal.jobs")

NAMESPACE = "events"
JOB_SUCCEEDED = "job.succeeded"
JOB_FAILED = "job.failed"
SCHEDULE_PAUSED = "schedule.paused"


class EventSink(Protocol):
    """Receives the events of one tenant (the webhook outbox's ``emit`` has this shape)."""

    def emit(self, tenant: str, event_type: str, data: dict[str, Any]) -> str:
        """Record or queue the event; returns its id."""


def new_event_id(now: float) -> str:
    """``evt_`` + milliseconds (hex) + random: unique, and in time order when sorted as text."""
    return f"evt_{int(now * 1000):011x}{secrets.token_hex(6)}"


class StoreEventSink:
    """Keeps each event as a record ``events/<event id>`` ``{tenant, type, data, created_at}``."""

    def __init__(self, store: StateStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def emit(self, tenant: str, event_type: str, data: dict[str, Any]) -> str:
        now = self._clock()
        event_id = new_event_id(now)
        self._store.put(NAMESPACE, event_id, {"id": event_id, "tenant": tenant, "type": event_type,
                                              "data": data, "created_at": now})
        return event_id

    def events(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """The recorded events (``tenant``: only its own), oldest first."""
        return [r.value for r in self._store.scan(NAMESPACE) if tenant is None or r.value["tenant"] == tenant]


def emit_safely(sink: EventSink, tenant: str, event_type: str, data: dict[str, Any]) -> None:
    """Emit without letting a failing sink break the job or the scheduler that reports."""
    try:
        sink.emit(tenant, event_type, data)
    except Exception:  # noqa: BLE001 - an event is a report; the work it reports on is already done
        log.exception("could not emit %s", event_type)


__all__ = ["JOB_FAILED", "JOB_SUCCEEDED", "NAMESPACE", "SCHEDULE_PAUSED", "EventSink", "StoreEventSink",
           "emit_safely"]
