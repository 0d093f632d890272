"""`/make_appointment` around its operation (API_SPEC 4.8): what a failure after Submit answers, counts
and stores, over a fake registry and a stand-in operation (no browser)."""
import re

import pytest

from emodal.api import appointments
from emodal.app import shutdown
from emodal.errors import PortalRejected, SlotNotAvailable
from emodal.operations.idempotency import NAMESPACE
from tests.unit.fake_registry import make_app

REQUEST = {"username": "jdoe", "password": "sandbox-pass", "captcha_api_key": "sandbox-key",
           "trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
           "move_type": "PICK FULL", "container_id": "TGBU2000026", "truck_plate": "9E51234",
           "appointment_time": "Tuesday 11/25/2025 09:00 - 10:00", "pin_code": "4821"}


@pytest.fixture
def app(tmp_path):
    app, _ = make_app(tmp_path)
    yield app
    shutdown(app)


def operation(app, monkeypatch, *, before=None, after=None, result=None):
    """Stand in for the wizard: ``before`` raised before Submit; else the record is written, Submit
    "clicked" (``no_retry``) and ``after`` raised, or ``result`` returned."""
    calls = []

    def fake(ctx, *, before_submit=None):
        calls.append(1)
        ctx.driver  # the browser was used
        if before is not None:
            raise before
        if before_submit is not None:
            before_submit()
        ctx.no_retry = True
        if after is not None:
            raise after
        return result

    monkeypatch.setattr(appointments, "make_appointment", fake)
    return calls


def post(app, key="k-1", **extra):
    return app.test_client().post("/make_appointment", json={**REQUEST, **extra}, headers={"Idempotency-Key": key})


def records(app):
    return [r.value for r in app.extensions["emodal_state"].store.scan(NAMESPACE)]


def database_bytes(app):
    """The database as a copy of its files would hold it (the WAL has the latest writes)."""
    path = app.extensions["emodal_state"].store.path
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def appointments_counted(app):
    text = app.extensions["emodal_metrics"].render().decode()
    return {m[0]: float(m[1]) for m in re.findall(r'emodal_appointments_total\{[^}]*result="(\w+)"[^}]*\} ([\d.]+)', text)}


@pytest.mark.parametrize("after", [OSError(28, "No space left on device"), RuntimeError("no browser")],
                         ids=["disk_full_at_the_confirmation_shot", "browser_killed"])
def test_failure_after_submit_is_unknown_stays_submitting_and_replays_409(app, monkeypatch, after):
    calls = operation(app, monkeypatch, after=after)
    r = post(app)
    assert r.status_code == 504 and r.json["outcome"] == "unknown" and r.json["submitted"] is True, r.json
    assert appointments_counted(app) == {"unknown": 1.0}
    [record] = records(app)
    assert record["state"] == "submitting"
    again = post(app)
    assert again.status_code == 409 and again.json["error_type"] == "idempotency_conflict"
    assert again.json["details"]["reason"] == "outcome_unknown" and again.json["outcome"] == "unknown"
    assert len(calls) == 1  # the replay ran nothing


def test_refusal_after_submit_is_stored_and_replayed(app, monkeypatch):
    operation(app, monkeypatch, after=SlotNotAvailable("gone", submitted=True, appointment_confirmed=False))
    assert post(app).status_code == 422
    assert appointments_counted(app) == {"rejected": 1.0} and records(app)[0]["state"] == "completed"
    again = post(app)
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"


def test_failure_before_submit_frees_the_key(app, monkeypatch):
    calls = operation(app, monkeypatch, before=PortalRejected("Booking number validation failed"))
    assert post(app).status_code == 422 and records(app) == []
    assert appointments_counted(app) == {"failed": 1.0}
    operation(app, monkeypatch, result={"appointment_confirmed": True})
    assert post(app).status_code == 200 and len(calls) == 1


def test_stored_answer_holds_no_secret(app, monkeypatch):
    operation(app, monkeypatch, result={"appointment_confirmed": True, "confirmation_number": "TTI-1",
                                        "requested": {"terminal": "TTI", "pin_code": "****"}})
    assert post(app).status_code == 200
    raw = database_bytes(app)
    for secret in ("pin_code", "4821", "password", "sandbox-pass", "captcha_api_key", "sandbox-key"):
        assert secret.encode() not in raw
    [record] = records(app)
    assert record["body"]["confirmation_number"] == "TTI-1"
