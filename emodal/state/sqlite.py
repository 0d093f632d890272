"""SQLite backend of the state store: the embedded default (``STATE_URL`` unset or ``sqlite:///``).

One file (default ``STATE_DIR/state.db``, mode 0600, in a 0700 directory), WAL journal so a reader
never waits for a writer, ``synchronous=FULL`` so a committed write survives a power cut as well
as a crash (writes are a few per second at most: durability costs nothing noticeable here).

Concurrency: **one connection behind one lock**. Every statement is a single-row lookup or
write taking well under a millisecond, so serialising them costs nothing at this service's rate,
and it makes each method a critical section (compare-and-set cannot interleave inside the
process) and ``close()`` trivial. Per-thread connections would buy parallel reads we do not need
and connections that outlive their (waitress) threads. Writes still run in ``BEGIN IMMEDIATE``
transactions, so the read and the write of a CAS hold SQLite's write lock together even against
an outside connection (an operator's ``sqlite3`` shell), and ``busy_timeout`` makes such a
connection wait instead of failing at once.

Single process: SQLite would let two service processes share the file, but each keeps browsers and
in-memory sessions that the other would then restore or reap under it. So the store takes an
exclusive, non-blocking ``fcntl.flock`` on ``state.lock`` beside the database for its whole life;
a second process gets ``StateLocked`` naming that file (and the holder's pid). The kernel drops
the lock when the holder dies, so a SIGKILL never leaves a stale lock.

Schema: a numbered-migrations table (``schema_migrations``) and the ``MIGRATIONS`` list below,
applied in order at open, each in its own transaction. Why not alembic: it needs SQLAlchemy,
which the project does not use; the schema is two tables written with raw ``sqlite3``; and a
numbered list gives what matters (ordered, recorded, idempotent upgrades, refusal to run on a
newer schema) in a few lines.
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emodal.state.errors import StateCorrupt, StateError, StateLocked, StateWriteError, VersionConflict
from emodal.state.store import Record, check_names, check_namespace, check_ttl, encode_value

#: (number, name, statements). Append only; never edit a migration that has shipped.
MIGRATIONS: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "records and leases", (
        """CREATE TABLE records (
               namespace  TEXT NOT NULL,
               key        TEXT NOT NULL,
               value      TEXT NOT NULL,
               version    INTEGER NOT NULL,
               expires_at REAL,
               PRIMARY KEY (namespace, key)
           ) WITHOUT ROWID""",
        "CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL",
        """CREATE TABLE leases (
               name       TEXT PRIMARY KEY,
               owner      TEXT NOT NULL,
               expires_at REAL NOT NULL
           ) WITHOUT ROWID""",
    )),
]

#: How long a statement waits for another connection's write lock before failing.
BUSY_TIMEOUT_MS = 5000
_LIVE = "(expires_at IS NULL OR expires_at > ?)"


class SQLiteStore:
    """``StateStore`` on one SQLite file. ``clock`` is injectable so expiry is testable without
    waiting; it must be a wall clock (records outlive the process)."""

    backend = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_suffix(".lock")
        self._clock = clock
        self._mutex = threading.Lock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_fd = _take_process_lock(self.lock_path)
        except OSError as exc:  # read-only or missing mount, a file where the directory should be
            raise StateWriteError(f"cannot open the state in {self.path.parent}: {exc}") from exc
        try:
            self._db = _connect(self.path)
        except OSError as exc:
            os.close(self._lock_fd)
            raise StateWriteError(f"cannot open {self.path}: {exc}") from exc
        except BaseException:
            os.close(self._lock_fd)
            raise

    # --- records ---------------------------------------------------------------------------------
    def get(self, namespace: str, key: str) -> Record | None:
        check_names(namespace, key)
        with self._reading() as db:
            row = db.execute(f"SELECT value, version, expires_at FROM records WHERE namespace = ? AND key = ?"
                             f" AND {_LIVE}", (namespace, key, self._clock())).fetchone()
        return None if row is None else Record(namespace, key, json.loads(row[0]), row[1], row[2])

    def put(self, namespace: str, key: str, value: dict[str, Any], *,
            expect_version: int | None = None, expires_at: float | None = None) -> int:
        check_names(namespace, key)
        text = encode_value(value)
        with self._writing() as db:
            current = self._live_version(db, namespace, key)
            if expect_version is not None and (current or 0) != expect_version:
                raise VersionConflict(namespace, key, expect_version, current)
            version = (current or 0) + 1
            db.execute("INSERT OR REPLACE INTO records (namespace, key, value, version, expires_at)"
                       " VALUES (?, ?, ?, ?, ?)", (namespace, key, text, version, expires_at))
        return version

    def put_if_absent(self, namespace: str, key: str, value: dict[str, Any], *,
                      expires_at: float | None = None) -> bool:
        try:
            self.put(namespace, key, value, expect_version=0, expires_at=expires_at)
        except VersionConflict:
            return False
        return True

    def delete(self, namespace: str, key: str, *, expect_version: int | None = None) -> bool:
        check_names(namespace, key)
        with self._writing() as db:
            current = self._live_version(db, namespace, key)
            if expect_version is not None and current != expect_version:
                raise VersionConflict(namespace, key, expect_version, current)
            db.execute("DELETE FROM records WHERE namespace = ? AND key = ?", (namespace, key))
        return current is not None

    def scan(self, namespace: str) -> list[Record]:
        check_namespace(namespace)
        with self._reading() as db:
            rows = db.execute(f"SELECT key, value, version, expires_at FROM records WHERE namespace = ?"
                              f" AND {_LIVE} ORDER BY key", (namespace, self._clock())).fetchall()
        return [Record(namespace, key, json.loads(value), version, exp) for key, value, version, exp in rows]

    def purge_expired(self) -> int:
        now = self._clock()
        with self._writing() as db:
            removed = db.execute("DELETE FROM records WHERE expires_at <= ?", (now,)).rowcount
            removed += db.execute("DELETE FROM leases WHERE expires_at <= ?", (now,)).rowcount
        return removed

    # --- leases ----------------------------------------------------------------------------------
    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        check_ttl(ttl)
        with self._writing() as db:
            now = self._clock()
            if self._lease_owner(db, name, now) is not None:
                return False
            db.execute("INSERT OR REPLACE INTO leases (name, owner, expires_at) VALUES (?, ?, ?)",
                       (name, owner, now + ttl))
        return True

    def renew_lease(self, name: str, owner: str, ttl: float) -> bool:
        check_ttl(ttl)
        with self._writing() as db:
            now = self._clock()
            if self._lease_owner(db, name, now) != owner:
                return False
            db.execute("UPDATE leases SET expires_at = ? WHERE name = ?", (now + ttl, name))
        return True

    def release_lease(self, name: str, owner: str) -> bool:
        with self._writing() as db:
            held = self._lease_owner(db, name, self._clock()) == owner
            # An expired lease of this owner goes too; another owner's row is never touched.
            db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))
        return held

    # --- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        with self._mutex:
            if self._lock_fd < 0:
                return
            self._db.close()
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # --- internals -------------------------------------------------------------------------------
    def _live_version(self, db: sqlite3.Connection, namespace: str, key: str) -> int | None:
        row = db.execute(f"SELECT version FROM records WHERE namespace = ? AND key = ? AND {_LIVE}",
                         (namespace, key, self._clock())).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _lease_owner(db: sqlite3.Connection, name: str, now: float) -> str | None:
        row = db.execute("SELECT owner FROM leases WHERE name = ? AND expires_at > ?", (name, now)).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            self._check_open()
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise _translate(exc, self.path, "read") from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error
        (a ``VersionConflict`` included), sqlite errors translated to ``StateError`` classes."""
        with self._mutex:
            self._check_open()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise _translate(exc, self.path, "write") from exc

    def _check_open(self) -> None:
        if self._lock_fd < 0:
            raise StateError(f"state store {self.path} is closed")


