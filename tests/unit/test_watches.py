"""Container watches (issue 12 section 3), browser-free: the diff/event rules (pure), a watch pass
over a stub runner and a real SQLite store, the refresher's tick hook on a real registry with a
fake browser, and the ``/watches`` routes over a fake registry."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from emodal.app import shutdown
from emodal.api.auth import tenant_id
from emodal.errors import PortalRejected, PortalTimeout
from emodal.jobs import StoreEventSink
from emodal.operations.containers import read_grid
from emodal.sessions import Refresher
from emodal.state import SecretBox, SQLiteStore, new_key
from emodal.watches import WatchHook, WatchStore
from emodal.watches.diff import (AVAILABLE, CHANGED, LFD_CHANGED, SLOTS_OPENED, container_events, grid_values,
                                 kept)
from tests.unit.fake_registry import FakeRegistry, FakeSession, make_app
from tests.unit.test_registry_logic import JDOE
from tests.unit.test_registry_logic import make as make_registry

ROW = {"container_number": "TGBU2000026", "trade_type": "IMPORT", "status": "IN YARD", "holds": "NO",
       "pregate_ticket": "N/A", "emodal_pregate_status": "N/A", "gate_status": "N/A", "current_loc": "TTI",
       "fees": "$0.00", "lfd_gtd": "11/26/2025 - 11/27/2025"}


def found(**changes: Any) -> dict[str, Any]:
    return {"found": True, "values": grid_values({**ROW, **changes})}


# --- diff rules (pure) ---------------------------------------------------------------------------------
def test_first_reading_is_a_baseline_and_an_unknown_container_is_reported() -> None:
    assert container_events(["lfd"], None, found()) == []
    assert container_events(["lfd"], None, {"found": False}) == [(CHANGED, {"not_found": True, "changes": {}})]
    assert container_events(["lfd"], {"found": False}, {"found": False}) == []  # reported once
    assert container_events(["lfd"], found(), {"found": False}) == [(CHANGED, {"not_found": True, "changes": {}})]


def test_an_lfd_change_is_one_changed_and_one_lfd_changed_event() -> None:
    events = container_events(["lfd", "holds"], found(), found(lfd_gtd="11/28/2025 - 11/28/2025"))
    change = {"before": "11/26/2025", "after": "11/28/2025"}
    assert events == [(CHANGED, {"not_found": False, "changes": {"lfd": change}}), (LFD_CHANGED, change)]
    assert grid_values({**ROW, "lfd_gtd": "N/A"})["lfd"] is None


def test_unwatched_fields_are_never_reported() -> None:
    assert container_events(["lfd"], found(), found(holds="YES", fees="$90.00", current_loc="ITS")) == []


def test_holds_cleared_and_ready_for_pickup_make_container_available() -> None:
    held, free = found(holds="YES"), found(holds="NO")
    events = container_events(["holds"], held, free)
    assert events[0] == (CHANGED, {"not_found": False, "changes": {"holds": {"before": "YES", "after": "NO"}}})
    assert events[1] == (AVAILABLE, {"reasons": ["holds_cleared"], "status": "IN YARD", "holds": "NO"})
    # A status watch sees an import become ready for pick up (IN YARD, holds NO), here by the holds.
    assert container_events(["status"], held, free) == [
        (AVAILABLE, {"reasons": ["ready_for_pickup"], "status": "IN YARD", "holds": "NO"})]
    on_vessel = found(status="ON VESSEL")
    assert [e[0] for e in container_events(["status"], on_vessel, free)] == [CHANGED, AVAILABLE]
    assert container_events(["status"], found(trade_type="EXPORT", status="ON VESSEL"),
                            found(trade_type="EXPORT"))[1:] == []  # an export is never "ready for pick up"


def test_slot_counts_report_only_crossing_zero_and_opened_from_zero() -> None:
    def slots(count: int | None, first: str | None = None) -> dict[str, Any]:
        reading = found()
        if count is not None:
            reading["values"].update(appointment_slots=count, first_slot=first)
        return reading

    assert container_events(["appointment_slots"], slots(0), slots(3, "08:00")) == [
        (CHANGED, {"not_found": False, "changes": {"appointment_slots": {"before": 0, "after": 3}}}),
        (SLOTS_OPENED, {"before": 0, "after": 3, "first_slot": "08:00"})]
    assert container_events(["appointment_slots"], slots(3), slots(2)) == []
    assert container_events(["appointment_slots"], slots(3), slots(0))[0][1]["changes"] == {
        "appointment_slots": {"before": 3, "after": 0}}
    assert container_events(["appointment_slots"], slots(0), slots(None)) == []  # no answer this pass
    assert kept(slots(0), slots(None))["values"]["appointment_slots"] == 0  # ... the last one is kept


# --- a watch pass ----------------------------------------------------------------------------------------
class StubRunner:
    """``run_held`` answers the grid rows it holds and slot checks from ``slots`` (an exception: raised)."""

    def __init__(self) -> None:
        self.rows = [dict(ROW)]
        self.slots: Any = {"slots_count": 0, "first_slot": None}
        self.calls: list[str] = []

    def run_held(self, session: Any, operation: Any, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.calls.append(kw["route"])
        if operation is read_grid:
            return {"containers": [dict(r) for r in self.rows]}
        if isinstance(self.slots, Exception):
            raise self.slots
        return dict(self.slots)


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "state.db")
    yield store
    store.close()


def test_a_pass_records_a_baseline_then_emits_each_change_once(store: SQLiteStore) -> None:
    clock, runner = Clock(), StubRunner()
    sink = StoreEventSink(store, clock)
    watches = WatchStore(store, SecretBox(new_key()), clock)
    hook = WatchHook(watches, lambda: runner, sink, interval=600, clock=clock)  # type: ignore[arg-type,return-value]
    session = FakeSession("session_1_watchpass", "tenant-a")
    watch = watches.create("tenant-a", session.session_id, ["lfd", "holds"], ["TGBU2000026", "MSCU1234565"], None,
                           base_url="http://svc")
    assert hook.wants(session, clock.now) and not hook.wants(FakeSession("session_2_other", "tenant-a"), clock.now)
    hook.run(session)  # baseline; the unknown container is reported
    events = watches.events(watch["id"])
    assert [(e["type"], e["data"]["container"], e["data"]["not_found"]) for e in events] == [
        (CHANGED, "MSCU1234565", True)]
    assert not hook.wants(session, clock.now + 599)  # WATCH_INTERVAL after the last attempt
    runner.rows[0]["lfd_gtd"] = "11/28/2025"
    hook.run(session)  # not due yet: nothing read
    assert runner.calls == ["/watches"]
    clock.now += 600
    hook.run(session)
    hook.run(session)
    events = watches.events(watch["id"])[1:]
    assert [e["type"] for e in events] == [CHANGED, LFD_CHANGED]
    assert events[0]["data"]["changes"] == {"lfd": {"before": "11/26/2025", "after": "11/28/2025"}}
    assert {e["event_id"] for e in events} == {e["id"] for e in sink.events("tenant-a")[1:]}  # same ids
    assert watches.get(watch["id"])["last_checked_at"] == clock.now
    assert watches.delete(watch["id"]) and watches.events(watch["id"]) == []


def test_slot_checks_count_a_refused_move_as_zero_and_keep_errors(store: SQLiteStore) -> None:
    clock, runner = Clock(), StubRunner()
    watches = WatchStore(store, SecretBox(new_key()), clock)
    hook = WatchHook(watches, lambda: runner, StoreEventSink(store, clock), interval=1, clock=clock)  # type: ignore[arg-type,return-value]
    session = FakeSession("session_1_slots", "t")
    watch = watches.create("t", session.session_id, ["appointment_slots"], "all", {"terminal": "ITS"}, base_url="x")
    runner.slots = PortalRejected("holds")
    hook.run(session)
    clock.now += 1
    runner.slots = PortalTimeout("slow")
    hook.run(session)
    assert watches.get(watch["id"])["last_error"]["error_type"] == "portal_timeout"
    clock.now += 1
    runner.slots = {"slots_count": 4, "first_slot": "09:00"}
    hook.run(session)
    assert [e["type"] for e in watches.events(watch["id"])] == [CHANGED, SLOTS_OPENED]
    assert watches.get(watch["id"])["last_error"] is None


def test_a_failed_grid_read_is_recorded_and_retried_after_the_interval(store: SQLiteStore) -> None:
    clock, runner = Clock(), StubRunner()
    watches = WatchStore(store, SecretBox(new_key()), clock)
    hook = WatchHook(watches, lambda: runner, StoreEventSink(store, clock), interval=60, clock=clock)  # type: ignore[arg-type,return-value]
    session = FakeSession("session_1_fail", "t")
    watch = watches.create("t", session.session_id, ["lfd"], "all", None, base_url="x")
    runner.run_held = lambda *a, **k: (_ for _ in ()).throw(PortalTimeout("grid"))  # type: ignore[method-assign]
    hook.run(session)  # never raises
    stored = watches.get(watch["id"])
    assert stored["last_error"]["error_type"] == "portal_timeout" and stored["last_checked_at"] is None
    assert not hook.wants(session, clock.now + 59) and hook.wants(session, clock.now + 60)


# --- the refresher's tick hook ----------------------------------------------------------------------------
class RecordingHook:
    def __init__(self, wanted: bool) -> None:
        self.wanted, self.ran, self.locked = wanted, 0, []

    def wants(self, session: Any, now: float) -> bool:
        return self.wanted

    def run(self, session: Any) -> None:
        self.ran += 1
        self.locked.append(session.busy)


def test_a_due_watch_refreshes_even_a_regular_session_and_runs_under_its_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry, _ = make_registry(tmp_path, session_refresh_interval=300)
    session, _ = registry.resolve("t", None, JDOE, keep_alive=False, promote=False)
    registry.release(session)
    refreshed: list[str] = []
    monkeypatch.setattr(registry, "refresh", lambda s: refreshed.append(s.session_id) or False)
    idle = RecordingHook(wanted=False)
    Refresher(registry, registry.settings, idle).tick()
    assert refreshed == [] and idle.ran == 0  # neither the refresh nor a watch is due
    due = RecordingHook(wanted=True)
    Refresher(registry, registry.settings, due).tick()
    assert refreshed == [session.session_id] and due.ran == 1 and due.locked == [True]
    session.wizards["w"] = type("Wizard", (), {"last_used": time.time()})()
    Refresher(registry, registry.settings, due).tick()
    assert due.ran == 1  # a young open wizard keeps everyone off the session


# --- routes ------------------------------------------------------------------------------------------------
MY_KEY, OTHER_KEY = "my-tenant-key-0123456789abcdef01", "other-tenant-key-0123456789abcdef"
SID = "session_1764012345_watchRoutesToken01234"
CHECK = {"trucking_company": "SUNSET INTERMODAL INC", "terminal": "ITS Long Beach", "move_type": "PICK FULL",
         "truck_plate": "*"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    registry = FakeRegistry()
    registry.sessions[SID] = FakeSession(SID, tenant_id(MY_KEY))
    made, _ = make_app(tmp_path, registry, emodal_api_keys=(MY_KEY, OTHER_KEY))
    yield made
    shutdown(made)


def _call(app: Flask, method: str, path: str, key: str = MY_KEY, **kw: Any) -> Any:
    return getattr(app.test_client(), method)(path, headers={"X-API-Key": key}, **kw)


@pytest.mark.parametrize(("body", "error_type", "field"), [
    ({"containers": ["TGBU2000026"], "fields": ["lfd", "colour"]}, "invalid_field", "fields"),
    ({"containers": [], "fields": ["lfd"]}, "missing_fields", "containers"),
    ({"containers": "some", "fields": ["lfd"]}, "invalid_field", "containers"),
    ({"containers": "all", "fields": []}, "missing_fields", "fields"),
    ({"containers": "all", "fields": ["appointment_slots"]}, "missing_fields", "check_appointments"),
    ({"containers": "all", "fields": ["appointment_slots"], "check_appointments": {"terminal": "ITS"}},
     "missing_fields", None),
])
def test_bad_watch_requests_are_clear_400s(app: Flask, body: dict[str, Any], error_type: str,
                                           field: str | None) -> None:
    answer = _call(app, "post", "/watches", json={"session_id": SID, **body})
    assert answer.status_code == 400 and answer.json["error_type"] == error_type, answer.json
    if field is not None:
        assert field in answer.json["error"], answer.json
    assert _call(app, "get", "/watches").json["count"] == 0


def test_an_unknown_session_is_the_error_of_every_route(app: Flask) -> None:
    answer = _call(app, "post", "/watches", json={"session_id": "session_1_nope", "containers": "all",
                                                   "fields": ["lfd"]})
    assert answer.status_code == 400 and answer.json["error_type"] == "session_not_found", answer.json
    other = _call(app, "post", "/watches", OTHER_KEY, json={"session_id": SID, "containers": "all", "fields": ["lfd"]})
    assert other.json["error_type"] == "session_not_found"  # another tenant's session


def test_watch_routes_are_tenant_scoped_and_documented(app: Flask) -> None:
    created = _call(app, "post", "/watches", json={"session_id": SID, "containers": ["tgbu 200002-6"],
                                                    "fields": ["holds", "appointment_slots", "lfd"],
                                                    "check_appointments": CHECK})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["fields"] == ["lfd", "holds", "appointment_slots"] and body["containers"] == ["TGBU2000026"]
    assert body["last_checked_at"] is None and body["created_at"] and SID not in str(body)
    watch_id = body["watch_id"]
    assert [w["watch_id"] for w in _call(app, "get", "/watches").json["watches"]] == [watch_id]
    assert _call(app, "get", "/watches", OTHER_KEY).json["count"] == 0
    assert _call(app, "get", f"/watches/{watch_id}", OTHER_KEY).status_code == 404
    assert _call(app, "get", f"/watches/{watch_id}/events").json == {"success": True, "watch_id": watch_id,
                                                                      "count": 0, "events": []}
    assert _call(app, "delete", f"/watches/{watch_id}", OTHER_KEY).status_code == 404
    assert _call(app, "delete", f"/watches/{watch_id}").status_code == 200
    assert _call(app, "get", f"/watches/{watch_id}").status_code == 404
    paths = _call(app, "get", "/openapi.json").json["paths"]
    assert "201" in paths["/watches"]["post"]["responses"]
    for path, method in (("/watches", "get"), ("/watches/{watch_id}", "get"), ("/watches/{watch_id}", "delete"),
                         ("/watches/{watch_id}/events", "get")):
        assert method in paths[path], path
    assert set(paths["/watches"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]) == {
        "session_id", "containers", "fields", "check_appointments"}


def test_watch_events_expire_after_their_retention(store: SQLiteStore) -> None:
    watches = WatchStore(store, SecretBox(new_key()), event_retention=3600)
    watch = watches.create("tenant-a", "session_1_x", ["lfd"], ["MSCU1234565"], None, base_url="http://h")
    before = time.time()
    watches.add_event(watch["id"], {"type": CHANGED, "created_at": before, "data": {}}, 0)
    (record,) = store.scan("watch_events")
    assert record.expires_at is not None and before + 3600 <= record.expires_at <= time.time() + 3600
    assert [e["type"] for e in watches.events(watch["id"])] == [CHANGED]
