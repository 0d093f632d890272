"""Idempotency records of /make_appointment (API_SPEC 4.8): replay, conflicts, crash leftovers."""
import json
import threading

import pytest

from emodal.errors import IdempotencyConflict, InvalidField, SessionBusy
from emodal.operations.idempotency import IdempotencyStore, fingerprint, resolve_key

BOOKING = {"trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
           "move_type": "PICK FULL", "container_id": "TGBU2000026", "truck_plate": "9E51234",
           "appointment_time": "Tuesday 11/25/2025 09:00 - 10:00"}


@pytest.fixture
def store(tmp_path):
    return IdempotencyStore(tmp_path, ttl=3600, wait_timeout=0.5)


def test_key_header_wins_and_conflict_is_400():
    assert resolve_key("abc", None) == "abc"
    assert resolve_key(None, "abc") == "abc"
    assert resolve_key("abc", "abc") == "abc"
    assert resolve_key(None, None) is None
    with pytest.raises(InvalidField):
        resolve_key("abc", "xyz")


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_key_must_be_printable_ascii_1_to_255(bad):
    with pytest.raises(InvalidField):
        resolve_key(bad, None)


def test_fingerprint_ignores_session_fields_but_not_booking_fields():
    base = fingerprint(BOOKING)
    assert fingerprint({**BOOKING, "session_id": "s", "debug": True}) == base
    assert fingerprint({**BOOKING, "appointment_time": "other"}) != base


def test_first_call_runs_then_completed_record_replays(store):
    fp = fingerprint(BOOKING)
    assert store.check("t1", "k", fp) is None
    store.begin("t1", "k", fp)
    store.complete("t1", "k", fp, 200, {"success": True, "confirmation_number": "TTI-1125-00001"})
    replay = store.check("t1", "k", fp)
    assert replay.status == 200 and replay.body["confirmation_number"] == "TTI-1125-00001"


def test_other_payload_is_422_and_other_tenant_is_independent(store):
    fp = fingerprint(BOOKING)
    store.check("t1", "k", fp)
    store.begin("t1", "k", fp)
    store.complete("t1", "k", fp, 200, {"success": True})
    with pytest.raises(IdempotencyConflict) as exc:
        store.check("t1", "k", fingerprint({**BOOKING, "truck_plate": "9E47781"}))
    assert exc.value.status == 422
    assert store.check("t2", "k", fp) is None


def test_submitting_leftover_is_409(tmp_path):
    fp = fingerprint(BOOKING)
    first = IdempotencyStore(tmp_path, ttl=3600, wait_timeout=0.5)
    first.check("t1", "k", fp)
    first.begin("t1", "k", fp)
    # A new process (restart after a crash) finds the record still "submitting".
    second = IdempotencyStore(tmp_path, ttl=3600, wait_timeout=0.5)
    with pytest.raises(IdempotencyConflict) as exc:
        second.check("t1", "k", fp)
    assert exc.value.status == 409


def test_failure_before_submit_frees_the_key(store):
    fp = fingerprint(BOOKING)
    assert store.check("t1", "k", fp) is None
    store.release("t1", "k")
    assert store.check("t1", "k", fingerprint({**BOOKING, "truck_plate": "X"})) is None


def test_concurrent_call_waits_for_the_running_one(store):
    fp = fingerprint(BOOKING)
    assert store.check("t1", "k", fp) is None
    results = []
    waiter = threading.Thread(target=lambda: results.append(store.check("t1", "k", fp)))
    waiter.start()
    store.begin("t1", "k", fp)
    store.complete("t1", "k", fp, 200, {"success": True})
    waiter.join(5)
    assert results and results[0].status == 200


def test_still_running_past_the_wait_is_session_busy(store):
    fp = fingerprint(BOOKING)
    store.check("t1", "k", fp)
    with pytest.raises(SessionBusy):
        store.check("t1", "k", fp)


def test_expired_record_is_forgotten_and_files_hold_no_key(tmp_path):
    fp = fingerprint(BOOKING)
    store = IdempotencyStore(tmp_path, ttl=10, wait_timeout=0.1)
    store.check("t1", "secret-key", fp)
    store.begin("t1", "secret-key", fp)
    store.complete("t1", "secret-key", fp, 200, {"success": True})
    files = list((tmp_path / "idempotency").glob("*.json"))
    assert len(files) == 1 and "secret-key" not in files[0].name
    assert json.loads(files[0].read_text())["state"] == "completed"
    import time
    assert store.check("t1", "secret-key", fp, now=time.time() + 11) is None


def test_purge_deletes_only_expired_records(tmp_path):
    import time
    store = IdempotencyStore(tmp_path, ttl=10, wait_timeout=0.1)
    for key in ("old", "new"):
        store.check("t1", key, "fp")
        store.begin("t1", key, "fp")
        store.complete("t1", key, "fp", 200, {"success": True})
    old = next(p for p in (tmp_path / "idempotency").glob("*.json") if p == store._path("t1", "old"))
    record = json.loads(old.read_text())
    record["updated_at"] -= 20
    old.write_text(json.dumps(record))
    assert store.purge_expired(now=time.time()) == 1
    assert not old.exists() and store.check("t1", "new", "fp").status == 200
