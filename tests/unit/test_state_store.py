"""State store: the contract every backend must keep, then what the SQLite and Redis backends add.

The contract tests take the ``backend`` fixture (tests/unit/conftest.py), parametrized over the
backends of tests/unit/store_backends.py (SQLite, and Redis on a real ``redis-server``: those runs
are marked ``redis``), each with a fake clock, so expiry is tested without waiting.
"""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from emodal.config import ConfigError
from emodal.state import RedisStore, open_store, sqlite_path
from emodal.state import sqlite as sqlite_backend
from emodal.state.errors import StateCorrupt, StateError, StateLocked, StateWriteError, VersionConflict
from emodal.state.sqlite import SQLiteStore
from emodal.state.store import StateStore
from tests.unit.store_backends import Backend, FakeClock, age_keys

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(backend: Backend) -> StateStore:
    return backend.store


# --- contract: records -------------------------------------------------------------------------------
def test_put_returns_increasing_versions_and_get_reads_them(store):
    assert store.get("sessions", "a") is None
    assert store.put("sessions", "a", {"state": "ready", "n": [1, 2]}) == 1
    assert store.put("sessions", "a", {"state": "busy"}) == 2
    record = store.get("sessions", "a")
    assert (record.namespace, record.key, record.value, record.version, record.expires_at) == (
        "sessions", "a", {"state": "busy"}, 2, None)


def test_compare_and_set(store):
    assert store.put("sessions", "a", {"v": 1}, expect_version=0) == 1
    with pytest.raises(VersionConflict) as conflict:
        store.put("sessions", "a", {"v": "again"}, expect_version=0)
    assert (conflict.value.expected, conflict.value.actual) == (0, 1)
    assert store.put("sessions", "a", {"v": 2}, expect_version=1) == 2
    with pytest.raises(VersionConflict):
        store.put("sessions", "a", {"v": "stale"}, expect_version=1)
    with pytest.raises(VersionConflict) as missing:
        store.put("sessions", "nobody", {"v": 1}, expect_version=3)
    assert missing.value.actual is None
    assert store.get("sessions", "a").value == {"v": 2}
    assert store.get("sessions", "nobody") is None


def test_delete_with_and_without_expected_version(store):
    store.put("sessions", "a", {"v": 1})
    store.put("sessions", "a", {"v": 2})
    with pytest.raises(VersionConflict):
        store.delete("sessions", "a", expect_version=1)
    assert store.get("sessions", "a").version == 2
    assert store.delete("sessions", "a", expect_version=2) is True
    assert store.delete("sessions", "a") is False
    with pytest.raises(VersionConflict):
        store.delete("sessions", "a", expect_version=2)
    assert store.put("sessions", "a", {"v": "new life"}) == 1


def test_concurrent_read_modify_write_loses_no_update(store):
    store.put("counters", "c", {"n": 0})
    threads, rounds = 8, 25

    def work() -> None:
        for _ in range(rounds):
            while True:
                record = store.get("counters", "c")
                try:
                    store.put("counters", "c", {"n": record.value["n"] + 1}, expect_version=record.version)
                    break
                except VersionConflict:
                    continue

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    record = store.get("counters", "c")
    assert record.value["n"] == threads * rounds and record.version == threads * rounds + 1


def test_put_if_absent_lets_exactly_one_racer_in(store):
    racers = 16
    start = threading.Barrier(racers)
    won: list[int] = []

    def race(i: int) -> None:
        start.wait()
        if store.put_if_absent("idempotency", "key-1", {"owner": i}):
            won.append(i)

    workers = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(won) == 1
    assert store.get("idempotency", "key-1").value == {"owner": won[0]}
    assert store.put_if_absent("idempotency", "key-1", {"owner": "late"}) is False


def test_expired_records_are_gone_for_every_read(backend):
    store, now = backend.store, backend.now()
    store.put("idempotency", "short", {"v": 1}, expires_at=now + 10)
    store.put("idempotency", "long", {"v": 2}, expires_at=now + 100)
    store.put("idempotency", "forever", {"v": 3})
    assert store.get("idempotency", "short").expires_at == now + 10
    backend.advance(10)
    assert store.get("idempotency", "short") is None
    assert [r.key for r in store.scan("idempotency")] == ["forever", "long"]
    with pytest.raises(VersionConflict):
        store.put("idempotency", "short", {"v": "cas on expired"}, expect_version=1)
    assert store.delete("idempotency", "short") is False
    assert store.put_if_absent("idempotency", "short", {"v": "again"}) is True
    assert store.get("idempotency", "short").version == 1


def test_put_replaces_the_expiry(backend):
    store, now = backend.store, backend.now()
    store.put("sessions", "a", {"v": 1}, expires_at=now + 5)
    store.put("sessions", "a", {"v": 2})
    backend.advance(50)
    assert store.get("sessions", "a").value == {"v": 2}


