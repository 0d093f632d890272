"""Fixtures shared by unit test modules."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.store_backends import BACKEND_MARKS, BACKENDS, Backend


@pytest.fixture(params=[pytest.param(name, marks=BACKEND_MARKS.get(name, [])) for name in sorted(BACKENDS)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh store on each backend in turn (the store contract holds on all of them)."""
    yield from BACKENDS[request.param](request, tmp_path)
