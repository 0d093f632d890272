"""Row shapes by quota (PORTAL_SPEC B8.3).

Independent per-row draws would miss the ±3-point tolerance for some seeds (a binomial
standard deviation is ~2.3 points at N=420), so each property is dealt as exact counts
(largest remainder over the whole account, named fixtures included) and shuffled.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable

from .data_rows import RowSpec

IMPORT_STATUS = {"GATE OUT": 66, "IN YARD": 14, "ON VESSEL": 12, "GATE IN": 8}
EXPORT_STATUS = {"GATE IN": 60, "GATE OUT": 20, "ON VESSEL": 20}
SIZE_TYPES = {"40DH": 60, "40HC": 10, "20GP": 10, "40GP": 8, "45DH": 5, "40RH": 4, "40VH": 1,
              "4310": 1, "4510": 1}
GATE_OUT_TICKETED = {"past": 90, "none": 10}
PAST_OUTCOMES = {"COMPLETED": 85, "MISSED": 7.5, "CANCELED": 7.5}
UNKNOWN_SHARE, EXPORT_SHARE, HOLDS_SHARE, FEES_SHARE = 0.02, 0.02, 0.15, 0.05
E_BADGE_SHARE, NO_BADGE_SHARE, MASKED_SHARE, UPCOMING_SHARE = 0.04, 0.14, 0.04, 0.30


def largest_remainder(weights: dict[str, float], total: int) -> Counter[str]:
    """Split ``total`` into integer counts proportional to ``weights``."""
    scale = sum(weights.values())
    exact = {k: total * w / scale for k, w in weights.items()}
    counts = Counter({k: int(v) for k, v in exact.items()})
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def deal(rng: random.Random, weights: dict[str, float], population: int, fixed: Iterable[str],
         slots: int) -> list[str]:
    """Labels for ``slots`` generated rows so the population (fixed rows + these) hits the quota."""
    need = largest_remainder(weights, population)
    need.subtract(Counter(fixed))
    need = Counter({k: max(0, need[k]) for k in weights})
    by_weight = sorted(weights, key=weights.__getitem__, reverse=True)
    while sum(need.values()) < slots:
        need[by_weight[0]] += 1
    for k in by_weight:
        while sum(need.values()) > slots and need[k] > 0:
            need[k] -= 1
    labels = [k for k in weights for _ in range(need[k])]
    rng.shuffle(labels)
    return labels


def _assign(rng: random.Random, rows: list[RowSpec], weights: dict[str, float], population: int,
            fixed: Iterable[str], setter: Callable[[RowSpec, str], None]) -> None:
    for row, label in zip(rows, deal(rng, weights, population, fixed, len(rows))):
        setter(row, label)


def _pick(rng: random.Random, rows: list[RowSpec], count: int) -> list[RowSpec]:
    return rng.sample(rows, max(0, min(count, len(rows))))


def is_empty(row: RowSpec) -> bool:
    """Empty containers: returned import empties and picked-up export empties."""
    return (row.trade_type, row.status) in (("IMPORT", "GATE IN"), ("EXPORT", "GATE OUT"))


def plan_rows(rng: random.Random, total: int, fixtures: list[RowSpec], min_exports: int,
              min_upcoming: int) -> list[RowSpec]:
    """Shapes of the ``total - len(fixtures)`` generated rows, in a random order."""
    slots = total - len(fixtures)
    unknown_total = max(round(UNKNOWN_SHARE * total), sum(f.unknown for f in fixtures))
    gen_unknown = min(slots, unknown_total - sum(f.unknown for f in fixtures))
    known_total = total - unknown_total
    fixed_known = [f for f in fixtures if not f.unknown]
    gen_known = slots - gen_unknown
    fixed_exports = sum(f.trade_type == "EXPORT" for f in fixed_known)
    exports_total = max(min_exports, round(EXPORT_SHARE * known_total), fixed_exports)
    gen_exports = min(gen_known, exports_total - fixed_exports)
    rows = [RowSpec(trade_type="EXPORT") for _ in range(gen_exports)]
    rows += [RowSpec(trade_type="IMPORT") for _ in range(gen_known - gen_exports)]
    for trade, weights in (("IMPORT", IMPORT_STATUS), ("EXPORT", EXPORT_STATUS)):
        mine = [r for r in rows if r.trade_type == trade]
        fixed = [f.status for f in fixed_known if f.trade_type == trade]
        _assign(rng, mine, weights, len(mine) + len(fixed), fixed, lambda r, v: setattr(r, "status", v))
    _tickets_and_holds(rng, rows, fixed_known, known_total, min_upcoming)
    _badges(rng, rows, fixtures, total, unknown_total)
    _assign(rng, rows, SIZE_TYPES, known_total, [f.size_type for f in fixed_known],
            lambda r, v: setattr(r, "size_type", v))
    _assign(rng, rows, {"yes": FEES_SHARE, "no": 1 - FEES_SHARE}, known_total,
            ["yes" if f.fees else "no" for f in fixed_known], lambda r, v: setattr(r, "fees", v == "yes"))
    rows += [RowSpec(unknown=True, badge="") for _ in range(gen_unknown)]
    rng.shuffle(rows)
    return rows


def _of(rows: Iterable[RowSpec], trade: str, status: str) -> list[RowSpec]:
    return [r for r in rows if (r.trade_type, r.status) == (trade, status)]


def _tickets_and_holds(rng: random.Random, rows: list[RowSpec], fixed: list[RowSpec],
                       known_total: int, min_upcoming: int) -> None:
    """Upcoming tickets, holds, past tickets and their outcomes, masking (B8.3, B8.4)."""
    in_yard = _of(rows, "IMPORT", "IN YARD")
    upcoming_total = max(min_upcoming, round(UPCOMING_SHARE * (len(in_yard) + len(_of(fixed, "IMPORT", "IN YARD")))))
    upcoming = _pick(rng, in_yard, upcoming_total - sum(f.ticket == "upcoming" for f in fixed))
    for row in upcoming:
        row.ticket = "upcoming"
    # Holds only on full containers not yet picked up, never on a row with an upcoming ticket.
    candidates = _of(rows, "IMPORT", "ON VESSEL") + [r for r in in_yard if r.ticket == "none"]
    for row in _pick(rng, candidates, round(HOLDS_SHARE * known_total) - sum(f.holds for f in fixed)):
        row.holds = True
    gate_out = _of(rows, "IMPORT", "GATE OUT")
    _assign(rng, gate_out, GATE_OUT_TICKETED, len(gate_out) + len(_of(fixed, "IMPORT", "GATE OUT")),
            [f.ticket for f in _of(fixed, "IMPORT", "GATE OUT")], lambda r, v: setattr(r, "ticket", v))
    for row in rows:
        if is_empty(row) or row.trade_type == "EXPORT":
            row.ticket = "past"
    # Only pick-ups can be missed or canceled; empties and exports were all delivered.
    picked = [r for r in gate_out if r.ticket == "past"]
    fixed_picked = [f.outcome for f in _of(fixed, "IMPORT", "GATE OUT") if f.ticket == "past"]
    _assign(rng, picked, PAST_OUTCOMES, len(picked) + len(fixed_picked), fixed_picked,
            lambda r, v: setattr(r, "outcome", v))
    past = [r for r in rows if r.ticket == "past"]
    ticketed_total = sum(r.ticket != "none" for r in rows) + sum(f.ticket != "none" for f in fixed)
    for row in _pick(rng, [r for r in past if r.outcome == "COMPLETED"], round(MASKED_SHARE * ticketed_total)):
        row.ticket = "masked"


def _badges(rng: random.Random, rows: list[RowSpec], fixtures: list[RowSpec], total: int,
            unknown_total: int) -> None:
    """E only on empties; none on unknown rows plus random full rows; L elsewhere (B8.3)."""
    empties = [r for r in rows if is_empty(r)]
    for row in empties:
        row.badge = ""
    e_rows = _pick(rng, empties, round(E_BADGE_SHARE * total) - sum(f.badge == "E" for f in fixtures))
    for row in e_rows:
        row.badge = "E"
    none_so_far = unknown_total + sum(f.badge == "" and not f.unknown for f in fixtures) + len(empties) - len(e_rows)
    full = [r for r in rows if not is_empty(r)]
    for row in _pick(rng, full, round(NO_BADGE_SHARE * total) - none_so_far):
        row.badge = ""
