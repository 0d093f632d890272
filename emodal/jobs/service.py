"""The jobs service: create, read, cancel jobs, and the worker pool that runs them.

Why a job is a sequence of runner calls: each item (one container, one check) is one
``OperationRunner.run`` under the job's session, exactly as a request would run it (same
per-session lock, probe, re-login and one retry when the portal login lapsed, failure
screenshots), and the lock is released between items, so an interactive call on that session
waits at most one item's work. After each item its rows are stored and the progress advanced; a
job found ``running`` without a holder (killed process, shutdown mid-job) is queued again and
skips the items whose rows exist, so each row is produced exactly once.

Who runs a job: the worker holding its store lease ``job:<id>`` for the whole run (renewed
meanwhile, released at the end; see :meth:`JobStore.hold`). Several API instances share the store
(issue 11): every instance scans it every ``JOB_SCAN_INTERVAL`` for jobs ``queued`` or ``running``
and queues them; a worker whose lease is taken elsewhere skips the job. So a job created on one
instance may run on any, and a job whose instance died is resumed by another once its lease ran
out. A holder that lost its lease (stalled past the ttl) stores nothing more and stops.

Failures: an item's error becomes its row's ``error`` and the job goes on. The job itself fails
(``job.failed``) when planning fails, or when the session cannot be used at all (gone, invalid
credentials, captcha key refused, no capacity): every further item would fail the same way.
During shutdown an item cut short is neither recorded nor failed: it runs again at the next start.

Threads: ``JOB_WORKERS`` workers wait on one in-process queue (``queue.Queue``, explicit waits),
fed by ``create`` and by the scanner thread (an ``Event`` wait between scans). Claiming a job is
taking its lease, then a compare-and-set ``queued -> running`` on its record.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from emodal.errors import (ApiError, CaptchaError, CapacityExhausted, InternalError, InvalidCredentials, NotFound,
                           RecaptchaFailed, SessionNotFound)
from emodal.jobs.events import JOB_FAILED, JOB_SUCCEEDED, EventSink, emit_safely
from emodal.jobs.kinds import KINDS, Kind
from emodal.jobs.store import (CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED, JobSpec, JobStore)
from emodal.operations.runner import Operation, OperationRunner
from emodal.state.lease import HeldLease, lease_owner

log = logging.getLogger("emodal.jobs")

#: Errors of the session itself: the job fails instead of recording the same error in every row.
SESSION_ERRORS = (SessionNotFound, InvalidCredentials, RecaptchaFailed, CaptchaError, CapacityExhausted)
#: How long ``join`` waits for the workers at shutdown, s.
JOIN_S = 15
#: Default seconds between two scans of the store for jobs without a running worker.
SCAN_INTERVAL_S = 15.0


class JobService:
    """Jobs of every tenant; ``start`` the workers, ``stop`` + ``join`` at shutdown."""

    def __init__(self, jobs: JobStore, runner: Callable[[], OperationRunner], events: EventSink, *,
                 workers: int, display_timezone: str = "UTC", instance_id: str = "local",
                 scan_interval: float = SCAN_INTERVAL_S) -> None:
        self.jobs = jobs
        self._runner = runner
        self._events = events
        self._zone = ZoneInfo(display_timezone)
        self._instance_id = instance_id
        self._scan_interval = scan_interval
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._queued: set[str] = set()
        self._queued_lock = threading.Lock()
        self._stopping = threading.Event()
        self._workers = [threading.Thread(target=self._work, name=f"emodal-job-{n + 1}", daemon=True)
                         for n in range(workers)]
        self._scanner = threading.Thread(target=self._scan_loop, name="emodal-job-scan", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers and the scanner, whose first scan queues at once the jobs an earlier
        run left queued or running (resumed after their last stored item)."""
        for thread in self._workers:
            thread.start()
        self._scanner.start()

    def stop(self) -> None:
        """Workers stop after their current item (the job stays ``running`` and its lease is
        given back: this or another instance resumes it); does not wait."""
        self._stopping.set()
        for _ in self._workers:
            self._queue.put(None)

    def join(self, timeout: float = JOIN_S) -> None:
        for thread in (*self._workers, self._scanner):
            if thread.ident is not None:
                thread.join(timeout)

    def scan(self) -> int:
        """Queue every job ``queued`` or ``running`` that no worker of this instance has in hand:
        created on another instance, or left by a stopped or killed one. Whether it is free is
        decided by its lease when a worker takes it. Returns how many were queued."""
        queued = 0
        for job in self.jobs.all():
            if job["status"] in (QUEUED, RUNNING) and not self._stopping.is_set():
                queued += self._enqueue(job["id"])
        return queued

    def _scan_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.scan()
            except Exception:  # noqa: BLE001 - the loop must survive a store hiccup
                log.exception("job scan failed")
            if self._stopping.wait(self._scan_interval):
                return

    # --- the API's side ------------------------------------------------------------------------------
    def create(self, tenant: str, spec: JobSpec, *, base_url: str, schedule_id: str | None = None) -> dict[str, Any]:
        if spec.kind not in KINDS:
            raise ValueError(f"unknown job kind {spec.kind!r}")
        job = self.jobs.create(tenant, spec, base_url=base_url, schedule_id=schedule_id)
        log.info("job %s (%s) queued%s", job["id"], spec.kind, f" by schedule {schedule_id}" if schedule_id else "")
        self._enqueue(job["id"])
        return job

    def get(self, tenant: str | None, job_id: str) -> dict[str, Any]:
        """The job if ``tenant`` may see it (``None``: admin, any); another tenant's is 404 too."""
        job = self.jobs.get(job_id)
        if job is None or (tenant is not None and job["tenant"] != tenant):
            raise NotFound("Job not found", details={"job_id": job_id})
        return job

    def list(self, tenant: str | None) -> list[dict[str, Any]]:
        """The tenant's jobs (``None``: all), newest first."""
        return [j for j in reversed(self.jobs.all()) if tenant is None or j["tenant"] == tenant]

    def spec(self, job: dict[str, Any]) -> JobSpec:
        return self.jobs.spec(job)

    def cancel(self, tenant: str | None, job_id: str) -> dict[str, Any]:
        """``cancelled`` at once; a running job's worker finishes the item in progress (its row is
        kept) and stops before the next one, then clears ``progress.current``. A finished job is
        left as it is."""
        self.get(tenant, job_id)
        now = self.jobs.now()

        def change(job: dict[str, Any]) -> dict[str, Any] | None:
            if job["status"] in FINISHED:
                return None
            return {**job, "status": CANCELLED, "finished_at": now}  # the worker clears progress.current

        job = self.jobs.update(job_id, change)
        if job is None:
            raise NotFound("Job not found", details={"job_id": job_id})
        log.info("job %s: %s", job_id, job["status"])
        return job

    def result(self, tenant: str | None, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The job and the rows stored so far (a running job's partial result)."""
        job = self.get(tenant, job_id)
        return job, self.jobs.rows(job_id, len(job["items"] or []))

    # --- workers -------------------------------------------------------------------------------------
    def _enqueue(self, job_id: str) -> bool:
        """Queue the job unless a worker here already has it (queued or running); True if queued."""
        with self._queued_lock:
            if job_id in self._queued:
                return False
            self._queued.add(job_id)
        self._queue.put(job_id)
        return True

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return
            try:
                self.run(job_id)
            except Exception:  # noqa: BLE001 - a store failure must not kill the worker
                log.exception("job %s: the worker failed", job_id)
            finally:
                with self._queued_lock:
                    self._queued.discard(job_id)

    def run(self, job_id: str) -> None:
        """Run (or resume) one job in the calling thread under its lease; the workers call it for
        each queued id. A job whose lease another worker holds is left to it."""
        lease = self.jobs.hold(job_id, lease_owner(self._instance_id, "job"))
        if lease is None:
            log.debug("job %s is run by another worker", job_id)
            return
        try:
            self._run_held(job_id, lease)
        finally:
            lease.release()

    def _run_held(self, job_id: str, lease: HeldLease) -> None:
        found = self.jobs.get(job_id)
        if found is not None and found["status"] == RUNNING:
            log.info("job %s (%s) lost its worker (stop or killed instance): resuming after item %s",
                     job_id, found["kind"], found["progress"]["done"])
        job = self.jobs.update(job_id, self._claim)
        if job is None or job["status"] != RUNNING:
            return
        kind, spec = KINDS[job["kind"]], self.jobs.spec(job)
        try:
            if job["items"] is None:
                job = self._plan(job, kind, spec)
            if job is not None and job["status"] == RUNNING:
                self._run_items(job, kind, spec, lease)
        except ApiError as exc:
            if not self._stopping.is_set() and lease.confirm():
                self._finish(job_id, FAILED, exc)
        except Exception:  # noqa: BLE001 - a bug in one job must not stop the others
            log.exception("job %s failed unexpectedly", job_id)
            if not self._stopping.is_set() and lease.confirm():
                self._finish(job_id, FAILED, InternalError())

    def _claim(self, job: dict[str, Any]) -> dict[str, Any] | None:
        if job["status"] == QUEUED:
            return {**job, "status": RUNNING, "started_at": self.jobs.now()}
        return None  # running: resumed as it is; finished or cancelled: nothing to do

    def _plan(self, job: dict[str, Any], kind: Kind, spec: JobSpec) -> dict[str, Any] | None:
        items = kind.plan(spec.params, lambda op, params: self._operate(job, spec, op, params, "plan"))
        log.info("job %s (%s): %d items planned", job["id"], kind.name, len(items))

        def planned(current: dict[str, Any]) -> dict[str, Any] | None:
            if current["status"] != RUNNING or current["items"] is not None:
                return None  # cancelled, or planned by a worker that took over: rows follow that plan
            return {**current, "items": items, "progress": {"done": 0, "total": len(items), "current": None}}

        return self.jobs.update(job["id"], planned)

    def _run_items(self, job: dict[str, Any], kind: Kind, spec: JobSpec, lease: HeldLease) -> None:
        job_id, items = job["id"], job["items"]
        done = sum(1 for index in range(len(items)) if self.jobs.has_rows(job_id, index))
        for index, item in enumerate(items):
            if self.jobs.has_rows(job_id, index):
                continue
            if self._stopping.is_set() or lease.lost.is_set():
                return
            label = kind.label(item)
            current = self.jobs.update(job_id, lambda j: _progress(j, done, label))
            if current is None or current["status"] != RUNNING:
                return  # cancelled (or expired) between items
            try:
                data = self._operate(job, spec, kind.operation, kind.item_params(spec.params, item), str(index + 1))
                rows = kind.rows(spec.params, item, data, self._now())
                outcome = "ok"
            except SESSION_ERRORS:
                raise
            except ApiError as exc:
                if self._stopping.is_set():
                    return  # cut short by the shutdown: runs again at the next start
                rows = kind.failed(spec.params, item, exc, self._now())
                outcome = exc.error_type
            if not lease.confirm():
                log.warning("job %s: its lease ran out during item %d; left to the worker that took it over",
                            job_id, index + 1)
                return
            self.jobs.put_rows(job_id, index, rows)
            done += 1
            self.jobs.update(job_id, lambda j: _progress(j, done, label))
            log.info("job %s progress %d/%d: %s %s", job_id, done, len(items), label, outcome)
        self._finish(job_id, SUCCEEDED, None)

    def _operate(self, job: dict[str, Any], spec: JobSpec, operation: Operation, params: dict[str, Any],
                 step: str) -> Mapping[str, Any]:
        """One operation under the job's session, through the runner (lock, probe, re-login)."""
        result = self._runner().run(job["tenant"], spec.ref(), operation, params, request_id=f"{job['id']}-{step}",
                                    route=f"/jobs/{job['kind']}", base_url=job["base_url"])
        return result.data

    def _finish(self, job_id: str, status: str, error: ApiError | None) -> None:
        now = self.jobs.now()

        def change(job: dict[str, Any]) -> dict[str, Any] | None:
            if job["status"] != RUNNING:
                return None  # cancelled meanwhile: the cancel stands
            return {**job, "status": status, "finished_at": now, "progress": {**job["progress"], "current": None},
                    "error": None if error is None else {"error_type": error.error_type, "message": error.message}}

        job = self.jobs.update(job_id, change)
        if job is None or job["status"] != status:
            return
        log.info("job %s %s%s", job_id, status, f": {error.error_type}" if error else "")
        emit_safely(self._events, job["tenant"], JOB_SUCCEEDED if status == SUCCEEDED else JOB_FAILED, {
            "job_id": job_id, "kind": job["kind"], "status": status, "progress": job["progress"],
            "result_url": f"{job['base_url']}/jobs/{job_id}/result", "error": job["error"],
            "schedule_id": job.get("schedule_id")})

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.jobs.now(), self._zone)


def _progress(job: dict[str, Any], done: int, label: str) -> dict[str, Any] | None:
    """``done`` items stored; ``current`` the item running, cleared once a cancelled job's worker
    has stopped (so a client sees when no more rows will come)."""
    current = label if job["status"] == RUNNING else None
    if job["progress"]["done"] == done and job["progress"]["current"] == current:
        return None
    return {**job, "progress": {**job["progress"], "done": done, "current": current}}


__all__ = ["SESSION_ERRORS", "JobService"]
