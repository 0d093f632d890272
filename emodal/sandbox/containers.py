"""The ecp2 Containers page (PORTAL_SPEC A7, B10) and its private XHRs [S].

The page itself is an empty shell; ``static/containers.js`` builds the grid and calls:

- ``GET  /ecp2/api/containers?offset=N&limit=M`` -> ``{"total", "offset", "rows": [grid rows]}``
- ``GET  /ecp2/api/containers/<number>``         -> the detail panel + timeline of one row
- ``POST /ecp2/api/containers/export`` ``{"numbers": [...]}`` -> ``{"filename", "content_base64"}``

The real portal builds its workbook client-side with SheetJS; B10 allows the bytes to come
from the server, which keeps the sandbox free of a JS zip library. The service must never
call these endpoints (B3).
"""
from __future__ import annotations

import base64
import random
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from .auth import page_login_required, xhr_login_required
from .data import COLUMNS, HEADERS
from .data_detail import detail_json
from .data_model import Container
from .shell import render_app
from .state import get_state
from .xlsx import workbook_bytes

bp = Blueprint("sandbox_containers", __name__)

PAGE_TITLE = "CargoSprint Port Manager"
EXPORT_FILENAME = "container_watch_list.xlsx"
EXPORT_SHEET = "DisplayList"
MAX_LIMIT = 200


def _grid() -> list[Container]:
    """The account's rows in this session's grid order.

    Seeded per account; with ``shuffle_per_session`` each login gets its own order, derived
    from the session's bearer so every batch of that session agrees (B10).
    """
    rows = g.account.containers
    state = get_state()
    if not state.config.knob("shuffle_per_session"):
        return rows
    shuffled = list(rows)
    random.Random(f"{state.config.seed}:{g.account.username}:{g.auth_session.bearer}").shuffle(shuffled)
    return shuffled


def _own_rows() -> dict[str, Container]:
    """The account's containers by number: other accounts' rows are invisible (B4)."""
    return {c.number: c for c in g.account.containers}


@bp.route("/ecp2/containers")
@page_login_required
def page() -> str:
    return render_app("ecp2", PAGE_TITLE, "containers.js", {"columns": [list(c) for c in COLUMNS]})


@bp.route("/ecp2/api/containers")
@xhr_login_required
def batch() -> Response:
    offset = max(0, request.args.get("offset", 0, type=int))
    limit = min(MAX_LIMIT, max(1, request.args.get("limit", 24, type=int)))
    with get_state().lock:  # bookings mutate rows; read a consistent slice
        rows = _grid()
        payload: dict[str, Any] = {"total": len(rows), "offset": offset,
                                   "rows": [c.grid_json() for c in rows[offset:offset + limit]]}
    return jsonify(payload)


@bp.route("/ecp2/api/containers/<number>")
@xhr_login_required
def detail(number: str) -> Response | tuple[Response, int]:
    container = _own_rows().get(number.strip().upper())
    if container is None or container.unknown:
        return jsonify({"message": "No details for this container."}), 404
    with get_state().lock:
        return jsonify(detail_json(container))


@bp.route("/ecp2/api/containers/export", methods=["POST"])
@xhr_login_required
def export() -> Response:
    """Workbook of the given rows in the order sent (the page sends loaded grid order)."""
    body = request.get_json(silent=True) or {}
    numbers = [str(n) for n in body.get("numbers", []) if isinstance(n, str)]
    state = get_state()
    with state.lock:
        own = _own_rows()
        rows = [own[n].export_row() for n in numbers if n in own]
    data = workbook_bytes(EXPORT_SHEET, [list(HEADERS), *rows], created=state.clock.now())
    return jsonify({"filename": EXPORT_FILENAME, "content_base64": base64.b64encode(data).decode("ascii")})
