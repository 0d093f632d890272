"""Fixtures shared by the sandbox's own browser tests."""
from __future__ import annotations

from typing import Any, Iterator

import pytest


@pytest.fixture(scope="module")
def driver(chrome_factory: Any) -> Iterator[Any]:
    """One plain headless Chrome per test module (modules needing more define their own)."""
    browser = chrome_factory()
    yield browser
    browser.quit()


def log_out_everyone(driver: Any, sandbox: Any) -> None:
    """Kill every sandbox session server-side and drop the browser's cookies: a logged-out browser."""
    for username in ("jdoe", "asmith"):
        sandbox.admin.logout(username)
    driver.delete_all_cookies()
