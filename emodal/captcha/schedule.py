"""When to ask the solver for the answer: a first poll at the learned solve time, then short steps.

Why not a fixed interval: the answer is worth nothing until it exists, and every second between
"ready" and "asked" is a second of login. A fixed 5 s poll loses half a period on average (2.5 s
on a 2 s solve) and up to a whole one. 2captcha asks for a first poll after a short initial wait
(10-20 s for reCAPTCHA) and then every 5 s; ``CAPTCHA_POLL_INTERVAL`` keeps that meaning as the
*longest* wait between polls and the wait before the first poll until anything is learned.

What is learned: the service's own recent solve times. Each solved task yields one sample, the
middle of the last polling gap (``elapsed at the answer - step / 2``): on a miss of the first poll
the truth lies in that gap; on a hit it lies at or before the first poll, and the half-step pulls
the estimate down so that it can follow a solver that got faster. The first poll of the next task
waits the median of the last samples; after a miss the task is polled every ``step``: the interval
when the solver is slower than that (a 2captcha reCAPTCHA, 10-40 s, is polled every 5 s as asked),
else ``first / 4`` but at least :data:`MIN_STEP` (the sandbox's 2 s solve: every second).
"""
from __future__ import annotations

import statistics
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

#: Shortest wait between two polls of one task once its first poll missed.
MIN_STEP = 1.0
#: Solve times remembered: enough to ride out one odd task, few enough to follow a change.
WINDOW = 8


@dataclass(frozen=True)
class PollPlan:
    """The waits of one task: ``first`` before the first poll, ``step`` before each further one."""

    first: float
    step: float

    def wait(self, polls_made: int) -> float:
        return self.first if polls_made == 0 else self.step


class PollSchedule:
    """Shared by every solve of one service (thread-safe): plans polls and learns solve times."""

    def __init__(self, interval: float, *, min_step: float = MIN_STEP, window: int = WINDOW,
                 samples: Iterable[float] = ()) -> None:
        """``samples``: solve times learned before (oldest first), e.g. kept across a restart."""
        self.interval = interval
        self.min_step = min_step
        self._samples: deque[float] = deque((float(x) for x in samples), maxlen=window)
        self._lock = threading.Lock()

    def samples(self) -> list[float]:
        """The solve times remembered, oldest first (what a restart needs to go on from here)."""
        with self._lock:
            return list(self._samples)

    def expected(self) -> float | None:
        """The typical solve time learned so far (``None`` before the first solve)."""
        with self._lock:
            return statistics.median(self._samples) if self._samples else None

    def plan(self) -> PollPlan:
        """Nothing learned yet: 2captcha's own schedule (first poll and steps at the interval)."""
        expected = self.expected()
        if expected is None:
            return PollPlan(self.interval, self.interval)
        first = max(expected, min(self.min_step, self.interval))
        if first >= self.interval:
            return PollPlan(first, self.interval)  # a slow solver: 2captcha's own pace after the first poll
        return PollPlan(first, min(self.interval, max(self.min_step, first / 4)))

    def record(self, plan: PollPlan, answered_after: float) -> None:
        """Learn from a task answered ``answered_after`` seconds after it was submitted."""
        sample = max(answered_after - plan.step / 2, 0.0)
        with self._lock:
            self._samples.append(sample)
