"""The webhooks runtime of one app: subscriptions, outbox and delivery worker over the app's store,
and the event sink that feeds the outbox.

Why a sink that records *and* queues: the jobs' default sink (``StoreEventSink``) keeps every event
in the store's ``events`` namespace whether or not anyone subscribed; the outbox only queues
deliveries for the subscriptions that exist when the event happens. Recording first, then queueing
with the recorded event id, keeps that history and makes the ``webhook-id`` of a delivery the id
of the recorded event, so receivers and the event record name the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emodal.jobs.events import StoreEventSink, emit_safely
from emodal.sessions.session import SessionState
from emodal.webhooks.guard import AddressGuard
from emodal.webhooks.outbox import Outbox
from emodal.webhooks.sender import Sender
from emodal.webhooks.subscriptions import Subscriptions
from emodal.webhooks.worker import DeliveryWorker

if TYPE_CHECKING:
    from emodal.config import Settings
    from emodal.sessions.session import BrowserSession
    from emodal.state.service import ServiceState

SESSION_NEEDS_ATTENTION = "session.needs_attention"


class OutboxEventSink:
    """An ``EventSink`` (emodal/jobs/events.py) that records the event, queues it for the tenant's
    subscriptions and wakes the worker so the delivery goes out at once."""

    def __init__(self, record: StoreEventSink, outbox: Outbox, worker: DeliveryWorker) -> None:
        self._record, self._outbox, self._worker = record, outbox, worker

    def emit(self, tenant: str, event_type: str, data: dict[str, Any]) -> str:
        event_id = self._record.emit(tenant, event_type, data)
        self._outbox.emit(tenant, event_type, data, event_id=event_id)
        self._worker.wake()
        return event_id


@dataclass(frozen=True)
class Webhooks:
    """``start`` with the lifecycle; ``stop`` before the store closes (an attempt in flight ends first)."""

    subscriptions: Subscriptions
    outbox: Outbox
    worker: DeliveryWorker
    events: OutboxEventSink

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def session_needs_attention(self, session: BrowserSession) -> None:
        """Registry callback: a session can no longer log in by itself: its captcha key was refused
        (invalid, out of funds: state ``needs_attention``) or its password was (the session is
        closed: state ``closed``). The event names the session by its short id: the delivery body
        is stored in clear and a full session id is a bearer secret."""
        state = "closed" if session.state is SessionState.CLOSING else "needs_attention"
        emit_safely(self.events, session.tenant, SESSION_NEEDS_ATTENTION, {
            "session": session.short_id, "username": session.username, "state": state,
            "error_type": getattr(session.attention_error, "error_type", None)})


def build_webhooks(settings: Settings, state: ServiceState) -> Webhooks:
    guard = AddressGuard(settings.webhook_allow_private)
    subscriptions = Subscriptions(state.store, state.box, guard)
    outbox = Outbox(state.store, subscriptions, retry_hours=settings.webhook_retry_hours)
    worker = DeliveryWorker(state.store, subscriptions, outbox, Sender(guard))
    return Webhooks(subscriptions, outbox, worker, OutboxEventSink(StoreEventSink(state.store), outbox, worker))


__all__ = ["SESSION_NEEDS_ATTENTION", "OutboxEventSink", "Webhooks", "build_webhooks"]
