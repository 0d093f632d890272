"""Spare browsers (emodal.browser.spares): started ahead in the background, checked before they are
handed to a login, replaced after each take, never left running after close. Fake handles stand in
for browsers; the pool's own thread and futures are real (waits on events, never on time)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from emodal.browser.spares import SparePool


class FakeHandle:
    def __init__(self, number: int) -> None:
        self.number = number
        self.created_at = 0.0
        self.answers = True
        self.closed = False

    def alive(self) -> bool:
        return self.answers and not self.closed

    def close(self) -> int:
        self.closed = True
        return 1


class Starter:
    """``start()`` for the pool: numbered handles; ``gate`` (when set) holds starts until opened;
    ``fail_next`` makes the next start raise."""

    def __init__(self) -> None:
        self.made: list[FakeHandle] = []
        self.gate: threading.Event | None = None
        self.fail_next = False
        self._lock = threading.Lock()

    def __call__(self) -> FakeHandle:
        if self.gate is not None:
            assert self.gate.wait(10)
        with self._lock:
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("chromedriver did not start")
            self.made.append(FakeHandle(len(self.made)))
            return self.made[-1]


@pytest.fixture
def starter() -> Starter:
    return Starter()


@pytest.fixture
def pool(starter: Starter) -> Iterator[SparePool[FakeHandle]]:
    made: SparePool[FakeHandle] = SparePool(starter, 1)
    yield made
    made.close()


def test_nothing_starts_before_fill_and_a_take_then_finds_no_spare(pool: SparePool[FakeHandle],
                                                                   starter: Starter) -> None:
    assert pool.take(timeout=5) is None
    assert starter.made == [] and pool.counts["missed"] == 1 and pool.counts["started"] == 0


def test_a_login_takes_the_spare_and_a_replacement_starts(pool: SparePool[FakeHandle], starter: Starter) -> None:
    pool.fill()
    first = pool.take(timeout=5)
    assert first is starter.made[0] and not first.closed
    assert first.created_at > 0                      # aged as a login's browser from the take on
    assert pool.take(timeout=5) is None              # not replaced while that login runs ...
    pool.refill()                                    # ... but once it has ended
    second = pool.take(timeout=5)
    assert second is starter.made[1]
    assert pool.counts["taken"] == 2 and pool.counts["started"] == 2


def test_a_ready_spare_is_listed_for_the_reaper_to_leave_alone(pool: SparePool[FakeHandle],
                                                               starter: Starter) -> None:
    pool.fill()
    assert _eventually(lambda: len(starter.made) == 1 and pool.handles() == starter.made)
    taken = pool.take(timeout=5)
    assert taken is starter.made[0]
    pool.refill()
    assert _eventually(lambda: len(starter.made) == 2 and pool.handles() == starter.made[1:])  # the replacement
    pool.close()
    assert pool.handles() == [] and starter.made[1].closed and not taken.closed


def test_a_dead_spare_is_closed_and_replaced_never_handed_out(pool: SparePool[FakeHandle],
                                                              starter: Starter) -> None:
    pool.fill()
    starter.gate = threading.Event()                 # hold the replacement until the check is done
    assert _eventually(lambda: pool.handles() != [])    # the spare is ready
    first_start = starter.made[0]
    first_start.answers = False                      # ... and then its Chromium crashed
    assert pool.take(timeout=5) is None              # the caller starts its own browser
    assert first_start.closed and pool.counts["dead"] == 1
    pool.refill()
    starter.gate.set()
    replacement = pool.take(timeout=5)
    assert replacement is starter.made[1] and replacement.alive()


def test_a_failed_start_falls_back_and_the_next_take_gets_a_new_spare(pool: SparePool[FakeHandle],
                                                                      starter: Starter) -> None:
    starter.fail_next = True
    pool.fill()
    assert pool.take(timeout=5) is None
    assert pool.counts["failed"] == 1
    pool.refill()
    assert pool.take(timeout=5) is starter.made[0]


def test_a_spare_not_ready_within_the_wait_is_closed_once_started(pool: SparePool[FakeHandle],
                                                                  starter: Starter) -> None:
    starter.gate = threading.Event()
    pool.fill()
    assert pool.take(timeout=0.01) is None and pool.counts["missed"] == 1
    starter.gate.set()
    pool.close()
    made = starter.made[0] if starter.made else None
    assert made is None or _eventually_closed(made)


def test_close_closes_the_ready_spare_and_the_one_still_starting(starter: Starter) -> None:
    pool: SparePool[FakeHandle] = SparePool(starter, 2)
    starter.gate = threading.Event()
    pool.fill()
    pool.close()                                     # both still starting (gated): cancelled or closed later
    starter.gate.set()
    assert all(_eventually_closed(h) for h in starter.made)
    pool.fill()                                      # closed: nothing starts again
    assert pool.counts["started"] == 2


def test_size_zero_keeps_no_spare(starter: Starter) -> None:
    pool: SparePool[FakeHandle] = SparePool(starter, 0)
    pool.fill()
    pool.refill()
    assert pool.take(timeout=1) is None and starter.made == []


def test_refill_starts_nothing_when_spares_were_never_asked_for(pool: SparePool[FakeHandle], starter: Starter) -> None:
    pool.refill()                                    # a factory of a test or a tool: no spare behind its back
    assert pool.take(timeout=1) is None and starter.made == []


def _eventually(condition: Callable[[], bool]) -> bool:
    """Wait (up to 10 s) for the pool's own thread to reach ``condition``."""
    pause = threading.Event()
    for _ in range(200):
        if condition():
            return True
        pause.wait(0.05)
    return condition()


def _eventually_closed(handle: FakeHandle) -> bool:
    """The pool closes a browser that finishes starting after close() from the start's own thread."""
    return _eventually(lambda: handle.closed)
