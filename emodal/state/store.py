"""The state-store interface: versioned records and leases, nothing SQL-shaped.

Why this shape: durable sessions (issue 10) need the service's state to outlive the process, and
the cluster (issue 11) needs the same state shared by several processes through Redis. Everything
the service keeps fits two primitives that both SQLite and Redis do well:

- **records**: a JSON-able dict under ``(namespace, key)`` with an integer ``version`` for
  compare-and-set and an optional absolute ``expires_at``. Sessions (metadata + sealed
  credentials and portal snapshot), idempotency records, the credential-lookup secret, browser
  process bookkeeping, and later jobs and the webhook outbox are all records.
- **leases**: a named, owner-tagged, time-bounded mutual exclusion (refresher turns, one browser
  driven by one request across the cluster). A crashed holder's lease runs out by itself.

A Redis backend maps a record to one key ``<prefix>:<namespace>:<key>`` (value + version, ``PXAT``
for expiry, CAS by ``WATCH``/``MULTI`` or a script), ``put_if_absent`` to ``SET NX``, a lease to
``SET NX PX`` plus owner-checked scripts for renew/release. Namespaces are therefore short
identifiers without ``:``.

Times are epoch seconds (wall clock, not monotonic): they must mean the same thing in another
process or after a restart.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

#: Lower-case identifiers: safe as part of a Redis key and readable in a dump.
_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Record:
    """One stored record. ``version`` starts at 1 for each life of the record (after a delete or
    an expiry the next write is version 1 again, as with a Redis key that expired)."""

    namespace: str
    key: str
    value: dict[str, Any]
    version: int
    expires_at: float | None = None


class StateStore(Protocol):
    """What the registry, the idempotency store and the browser bookkeeping may ask of the state.

    Every method is atomic on its own; there are no multi-record transactions (Redis could not
    give them cheaply), so callers make each record self-contained. Expired records and leases
    are invisible to every read at once, whether or not ``purge_expired`` has run.
    """

    #: Short name shown by ``/health`` (``"sqlite"``, later ``"redis"``).
    backend: str

    def get(self, namespace: str, key: str) -> Record | None:
        """The live record, or ``None`` (absent or expired)."""

    def put(self, namespace: str, key: str, value: dict[str, Any], *,
            expect_version: int | None = None, expires_at: float | None = None) -> int:
        """Write the whole record and return its new version.

        ``expect_version``: ``None`` writes unconditionally; ``0`` only if no live record exists;
        ``n`` only if the live record is at version ``n`` (read-modify-write of a session record
        by the refresher and a request at once). A mismatch raises ``VersionConflict`` and writes
        nothing. ``expires_at`` replaces the previous expiry (``None`` = never expires).
        """

    def put_if_absent(self, namespace: str, key: str, value: dict[str, Any], *,
                      expires_at: float | None = None) -> bool:
        """Create the record only if no live one exists (``SET NX``); True when it was created.

        Idempotency keys need exactly this: of two retries arriving together, one books and
        the other sees the first one's record.
        """

    def delete(self, namespace: str, key: str, *, expect_version: int | None = None) -> bool:
        """Remove the record; True if a live one was removed. With ``expect_version`` a
        mismatch (or a missing record) raises ``VersionConflict``."""

    def scan(self, namespace: str) -> list[Record]:
        """Every live record of a namespace, ordered by key (restore all sessions at start,
        reap recorded browsers, count for ``/health``)."""

    def purge_expired(self) -> int:
        """Physically remove expired records and leases; returns how many were removed
        (0 for a backend that expires by itself). Called periodically, never needed for
        correctness."""

    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease for ``ttl`` seconds if nobody holds a live one. Not re-entrant:
        the holder extends with ``renew_lease``."""

    def renew_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Extend a live lease held by ``owner`` to ``ttl`` seconds from now; False if the lease
        ran out or belongs to someone else (the caller has lost it and must stop)."""

    def release_lease(self, name: str, owner: str) -> bool:
        """Give the lease back; only its owner can. True if ``owner`` held a live lease."""

    def close(self) -> None:
        """Release the backend's resources (connection, process lock). Idempotent."""


def check_namespace(namespace: str) -> None:
    """Reject namespaces that would not map one-to-one onto every backend."""
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"invalid namespace {namespace!r}: lower-case identifier, at most 64 characters")


def check_names(namespace: str, key: str) -> None:
    check_namespace(namespace)
    if not isinstance(key, str) or not key:
        raise ValueError("record key must be a non-empty string")


def check_ttl(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError("lease ttl must be positive")


def encode_value(value: dict[str, Any]) -> str:
    """A record value as stored by every backend: compact JSON with sorted keys (stable bytes,
    readable in a dump)."""
    if not isinstance(value, dict):
        raise TypeError("a record value must be a dict")
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
