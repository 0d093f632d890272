"""When to try a failed delivery again: exponential back-off with full jitter, bounded by a window.

Why full jitter (a uniform draw between 0 and the exponential ceiling, as in the AWS architecture
note "Exponential Backoff And Jitter"): after an outage every subscriber's pending deliveries failed
at about the same moment; without jitter they would all retry in lock-step and knock the receiver
over again when it comes back. The ceiling stops growing at ``MAX_DELAY`` so a receiver that was
down for an hour gets its events within about an hour of recovering, not a day later.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Ceiling of the first retry, s; it doubles with every failed attempt.
BASE_DELAY = 5.0
#: Largest ceiling, s (reached after about ten attempts).
MAX_DELAY = 3600.0


@dataclass(frozen=True)
class Backoff:
    """``random`` returns a float in [0, 1) (``random.random``; tests inject a fixed value)."""

    random: Callable[[], float]
    base: float = BASE_DELAY
    cap: float = MAX_DELAY

    def ceiling(self, attempts: int) -> float:
        """Upper bound of the wait after the ``attempts``-th failed attempt (1-based)."""
        return min(self.cap, self.base * 2 ** min(max(attempts - 1, 0), 32))

    def next_attempt(self, attempts: int, failed_at: float, give_up_at: float) -> float | None:
        """Time of the next attempt after the ``attempts``-th failure at ``failed_at``, or ``None``
        when the retry window (``give_up_at``) is over.

        A wait that would end past the window is cut to the window's end, so the last attempt
        happens at ``give_up_at`` rather than up to ``cap`` seconds earlier.
        """
        if failed_at >= give_up_at:
            return None
        return min(failed_at + self.random() * self.ceiling(attempts), give_up_at)
