"""What logins learned survives a restart (issue 13): the solver's solve times and the login page's
captcha target go into the state store (namespace ``login_hints``) and a new LoginFlow, as built at
the next start, polls at the learned time and knows the target for its early solve. Real SQLite."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emodal.captcha.schedule import PollPlan
from emodal.config import Settings
from emodal.sessions.login_flow import LoginFlow
from emodal.sessions.login_hints import KEY, NAMESPACE, LoginHints, LoginHintStore
from emodal.state import SQLiteStore

TARGET = ("6LcSANDBOXsitekey", "https://identity.example/Account/Login")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "state.db")
    yield opened
    opened.close()


def reopened(store: SQLiteStore) -> SQLiteStore:
    """The same database opened again, as by the next start of the service."""
    path = store.path
    store.close()
    return SQLiteStore(path)


def flow(tmp_path: Path, store: SQLiteStore) -> LoginFlow:
    settings = Settings(downloads_dir=tmp_path, captcha_poll_interval=5)
    return LoginFlow(settings, factory=None, hints=LoginHintStore(store))  # type: ignore[arg-type]


def test_a_new_start_polls_at_the_learned_time_and_knows_the_target(tmp_path: Path, store: SQLiteStore) -> None:
    before = flow(tmp_path, store)
    assert before.poll_schedule.plan() == PollPlan(5, 5)      # nothing learned: 2captcha's pace
    for _ in range(3):
        before.poll_schedule.record(PollPlan(5, 5), 5.0)      # a 2 s solve answered at the 5 s poll
    before._known_target = TARGET
    before._save_hints()
    learned = before.poll_schedule.plan()

    store = reopened(store)
    try:
        after = flow(tmp_path, store)
        assert after.poll_schedule.samples() == before.poll_schedule.samples()
        assert after.poll_schedule.plan() == learned and learned.first < 5
        assert after._known_target == TARGET
    finally:
        store.close()


def test_round_trip_keeps_samples_in_order_and_the_target(store: SQLiteStore) -> None:
    hints = LoginHintStore(store)
    hints.save(LoginHints((2.5, 1.75, 2.0), TARGET))
    assert hints.load() == LoginHints((2.5, 1.75, 2.0), TARGET)
    record = store.get(NAMESPACE, KEY)
    assert record is not None and record.expires_at is not None   # a long-idle service relearns


@pytest.mark.parametrize("value", [
    {"samples": "2.5"},
    {"samples": [2.5, -1]},
    {"samples": [float("inf")]},
    {"samples": [True]},
    {"samples": [2.5], "sitekey": "k", "page_url": "javascript:alert(1)"},
    {"samples": [2.5], "sitekey": "", "page_url": "https://identity.example/Account/Login"},
    {"nothing": 1},
])
def test_an_unreadable_record_is_ignored_and_learning_starts_again(store: SQLiteStore, value: dict[str, Any]) -> None:
    store.put(NAMESPACE, KEY, value)
    assert LoginHintStore(store).load() == LoginHints()


def test_nothing_stored_is_nothing_learned(store: SQLiteStore) -> None:
    assert LoginHintStore(store).load() == LoginHints()
