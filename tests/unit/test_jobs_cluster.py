"""Jobs shared by several API instances (issue 11): two ``JobService`` objects over one real store
(SQLite, and Redis on a real ``redis-server``: the store-contract ``backend`` fixture) stand for two
instances. A job runs under its lease ``job:<id>``: the other instance never runs it at the same
time, picks up a job created on the first, and takes over one whose holder stopped renewing
(killed: simulated by letting the store's clock pass the lease's ttl while the holder is frozen
inside an item), finishing it with every row exactly once.

The runner is the stand-in of tests/unit/test_jobs.py: this is job orchestration only. Time is the
backend's fake clock; waits are on events, and a worker's finish is polled with a deadline (no
duration is asserted)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from emodal.jobs import StoreEventSink
from emodal.jobs.service import JobService
from emodal.jobs.store import LEASE_TTL_S, JobStore
from emodal.operations.containers import read_grid
from emodal.state import SecretBox, new_key
from tests.unit.test_jobs import GRID, TENANT, Runner, _finished, rows_of, sweep, timeline_answer
from tests.unit.store_backends import Backend

CONTAINERS = [g["container_number"] for g in GRID]
#: Long enough that a scan never runs by itself during a test: the tests call ``scan`` or ``start``.
NEVER = 3600.0


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(new_key())


class WatchedJobStore(JobStore):
    """Counts the lease tries of its instance's workers, so a test can wait for them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tries = 0
        self.tried = threading.Condition()

    def hold(self, job_id: str, owner: str) -> Any:
        lease = super().hold(job_id, owner)
        with self.tried:
            self.tries += 1
            self.tried.notify_all()
        return lease

    def wait_tries(self, count: int) -> bool:
        with self.tried:
            return self.tried.wait_for(lambda: self.tries >= count, 30)


@pytest.fixture
def instances(backend: Backend, box: SecretBox) -> Iterator[Any]:  # noqa: F811 - the imported fixture
    """``make(runner, name, scan_interval)``: a JobService of its own over the shared store; all
    are stopped and joined at the end."""
    made: list[JobService] = []

    def make(runner: Runner, name: str, scan_interval: float = NEVER) -> JobService:
        jobs = JobService(WatchedJobStore(backend.store, box, retention_s=3600, clock=backend.now), lambda: runner,
                          StoreEventSink(backend.store), workers=1, instance_id=name, scan_interval=scan_interval)
        made.append(jobs)
        return jobs

    yield make
    for jobs in made:
        jobs.stop()
    for jobs in made:
        jobs.join(10)


class FrozenItem:
    """A runner answer that stops inside item ``at`` (1-based, planning not counted) until
    :attr:`go` is set: the instance is busy there, or frozen (killed) when the test never sets it."""

    def __init__(self, at: int, pregate: str) -> None:
        self.at, self.pregate = at, pregate
        self.inside, self.go = threading.Event(), threading.Event()
        self.items = 0

    def __call__(self, operation: Any, params: dict[str, Any]) -> dict[str, Any]:
        if operation is read_grid:
            return {"containers": GRID}
        self.items += 1
        if self.items == self.at:
            self.inside.set()
            assert self.go.wait(60), "the test never let the item end"
        return {"pregate": self.pregate}


def in_thread(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def items_run(runner: Runner) -> list[str]:
    return [c["params"]["container_id"] for c in runner.calls if c["operation"] is not read_grid]


def test_a_job_held_by_one_instance_is_not_run_by_the_other(instances: Any) -> None:
    busy = FrozenItem(at=2, pregate="completed")
    first, second = Runner(busy), Runner(timeline_answer())
    a, b = instances(first, "api-a"), instances(second, "api-b")
    job = a.create(TENANT, sweep(), base_url="http://svc")
    worker = in_thread(a.run, job["id"])
    assert busy.inside.wait(30)

    b.run(job["id"])  # the job is running, as a restarted instance used to find it: resumed twice
    assert b.scan() == 1  # the scan queues it all the same: its lease decides
    b.run(job["id"])
    assert second.calls == []

    busy.go.set()
    worker.join(30)
    done = a.get(None, job["id"])
    assert done["status"] == "succeeded" and items_run(first) == CONTAINERS
    assert [r["container"] for r in rows_of(a, job["id"])] == CONTAINERS
    b.run(job["id"])  # finished: nothing to do, lease free or not
    assert second.calls == []


def test_a_job_created_on_an_instance_that_died_is_run_by_another(instances: Any) -> None:
    runner = Runner(timeline_answer())
    b = instances(runner, "api-b", scan_interval=0.05)
    b.start()  # running before the job exists: only a later scan can find it
    a = instances(Runner(timeline_answer()), "api-a")  # dies before a worker of it takes the job
    job = a.create(TENANT, sweep(), base_url="http://svc")
    assert _finished(b, job["id"])["status"] == "succeeded"
    assert items_run(runner) == CONTAINERS
    assert [r["container"] for r in rows_of(b, job["id"])] == CONTAINERS


def test_a_killed_holders_job_is_resumed_by_another_instance_with_every_row_once(
        instances: Any, backend: Backend) -> None:  # noqa: F811 - the imported fixture
    frozen = FrozenItem(at=3, pregate="completed")
    first, second = Runner(frozen), Runner(timeline_answer())
    a, b = instances(first, "api-a"), instances(second, "api-b", scan_interval=0.05)
    job = a.create(TENANT, sweep(), base_url="http://svc")
    holder = in_thread(a.run, job["id"])
    assert frozen.inside.wait(30)  # A runs item 3, items 1-2 stored

    b.start()  # B scans again and again; while A's lease lives B's worker leaves the job alone
    assert b.jobs.wait_tries(3)
    assert second.calls == [] and a.get(None, job["id"])["status"] == "running"

    backend.advance(LEASE_TTL_S + 1)  # A is frozen (killed): no renewal, its lease runs out
    final = _finished(b, job["id"])
    assert final["status"] == "succeeded" and final["progress"] == {"done": 5, "total": 5, "current": None}
    assert items_run(second) == CONTAINERS[2:]  # resumed after A's last stored item

    frozen.go.set()  # A wakes up: it lost its lease, so its item 3 result is dropped, nothing written
    holder.join(30)
    rows = rows_of(b, job["id"])
    assert [r["container"] for r in rows] == CONTAINERS  # each once, in order
    assert [r["pregate"] for r in rows] == ["completed"] * 2 + ["pending"] * 3  # A's two, then B's
    assert [e["type"] for e in StoreEventSink(backend.store).events()] == ["job.succeeded"]


def test_two_instances_with_workers_run_each_job_once(instances: Any) -> None:
    first, second = Runner(timeline_answer()), Runner(timeline_answer())
    a, b = instances(first, "api-a", scan_interval=0.05), instances(second, "api-b", scan_interval=0.05)
    jobs = [a.create(TENANT, sweep(), base_url="http://svc") for _ in range(4)]
    a.start()
    b.start()
    for job in jobs:
        assert _finished(a, job["id"])["status"] == "succeeded"
        assert [r["container"] for r in rows_of(a, job["id"])] == CONTAINERS
    calls = [(c["request_id"], c["params"].get("container_id")) for c in first.calls + second.calls]
    assert len(calls) == len(set(calls)) == len(jobs) * (1 + len(CONTAINERS))  # each plan and item once
