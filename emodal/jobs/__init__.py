"""Jobs and schedules (issue 12 sections 1-2): long work off the request, run by the service.

No Flask here. ``store`` (job records and result rows), ``kinds`` (what each kind plans and
returns), ``service`` (the API's side and the worker pool), ``timing`` + ``schedules`` (when
schedules run; the scheduler thread), ``events`` (the event sink jobs report to). See
docs/JOBS_AND_WEBHOOKS.md and docs/ARCHITECTURE.md.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emodal.jobs.events import EventSink, StoreEventSink
from emodal.jobs.schedules import Scheduler, ScheduleStore
from emodal.jobs.service import JobService
from emodal.jobs.store import JobSpec, JobStore

if TYPE_CHECKING:
    from emodal.config import Settings
    from emodal.operations.runner import OperationRunner
    from emodal.sessions.protocol import Registry
    from emodal.state.service import ServiceState


@dataclass(frozen=True)
class Jobs:
    """The jobs runtime of one app: ``start`` with the lifecycle; at shutdown ``stop`` (before the
    sessions close: workers stop after their current item) then ``join`` (before the store closes)."""

    service: JobService
    schedules: ScheduleStore
    scheduler: Scheduler
    events: EventSink

    def start(self) -> None:
        self.service.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.service.stop()

    def join(self) -> None:
        self.service.join()


def build_jobs(settings: Settings, state: ServiceState, registry: Registry,
               runner: Callable[[], OperationRunner], events: EventSink | None = None) -> Jobs:
    """Wire the jobs runtime over the app's store; ``events`` defaults to the store-backed sink."""
    sink = events if events is not None else StoreEventSink(state.store)
    service = JobService(JobStore(state.store, state.box, retention_s=settings.job_retention_hours * 3600),
                         runner, sink, workers=settings.job_workers, display_timezone=settings.display_timezone,
                         instance_id=settings.instance_id or "local", scan_interval=settings.job_scan_interval)
    schedules = ScheduleStore(state.store, state.box)
    return Jobs(service, schedules, Scheduler(schedules, service, registry, sink), sink)


__all__ = ["EventSink", "JobSpec", "Jobs", "StoreEventSink", "build_jobs"]
