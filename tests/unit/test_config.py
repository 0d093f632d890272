"""Settings from the environment (API_SPEC 3.11) and their validation."""
from pathlib import Path

import pytest

from emodal.capacity import default_max_sessions
from emodal.config import ConfigError, Settings

KEY = "k" * 32


def test_defaults_match_the_spec():
    s = Settings.from_env({})
    assert (s.host, s.port, s.server_threads, s.max_concurrent_logins) == ("127.0.0.1", 5010, 32, 2)
    assert s.max_sessions == default_max_sessions()  # derived from this machine's memory
    assert (s.session_timeout, s.session_refresh_interval, s.refresh_check_interval) == (1800, 300, 60)
    assert (s.session_lock_timeout, s.capacity_retry_after, s.operation_timeout) == (120, 30, 600)
    assert s.downloads_dir == Path("downloads") and s.state_dir == Path("downloads/.state")
    assert s.emodal_move_types == ("PICK FULL", "DROP FULL", "PICK EMPTY", "DROP EMPTY")
    assert s.emodal_ecp2_url == "https://ecp2.emodal.com" and s.captcha_service_url == "https://2captcha.com"
    assert s.window_size == (1920, 1080) and s.headless is True and s.captcha_poll_interval == 5
    assert s.auth_enabled is False and s.session_secret is None  # kept in the state store


def test_environment_values_are_typed():
    s = Settings.from_env({"PORT": "6000", "HEADLESS": "false", "EMODAL_API_KEYS": f"{KEY}, {KEY}x",
                           "WINDOW_SIZE": "1280,720", "DOWNLOADS_DIR": "/tmp/dl", "SESSION_SECRET": "s" * 20,
                           "EMODAL_MOVE_TYPES": "PICK FULL,DROP EMPTY", "PUBLIC_BASE_URL": "https://api.example/"})
    assert s.port == 6000 and s.headless is False
    assert s.emodal_api_keys == (KEY, KEY + "x") and s.auth_enabled
    assert s.window_size == (1280, 720) and s.state_dir == Path("/tmp/dl/.state")
    assert s.session_secret == b"s" * 20 and s.emodal_move_types == ("PICK FULL", "DROP EMPTY")
    assert s.public_base_url == "https://api.example"


def test_overrides_win_and_an_unset_secret_is_left_to_the_state_store():
    assert Settings.from_env({"PORT": "6000"}, port=7000).port == 7000
    assert Settings().session_secret is None


@pytest.mark.parametrize("env,word", [
    ({"EMODAL_API_KEYS": "short"}, "EMODAL_API_KEYS"),
    ({"EMODAL_ADMIN_KEYS": "short"}, "EMODAL_ADMIN_KEYS"),
    ({"SERVER_THREADS": "10"}, "SERVER_THREADS"),
    ({"PORT": "abc"}, "PORT"),
    ({"HEADLESS": "maybe"}, "HEADLESS"),
    ({"DISPLAY_TIMEZONE": "Mars/Base"}, "DISPLAY_TIMEZONE"),
    ({"MAX_SESSIONS": "0"}, "MAX_SESSIONS"),
    ({"EMODAL_ECP2_URL": "ftp://x"}, "EMODAL_ECP2_URL"),
    ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
])
def test_invalid_values_stop_start_up_naming_the_variable(env, word):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert word in str(err.value)


def test_with_sandbox_points_every_base_url():
    s = Settings().with_sandbox("http://127.0.0.1:8470/")
    assert (s.emodal_ecp2_url, s.emodal_termops_url, s.emodal_truckerportal_url, s.emodal_account_url,
            s.captcha_service_url) == ("http://127.0.0.1:8470/ecp2", "http://127.0.0.1:8470/termops",
                                       "http://127.0.0.1:8470/truckerportal", "http://127.0.0.1:8470/account",
                                       "http://127.0.0.1:8470/2captcha")


def test_redacted_hides_keys_and_secret():
    shown = Settings(emodal_api_keys=(KEY,)).redacted()
    assert KEY not in str(shown) and shown["session_secret"] == "<hidden>"


def test_settings_read_the_environment_only_through_from_env(monkeypatch):
    monkeypatch.setenv("PORT", "6000")
    monkeypatch.setenv("port", "7000")  # variables are upper-case names only
    assert Settings().port == 5010
    assert Settings.from_env().port == 6000


def test_secrets_stay_out_of_repr():
    shown = repr(Settings(session_secret=b"s" * 20, state_encryption_key="fernet-key-material"))
    assert "s" * 20 not in shown and "fernet-key-material" not in shown


def test_durations_are_whole_seconds_in_the_environment_but_may_be_fractions_in_code():
    assert Settings(login_timeout=0.3).login_timeout == 0.3
    assert Settings.from_env({"LOGIN_TIMEOUT": " 90 "}).login_timeout == 90
    with pytest.raises(ConfigError, match="LOGIN_TIMEOUT"):
        Settings.from_env({"LOGIN_TIMEOUT": "1.5"})


def test_per_tenant_cap_defaults_to_max_sessions_and_stays_within_it():
    assert Settings.from_env({"MAX_SESSIONS": "4", "SERVER_THREADS": "8"}).max_sessions_per_tenant == 4
    assert Settings(max_sessions_per_tenant=2).max_sessions_per_tenant == 2
    with pytest.raises(ConfigError, match="MAX_SESSIONS_PER_TENANT"):
        Settings.from_env({"MAX_SESSIONS": "10", "MAX_SESSIONS_PER_TENANT": "11"})


GB = 2**30


@pytest.mark.parametrize("total_gb, expected", [
    (1, 2),      # below what even two sessions need: the floor keeps the defaults valid
    (4, 6),      # (4096 * 0.8 - 1536) / 250 = 6.96
    (8, 20),     # (8192 * 0.8 - 1536) / 250 = 20.1
    (24, 30),    # 72 fit; capped so the default SERVER_THREADS (32) still exceeds it
])
def test_default_max_sessions_follows_the_memory(total_gb: int, expected: int) -> None:
    assert default_max_sessions(total_gb * GB) == expected


def test_spare_browsers_are_planned_before_sessions() -> None:
    assert default_max_sessions(8 * GB, spares=0) == 20      # (8192 * 0.8 - 1536) / 250 = 20.1
    assert default_max_sessions(8 * GB, spares=4) == 17      # 600 MB for four spares


def test_spare_browsers_are_off_unless_asked_for() -> None:
    assert Settings().spare_browsers == 0
    assert Settings(spare_browsers=1).max_sessions == default_max_sessions(spares=1)
    assert Settings.from_env({"SPARE_BROWSERS": "0"}).spare_browsers == 0
    assert Settings.from_env({"SPARE_BROWSERS": "2", "SELENIUM_REMOTE_URL": "http://hub:4444"}).spare_browsers == 2
    with pytest.raises(ConfigError, match="SPARE_BROWSERS"):
        Settings.from_env({"SPARE_BROWSERS": "-1"})


def test_default_max_sessions_always_validates_with_the_other_defaults() -> None:
    for total_gb in (0.5, 1, 2, 3, 6, 12, 48, 256):
        Settings(max_sessions=default_max_sessions(int(total_gb * GB)))


def test_explicit_max_sessions_wins_over_the_derived_default() -> None:
    assert Settings.from_env({"MAX_SESSIONS": "5"}).max_sessions == 5
