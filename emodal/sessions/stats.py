"""Counters and the last portal outcome kept by the registry, and the ``stats()`` summary.

Why separate: ``/health`` and ``/metrics`` read these figures on every scrape; they come from
registry data only (never a browser), and keeping the bookkeeping here leaves the registry about
sessions and locks.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, Iterable

from emodal.sessions.session import BrowserSession, SessionState
from emodal.timefmt import iso_utc

#: Failures that are the caller's own mistake and say nothing about the portal's health.
CALLER_ERRORS = frozenset({"invalid_credentials", "captcha_key_invalid", "captcha_zero_balance"})


class RegistryStats:
    """Thread-safe counters (``group:result`` or plain names) and the portal status of /health."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: Counter[str] = Counter()
        self._portal: dict[str, Any] = {"status": "unknown", "last_success_at": None, "last_error_type": None}

    def count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def portal_result(self, group: str, error_type: str | None) -> None:
        """Record a login or refresh outcome (``error_type`` None = success)."""
        with self._lock:
            self._counters[f"{group}:{error_type or 'ok'}"] += 1
            if error_type is None:
                self._portal.update(status="ok", last_success_at=iso_utc(time.time()))
            elif error_type not in CALLER_ERRORS:
                self._portal.update(status="error", last_error_type=error_type)

    def summary(self, sessions: Iterable[BrowserSession], max_sessions: int, captcha_solves: int) -> dict[str, Any]:
        """``registry.stats()``: ``active_sessions``, ``max_sessions``, ``persistent_sessions``,
        ``busy_sessions``, ``logins_in_progress``, ``by_kind_state`` (``{kind: {state: n}}``),
        ``counters`` (logins and refreshes by result, captcha_solves, evictions, recoveries...) and
        ``portal`` (``status``, ``last_success_at``, ``last_error_type``)."""
        sessions = list(sessions)
        logging_in = {SessionState.LOGGING_IN, SessionState.RELOGGING}
        by_kind_state: dict[str, dict[str, int]] = {"keep_alive": {}, "regular": {}}
        for s in sessions:
            states = by_kind_state[s.kind]
            states[s.state.value] = states.get(s.state.value, 0) + 1
        first_logins = sum(s.state is SessionState.LOGGING_IN for s in sessions)
        with self._lock:
            counters = dict(self._counters)
            portal = dict(self._portal)
        grouped: dict[str, Any] = {"captcha_solves": captcha_solves}
        for name, value in counters.items():
            group, _, result = name.partition(":")
            if result:
                grouped.setdefault(group, {})[result] = value
            else:
                grouped[group] = value
        return {
            "active_sessions": len(sessions) - first_logins,
            "max_sessions": max_sessions,
            "persistent_sessions": sum(s.keep_alive and s.state is not SessionState.LOGGING_IN for s in sessions),
            "busy_sessions": sum(s.busy and s.state not in logging_in for s in sessions),
            "logins_in_progress": sum(s.state in logging_in for s in sessions),
            "by_kind_state": by_kind_state,
            "counters": grouped,
            "portal": portal,
        }
