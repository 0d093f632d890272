"""2captcha-compatible solver endpoints (PORTAL_SPEC B7, Part C item 4)."""

from __future__ import annotations

import base64
import time

import pytest
import requests

SITEKEY = "6LcSBXAAAAAAsandbox-emodal-login-key00AA"


@pytest.fixture
def solver(sandbox):
    """Base URL; faults and knobs restored afterwards."""
    yield sandbox.base_url
    sandbox.admin.clear_faults()
    sandbox.admin.set_config(captcha_solve_delay_s=0.5)


def in_php(base: str, prefix: str = "/2captcha", **params):
    query = {"method": "userrecaptcha", "googlekey": SITEKEY, "pageurl": "http://x/login", "json": 1, **params}
    return requests.get(f"{base}{prefix}/in.php", params=query, timeout=10)


def res_php(base: str, prefix: str = "/2captcha", **params):
    return requests.get(f"{base}{prefix}/res.php", params={"action": "get", "json": 1, **params}, timeout=10)


def wait_ready(base: str, key: str, task_id: str, prefix: str = "/2captcha") -> dict:
    for _ in range(100):
        answer = res_php(base, prefix, key=key, id=task_id).json()
        if answer["request"] != "CAPCHA_NOT_READY":
            return answer
        time.sleep(0.1)
    raise AssertionError("never ready")


@pytest.mark.parametrize("prefix", ["/2captcha", ""])
def test_legacy_protocol_not_ready_then_token(solver, prefix):
    created = in_php(solver, prefix, key="sandbox-key").json()
    assert created["status"] == 1 and created["request"].isdigit()
    assert res_php(solver, prefix, key="sandbox-key", id=created["request"]).json() == \
        {"status": 0, "request": "CAPCHA_NOT_READY"}
    answer = wait_ready(solver, "sandbox-key", created["request"], prefix)
    assert answer["status"] == 1
    assert answer["request"].startswith("03A") and len(answer["request"]) >= 403
    # Polling again returns the same token.
    assert res_php(solver, prefix, key="sandbox-key", id=created["request"]).json() == answer


def test_plain_text_answers_without_json(solver):
    created = in_php(solver, key="sandbox-key", json=0)
    assert created.text.startswith("OK|")
    answer = requests.get(f"{solver}/2captcha/res.php", params={
        "key": "nope", "action": "get", "id": created.text[3:]}, timeout=10)
    assert answer.status_code == 200 and answer.text == "ERROR_WRONG_USER_KEY"


@pytest.mark.parametrize("params, code", [
    ({"key": "other-key"}, "ERROR_WRONG_USER_KEY"),
    ({"key": "sandbox-key-zero"}, "ERROR_ZERO_BALANCE"),
    ({"key": "sandbox-key", "googlekey": ""}, "ERROR_GOOGLEKEY"),
    ({"key": "sandbox-key", "pageurl": ""}, "ERROR_PAGEURL"),
    ({"key": "sandbox-key", "method": "hcaptcha"}, "ERROR_BAD_PARAMETERS"),
])
def test_in_php_errors(solver, params, code):
    answer = in_php(solver, **params)
    assert answer.status_code == 200
    assert answer.json() == {"status": 0, "request": code}


def test_unsolvable_key_fails_after_delay(solver):
    created = in_php(solver, key="sandbox-key-unsolvable").json()
    assert created["status"] == 1
    assert wait_ready(solver, "sandbox-key-unsolvable", created["request"]) == \
        {"status": 0, "request": "ERROR_CAPTCHA_UNSOLVABLE"}


def test_res_php_unknown_id_balance_and_reports(solver):
    assert res_php(solver, key="sandbox-key", id="123").json()["request"] == "ERROR_WRONG_CAPTCHA_ID"
    balance = {"key": "sandbox-key", "action": "getbalance"}
    assert requests.get(f"{solver}/2captcha/res.php", params=balance, timeout=10).text == "9.99"
    zero = {"key": "sandbox-key-zero", "action": "getbalance"}
    assert requests.get(f"{solver}/2captcha/res.php", params=zero, timeout=10).text == "0"
    report = res_php(solver, key="sandbox-key", action="reportbad", id="1").json()
    assert report == {"status": 1, "request": "OK_REPORT_RECORDED"}


