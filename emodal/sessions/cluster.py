"""Coordination of one pool of sessions between several API instances (issue 11).

Why a separate piece: with ``STATE_URL=redis://…`` every instance sees every session record, and
any of them may serve any session. What must then hold across processes, not only across threads:

- **one driver per browser**: the per-session lock is backed by a store lease
  (``session:<record key>``), taken with ``SESSION_LOCK_TIMEOUT``, renewed while the operation
  runs (:mod:`emodal.state.lease`), released at the end; a crashed holder's lease runs out within
  :data:`SESSION_LEASE_TTL`;
- **one login per credentials**: a lease on the credentials lookup key (``login:<hash>``) makes
  concurrent ``/get_session`` calls on different instances log in once; the others wait for the
  session record to appear and use it;
- **a cluster-wide ``MAX_SESSIONS``**: logins in progress are visible to all instances as short-lived
  reservation records (namespace ``logins``), counted with the session records.

The registry uses this object only when the store is shared (``backend == "redis"``); a single
process (SQLite) keeps its in-process locks and nothing here runs.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from emodal.state.lease import POLL_INTERVAL, HeldLease, lease_owner, take_lease
from emodal.state.store import StateStore

#: Seconds a lease outlives its last renewal: how long a killed instance can block a session.
SESSION_LEASE_TTL = 30.0
#: Store namespace of login reservations (a login in progress on some instance).
LOGINS_NAMESPACE = "logins"

T = TypeVar("T")


def login_name(tenant: str, lookup_key: str) -> str:
    """The name of a credentials lookup key in the store (a hash: the key itself is an HMAC of a password)."""
    return hashlib.sha256(f"{tenant}\x00{lookup_key}".encode("utf-8")).hexdigest()[:32]


class SessionCluster:
    """Leases and login reservations in the shared store, owned by one instance (``instance_id``)."""

    def __init__(self, store: StateStore, instance_id: str, *, lease_ttl: float = SESSION_LEASE_TTL) -> None:
        self.store = store
        self.instance_id = instance_id
        self.lease_ttl = lease_ttl

    # --- per-session lease ----------------------------------------------------------------------
    def hold_session(self, record_key: str, purpose: str, timeout: float,
                     cancelled: Callable[[], bool]) -> HeldLease | None:
        """The session's cluster-wide lease within ``timeout`` (0: one try), else None."""
        return take_lease(self.store, f"session:{record_key}", lease_owner(self.instance_id, purpose),
                          self.lease_ttl, timeout, cancelled=cancelled)

    # --- single-flight logins -------------------------------------------------------------------
    def await_login(self, tenant: str, lookup_key: str, found: Callable[[], T | None], timeout: float,
                    cancelled: Callable[[], bool]) -> T | HeldLease | None:
        """Either the session some instance logged in for these credentials (``found()``), or the
        login lease for this instance to log in itself, whichever comes first within ``timeout``
        (None: neither). The holder of the lease that finds no session must log in, then release it."""
        name = f"login:{login_name(tenant, lookup_key)}"
        deadline = time.monotonic() + timeout
        waiter = threading.Event()
        while True:
            existing = found()
            if existing is not None:
                return existing
            lease = take_lease(self.store, name, lease_owner(self.instance_id, "login"), self.lease_ttl, 0)
            if lease is not None:
                existing = found()  # the winner may have finished between the look-up and the lease
                if existing is None:
                    return lease
                lease.release()
                return existing
            left = deadline - time.monotonic()
            if left <= 0 or cancelled():
                return None
            waiter.wait(min(POLL_INTERVAL * 2.5, left))  # deadline-bound poll for the winner's record

    def reserve_login(self, tenant: str, lookup_key: str, ttl: float) -> str:
        """Make a login in progress count against ``MAX_SESSIONS`` on every instance; returns the
        reservation key for :meth:`end_login`. It expires by itself if this instance dies."""
        key = login_name(tenant, lookup_key)
        self.store.put(LOGINS_NAMESPACE, key, {"tenant": tenant, "instance": self.instance_id,
                                               "started_at": time.time()}, expires_at=time.time() + ttl)
        return key

    def end_login(self, key: str) -> None:
        self.store.delete(LOGINS_NAMESPACE, key)

    def logins_elsewhere(self, tenant: str | None = None) -> int:
        """Logins in progress on other instances (of ``tenant``, or all)."""
        return sum(1 for r in self.store.scan(LOGINS_NAMESPACE)
                   if r.value.get("instance") != self.instance_id and (tenant is None or r.value.get("tenant") == tenant))
