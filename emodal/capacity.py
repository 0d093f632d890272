"""The default ``MAX_SESSIONS``: as many browser sessions as this machine's memory holds.

Why derived: every session is a whole Chromium. Past what the memory holds the host swaps, every
session slows to a crawl and the kernel's OOM killer picks victims at random; refusing the next
session with 503 ``capacity_exhausted`` + ``Retry-After`` (API_SPEC 3.8) is the clean failure.
An explicit ``MAX_SESSIONS`` always wins (a host shared with other services, a Grid of browsers).

The formula (README "Capacity"), with the machine's total memory in MB::

    MAX_SESSIONS = clamp(floor((total * USABLE_SHARE - RESERVED_MB - spares * SPARE_MB) / SESSION_MB),
                         MIN, CEILING)

``SESSION_MB`` is the *working* PSS of one session measured by ``make bench-curve`` (sessions that
have just run operations, shared pages counted once), not the idle figure, plus headroom for a
long grid or the wizard; ``RESERVED_MB`` covers the service itself, the OS and a burst of logins;
``SPARE_MB`` is one blank browser kept started ahead for the next login (``SPARE_BROWSERS``).
"""
from __future__ import annotations

import psutil

#: Budget per session, MB: measured working PSS (bench/curve.py) rounded up with headroom.
SESSION_MB = 250
#: Memory never planned for sessions, MB: the service process, the OS, logins starting browsers.
RESERVED_MB = 1536
#: Budget per spare browser (SPARE_BROWSERS), MB: a blank, idle Chromium measured ~130 MB PSS.
SPARE_MB = 150
#: Share of the total memory sessions may plan on (the rest: page cache, other processes).
USABLE_SHARE = 0.8
#: At least ``MAX_CONCURRENT_LOGINS``'s default, so the defaults always validate.
MIN_SESSIONS = 2
#: The default ``SERVER_THREADS`` (32) must exceed ``MAX_SESSIONS``, keeping threads for /health
#: and /sessions; on a 2-core machine latency, not memory, limits well before (bench-curve).
CEILING = 30


def default_max_sessions(total_bytes: int | None = None, *, spares: int = 0) -> int:
    """``MAX_SESSIONS`` for a machine with ``total_bytes`` of memory (default: this machine's) that
    also keeps ``spares`` spare browsers (``SPARE_BROWSERS``)."""
    total_mb = (psutil.virtual_memory().total if total_bytes is None else total_bytes) / 2**20
    fit = int((total_mb * USABLE_SHARE - RESERVED_MB - spares * SPARE_MB) // SESSION_MB)
    return max(MIN_SESSIONS, min(fit, CEILING))
