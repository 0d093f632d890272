"""The console's jobs and webhooks pages: the view models (pure), and the pages over a fake registry
with the app's real job store and outbox (records written directly, never run or sent: the job
workers only run what is queued through ``JobService.create`` and the delivery worker is stopped).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from emodal.api.auth import tenant_id
from emodal.api.console import views
from emodal.app import shutdown
from emodal.jobs.store import JobSpec
from emodal.webhooks.subscriptions import Subscription
from tests.unit.fake_registry import make_app
from tests.unit.test_console import ADMIN, KEY, NASTY, OTHER, csrf, signed_in

NOW = 1764012345.0


def job(status: str = "running", *, done: int = 0, total: int | None = None, current: str | None = None,
        tenant: str = "t1", **extra: Any) -> dict[str, Any]:
    return {"id": f"job_{status}_{done}", "tenant": tenant, "kind": "info_bulk", "status": status,
            "created_at": NOW, "started_at": NOW + 1 if status != "queued" else None, "finished_at": None,
            "progress": {"done": done, "total": total, "current": current}, "error": None,
            "schedule_id": None, **extra}


# --- view models -------------------------------------------------------------------------------------
def test_job_row_progress_percentage_and_times() -> None:
    row = views.job_row(job(done=3, total=8, current="MSCU1000017"), owner=False)
    assert (row["done"], row["total"], row["percent"], row["current"]) == (3, 8, 38, "MSCU1000017")
    assert row["active"] and row["owner"] is None
    assert row["created_at"] == "2025-11-24T19:25:45Z" and row["finished_at"] is None
    unplanned = views.job_row(job("queued"), owner=True)
    assert unplanned["percent"] is None and unplanned["started_at"] is None and unplanned["owner"] == "t1"
    assert views.job_row(job("running", total=0), owner=False)["percent"] is None  # nothing to do: no bar
    assert not views.job_row(job("cancelled"), owner=False)["active"]


def test_jobs_overview_lists_every_active_job_and_the_newest_finished_ones() -> None:
    jobs = [job("running", done=1), *[job("succeeded", done=n) for n in range(5)], job("queued"),
            job("failed", done=9)]
    active, recent, older = views.jobs_overview(jobs, owner=False, recent=3)
    assert [j["status"] for j in active] == ["running", "queued"]
    assert [j["id"] for j in recent] == ["job_succeeded_0", "job_succeeded_1", "job_succeeded_2"]
    assert older == 3


def schedule(**extra: Any) -> dict[str, Any]:
    return {"id": "sched_1", "tenant": "t1", "kind": "containers_sweep", "every": "30m", "cron": None,
            "timezone": "UTC", "paused": False, "paused_reason": None, "next_run": NOW + 60,
            "last_run_at": None, "last_job_id": None, "runs": 0, **extra}


def test_schedule_rows_timing_text_next_run_and_order() -> None:
    every = views.schedule_row(schedule(), owner=False)
    assert every["timing"] == "every 30m" and every["next_run"] == "2025-11-24T19:26:45Z"
    cron = views.schedule_row(schedule(every=None, cron="0 6 * * 1-5", timezone="Europe/Berlin"), owner=False)
    assert cron["timing"] == "cron 0 6 * * 1-5 (Europe/Berlin)"
    paused = views.schedule_row(schedule(paused=True, paused_reason="session_deleted"), owner=False)
    assert paused["next_run"] is None and paused["paused_reason"] == "session_deleted"
    ordered = views.schedule_rows([schedule(id="p", paused=True, next_run=NOW), schedule(id="late", next_run=NOW + 99),
                                   schedule(id="soon", next_run=NOW + 1)], owner=False)
    assert [s["id"] for s in ordered] == ["soon", "late", "p"]


def test_delivery_and_webhook_rows_join_urls_and_count_open_deliveries() -> None:
    delivery = {"id": "msg_1.wh_a", "subscription_id": "wh_a", "event_id": "msg_1", "event_type": "job.failed",
                "status": "pending", "attempts": 2, "created_at": NOW, "last_attempt_at": NOW + 5,
                "last_status_code": 500, "last_error": "HTTP 500", "delivered_at": None,
                "next_retry_at": NOW + 20, "give_up_at": NOW + 86400, "tenant": "t1"}
    gone = {**delivery, "id": "msg_2.wh_gone", "subscription_id": "wh_gone", "next_retry_at": None}
    rows = views.delivery_rows([delivery, gone], {"wh_a": "https://example.com/h"}, owner=True)
    assert rows[0]["url"] == "https://example.com/h" and rows[0]["owner"] == "t1"
    assert rows[0]["next_retry_at"] == "2025-11-24T19:26:05Z" and rows[0]["last_attempt_at"] == "2025-11-24T19:25:50Z"
    assert rows[1]["url"] is None and rows[1]["next_retry_at"] is None
    subscription = Subscription("wh_a", "t1", "https://example.com/h", ("job.failed",), False, NOW)
    webhooks = views.webhook_rows([subscription], [delivery, delivery, gone], owner=False)
    assert webhooks == [{"id": "wh_a", "url": "https://example.com/h", "events": ["job.failed"],
                         "follow_redirects": False, "created_at": "2025-11-24T19:25:45Z", "owner": None,
                         "unsettled": 2}]


def test_health_figures_read_what_health_reports() -> None:
    figures = {"active_sessions": 3, "max_sessions": 4, "session_capacity": "3/4", "persistent_sessions": 2,
               "busy_sessions": 1, "logins_in_progress": 1, "state": {"backend": "redis"}, "instance": "api-1"}
    shown = {f.key: f for f in views.health_figures(figures, {"status": "error"})}
    assert shown["capacity"].value == "3 / 4" and shown["capacity"].tone == "bad"  # the login holds the last slot
    assert shown["logins"].tone == "warn" and shown["portal"].tone == "bad"
    assert shown["store"].value == "redis" and shown["instance"].value == "api-1"
    bare = {f.key: f for f in views.health_figures({**figures, "state": None, "instance": None, "logins_in_progress": 0,
                                                    "active_sessions": 1}, {})}
    assert "instance" not in bare and bare["store"].value == "memory only" and bare["capacity"].tone == "ok"
    assert bare["portal"].value == "unknown"


# --- pages -------------------------------------------------------------------------------------------
@pytest.fixture
def keyed(tmp_path: Path) -> Any:
    app, _ = make_app(tmp_path, emodal_api_keys=(KEY, OTHER), emodal_admin_keys=(ADMIN,), webhook_allow_private=True,
                      instance_id="api-test-1")
    app.extensions["emodal_webhooks"].worker.stop()  # deliveries stay as the tests write them
    yield app
    shutdown(app)


def put_job(app: Any, key: str, **change: Any) -> dict[str, Any]:
    """A job record of ``key``'s tenant, stored but not queued (no worker runs it)."""
    store = app.extensions["emodal_jobs"].service.jobs
    created = store.create(tenant_id(key), JobSpec("info_bulk", {"import_containers": ["MSCU1000017"]}, "s1"),
                           base_url="http://localhost")
    return store.update(created["id"], lambda j: {**j, **change}) if change else created


