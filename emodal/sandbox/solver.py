"""2captcha-compatible solver (B7): the legacy `in.php`/`res.php` protocol and the JSON API.

Tokens are registered with the sandbox's token registry only when first handed out, so their
120 s TTL starts then (as with a real solve). Every answer of the legacy protocol is HTTP 200.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .faults import take_captcha_fault
from .state import get_state

bp = Blueprint("sandbox_solver", __name__)

KEY_VALID = "sandbox-key"
KEY_ZERO = "sandbox-key-zero"
KEY_UNSOLVABLE = "sandbox-key-unsolvable"
BALANCE = 9.99
# JSON API error ids of the codes clients branch on (B7.2).
_ERROR_IDS = {"ERROR_KEY_DOES_NOT_EXIST": 1, "ERROR_WRONG_USER_KEY": 1, "ERROR_ZERO_BALANCE": 10,
              "ERROR_CAPTCHA_UNSOLVABLE": 12, "ERROR_NO_SUCH_CAPCHA_ID": 16, "ERROR_WRONG_CAPTCHA_ID": 16}
_task_ids = itertools.count(72_000_000_001)


def _key_error(key: str, json_api: bool = False) -> str | None:
    if key not in (KEY_VALID, KEY_ZERO, KEY_UNSOLVABLE):
        return "ERROR_KEY_DOES_NOT_EXIST" if json_api else "ERROR_WRONG_USER_KEY"
    return "ERROR_ZERO_BALANCE" if key == KEY_ZERO else None


def _create_task(key: str, kind: str, googlekey: str = "", pageurl: str = "") -> str:
    state = get_state()
    task_id = str(next(_task_ids))
    with state.lock:
        state.solver_tasks[task_id] = {"key": key, "kind": kind, "googlekey": googlekey,
                                       "pageurl": pageurl, "created": time.monotonic(),
                                       "answer": None, "created_epoch": int(time.time())}
    return task_id


def _poll(key: str, task_id: str) -> tuple[str, str | None]:
    """('ready', answer) | ('processing', None) | ('error', CODE) for a task of this key."""
    state = get_state()
    with state.lock:
        task = state.solver_tasks.get(task_id)
        if task is None or task["key"] != key:
            return "error", "ERROR_WRONG_CAPTCHA_ID"
        if time.monotonic() - task["created"] < float(state.config.knob("captcha_solve_delay_s")):
            return "processing", None
        if key == KEY_UNSOLVABLE:
            return "error", "ERROR_CAPTCHA_UNSOLVABLE"
        if task["answer"] is None:
            task["answer"] = (state.config.knob("captcha_audio_answer") if task["kind"] == "audio"
                              else state.issue_token(task["googlekey"]))
            task["end_epoch"] = int(time.time())
        return "ready", task["answer"]


# ---- legacy protocol (B7.1) ------------------------------------------------------------------
def _legacy(ok: bool, value: str) -> Response:
    if request.values.get("json") in ("1", "true"):
        return jsonify({"status": 1 if ok else 0, "request": value})
    return Response(f"OK|{value}" if ok else value, mimetype="text/plain")


def in_php() -> Response:
    values = request.values
    key, method = values.get("key", ""), values.get("method", "")
    error = _key_error(key)
    if error is None:
        fault = take_captcha_fault("captcha_error", "in")
        error = fault.code if fault is not None else None
    if error is None and method not in ("userrecaptcha", "audio"):
        error = "ERROR_BAD_PARAMETERS"
    if error is None and method == "userrecaptcha":
        error = ("ERROR_GOOGLEKEY" if not values.get("googlekey")
                 else "ERROR_PAGEURL" if not values.get("pageurl") else None)
    if error is None and method == "audio" and not values.get("body"):
        error = "ERROR_BAD_PARAMETERS"
    if error is not None:
        return _legacy(False, error)
    kind = "audio" if method == "audio" else "recaptcha"
    return _legacy(True, _create_task(key, kind, values.get("googlekey", ""), values.get("pageurl", "")))


def res_php() -> Response:
    values = request.values
    key, action = values.get("key", ""), values.get("action", "")
    if action == "getbalance":
        if key not in (KEY_VALID, KEY_ZERO, KEY_UNSOLVABLE):
            return _legacy(False, "ERROR_WRONG_USER_KEY")
        balance = "0" if key == KEY_ZERO else f"{BALANCE:.2f}"
        return _legacy(True, balance) if values.get("json") else Response(balance, mimetype="text/plain")
    error = _key_error(key)
    if error == "ERROR_WRONG_USER_KEY":
        return _legacy(False, error)
    if action in ("reportgood", "reportbad"):
        return _legacy(True, "OK_REPORT_RECORDED") if values.get("json") else \
            Response("OK_REPORT_RECORDED", mimetype="text/plain")
    if action != "get":
        return _legacy(False, "ERROR_BAD_PARAMETERS")
    fault = take_captcha_fault("captcha_error", "res")
    if fault is not None:
        return _legacy(False, fault.code)
    status, value = _poll(key, values.get("id", ""))
    if status == "processing":
        return _legacy(False, "CAPCHA_NOT_READY")  # the real spelling, no T
    return _legacy(status == "ready", value or "")


for _prefix in ("/2captcha", ""):
    bp.add_url_rule(f"{_prefix}/in.php", f"in_php{_prefix.strip('/')}", in_php, methods=["GET", "POST"])
    bp.add_url_rule(f"{_prefix}/res.php", f"res_php{_prefix.strip('/')}", res_php, methods=["GET", "POST"])


# ---- JSON API (B7.2) -------------------------------------------------------------------------
def _json_error(code: str) -> Response:
    return jsonify({"errorId": _ERROR_IDS.get(code, 1), "errorCode": code,
                    "errorDescription": code.replace("_", " ").capitalize()})


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    return body if isinstance(body, dict) else {}


@bp.route("/2captcha/createTask", methods=["POST"])
def create_task() -> Response:
    body = _json_body()
    key = str(body.get("clientKey", ""))
    error = _key_error(key, json_api=True)
    fault = take_captcha_fault("captcha_error", "in") if error is None else None
    if error or fault:
        return _json_error(error or fault.code)
    task = body.get("task") or {}
    if not task.get("websiteKey") or not task.get("websiteURL"):
        return _json_error("ERROR_BAD_PARAMETERS")
    return jsonify({"errorId": 0, "taskId": int(_create_task(key, "recaptcha", str(task["websiteKey"]),
                                                             str(task["websiteURL"])))})


@bp.route("/2captcha/getTaskResult", methods=["POST"])
def get_task_result() -> Response:
    body = _json_body()
    key = str(body.get("clientKey", ""))
    error = _key_error(key, json_api=True)
    if error == "ERROR_KEY_DOES_NOT_EXIST":
        return _json_error(error)
    fault = take_captcha_fault("captcha_error", "res")
    if fault is not None:
        return _json_error(fault.code)
    task_id = str(body.get("taskId", ""))
    status, value = _poll(key, task_id)
    if status == "processing":
        return jsonify({"errorId": 0, "status": "processing"})
    if status == "error":
        return _json_error("ERROR_NO_SUCH_CAPCHA_ID" if value == "ERROR_WRONG_CAPTCHA_ID" else str(value))
    task = get_state().solver_tasks[task_id]
    return jsonify({"errorId": 0, "status": "ready",
                    "solution": {"gRecaptchaResponse": value, "token": value},
                    "cost": "0.00299", "ip": "127.0.0.1", "createTime": task["created_epoch"],
                    "endTime": task.get("end_epoch", task["created_epoch"]), "solveCount": 1})


@bp.route("/2captcha/getBalance", methods=["POST"])
def get_balance() -> Response:
    key = str(_json_body().get("clientKey", ""))
    error = _key_error(key, json_api=True)
    if error == "ERROR_KEY_DOES_NOT_EXIST":
        return _json_error(error)
    return jsonify({"errorId": 0, "balance": 0 if key == KEY_ZERO else BALANCE})
