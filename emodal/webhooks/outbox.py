"""The durable outbox: one delivery record per (event, subscription), and its life.

Record ``webhook_deliveries/<event id>.<subscription id>``::

    status            pending -> delivered | failed | cancelled (subscription deleted)
    body              the exact JSON sent, fixed at emit time (every retry signs the same bytes)
    attempts, next_attempt_at, give_up_at, last_attempt_at, last_status_code, last_error, delivered_at

Why one record per subscription: the store has no multi-record transaction, so each delivery must
be self-contained; its state changes by compare-and-set, so a console "retry now" and the worker
never overwrite each other silently. The key is derived from the event id, so emitting the same
event id twice (a caller retrying after a crash) adds nothing. Finished records expire after
``RETENTION`` so the namespace does not grow for ever; pending ones never expire.

The body follows the Standard Webhooks payload shape: ``{"type", "timestamp", "data"}``; the event
id travels in the ``webhook-id`` header.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from emodal.errors import NotFound
from emodal.state.errors import VersionConflict
from emodal.state.store import Record, StateStore
from emodal.webhooks.backoff import Backoff
from emodal.webhooks.sender import Attempt
from emodal.webhooks.subscriptions import EVENT_TYPES, TEST_EVENT, Subscription, Subscriptions

NAMESPACE = "webhook_deliveries"
PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
#: How long a finished delivery stays listed, s.
RETENTION = 7 * 86400
#: Compare-and-set attempts of a console update racing the worker before giving up.
_CAS_TRIES = 5


def new_event_id(now: float) -> str:
    """``msg_`` + milliseconds (hex) + random: unique, and sorted by time when sorted as text."""
    return f"msg_{int(now * 1000):011x}{secrets.token_hex(8)}"


class Outbox:
    """Writes and updates delivery records; the ``DeliveryWorker`` sends them."""

    def __init__(self, store: StateStore, subscriptions: Subscriptions, *, retry_hours: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._store, self._subscriptions, self._clock = store, subscriptions, clock
        self.retry_window = retry_hours * 3600

    # --- writing -----------------------------------------------------------------------------
    def emit(self, tenant: str, event_type: str, data: dict[str, Any], *, event_id: str | None = None) -> str:
        """Queue ``event_type`` for every subscription of ``tenant`` that wants it; returns the event
        id (the ``webhook-id`` receivers de-duplicate on). Nothing is queued when nobody listens."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        return self._queue(tenant, event_type, data, self._subscriptions.matching(tenant, event_type), event_id)

    def send_test(self, tenant: str, subscription_id: str) -> str:
        """Queue a ``webhook.test`` event to one subscription (``NotFound`` if not the tenant's)."""
        subscription = self._subscriptions.get(tenant, subscription_id)
        return self._queue(tenant, TEST_EVENT, {"subscription_id": subscription.id}, [subscription], None)

    def _queue(self, tenant: str, event_type: str, data: dict[str, Any], subscriptions: list[Subscription],
               event_id: str | None) -> str:
        now = self._clock()
        event_id = event_id or new_event_id(now)
        body = json.dumps({"type": event_type, "timestamp": _iso(now), "data": data}, separators=(",", ":"))
        for subscription in subscriptions:
            self._store.put_if_absent(NAMESPACE, f"{event_id}.{subscription.id}", {
                "tenant": tenant, "subscription_id": subscription.id, "event_id": event_id,
                "event_type": event_type, "body": body, "status": PENDING, "attempts": 0,
                "created_at": now, "next_attempt_at": now, "give_up_at": now + self.retry_window,
                "last_attempt_at": None, "last_status_code": None, "last_error": None, "delivered_at": None})
        return event_id

    def record_attempt(self, record: Record, attempt: Attempt, backoff: Backoff) -> str:
        """Store the outcome of an attempt made at the clock's now; returns the new status.
        ``VersionConflict`` if the record changed meanwhile (the caller drops this outcome)."""
        now = self._clock()
        value = {**record.value, "attempts": record.value["attempts"] + 1, "last_attempt_at": now,
                 "last_status_code": attempt.status_code, "last_error": attempt.error}
        if attempt.delivered:
            value.update(status=DELIVERED, delivered_at=now, next_attempt_at=None)
        else:
            retry_at = backoff.next_attempt(value["attempts"], now, value["give_up_at"])
            value.update(status=PENDING if retry_at is not None else FAILED, next_attempt_at=retry_at)
        self._write(record, value)
        return str(value["status"])

    def cancel(self, record: Record, reason: str) -> None:
        self._write(record, {**record.value, "status": CANCELLED, "next_attempt_at": None, "last_error": reason})

    def _write(self, record: Record, value: dict[str, Any]) -> None:
        finished = value["status"] != PENDING
        self._store.put(NAMESPACE, record.key, value, expect_version=record.version,
                        expires_at=self._clock() + RETENTION if finished else None)

    def retry_now(self, tenant: str | None, delivery_id: str) -> dict[str, Any]:
        """Make a delivery due at once (console; ``tenant`` None: an admin, any tenant's). A finished
        one (failed, delivered, cancelled) gets exactly one more attempt: its retry window is reset to now."""
        for _ in range(_CAS_TRIES):
            record = self._own(tenant, delivery_id)
            now = self._clock()
            value = {**record.value, "next_attempt_at": now}
            if value["status"] != PENDING:
                value.update(status=PENDING, give_up_at=now)
            try:
                self._write(record, value)
            except VersionConflict:
                continue  # the worker finished an attempt meanwhile: apply to its result
            return delivery_view(record.key, value)
        raise VersionConflict(NAMESPACE, delivery_id, record.version, None)

    # --- reading -----------------------------------------------------------------------------
    def deliveries(self, tenant: str, subscription_id: str) -> list[dict[str, Any]]:
        """The subscription's deliveries, newest first (``NotFound`` if not the tenant's webhook)."""
        self._subscriptions.get(tenant, subscription_id)
        records = [r for r in self._store.scan(NAMESPACE)
                   if r.value["subscription_id"] == subscription_id and r.value["tenant"] == tenant]
        records.sort(key=lambda r: r.value["created_at"], reverse=True)
        return [delivery_view(r.key, r.value) for r in records]

    def unsettled(self, tenant: str | None) -> list[dict[str, Any]]:
        """Deliveries still pending or given up (``failed``) of ``tenant`` (``None``: every tenant),
        newest first, each with its ``tenant``: what the operator console lists across webhooks."""
        records = [r for r in self._store.scan(NAMESPACE) if r.value["status"] in (PENDING, FAILED)
                   and (tenant is None or r.value["tenant"] == tenant)]
        records.sort(key=lambda r: r.value["created_at"], reverse=True)
        return [{**delivery_view(r.key, r.value), "tenant": r.value["tenant"]} for r in records]

    def get(self, delivery_id: str) -> Record | None:
        return self._store.get(NAMESPACE, delivery_id)

    def due(self, now: float) -> list[Record]:
        """Pending deliveries whose next attempt is due, the oldest due first."""
        records = [r for r in self._store.scan(NAMESPACE) if is_due(r.value, now)]
        return sorted(records, key=lambda r: r.value["next_attempt_at"])

    def _own(self, tenant: str | None, delivery_id: str) -> Record:
        record = self._store.get(NAMESPACE, delivery_id)
        if record is None or (tenant is not None and record.value["tenant"] != tenant):
            raise NotFound("No such delivery")
        return record


def is_due(value: dict[str, Any], now: float) -> bool:
    return value["status"] == PENDING and value["next_attempt_at"] is not None and value["next_attempt_at"] <= now


def delivery_view(delivery_id: str, value: dict[str, Any]) -> dict[str, Any]:
    """What the API and the console show of a delivery (no body, no tenant)."""
    keys = ("subscription_id", "event_id", "event_type", "status", "attempts", "created_at", "last_attempt_at",
            "last_status_code", "last_error", "delivered_at")
    return {"id": delivery_id, **{k: value[k] for k in keys}, "next_retry_at": value["next_attempt_at"],
            "give_up_at": value["give_up_at"]}


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