def _translate(exc: sqlite3.Error, path: Path, doing: str) -> StateError:
    text = str(exc)
    if "malformed" in text or "not a database" in text:
        return StateCorrupt(f"{path} is damaged ({text}); restore a backup or move it aside")
    if doing == "write":
        return StateWriteError(f"cannot write {path}: {text}")
    return StateError(f"cannot read {path}: {text}")


def _take_process_lock(lock_path: Path) -> int:
    """Exclusive flock on ``lock_path``; ``StateLocked`` if another open file holds it."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StateLocked(f"state is in use by another process (pid {holder}): cannot lock {lock_path}. "
                          "Stop that process, or give this one its own STATE_DIR.") from None
    # The pid is only for the message above; the lock itself is the flock.
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode("ascii"))
    return fd


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating with mode 0600) and migrate the database; ``StateCorrupt`` if it is not
    a sound SQLite file. Never deletes or rewrites a damaged file: the operator decides."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)  # a copied-in file keeps no looser mode; WAL/SHM files inherit this one
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StateCorrupt(f"{path} failed its integrity check ({check}); restore a backup or move it aside")
        _migrate(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise StateCorrupt(f"{path} is not a readable SQLite database ({exc}); "
                               "restore a backup or move it aside to start with an empty state") from None
        raise StateWriteError(f"cannot open {path}: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
               "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)")
    applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    known = {number for number, _, _ in MIGRATIONS}
    if applied - known:
        raise StateError(f"{path} has schema version {max(applied)}, newer than this build knows "
                         f"({max(known)}); run the newer build or restore a matching backup")
    for number, name, statements in MIGRATIONS:
        if number in applied:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       (number, name, time.time()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
