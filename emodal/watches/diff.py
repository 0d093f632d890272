"""What a watch pass saw, and which events a change makes: pure functions, no browser, no store.

Why the values of every grid column are kept, not only the watched ones: ``container.available``
("ready for pick up") depends on Status *and* Holds, and a watch of ``status`` alone must still
see holds clear on an IN YARD import. Only watched fields are ever reported.

A reading of one container is ``{"found": False}`` (not in the account's grid) or ``{"found":
True, "values": {...}}``; ``appointment_slots`` (and its ``first_slot``) is absent from the
values when the check gave no answer this pass (the last answer is kept, nothing is reported).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emodal.jobs.kinds import last_free_day

LFD, HOLDS, STATUS, PREGATE, GATE_STATUS, CURRENT_LOCATION, FEES = (
    "lfd", "holds", "status", "pregate", "gate_status", "current_location", "fees")
APPOINTMENT_SLOTS = "appointment_slots"
#: The fields a watch may ask for, in the order changes are listed.
FIELDS: tuple[str, ...] = (LFD, HOLDS, STATUS, PREGATE, GATE_STATUS, CURRENT_LOCATION, FEES, APPOINTMENT_SLOTS)

CHANGED = "container.changed"
LFD_CHANGED = "container.lfd_changed"
AVAILABLE = "container.available"
SLOTS_OPENED = "appointment.slots_opened"
#: Status and Holds of an import a trucker can pick up (PORTAL_SPEC: PICK FULL needs IN YARD, Holds NO;
#: the timeline's ``Ready for pick up`` milestone is completed exactly then).
READY = {"trade_type": "IMPORT", "status": "IN YARD", "holds": "NO"}

Reading = dict[str, Any]
Event = tuple[str, dict[str, Any]]


def grid_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """The watchable values of one grid row (``format: json`` keys), as the portal shows them;
    ``lfd`` is the LFD of the ``LFD/GTD`` column (``MM/DD/YYYY``, ``None`` without one)."""
    lfd = last_free_day(str(row.get("lfd_gtd") or ""))
    return {LFD: lfd.strftime("%m/%d/%Y") if lfd else None, HOLDS: row.get("holds"), STATUS: row.get("status"),
            PREGATE: {"ticket": row.get("pregate_ticket"), "status": row.get("emodal_pregate_status")},
            GATE_STATUS: row.get("gate_status"), CURRENT_LOCATION: row.get("current_loc"), FEES: row.get("fees"),
            "trade_type": str(row.get("trade_type") or "").upper()}


def ready(values: Mapping[str, Any]) -> bool:
    return all(values.get(key) == wanted for key, wanted in READY.items())


def container_events(fields: tuple[str, ...] | list[str], before: Reading | None, after: Reading) -> list[Event]:
    """The events of one container between two readings (``before`` None: the watch's first).

    The first reading is a baseline (no events), except a container not found, which is reported
    (``not_found: true``); so is a container that leaves the grid later. A container that comes
    back is compared with nothing (every watched value's ``before`` is ``null``).
    ``appointment_slots`` is reported only when the count crosses zero (slots open or close), not
    on every count change; ``appointment.slots_opened`` when it goes from 0 to more.
    """
    if not after["found"]:
        if before is not None and not before["found"]:
            return []
        return [(CHANGED, {"not_found": True, "changes": {}})]
    if before is None:
        return []
    old: Mapping[str, Any] = before["values"] if before["found"] else {}
    new: Mapping[str, Any] = after["values"]
    changes: dict[str, dict[str, Any]] = {}
    for field in fields:
        if field not in new:
            continue  # no answer this pass (a failed appointment check)
        was, now = old.get(field), new[field]
        if field == APPOINTMENT_SLOTS:
            if was is None or (was > 0) == (now > 0):
                continue
        elif was == now:
            continue
        changes[field] = {"before": was, "after": now}
    events: list[Event] = []
    if changes:
        events.append((CHANGED, {"not_found": False, "changes": changes}))
    if LFD in changes:
        events.append((LFD_CHANGED, dict(changes[LFD])))
    reasons = []
    if HOLDS in changes and old.get(HOLDS) == "YES" and new.get(HOLDS) == "NO":
        reasons.append("holds_cleared")
    if STATUS in fields and ready(new) and not ready(old):
        reasons.append("ready_for_pickup")
    if reasons:
        events.append((AVAILABLE, {"reasons": reasons, "status": new.get(STATUS), "holds": new.get(HOLDS)}))
    if APPOINTMENT_SLOTS in changes and changes[APPOINTMENT_SLOTS]["before"] == 0:
        events.append((SLOTS_OPENED, {**changes[APPOINTMENT_SLOTS], "first_slot": new.get("first_slot")}))
    return events


def kept(before: Reading | None, after: Reading) -> Reading:
    """The reading to store: ``after``, keeping the last appointment answer when it had none."""
    if not after["found"] or before is None or not before["found"]:
        return after
    carried = {k: before["values"][k] for k in (APPOINTMENT_SLOTS, "first_slot")
               if k in before["values"] and k not in after["values"]}
    return {"found": True, "values": {**after["values"], **carried}}


__all__ = ["APPOINTMENT_SLOTS", "AVAILABLE", "CHANGED", "FIELDS", "LFD_CHANGED", "SLOTS_OPENED", "container_events",
           "grid_values", "kept", "ready"]
