"""The delivery worker: sends due outbox records, at least once, one sender per delivery at a time.

``tick()`` does one pass (every due delivery, oldest first) and is what tests call to step the
worker deterministically; ``start()`` runs passes on a thread every ``poll_interval`` seconds, or at
once after ``wake()`` (a new event, a console retry). Each delivery is sent under a store lease
named after it, so several service instances sharing a store (issue 11) never send the same
delivery concurrently; a process that dies mid-attempt loses its lease when it runs out and the
delivery is attempted again (at-least-once: receivers de-duplicate on ``webhook-id``).

Deliveries are sent one after the other: a dead receiver costs at most the attempt timeout per
due delivery per pass, and the back-off spaces those passes out.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable

from emodal.state.errors import StateError, VersionConflict
from emodal.state.store import StateStore
from emodal.webhooks.backoff import Backoff
from emodal.webhooks.outbox import Outbox, is_due
from emodal.webhooks.sender import MAX_REDIRECTS, Sender
from emodal.webhooks.signing import signed_headers
from emodal.webhooks.subscriptions import Subscriptions

log = logging.getLogger("emodal.webhooks")

#: Seconds between passes when nothing wakes the worker.
POLL_INTERVAL = 1.0


class DeliveryWorker:
    """``owner`` names this worker in the leases (default: a random id per instance)."""

    def __init__(self, store: StateStore, subscriptions: Subscriptions, outbox: Outbox, sender: Sender, *,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.time,
                 poll_interval: float = POLL_INTERVAL, owner: str | None = None) -> None:
        self._store, self._subscriptions, self._outbox, self._sender = store, subscriptions, outbox, sender
        self._backoff = backoff or Backoff(random.random)
        self._clock = clock
        self.poll_interval = poll_interval
        self.owner = owner or f"webhooks-{uuid.uuid4().hex[:12]}"
        # Longest an attempt can hold a delivery: connect + answer timeouts of every redirect hop.
        self._lease_ttl = (MAX_REDIRECTS + 1) * 2 * sender.timeout + 30
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one pass ----------------------------------------------------------------------------
    def tick(self) -> int:
        """Attempt every due delivery once; returns how many attempts were made."""
        attempts = 0
        for record in self._outbox.due(self._clock()):
            if self._stop.is_set():
                break
            attempts += self._attempt(record.key)
        return attempts

    def _attempt(self, delivery_id: str) -> int:
        lease = f"webhook_delivery:{delivery_id}"
        if not self._store.acquire_lease(lease, self.owner, self._lease_ttl):
            return 0  # another worker is sending it right now
        try:
            # Re-read under the lease: another worker may have finished it since the scan.
            record = self._outbox.get(delivery_id)
            if record is None or not is_due(record.value, self._clock()):
                return 0
            value = record.value
            subscription = self._subscriptions.find(value["subscription_id"])
            secret = self._subscriptions.secret(value["subscription_id"])
            if subscription is None or secret is None:
                self._outbox.cancel(record, "webhook deleted")
                return 0
            headers = signed_headers(secret, value["event_id"], self._clock(), value["body"])
            attempt = self._sender.send(subscription.url, value["body"], headers,
                                        follow_redirects=subscription.follow_redirects)
            try:
                status = self._outbox.record_attempt(record, attempt, self._backoff)
            except VersionConflict:
                log.info("webhook delivery %s changed during its attempt; outcome dropped", delivery_id)
                return 1
            number = value["attempts"] + 1
            if attempt.delivered:
                log.info("webhook %s delivered to %s (attempt %d)", value["event_id"], subscription.id, number)
            else:
                log.warning("webhook %s to %s attempt %d failed (%s): %s", value["event_id"], subscription.id,
                            number, attempt.error, "gave up" if status != "pending" else "will retry")
            return 1
        finally:
            self._store.release_lease(lease, self.owner)

    # --- thread ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="webhook-deliveries", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run a pass now (a new event or a console retry is waiting)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the attempt in flight (at most one attempt's timeout)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._sender.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except StateError:
                log.exception("webhook delivery pass failed; retrying in %s s", self.poll_interval)
            self._wake.wait(self.poll_interval)
            self._wake.clear()
