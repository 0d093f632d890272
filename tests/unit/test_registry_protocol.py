"""The real registry and the unit tests' fake share one interface (emodal.sessions.protocol.Registry).

Why signatures and not only names: a fake that keeps an old parameter list would let HTTP-layer
tests pass while the real call fails; comparing every parameter (name, kind, default) catches it.
"""
from __future__ import annotations

import inspect

import pytest

from emodal.sessions.protocol import Registry
from emodal.sessions.registry import SessionRegistry
from tests.unit.fake_registry import FakeRegistry

MEMBERS = sorted(name for name, value in vars(Registry).items()
                 if not name.startswith("_") and callable(value))


def _shape(function: object) -> list[tuple[str, object, bool]]:
    """Parameters as (name, kind, has a default); annotations differ on purpose (fake sessions)."""
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty)
            for p in inspect.signature(function).parameters.values()]


def test_the_protocol_names_what_the_http_layer_and_the_runner_call() -> None:
    assert {"resolve", "release", "acquire", "ensure_healthy", "relogin", "get", "list", "close",
            "close_all", "stats"} <= set(MEMBERS)


@pytest.mark.parametrize("implementation", [SessionRegistry, FakeRegistry], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", MEMBERS)
def test_real_and_fake_registry_match_the_protocol(implementation: type, name: str) -> None:
    assert _shape(getattr(implementation, name)) == _shape(getattr(Registry, name)), name