def test_scan_is_per_namespace_and_ordered(store):
    for key in ("b", "a", "c"):
        store.put("sessions", key, {"k": key})
    store.put("browsers", "a", {"pgid": 1})
    assert [(r.key, r.value, r.version) for r in store.scan("sessions")] == [
        ("a", {"k": "a"}, 1), ("b", {"k": "b"}, 1), ("c", {"k": "c"}, 1)]
    assert [r.key for r in store.scan("browsers")] == ["a"]
    assert store.scan("jobs") == []


def test_purge_expired_keeps_live_records(backend):
    store, now = backend.store, backend.now()
    store.put("idempotency", "old", {"v": 1}, expires_at=now + 1)
    store.put("idempotency", "new", {"v": 2}, expires_at=now + 100)
    backend.advance(2)
    store.purge_expired()
    assert [r.key for r in store.scan("idempotency")] == ["new"]


def test_names_and_values_are_checked(store):
    for bad in ("", "Sessions", "a:b", "1x"):
        with pytest.raises(ValueError):
            store.put(bad, "k", {})
    with pytest.raises(ValueError):
        store.get("sessions", "")
    with pytest.raises(TypeError):
        store.put("sessions", "k", ["not", "a", "dict"])


# --- contract: leases ----------------------------------------------------------------------------------
def test_lease_is_exclusive_until_it_runs_out(backend):
    store = backend.store
    assert store.acquire_lease("refresh:s1", "api-1", ttl=30) is True
    assert store.acquire_lease("refresh:s1", "api-2", ttl=30) is False
    assert store.acquire_lease("refresh:s1", "api-1", ttl=30) is False  # not re-entrant
    assert store.renew_lease("refresh:s1", "api-2", ttl=30) is False
    backend.advance(20)
    assert store.renew_lease("refresh:s1", "api-1", ttl=30) is True
    backend.advance(20)  # 40 s after acquiring, 20 s after renewing: still held
    assert store.acquire_lease("refresh:s1", "api-2", ttl=30) is False
    backend.advance(11)
    assert store.acquire_lease("refresh:s1", "api-2", ttl=30) is True
    assert store.renew_lease("refresh:s1", "api-1", ttl=30) is False


def test_only_the_owner_releases_a_lease(backend):
    store = backend.store
    assert store.acquire_lease("lock:s1", "api-1", ttl=30)
    assert store.release_lease("lock:s1", "api-2") is False
    assert store.acquire_lease("lock:s1", "api-2", ttl=30) is False
    assert store.release_lease("lock:s1", "api-1") is True
    assert store.release_lease("lock:s1", "api-1") is False
    assert store.acquire_lease("lock:s1", "api-2", ttl=30) is True
    backend.advance(31)
    assert store.release_lease("lock:s1", "api-2") is False  # ran out: nothing was held


def test_lease_ttl_must_be_positive(store):
    with pytest.raises(ValueError):
        store.acquire_lease("x", "me", ttl=0)


def test_a_closed_store_refuses_calls(store):
    store.close()
    store.close()
    with pytest.raises(StateError, match="closed"):
        store.get("sessions", "a")


# --- SQLite backend ------------------------------------------------------------------------------------
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_are_private(tmp_path):
    store = SQLiteStore(tmp_path / "state" / "state.db")
    store.put("sessions", "a", {"v": 1})
    try:
        assert _mode(tmp_path / "state") == 0o700
        for name in ("state.db", "state.db-wal", "state.lock"):
            assert _mode(tmp_path / "state" / name) == 0o600, name
    finally:
        store.close()


def test_sqlite_tightens_a_copied_in_database(tmp_path):
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    os.chmod(path, 0o644)
    SQLiteStore(path).close()
    assert _mode(path) == 0o600


