"""Signed webhooks (issue 12): subscriptions, a durable outbox in the state store, a delivery worker.

No Flask here: the routes (``/webhooks``) and the event sources (watches, jobs, sessions) call
``Subscriptions``, ``Outbox.emit`` and run one ``DeliveryWorker``. Wiring, for a ``StateStore`` and
the ``SecretBox`` of the state::

    guard = AddressGuard(settings.webhook_allow_private)
    subscriptions = Subscriptions(store, box, guard)
    outbox = Outbox(store, subscriptions, retry_hours=settings.webhook_retry_hours)
    worker = DeliveryWorker(store, subscriptions, outbox, Sender(guard)); worker.start()

Format, headers, retries and safety: docs/JOBS_AND_WEBHOOKS.md.
"""
from __future__ import annotations

from emodal.webhooks.backoff import Backoff
from emodal.webhooks.guard import AddressGuard, BlockedDestination
from emodal.webhooks.outbox import CANCELLED, DELIVERED, FAILED, PENDING, Outbox
from emodal.webhooks.sender import Attempt, Sender
from emodal.webhooks.subscriptions import EVENT_TYPES, TEST_EVENT, Subscription, Subscriptions
from emodal.webhooks.worker import DeliveryWorker

__all__ = [
    "CANCELLED", "DELIVERED", "EVENT_TYPES", "FAILED", "PENDING", "TEST_EVENT", "AddressGuard", "Attempt",
    "Backoff", "BlockedDestination", "DeliveryWorker", "Outbox", "Sender", "Subscription", "Subscriptions",
]
