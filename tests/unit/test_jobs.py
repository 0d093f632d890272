"""Jobs without a browser: state transitions, per-item errors, resume after a stop, cancellation,
events, sealing, the sweep filters, and the /jobs routes' bad input. The runner is a stand-in that
answers per operation; jobs run in the test's thread (``JobService.run``), so nothing is timed."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

import pytest

from emodal.app import shutdown
from emodal.errors import ContainerNotFound, InvalidCredentials, ShuttingDown
from emodal.jobs import JobSpec, StoreEventSink
from emodal.jobs.kinds import keep, last_free_day
from emodal.jobs.service import JobService
from emodal.jobs.store import FINISHED, JobStore
from emodal.operations.containers import read_grid
from emodal.operations.runner import OperationResult
from emodal.sessions.credentials import Credentials
from emodal.state import SecretBox, SQLiteStore, new_key
from tests.unit.fake_registry import make_app

TENANT = "t1"
SID = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg"
GRID = [  # json rows of the Containers grid (format: json keys)
    {"container_number": "AAAU1111111", "trade_type": "IMPORT", "status": "IN YARD", "holds": "NO",
     "pregate_ticket": "N/A", "lfd_gtd": "12/07/2026 - 12/08/2026"},
    {"container_number": "BBBU2222222", "trade_type": "IMPORT", "status": "IN YARD", "holds": "YES",
     "pregate_ticket": "N/A", "lfd_gtd": "12/08/2026 - 12/08/2026"},
    {"container_number": "CCCU3333333", "trade_type": "IMPORT", "status": "GATE OUT", "holds": "NO",
     "pregate_ticket": "TTI-1107-80347", "lfd_gtd": "N/A"},
    {"container_number": "DDDU4444444", "trade_type": "EXPORT", "status": "GATE IN", "holds": "NO",
     "pregate_ticket": "**************", "lfd_gtd": "12/11/2026 - 12/11/2026"},
    {"container_number": "EEEU5555555", "trade_type": "IMPORT", "status": "ON VESSEL", "holds": "NO",
     "pregate_ticket": "N/A", "lfd_gtd": "N/A"},
]


class Runner:
    """Stands in for ``OperationRunner``: ``answer(operation, params)`` gives the data or raises."""

    def __init__(self, answer: Callable[[Any, dict[str, Any]], dict[str, Any]]) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def run(self, tenant: str, ref: Any, operation: Any, params: dict[str, Any], **kw: Any) -> OperationResult:
        self.calls.append({"tenant": tenant, "ref": ref, "operation": operation, "params": params, **kw})
        return OperationResult(SID, False, False, data=self.answer(operation, params))


def timeline_answer(failing: tuple[str, ...] = ()) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    def answer(operation: Any, params: dict[str, Any]) -> dict[str, Any]:
        if operation is read_grid:
            return {"containers": GRID}
        if params["container_id"] in failing:
            raise ContainerNotFound(f"Container '{params['container_id']}' not found after scrolling")
        return {"pregate": "pending", "booking": None}
    return answer


@pytest.fixture
def store(tmp_path: Any) -> Any:
    opened = SQLiteStore(tmp_path / "state.db")
    yield opened
    opened.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(new_key())


def service(store: Any, box: SecretBox, runner: Runner) -> JobService:
    return JobService(JobStore(store, box, retention_s=3600), lambda: runner, StoreEventSink(store), workers=1)


def sweep(**params: Any) -> JobSpec:
    return JobSpec("containers_sweep", {"timeline": True, "booking": True, **params}, SID)


def rows_of(jobs: JobService, job_id: str) -> list[dict[str, Any]]:
    return jobs.result(None, job_id)[1]


# --- transitions -------------------------------------------------------------------------------------
def test_a_job_goes_queued_running_succeeded_with_one_row_per_kept_container(store: Any, box: SecretBox) -> None:
    runner = Runner(timeline_answer())
    jobs = service(store, box, runner)
    job = jobs.create(TENANT, sweep(holds="none", pregate_ticket="none"), base_url="http://svc")
    assert job["status"] == "queued" and job["started_at"] is None
    jobs.run(job["id"])
    done = jobs.get(TENANT, job["id"])
    assert done["status"] == "succeeded" and done["started_at"] and done["finished_at"]
    assert done["progress"] == {"done": 2, "total": 2, "current": None}
    assert [r["container"] for r in rows_of(jobs, job["id"])] == ["AAAU1111111", "EEEU5555555"]
    # Each item ran under the job's session, as its own runner call, after one planning call.
    assert [c["request_id"] for c in runner.calls] == [f"{job['id']}-plan", f"{job['id']}-1", f"{job['id']}-2"]
    assert {c["route"] for c in runner.calls} == {"/jobs/containers_sweep"}
    assert all(c["ref"].session_id == SID and c["tenant"] == TENANT for c in runner.calls)
    [event] = StoreEventSink(store).events(TENANT)
    assert event["type"] == "job.succeeded" and event["data"]["result_url"] == f"http://svc/jobs/{job['id']}/result"


def test_one_items_failure_is_its_rows_error_and_the_job_still_succeeds(store: Any, box: SecretBox) -> None:
    jobs = service(store, box, Runner(timeline_answer(failing=("AAAU1111111",))))
    job = jobs.create(TENANT, sweep(holds="none", pregate_ticket="none"), base_url="http://svc")
    jobs.run(job["id"])
    first, second = rows_of(jobs, job["id"])
    assert first["error_type"] == "container_not_found" and "not found" in first["error"]
    assert first["container"] == "AAAU1111111" and first["lfd"] == "12/07/2026"  # the grid values stay
    assert second["error"] is None and second["pregate"] == "pending"
    assert jobs.get(TENANT, job["id"])["status"] == "succeeded"


def test_a_session_that_cannot_log_in_fails_the_job_and_emits_job_failed(store: Any, box: SecretBox) -> None:
    def answer(operation: Any, params: dict[str, Any]) -> dict[str, Any]:
        if operation is read_grid:
            return {"containers": GRID}
        raise InvalidCredentials("Authentication failed")

    jobs = service(store, box, Runner(answer))
    job = jobs.create(TENANT, sweep(), base_url="http://svc")
    jobs.run(job["id"])
    failed = jobs.get(TENANT, job["id"])
    assert failed["status"] == "failed" and failed["error"]["error_type"] == "invalid_credentials"
    assert rows_of(jobs, job["id"]) == []  # not the same error in every row
    assert [e["type"] for e in StoreEventSink(store).events()] == ["job.failed"]


# --- resume, stop, cancel --------------------------------------------------------------------------------
def test_a_job_stopped_mid_item_resumes_after_its_last_stored_item(store: Any, box: SecretBox) -> None:
    first_run: list[str] = []

    def answer(operation: Any, params: dict[str, Any]) -> dict[str, Any]:
        if operation is read_grid:
            return {"containers": GRID}
        first_run.append(params["container_id"])
        if len(first_run) == 3:  # the shutdown cuts the third item short
            jobs.stop()
            raise ShuttingDown()
        return {"pregate": "completed"}

    jobs = service(store, box, Runner(answer))
    job = jobs.create(TENANT, sweep(), base_url="http://svc")
    jobs.run(job["id"])
    stopped = jobs.get(TENANT, job["id"])
    assert stopped["status"] == "running" and stopped["progress"]["done"] == 2  # left for the next start
    assert len(rows_of(jobs, job["id"])) == 2

    second = Runner(timeline_answer())
    restarted = service(store, box, second)
    restarted.start()  # queues the running job again; its worker resumes it
    try:
        final = _finished(restarted, job["id"])
    finally:
        restarted.stop()
        restarted.join()
    assert final["status"] == "succeeded" and final["progress"]["done"] == 5
    assert [c["params"]["container_id"] for c in second.calls] == [g["container_number"] for g in GRID[2:]]
    assert [r["container"] for r in rows_of(restarted, job["id"])] == [g["container_number"] for g in GRID]


def _finished(jobs: JobService, job_id: str) -> dict[str, Any]:
    """Wait for the worker thread to finish the job (polled; nothing here asserts a duration)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = jobs.get(None, job_id)
        if job["status"] in FINISHED:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


