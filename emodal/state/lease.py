"""A store lease held for as long as a piece of work runs: taken with a deadline, kept alive by a
renewer thread, given back at the end.

Why: a lease (``StateStore.acquire_lease``) is time-bounded so that a crashed holder cannot block
everybody forever, but an operation on a portal page can run longer than any ttl short enough to
make a crash cheap. So the lease is short (``ttl``) and renewed every ``ttl / 3`` while its holder
lives; a holder killed with ``kill -9`` stops renewing and its lease runs out within ``ttl``.
A holder whose renewal failed (the lease ran out while the process was stalled) is told through
:attr:`HeldLease.lost`: it no longer has exclusive use and must not start anything new.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

from emodal.state.errors import StateError
from emodal.state.store import StateStore

log = logging.getLogger(__name__)

#: How often a waiter asks again for a lease held by someone else.
POLL_INTERVAL = 0.2


def lease_owner(instance_id: str, purpose: str) -> str:
    """A unique owner tag: the instance (for an operator reading Redis) and a random part, so two
    threads of one instance never release each other's lease."""
    return f"{instance_id}|{purpose}|{secrets.token_hex(6)}"


class HeldLease:
    """A lease this process holds; :meth:`release` stops the renewer and gives the lease back."""

    def __init__(self, store: StateStore, name: str, owner: str, ttl: float) -> None:
        self.store = store
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name=f"lease-{name[:24]}", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            if not self.confirm():
                return

    def confirm(self) -> bool:
        """Renew now and tell whether the lease is still this holder's. The renewer notices a lost
        lease up to ``ttl / 3`` late; a holder about to make a write only the holder may make
        (a job's result rows) asks first. A store that does not answer counts as held: the
        write that follows would meet the same store."""
        if self.lost.is_set():
            return False
        try:
            if self.store.renew_lease(self.name, self.owner, self.ttl):
                return True
        except StateError as exc:
            log.error("lease %s not renewed (%s): exclusive use may be lost", self.name, exc)
            return True  # the store may answer again before the ttl ends
        log.error("lease %s ran out before it was renewed: exclusive use lost", self.name)
        self.lost.set()
        return False

    def release(self) -> None:
        """Stop renewing and give the lease back (a lease that ran out is simply gone). Idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            self.store.release_lease(self.name, self.owner)
        except StateError as exc:
            log.warning("lease %s not released (%s); it runs out within %.0f s", self.name, exc, self.ttl)


def take_lease(store: StateStore, name: str, owner: str, ttl: float, timeout: float, *,
               cancelled: Callable[[], bool] = lambda: False) -> HeldLease | None:
    """Take lease ``name`` within ``timeout`` seconds (0: one try), renewed until released; None
    when someone else held it all along (or ``cancelled()`` became true, e.g. shutdown)."""
    deadline = time.monotonic() + max(0.0, timeout)
    waiter = threading.Event()
    while True:
        if store.acquire_lease(name, owner, ttl):
            return HeldLease(store, name, owner, ttl)
        left = deadline - time.monotonic()
        if left <= 0 or cancelled():
            return None
        waiter.wait(min(POLL_INTERVAL, left))  # a deadline-bound poll: leases have no notification
