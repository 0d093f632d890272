"""Two session registries sharing one real Redis (two API instances, issue 11), with fake browsers
on a fake Grid: any instance serves any session by attaching to its browser, the session lock is a
store lease (a crashed holder's runs out), logins are single flight across instances, the
refresher refreshes each session once per interval, MAX_SESSIONS counts every instance, a session
closed on one instance is gone on the other, and a browser lost with its node is rebuilt from the
snapshot under the same id. No Chromium: the portal checks are stubbed, the store and leases are real.
"""
from __future__ import annotations

import itertools
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from emodal.browser.snapshot import AuthSnapshot
from emodal.config import Settings
from emodal.errors import CapacityExhausted, PortalUnavailable, SessionBusy, SessionNotFound
from emodal.portal.health import PageState
from emodal.sessions import Credentials, Refresher, SessionRegistry, SessionState
from emodal.sessions import registry as registry_module
from emodal.sessions.cluster import SessionCluster
from emodal.sessions.journal import SessionJournal, record_key
from emodal.state import RedisStore, SecretBox, new_key
from tests.unit.test_registry_logic import FakeFactory, FakeLoginFlow

pytestmark = pytest.mark.redis

JDOE = Credentials("jdoe", "pw", "key")
ASMITH = Credentials("asmith", "pw2", "key")
AUTH = {"name": "AuthCookie", "value": "c0ffee", "domain": "ecp2.emodal.com", "path": "/", "expires": -1}


class Grid:
    """Browsers by remote id; a node loss kills some. Shared by the instances' fake factories."""

    def __init__(self) -> None:
        self.alive: dict[str, bool] = {}
        self._ids = itertools.count(1)

    def start(self) -> str:
        remote_id = f"grid-{next(self._ids)}"
        self.alive[remote_id] = True
        return remote_id


class RemoteHandle:
    """A driver object on a Grid browser; several may exist for one browser (one per instance)."""

    pgid = None
    identity_origin = None
    remote = True

    def __init__(self, grid: Grid, remote_id: str) -> None:
        self.grid, self.remote_id, self.closed, self.detached = grid, remote_id, False, False
        self.driver = type("Driver", (), {"current_url": "https://ecp2.emodal.com/containers"})()

    def alive(self) -> bool:
        return not self.closed and self.grid.alive[self.remote_id]

    def close(self, quit_timeout: float = 15.0) -> int:
        self.closed = True
        self.grid.alive[self.remote_id] = False  # quit ends the browser for every instance
        return 0

    def detach(self) -> None:
        self.closed = self.detached = True


class GridFactory(FakeFactory):
    def __init__(self, grid: Grid) -> None:
        super().__init__()
        self.grid = grid
        self.attached: list[str] = []

    def create(self) -> RemoteHandle:
        return RemoteHandle(self.grid, self.grid.start())

    def attach(self, remote_id: str) -> RemoteHandle:
        if not self.grid.alive.get(remote_id):
            raise PortalUnavailable("The session's browser is gone from the Grid")
        self.attached.append(remote_id)
        return RemoteHandle(self.grid, remote_id)


class GridLoginFlow(FakeLoginFlow):
    def __init__(self, factory: GridFactory) -> None:
        super().__init__()
        self.factory = factory

    def login(self, credentials: Credentials, *, handle: Any = None) -> Any:
        super().login(credentials, handle=handle)
        return handle or self.factory.create()