def test_cancel_between_items_keeps_the_running_items_row_and_stops(store: Any, box: SecretBox) -> None:
    def answer(operation: Any, params: dict[str, Any]) -> dict[str, Any]:
        if operation is read_grid:
            return {"containers": GRID}
        jobs.cancel(TENANT, job["id"])  # DELETE while the first item runs
        return {"pregate": "completed"}

    jobs = service(store, box, Runner(answer))
    job = jobs.create(TENANT, sweep(), base_url="http://svc")
    jobs.run(job["id"])
    cancelled = jobs.get(TENANT, job["id"])
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    assert cancelled["progress"] == {"done": 1, "total": 5, "current": None}
    assert len(rows_of(jobs, job["id"])) == 1
    assert StoreEventSink(store).events() == []  # only succeeded and failed are events


def test_a_queued_job_cancelled_never_runs_and_a_finished_one_stays(store: Any, box: SecretBox) -> None:
    runner = Runner(timeline_answer())
    jobs = service(store, box, runner)
    job = jobs.create(TENANT, sweep(), base_url="http://svc")
    assert jobs.cancel(TENANT, job["id"])["status"] == "cancelled"
    jobs.run(job["id"])
    assert runner.calls == []
    other = jobs.create(TENANT, sweep(), base_url="http://svc")
    jobs.run(other["id"])
    assert jobs.cancel(TENANT, other["id"])["status"] == "succeeded"


