"""SessionRegistry and Refresher bookkeeping with a fake login flow (no browser): single flight,
capacity counting logins in progress, the login queue, failed logins, shutdown and back-off."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from emodal.config import Settings
from emodal.errors import CapacityExhausted, InvalidCredentials, PortalUnavailable, ShuttingDown
from emodal.sessions import Credentials, Refresher, SessionRegistry, SessionState

JDOE = Credentials("jdoe", "pw", "key")
ASMITH = Credentials("asmith", "pw2", "key")


class FakeHandle:
    pgid = None

    def __init__(self) -> None:
        self.driver = type("Driver", (), {"current_url": "https://account.emodal.com/Home/Welcome?x=1"})()
        self.closed = False

    def alive(self) -> bool:
        return not self.closed

    def pids(self) -> list[int]:
        return []

    def close(self, quit_timeout: float = 15.0) -> int:
        self.closed = True
        return 0


class FakeFactory:
    """What the registry asks of the browser factory at shutdown and emergency recovery."""

    def __init__(self) -> None:
        self.shut_down = False

    def shutdown(self) -> int:
        self.shut_down = True
        return 0

    def reap(self, keep: set[int], min_age: float) -> int:
        return 0


class FakeLoginFlow:
    """Logins block on ``gate`` (when set up) and fail with ``error`` (when given)."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.captcha_solves = 0
        self.calls = 0
        self.started = threading.Event()
        self.gate: threading.Event | None = None
        self.error: BaseException | None = None
        self.handles: list[FakeHandle] = []

    def login(self, credentials: Credentials, *, handle: Any = None) -> Any:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.error is not None:
            raise self.error
        self.handles.append(FakeHandle())
        return self.handles[-1]


def make(tmp_path: Path, **overrides: Any) -> tuple[SessionRegistry, FakeLoginFlow]:
    values: dict[str, Any] = {"downloads_dir": tmp_path, "max_sessions": 3, "max_concurrent_logins": 2,
                              "server_threads": 8, "login_timeout": 5, "session_lock_timeout": 1}
    values.update(overrides)
    flow = FakeLoginFlow()
    return SessionRegistry(Settings(**values), FakeFactory(), flow), flow  # type: ignore[arg-type]


def run(target: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def body() -> None:
        try:
            out.append(target())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    return thread, out


def test_failed_single_flight_login_fails_every_waiter_and_leaves_nothing(tmp_path: Path) -> None:
    registry, flow = make(tmp_path)
    flow.gate, flow.error = threading.Event(), InvalidCredentials(details="portal message")
    first, first_out = run(lambda: registry.resolve("t", None, JDOE, keep_alive=True, promote=False))
    assert flow.started.wait(5)
    assert registry.stats()["logins_in_progress"] == 1 and registry.list()[0].state is SessionState.LOGGING_IN
    second, second_out = run(lambda: registry.resolve("t", None, JDOE, keep_alive=True, promote=False))
    flow.gate.set()
    first.join(10)
    second.join(10)
    assert isinstance(first_out[0], InvalidCredentials) and isinstance(second_out[0], InvalidCredentials)
    assert flow.calls == 1 and registry.list() == []
    assert registry.stats()["counters"]["logins"] == {"invalid_credentials": 1}
    assert registry.stats()["portal"]["status"] == "unknown"  # the caller's mistake, not the portal's


def test_logins_in_progress_count_against_max_sessions(tmp_path: Path) -> None:
    registry, flow = make(tmp_path, max_sessions=1, max_concurrent_logins=1)
    flow.gate = threading.Event()
    first, out = run(lambda: registry.resolve("t", None, JDOE, keep_alive=True, promote=False))
    assert flow.started.wait(5)
    with pytest.raises(CapacityExhausted):
        registry.resolve("t", None, ASMITH, keep_alive=True, promote=False)
    flow.gate.set()
    first.join(10)
    session, is_new = out[0]
    assert is_new and session.state is SessionState.READY
    assert session.current_url == "https://account.emodal.com/Home/Welcome"  # no query kept


def test_login_queue_is_bounded_by_login_timeout(tmp_path: Path) -> None:
    registry, flow = make(tmp_path, max_concurrent_logins=1, login_timeout=0.3)
    flow.gate = threading.Event()
    first, _ = run(lambda: registry.resolve("t", None, JDOE, keep_alive=True, promote=False))
    assert flow.started.wait(5)
    with pytest.raises(CapacityExhausted) as info:
        registry.resolve("t", None, ASMITH, keep_alive=True, promote=False)
    assert info.value.details == "login queue full"
    assert [s.username for s in registry.list()] == ["jdoe"]  # the queued one left no entry
    flow.gate.set()
    first.join(10)


def test_close_all_refuses_new_sessions_and_closes_busy_ones_after_grace(tmp_path: Path) -> None:
    registry, flow = make(tmp_path)
    session, _ = registry.resolve("t", None, JDOE, keep_alive=True, promote=False)
    with registry.acquire(session, "/get_containers", "r1"):
        assert registry.close_all(grace=0.1) == 1
    assert flow.handles[0].closed and session.credentials is None and flow.cancel.is_set()
    with pytest.raises(ShuttingDown):
        registry.resolve("t", None, ASMITH, keep_alive=True, promote=False)


def test_refresher_backs_off_by_doubling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry, _ = make(tmp_path, refresh_check_interval=10, session_refresh_interval=1)
    session, _ = registry.resolve("t", None, JDOE, keep_alive=True, promote=False)
    calls: list[str] = []

    def failing_refresh(target: Any) -> bool:
        calls.append(target.session_id)
        raise PortalUnavailable("Portal shows an error page")

    monkeypatch.setattr(registry, "refresh", failing_refresh)
    refresher = Refresher(registry, registry.settings)
    delays = []
    for _ in range(4):
        session.last_refresh = session.last_used = time.time() - 100
        session.next_refresh_at = 0.0  # let the back-off pass
        refresher.tick()
        delays.append(round(session.next_refresh_at - time.time()))
    assert delays == [10, 20, 40, 80] and len(calls) == 4
    refresher.tick()  # still backing off: no attempt
    assert len(calls) == 4 and session.refresh_failures == 4 and refresher.last_tick is not None