def test_jobs_page_shows_this_keys_jobs_and_schedules_only(keyed) -> None:
    mine = put_job(keyed, KEY, status="running", started_at=NOW,
                   progress={"done": 2, "total": 5, "current": "MSCU1000017"})
    theirs = put_job(keyed, OTHER, status="failed", finished_at=NOW,
                     error={"error_type": "session_not_found", "message": NASTY})
    keyed.extensions["emodal_jobs"].schedules.create(tenant_id(KEY), JobSpec("my_appointments", {}, "s1"),
                                                      every="2h", every_s=7200, cron=None, timezone="UTC",
                                                      base_url="http://localhost")
    page = signed_in(keyed, KEY).get("/console/jobs").get_data(as_text=True)
    assert f'id="job-{mine["id"]}"' in page and theirs["id"] not in page
    assert '<progress max="5" value="2"' in page and "MSCU1000017" in page and "every 2h" in page
    assert 'id="figure-instance"' in page and "api-test-1" in page
    assert 'aria-current="page"' in page and 'href="/console/webhooks"' in page
    other = signed_in(keyed, OTHER).get("/console/jobs").get_data(as_text=True)
    assert theirs["id"] in other and mine["id"] not in other and "every 2h" not in other
    assert NASTY not in other and "&lt;b id=x&gt;&amp;&#34;&#39;&lt;/b&gt;" in other
    admin = signed_in(keyed, ADMIN).get("/console/jobs").get_data(as_text=True)
    assert mine["id"] in admin and theirs["id"] in admin and tenant_id(OTHER) in admin


def test_job_result_is_served_under_the_cookie_and_scoped(keyed) -> None:
    mine = put_job(keyed, KEY, status="running", progress={"done": 0, "total": 1, "current": None})
    client = signed_in(keyed, KEY)
    answer = client.get(f"/console/jobs/{mine['id']}/result")
    assert answer.status_code == 200 and answer.json["count"] == 0 and answer.json["complete"] is False
    workbook = client.get(f"/console/jobs/{mine['id']}/result?format=xlsx")
    assert workbook.status_code == 200 and workbook.headers["Content-Type"].startswith("application/vnd.openxml")
    assert signed_in(keyed, OTHER).get(f"/console/jobs/{mine['id']}/result").status_code == 404