def test_another_tenants_job_is_not_found(store: Any, box: SecretBox) -> None:
    jobs = service(store, box, Runner(timeline_answer()))
    job = jobs.create(TENANT, sweep(), base_url="http://svc")
    for call in (lambda: jobs.get("t2", job["id"]), lambda: jobs.cancel("t2", job["id"]),
                 lambda: jobs.result("t2", job["id"])):
        with pytest.raises(Exception) as raised:
            call()
        assert getattr(raised.value, "status", None) == 404
    assert jobs.list("t2") == [] and [j["id"] for j in jobs.list(TENANT)] == [job["id"]]
    assert jobs.get(None, job["id"])["id"] == job["id"]  # admin


def test_credentials_params_and_session_id_are_sealed(store: Any, box: SecretBox, tmp_path: Any) -> None:
    jobs = service(store, box, Runner(timeline_answer()))
    spec = JobSpec("check_appointments_bulk", {"checks": [{"container_id": "AAAU1111111", "pin_code": "4821"}]},
                   SID, Credentials("jdoe", "s3cret-pass", "key-0123456789"))
    job = jobs.create(TENANT, spec, base_url="http://svc")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    for secret in (b"s3cret-pass", b"key-0123456789", b"4821", SID.encode(), SID.rsplit("_", 1)[1].encode()):
        assert secret not in raw
    assert jobs.spec(jobs.get(TENANT, job["id"])) == spec


# --- the sweep's filters ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "kept"), [
    ({}, ["AAAU1111111", "BBBU2222222", "CCCU3333333", "DDDU4444444", "EEEU5555555"]),
    ({"holds": "none"}, ["AAAU1111111", "CCCU3333333", "DDDU4444444", "EEEU5555555"]),
    ({"holds": "any"}, ["BBBU2222222"]),
    ({"pregate_ticket": "any"}, ["CCCU3333333", "DDDU4444444"]),  # a masked ticket is a ticket
    ({"pregate_ticket": "none", "trade_type": "import"}, ["AAAU1111111", "BBBU2222222", "EEEU5555555"]),
    ({"trade_type": "export"}, ["DDDU4444444"]),
    ({"status_contains": "yard"}, ["AAAU1111111", "BBBU2222222"]),
])
def test_sweep_filters(params: dict[str, Any], kept: list[str]) -> None:
    assert [row["container_number"] for row in GRID if keep(row, params)] == kept


def test_sweep_limit_and_days_to_lfd(store: Any, box: SecretBox) -> None:
    jobs = service(store, box, Runner(timeline_answer()))
    job = jobs.create(TENANT, sweep(limit=1), base_url="http://svc")
    jobs.run(job["id"])
    [row] = rows_of(jobs, job["id"])
    checked = datetime.fromisoformat(row["checked_at"].replace("Z", "+00:00")).astimezone(timezone.utc).date()
    assert row["container"] == "AAAU1111111" and row["days_to_lfd"] == (date(2026, 12, 7) - checked).days


@pytest.mark.parametrize(("text", "day"), [("12/07/2026 - 12/08/2026", date(2026, 12, 7)), ("N/A", None),
                                           ("", None), ("13/45/2026 - 01/01/2027", None)])
