"""Container watches (issue 12 section 3): watched grid fields re-read on the session's refresh
ticks, changes turned into events (no Flask here).

``diff`` (pure: readings and the events a change makes), ``store`` (watch records and their
events in the state store), ``hook`` (the pass the refresher runs under the session lock).
See docs/JOBS_AND_WEBHOOKS.md "Watches".
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from emodal.watches.hook import WatchHook
from emodal.watches.store import WatchStore

if TYPE_CHECKING:
    from emodal.config import Settings
    from emodal.jobs.events import EventSink
    from emodal.operations.runner import OperationRunner
    from emodal.state.service import ServiceState


def build_watches(settings: Settings, state: ServiceState, runner: Callable[[], OperationRunner],
                  events: EventSink) -> WatchHook:
    """The watch hook over the app's store; ``create_app`` hands it to the refresher."""
    store = WatchStore(state.store, state.box, event_retention=settings.watch_event_retention_hours * 3600)
    return WatchHook(store, runner, events, interval=settings.watch_interval)


__all__ = ["WatchHook", "WatchStore", "build_watches"]
