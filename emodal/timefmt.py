"""The service's two time formats (API_SPEC 1.6): ISO-8601 UTC for bodies, a compact stamp for file names."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import overload

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@overload
def iso_utc(when: float | datetime) -> str: ...


@overload
def iso_utc(when: None) -> None: ...


def iso_utc(when: float | datetime | None) -> str | None:
    """``2025-11-24T19:25:45Z`` for an epoch or an aware datetime; ``None`` stays ``None``."""
    if when is None:
        return None
    moment = when if isinstance(when, datetime) else datetime.fromtimestamp(when, tz=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(ISO_FORMAT)


def utc_stamp(now: datetime | None = None) -> str:
    """File-name timestamp, UTC ``YYYYmmdd_HHMMSS``."""
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%d_%H%M%S")
