"""Sandbox clock (B8.1): real time in the sandbox time zone plus an admin-movable offset.

Idle expiry, token TTLs, slot windows and generated dates all read this clock, so tests can
"wait" two minutes by advancing it instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo


class SandboxClock:
    """Real time + offset. A `today` override is folded into the initial offset (whole days), so
    the time of day stays real and advancing the clock moves dates consistently."""

    def __init__(self, tz: str, today: dt.date | None = None) -> None:
        self.tz = ZoneInfo(tz)
        self._lock = threading.Lock()
        self._offset = dt.timedelta(0)
        if today is not None:
            self._offset = dt.timedelta(days=(today - self._real_now().date()).days)

    def _real_now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def now(self) -> dt.datetime:
        """Aware datetime in the sandbox time zone."""
        with self._lock:
            return self._real_now() + self._offset

    def today(self) -> dt.date:
        return self.now().date()

    def timestamp(self) -> float:
        """Epoch seconds on the sandbox clock (for TTL and idle arithmetic)."""
        return self.now().timestamp()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += dt.timedelta(seconds=seconds)

    def set_now(self, when: dt.datetime) -> None:
        """Jump to an absolute instant (naive values are taken in the sandbox tz)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        with self._lock:
            self._offset = when - self._real_now()

    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset.total_seconds()
