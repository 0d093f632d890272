"""Browsers left behind by a killed run (issue 15 item 14): the ledger in the state store and the
start-up reaping, with plain ``sleep``/``python`` processes standing in for ChromeDriver/Chromium.
The start-time check is the point: a recorded PID now used by another process is never signalled."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from emodal.browser.factory import BrowserFactory, group_pids
from emodal.browser.ledger import NAMESPACE, BrowserLedger, process_started
from emodal.config import Settings
from emodal.state import SQLiteStore

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    made: list[subprocess.Popen[bytes]] = []
    yield made
    for proc in made:
        proc.kill()
        proc.wait(10)


def dead_owner() -> tuple[int, float]:
    """(pid, start time) of a process that has exited: an earlier run of the service."""
    proc = subprocess.Popen(["true"])
    started = process_started(proc.pid) or time.time()
    proc.wait(10)
    return proc.pid, started


def gone(pid: int) -> bool:
    return process_started(pid) is None


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not gone(pid):
        time.sleep(0.05)
    return gone(pid)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "state.db")
    yield opened
    opened.close()


def factory_of(store: SQLiteStore) -> BrowserFactory:
    return BrowserFactory(Settings(downloads_dir=store.path.parent), ledger=BrowserLedger(store))


def test_stale_browser_group_is_killed_when_its_leader_has_the_recorded_start_time(
        tmp_path: Path, store: SQLiteStore, spawned: list[subprocess.Popen[bytes]]) -> None:
    leader = subprocess.Popen(SLEEPER, start_new_session=True)
    spawned.append(leader)
    BrowserLedger(store, owner=dead_owner()).record(leader.pid, tmp_path / "emodal-browser-x")
    factory = factory_of(store)
    assert factory.reap_stale() == 1
    assert leader.wait(10) == -9 and factory.ledger.stale() == []


def test_reused_pid_is_never_killed(tmp_path: Path, store: SQLiteStore,
                                    spawned: list[subprocess.Popen[bytes]]) -> None:
    stranger = subprocess.Popen(SLEEPER, start_new_session=True)
    spawned.append(stranger)
    ledger = BrowserLedger(store, owner=dead_owner())
    ledger.record(stranger.pid, tmp_path / "emodal-browser-x")
    record = store.get(NAMESPACE, str(stranger.pid)).value
    record["started"] -= 3600  # our browser with this PID started an hour earlier: the PID was reused
    store.put(NAMESPACE, str(stranger.pid), record)
    factory = factory_of(store)
    assert factory.reap_stale() == 0
    assert stranger.poll() is None and group_pids(stranger.pid) == [stranger.pid]
    assert factory.ledger.stale() == []  # the record is dropped, the process untouched


def test_without_its_leader_only_members_naming_the_profile_are_killed(tmp_path: Path, store: SQLiteStore) -> None:
    profile = tmp_path / "emodal-browser-abc"
    code = "import time; time.sleep(120)"
    leader = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "{code}" {profile} & '
                                           f'"{sys.executable}" -c "{code}" elsewhere & exit 0'],
                              start_new_session=True)
    leader.wait(10)  # ChromeDriver died; its Chromium processes are left in the group
    members = wait_for_execs(leader.pid, 2)
    ours = next(pid for pid, cmdline in members.items() if str(profile) in cmdline)
    other = next(pid for pid in members if pid != ours)
    try:
        ledger = BrowserLedger(store, owner=dead_owner())
        ledger.record(ours, profile)  # written as for the leader, with the recorded leader's pgid:
        record = store.get(NAMESPACE, str(ours)).value
        store.delete(NAMESPACE, str(ours))
        store.put(NAMESPACE, str(leader.pid), {**record, "pgid": leader.pid})
        assert factory_of(store).reap_stale() == 1
        assert wait_gone(ours) and not gone(other)
    finally:
        for pid in members:
            if not gone(pid):
                psutil.Process(pid).kill()


def test_records_of_a_live_owner_are_not_stale(tmp_path: Path, store: SQLiteStore,
                                               spawned: list[subprocess.Popen[bytes]]) -> None:
    browser = subprocess.Popen(SLEEPER, start_new_session=True)
    spawned.append(browser)
    BrowserLedger(store).record(browser.pid, tmp_path / "emodal-browser-x")  # this process owns it
    assert factory_of(store).reap_stale() == 0 and browser.poll() is None
    BrowserLedger(store).forget(browser.pid)
    assert BrowserLedger(store).stale() == [] and store.scan(NAMESPACE) == []


def wait_for_execs(pgid: int, count: int) -> dict[int, list[str]]:
    """The ``count`` python members of group ``pgid`` once they run python (a forked shell child
    still shows the shell's whole command line, which names every argument)."""
    deadline = time.monotonic() + 10
    while True:
        members = {pid: psutil.Process(pid).cmdline() for pid in group_pids(pgid)}
        if sum(cmd[:1] == [sys.executable] for cmd in members.values()) == count or time.monotonic() > deadline:
            return members
        time.sleep(0.05)
