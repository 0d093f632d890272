"""Spare browsers: started ahead in the background so that a login does not wait for one.

Why: starting ChromeDriver + Chromium takes 1-2.4 s (more on a loaded machine), longer than the
sandbox's whole captcha solve, and a new login cannot begin before it has a browser
(docs/PERFORMANCE.md). A spare is an ordinary browser of the factory (recorded in the browser
ledger, so reaped after a kill like any other, closed at shutdown), kept blank until a login
takes it; the replacement starts in the background once that login has ended (:meth:`refill`):
started at once, it competed for the CPU with the login's own page loads and made back-to-back
logins slower on a 2-core machine (docs/PERFORMANCE.md).

Rules this component keeps:

- a spare is checked before it is handed out (:meth:`Spare.alive`): a crashed one is closed and
  the login starts its own browser (``None`` from :meth:`SparePool.take`), never a dead spare;
- starts run one at a time on the pool's own thread (two Chromium starts at once only slow each
  other on a small machine), and a start that fails is logged and counted, not retried in a loop:
  the next :meth:`SparePool.refill` starts another;
- a spare belongs to no session: the orphan reaper must not take it for one (:meth:`handles`).

No sleeps: the waits are on the start's ``Future``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Spare(Protocol):
    """What the pool needs of a browser (``BrowserHandle`` has it)."""

    created_at: float

    def alive(self) -> bool: ...

    def close(self) -> int: ...


H = TypeVar("H", bound=Spare)


class SparePool(Generic[H]):
    """Keeps ``size`` browsers made by ``start()`` ready for :meth:`take`.

    Nothing starts before :meth:`fill` (the service calls it once at start-up; a factory used by a
    test or a tool never starts a spare it did not ask for). ``counts``: ``started``, ``taken``,
    ``dead`` (crashed while waiting, closed), ``failed`` (the start raised), ``missed`` (no spare
    at all, or not ready within the wait).
    """

    def __init__(self, start: Callable[[], H], size: int) -> None:
        self._start = start
        self.size = size
        self._lock = threading.Lock()
        self._pending: deque[Future[H]] = deque()
        self._executor: ThreadPoolExecutor | None = None
        self._filling = False
        self._closed = False
        self.counts: Counter[str] = Counter()

    def fill(self) -> None:
        """Start spares in the background until ``size`` are ready or starting."""
        with self._lock:
            if self._closed or self.size <= 0:
                return
            self._filling = True
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spare-browser")
            while len(self._pending) < self.size:
                self._pending.append(self._executor.submit(self._start_one))
                self.counts["started"] += 1

    def refill(self) -> None:
        """After a login: replace the spares taken, if spares are kept at all (:meth:`fill` ran)."""
        with self._lock:
            filling = self._filling
        if filling:
            self.fill()

    def take(self, timeout: float) -> H | None:
        """A live spare, waiting up to ``timeout`` s for one still starting; ``None`` when there is
        none (the caller starts its own browser); the caller calls :meth:`refill` once its login ended."""
        with self._lock:
            future = self._pending.popleft() if self._pending else None
        if future is None:
            self._count("missed")
            return None
        try:
            handle = future.result(timeout=timeout)
        except FutureTimeout:
            future.add_done_callback(_close_result)  # still starting: closed once it has started
            self._count("missed")
            return None
        except (CancelledError, Exception):  # noqa: BLE001 - logged by _start_one; the caller starts its own
            return None
        if not handle.alive():
            log.warning("the spare browser no longer answers (crashed?); it is closed and replaced")
            handle.close()
            self._count("dead")
            return None
        handle.created_at = time.monotonic()  # a login's browser from now on: aged as one by the reaper
        self._count("taken")
        return handle

    def handles(self) -> list[H]:
        """The spares started and waiting (for the reaper to leave alone)."""
        with self._lock:
            pending = list(self._pending)
        return [f.result() for f in pending if f.done() and not f.cancelled() and f.exception() is None]

    def close(self) -> int:
        """Start no more spares; close the ready ones, and those still starting once they have
        started. Returns how many processes the ready ones had."""
        with self._lock:
            self._closed = True
            pending, self._pending = list(self._pending), deque()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        closed = 0
        for future in pending:
            if future.done():
                closed += _close_result(future)
            else:
                future.add_done_callback(_close_result)
        return closed

    def _start_one(self) -> H:
        try:
            return self._start()
        except BaseException as exc:
            self._count("failed")
            log.warning("a spare browser did not start: %s (%s)", type(exc).__name__, getattr(exc, "details", exc))
            raise

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1


def _close_result(future: Future[H]) -> int:
    """Close the browser a finished start produced (nothing for a failed or cancelled one)."""
    if future.cancelled() or future.exception() is not None:
        return 0
    return future.result().close()


__all__ = ["SparePool"]
