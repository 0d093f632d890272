"""Secrets at rest: the key, the sealing box, sealed records, rotation and the rotate-key command."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from emodal.config import ConfigError, Settings
from emodal.state import SEALED, SecretBox, load_or_create_key, new_key, persistent_secret, rotate_key
from emodal.state.cli import rotate_key_command
from emodal.state.errors import StateCorrupt, UndecryptableSecret
from emodal.state.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Pa55-plaintext-marker-7f3e"
COOKIE = "idsrv.session=cookie-plaintext-marker-91ab"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def store(state_dir: Path):
    store = SQLiteStore(state_dir / "state.db")
    yield store
    store.close()


# --- SecretBox ---------------------------------------------------------------------------------------
def test_seal_and_open_round_trip_without_plaintext():
    box = SecretBox(new_key())
    token = box.seal({"password": PASSWORD, "cookies": [{"name": "a", "value": COOKIE}]})
    assert PASSWORD not in token and "password" not in token
    assert box.open(token) == {"password": PASSWORD, "cookies": [{"name": "a", "value": COOKIE}]}
    assert box.seal({"p": 1}) != box.seal({"p": 1})  # random IV: equal secrets do not look equal


def test_a_wrong_key_or_altered_data_never_opens():
    token = SecretBox(new_key()).seal({"password": PASSWORD})
    with pytest.raises(UndecryptableSecret, match="STATE_ENCRYPTION_KEY"):
        SecretBox(new_key()).open(token)
    box = SecretBox(new_key())
    token = box.seal({"password": PASSWORD})
    altered = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for bad in (altered, "not a token", ""):
        with pytest.raises(UndecryptableSecret):
            box.open(bad)


def test_a_key_list_encrypts_with_the_first_and_opens_with_any():
    old, new = new_key(), new_key()
    from_before = SecretBox(old).seal({"v": 1})
    both = SecretBox(f"{new}, {old}")
    assert both.open(from_before) == {"v": 1}
    assert SecretBox(new).open(both.seal({"v": 2})) == {"v": 2}


def test_the_box_never_shows_its_key():
    key = new_key()
    assert key not in repr(SecretBox(key)) and key not in str(SecretBox(key))


# --- the key ----------------------------------------------------------------------------------------
def test_a_key_is_generated_once_into_a_private_file(state_dir):
    key, generated = load_or_create_key(None, state_dir)
    assert generated is True
    assert (state_dir / "state.key").read_text().strip() == key
    assert stat.S_IMODE((state_dir / "state.key").stat().st_mode) == 0o600
    assert load_or_create_key("", state_dir) == (key, False)


def test_the_environment_key_wins_and_writes_nothing(state_dir):
    key = new_key()
    assert load_or_create_key(key, state_dir) == (key, False)
    assert not (state_dir / "state.key").exists()


def test_a_malformed_key_is_refused_without_echoing_it(state_dir):
    with pytest.raises(ConfigError, match="STATE_ENCRYPTION_KEY") as error:
        load_or_create_key("my-secret-but-not-fernet", state_dir)
    assert "my-secret-but-not-fernet" not in str(error.value)
    state_dir.mkdir()
    (state_dir / "state.key").write_text("garbage\n")
    with pytest.raises(StateCorrupt, match="state.key"):
        load_or_create_key(None, state_dir)


def test_settings_read_the_state_variables_and_hide_the_key():
    key = new_key()
    s = Settings.from_env({"STATE_URL": "sqlite:////srv/state.db", "STATE_ENCRYPTION_KEY": key})
    assert s.state_url == "sqlite:////srv/state.db" and s.state_encryption_key == key
    assert key not in repr(s) and key not in str(s.redacted())
    assert Settings.from_env({}).state_url is None and Settings.from_env({}).redacted()["state_encryption_key"] is None


# --- sealed records ---------------------------------------------------------------------------------
def test_the_persistent_secret_survives_a_reopen_and_is_stored_sealed(state_dir, store):
    box = SecretBox(new_key())
    secret = persistent_secret(store, box, "session_secret")
    assert len(secret) >= 32 and persistent_secret(store, box, "session_secret") == secret
    assert list(store.get("secrets", "session_secret").value) == [SEALED]
    store.close()
    reopened = SQLiteStore(state_dir / "state.db")
    try:
        assert persistent_secret(reopened, box, "session_secret") == secret
        with pytest.raises(UndecryptableSecret):
            persistent_secret(reopened, SecretBox(new_key()), "session_secret")
    finally:
        reopened.close()


def test_racing_first_starts_agree_on_one_secret(store):
    box, racers = SecretBox(new_key()), 8
    start = threading.Barrier(racers)
    seen: list[str] = []

    def first_start() -> None:
        start.wait()
        seen.append(persistent_secret(store, box, "session_secret"))

    workers = [threading.Thread(target=first_start) for _ in range(racers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(seen) == racers and len(set(seen)) == 1


def test_the_database_file_holds_no_sealed_secret_in_clear(state_dir, store):
    box = SecretBox(new_key())
    store.put("sessions", "s1", {"username": "jdoe-clear-metadata",
                                 SEALED: box.seal({"password": PASSWORD, "cookies": [COOKIE]})})
    secret = persistent_secret(store, box, "session_secret")
    raw = b"".join(path.read_bytes() for path in state_dir.iterdir())
    assert b"jdoe-clear-metadata" in raw  # the grep does see what the store wrote
    for plaintext in (PASSWORD, COOKIE, "cookie-plaintext-marker", secret):
        assert plaintext.encode() not in raw


def _sealed_records(store, box):
    now = 1_900_000_000.0
    store.put("sessions", "s1", {"username": "jdoe", SEALED: box.seal({"password": PASSWORD})}, expires_at=now)
    store.put("sessions", "plain", {"username": "nobody"})
    store.put("secrets", "session_secret", {SEALED: box.seal({"value": "abc"})})
    return now


def test_rotation_reseals_every_sealed_field_and_nothing_else(store):
    old, new = SecretBox(new_key()), SecretBox(new_key())
    expiry = _sealed_records(store, old)
    assert rotate_key(store, old, new, ("sessions", "secrets")) == 2
    s1 = store.get("sessions", "s1")
    assert new.open(s1.value[SEALED]) == {"password": PASSWORD}
    assert s1.value["username"] == "jdoe" and s1.expires_at == expiry and s1.version == 2
    assert new.open(store.get("secrets", "session_secret").value[SEALED]) == {"value": "abc"}
    with pytest.raises(UndecryptableSecret):
        old.open(s1.value[SEALED])
    assert store.get("sessions", "plain").version == 1


def test_rotation_writes_nothing_unless_every_record_opens(store):
    real, foreign = SecretBox(new_key()), SecretBox(new_key())
    _sealed_records(store, real)
    store.put("secrets", "zz_foreign", {SEALED: foreign.seal({"value": "x"})})  # scanned last
    with pytest.raises(UndecryptableSecret):
        rotate_key(store, real, SecretBox(new_key()), ("sessions", "secrets"))
    assert real.open(store.get("sessions", "s1").value[SEALED]) == {"password": PASSWORD}
    assert store.get("sessions", "s1").version == 1


# --- rotate-key command -------------------------------------------------------------------------------
def test_rotate_key_with_a_key_file(state_dir):
    key, _ = load_or_create_key(None, state_dir)
    store = SQLiteStore(state_dir / "state.db")
    secret = persistent_secret(store, SecretBox(key), "session_secret")
    out, err = io.StringIO(), io.StringIO()
    assert rotate_key_command(Settings(state_dir=state_dir), out, err) == 1  # the service still holds it
    assert "state.lock" in err.getvalue()
    store.close()
    assert rotate_key_command(Settings(state_dir=state_dir), out, err) == 0, err.getvalue()
    fresh = (state_dir / "state.key").read_text().strip()
    assert fresh != key and "," not in fresh and fresh not in out.getvalue()
    assert stat.S_IMODE((state_dir / "state.key").stat().st_mode) == 0o600
    store = SQLiteStore(state_dir / "state.db")
    try:
        assert persistent_secret(store, SecretBox(fresh), "session_secret") == secret
        with pytest.raises(UndecryptableSecret):
            persistent_secret(store, SecretBox(key), "session_secret")
    finally:
        store.close()


def test_rotate_key_command_with_an_environment_key(state_dir):
    old = new_key()
    store = SQLiteStore(state_dir / "state.db")
    secret = persistent_secret(store, SecretBox(old), "session_secret")
    store.close()
    env = {**os.environ, "STATE_DIR": str(state_dir), "STATE_ENCRYPTION_KEY": old}
    run = subprocess.run([sys.executable, "emodal_business_api.py", "rotate-key"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    printed = [word for word in run.stdout.split() if len(word) == 44]
    assert len(printed) == 1 and old not in run.stdout and not (state_dir / "state.key").exists()
    store = SQLiteStore(state_dir / "state.db")
    try:
        assert persistent_secret(store, SecretBox(printed[0]), "session_secret") == secret
    finally:
        store.close()
