"""`/_sandbox/*` JSON admin and fault-injection API (B15). No auth, never linked from pages,
immune to faults; only tests and demo tooling call it. Oracles come from here, never from DOM hooks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from .container_patch import PatchError, apply_patch, parse_patch
from .faults import add_fault
from .state import get_state

bp = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")

# Option-style aliases accepted by PATCH /config besides the knob names themselves.
_ALIASES = {"idle_timeout": "idle_timeout_s"}


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _bad_request(message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), 400


@bp.get("/health")
def health() -> Response:
    config = get_state().config
    return jsonify({"ok": True, "profile": config.profile, "seed": config.seed})


@bp.get("/config")
def read_config() -> Response:
    return jsonify(get_state().config.snapshot())


@bp.patch("/config")
def patch_config() -> Response | tuple[Response, int]:
    config = get_state().config
    try:
        for name, value in _body().items():
            config.set_knob(_ALIASES.get(name, name), value)
    except (KeyError, ValueError, TypeError) as exc:
        return _bad_request(str(exc))
    return jsonify(config.snapshot())


@bp.post("/reset")
def reset() -> Response | tuple[Response, int]:
    body = _body()
    try:
        today = dt.date.fromisoformat(body["today"]) if body.get("today") else None
        get_state().reset(seed=body.get("seed"), containers=body.get("containers"), today=today)
    except ValueError as exc:
        return _bad_request(str(exc))
    return health()


def _clock_view() -> dict[str, Any]:
    clock = get_state().clock
    return {"now": clock.now().isoformat(), "today": clock.today().isoformat(),
            "offset_s": clock.offset_seconds()}


@bp.get("/clock")
def read_clock() -> Response:
    return jsonify(_clock_view())


@bp.post("/clock")
def move_clock() -> Response | tuple[Response, int]:
    body = _body()
    clock = get_state().clock
    try:
        if "advance_s" in body:
            clock.advance(float(body["advance_s"]))
        elif "now" in body:
            clock.set_now(dt.datetime.fromisoformat(body["now"]))
        else:
            return _bad_request("give advance_s or now")
    except (TypeError, ValueError) as exc:
        return _bad_request(str(exc))
    return jsonify(_clock_view())


@bp.get("/sessions")
def sessions() -> Response:
    return jsonify({"sessions": get_state().sessions_view()})


@bp.get("/solver")
def solver() -> Response:
    """Captcha tasks created since the last reset, in all and by solver key: a test proves with it
    that a restored session solved no captcha."""
    state = get_state()
    with state.lock:
        keys = [task["key"] for task in state.solver_tasks.values()]
    by_key: dict[str, int] = {}
    for key in keys:
        by_key[key] = by_key.get(key, 0) + 1
    return jsonify({"tasks_created": len(keys), "by_key": by_key})


@bp.get("/requests")
def requests_log() -> Response:
    """Page and XHR requests in arrival order, after ``?since=<seq>`` (the last 5000 at most)."""
    since = request.args.get("since", default=0, type=int)
    state = get_state()
    with state.lock:
        entries = [dict(e) for e in state.request_log if e["seq"] > since]
        last = state.request_seq
    return jsonify({"requests": entries, "last_seq": last})


@bp.post("/sessions/logout")
def logout() -> Response | tuple[Response, int]:
    username = str(_body().get("username", ""))
    if not username:
        return _bad_request("username is required")
    return jsonify({"logged_out": get_state().logout_user(username)})


def _account_or_404(username: str) -> Any:
    account = get_state().account(username)
    if account is None:
        abort(404)
    return account


@bp.get("/accounts/<username>/containers")
def account_containers(username: str) -> Response:
    account = _account_or_404(username)
    return jsonify(get_state().world.oracle(account.username))


@bp.patch("/accounts/<username>/containers/<number>")
def patch_container(username: str, number: str) -> Response | tuple[Response, int]:
    """Change a container's holds, LFD/GTD, status, location, pregate columns or timeline
    (container_patch.py); answers its oracle entry as changed."""
    account = _account_or_404(username)
    state = get_state()
    try:
        patch = parse_patch(request.get_json(silent=True))
        with state.lock:
            container = next((c for c in account.containers if c.number == number.strip().upper()), None)
            if container is None:
                return jsonify({"error": f"{number} is not a container of {account.username}"}), 404
            apply_patch(container, patch, today=state.clock.today(), tz=state.clock.tz)
            return jsonify(state.world.oracle_row(account.username, container.number))
    except PatchError as exc:
        return jsonify({"error": str(exc)}), exc.status


@bp.get("/accounts/<username>/appointments")
def account_appointments(username: str) -> Response:
    account = _account_or_404(username)
    return jsonify({"username": account.username, "appointments": get_state().book.oracle(account.username)})


@bp.get("/slots")
def read_slots() -> Response:
    args = request.args
    report = get_state().book.capacity_report(args.get("terminal") or None, args.get("date") or None)
    return jsonify({"slots": report})


@bp.put("/slots")
def put_slot() -> Response | tuple[Response, int]:
    body = _body()
    try:
        result = get_state().book.set_capacity(str(body["terminal"]), str(body["slot"]), int(body["capacity"]))
    except (KeyError, ValueError, TypeError) as exc:
        return _bad_request(str(exc))
    return jsonify(result)


@bp.get("/faults")
def list_faults() -> Response:
    state = get_state()
    with state.lock:
        return jsonify({"faults": [f.view() for f in state.faults], "geo_block": state.geo_block})


@bp.post("/faults")
def queue_fault() -> Response | tuple[Response, int]:
    try:
        add_fault(_body())
    except (ValueError, TypeError) as exc:
        return _bad_request(str(exc))
    return list_faults()


@bp.delete("/faults")
def clear_faults() -> Response:
    state = get_state()
    with state.lock:
        state.faults.clear()
        state.geo_block = False
    return list_faults()
