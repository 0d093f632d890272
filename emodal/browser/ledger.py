"""The on-disk list of browsers this service started, so a later start can reap what a killed
process left behind (API_SPEC 4.12: only processes started by this service are ever signalled).

Why on disk: ``BrowserHandle.close`` and the shutdown sequence reap every browser of a process
that stops normally, but after SIGKILL or an out-of-memory kill nothing runs at exit, and every
ChromeDriver + Chromium keeps running (each leads its own session, so nothing kills it with its
parent). So each local browser's process group is recorded in ``STATE_DIR/browsers/`` when its
ChromeDriver starts and forgotten when it is closed; at start-up the records of a dead owner are
*stale* and their groups are killed.

A recorded PID may have been reused by an unrelated process after a reboot or a long downtime, so
a record also keeps the process's start time, and a group is killed only when its leader still
has that start time. Leaderless members are killed only when their command line names the
browser's own (random) profile folder. One small JSON file per browser, written atomically, keeps
concurrent threads (and a second service sharing ``STATE_DIR``) from rewriting each other's
records; a later state store can replace this class behind the same three methods.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

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


class BrowserLedger:
    """``record(pgid, root_dir)`` / ``forget(pgid)`` / ``stale()`` over ``<state_dir>/browsers/``."""

    def __init__(self, state_dir: Path | str, owner: tuple[int, float] | None = None) -> None:
        """``owner``: (pid, start time) written into records; default this process (tests pass a
        dead one to play an earlier run)."""
        self.dir = Path(state_dir) / "browsers"
        self._owner_pid, self._owner_started = owner or (os.getpid(), process_started(os.getpid()) or 0.0)

    def record(self, pgid: int, root_dir: Path | str) -> None:
        """Remember the group led by ``pgid`` (a process that runs now) and its profile folder."""
        started = process_started(pgid)
        if started is None:
            return  # already gone: nothing to reap later
        record = BrowserRecord(pgid, started, str(root_dir), self._owner_pid, self._owner_started)
        try:
            self._write(self._path(pgid), record)
        except OSError as exc:  # a safety net only: a full or read-only disk must not stop logins
            log.warning("browser %d not recorded in %s: %s", pgid, self.dir, exc)

    def _write(self, path: Path, record: BrowserRecord) -> None:
        """Atomic write. No fsync: the file must survive a killed process, not a power loss
        (which ends the browsers too)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(record), handle)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def forget(self, pgid: int) -> None:
        self._path(pgid).unlink(missing_ok=True)

    def stale(self) -> list[BrowserRecord]:
        """Records whose owner process is gone (a live owner, this one or another, keeps its own)."""
        out = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                record = BrowserRecord(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                log.warning("unreadable browser record %s removed", path.name)
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            if not is_same_process(record.owner_pid, record.owner_started):
                out.append(record)
        return out

    def _path(self, pgid: int) -> Path:
        return self.dir / f"{pgid}.json"