@pytest.fixture
def instances(redis_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``instances(**settings)`` -> (registry A, registry B) on one Redis prefix and one fake Grid."""
    monkeypatch.setattr(registry_module.auth_snapshot, "capture",
                        lambda handle, origins, previous: AuthSnapshot((AUTH,)))
    prefix, box, grid = f"test{uuid.uuid4().hex[:12]}", SecretBox(new_key()), Grid()
    stores: list[RedisStore] = []

    def build(**overrides: Any) -> tuple[SessionRegistry, SessionRegistry]:
        values = {"downloads_dir": tmp_path, "max_sessions": 3, "max_concurrent_logins": 2, "server_threads": 8,
                  "login_timeout": 5, "session_lock_timeout": 2, "session_secret": b"s" * 32,
                  "selenium_remote_url": "http://grid.invalid:4444", **overrides}
        out = []
        for name in ("api-a", "api-b"):
            store = RedisStore(redis_server.url, prefix=prefix)
            stores.append(store)
            factory = GridFactory(grid)
            registry = SessionRegistry(Settings(**values, instance_id=name), factory, GridLoginFlow(factory),  # type: ignore[arg-type]
                                       journal=SessionJournal(store, box, wizard_ttl=600),
                                       cluster=SessionCluster(store, name, lease_ttl=1.0))
            monkeypatch.setattr(registry, "_ensure_healthy", lambda session: False)  # the page is fine
            monkeypatch.setattr(registry, "_put_back", lambda session: PageState.LOGGED_IN)
            out.append(registry)
        return out[0], out[1]

    build.grid = grid  # type: ignore[attr-defined]
    yield build
    for store in stores:
        store.close()


def login(registry: SessionRegistry, credentials: Credentials = JDOE) -> str:
    session, is_new = registry.resolve("t", None, credentials, keep_alive=True, promote=False)
    registry.release()
    assert is_new
    return session.session_id


def use(registry: SessionRegistry, session_id: str) -> tuple[Any, bool]:
    """One operation's worth: resolve by id, hold the lock, probe; the session and 'recovered'."""
    session, _ = registry.resolve("t", session_id, None, keep_alive=False, promote=False)
    with registry.acquire(session, "/get_container_timeline", "req"):
        return session, registry.ensure_healthy(session)


def test_a_session_logged_in_on_a_is_served_by_b_through_its_running_browser(instances: Any) -> None:
    a, b = instances()
    sid = login(a)
    remote_id = a.get("t", sid).handle.remote_id
    session, recovered = use(b, sid)
    assert session.handle.remote_id == remote_id and b.factory.attached == [remote_id]
    assert recovered is False and b.login_flow.calls == 0 and a.login_flow.calls == 1
    assert [s.session_id for s in b.list("t")] == [sid]
    # The same credentials on B find A's session too: no second login.
    again, is_new = b.resolve("t", None, JDOE, keep_alive=True, promote=False)
    assert again is session and is_new is False and b.login_flow.calls == 0


def test_the_session_lease_excludes_other_instances_until_released(instances: Any) -> None:
    a, b = instances()
    sid = login(a)
    on_a = a.get("t", sid)
    with a.acquire(on_a, "/get_containers", "r1"):
        on_b = b.get("t", sid)
        with pytest.raises(SessionBusy) as busy:
            with b.acquire(on_b, "/get_booking_number", "r2", timeout=0.5):
                pass
        assert "another API instance" in busy.value.details
    with b.acquire(on_b, "/get_booking_number", "r3", timeout=0.5):
        assert on_b.lease is not None and on_b.lease.owner.startswith("api-b|")


def test_a_lease_of_a_crashed_holder_runs_out(instances: Any) -> None:
    a, b = instances()
    sid = login(a)
    # A holder that never renews nor releases: an instance killed with -9 during an operation.
    assert b.journal.store.acquire_lease(f"session:{record_key(sid)}", "api-a|dead", 1.0)
    session = b.get("t", sid)
    with b.acquire(session, "/get_container_timeline", "r", timeout=5):
        assert session.lease is not None


def test_a_held_lease_is_renewed_past_its_ttl(instances: Any) -> None:
    a, b = instances()
    sid = login(a)
    session = a.get("t", sid)
    with a.acquire(session, "/get_containers", "r"):
        threading.Event().wait(2.5)  # over two ttls of 1 s: only renewals keep it
        with pytest.raises(SessionBusy):
            with b.acquire(b.get("t", sid), "/get_booking_number", "r2", timeout=0):
                pass
        assert not session.lease.lost.is_set()


def test_concurrent_logins_with_the_same_credentials_on_two_instances_log_in_once(instances: Any) -> None:
    a, b = instances()
    a.login_flow.gate = threading.Event()
    results: dict[str, Any] = {}

    def resolve(name: str, registry: SessionRegistry) -> None:
        results[name] = registry.resolve("t", None, JDOE, keep_alive=True, promote=False)
        registry.release()

    first = threading.Thread(target=resolve, args=("a", a))
    first.start()
    assert a.login_flow.started.wait(5)
    second = threading.Thread(target=resolve, args=("b", b))
    second.start()
    a.login_flow.gate.set()
    first.join(10)
    second.join(10)
    assert results["a"][1] is True and results["b"][1] is False
    assert results["a"][0].session_id == results["b"][0].session_id
    assert a.login_flow.calls + b.login_flow.calls == 1
    assert len(a.journal.records()) == 1


def test_each_instance_refreshes_but_a_session_once_per_interval(instances: Any, monkeypatch: Any) -> None:
    a, b = instances(session_refresh_interval=60, refresh_check_interval=10)
    sid = login(a)
    refreshed: list[str] = []
    for registry in (a, b):
        def refresh(session: Any, name: str = registry.settings.instance_id) -> bool:
            refreshed.append(name)
            session.last_refresh = time.time()
            return False
        monkeypatch.setattr(registry, "refresh", refresh)

    def quiet_for_two_intervals(registry: SessionRegistry) -> None:
        session = registry.get("t", sid)
        with registry.acquire(session, "test", None, touch=False):
            session.last_refresh = session.last_used = time.time() - 120

    quiet_for_two_intervals(a)
    on_b = b.get("t", sid)
    refresher_b = Refresher(b, b.settings)
    assert refresher_b.is_due(on_b, time.time())  # B's pass picked the session ...
    Refresher(a, a.settings).tick()               # ... as A's pass refreshed it
    refresher_b._refresh(on_b)                    # B's pass goes on: the re-read record says "fresh"
    refresher_b.tick()
    assert refreshed == ["api-a"]
    # A is gone: B keeps refreshing the session.
    quiet_for_two_intervals(b)
    Refresher(b, b.settings).tick()
    assert refreshed == ["api-a", "api-b"]


def test_max_sessions_counts_every_instance_and_evicts_across_them(instances: Any) -> None:
    a, b = instances(max_sessions=1, max_concurrent_logins=1)
    jdoe = login(a)
    browser = a.get("t", jdoe).handle.remote_id
    asmith = login(b, ASMITH)  # over the cluster-wide limit: A's idle session is displaced
    assert [s.session_id for s in a.list()] == [asmith] == [s.session_id for s in b.list()]
    assert instances.grid.alive[browser] is False  # B attached to A's browser and quit it
    with pytest.raises(SessionNotFound):
        use(a, jdoe)


def test_a_login_in_progress_elsewhere_counts_against_max_sessions(instances: Any) -> None:
    a, b = instances(max_sessions=1, max_concurrent_logins=1)
    a.login_flow.gate = threading.Event()
    first = threading.Thread(target=lambda: a.resolve("t", None, JDOE, keep_alive=True, promote=False))
    first.start()
    try:
        assert a.login_flow.started.wait(5)
        with pytest.raises(CapacityExhausted):
            b.resolve("t", None, ASMITH, keep_alive=True, promote=False)
        assert b.login_flow.calls == 0
    finally:
        a.login_flow.gate.set()
        first.join(10)


def test_a_session_closed_on_one_instance_is_gone_on_the_other(instances: Any) -> None:
    a, b = instances()
    sid = login(a)
    handle_on_a = a.get("t", sid).handle
    use(b, sid)
    a.close("t", sid)
    assert instances.grid.alive[handle_on_a.remote_id] is False
    assert b.list() == [] and b.get("t", sid) is None
    with pytest.raises(SessionNotFound):
        b.resolve("t", sid, None, keep_alive=False, promote=False)


def test_a_browser_replaced_on_one_instance_is_attached_on_the_other(instances: Any) -> None:
    a, b = instances()
    sid = login(a)
    stale = a.get("t", sid).handle
    on_b, _ = use(b, sid)
    with b.acquire(on_b, "/get_containers", "r"):
        b.relogin(on_b)  # B's re-login, say in a new browser
        on_b.handle.close()
        on_b.handle = b.factory.create()
    fresh = on_b.handle.remote_id
    session, _ = use(a, sid)
    assert stale.detached  # A let go of its driver object without quitting anything
    assert session.handle.remote_id == fresh and a.factory.attached == [fresh]


def test_a_browser_lost_with_its_node_comes_back_from_the_snapshot_under_the_same_id(instances: Any) -> None:
    a, b = instances()
    sid = login(a)
    lost = a.get("t", sid).handle.remote_id
    instances.grid.alive[lost] = False  # its node was killed
    session, recovered = use(b, sid)
    assert recovered is True and session.session_id == sid and session.state is SessionState.READY
    assert session.handle.remote_id != lost and instances.grid.alive[session.handle.remote_id]
    assert a.login_flow.calls + b.login_flow.calls == 1  # the portal cookies, no new login
    # A sees the rebuilt browser at its next use.
    assert use(a, sid)[0].handle.remote_id == session.handle.remote_id
