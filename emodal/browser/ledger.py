"""The list of browsers this service started, kept in the state store, so a later start can reap
what a killed process left behind (API_SPEC 4.12: only processes started by this service are ever
signalled).

Why durable: ``BrowserHandle.close`` and the shutdown sequence reap every browser of a process
that stops normally, but after SIGKILL or an out-of-memory kill nothing runs at exit, and every
ChromeDriver + Chromium keeps running (each leads its own session, so nothing kills it with its
parent). So each local browser's process group is recorded (namespace ``browsers``, one record
per process group) when its ChromeDriver starts and forgotten when it is closed; at start-up the
records of a dead owner are *stale* and their groups are killed, before any session is restored.

A recorded PID may have been reused by an unrelated process after a reboot or a long downtime, so
a record also keeps the process's start time, and a group is killed only when its leader still
has that start time. Leaderless members are killed only when their command line names the
browser's own (random) profile folder. One record per browser, each written on its own, keeps
concurrent threads from rewriting each other's entries.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import psutil

from emodal.state.errors import StateError
from emodal.state.store import StateStore

log = logging.getLogger(__name__)

#: Start times are compared with this tolerance: psutil derives them from the boot time, which the
#: kernel recomputes from the wall clock (an NTP step moves it slightly between two runs). A PID
#: reused within a second of the original's start would need a full PID wrap-around in that second.
START_TIME_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class BrowserRecord:
    """One recorded browser: its process group (== ChromeDriver's PID) and who started it."""

    pgid: int
    started: float
    root_dir: str
    owner_pid: int
    owner_started: float


def process_started(pid: int) -> float | None:
    """Start time (epoch seconds) of a live, non-zombie process ``pid``, else None."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_same_process(pid: int, started: float) -> bool:
    """True when ``pid`` runs and is the process that started at ``started`` (not a reused PID)."""
    now_started = process_started(pid)
    return now_started is not None and abs(now_started - started) <= START_TIME_TOLERANCE_S


#: Store namespace of the browser records.
NAMESPACE = "browsers"


class BrowserLedger:
    """``record(pgid, root_dir)`` / ``forget(pgid)`` / ``stale()`` over the store's ``browsers`` records."""

    def __init__(self, store: StateStore, owner: tuple[int, float] | None = None) -> None:
        """``owner``: (pid, start time) written into records; default this process (tests pass a
        dead one to play an earlier run)."""
        self.store = store
        self._owner_pid, self._owner_started = owner or (os.getpid(), process_started(os.getpid()) or 0.0)

    def record(self, pgid: int, root_dir: Path | str) -> None:
        """Remember the group led by ``pgid`` (a process that runs now) and its profile folder."""
        started = process_started(pgid)
        if started is None:
            return  # already gone: nothing to reap later
        record = BrowserRecord(pgid, started, str(root_dir), self._owner_pid, self._owner_started)
        try:
            self.store.put(NAMESPACE, str(pgid), asdict(record))
        except StateError as exc:  # a safety net only: a full or read-only disk must not stop logins
            log.warning("browser %d not recorded in the state store: %s", pgid, exc)

    def forget(self, pgid: int) -> None:
        try:
            self.store.delete(NAMESPACE, str(pgid))
        except StateError as exc:
            log.warning("browser %d not forgotten in the state store: %s", pgid, exc)

    def stale(self) -> list[BrowserRecord]:
        """Records whose owner process is gone (a live owner, this one or another, keeps its own)."""
        out = []
        names = {f.name for f in fields(BrowserRecord)}
        for stored in self.store.scan(NAMESPACE):
            try:
                record = BrowserRecord(**{k: v for k, v in stored.value.items() if k in names})
            except TypeError:
                log.warning("unreadable browser record %s removed", stored.key)
                self.store.delete(NAMESPACE, stored.key)
                continue
            if not is_same_process(record.owner_pid, record.owner_started):
                out.append(record)
        return out
