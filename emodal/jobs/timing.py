"""When a schedule runs next: ``every`` intervals and cron texts (croniter) in a time zone.

Why croniter and not hand-written cron parsing: ranges, steps, lists, names and DST are easy to get
wrong; croniter is the parser most Python schedulers use. The texts are standard 5-field cron
(minute hour day month weekday), read in the schedule's IANA time zone, so ``0 6-18/2 * * 1-5``
means 06:00..18:00 local time on weekdays across DST changes.

``every`` keeps its phase: runs are due at ``anchor + k * every``; after downtime the missed runs
are skipped (one run at the next due time, not a burst).
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

#: ``2h``, ``90m``, ``1h30m``, ``1d``: one or more number+unit parts, largest unit first.
_EVERY = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (86400, 3600, 60, 1)
#: Shortest interval a schedule may have, s: a job loads a portal page for each item.
MIN_EVERY_S = 60


class ScheduleError(ValueError):
    """A schedule text that cannot be used; the message names what is wrong (the API's 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_every(text: str) -> int:
    """Seconds of an ``every`` text (``2h``, ``1h30m``); at least :data:`MIN_EVERY_S`."""
    found = _EVERY.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if not found or not any(found.groups()):
        raise ScheduleError("every", "every must be like 30m, 2h, 1h30m or 1d")
    seconds = sum(int(part) * unit for part, unit in zip(found.groups(), _UNITS) if part)
    if seconds < MIN_EVERY_S:
        raise ScheduleError("every", f"every must be at least {MIN_EVERY_S} seconds")
    return seconds


def parse_cron(text: str) -> str:
    """A valid 5-field cron text, normalised to single spaces."""
    fields = text.split() if isinstance(text, str) else []
    if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
        raise ScheduleError("cron", "cron must be a 5-field cron text (minute hour day month weekday), "
                                    "e.g. '0 6-18/2 * * 1-5'")
    return " ".join(fields)


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError("timezone", "timezone must be an IANA time zone name, e.g. America/Los_Angeles") from None


def next_run(*, after: float, every_s: int | None = None, anchor: float | None = None, cron: str | None = None,
             timezone: str = "UTC") -> float:
    """The first due time strictly after ``after`` (epoch seconds).

    ``every_s`` + ``anchor``: ``anchor + k * every_s``; ``cron``: the next cron time in ``timezone``.
    """
    if cron is not None:
        start = datetime.fromtimestamp(after, parse_timezone(timezone))
        return float(croniter(cron, start).get_next(datetime).timestamp())
    if every_s is None:
        raise ValueError("next_run needs every_s or cron")
    base = after if anchor is None else anchor
    steps = max(1, math.floor((after - base) / every_s) + 1)
    return base + steps * every_s


__all__ = ["MIN_EVERY_S", "ScheduleError", "next_run", "parse_cron", "parse_every", "parse_timezone"]
