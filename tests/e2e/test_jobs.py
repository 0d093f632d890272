"""Jobs end to end (issue 12 section 1): the service's workers drive real headless Chromium against
the sandbox. Oracles are the sandbox's admin API (the account's containers with their timelines,
the slot capacity), never the service's own answers.

The sweeps run on asmith (60 containers) to stay fast; the restart test runs the real entry point
as a subprocess (as tests/e2e/test_durable_sessions.py does) and SIGKILLs it mid-job.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from emodal.jobs.kinds import keep, last_free_day
from tests.e2e.conftest import Client, eventually, slow_container_details

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ITS = "ITS Long Beach"
CHECK = {"trucking_company": "SUNSET INTERMODAL INC", "terminal": ITS, "move_type": "PICK FULL", "truck_plate": "*"}
#: holds none + no ticket + import: the containers a dispatcher can pick up (8 of asmith's 60).
PICKABLE = {"holds": "none", "pregate_ticket": "none", "trade_type": "import"}
FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="module", autouse=True)
def close_asmith(client: Client) -> Any:
    """The sweeps log asmith in on the shared service: close that session after the module, so
    other modules find asmith's credentials new (as they expect)."""
    yield
    for session in client.get("/sessions").json()["sessions"]:
        if session["username"] == "asmith":
            client.delete(f"/sessions/{session['session_id']}")


def oracle(sandbox: Any, username: str) -> list[dict[str, Any]]:
    return sandbox.admin.get(f"accounts/{username}/containers")["containers"]


def offered(sandbox: Any, terminal: str) -> list[str]:
    return [s["slot"] for s in sandbox.admin.get(f"slots?terminal={quote(terminal)}")["slots"] if s["capacity"] > 0]


def pregate(row: dict[str, Any]) -> str | None:
    """The oracle's Pregate milestone as the job reports it."""
    found = next((m for m in row["timeline"] if m["name"] == "Pregate"), None)
    return None if found is None else ("completed" if found["completed"] else "pending")


def wait_finished(get: Callable[[str], Any], job_id: str, timeout: float = 300) -> dict[str, Any]:
    return eventually(lambda: (body := get(f"/jobs/{job_id}").json())["status"] in FINISHED and body,
                      timeout, f"job {job_id} to finish")


def test_sweep_rows_match_the_oracle_and_the_workbook(client: Client, sandbox: Any, credentials: Any) -> None:
    created = client.post("/jobs", json={"kind": "containers_sweep", "credentials": credentials("asmith"),
                                         "params": {**PICKABLE, "check_appointments": CHECK}})
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    assert created.json()["status_url"].endswith(f"/jobs/{job_id}") and created.headers["Location"]
    done = wait_finished(client.get, job_id)
    assert done["status"] == "succeeded", done
    assert done["progress"]["done"] == done["progress"]["total"] and done["finished_at"]

    expected = [row for row in oracle(sandbox, "asmith") if keep(row, PICKABLE)]
    assert len(expected) >= 4
    result = client.get(f"/jobs/{job_id}/result").json()
    rows = result["rows"]
    assert result["complete"] is True and result["count"] == len(rows)
    assert [r["container"] for r in rows] == [row["number"] for row in expected]  # grid order, each once
    today = datetime.now(ZoneInfo("UTC")).date()  # DISPLAY_TIMEZONE of the test service
    for row, truth in zip(rows, expected):
        lfd = last_free_day(truth["lfd_gtd"])
        assert (row["trade_type"], row["status"], row["holds"]) == ("IMPORT", truth["status"], "NO"), row
        assert row["lfd"] == (lfd.strftime("%m/%d/%Y") if lfd else None)
        assert row["days_to_lfd"] == ((lfd - today).days if lfd else None)
        assert row["checked_at"] and row["booking"] is None
        if row["error"] is None:
            assert row["pregate"] == pregate(truth)
            assert row["slots_count"] == len(offered(sandbox, ITS)) and row["first_slot"] == offered(sandbox, ITS)[0]
            assert client.get(row["screenshot_url"]).headers["Content-Type"] == "image/png"
    in_yard = next(r for r in rows if r["container"] == "EISU8000080")  # at ITS, free: its check succeeds
    assert in_yard["error"] is None and in_yard["slots_count"] > 0, in_yard

    workbook = client.get(f"/jobs/{job_id}/result?format=xlsx")
    assert workbook.status_code == 200 and workbook.headers["X-Total-Rows"] == str(len(rows))
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    table = list(sheet.iter_rows(values_only=True))
    assert list(table[0]) == result["columns"]
    assert [line[0] for line in table[1:]] == [r["container"] for r in rows]


