"""Redis backend of the state store: the shared state of a cluster (``STATE_URL=redis://host:port/db``).

Several API instances share one Redis (issue 11); every method below is one atomic server-side
step, so two instances racing on a record or a lease behave like two threads on the SQLite store.

Layout, under a ``prefix`` (default ``emodal``; one prefix per deployment, or one database number):

- a record is one **hash** ``<prefix>:<namespace>:<key>`` with fields ``value`` (the JSON text),
  ``version`` and, when it expires, ``expires_at`` (the caller's exact float, returned as given)
  plus a native expiry, so Redis itself drops it. A hash rather than one string so a script can
  read the version without decoding the value (Redis's Lua ``cjson`` would not round-trip every
  JSON value byte for byte).
- every write is a **Lua script** (compare the version, write value + version + expiry, maintain
  the index) rather than ``WATCH``/``MULTI``: one round trip, no optimistic retry loop under
  contention, and the compare and the write cannot be separated. ``put_if_absent`` is that script
  with "expect no live record", i.e. ``SET NX`` semantics on the hash.
- ``scan`` reads a per-namespace **set** ``<prefix>:_index:<namespace>`` of keys, kept by the
  same scripts. Why not ``SCAN MATCH``: it walks the whole keyspace of the database (every other
  namespace, every other tenant of a shared Redis) in many round trips, on every ``/health`` and
  every start; the index costs one ``SADD`` per write. Members whose record expired natively stay
  in the set until ``scan`` or ``purge_expired`` meets them and removes them (atomically with a
  check that the record is still gone, so a record re-created meanwhile is never unindexed).
  ``_index`` cannot clash with a record key: namespaces start with a letter.
- a lease is a **string** ``<prefix>:_lease:<name>`` holding the owner, taken with
  ``SET NX PX`` and renewed or released by owner-checked scripts: the layout of redis-py's
  ``Lock``, expired by the server's own clock, so a crashed holder's lease runs out by itself.

Time: a record's ``expires_at`` is absolute (epoch seconds, as in the interface); it becomes a
*remaining* lifetime (``PEXPIRE``) measured on this store's ``clock`` at write time. With hosts in
NTP sync that is the same as ``PXAT``, and it lets the contract tests drive time with a fake clock
while the server ages keys (see tests/unit/test_state_store.py). Lease ttls are relative and
measured by the server alone.

Errors: no silent client-side retries. A write whose reply was lost may have been applied, and a
retried ``put_if_absent`` would then report "someone else got there first" about our own record;
so a broken connection surfaces at once as ``StateWriteError`` (``StateError`` for reads) naming
the server (never the password) and the caller decides. Scope: one Redis server (or a
Sentinel-managed primary); Redis Cluster is not supported (scripts touch a record and its index,
which would need hash tags).
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from emodal.config import ConfigError
from emodal.state.errors import StateError, StateWriteError, VersionConflict
from emodal.state.store import Record, check_names, check_namespace, check_ttl, encode_value

#: Seconds to wait for the server on connect and on each command before reporting it unreachable.
SOCKET_TIMEOUT = 5.0

# KEYS: record, index. ARGV: value, expected version ('' = any), ttl ms ('' = none),
# expires_at text, member. Returns {written 0/1, version written or live version found (0 = none)}.
_PUT = """
local found = redis.call('HGET', KEYS[1], 'version')
local current = found and tonumber(found) or 0
if ARGV[2] ~= '' and current ~= tonumber(ARGV[2]) then return {0, current} end
local version = current + 1
redis.call('DEL', KEYS[1])
if ARGV[3] ~= '' and tonumber(ARGV[3]) <= 0 then
  redis.call('SREM', KEYS[2], ARGV[5])
  return {1, version}
end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', version)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'expires_at', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
redis.call('SADD', KEYS[2], ARGV[5])
return {1, version}
"""

# KEYS: record, index. ARGV: expected version ('' = any), member. Returns {deleted-or-allowed, version found}.
_DELETE = """
local found = redis.call('HGET', KEYS[1], 'version')
local current = found and tonumber(found) or 0
if ARGV[1] ~= '' and (current == 0 or current ~= tonumber(ARGV[1])) then return {0, current} end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return {1, current}
"""

# KEYS: record, index. ARGV: member. Unindexes the member only if its record is really gone.
_PRUNE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
"""