def test_audio_method_answers_the_challenge_word(solver):
    body = base64.b64encode(b"RIFF....WAVE").decode()
    created = requests.post(f"{solver}/2captcha/in.php", data={
        "key": "sandbox-key", "method": "audio", "body": body, "json": 1}, timeout=10).json()
    assert wait_ready(solver, "sandbox-key", created["request"]) == {"status": 1, "request": "sandbox"}


def test_captcha_error_fault_is_consumed_in_order(solver, sandbox):
    sandbox.admin.add_fault(type="captcha_error", endpoint="in", code="ERROR_NO_SLOT_AVAILABLE", count=1)
    assert in_php(solver, key="sandbox-key").json() == {"status": 0, "request": "ERROR_NO_SLOT_AVAILABLE"}
    assert in_php(solver, key="sandbox-key").json()["status"] == 1


def test_json_api_create_and_result(solver, sandbox):
    sandbox.admin.set_config(captcha_solve_delay_s=0.3)
    task = {"type": "RecaptchaV2TaskProxyless", "websiteURL": "http://x/login", "websiteKey": SITEKEY}
    created = requests.post(f"{solver}/2captcha/createTask",
                            json={"clientKey": "sandbox-key", "task": task}, timeout=10).json()
    assert created["errorId"] == 0 and isinstance(created["taskId"], int)
    query = {"clientKey": "sandbox-key", "taskId": created["taskId"]}
    first = requests.post(f"{solver}/2captcha/getTaskResult", json=query, timeout=10).json()
    assert first == {"errorId": 0, "status": "processing"}
    for _ in range(50):
        result = requests.post(f"{solver}/2captcha/getTaskResult", json=query, timeout=10).json()
        if result["status"] == "ready":
            break
        time.sleep(0.1)
    assert result["solution"]["gRecaptchaResponse"] == result["solution"]["token"]
    assert result["solution"]["token"].startswith("03A")
    balance = requests.post(f"{solver}/2captcha/getBalance", json={"clientKey": "sandbox-key"}, timeout=10)
    assert balance.json() == {"errorId": 0, "balance": 9.99}


@pytest.mark.parametrize("key, error_id, code", [
    ("bad", 1, "ERROR_KEY_DOES_NOT_EXIST"),
    ("sandbox-key-zero", 10, "ERROR_ZERO_BALANCE"),
])
def test_json_api_key_errors(solver, key, error_id, code):
    task = {"type": "RecaptchaV2TaskProxyless", "websiteURL": "http://x", "websiteKey": SITEKEY}
    answer = requests.post(f"{solver}/2captcha/createTask", json={"clientKey": key, "task": task}, timeout=10).json()
    assert answer["errorId"] == error_id and answer["errorCode"] == code


def test_json_api_unsolvable_and_unknown_task(solver):
    task = {"type": "RecaptchaV2TaskProxyless", "websiteURL": "http://x", "websiteKey": SITEKEY}
    created = requests.post(f"{solver}/2captcha/createTask",
                            json={"clientKey": "sandbox-key-unsolvable", "task": task}, timeout=10).json()
    for _ in range(50):
        result = requests.post(f"{solver}/2captcha/getTaskResult", json={
            "clientKey": "sandbox-key-unsolvable", "taskId": created["taskId"]}, timeout=10).json()
        if result.get("status") != "processing":
            break
        time.sleep(0.1)
    assert result["errorId"] == 12 and result["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
    unknown = requests.post(f"{solver}/2captcha/getTaskResult",
                            json={"clientKey": "sandbox-key", "taskId": 1}, timeout=10).json()
    assert unknown["errorId"] == 16 and unknown["errorCode"] == "ERROR_NO_SUCH_CAPCHA_ID"


def test_admin_counts_the_tasks_created_by_key(solver, sandbox):
    """`GET /_sandbox/solver`: tasks created, in all and by key (a refused key creates none)."""
    before = sandbox.admin.solver_tasks()
    for key in ("sandbox-key", "sandbox-key", "sandbox-key-unsolvable", "not-a-key"):
        in_php(solver, key=key)
    after = sandbox.admin.solver_tasks()
    assert after["tasks_created"] == before["tasks_created"] + 3
    assert after["by_key"]["sandbox-key"] == before["by_key"].get("sandbox-key", 0) + 2
    assert after["by_key"]["sandbox-key-unsolvable"] == before["by_key"].get("sandbox-key-unsolvable", 0) + 1
    assert "not-a-key" not in after["by_key"]