def test_cancel_stops_between_items(client: Client, jdoe_session: dict[str, Any], sandbox: Any) -> None:
    containers = [row["number"] for row in oracle(sandbox, "jdoe") if row["trade_type"] == "IMPORT"][:40]
    created = client.post("/jobs", json={"kind": "info_bulk", "session_id": jdoe_session["session_id"],
                                         "params": {"import_containers": containers}}).json()
    job_id = created["job_id"]
    eventually(lambda: client.get(f"/jobs/{job_id}").json()["progress"]["done"] >= 1, 120, "a first item")
    cancelled = client.delete(f"/jobs/{job_id}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    # The worker stops before its next item: the count of rows stops growing below the total.
    stopped = eventually(lambda: (r := client.get(f"/jobs/{job_id}/result").json())["progress"]["current"] is None
                         and r, 120, "the worker to stop")
    rows_then = stopped["count"]
    assert 1 <= rows_then < len(containers)
    again = client.delete(f"/jobs/{job_id}").json()  # cancelling a finished job changes nothing
    assert again["status"] == "cancelled"
    quick = client.post("/get_container_timeline", json={"session_id": jdoe_session["session_id"],
                                                         "container_id": containers[0]})
    assert quick.status_code == 200  # the session is free again
    assert client.get(f"/jobs/{job_id}/result").json()["count"] == rows_then


def test_a_session_logged_out_mid_job_logs_in_again_and_the_job_finishes(
        client: Client, jdoe_session: dict[str, Any], sandbox: Any) -> None:
    containers = [row["number"] for row in oracle(sandbox, "jdoe") if row["trade_type"] == "EXPORT"][:6]
    created = client.post("/jobs", json={"kind": "info_bulk", "session_id": jdoe_session["session_id"],
                                         "params": {"export_containers": containers}}).json()
    job_id = created["job_id"]
    eventually(lambda: client.get(f"/jobs/{job_id}").json()["progress"]["done"] >= 1, 120, "a first item")
    assert sandbox.admin.logout("jdoe")["logged_out"] >= 1  # the portal drops the session mid-job
    done = wait_finished(client.get, job_id)
    assert done["status"] == "succeeded", done
    rows = client.get(f"/jobs/{job_id}/result").json()["rows"]
    truth = {row["number"]: row["booking_number"] for row in oracle(sandbox, "jdoe")}
    assert [r["container_id"] for r in rows] == containers
    assert all(r["success"] for r in rows), [(r.get("error_type"), r.get("error")) for r in rows]
    assert [r["booking_number"] for r in rows] == [truth[c] for c in containers]


def test_another_tenants_job_is_not_found(make_service: Any, credentials: Any) -> None:
    keys = ("a" * 40, "b" * 40)
    service = make_service(emodal_api_keys=keys)
    owner, other = (Client(service.base_url, {"X-API-Key": key}) for key in keys)
    created = owner.post("/jobs", json={"kind": "my_appointments", "credentials": credentials("asmith"),
                                        "params": {"infinite_scrolling": False}})
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    for call in (lambda: other.get(f"/jobs/{job_id}"), lambda: other.get(f"/jobs/{job_id}/result"),
                 lambda: other.delete(f"/jobs/{job_id}")):
        answer = call()
        assert answer.status_code == 404 and answer.json()["error_type"] == "not_found", answer.text
    assert other.get("/jobs").json()["jobs"] == []
    assert [j["job_id"] for j in owner.get("/jobs").json()["jobs"]] == [job_id]
    done = wait_finished(owner.get, job_id)
    assert done["status"] == "succeeded", done
    assert owner.get(f"/jobs/{job_id}/result").json()["count"] >= 1


def test_restart_mid_job_resumes_with_every_row_once(start: Any, sandbox: Any) -> None:
    params = {"trade_type": "import", "limit": 20}
    # Each item held half a second: the kill after two items always lands mid-job.
    with slow_container_details(sandbox, 20, delay_ms=500):
        first = start()
        created = first.post("/jobs", kind="containers_sweep", credentials={
            "username": "asmith", "password": "sandbox-pass-2", "captcha_api_key": "sandbox-key"}, params=params)
        assert created.status_code == 202, created.text
        job_id = created.json()["job_id"]
        eventually(lambda: first.get(f"/jobs/{job_id}").json()["progress"]["done"] >= 2, 180, "two items done")
        first.proc.kill()  # SIGKILL mid-job: nothing of the service runs at exit
        first.proc.wait(30)

        second = start()
        resumed = second.get(f"/jobs/{job_id}").json()
        before = resumed["progress"]["done"]
        assert resumed["status"] in ("running", "succeeded") and before >= 2, resumed
        done = wait_finished(second.get, job_id)
        assert done["status"] == "succeeded", done
        rows = second.get(f"/jobs/{job_id}/result").json()["rows"]
        expected = [row["number"] for row in oracle(sandbox, "asmith") if row["trade_type"] == "IMPORT"][:20]
        assert [r["container"] for r in rows] == expected  # every row exactly once, in grid order
        assert "resuming after item" in second.log()


def test_bad_input_is_a_json_400(client: Client, jdoe_session: dict[str, Any]) -> None:
    sid = jdoe_session["session_id"]
    cases = [({"kind": "nope", "session_id": sid}, "invalid_field"),
             ({"kind": "info_bulk", "session_id": sid, "params": {}}, "missing_fields"),
             ({"kind": "containers_sweep"}, "missing_fields"),
             ({"kind": "containers_sweep", "session_id": sid, "params": {"holds": "maybe"}}, "invalid_field")]
    for body, error_type in cases:
        answer = client.post("/jobs", json=body)
        assert answer.status_code == 400 and answer.json()["error_type"] == error_type, (body, answer.text)
    bad_cron = client.post("/schedules", json={"job": {"kind": "my_appointments", "session_id": sid},
                                               "cron": "61 * * * *"})
    assert bad_cron.status_code == 400 and bad_cron.json()["details"]["field"] == "cron", bad_cron.text
