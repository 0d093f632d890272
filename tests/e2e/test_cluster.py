"""The cluster end to end (issue 11): Redis, a Selenium Grid hub with two nodes of two Chromium slots
(scripts/cluster.py), two API instances (subprocesses of emodal_business_api.py sharing
``STATE_URL=redis://…``, the Grid, one ``DOWNLOADS_DIR`` and one ``STATE_ENCRYPTION_KEY``) and the
sandbox portal. One layout serves the whole module; the tests run in order and build on each other:

1. a session logged in through A is used through B (its Grid browser attached: no new browser, no
   login), the Containers workbook and the My Appointments Excel export (Grid managed downloads);
2. two calls on one session, one through A and one through B, run one after the other: in the
   sandbox's request log the second operation's page starts after the first's last request;
3. ``kill -9`` of A in the middle of a workload: every later call through B succeeds under the
   same session ids, no captcha is solved, a booking made through A replays through B and the
   oracle holds it once;
4. a Grid node killed: its sessions come back on the other node under the same ids
   (``session_recovered: true``), from their stored portal login;
5. the Grid full: a new login answers 503 ``capacity_exhausted`` at once, from the hub's ``/status``;
6. a job created on a third instance C, C killed with ``kill -9`` mid-job: B (its scan, once the
   job's lease ran out) resumes it and finishes it with every row once.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import openpyxl
import pytest
import requests
from cryptography.fernet import Fernet

from scripts import cluster as cluster_script
from tests.e2e.conftest import PASSWORDS, SOLVER_KEY, Client, eventually, slow_container_details

pytestmark = [pytest.mark.cluster, pytest.mark.browser, pytest.mark.timeout(900)]

KEY = "cluster-e2e-tenant-one-0123456789abcdef"
OTHER_KEY = "cluster-e2e-tenant-two-0123456789abcdef"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MSCU = "MSCU1000017"   # jdoe's
TRHU = "TRHU4000040"   # jdoe's export, booking RICFEM100200
EISU = "EISU8000080"   # asmith's
PICK_FULL = {"trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
             "move_type": "PICK FULL", "container_id": "TGBU2000026", "truck_plate": "9E51234"}


@dataclass
class Layout:
    cluster: Any
    processes: dict[str, Any]
    a: Client
    b: Client
    #: What started the instances, to start another one.
    work: Any
    env: dict[str, str]
    #: Session ids by username, as the tests create them.
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def layout(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    work = tmp_path_factory.mktemp("cluster-e2e")
    # A private Grid: this module kills one of its nodes.
    cluster = cluster_script.start(work / "grid", nodes=2, max_sessions=2)
    processes: dict[str, Any] = {}
    env = {**cluster_script.api_environment(cluster, work / "downloads", Fernet.generate_key().decode()),
           **cluster_script.sandbox_environment(sandbox.base_url),
           "EMODAL_API_KEYS": f"{KEY},{OTHER_KEY}", "MAX_SESSIONS": "4", "SERVER_THREADS": "8",
           "MAX_CONCURRENT_LOGINS": "2", "CAPTCHA_POLL_INTERVAL": "0.3", "LOGIN_TIMEOUT": "90",
           "CAPTCHA_TIMEOUT": "60", "SHUTDOWN_GRACE": "5", "REFRESH_CHECK_INTERVAL": "5",
           "JOB_SCAN_INTERVAL": "2"}
    try:
        for name in ("api-a", "api-b"):
            processes[name] = cluster_script.start_api(work, name, env)
        yield Layout(cluster, processes, *(Client(p.url, {"X-API-Key": KEY}) for p in processes.values()),
                     work=work, env=env)
    finally:
        for process in processes.values():
            process.stop()
        cluster.stop()
        sandbox.admin.reset()  # the booking below consumed shared capacity


def credentials(username: str) -> dict[str, str]:
    return {"username": username, "password": PASSWORDS[username], "captcha_api_key": SOLVER_KEY}


def solver_tasks(sandbox: Any) -> int:
    return int(sandbox.admin.solver_tasks()["tasks_created"])


def grid_sessions(cluster: Any) -> dict[str, list[str]]:
    """Node URI -> the WebDriver session ids it runs."""
    return {node["uri"]: [slot["session"]["sessionId"] for slot in node["slots"] if slot.get("session")]
            for node in cluster.status()["nodes"] if node.get("availability") == "UP"}


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text[:500]
    return response.json()


def workbook_rows(content: bytes) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return list(book[book.sheetnames[0]].iter_rows(values_only=True))


def test_a_session_logged_in_through_a_is_used_through_b_with_its_files(layout: Layout, sandbox: Any) -> None:
    solved = solver_tasks(sandbox)
    created = ok(layout.a.post("/get_session", json=credentials("jdoe")))
    sid = layout.ids["jdoe"] = created["session_id"]
    assert created["is_new"] is True
    browsers = [s for ids in grid_sessions(layout.cluster).values() for s in ids]
    assert len(browsers) == 1

    containers = layout.b.post("/get_containers", json={"session_id": sid, "infinite_scrolling": False})
    assert containers.status_code == 200 and containers.headers["Content-Type"].startswith(XLSX)
    assert containers.headers["X-Session-Id"] == sid and containers.headers["X-Is-New-Session"] == "false"
    assert len(workbook_rows(containers.content)) - 1 == int(containers.headers["X-Total-Containers"]) > 0

    # The portal's own Excel export: downloaded on a Grid node, fetched through managed downloads.
    export = layout.b.post("/get_appointments", json={"session_id": sid, "infinite_scrolling": False,
                                                       "target_count": 3, "format": "xlsx"})
    assert export.status_code == 200 and export.headers["X-Total-Appointments"] == "3", export.text[:300]
    oracle = [a["number"] for a in sandbox.admin.get("accounts/jdoe/appointments")["appointments"][:3]]
    rows = workbook_rows(export.content)
    assert rows[0][0] == "Appointment #" and [row[0] for row in rows[1:]] == oracle

    assert solver_tasks(sandbox) == solved + 1  # the one login, on A
    assert [s for ids in grid_sessions(layout.cluster).values() for s in ids] == browsers  # no new browser
    health = ok(layout.b.get("/health"))
    assert health["instance"] == "api-b" and health["state"]["backend"] == "redis"
    assert health["active_sessions"] == 1  # A's session, counted by B: MAX_SESSIONS is cluster-wide
    grid = health["grid"]
    assert (grid["url"], grid["nodes_up"], grid["slots_total"], grid["slots_free"]) == (layout.cluster.grid_url, 2, 4, 3)
    assert [s["session_id"] for s in ok(layout.a.get("/sessions"))["sessions"]] == [sid]
    assert 'instance="api-b"' in layout.b.get("/metrics").text


def test_calls_on_one_session_through_a_and_b_run_one_after_the_other(layout: Layout, sandbox: Any) -> None:
    sid = layout.ids["jdoe"]
    since = sandbox.admin.get("requests")["last_seq"]
    with ThreadPoolExecutor(2) as pool:
        on_a = pool.submit(layout.a.post, "/get_appointments",
                           json={"session_id": sid, "infinite_scrolling": False, "format": "json"})
        on_b = pool.submit(layout.b.post, "/get_containers",
                           json={"session_id": sid, "infinite_scrolling": False, "format": "json"})
        ok(on_a.result())
        ok(on_b.result())
    log = [(e["path"].split("/")[1], e["kind"]) for e in sandbox.admin.get(f"requests?since={since}")["requests"]
           if e["path"].startswith(("/truckerportal/", "/ecp2/"))]
    # Each operation begins with the page load of its portal app and then talks to that app only.
    starts = {app: next(i for i, (where, kind) in enumerate(log) if where == app and kind == "page")
              for app in ("truckerportal", "ecp2")}
    first, second = sorted(starts, key=starts.get)
    assert any(where == first and kind == "xhr" for where, kind in log[starts[first]:starts[second]])
    assert all(where == first for where, _ in log[starts[first]:starts[second]]), log
    assert all(where == second for where, _ in log[starts[second]:]), log


def test_kill_9_of_an_instance_mid_workload_loses_no_session_and_books_nothing_twice(
        layout: Layout, sandbox: Any) -> None:
    jdoe = layout.ids["jdoe"]
    asmith = layout.ids["asmith"] = ok(layout.a.post("/get_session", json=credentials("asmith")))["session_id"]
    checked = ok(layout.a.post("/check_appointments", json={"session_id": jdoe, **PICK_FULL}))
    booking = {"session_id": jdoe, "appointment_session_id": checked["appointment_session_id"],
               "appointment_time": checked["available_times"][0]}
    made = ok(layout.a.post("/make_appointment", json=booking, headers={"Idempotency-Key": "cluster-kill-1"}))
    assert made["appointment_confirmed"] is True
    solved = solver_tasks(sandbox)
    since = sandbox.admin.get("requests")["last_seq"]

    pool = ThreadPoolExecutor(2)
    in_flight = [pool.submit(layout.a.post, "/get_containers", json={"session_id": jdoe, "format": "json"}),
                 pool.submit(layout.a.post, "/get_container_timeline", json={"session_id": asmith, "container_id": EISU})]
    # Killed while A scrolls jdoe's Containers grid (its XHR batches reach the portal).
    eventually(lambda: sum(e["path"].startswith("/ecp2/api/") for e in
                           sandbox.admin.get(f"requests?since={since}")["requests"]) >= 3,
               120, "A scrolling the Containers grid")
    layout.processes["api-a"].kill()
    for future in in_flight:
        with pytest.raises(requests.RequestException):
            future.result()
    pool.shutdown()

    # B waits for A's lease to run out, attaches to the browsers and carries on.
    timeline = ok(layout.b.post("/get_container_timeline", json={"session_id": jdoe, "container_id": MSCU}))
    assert timeline["session_id"] == jdoe and timeline["container_id"] == MSCU
    number = ok(layout.b.post("/get_booking_number", json={"session_id": jdoe, "container_id": TRHU}))
    assert (number["session_id"], number["booking_number"]) == (jdoe, "RICFEM100200")
    other = ok(layout.b.post("/get_container_timeline", json={"session_id": asmith, "container_id": EISU}))
    assert other["session_id"] == asmith
    by_credentials = ok(layout.b.post("/get_session", json=credentials("asmith")))
    assert by_credentials["session_id"] == asmith and by_credentials["is_new"] is False
    replay = layout.b.post("/make_appointment", json=booking, headers={"Idempotency-Key": "cluster-kill-1"})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["confirmation_number"] == made["confirmation_number"]
    booked = [a for a in sandbox.admin.get("accounts/jdoe/appointments")["appointments"]
              if a["container"] == PICK_FULL["container_id"] and a["status"] == "CONFIRMED"]
    assert [a["number"] for a in booked] == [made["confirmation_number"]]
    assert solver_tasks(sandbox) == solved  # no captcha: nothing logged in again


def test_a_lost_grid_node_brings_its_sessions_back_on_the_other_under_the_same_ids(
        layout: Layout, sandbox: Any) -> None:
    before = grid_sessions(layout.cluster)
    holder_uri = max(before, key=lambda uri: len(before[uri]))
    lost = len(before[holder_uri])
    assert lost >= 1
    holder = next(node for node in layout.cluster.nodes if node.url == holder_uri)
    solved = solver_tasks(sandbox)
    holder.kill()
    eventually(lambda: holder_uri not in grid_sessions(layout.cluster), 120, "the hub to see the node gone")

    recovered = {}
    for username, container in (("jdoe", MSCU), ("asmith", EISU)):
        body = ok(layout.b.post("/get_container_timeline",
                                json={"session_id": layout.ids[username], "container_id": container}))
        assert body["session_id"] == layout.ids[username]
        recovered[username] = body.get("session_recovered", False)
    assert sum(recovered.values()) == lost
    after = grid_sessions(layout.cluster)
    assert list(after) != [holder_uri] and sum(len(ids) for ids in after.values()) == 2
    assert solver_tasks(sandbox) == solved  # rebuilt from the stored portal cookies, no login


def test_a_full_grid_answers_capacity_exhausted_at_once(layout: Layout, sandbox: Any) -> None:
    # One node is left with its two slots taken by jdoe's and asmith's browsers.
    assert ok(layout.b.get("/health"))["grid"]["slots_free"] == 0
    solved = solver_tasks(sandbox)
    other_tenant = Client(layout.b.base_url, {"X-API-Key": OTHER_KEY})
    response = other_tenant.post("/get_session", json=credentials("jdoe"))
    assert response.status_code == 503 and response.json()["error_type"] == "capacity_exhausted", response.text
    assert "none free" in response.json()["details"] and response.headers["Retry-After"]
    assert solver_tasks(sandbox) == solved


def test_a_job_whose_instance_is_killed_mid_job_finishes_on_another_with_every_row_once(
        layout: Layout, sandbox: Any) -> None:
    jdoe = layout.ids["jdoe"]
    exports = [row["number"] for row in sandbox.admin.get("accounts/jdoe/containers")["containers"]
               if row["trade_type"] == "EXPORT"][:5]
    c = layout.processes["api-c"] = cluster_script.start_api(layout.work, "api-c", layout.env)
    on_c = Client(c.url, {"X-API-Key": KEY})
    # Each item held a second: C is still mid-job when it is killed after its first item.
    with slow_container_details(sandbox, len(exports), delay_ms=1000):
        created = on_c.post("/jobs", json={"kind": "info_bulk", "session_id": jdoe,
                                           "params": {"export_containers": exports}})
        assert created.status_code == 202, created.text
        job_id = created.json()["job_id"]
        eventually(lambda: on_c.get(f"/jobs/{job_id}").json()["progress"]["done"] >= 1, 180, "a first item stored")
        assert f"job {job_id} progress 1/" in c.log_tail(400)  # by C's worker (the lease was free, C was first)
        c.kill()  # mid-job: its lease on the job (and on jdoe's browser) runs out, nobody releases it
        assert layout.b.get(f"/jobs/{job_id}").json()["status"] == "running"

        done = eventually(lambda: (body := layout.b.get(f"/jobs/{job_id}").json())["status"] not in ("queued", "running")
                          and body, 240, "B to finish the job")
        assert done["status"] == "succeeded" and done["progress"]["done"] == len(exports), done
        rows = ok(layout.b.get(f"/jobs/{job_id}/result"))["rows"]
        assert [r["container_id"] for r in rows] == exports  # complete, each once, in order
        truth = {row["number"]: row["booking_number"] for row in sandbox.admin.get("accounts/jdoe/containers")["containers"]}
        assert all(r["success"] for r in rows), [(r.get("error_type"), r.get("error")) for r in rows]
        assert [r["booking_number"] for r in rows] == [truth[n] for n in exports]
        assert "resuming after item" in layout.processes["api-b"].log_tail(400)
