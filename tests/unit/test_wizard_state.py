"""appointment_session_id records: ids, TTL, ownership and the resume oracle (API_SPEC 4.7)."""
import re

from emodal.operations.wizard_state import WizardStore, new_appointment_session_id

FIELDS = {"container_type": "import", "trucking_company": "B & T DRAYAGE LLC",
          "terminal": "TraPac LLC - Los Angeles", "move_type": "DROP EMPTY", "truck_plate": "9E51234"}


def test_id_format_is_appt_seconds_token():
    sid = new_appointment_session_id(1764012600)
    assert re.fullmatch(r"appt_1764012600_[A-Za-z0-9_-]{22,}", sid)
    assert sid != new_appointment_session_id(1764012600)


def test_record_found_only_by_owner_tenant_and_session():
    wizards = {}
    store = WizardStore(wizards, ttl=600)
    rec = store.create("t1", "s1", FIELDS, now=1000)
    assert store.get(rec.appointment_session_id, "t1", "s1", now=1001) is rec
    assert store.get(rec.appointment_session_id, "t2", "s1", now=1001) is None
    assert store.get(rec.appointment_session_id, "t1", "s2", now=1001) is None
    assert store.get("appt_1_unknown", "t1", "s1", now=1001) is None
    assert isinstance(rec.last_used, float) or isinstance(rec.last_used, int)


def test_ttl_counts_from_last_use_and_expiry_forgets():
    wizards = {}
    store = WizardStore(wizards, ttl=600)
    rec = store.create("t1", "s1", FIELDS, now=1000)
    rec.touch(1500)
    assert store.get(rec.appointment_session_id, "t1", "s1", now=2000) is rec
    assert store.get(rec.appointment_session_id, "t1", "s1", now=2100) is None
    assert wizards == {}


def test_resume_oracle_names_the_first_changed_phase():
    store = WizardStore({}, ttl=600)
    rec = store.create("t1", "s1", FIELDS)
    assert rec.first_stale_phase(FIELDS) == 1  # nothing applied yet
    rec.record_phase(1, FIELDS)
    assert rec.phase == 2
    assert rec.first_stale_phase(FIELDS) == 2
    rec.record_phase(2, FIELDS)
    assert rec.phase == 3 and rec.first_stale_phase(FIELDS) is None
    assert rec.first_stale_phase({**FIELDS, "truck_plate": "9E47781"}) == 2
    assert rec.first_stale_phase({**FIELDS, "terminal": "ITS Long Beach"}) == 1
    # Re-running phase 1 invalidates what phase 2 applied.
    rec.record_phase(1, FIELDS)
    assert rec.phase == 2 and rec.first_stale_phase(FIELDS) == 2


def test_merge_keeps_stored_fields_and_applies_new_ones():
    rec = WizardStore({}, ttl=600).create("t1", "s1", FIELDS)
    merged = rec.merged({"line": "MSC", "equip_size": "40DH", "terminal": None, "debug": True})
    assert merged["terminal"] == "TraPac LLC - Los Angeles"
    assert merged["line"] == "MSC" and merged["equip_size"] == "40DH"
    assert "debug" not in merged


def test_only_the_newest_wizard_owns_the_page():
    store = WizardStore({}, ttl=600)
    first = store.create("t1", "s1", FIELDS)
    second = store.create("t1", "s1", FIELDS)
    assert second.on_page and not first.on_page
    store.claim_page(first)
    assert first.on_page and not second.on_page
