"""SessionRegistry and Refresher bookkeeping with a fake login flow (no browser): single flight,
capacity counting logins in progress, eviction after success only, the per-tenant limit, pins
between resolve and acquire, needs_attention, the login queue, failed logins, shutdown, back-off."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from emodal.config import Settings
from emodal.errors import (CapacityExhausted, CaptchaKeyInvalid, CaptchaZeroBalance, InvalidCredentials,
                           PortalUnavailable, ShuttingDown)
from emodal.sessions import Credentials, Refresher, SessionRegistry, SessionState

JDOE = Credentials("jdoe", "pw", "key")
ASMITH = Credentials("asmith", "pw2", "key")


class FakeHandle:
    pgid = None
    identity_origin = None
    remote = False  # a local browser: no Grid session id

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
    assert registry.factory.shut_down  # browsers of logins still running are killed too
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


# --- issue 15 item 3: capacity counts a login in progress, evicts only once it succeeded -------------
CJONES = Credentials("cjones", "pw3", "key")


def test_failed_login_at_capacity_evicts_nobody(tmp_path: Path) -> None:
    registry, flow = make(tmp_path, max_sessions=1, max_concurrent_logins=1)
    other, _ = registry.resolve("tenant-a", None, JDOE, keep_alive=True, promote=False)
    flow.error = InvalidCredentials(details="wrong password")
    with pytest.raises(InvalidCredentials):
        registry.resolve("tenant-b", None, ASMITH, keep_alive=True, promote=False)
    assert registry.list() == [other] and other.state is SessionState.READY and not other.handle.closed
    with registry.acquire(other, "/get_containers", "r1"):
        pass
    assert "evictions" not in registry.stats()["counters"]


def test_login_at_capacity_evicts_the_lru_session_after_it_succeeded(tmp_path: Path) -> None:
    registry, flow = make(tmp_path, max_sessions=1, max_concurrent_logins=1)
    victim, _ = registry.resolve("tenant-a", None, JDOE, keep_alive=True, promote=False)
    with registry.acquire(victim, "/get_containers", "r0"):  # its request ran and ended
        pass
    flow.gate, flow.started = threading.Event(), threading.Event()
    login, out = run(lambda: registry.resolve("tenant-b", None, ASMITH, keep_alive=True, promote=False))
    assert flow.started.wait(5)
    with registry.acquire(victim, "/get_containers", "r1"):  # still usable while the other logs in
        pass
    # The running login holds the one evictable slot: a third login must not count on it too.
    with pytest.raises(CapacityExhausted):
        registry.resolve("tenant-c", None, CJONES, keep_alive=True, promote=False)
    flow.gate.set()
    login.join(10)
    session, is_new = out[0]
    assert is_new and registry.list() == [session] and victim.handle is None
    assert registry.stats()["counters"]["evictions"] == 1


def test_one_tenant_cannot_take_every_slot(tmp_path: Path) -> None:
    registry, _ = make(tmp_path, max_sessions=3, max_sessions_per_tenant=1, capacity_retry_after=7)
    first, _ = registry.resolve("tenant-a", None, JDOE, keep_alive=True, promote=False)
    with registry.acquire(first, "/get_containers", "r0"):
        pass
    second, _ = registry.resolve("tenant-a", None, ASMITH, keep_alive=True, promote=False)
    assert registry.list("tenant-a") == [second] and first.handle is None  # its own LRU session made room
    with registry.acquire(second, "/get_containers", "r1"):  # busy: the tenant has nothing to give up
        with pytest.raises(CapacityExhausted) as info:
            registry.resolve("tenant-a", None, CJONES, keep_alive=True, promote=False)
        other, is_new = registry.resolve("tenant-b", None, CJONES, keep_alive=True, promote=False)
    assert info.value.headers["Retry-After"] == "7" and "MAX_SESSIONS_PER_TENANT" in info.value.details
    assert is_new and registry.list("tenant-b") == [other] and second.state is SessionState.READY


def test_max_sessions_per_tenant_defaults_to_max_sessions() -> None:
    assert Settings(max_sessions=7, server_threads=8).max_sessions_per_tenant == 7


# --- item 4: a resolved session stays usable until its request takes the lock -----------------------
def test_resolved_session_is_not_expired_before_it_is_acquired(tmp_path: Path) -> None:
    registry, _ = make(tmp_path)
    session, _ = registry.resolve("t", None, JDOE, keep_alive=False, promote=False)
    session.last_used -= registry.settings.session_timeout + 1
    expirer, closed = run(registry.expire_idle)  # the refresher thread's tick, between resolve and acquire
    expirer.join(10)
    assert closed == [0]
    with registry.acquire(session, "/get_containers", "r1"):
        pass
    session.last_used -= registry.settings.session_timeout + 1
    assert registry.expire_idle() == 1  # the pin ended with the lock: expiry works again


def test_resolved_session_is_not_evicted_before_it_is_acquired(tmp_path: Path) -> None:
    registry, _ = make(tmp_path, max_sessions=1, max_concurrent_logins=1)
    session, _ = registry.resolve("tenant-a", None, JDOE, keep_alive=True, promote=False)
    with registry.acquire(session, "/get_containers", "r0"):
        pass
    again, _ = registry.resolve("tenant-a", session.session_id, None, keep_alive=False, promote=False)
    other, out = run(lambda: registry.resolve("tenant-b", None, ASMITH, keep_alive=True, promote=False))
    other.join(10)
    assert isinstance(out[0], CapacityExhausted)  # the pinned session counts as in use
    with registry.acquire(again, "/get_containers", "r1"):
        pass
    other, out = run(lambda: registry.resolve("tenant-b", None, ASMITH, keep_alive=True, promote=False))
    other.join(10)
    assert out[0][1] is True and registry.get("tenant-a", session.session_id) is None


# --- item 9: a refused captcha key on re-login parks the session until a request brings another ------
@pytest.mark.parametrize("error", [CaptchaKeyInvalid, CaptchaZeroBalance])
def test_refused_captcha_key_on_relogin_needs_attention(tmp_path: Path, error: type[Exception]) -> None:
    registry, flow = make(tmp_path, refresh_check_interval=10, session_refresh_interval=1)
    session, _ = registry.resolve("t", None, JDOE, keep_alive=True, promote=False)
    session.state = SessionState.LOGGED_OUT  # the portal login lapsed
    flow.error = error()
    refresher = Refresher(registry, registry.settings)
    refresher.tick()
    assert flow.calls == 2 and session.state is SessionState.NEEDS_ATTENTION
    assert session.describe(1800)["state"] == "needs_attention"
    assert session.last_error["error_type"] == error.error_type
    session.next_refresh_at = 0.0
    session.last_refresh = session.last_used = time.time() - 100
    refresher.tick()
    assert flow.calls == 2  # no automatic re-login with a key known to be bad
    registry.resolve("t", session.session_id, JDOE, keep_alive=False, promote=False)  # same key
    with registry.acquire(session, "/get_containers", "r1"), pytest.raises(error):
        registry.ensure_healthy(session)
    assert flow.calls == 2 and session.state is SessionState.NEEDS_ATTENTION
    flow.error = None
    registry.resolve("t", None, JDOE.with_captcha_key("new-key"), keep_alive=False, promote=False)
    with registry.acquire(session, "/get_containers", "r2"):
        assert registry.ensure_healthy(session) is True
    assert flow.calls == 3 and session.state is SessionState.READY and session.login_count == 2


# --- item 13: shutdown --------------------------------------------------------------------------------
def test_request_waiting_for_the_lock_at_shutdown_gets_shutting_down(tmp_path: Path) -> None:
    registry, _ = make(tmp_path, session_lock_timeout=10)
    session, _ = registry.resolve("t", None, JDOE, keep_alive=True, promote=False)
    release = threading.Event()
    holding = threading.Event()

    def operation() -> None:
        with registry.acquire(session, "/get_containers", "r1"):
            holding.set()
            release.wait(10)

    holder, _ = run(operation)
    assert holding.wait(5)

    def waiting_request() -> Any:
        registry.resolve("t", session.session_id, None, keep_alive=False, promote=False)
        with registry.acquire(session, "/get_appointments", "r2"):
            return "ran"

    waiter, outcome = run(waiting_request)
    closer, closed = run(lambda: registry.close_all(grace=10))
    while not registry.shutting_down:
        time.sleep(0.01)
    release.set()
    for thread in (holder, waiter, closer):
        thread.join(15)
    assert isinstance(outcome[0], ShuttingDown) and closed == [1]


def test_booking_past_submit_gets_confirmation_timeout_not_shutdown_grace(tmp_path: Path) -> None:
    registry, flow = make(tmp_path, confirmation_timeout=30)
    session, _ = registry.resolve("t", None, JDOE, keep_alive=True, promote=False)
    submitted, finish = threading.Event(), threading.Event()

    def booking() -> bool:
        with registry.acquire(session, "/make_appointment", "r1"):
            session.submitting = True  # what make_appointment does right after the Submit click
            submitted.set()
            finish.wait(10)
            return flow.handles[0].closed  # was the browser killed under the running booking?

    booker, killed_during = run(booking)
    assert submitted.wait(5)
    closer, _ = run(lambda: registry.close_all(grace=0))
    closer.join(1)  # a close_all that does not wait for the booking is done by now
    finish.set()
    booker.join(10)
    closer.join(10)
    assert killed_during == [False] and flow.handles[0].closed and session.submitting is False


def test_shutdown_waits_one_grace_in_all(tmp_path: Path) -> None:
    from emodal.app import Lifecycle

    settings = Settings(downloads_dir=tmp_path, shutdown_grace=30)
    waits: dict[str, float] = {}

    class Refresher:
        def stop(self, timeout: float | None = None) -> None:
            waits["refresher"] = settings.shutdown_grace if timeout is None else timeout

    class Registry:
        def close_all(self, grace: float | None = None) -> int:
            waits["sessions"] = settings.shutdown_grace if grace is None else grace
            return 0

    class Store:
        def close(self) -> None:
            waits["store_closed"] = True

    Lifecycle(settings, Registry(), Refresher(), Store()).shutdown()  # type: ignore[arg-type]
    assert waits["refresher"] + waits["sessions"] <= settings.shutdown_grace


def test_finished_operations_are_kept_newest_first_with_outcome_and_bounded(tmp_path: Path) -> None:
    from emodal.sessions.session import OPERATION_HISTORY

    registry, _ = make(tmp_path)
    session, _ = registry.resolve("t1", None, JDOE, keep_alive=True, promote=False)
    with registry.acquire(session, "/get_containers", "req_1"):
        assert session.current_operation["route"] == "/get_containers"
    with pytest.raises(PortalUnavailable):
        with registry.acquire(session, "/get_container_timeline", "req_2"):
            raise PortalUnavailable()
    assert session.current_operation is None
    latest, first = list(session.recent_operations)
    assert (latest["route"], latest["request_id"], latest["outcome"]) == ("/get_container_timeline", "req_2",
                                                                           "portal_unavailable")
    assert (first["route"], first["outcome"]) == ("/get_containers", "ok")
    assert first["duration_s"] >= 0 and first["started_at"] <= latest["started_at"]
    for _ in range(OPERATION_HISTORY + 5):
        with registry.acquire(session, "refresh", None):
            pass
    assert len(session.recent_operations) == OPERATION_HISTORY
    assert session.recent_operations[0]["route"] == "refresh"


def test_short_id_keeps_six_characters_of_a_token_containing_underscores() -> None:
    from emodal.sessions.session import BrowserSession

    session = BrowserSession("session_1796475838_bbLve-JEwqU-_gZKwPxQ9nA", "t1", JDOE, "lookup", keep_alive=True)
    assert session.short_id == "session_1796475838_bbLve-…"