# KEYS: lease. ARGV: owner, ttl ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: lease. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore:
    """``StateStore`` on one Redis database. ``clock`` converts absolute expiries into remaining
    lifetimes; it must be a wall clock (injectable for tests)."""

    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "emodal", clock: Callable[[], float] = time.time) -> None:
        if not prefix or ":" in prefix:
            raise ValueError("redis key prefix must be non-empty and without ':'")
        self.url = url
        self.prefix = prefix
        self.server = _describe(url)
        self._clock = clock
        self._closed = False
        self._close_lock = threading.Lock()
        try:
            self._redis = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT, health_check_interval=30,
                retry=Retry(NoBackoff(), 0))
        except ValueError as exc:  # malformed URL (redis-py's message quotes no password)
            raise ConfigError(f"STATE_URL: not a usable redis URL ({self.server}): {exc}") from None
        self._put = self._redis.register_script(_PUT)
        self._delete = self._redis.register_script(_DELETE)
        self._prune = self._redis.register_script(_PRUNE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        with self._calling("reach"):
            self._redis.ping()  # fail at start-up, not at the first request

    # --- records ---------------------------------------------------------------------------------
    def get(self, namespace: str, key: str) -> Record | None:
        check_names(namespace, key)
        with self._calling("read"):
            fields = self._redis.hgetall(self._record_key(namespace, key))
        return _record(namespace, key, fields)

    def put(self, namespace: str, key: str, value: dict[str, Any], *,
            expect_version: int | None = None, expires_at: float | None = None) -> int:
        check_names(namespace, key)
        text = encode_value(value)
        ttl_ms = "" if expires_at is None else str(math.ceil((expires_at - self._clock()) * 1000))
        args = [text, "" if expect_version is None else expect_version, ttl_ms,
                "" if expires_at is None else repr(float(expires_at)), key]
        with self._calling("write"):
            written, version = self._put(keys=self._keys(namespace, key), args=args)
        if not written:
            raise VersionConflict(namespace, key, expect_version or 0, version or None)
        return int(version)

    def put_if_absent(self, namespace: str, key: str, value: dict[str, Any], *,
                      expires_at: float | None = None) -> bool:
        try:
            self.put(namespace, key, value, expect_version=0, expires_at=expires_at)
        except VersionConflict:
            return False
        return True

    def delete(self, namespace: str, key: str, *, expect_version: int | None = None) -> bool:
        check_names(namespace, key)
        args = ["" if expect_version is None else expect_version, key]
        with self._calling("write"):
            allowed, version = self._delete(keys=self._keys(namespace, key), args=args)
        if not allowed:
            raise VersionConflict(namespace, key, expect_version or 0, version or None)
        return bool(version)

    def scan(self, namespace: str) -> list[Record]:
        check_namespace(namespace)
        with self._calling("read"):
            members = sorted(self._redis.smembers(self._index_key(namespace)))
            reads = self._redis.pipeline(transaction=False)
            for key in members:
                reads.hgetall(self._record_key(namespace, key))
            found = reads.execute() if members else []
        records: list[Record] = []
        gone: list[str] = []
        for key, fields in zip(members, found):
            record = _record(namespace, key, fields)
            if record is None:
                gone.append(key)
            else:
                records.append(record)
        self._unindex(namespace, gone)
        return records

    def purge_expired(self) -> int:
        """Redis drops expired keys by itself; this only unindexes their keys (the count)."""
        prefix = f"{self.prefix}:_index:"
        with self._calling("read"):
            indexes = list(self._redis.scan_iter(match=f"{prefix}*", count=1000))
        removed = 0
        for index in indexes:
            namespace = index[len(prefix):]
            with self._calling("read"):
                members = list(self._redis.smembers(index))
            removed += self._unindex(namespace, members)
        return removed

    # --- leases ----------------------------------------------------------------------------------
    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        check_ttl(ttl)
        with self._calling("write"):
            return bool(self._redis.set(self._lease_key(name), owner, nx=True, px=_ms(ttl)))

    def renew_lease(self, name: str, owner: str, ttl: float) -> bool:
        check_ttl(ttl)
        with self._calling("write"):
            return bool(self._renew(keys=[self._lease_key(name)], args=[owner, _ms(ttl)]))

    def release_lease(self, name: str, owner: str) -> bool:
        with self._calling("write"):
            return bool(self._release(keys=[self._lease_key(name)], args=[owner]))

    # --- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._redis.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.server!r}, prefix={self.prefix!r})"

    # --- internals -------------------------------------------------------------------------------
    def _record_key(self, namespace: str, key: str) -> str:
        return f"{self.prefix}:{namespace}:{key}"

    def _index_key(self, namespace: str) -> str:
        return f"{self.prefix}:_index:{namespace}"

    def _lease_key(self, name: str) -> str:
        return f"{self.prefix}:_lease:{name}"

    def _keys(self, namespace: str, key: str) -> list[str]:
        return [self._record_key(namespace, key), self._index_key(namespace)]

    def _unindex(self, namespace: str, members: list[str]) -> int:
        """Drop index members whose record is gone; each check-and-remove is one atomic script."""
        if not members:
            return 0
        with self._calling("write"):
            batch = self._redis.pipeline(transaction=False)
            for key in members:
                self._prune(keys=self._keys(namespace, key), args=[key], client=batch)
            return sum(int(n) for n in batch.execute())

    @contextmanager
    def _calling(self, doing: str) -> Iterator[None]:
        """Refuse calls after ``close`` and translate redis-py errors into ``StateError`` classes
        whose message names the server, never the URL's password or a value."""
        if self._closed:
            raise StateError(f"state store {self.server} is closed")
        try:
            yield
        except redis.RedisError as exc:
            error = StateWriteError if doing == "write" else StateError
            raise error(f"cannot {doing} the state on redis {self.server}: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}") from None


def _record(namespace: str, key: str, fields: dict[str, str]) -> Record | None:
    if not fields or "version" not in fields:
        return None
    expires = fields.get("expires_at")
    return Record(namespace, key, json.loads(fields["value"]), int(fields["version"]),
                  None if expires is None else float(expires))


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _describe(url: str) -> str:
    """``host:port/db`` of a redis URL, for messages: never the user name or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 6379
    except ValueError:
        return "<unparsable redis URL>"
    database = parts.path.lstrip("/") or "0"
    return f"{parts.scheme}://{host}:{port}/{database}"
