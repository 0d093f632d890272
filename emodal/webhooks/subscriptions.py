"""Webhook subscriptions: a tenant's receiver URL, the event types it wants, its signing secret.

Record ``webhooks/<id>``: clear metadata (tenant, url, events, created_at, follow_redirects) and the
secret sealed under ``"sealed"`` (``emodal.state.sealed`` convention, so ``rotate-key`` re-seals it).
The secret is returned once, by ``create``; nothing else ever shows it.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from emodal.errors import InvalidField, NotFound
from emodal.state.crypto import SecretBox
from emodal.state.sealed import SEALED
from emodal.state.store import StateStore
from emodal.webhooks.guard import AddressGuard, BlockedDestination
from emodal.webhooks.signing import new_secret

NAMESPACE = "webhooks"

#: The event types a subscription can ask for (issue 12, "Webhooks").
EVENT_TYPES: tuple[str, ...] = (
    "container.changed", "container.available", "container.lfd_changed", "appointment.slots_opened",
    "job.succeeded", "job.failed", "schedule.paused", "session.needs_attention",
)
#: Sent to one subscription on request (``POST /webhooks/<id>/test``), whatever its event list.
TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant: str
    url: str
    events: tuple[str, ...]
    follow_redirects: bool
    created_at: float

    def view(self) -> dict[str, Any]:
        """What the API shows of a subscription (never the secret)."""
        return {"id": self.id, "url": self.url, "events": list(self.events),
                "follow_redirects": self.follow_redirects, "created_at": self.created_at}


class Subscriptions:
    """Create, list, read and delete subscriptions of a tenant; a foreign id is ``NotFound``."""

    def __init__(self, store: StateStore, box: SecretBox, guard: AddressGuard, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._store, self._box, self._guard, self._clock = store, box, guard, clock

    def create(self, tenant: str, url: str, events: Iterable[str], *,
               follow_redirects: bool = False) -> tuple[Subscription, str]:
        """A new subscription and its secret (``whsec_...``), the only time the secret is returned.

        ``InvalidField`` for a URL that is not http(s) or names a refused address literally, and
        for an empty or unknown event list. Host names are judged at every delivery (their
        addresses may change), so a name that resolves internally is refused then, visibly.
        """
        try:
            self._guard.check_url(url)
        except BlockedDestination as exc:
            raise InvalidField(f"url: {exc}", field="url") from None
        wanted = tuple(dict.fromkeys(events))
        unknown = [name for name in wanted if name not in EVENT_TYPES]
        if not wanted or unknown:
            raise InvalidField("events: a non-empty list of " + ", ".join(EVENT_TYPES), field="events",
                               available_options=list(EVENT_TYPES))
        secret = new_secret()
        subscription = Subscription(f"wh_{secrets.token_urlsafe(12)}", tenant, url, wanted, follow_redirects,
                                    self._clock())
        value = {"tenant": tenant, "url": url, "events": list(wanted), "follow_redirects": follow_redirects,
                 "created_at": subscription.created_at, SEALED: self._box.seal({"secret": secret})}
        self._store.put(NAMESPACE, subscription.id, value, expect_version=0)
        return subscription, secret

    def list(self, tenant: str | None) -> list[Subscription]:
        """The tenant's subscriptions, oldest first (``None``: every tenant's, for the operator console)."""
        subscriptions = [_subscription(r.key, r.value) for r in self._store.scan(NAMESPACE)]
        return sorted((s for s in subscriptions if tenant is None or s.tenant == tenant), key=lambda s: s.created_at)

    def get(self, tenant: str, subscription_id: str) -> Subscription:
        subscription = self.find(subscription_id)
        if subscription is None or subscription.tenant != tenant:
            raise NotFound("No such webhook")
        return subscription

    def find(self, subscription_id: str) -> Subscription | None:
        """Any tenant's subscription (the delivery worker), or ``None``."""
        record = self._store.get(NAMESPACE, subscription_id)
        return None if record is None else _subscription(record.key, record.value)

    def delete(self, tenant: str, subscription_id: str) -> None:
        """Remove the subscription; its pending deliveries are cancelled by the worker when due
        (there are no multi-record transactions to do both at once)."""
        self.get(tenant, subscription_id)
        self._store.delete(NAMESPACE, subscription_id)

    def matching(self, tenant: str, event_type: str) -> list[Subscription]:
        return [s for s in self.list(tenant) if event_type in s.events]

    def secret(self, subscription_id: str) -> str | None:
        """The signing secret, or ``None`` once the subscription is deleted."""
        record = self._store.get(NAMESPACE, subscription_id)
        return None if record is None else str(self._box.open(record.value[SEALED])["secret"])


def _subscription(key: str, value: dict[str, Any]) -> Subscription:
    return Subscription(key, value["tenant"], value["url"], tuple(value["events"]),
                        bool(value.get("follow_redirects")), value["created_at"])
