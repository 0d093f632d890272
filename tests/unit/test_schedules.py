"""Schedules without threads: next-run computation (every, cron in a time zone across DST), the
scheduler's tick on a fake clock (fires due schedules once, under a lease), and self-pausing when
the schedule's session is gone."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from emodal.jobs import JobSpec, StoreEventSink
from emodal.jobs.schedules import LEASE_TTL_S, MAX_WAIT_S, Scheduler, ScheduleStore
from emodal.jobs.service import JobService
from emodal.jobs.store import JobStore
from emodal.jobs.timing import ScheduleError, next_run, parse_cron, parse_every, parse_timezone
from emodal.sessions.credentials import Credentials
from emodal.sessions.session import SessionState
from emodal.state import SecretBox, SQLiteStore, new_key

LA = ZoneInfo("America/Los_Angeles")
TENANT = "t1"
SID = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg"
WEEKDAYS_EVERY_2H = "0 6-18/2 * * 1-5"


def at(*parts: int, zone: ZoneInfo = LA) -> float:
    return datetime(*parts, tzinfo=zone).timestamp()


def local(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, LA)


# --- timing ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("1d", 86400),
                                               (" 2H ", 7200), ("60s", 60)])
def test_every_texts(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "30s", "-1h", "1m30h"])
def test_bad_every_texts(text: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_every(text)
    assert raised.value.field == "every"


@pytest.mark.parametrize("text", ["61 * * * *", "* * * *", "* * * * * *", "a b c d e", "0 25 * * *"])
def test_bad_cron_texts(text: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_cron(text)
    assert raised.value.field == "cron"


def test_bad_timezone() -> None:
    with pytest.raises(ScheduleError):
        parse_timezone("Mars/Olympus")


def test_cron_runs_in_its_time_zone_across_dst() -> None:
    friday_evening = at(2026, 3, 6, 17, 30)
    first = next_run(after=friday_evening, cron=WEEKDAYS_EVERY_2H, timezone="America/Los_Angeles")
    assert local(first) == datetime(2026, 3, 6, 18, 0, tzinfo=LA)
    # The weekend is skipped and Monday 06:00 is local time after the DST change of Sunday 8 March.
    monday = next_run(after=first, cron=WEEKDAYS_EVERY_2H, timezone="America/Los_Angeles")
    assert local(monday).replace(tzinfo=None) == datetime(2026, 3, 9, 6, 0)
    assert local(monday).utcoffset().total_seconds() == -7 * 3600
    utc = next_run(after=friday_evening, cron=WEEKDAYS_EVERY_2H, timezone="UTC")
    assert datetime.fromtimestamp(utc, ZoneInfo("UTC")).hour % 2 == 0 and utc != first


def test_every_keeps_its_phase_and_skips_missed_runs() -> None:
    anchor = 1_000_000.0
    assert next_run(after=anchor, every_s=7200, anchor=anchor) == anchor + 7200
    assert next_run(after=anchor + 7200, every_s=7200, anchor=anchor) == anchor + 14400  # strictly after
    # Down for 5 hours: one run at the next due time of the old rhythm, not three in a burst.
    assert next_run(after=anchor + 5 * 3600, every_s=7200, anchor=anchor) == anchor + 6 * 3600


# --- the scheduler ------------------------------------------------------------------------------------------
class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Registry:
    """``get(tenant, id)``: the one session with its state, or None (deleted)."""

    def __init__(self, state: SessionState | None = SessionState.READY) -> None:
        self.state = state

    def get(self, tenant: str | None, session_id: str) -> Any:
        return None if self.state is None else SimpleNamespace(state=self.state)


@pytest.fixture
def parts(tmp_path: Any) -> Any:
    store = SQLiteStore(tmp_path / "state.db")
    box = SecretBox(new_key())
    clock = Clock(at(2026, 3, 6, 9, 0))
    jobs = JobService(JobStore(store, box, retention_s=3600, clock=clock), lambda: None, StoreEventSink(store),
                      workers=1)
    schedules = ScheduleStore(store, box, clock=clock)
    yield SimpleNamespace(store=store, clock=clock, jobs=jobs, schedules=schedules)
    store.close()


def scheduler(parts: Any, registry: Registry) -> Scheduler:
    return Scheduler(parts.schedules, parts.jobs, registry, StoreEventSink(parts.store), clock=parts.clock)


def every_2h(parts: Any, spec: JobSpec | None = None) -> dict[str, Any]:
    return parts.schedules.create(TENANT, spec or JobSpec("my_appointments", {}, SID), every="2h", every_s=7200,
                                  cron=None, timezone="UTC", base_url="http://svc")


def test_a_due_schedule_creates_one_job_and_persists_its_next_run(parts: Any) -> None:
    schedule = every_2h(parts)
    ticker = scheduler(parts, Registry())
    assert ticker.tick() == MAX_WAIT_S and parts.jobs.list(TENANT) == []  # not due yet
    parts.clock.now = schedule["next_run"] + 1
    ticker.tick()
    [job] = parts.jobs.list(TENANT)
    assert job["schedule_id"] == schedule["id"] and job["status"] == "queued" and job["kind"] == "my_appointments"
    assert parts.jobs.spec(job) == JobSpec("my_appointments", {}, SID)
    fired = parts.schedules.get(TENANT, schedule["id"])
    assert fired["next_run"] == schedule["next_run"] + 7200 and fired["last_job_id"] == job["id"]
    assert fired["runs"] == 1
    parts.clock.now = fired["next_run"] - 10
    assert ticker.tick() == 10  # waits for the next due time (at most MAX_WAIT_S)
    assert len(parts.jobs.list(TENANT)) == 1


def test_another_instance_holding_the_lease_fires_it_instead(parts: Any) -> None:
    schedule = every_2h(parts)
    parts.clock.now = schedule["next_run"]
    assert parts.store.acquire_lease(f"schedule:{schedule['id']}", "other-instance", LEASE_TTL_S)
    scheduler(parts, Registry()).tick()
    assert parts.jobs.list(TENANT) == [] and parts.schedules.get(TENANT, schedule["id"])["runs"] == 0


@pytest.mark.parametrize(("state", "reason"), [(None, "session_deleted"),
                                               (SessionState.NEEDS_ATTENTION, "session_needs_attention")])
def test_a_schedule_whose_session_is_gone_pauses_itself(parts: Any, state: Any, reason: str) -> None:
    schedule = every_2h(parts)
    parts.clock.now = schedule["next_run"]
    scheduler(parts, Registry(state)).tick()
    paused = parts.schedules.get(TENANT, schedule["id"])
    assert paused["paused"] is True and paused["paused_reason"] == reason
    assert parts.jobs.list(TENANT) == []
    [event] = StoreEventSink(parts.store).events(TENANT)
    assert event["type"] == "schedule.paused" and event["data"] == {
        "schedule_id": schedule["id"], "kind": "my_appointments", "reason": reason}
    parts.clock.now += 86400
    scheduler(parts, Registry()).tick()  # paused: never fires
    assert parts.jobs.list(TENANT) == []


def test_a_schedule_with_credentials_never_pauses_for_its_session(parts: Any) -> None:
    spec = JobSpec("my_appointments", {}, None, Credentials("jdoe", "pw", "key"))
    schedule = every_2h(parts, spec)
    parts.clock.now = schedule["next_run"]
    scheduler(parts, Registry(None)).tick()
    assert len(parts.jobs.list(TENANT)) == 1


def test_resume_counts_the_next_run_from_now(parts: Any) -> None:
    schedule = every_2h(parts)
    parts.schedules.set_paused(TENANT, schedule["id"], True, "paused_by_client")
    parts.clock.now = schedule["created_at"] + 5 * 3600
    resumed = parts.schedules.set_paused(TENANT, schedule["id"], False)
    assert resumed["paused"] is False and resumed["paused_reason"] is None
    assert resumed["next_run"] == schedule["created_at"] + 6 * 3600


def test_cron_schedule_first_run(parts: Any) -> None:
    schedule = parts.schedules.create(TENANT, JobSpec("my_appointments", {}, SID), every=None, every_s=None,
                                      cron=WEEKDAYS_EVERY_2H, timezone="America/Los_Angeles", base_url="http://svc")
    assert local(schedule["next_run"]) == datetime(2026, 3, 6, 10, 0, tzinfo=LA)
