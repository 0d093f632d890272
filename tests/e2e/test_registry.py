"""SessionRegistry and Refresher with real headless Chromium against the sandbox (API_SPEC 3.3-3.10).

Logins are the expensive part (one browser each), so one module registry serves most tests; the
eviction test builds its own registry with MAX_SESSIONS=1. Tenants separate sessions of the same
account, which lets the tests create several sessions from the two sandbox accounts.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from emodal.browser.factory import BrowserFactory
from emodal.config import Settings
from emodal.errors import CapacityExhausted, InvalidCredentials, SessionBusy, SessionNotFound
from emodal.portal import health
from emodal.portal.health import PageState
from emodal.sessions import Credentials, LoginFlow, Refresher, SessionRegistry, SessionState
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.browser

JDOE = Credentials("jdoe", "sandbox-pass", "sandbox-key")
ASMITH = Credentials("asmith", "sandbox-pass-2", "sandbox-key")


def build(sandbox: Any, downloads: Path, **overrides: Any) -> SessionRegistry:
    values: dict[str, Any] = {
        "downloads_dir": downloads, "captcha_poll_interval": 0.2, "login_timeout": 90, "captcha_timeout": 60,
        "page_load_timeout": 30, "element_timeout": 15, "max_sessions": 4, "max_concurrent_logins": 2,
        "server_threads": 8, "session_lock_timeout": 5, "session_timeout": 1800,
        "session_refresh_interval": 1, "refresh_check_interval": 0.3, "shutdown_grace": 5,
    }
    values.update(overrides)
    settings = Settings(**values).with_sandbox(sandbox.base_url)
    factory = BrowserFactory(settings)
    return SessionRegistry(settings, factory, LoginFlow(settings, factory))


@pytest.fixture(scope="module")
def registry(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionRegistry]:
    made = build(sandbox, tmp_path_factory.mktemp("registry"))
    try:
        yield made
    finally:
        made.close_all(grace=0)


@pytest.fixture(scope="module")
def jdoe(registry: SessionRegistry) -> Any:
    session, is_new = registry.resolve("tenant-a", None, JDOE, keep_alive=True, promote=True)
    assert is_new
    return session


def test_new_session_is_ready_and_listed(registry: SessionRegistry, jdoe: Any) -> None:
    assert jdoe.session_id.startswith("session_") and len(jdoe.session_id.split("_", 2)[2]) >= 22
    assert jdoe.state is SessionState.READY and jdoe.login_count == 1 and jdoe.keep_alive
    assert registry.list("tenant-a") == [jdoe] and registry.list("tenant-b") == []
    described = jdoe.describe(1800)
    assert described["expires_at"] is None and described["state"] == "ready"
    assert "sandbox-pass" not in repr(described) and "sandbox-key" not in repr(described)
    stats = registry.stats()
    assert stats["active_sessions"] >= 1 and stats["by_kind_state"]["keep_alive"]["ready"] >= 1
    assert stats["portal"]["status"] == "ok" and stats["counters"]["logins"]["ok"] >= 1


def test_reuse_by_credentials_and_by_id(registry: SessionRegistry, jdoe: Any) -> None:
    started = time.perf_counter()
    same, is_new = registry.resolve("tenant-a", None, JDOE.with_captcha_key("other-key"), keep_alive=False, promote=False)
    reuse_ms = (time.perf_counter() - started) * 1000
    print(f"\nreuse by credentials: {reuse_ms:.2f} ms")
    assert same is jdoe and not is_new
    assert jdoe.credentials.captcha_api_key == "other-key"  # a matching request replaces the stored key
    assert registry.resolve("tenant-a", jdoe.session_id, None, keep_alive=False, promote=False) == (jdoe, False)
    assert registry.resolve("tenant-a", jdoe.session_id, JDOE, keep_alive=False, promote=False) == (jdoe, False)
    jdoe.credentials = JDOE


def test_foreign_or_unknown_id_without_credentials(registry: SessionRegistry, jdoe: Any) -> None:
    with pytest.raises(SessionNotFound):
        registry.resolve("tenant-b", jdoe.session_id, None, keep_alive=False, promote=False)
    with pytest.raises(SessionNotFound):
        registry.resolve("tenant-a", "session_1_unknown", None, keep_alive=False, promote=False)
    assert registry.get("tenant-b", jdoe.session_id) is None and registry.get(None, jdoe.session_id) is jdoe


def test_id_with_other_credentials_is_ignored(registry: SessionRegistry, jdoe: Any) -> None:
    # Wrong password with jdoe's id: never runs as jdoe; a new login is tried and fails.
    with pytest.raises(InvalidCredentials):
        registry.resolve("tenant-a", jdoe.session_id, Credentials("jdoe", "wrong", "sandbox-key"),
                         keep_alive=False, promote=False)
    assert registry.list("tenant-a") == [jdoe] and jdoe.state is SessionState.READY


def test_lock_is_exclusive_and_busy_names_the_route(registry: SessionRegistry, jdoe: Any) -> None:
    with registry.acquire(jdoe, "/get_containers", "req_1"):
        assert jdoe.state is SessionState.BUSY and jdoe.current_operation["route"] == "/get_containers"
        assert registry.stats()["busy_sessions"] >= 1
        result: list[BaseException] = []
        worker = threading.Thread(target=lambda: _try_acquire(registry, jdoe, result))
        worker.start()
        worker.join()
        assert isinstance(result[0], SessionBusy) and "/get_containers" in result[0].details
        assert result[0].headers["Retry-After"] == "10"
    assert jdoe.state is SessionState.READY and jdoe.current_operation is None


def _try_acquire(registry: SessionRegistry, session: Any, out: list[BaseException]) -> None:
    try:
        with registry.acquire(session, "/get_appointments", "req_2", timeout=0.2):
            pass
    except BaseException as exc:  # noqa: BLE001 - handed to the test thread
        out.append(exc)


def test_concurrent_identical_credentials_share_one_login(registry: SessionRegistry) -> None:
    results: list[tuple[Any, bool]] = []
    logins_before = registry.stats()["counters"].get("logins", {}).get("ok", 0)
    threads = [threading.Thread(target=lambda: results.append(
        registry.resolve("tenant-a", None, ASMITH, keep_alive=False, promote=False))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(session) for session, _ in results}) == 1
    assert sorted(is_new for _, is_new in results) == [False, False, True]
    assert registry.stats()["counters"]["logins"]["ok"] == logins_before + 1
    session = results[0][0]
    assert not session.keep_alive and session.expires_at(1800) is not None
    # Reuse with promote turns the regular session into a keep-alive one (API_SPEC 3.4).
    registry.resolve("tenant-a", None, ASMITH, keep_alive=False, promote=True)
    assert session.keep_alive


def test_relogin_after_force_logout_keeps_the_session_id(sandbox: Any, registry: SessionRegistry, jdoe: Any) -> None:
    session_id, logins = jdoe.session_id, jdoe.login_count
    sandbox.admin.logout("jdoe")
    with registry.acquire(jdoe, "refresh", None):
        assert registry.refresh(jdoe) is True  # keep-alive page shows the 401 text -> re-login
    assert jdoe.session_id == session_id and jdoe.login_count == logins + 1
    sandbox.admin.logout("jdoe")
    with registry.acquire(jdoe, "/get_containers", "req_3"):
        jdoe.driver.get(registry.urls.containers)  # the portal sends a logged-out browser to the login
        assert health.settle(jdoe.driver, registry.urls, 20) is PageState.LOGIN_PAGE
        assert registry.ensure_healthy(jdoe) is True
        assert health.classify(jdoe.driver, registry.urls) is PageState.LOGGED_IN
    assert jdoe.login_count == logins + 2 and registry.get("tenant-a", session_id) is jdoe


def test_probe_looks_again_after_an_old_error_page(sandbox: Any, registry: SessionRegistry, jdoe: Any) -> None:
    logins = jdoe.login_count
    sandbox.admin.add_fault(type="http500", target="page", count=1)
    try:
        with registry.acquire(jdoe, "/get_containers", "req_7"):
            jdoe.driver.get(registry.urls.containers)
            assert health.classify(jdoe.driver, registry.urls) is PageState.ERROR_PAGE
            assert registry.ensure_healthy(jdoe) is False  # the keep-alive page is fine: no re-login
    finally:
        sandbox.admin.clear_faults()
    assert jdoe.login_count == logins and jdoe.current_url == registry.urls.keep_alive


def test_crashed_browser_is_replaced_under_the_same_id(registry: SessionRegistry, jdoe: Any) -> None:
    old = jdoe.handle
    os.killpg(old.pgid, signal.SIGKILL)
    eventually(lambda: not old.pids(), 10, "the browser processes to die")
    with registry.acquire(jdoe, "/get_containers", "req_4"):
        assert registry.ensure_healthy(jdoe) is True
    assert jdoe.handle is not old and jdoe.handle.alive() and old.closed
    assert not old.root_dir.exists()


def test_refresher_refreshes_idle_keep_alive_sessions(registry: SessionRegistry, jdoe: Any) -> None:
    before = jdoe.last_refresh
    refresher = Refresher(registry, registry.settings)
    refresher.start()
    try:
        eventually(lambda: jdoe.last_refresh is not None and jdoe.last_refresh > before, 60, "a refresh")
        assert refresher.last_tick is not None and refresher.running
    finally:
        refresher.stop(timeout=60)
    assert not refresher.running and jdoe.state is SessionState.READY
    assert registry.stats()["counters"]["refreshes"]["ok"] >= 1


def test_refresher_skips_sessions_with_a_young_wizard(registry: SessionRegistry, jdoe: Any) -> None:
    refresher = Refresher(registry, registry.settings)
    jdoe.last_refresh = jdoe.last_used = time.time() - 3600
    assert refresher.is_due(jdoe, time.time())
    jdoe.wizards["appt_1_x"] = type("Wizard", (), {"last_used": time.time()})()
    try:
        assert not refresher.is_due(jdoe, time.time())
    finally:
        jdoe.wizards.clear()
        jdoe.last_refresh = jdoe.last_used = time.time()


def test_regular_session_expires(registry: SessionRegistry) -> None:
    session, is_new = registry.resolve("tenant-regular", None, JDOE, keep_alive=False, promote=False)
    assert is_new and not session.keep_alive
    registry.release()  # the resolving request ended (a pinned session is never expired)
    pids = session.handle.pids()
    assert registry.expire_idle() == 0  # used just now
    session.last_used -= registry.settings.session_timeout + 1
    refresher = Refresher(registry, registry.settings)
    refresher.tick()
    assert registry.get("tenant-regular", session.session_id) is None
    assert session.state is SessionState.CLOSING and session.credentials is None
    assert pids and all(not _exists(pid) for pid in pids)


def _exists(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return False


def test_close_waits_for_the_lock(registry: SessionRegistry) -> None:
    session, _ = registry.resolve("tenant-a", None, ASMITH, keep_alive=False, promote=False)
    holder = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with registry.acquire(session, "/make_appointment", "req_5"):
            holder.set()
            release.wait(30)

    worker = threading.Thread(target=hold)
    worker.start()
    holder.wait(10)
    closer = threading.Thread(target=lambda: registry.close("tenant-a", session.session_id))
    closer.start()
    assert session.state is not SessionState.CLOSING  # still waiting for the operation
    release.set()
    worker.join()
    closer.join(30)
    assert registry.get("tenant-a", session.session_id) is None and session.handle is None
    with pytest.raises(SessionNotFound):
        registry.close("tenant-a", session.session_id)


def test_reap_orphans_only_touches_unattached_browsers(registry: SessionRegistry, jdoe: Any) -> None:
    stray = registry.factory.create()
    assert registry.reap_orphans() == 0  # a young browser may belong to a running login
    stray.created_at -= registry.settings.login_timeout + 1
    assert registry.reap_orphans() >= 1
    assert stray.pids() == [] and jdoe.handle.alive()


def test_lru_eviction_and_capacity(sandbox: Any, tmp_path: Path) -> None:
    small = build(sandbox, tmp_path, max_sessions=1, max_concurrent_logins=1, capacity_retry_after=7)
    try:
        first, _ = small.resolve("t1", None, JDOE, keep_alive=True, promote=False)
        first_pids = first.handle.pids()
        second, is_new = small.resolve("t2", None, JDOE, keep_alive=True, promote=False)
        assert is_new and small.list() == [second]
        assert small.get("t1", first.session_id) is None and first.handle is None
        assert all(not _exists(pid) for pid in first_pids)
        assert small.stats()["counters"]["evictions"] == 1
        with small.acquire(second, "/get_containers", "req_6"):  # busy: not evictable
            with pytest.raises(CapacityExhausted) as info:
                small.resolve("t3", None, JDOE, keep_alive=True, promote=False)
        assert info.value.headers["Retry-After"] == "7"
    finally:
        small.close_all(grace=0)
    assert small.list() == [] and small.factory.open_handles() == []


def test_close_all_quits_every_browser(sandbox: Any, registry: SessionRegistry) -> None:
    handles = [s.handle for s in registry.list() if s.handle is not None]
    assert handles
    assert registry.close_all(grace=5) >= len(handles)
    assert registry.list() == [] and registry.factory.open_handles() == []
    assert all(h.pids() == [] and not h.root_dir.exists() for h in handles)
