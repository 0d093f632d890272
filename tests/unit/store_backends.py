"""The state-store backends the contract tests run on (SQLite, and Redis on a real ``redis-server``),
each with a fake clock: expiry is tested without waiting. For Redis, ``advance`` also ages every key
of the test's prefix on the server (its remaining ``PTTL`` shrinks, a key whose life is over is
removed as the server would). The parametrized ``backend`` fixture (tests/unit/conftest.py) runs a
test once per backend; Redis runs are marked ``redis``.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from emodal.state import RedisStore
from emodal.state.sqlite import SQLiteStore
from emodal.state.store import StateStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    store: StateStore
    now: Callable[[], float]
    advance: Callable[[float], None]


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "state" / "state.db", clock=clock)
    yield Backend(store, clock, clock.advance)
    store.close()


def age_keys(client: redis.Redis, prefix: str, seconds: float) -> None:
    """Let ``seconds`` pass for every key of ``prefix`` as the server sees it: shrink each
    remaining life, remove the keys whose life is over (what Redis's own expiry does)."""
    for key in client.scan_iter(match=f"{prefix}:*"):
        left = client.pttl(key)
        if left < 0:  # no expiry (-1), or gone meanwhile (-2)
            continue
        rest = left - round(seconds * 1000)
        if rest <= 0:
            client.delete(key)
        else:
            client.pexpire(key, rest)


def _redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    server = request.getfixturevalue("redis_server")
    clock, prefix = FakeClock(), f"test{uuid.uuid4().hex[:12]}"
    store = RedisStore(server.url, prefix=prefix, clock=clock)
    client = redis.Redis.from_url(server.url)

    def advance(seconds: float) -> None:
        clock.advance(seconds)
        age_keys(client, prefix, seconds)

    yield Backend(store, clock, advance)
    store.close()
    client.close()


#: One factory per backend; every contract test runs on each.
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Iterator[Backend]]] = {
    "sqlite": _sqlite, "redis": _redis}
#: Marks of a backend's runs, so ``-m redis`` / ``-m "not redis"`` select them.
BACKEND_MARKS = {"redis": [pytest.mark.redis]}
