"""Idempotency records of /make_appointment (API_SPEC 4.8): replay, conflicts, crash leftovers."""
import hashlib
import json
import threading
import time

import pytest

from emodal.api.appointments import MakeAppointmentRequest
from emodal.api.schemas import BusinessRequest
from emodal.errors import IdempotencyConflict, InvalidField, SessionBusy
from emodal.api.appointments import resolve_key
from emodal.operations.idempotency import FINGERPRINT_FIELDS, NAMESPACE, IdempotencyStore
from emodal.state import SQLiteStore

BOOKING = {"trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
           "move_type": "PICK FULL", "container_id": "TGBU2000026", "truck_plate": "9E51234",
           "appointment_time": "Tuesday 11/25/2025 09:00 - 10:00"}


SECRET = b"server-secret-of-the-tests-0123"


class Clock:
    """The state store's wall clock, moved by the tests (expiry without waiting)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(tmp_path, clock):
    opened = SQLiteStore(tmp_path / "state.db", clock=clock)
    yield opened
    opened.close()


def make_store(state, secret=SECRET, ttl=3600, wait_timeout=0.5):
    return IdempotencyStore(state, ttl=ttl, wait_timeout=wait_timeout, secret=secret, clock=state._clock)


@pytest.fixture
def store(state):
    return make_store(state)


def fingerprint(params):
    return IdempotencyStore(None, ttl=1, wait_timeout=1, secret=SECRET).booking_fingerprint(params)  # type: ignore[arg-type]


def stored_texts(state):
    """Every idempotency record as the database holds it (JSON text)."""
    return [json.dumps(r.value) for r in state.scan(NAMESPACE)]


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
    state = SQLiteStore(tmp_path / "state.db")
    first = make_store(state)
    first.check("t1", "k", fp)
    first.begin("t1", "k", fp)
    state.close()
    # A new process (restart after a crash) finds the record still "submitting".
    second = make_store(SQLiteStore(tmp_path / "state.db"))
    with pytest.raises(IdempotencyConflict) as exc:
        second.check("t1", "k", fp)
    assert exc.value.status == 409 and exc.value.details["reason"] == "outcome_unknown"
    assert exc.value.extra["submitted"] is True and exc.value.extra["outcome"] == "unknown"


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


def test_expired_record_is_forgotten_and_the_store_holds_no_key(state, clock):
    fp = fingerprint(BOOKING)
    store = make_store(state, ttl=10, wait_timeout=0.1)
    store.check("t1", "secret-key", fp)
    store.begin("t1", "secret-key", fp)
    store.complete("t1", "secret-key", fp, 200, {"success": True})
    [record] = state.scan(NAMESPACE)
    assert "secret-key" not in record.key and "t1" not in record.key and record.value["state"] == "completed"
    clock.now += 11
    assert store.check("t1", "secret-key", fp) is None


def test_records_expire_ttl_after_their_last_write(state, clock):
    store = make_store(state, ttl=10, wait_timeout=0.1)
    store.check("t1", "old", "fp")
    store.begin("t1", "old", "fp")
    clock.now += 8
    store.check("t1", "new", "fp")
    store.begin("t1", "new", "fp")
    store.complete("t1", "new", "fp", 200, {"success": True})
    clock.now += 3
    assert state.purge_expired() == 1
    assert [r.key for r in state.scan(NAMESPACE)] == [store.record_key("t1", "new")]
    assert store.check("t1", "new", "fp").status == 200


def test_a_submitting_record_written_meanwhile_stops_a_second_submit(state):
    """Two calls that both passed ``check`` (two processes on one store, later): one Submit only."""
    first, second = make_store(state), make_store(state)
    assert first.check("t1", "k", "fp") is None and second.check("t1", "k", "fp") is None
    first.begin("t1", "k", "fp")
    with pytest.raises(IdempotencyConflict) as exc:
        second.begin("t1", "k", "fp")
    assert exc.value.status == 409


# --- issue 15: what decides the booking, secrets at rest, durability --------------------------------
def test_fingerprint_covers_every_field_that_decides_the_booking():
    """Every /make_appointment field except session, debug and the key itself is a booking field:
    a field added to the schema later must be added to the fingerprint too (or this fails)."""
    not_booking = set(BusinessRequest.model_fields) | {"idempotency_key"}
    booking_fields = set(MakeAppointmentRequest.model_fields) - not_booking
    assert booking_fields <= set(FINGERPRINT_FIELDS), booking_fields - set(FINGERPRINT_FIELDS)
    assert {"appointment_session_id", "seals", "appointment_date", "pin_code", "own_chassis"} <= booking_fields


def test_another_wizard_with_the_same_key_is_a_conflict_not_a_replay(store):
    """Resumed bookings send little more than the wizard id: two wizards must not share a print."""
    first = {"appointment_session_id": "appt_1764012600_AAAAAAAAAAAAAAAAAAAAAA", "appointment_time": "T1"}
    second = {**first, "appointment_session_id": "appt_1764012600_BBBBBBBBBBBBBBBBBBBBBB"}
    store.check("t1", "k", fingerprint(first))
    store.begin("t1", "k", fingerprint(first))
    store.complete("t1", "k", fingerprint(first), 200, {"success": True, "confirmation_number": "TTI-1"})
    with pytest.raises(IdempotencyConflict) as exc:
        store.check("t1", "k", fingerprint(second))
    assert exc.value.status == 422


def test_fingerprint_is_keyed_by_the_server_secret(state):
    assert make_store(state).booking_fingerprint(BOOKING) == make_store(state).booking_fingerprint(BOOKING)
    assert make_store(state, secret=b"another-secret-0123456789").booking_fingerprint(BOOKING) != \
        make_store(state).booking_fingerprint(BOOKING)


def _unkeyed_prints(params):
    """What an attacker holding the disk can compute: hashes of the public algorithm, no secret."""
    subset = {n: params[n] for n in FINGERPRINT_FIELDS if params.get(n) is not None}
    for text in (json.dumps(subset, sort_keys=True, separators=(",", ":"), default=str),
                 json.dumps(subset, sort_keys=True, default=str)):
        yield hashlib.sha256(text.encode()).hexdigest()
        yield hashlib.sha512(text.encode()).hexdigest()


def test_no_pin_can_be_brute_forced_from_the_record_and_no_secret_is_stored(store, state):
    pin = "4821"
    params = {**BOOKING, "pin_code": pin, "password": "sandbox-pass", "captcha_api_key": "sandbox-key"}
    fp = store.booking_fingerprint(params)
    store.check("t1", "k", fp)
    store.begin("t1", "k", fp)
    store.complete("t1", "k", fp, 502, {"success": False, "requested": {"pin_code": "****", "terminal": "TTI"},
                                        "password": "sandbox-pass", "captcha_api_key": "sandbox-key"})
    [text] = stored_texts(state)
    stored = json.loads(text)["fingerprint"]
    for field in ("pin_code", "password", "captcha_api_key", "sandbox-pass", "sandbox-key"):
        assert field not in text
    public = {k: v for k, v in params.items() if k != "pin_code"}
    for guess in (f"{n:04d}" for n in range(10000)):
        assert stored not in set(_unkeyed_prints({**public, "pin_code": guess})), guess


def test_record_of_another_secret_is_never_replayed(state):
    """A restart with another SESSION_SECRET (a new key made the stored one unreadable) cannot
    verify old prints: a left-over ``submitting`` record is still 409 (outcome unknown), a
    completed one a 422 conflict, never a replay."""
    old = make_store(state, secret=b"secret-before-the-restart-01")
    for key, outcome in (("sub", "submitting"), ("done", "completed")):
        old.check("t1", key, old.booking_fingerprint(BOOKING))
        old.begin("t1", key, old.booking_fingerprint(BOOKING))
        if outcome == "completed":
            old.complete("t1", key, old.booking_fingerprint(BOOKING), 200, {"success": True})
    new = make_store(state)
    with pytest.raises(IdempotencyConflict) as exc:
        new.check("t1", "sub", new.booking_fingerprint(BOOKING))
    assert exc.value.status == 409
    with pytest.raises(IdempotencyConflict) as exc:
        new.check("t1", "done", new.booking_fingerprint(BOOKING))
    assert exc.value.status == 422
