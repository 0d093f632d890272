"""Durable sessions without a browser (issue 10): the snapshot's cheap comparison and cookie
handling, the session record (clear metadata, sealed secrets, a wrong key), restore decisions,
lost wizards, and the journal's write rules."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from emodal.browser.snapshot import AuthSnapshot, PortalOrigins, _cdp_cookie, normalise_cookie
from emodal.errors import AppointmentSessionExpired, CaptchaKeyInvalid
from emodal.operations.wizard_state import check_not_lost, wizard_mark
from emodal.sessions.credentials import Credentials
from emodal.sessions.journal import (NAMESPACE, RestoreDecision, SessionJournal, StoredSession, decode, encode,
                                     record_key, restore_decision)
from emodal.sessions.session import BrowserSession, SessionState
from emodal.state import SecretBox, SQLiteStore, new_key
from emodal.state.errors import StateWriteError, UndecryptableSecret

SID = "session_1764012345_JpJZ6krlXaZW5RhloZfgWg"
AUTH = {"name": "AuthCookie", "value": "%7B%22bearer%22%3A%22c0ffee%22%7D", "domain": "ecp2.emodal.com",
        "path": "/", "expires": -1, "httpOnly": False, "secure": True, "sameSite": "Lax"}
IDSRV = {"name": "idsrv.session", "value": "c0ffee0123456789", "domain": "identity.emodal.com",
         "path": "/identity", "expires": time.time() + 3600, "httpOnly": True, "secure": True}
ORIGINS = PortalOrigins.of(["https://ecp2.emodal.com", "https://termops.emodal.com"], "https://identity.emodal.com")


# --- the snapshot --------------------------------------------------------------------------------------
def test_digest_changes_with_values_and_expiry_not_with_order_or_flags() -> None:
    base = AuthSnapshot((AUTH, IDSRV))
    assert AuthSnapshot((IDSRV, AUTH)).digest() == base.digest()
    assert AuthSnapshot(({**AUTH, "httpOnly": True}, IDSRV)).digest() == base.digest()
    assert AuthSnapshot(({**AUTH, "value": "other"}, IDSRV)).digest() != base.digest()
    assert AuthSnapshot((AUTH, {**IDSRV, "expires": IDSRV["expires"] + 600})).digest() != base.digest()
    stored = AuthSnapshot((AUTH,), {"https://ecp2.emodal.com": {"local": {"token": "t"}, "session": {}}})
    assert stored.digest() != AuthSnapshot((AUTH,)).digest()


def test_only_cookies_a_portal_host_receives_belong_to_the_snapshot() -> None:
    assert ORIGINS.wants_cookie("ecp2.emodal.com") and ORIGINS.wants_cookie(".emodal.com")
    assert ORIGINS.wants_cookie("identity.emodal.com")
    assert not ORIGINS.wants_cookie("www.google.com") and not ORIGINS.wants_cookie("emodal.com.evil")
    assert not ORIGINS.wants_cookie("account.emodal.com")  # not configured here


def test_expired_cookies_are_not_put_back_and_webdriver_cookies_are_normalised() -> None:
    gone = {**IDSRV, "expires": time.time() - 1}
    assert AuthSnapshot((AUTH, gone)).live_cookies() == [AUTH]
    assert normalise_cookie({"name": "a", "value": "b", "domain": "x", "expiry": 1700000000})["expires"] == 1700000000
    assert normalise_cookie({"name": "a", "value": "b", "domain": "x"})["expires"] == -1


def test_host_only_cookies_stay_host_only_and_domain_cookies_keep_their_domain() -> None:
    host_only = _cdp_cookie(AUTH, ORIGINS)
    assert host_only is not None and "domain" not in host_only
    assert host_only["url"] == "https://ecp2.emodal.com/" and "expires" not in host_only  # a session cookie
    wide = _cdp_cookie({**IDSRV, "domain": ".emodal.com"}, ORIGINS)
    assert wide is not None and wide["domain"] == ".emodal.com" and wide["expires"] == IDSRV["expires"]
    plain = PortalOrigins.of(["http://127.0.0.1:8470/ecp2"], None)
    assert _cdp_cookie({**AUTH, "domain": "127.0.0.1", "secure": False}, plain)["url"] == "http://127.0.0.1:8470/"


def test_snapshot_round_trips_and_drops_malformed_cookies() -> None:
    snap = AuthSnapshot((AUTH, IDSRV), {"https://ecp2.emodal.com": {"local": {"k": "v"}, "session": {"s": "1"}}})
    assert AuthSnapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap
    assert AuthSnapshot.from_dict({"cookies": [{"value": "no name"}, "junk", AUTH]}).cookies == (AUTH,)


# --- the record ----------------------------------------------------------------------------------------
def session(keep_alive: bool = True) -> BrowserSession:
    made = BrowserSession(SID, "tenant-fp", Credentials("jdoe", "sandbox-pass", "sandbox-key"), "lookup-hmac",
                          keep_alive=keep_alive)
    made.state, made.login_count, made.identity_origin = SessionState.READY, 3, "https://identity.emodal.com"
    made.snapshot = AuthSnapshot((AUTH, IDSRV))
    made.snapshot_digest = made.snapshot.digest()
    return made


def test_record_keeps_metadata_in_clear_and_every_secret_sealed() -> None:
    box = SecretBox(new_key())
    value = encode(session(), box, wizard_ttl=600)
    assert (value["username"], value["tenant"], value["lookup_key"], value["kind"], value["state"],
            value["login_count"]) == ("jdoe", "tenant-fp", "lookup-hmac", "keep_alive", "ready", 3)
    whole = json.dumps(value)
    for secret in ("sandbox-pass", "sandbox-key", AUTH["value"], IDSRV["value"], SID, SID.rsplit("_", 1)[1]):
        assert secret not in whole
    assert record_key(SID) not in SID and len(record_key(SID)) == 32


def test_record_decodes_to_the_same_session_and_a_wrong_key_cannot_open_it() -> None:
    box = SecretBox(new_key())
    original = session()
    original.wizards["appt_1764012600_Jv5BqLbqkUoZPEkY5fCIcg"] = type("W", (), {"last_used": time.time()})()
    stored = decode(json.loads(json.dumps(encode(original, box, wizard_ttl=600))), box)
    assert (stored.session_id, stored.tenant, stored.lookup_key, stored.keep_alive) == (SID, "tenant-fp",
                                                                                      "lookup-hmac", True)
    assert stored.credentials == original.credentials and stored.snapshot == original.snapshot
    assert stored.login_count == 3 and stored.identity_origin == "https://identity.emodal.com"
    assert list(stored.lost_wizards) == [wizard_mark("appt_1764012600_Jv5BqLbqkUoZPEkY5fCIcg")]
    with pytest.raises(UndecryptableSecret):
        decode(encode(original, box, wizard_ttl=600), SecretBox(new_key()))


def stored(keep_alive: bool = True, **changes: Any) -> StoredSession:
    now = time.time()
    values: dict[str, Any] = {"session_id": SID, "tenant": "t", "lookup_key": "k",
                              "credentials": Credentials("jdoe", "p", "c"), "keep_alive": keep_alive,
                              "state": "ready", "created_at": now - 100, "last_used": now - 50}
    values.update(changes)
    return StoredSession(**values)


# --- restore decisions -----------------------------------------------------------------------------------
def test_keep_alive_restores_now_regular_on_first_use_expired_regular_is_dropped() -> None:
    now = time.time()
    assert restore_decision(stored(True), now, 1800) is RestoreDecision.BACKGROUND
    assert restore_decision(stored(True, last_used=now - 10_000), now, 1800) is RestoreDecision.BACKGROUND
    assert restore_decision(stored(False), now, 1800) is RestoreDecision.FIRST_USE
    assert restore_decision(stored(False, last_used=now - 1800), now, 1800) is RestoreDecision.DROP


def test_a_refused_captcha_key_is_not_retried_by_a_background_restore() -> None:
    item = stored(True, state="needs_attention", last_error={"error_type": "captcha_key_invalid", "at": None})
    assert restore_decision(item, time.time(), 1800) is RestoreDecision.FIRST_USE
    restored = item.to_session(time.time())
    assert restored.state is SessionState.NEEDS_ATTENTION and restored.attention_error is CaptchaKeyInvalid


def test_restored_entry_waits_for_its_browser_and_keeps_only_live_wizard_marks() -> None:
    now = time.time()
    item = stored(True, lost_wizards={"live": now + 60, "old": now - 1}, restored_at=None)
    restored = item.to_session(now)
    assert restored.state is SessionState.RESTORING and restored.restore_pending and restored.handle is None
    assert restored.lost_wizards == {"live": now + 60} and restored.login_count == 0
    assert stored(False).to_session(now).state is SessionState.LOGGED_OUT


def test_the_restored_flag_is_reported_once() -> None:
    made = session()
    assert made.take_restored() is False
    made.mark_restored(time.time())
    assert made.take_restored() is True and made.take_restored() is False
    assert made.describe(1800)["restored_at"] is not None


def test_an_appointment_wizard_open_at_the_restart_is_expired_not_silently_new() -> None:
    lost_id, now = "appt_1764012600_Jv5BqLbqkUoZPEkY5fCIcg", time.time()
    with pytest.raises(AppointmentSessionExpired) as exc:
        check_not_lost(lost_id, {}, {wizard_mark(lost_id): now + 60}, now)
    assert exc.value.status == 404 and "/check_appointments" in exc.value.message
    check_not_lost("appt_1764012600_unknownunknownunknown", {}, {wizard_mark(lost_id): now + 60}, now)
    check_not_lost(lost_id, {}, {wizard_mark(lost_id): now - 1}, now)  # would have expired anyway
    check_not_lost(lost_id, {lost_id: object()}, {wizard_mark(lost_id): now + 60}, now)  # open again


# --- the journal --------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = SQLiteStore(tmp_path / "state.db")
    yield opened
    opened.close()


def test_journal_round_trip_and_a_deleted_session_is_never_written_again(store: Any) -> None:
    journal = SessionJournal(store, SecretBox(new_key()), wizard_ttl=600)
    made = session()
    assert journal.save(made) and [s.session_id for s in journal.load_all()] == [SID]
    journal.delete(SID)
    assert journal.save(made) is False and journal.load_all() == [] and journal.count() == 0


def test_records_of_another_key_are_dropped_with_one_warning_each(store: Any, caplog: Any) -> None:
    SessionJournal(store, SecretBox(new_key()), wizard_ttl=600).save(session())
    with caplog.at_level(logging.WARNING):
        assert SessionJournal(store, SecretBox(new_key()), wizard_ttl=600).load_all() == []
    assert store.scan(NAMESPACE) == []
    [line] = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert "STATE_ENCRYPTION_KEY" in line and "sandbox-pass" not in line


def test_a_full_disk_while_saving_is_logged_and_the_session_goes_on(store: Any, caplog: Any,
                                                                    monkeypatch: Any) -> None:
    journal = SessionJournal(store, SecretBox(new_key()), wizard_ttl=600)

    def full(*_: Any, **__: Any) -> int:
        raise StateWriteError("cannot write state.db: database or disk is full")

    monkeypatch.setattr(store, "put", full)
    with caplog.at_level(logging.ERROR):
        assert journal.save(session()) is False
    assert any("not saved" in r.getMessage() and "disk is full" in r.getMessage() for r in caplog.records)


def test_unchanged_secrets_are_not_sealed_again(store: Any, monkeypatch: Any) -> None:
    box = SecretBox(new_key())
    journal = SessionJournal(store, box, wizard_ttl=600)
    made = session()
    journal.save(made)
    sealed = store.get(NAMESPACE, record_key(SID)).value["sealed"]
    made.last_used += 5
    journal.save(made)
    assert store.get(NAMESPACE, record_key(SID)).value["sealed"] == sealed
    made.snapshot = AuthSnapshot(({**AUTH, "value": "renewed"},))
    made.snapshot_digest = made.snapshot.digest()
    journal.save(made)
    assert box.open(store.get(NAMESPACE, record_key(SID)).value["sealed"])["snapshot"]["cookies"][0]["value"] == "renewed"


# --- the registry: restore outcomes, shutdown keeps records, ends delete them ------------------------------
@pytest.fixture
def durable(tmp_path: Path, store: Any, monkeypatch: Any) -> Any:
    """A registry with a journal over the fakes of test_registry_logic; browsers never driven: the
    snapshot is read back unchanged and ``_put_back`` answers what the test says the portal shows."""
    from emodal.config import Settings
    from emodal.portal.health import PageState
    from emodal.sessions import SessionRegistry
    from emodal.sessions import registry as registry_module
    from tests.unit.test_registry_logic import FakeFactory, FakeHandle, FakeLoginFlow

    class Factory(FakeFactory):
        def __init__(self) -> None:
            super().__init__()
            self.error: Exception | None = None

        def create(self) -> FakeHandle:
            if self.error is not None:
                raise self.error
            return FakeHandle()

    monkeypatch.setattr(registry_module.auth_snapshot, "capture",
                        lambda handle, origins, previous: AuthSnapshot((AUTH,)))
    box = SecretBox(new_key())
    settings = Settings(downloads_dir=tmp_path, max_sessions=3, max_concurrent_logins=2, server_threads=8,
                        login_timeout=5, session_lock_timeout=1, session_secret=b"s" * 32)

    def build(portal_shows: PageState = PageState.LOGGED_IN) -> Any:
        registry = SessionRegistry(settings, Factory(), FakeLoginFlow(),  # type: ignore[arg-type]
                                   journal=SessionJournal(store, box, wizard_ttl=600))
        monkeypatch.setattr(registry, "_put_back", lambda session: portal_shows)
        return registry

    return build


def restarted(durable: Any, shows: Any = None, **error: Any) -> tuple[Any, BrowserSession]:
    """A first registry logs jdoe in and shuts down; a second one restores it (waiting for it)."""
    from emodal.portal.health import PageState

    first = durable()
    sid = first.resolve("t", None, Credentials("jdoe", "pw", "key"), keep_alive=True, promote=False)[0].session_id
    first.release()
    first.close_all(0)
    second = durable(shows or PageState.LOGGED_IN)
    second.factory.error = error.get("error")
    assert second.restore_all() == 1
    session = second.get("t", sid)
    assert session is not None and session.login_done.wait(10)
    return second, session


def test_shutdown_keeps_the_record_and_a_restore_from_cookies_needs_no_login(durable: Any) -> None:
    registry, session = restarted(durable)
    assert session.state is SessionState.READY and session.restored_at is not None and not session.restore_pending
    assert registry.login_flow.calls == 0 and session.login_count == 1
    assert registry.stats()["counters"]["restores"] == {"cookies": 1}
    assert registry.stats()["state"] == {"backend": "sqlite", "sessions": 1, "restored": 1, "restoring": 0}
    again, is_new = registry.resolve("t", None, Credentials("jdoe", "pw", "key"), keep_alive=True, promote=False)
    assert again is session and is_new is False  # the kept SESSION_SECRET finds it by credentials


def test_refused_cookies_mean_one_relogin_under_the_same_id(durable: Any) -> None:
    from emodal.portal.health import PageState

    registry, session = restarted(durable, PageState.LOGIN_PAGE)
    assert registry.login_flow.calls == 1 and session.login_count == 2 and session.state is SessionState.READY
    assert registry.stats()["counters"]["restores"] == {"relogin": 1}


def test_a_browser_that_fails_to_start_leaves_the_session_for_the_next_request(durable: Any) -> None:
    from emodal.errors import PortalUnavailable

    registry, session = restarted(durable, error=PortalUnavailable("Browser could not be started"))
    assert session.state is SessionState.LOGGED_OUT and session.restore_pending
    assert session.last_error["error_type"] == "portal_unavailable"
    assert registry.stats()["counters"]["restores"] == {"failed": 1}
    registry.factory.error = None
    with registry.acquire(session, "/get_containers", "req_1"):
        assert registry.ensure_healthy(session) is False  # restored now, by the request itself
    assert session.restored_at is not None and session.take_restored() and registry.login_flow.calls == 0


def test_delete_removes_the_record_for_good(durable: Any, store: Any) -> None:
    registry, session = restarted(durable)
    registry.close("t", session.session_id)
    assert store.scan(NAMESPACE) == [] and durable().restore_all() == 0
