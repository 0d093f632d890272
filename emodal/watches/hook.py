"""The watch pass: the refresher's tick hook (``emodal/sessions/refresher.py`` ``TickHook``).

Why on the refresh tick: the refresher already holds the session's lock and has just loaded a
portal page (and re-logged in if the login had lapsed), so reading the Containers grid there costs
no extra lock wait and no extra login. A session is worked on when one of its watches is due
(``WATCH_INTERVAL`` after its last attempt; a new watch at once), whether or not the refresh was.

One pass per session and tick: the grid is read once (``operations.containers.read_grid``, every
row) for all its due watches; a watch of ``appointment_slots`` then runs one appointment check per
found container (``operations.job_items.sweep_container``: an export's booking number first),
each through the operation runner on the held lock (``OperationRunner.run_held``). Events are
emitted to the app's event sink (recorded, queued for webhooks) and kept under the watch, then the
readings are stored: a crash in between repeats the events at the next pass (at least once).
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from emodal.errors import ApiError, PortalRejected
from emodal.jobs.events import EventSink, new_event_id
from emodal.operations.containers import read_grid
from emodal.operations.job_items import sweep_container
from emodal.timefmt import iso_utc
from emodal.watches.diff import APPOINTMENT_SLOTS, Reading, container_events, grid_values, kept
from emodal.watches.store import WatchStore

if TYPE_CHECKING:
    from emodal.operations.runner import OperationRunner
    from emodal.sessions.session import BrowserSession

log = logging.getLogger("emodal.watches")

ROUTE = "/watches"


class WatchHook:
    """``wants(session, now)``: a watch of the session is due; ``run(session)``: the pass (never raises)."""

    def __init__(self, store: WatchStore, runner: Callable[[], OperationRunner], sink: EventSink, *,
                 interval: float, clock: Callable[[], float] = time.time) -> None:
        self.store, self._runner, self._sink = store, runner, sink
        self.interval = interval
        self._clock = clock

    def due(self, watch: dict[str, Any], now: float) -> bool:
        last = watch["last_attempt_at"]
        return last is None or now - last >= self.interval

    def wants(self, session: BrowserSession, now: float) -> bool:
        return any(self.due(w, now) for w in self.store.of_session(session.tenant, session.session_id))

    def run(self, session: BrowserSession) -> None:
        now = self._clock()
        due = [w for w in self.store.of_session(session.tenant, session.session_id) if self.due(w, now)]
        if not due:
            return
        runner = self._runner()
        request_id = f"watch-{secrets.token_hex(4)}"
        try:
            grid = runner.run_held(session, read_grid, {}, request_id=request_id, route=ROUTE,
                                   base_url=due[0]["base_url"])
        except Exception as exc:  # noqa: BLE001 - the refresher must go on; the watch says what failed
            log.warning("%s watch pass: grid not read (%s)", session.short_id, getattr(exc, "error_type", exc))
            error = _error(exc)
            for watch in due:
                self.store.update(watch["id"], lambda w: {**w, "last_attempt_at": now, "last_error": error})
            return
        assert isinstance(grid, dict)
        rows = {row["container_number"]: row for row in grid["containers"]}
        for watch in due:
            try:
                self._pass(session, runner, watch, rows, now, request_id)
            except Exception:  # noqa: BLE001 - one watch's failure never stops the others
                log.exception("%s watch %s pass failed", session.short_id, watch["id"])

    def _pass(self, session: BrowserSession, runner: OperationRunner, watch: dict[str, Any],
              rows: dict[str, dict[str, Any]], now: float, request_id: str) -> None:
        seen: dict[str, Reading] = watch["seen"]
        numbers = list(rows) + [n for n in seen if n not in rows] if watch["containers"] == "all" \
            else watch["containers"]
        check = self.store.check_appointments(watch) if APPOINTMENT_SLOTS in watch["fields"] else None
        errors: list[dict[str, Any]] = []
        readings: dict[str, Reading] = {}
        events: list[tuple[str, str, dict[str, Any]]] = []
        for number in numbers:
            row = rows.get(number)
            after: Reading = {"found": False} if row is None else {"found": True, "values": grid_values(row)}
            if row is not None and check is not None:
                after["values"].update(self._slots(session, runner, watch, check, row, request_id, errors))
            before = seen.get(number)
            events += [(number, kind, data) for kind, data in container_events(watch["fields"], before, after)]
            readings[number] = kept(before, after)
        if events and self.store.get(watch["id"]) is None:
            return  # deleted during the pass
        for seq, (number, kind, data) in enumerate(events):
            self._emit(watch, number, kind, data, now, seq)
        last_error = errors[-1] if errors else None
        self.store.update(watch["id"], lambda w: {**w, "seen": readings, "last_attempt_at": now,
                                                  "last_checked_at": now, "last_error": last_error})
        log.info("%s watch %s checked %d container(s): %d event(s)", session.short_id, watch["id"],
                 len(numbers), len(events))

    def _slots(self, session: BrowserSession, runner: OperationRunner, watch: dict[str, Any],
               check: dict[str, Any], row: dict[str, Any], request_id: str,
               errors: list[dict[str, Any]]) -> dict[str, Any]:
        """``appointment_slots`` and ``first_slot`` of one container; a move the portal refuses (e.g.
        holds) offers 0 slots; any other failure gives no answer this pass (recorded in the watch's
        ``last_error``)."""
        number = row["container_number"]
        export = str(row.get("trade_type") or "").casefold() == "export"
        params = {**check, "container_id": number, "container_type": "export" if export else "import",
                  "read_timeline": False, "read_booking": True, "check": True}
        try:
            found = runner.run_held(session, sweep_container, params, request_id=f"{request_id}-{number}",
                                    route=ROUTE, base_url=watch["base_url"])
        except PortalRejected:
            return {APPOINTMENT_SLOTS: 0, "first_slot": None}
        except ApiError as exc:
            errors.append({**_error(exc), "container": number})
            return {}
        assert isinstance(found, dict)
        return {APPOINTMENT_SLOTS: found["slots_count"], "first_slot": found["first_slot"]}

    def _emit(self, watch: dict[str, Any], container: str, kind: str, data: dict[str, Any], now: float,
              seq: int) -> None:
        """To the sink (webhooks) and under the watch, with the same event id."""
        body = {"watch_id": watch["id"], "container": container, **data, "checked_at": iso_utc(now)}
        try:
            event_id = self._sink.emit(watch["tenant"], kind, body)
        except Exception:  # noqa: BLE001 - the watch keeps the event even when the sink failed
            log.exception("could not emit %s", kind)
            event_id = new_event_id(now)
        self.store.add_event(watch["id"], {"event_id": event_id, "type": kind, "created_at": now, "data": body}, seq)


def _error(exc: BaseException) -> dict[str, Any]:
    return {"error_type": getattr(exc, "error_type", "internal_error"),
            "message": getattr(exc, "message", None) or type(exc).__name__}


__all__ = ["ROUTE", "WatchHook"]