def test_cancel_a_job_needs_the_csrf_token_and_the_owner(keyed) -> None:
    mine = put_job(keyed, KEY)
    client = signed_in(keyed, KEY)
    token = csrf(client.get("/console/jobs").get_data(as_text=True))
    assert client.post(f"/console/jobs/{mine['id']}/cancel").status_code == 403
    assert client.post(f"/console/jobs/{mine['id']}/cancel", data={"csrf_token": "forged"}).status_code == 403
    other = signed_in(keyed, OTHER)
    other_token = csrf(other.get("/console/jobs").get_data(as_text=True))
    assert other.post(f"/console/jobs/{mine['id']}/cancel", data={"csrf_token": other_token}).status_code == 404
    service = keyed.extensions["emodal_jobs"].service
    assert service.get(None, mine["id"])["status"] == "queued"
    done = client.post(f"/console/jobs/{mine['id']}/cancel", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"] == "/console/jobs"
    assert service.get(None, mine["id"])["status"] == "cancelled"
    page = client.get("/console/jobs").get_data(as_text=True)
    assert f"Cancelled job {mine['id']}" in page and "status-cancelled" in page
    again = client.post(f"/console/jobs/{mine['id']}/cancel", data={"csrf_token": token})
    assert "had already cancelled" in client.get(again.headers["Location"]).get_data(as_text=True)


def add_webhook(app: Any, key: str, url: str) -> tuple[str, str, str]:
    """A subscription of ``key`` and one pending test delivery to it: (subscription id, secret, delivery id)."""
    runtime = app.extensions["emodal_webhooks"]
    subscription, secret = runtime.subscriptions.create(tenant_id(key), url, ["job.failed"])
    event_id = runtime.outbox.send_test(tenant_id(key), subscription.id)
    return subscription.id, secret, f"{event_id}.{subscription.id}"


def test_webhooks_page_lists_open_deliveries_never_a_secret_and_escapes_urls(keyed) -> None:
    nasty_url = "http://127.0.0.1:9/hook?q=<b id=x>&r=\"'"
    wh, secret, delivery = add_webhook(keyed, KEY, nasty_url)
    other_wh, _, other_delivery = add_webhook(keyed, OTHER, "http://127.0.0.1:9/other")
    page = signed_in(keyed, KEY).get("/console/webhooks").get_data(as_text=True)
    assert f'id="delivery-{delivery}"' in page and f'id="webhook-{wh}"' in page and "webhook.test" in page
    assert other_delivery not in page and other_wh not in page
    assert secret not in page and "whsec_" not in page
    assert "<b id=x>" not in page and "hook?q=&lt;b id=x&gt;&amp;r=&#34;&#39;" in page
    admin = signed_in(keyed, ADMIN).get("/console/webhooks").get_data(as_text=True)
    assert delivery in admin and other_delivery in admin and tenant_id(OTHER) in admin


def test_retry_a_delivery_needs_the_csrf_token_and_makes_it_due(keyed) -> None:
    _, _, delivery = add_webhook(keyed, KEY, "http://127.0.0.1:9/hook")
    outbox = keyed.extensions["emodal_webhooks"].outbox
    outbox._store.put("webhook_deliveries", delivery, {**outbox.get(delivery).value, "status": "failed",
                                                        "attempts": 7, "next_attempt_at": None})
    client = signed_in(keyed, KEY)
    page = client.get("/console/webhooks").get_data(as_text=True)
    assert "none (gave up)" in page and "status-failed" in page
    assert client.post(f"/console/webhooks/deliveries/{delivery}/retry").status_code == 403
    other = signed_in(keyed, OTHER)
    other_token = csrf(other.get("/console/webhooks").get_data(as_text=True))
    assert other.post(f"/console/webhooks/deliveries/{delivery}/retry",
                      data={"csrf_token": other_token}).status_code == 404
    assert outbox.get(delivery).value["status"] == "failed"
    retried = client.post(f"/console/webhooks/deliveries/{delivery}/retry", data={"csrf_token": csrf(page)})
    assert retried.status_code == 303 and retried.headers["Location"] == "/console/webhooks"
    value = outbox.get(delivery).value
    assert value["status"] == "pending" and value["next_attempt_at"] is not None
    assert "attempt 8" in client.get("/console/webhooks").get_data(as_text=True)


def test_every_page_links_the_others(keyed) -> None:
    client = signed_in(keyed, KEY)
    for path in ("/console", "/console/jobs", "/console/webhooks"):
        page = client.get(path).get_data(as_text=True)
        links = set(re.findall(r'class="tab[^"]*" id="tab-\w+" href="([^"]+)"', page))
        assert links == {"/console", "/console/jobs", "/console/webhooks"}, path
        assert 'id="health"' in page