def test_last_free_day(text: str, day: date | None) -> None:
    assert last_free_day(text) == day


# --- routes: bad input is a 400 in the envelope ------------------------------------------------------------
@pytest.fixture
def app(tmp_path: Any) -> Any:
    app, registry = make_app(tmp_path)
    registry.add(SID, "open")
    yield app
    shutdown(app)


@pytest.mark.parametrize(("body", "status", "error_type"), [
    ({"kind": "teleport", "session_id": SID}, 400, "invalid_field"),
    ({"session_id": SID}, 400, "missing_fields"),
    ({"kind": "my_appointments"}, 400, "missing_fields"),
    ({"kind": "my_appointments", "session_id": "session_1_unknown"}, 400, "session_not_found"),
    ({"kind": "info_bulk", "session_id": SID, "params": {}}, 400, "missing_fields"),
    ({"kind": "info_bulk", "session_id": SID, "params": {"import_containers": ["NOTACONTAINER"]}}, 400,
     "invalid_container_number"),
    ({"kind": "info_bulk", "session_id": SID, "params": "all"}, 400, "invalid_field"),
    ({"kind": "containers_sweep", "session_id": SID, "params": {"holds": "some"}}, 400, "invalid_field"),
    ({"kind": "containers_sweep", "session_id": SID, "params": {"limit": 0}}, 400, "invalid_field"),
    ({"kind": "containers_sweep", "session_id": SID, "params": {"check_appointments": {"terminal": "TTI"}}}, 400,
     "missing_fields"),
    ({"kind": "check_appointments_bulk", "session_id": SID, "params": {"checks": []}}, 400, "missing_fields"),
    ({"kind": "check_appointments_bulk", "session_id": SID, "params": {"checks": [{"terminal": "TTI"}]}}, 400,
     "missing_fields"),
    ({"kind": "my_appointments", "credentials": {"username": "jdoe"}}, 400, "missing_fields"),
])
def test_bad_job_requests(app: Any, body: dict[str, Any], status: int, error_type: str) -> None:
    answer = app.test_client().post("/jobs", json=body)
    assert answer.status_code == status and answer.json["error_type"] == error_type, answer.json
    assert answer.json["success"] is False and answer.json["request_id"]
    assert app.test_client().get("/jobs").json["jobs"] == []  # nothing stored


@pytest.mark.parametrize(("extra", "field"), [
    ({"cron": "61 * * * *"}, "cron"), ({"cron": "* * * *"}, "cron"), ({"every": "2 hours"}, "every"),
    ({"every": "30s"}, "every"), ({"every": "2h", "timezone": "Mars/Olympus"}, "timezone"),
    ({}, "every"), ({"every": "2h", "cron": "0 * * * *"}, "every"),
])
def test_bad_schedules(app: Any, extra: dict[str, Any], field: str) -> None:
    answer = app.test_client().post("/schedules", json={"job": {"kind": "my_appointments", "session_id": SID},
                                                        **extra})
    assert answer.status_code == 400 and answer.json["details"]["field"] == field, answer.json
    assert app.test_client().get("/schedules").json["schedules"] == []


def test_unknown_ids_are_404_and_every_route_is_documented(app: Any) -> None:
    client = app.test_client()
    for method, path in (("get", "/jobs/job_x"), ("get", "/jobs/job_x/result"), ("delete", "/jobs/job_x"),
                         ("get", "/schedules/sched_x"), ("post", "/schedules/sched_x/pause"),
                         ("delete", "/schedules/sched_x")):
        answer = getattr(client, method)(path)
        assert answer.status_code == 404 and answer.json["error_type"] == "not_found", (path, answer.json)
    paths = client.get("/openapi.json").json["paths"]
    assert "202" in paths["/jobs"]["post"]["responses"] and "201" in paths["/schedules"]["post"]["responses"]
    for path in ("/jobs", "/jobs/{job_id}", "/jobs/{job_id}/result", "/schedules", "/schedules/{schedule_id}",
                 "/schedules/{schedule_id}/pause", "/schedules/{schedule_id}/resume"):
        assert path in paths
    assert set(paths["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]) == {
        "kind", "session_id", "credentials", "params"}
