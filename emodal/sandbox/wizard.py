"""Termops appointment wizard page and its private XHRs (PORTAL_SPEC A8, B11).

The page is an empty shell built by `static/wizard.js`; these routes only validate and book.
Refusals answer HTTP 422 `{"message": <exact dialog text>}` so the page can show the B16/A8
text verbatim in a dialog.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from . import booking_rules as rules
from .auth import page_login_required, xhr_login_required
from .booking_rules import BookingRefused
from .shell import render_app
from .state import get_state

bp = Blueprint("sandbox_wizard", __name__)
MAX_CHIPS = 10
MAX_QUANTITY = 10  # Line/Equip Size moves have no booking to bound them [S]


def _refusal(message: str) -> tuple[Response, int]:
    return jsonify({"message": message}), 422


@bp.route("/termops/trucker/web/addvisit")
@page_login_required
def addvisit() -> str:
    """The wizard shell; its data are the account's own companies and plates (A12.3)."""
    account = g.account
    page = {
        "companies": list(account.companies), "terminals": rules.terminal_names(),
        "moves": list(rules.MOVE_TYPES), "plates": list(account.plates),
        "lines": list(rules.LINE_OPTIONS), "sizes": list(rules.EQUIP_SIZE_OPTIONS),
        "line_size_terminals": get_state().config.knob("line_size_terminals"),
        "max_chips": MAX_CHIPS,
    }
    return render_app("termops", "Add Appointment", "wizard.js", page)


def _common(body: dict) -> tuple[str, str, str]:
    """Company, terminal and move type of a request, each one the page could offer."""
    company, terminal, move = (str(body.get(k) or "") for k in ("company", "terminal", "move_type"))
    if company not in g.account.companies or terminal not in rules.terminal_names() \
            or move not in rules.MOVE_TYPES:
        raise BookingRefused(rules.TEXT_FAILED)
    return company, terminal, move


def _quantity(body: dict, limit: int) -> int:
    try:
        quantity = int(body.get("quantity") or 0)
    except (TypeError, ValueError):
        raise BookingRefused(rules.TEXT_FAILED) from None
    if quantity < 1:
        raise BookingRefused(rules.TEXT_FAILED)
    if quantity > limit:
        raise BookingRefused(rules.TEXT_QUANTITY)
    return quantity


def _step1_moves(body: dict) -> list[dict[str, Any]]:
    """B11.2 "Next checks": ownership, eligibility, duplicates, quantity; the moves of step 2."""
    _, terminal, move = _common(body)
    book = get_state().book
    variant = rules.form_variant(move, terminal, get_state().config.knob("line_size_terminals"))
    if variant == "container":
        numbers = [str(n).strip().upper() for n in body.get("containers") or []]
        if not 1 <= len(numbers) <= MAX_CHIPS:
            raise BookingRefused(rules.TEXT_FAILED)
        moves = [rules.check_container(g.account, terminal, move, n) for n in numbers]
    elif variant == "booking":
        booking = rules.check_booking(g.account, str(body.get("booking") or "").strip().upper())
        quantity = _quantity(body, booking.open_qty)
        moves = [{"container": None, "booking": booking.number, "line": booking.line,
                  "size_type": booking.size}] * quantity
    else:
        line, size = body.get("line"), body.get("size_type")
        if line not in rules.LINE_OPTIONS or size not in rules.EQUIP_SIZE_OPTIONS:
            raise BookingRefused(rules.TEXT_FAILED)
        moves = [{"container": None, "booking": None, "line": line, "size_type": size}] \
            * _quantity(body, MAX_QUANTITY)
    for one in moves:
        key = one["container"] or one["booking"]
        if key and book.has_duplicate(key, move):
            raise BookingRefused(rules.duplicate_text(one, move))
    return [dict(one, variant=variant) for one in moves]


@bp.route("/termops/api/visit/validate", methods=["POST"])
@xhr_login_required
def validate_step1() -> Any:
    """Step-1 Next: the moves to show as cards, or the refusal text."""
    try:
        return jsonify({"moves": _step1_moves(request.get_json(silent=True) or {})})
    except BookingRefused as refusal:
        return _refusal(refusal.message)


@bp.route("/termops/api/visit/booking", methods=["POST"])
@xhr_login_required
def validate_booking() -> Any:
    """Booking chip look-up (the page holds it for `booking_validation_ms`)."""
    number = str((request.get_json(silent=True) or {}).get("booking") or "").strip().upper()
    try:
        booking = rules.check_booking(g.account, number)
    except BookingRefused as refusal:
        return _refusal(refusal.message)
    return jsonify(booking.to_json())


@bp.route("/termops/api/visit/slots")
@xhr_login_required
def slots() -> Any:
    """Bookable slot texts (optionally of one `date`), the empty text and the enabled days."""
    book = get_state().book
    terminal = request.args.get("terminal", "")
    if terminal not in rules.terminal_names():
        return _refusal(rules.TEXT_FAILED)
    day = request.args.get("date") or None
    texts = book.slots(terminal, request.args.get("move_type"), date.fromisoformat(day) if day else None)
    return jsonify({"slots": texts, "empty_text": book.empty_text(terminal),
                    "days": [d.isoformat() for d in book.available_days(terminal)]})


@bp.route("/termops/api/visit/submit", methods=["POST"])
@xhr_login_required
def submit() -> Any:
    """Submit: re-check everything and book atomically (B11.4); the step-4 rows on success."""
    body = request.get_json(silent=True) or {}
    try:
        company, terminal, move = _common(body)
        moves = [m for m in body.get("moves") or [] if isinstance(m, dict)]
        made = get_state().book.book(g.account, company, terminal, move, moves,
                                     str(body.get("plate") or ""), str(body.get("slot") or ""))
    except BookingRefused as refusal:
        return _refusal(refusal.message)
    return jsonify({"appointments": [a.to_json() for a in made]})
