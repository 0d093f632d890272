"""Truckerportal My Appointments page, its row XHR and its Excel export (PORTAL_SPEC A9, B12).

Only the logged-in account's appointments are ever served. Rows come in pages of 20 so the page
can load more on window scroll; the export is built server-side with the SheetJS-shaped writer.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from .auth import page_login_required, xhr_login_required
from .shell import render_app
from .state import get_state
from .xlsx import workbook_bytes

bp = Blueprint("sandbox_myappointments", __name__)
COLUMNS = ("Appointment #", "Appointment Time", "Terminal", "Move Type", "Container #", "Booking #",
           "Line", "Size Type", "Truck Plate", "Trucking Company", "Status")
PAGE_SIZE = 20
EXPORT_NAME = "MyAppointments.xlsx"
SHEET_NAME = "Appointments"


@bp.route("/truckerportal/myappointments")
@page_login_required
def page() -> str:
    # `/MyAppointments` reaches this route through the app's case-insensitive path fallback.
    return render_app("truckerportal", "CargoSprint eModal", "myappointments.js",
                      {"columns": list(COLUMNS), "page_size": PAGE_SIZE})


@bp.route("/truckerportal/api/appointments")
@xhr_login_required
def rows() -> Any:
    """`offset`/`limit` slice of the account's rows in page order (upcoming, then past)."""
    offset = max(0, request.args.get("offset", 0, type=int))
    limit = min(100, max(1, request.args.get("limit", PAGE_SIZE, type=int)))
    mine = get_state().book.appointments_of(g.account.username)
    return jsonify({"total": len(mine),
                    "rows": [a.row() for a in mine[offset:offset + limit]]})


@bp.route("/truckerportal/api/appointments/export", methods=["POST"])
@xhr_login_required
def export() -> Response:
    """Workbook of the given appointment numbers, in the given order; foreign numbers are
    silently left out, so one account can never export another's rows."""
    wanted = [str(n) for n in (request.get_json(silent=True) or {}).get("numbers") or []]
    mine = {a.number: a for a in get_state().book.appointments_of(g.account.username)}
    body = [mine[n].row() for n in wanted if n in mine]
    data = workbook_bytes(SHEET_NAME, [list(COLUMNS)] + body)
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{EXPORT_NAME}"'})