def _applied(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_migrations_apply_once_and_keep_data(tmp_path, monkeypatch):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    store.put("sessions", "a", {"v": 1})
    store.close()
    store = SQLiteStore(path)
    assert store.get("sessions", "a").value == {"v": 1}
    store.close()
    assert _applied(path) == [1]
    later = [*sqlite_backend.MIGRATIONS, (2, "extra table", ("CREATE TABLE extra (x INTEGER)",))]
    monkeypatch.setattr(sqlite_backend, "MIGRATIONS", later)
    SQLiteStore(path).close()
    SQLiteStore(path).close()  # a second run must not try to create the table again
    assert _applied(path) == [1, 2]


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    with pytest.raises(StateError, match="newer"):
        SQLiteStore(path)


def _python(code: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_a_second_process_is_refused_naming_the_lock(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    try:
        second = _python(f"from emodal.state.sqlite import SQLiteStore; SQLiteStore({str(path)!r})")
        _, err = second.communicate(timeout=60)
        assert second.returncode != 0
        assert "StateLocked" in err and str(tmp_path / "state.lock") in err and f"pid {os.getpid()}" in err
        assert store.get("sessions", "x") is None and store.put("sessions", "x", {"v": 1}) == 1  # first unharmed
    finally:
        store.close()
    again = _python(f"from emodal.state.sqlite import SQLiteStore; SQLiteStore({str(path)!r}).close()")
    assert again.communicate(timeout=60) and again.returncode == 0


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    path = tmp_path / "state.db"
    holder = _python(f"import sys; from emodal.state.sqlite import SQLiteStore; s = SQLiteStore({str(path)!r});"
                     "print('open', flush=True); sys.stdin.read()", stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StateLocked, match="state.lock"):
            SQLiteStore(path)
    finally:
        holder.kill()
        holder.communicate(timeout=60)
    SQLiteStore(path).close()


def test_a_corrupt_file_raises_state_corrupt_and_is_left_alone(tmp_path):
    path = tmp_path / "state.db"
    garbage = b"this is not an SQLite database\n" * 200
    path.write_bytes(garbage)
    for _ in range(2):  # the lock is released on failure: the second try fails the same way
        with pytest.raises(StateCorrupt, match=str(path)):
            SQLiteStore(path)
    assert path.read_bytes() == garbage


def test_an_unusable_state_dir_raises_a_state_error(tmp_path):
    (tmp_path / "state").write_text("a file where the directory should be")
    with pytest.raises(StateWriteError, match=str(tmp_path / "state")):
        SQLiteStore(tmp_path / "state" / "state.db")


def test_a_full_disk_raises_state_write_error_and_keeps_committed_data(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    try:
        store.put("sessions", "a", {"v": "committed"})
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLITE_FULL, as a full disk gives
        with pytest.raises(StateWriteError, match="full"):
            store.put("sessions", "b", {"blob": "x" * 200_000})
        assert store.get("sessions", "a").value == {"v": "committed"}
        assert store.get("sessions", "b") is None
        assert store.put("sessions", "a", {"v": "still writable"}) == 2
    finally:
        store.close()


def test_purge_expired_removes_rows_from_the_file(tmp_path):
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "state.db", clock=clock)
    try:
        store.put("idempotency", "old", {"v": 1}, expires_at=clock() + 1)
        store.acquire_lease("old", "me", ttl=1)
        store.put("idempotency", "live", {"v": 2})
        clock.advance(2)
        assert store.purge_expired() == 2
        assert store._db.execute("SELECT count(*) FROM records").fetchone()[0] == 1
    finally:
        store.close()


# --- Redis backend -------------------------------------------------------------------------------------
@pytest.fixture
def raw(redis_server) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


def _prefix() -> str:
    return f"test{uuid.uuid4().hex[:12]}"


@pytest.mark.redis
def test_redis_layout_is_one_hash_per_record_with_native_expiry(redis_server, raw):
    clock, prefix = FakeClock(), _prefix()
    store = RedisStore(redis_server.url, prefix=prefix, clock=clock)
    try:
        store.put("sessions", "s:1", {"state": "ready"})
        store.put("idempotency", "k", {"v": 1}, expires_at=clock() + 10)
        assert raw.hgetall(f"{prefix}:sessions:s:1") == {"value": '{"state":"ready"}', "version": "1"}
        assert raw.pttl(f"{prefix}:sessions:s:1") == -1
        assert 0 < raw.pttl(f"{prefix}:idempotency:k") <= 10_000
        assert raw.hget(f"{prefix}:idempotency:k", "expires_at") == repr(clock() + 10)
        store.put("idempotency", "k", {"v": 2})  # the new write has no expiry: the key persists
        assert raw.pttl(f"{prefix}:idempotency:k") == -1
        store.put("idempotency", "k", {"v": 3}, expires_at=clock() - 1)  # born expired: nothing kept
        assert raw.exists(f"{prefix}:idempotency:k") == 0 and store.get("idempotency", "k") is None
        assert store.acquire_lease("lock:s:1", "api-1", ttl=30)
        assert raw.get(f"{prefix}:_lease:lock:s:1") == "api-1"
        assert 0 < raw.pttl(f"{prefix}:_lease:lock:s:1") <= 30_000
    finally:
        store.close()


@pytest.mark.redis
def test_redis_two_instances_share_records_and_leases(redis_server):
    prefix = _prefix()
    api_a, api_b = (RedisStore(redis_server.url, prefix=prefix) for _ in range(2))
    try:
        assert api_a.put("sessions", "s1", {"owner": "a"}) == 1
        assert api_b.get("sessions", "s1").value == {"owner": "a"}
        assert api_b.put("sessions", "s1", {"owner": "b"}, expect_version=1) == 2
        with pytest.raises(VersionConflict):
            api_a.put("sessions", "s1", {"owner": "a again"}, expect_version=1)
        assert [r.value for r in api_a.scan("sessions")] == [{"owner": "b"}]
        assert api_a.acquire_lease("lock:s1", "api-a", ttl=30)
        assert not api_b.acquire_lease("lock:s1", "api-b", ttl=30)
        assert not api_b.release_lease("lock:s1", "api-b")
        assert api_a.release_lease("lock:s1", "api-a")
        assert api_b.acquire_lease("lock:s1", "api-b", ttl=30)
        assert not api_b.put_if_absent("sessions", "s1", {"owner": "late"})
    finally:
        api_a.close()
        api_b.close()


@pytest.mark.redis
def test_redis_index_forgets_expired_records_but_never_a_live_one(redis_server, raw):
    clock, prefix = FakeClock(), _prefix()
    store = RedisStore(redis_server.url, prefix=prefix, clock=clock)
    index = f"{prefix}:_index:idempotency"
    try:
        store.put("idempotency", "gone", {"v": 1}, expires_at=clock() + 5)
        store.put("idempotency", "reborn", {"v": 1}, expires_at=clock() + 5)
        store.put("idempotency", "kept", {"v": 1})
        age_keys(raw, prefix, 6)
        assert raw.smembers(index) == {"gone", "reborn", "kept"}  # the server expired, the index lags
        store.put("idempotency", "reborn", {"v": 2})
        assert store.purge_expired() == 1
        assert raw.smembers(index) == {"reborn", "kept"}
        store.put("idempotency", "later", {"v": 1}, expires_at=clock() + 5)
        age_keys(raw, prefix, 6)
        assert [r.key for r in store.scan("idempotency")] == ["kept", "reborn"]
        assert raw.smembers(index) == {"reborn", "kept"}
        store.delete("idempotency", "kept")
        assert raw.smembers(index) == {"reborn"}
    finally:
        store.close()


@pytest.mark.redis
def test_redis_outage_raises_state_errors_naming_the_server_not_the_password(tmp_path):
    from scripts.cluster import free_port, start_redis

    port = free_port()
    with pytest.raises(StateError) as unreachable:
        open_store(f"redis://:hunter2-secret@127.0.0.1:{port}/3", tmp_path)
    assert f"127.0.0.1:{port}/3" in str(unreachable.value) and "hunter2" not in str(unreachable.value)

    server = start_redis(tmp_path)
    store = open_store(server.url, tmp_path)
    try:
        store.put("sessions", "a", {"v": 1})
        server.stop()  # the server dies under a running instance
        with pytest.raises(StateWriteError, match=f"127.0.0.1:{server.port}/0"):
            store.put("sessions", "a", {"v": 2})
        with pytest.raises(StateError, match=f"127.0.0.1:{server.port}/0"):
            store.get("sessions", "a")
    finally:
        store.close()
        server.stop()


def test_redis_store_rejects_a_bad_prefix_or_url(tmp_path):
    with pytest.raises(ValueError):
        RedisStore("redis://127.0.0.1:1/0", prefix="a:b")
    with pytest.raises(ConfigError, match="STATE_URL"):
        open_store("redis://127.0.0.1:notaport/0", tmp_path)


# --- open_store ---------------------------------------------------------------------------------------
@pytest.mark.redis
def test_open_store_selects_redis_for_a_redis_url(redis_server, tmp_path):
    store = open_store(redis_server.url, tmp_path)
    try:
        assert store.backend == "redis" and store.prefix == "emodal"
        assert store.put_if_absent("sessions", f"probe-{uuid.uuid4().hex}", {"v": 1}, expires_at=time.time() + 60)
    finally:
        store.close()
    assert not (tmp_path / "state.db").exists()


def test_open_store_defaults_to_sqlite_in_state_dir(tmp_path):
    store = open_store(None, tmp_path)
    try:
        assert store.backend == "sqlite" and store.path == tmp_path / "state.db"
    finally:
        store.close()
    assert sqlite_path("sqlite:////var/lib/emodal/state.db", tmp_path) == Path("/var/lib/emodal/state.db")
    assert sqlite_path("sqlite:///rel/state.db", tmp_path) == Path("rel/state.db")


@pytest.mark.parametrize("url,words", [
    ("sqlite://", "sqlite:///<path"),
    ("sqlite:///:memory:", "sqlite:///<path"),
    ("sqlite:///state.db?mode=ro", "sqlite:///<path"),
    ("postgres://db/emodal", "unknown scheme"),
])
def test_open_store_rejects_urls_it_cannot_serve(tmp_path, url, words):
    with pytest.raises(ConfigError, match="STATE_URL") as error:
        open_store(url, tmp_path)
    assert words in str(error.value)
