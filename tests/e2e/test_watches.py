"""Container watches end to end (issue 12 section 3): a keep-alive session's refresh ticks read the
real grid in headless Chromium against the sandbox; a sandbox ``PATCH`` becomes one signed
``container.changed`` (+ ``container.lfd_changed``) event at a local receiver that verifies the
signature with the ``standardwebhooks`` library. The oracle is the sandbox's admin API.

One service of this module's own (low WATCH_INTERVAL and refresh intervals, private webhook
addresses allowed), one asmith session (60 containers: a fast grid).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import Client, RunningService, eventually, start_service
from tests.unit.webhook_receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

WATCHED = "EISU8000080"  # asmith: IMPORT, IN YARD, holds NO, at ITS
UNKNOWN = "TGBU2000026"  # a valid number of jdoe's, not in asmith's grid


@pytest.fixture(scope="module")
def watch_service(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    running = start_service(sandbox, tmp_path_factory.mktemp("watches") / "downloads", watch_interval=2,
                            refresh_check_interval=1, session_refresh_interval=2, webhook_allow_private=True,
                            max_sessions=2)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _day(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


@pytest.fixture
def lfd_of_watched(sandbox: Any) -> Iterator[tuple[date, date]]:
    """The container's LFD and good-through day; put back afterwards (the sandbox is shared)."""
    row = next(c for c in sandbox.admin.get("accounts/asmith/containers")["containers"] if c["number"] == WATCHED)
    lfd, gtd = (_day(part.strip()) for part in row["lfd_gtd"].split(" - "))
    yield lfd, gtd
    sandbox.admin.patch(f"accounts/asmith/containers/{WATCHED}", {"lfd": lfd.isoformat(), "gtd": gtd.isoformat()})


def _signed(receiver: Receiver, secret: str, event_type: str) -> list[dict[str, Any]]:
    """Every request of ``event_type``, each verified (raises on a bad signature), with its webhook-id."""
    out = []
    for request in list(receiver.received):
        if json.loads(request.body)["type"] == event_type:
            out.append({**Webhook(secret).verify(request.body, request.headers), "id": request.headers["webhook-id"]})
    return out


def test_a_sandbox_patch_becomes_one_signed_container_changed_event(
        watch_service: RunningService, sandbox: Any, receiver: Receiver, lfd_of_watched: tuple[date, date],
        credentials: Callable[..., dict[str, str]]) -> None:
    client = Client(watch_service.base_url)
    session = client.post("/get_session", json={**credentials("asmith"), "keep_alive": True})
    assert session.status_code == 200 and session.json()["keep_alive"] is True, session.text
    session_id = session.json()["session_id"]
    hook = client.post("/webhooks", json={"url": receiver.url + "/events",
                                          "events": ["container.changed", "container.lfd_changed"]}).json()
    created = client.post("/watches", json={"session_id": session_id, "containers": [WATCHED, UNKNOWN],
                                            "fields": ["lfd", "holds"]})
    assert created.status_code == 201, created.text
    watch_id = created.json()["watch_id"]

    # First pass: a baseline for the known container, not_found for the other, signed.
    eventually(lambda: client.get(f"/watches/{watch_id}").json()["last_checked_at"], 120, "the baseline pass")
    eventually(lambda: _signed(receiver, hook["secret"], "container.changed"), 30, "the not_found event")
    [not_found] = _signed(receiver, hook["secret"], "container.changed")
    assert not_found["data"]["container"] == UNKNOWN and not_found["data"]["not_found"] is True
    events = client.get(f"/watches/{watch_id}/events").json()["events"]
    assert [(e["type"], e["container"], e["event_id"]) for e in events] == [
        ("container.changed", UNKNOWN, not_found["id"])]

    lfd, _ = lfd_of_watched
    new_lfd = lfd + timedelta(days=3)
    sandbox.admin.patch(f"accounts/asmith/containers/{WATCHED}", {"lfd": new_lfd.isoformat()})
    eventually(lambda: len(client.get(f"/watches/{watch_id}/events").json()["events"]) >= 3, 120,
               "the change to be seen")
    # A further pass after the change reports nothing new: exactly one event per change.
    seen_at = client.get(f"/watches/{watch_id}").json()["last_checked_at"]
    eventually(lambda: client.get(f"/watches/{watch_id}").json()["last_checked_at"] != seen_at, 60, "another pass")
    assert receiver.wait_for(3)
    change = {"before": lfd.strftime("%m/%d/%Y"), "after": new_lfd.strftime("%m/%d/%Y")}
    changed = [e for e in _signed(receiver, hook["secret"], "container.changed") if e["data"]["container"] == WATCHED]
    assert len(changed) == 1 and changed[0]["data"]["changes"] == {"lfd": change}, changed
    [lfd_changed] = _signed(receiver, hook["secret"], "container.lfd_changed")
    assert {k: lfd_changed["data"][k] for k in ("container", "before", "after")} == {"container": WATCHED, **change}
    events = client.get(f"/watches/{watch_id}/events").json()["events"]
    assert [(e["type"], e["container"], e["event_id"]) for e in events[1:]] == [
        ("container.changed", WATCHED, changed[0]["id"]), ("container.lfd_changed", WATCHED, lfd_changed["id"])]
    assert events[1]["changes"] == {"lfd": change} and events[1]["watch_id"] == watch_id
    assert len(receiver.received) == 3

    assert client.delete(f"/watches/{watch_id}").status_code == 200
    assert client.get(f"/watches/{watch_id}/events").status_code == 404
