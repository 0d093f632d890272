"""The spare browser (SPARE_BROWSERS, emodal.browser.spares) in the real service with real headless
Chromium: a new login takes the spare started ahead and a replacement starts; the spare is in the
browser ledger, is no session and no orphan; a crashed spare is never handed out (the login starts
its own browser and still succeeds) and is replaced; shutdown leaves none of them running."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from emodal.browser.factory import BrowserHandle, group_pids, kill_group
from emodal.browser.ledger import NAMESPACE as BROWSERS
from tests.e2e.conftest import Client, RunningService, eventually

pytestmark = pytest.mark.browser


def ready_spare(service: RunningService, other_than: BrowserHandle | None = None) -> BrowserHandle:
    """The service's spare browser once it has started (a new one when ``other_than`` is given)."""
    factory = service.registry.factory
    found = eventually(lambda: [h for h in factory.spares.handles() if h is not other_than], 90, "a spare browser")
    return found[0]


def recorded(service: RunningService, handle: BrowserHandle) -> bool:
    store = service.app.extensions["emodal_state"].store
    return store.get(BROWSERS, str(handle.pgid)) is not None


def login(service: RunningService, credentials: Callable[..., dict[str, str]], user: str = "jdoe") -> Any:
    response = Client(service.base_url).post("/get_session", json=credentials(user))
    assert response.status_code == 200, response.text
    return service.registry.get(None, response.json()["session_id"])


def test_a_login_takes_the_spare_and_a_replacement_starts(make_service: Callable[..., RunningService],
                                                          credentials: Callable[..., dict[str, str]]) -> None:
    service = make_service(spare_browsers=1)
    factory = service.registry.factory
    spare = ready_spare(service)
    assert recorded(service, spare)                         # reaped after a kill like any browser
    assert spare not in factory.open_handles()              # not in use ...
    factory.reap(keep=set(), min_age=0)                     # ... yet no orphan, whatever its age
    assert spare.alive() and service.registry.list() == []  # and no session

    session = login(service, credentials)
    assert session.handle is spare and factory.spares.counts["taken"] == 1
    replacement = ready_spare(service, other_than=spare)
    assert replacement.alive() and recorded(service, replacement)
    assert service.registry.stats()["active_sessions"] == 1   # the spare counts as no session

    service.stop()
    assert group_pids(replacement.pgid) == [] and group_pids(spare.pgid) == []   # shutdown closed both
    assert not replacement.root_dir.exists()


def test_a_killed_spare_is_replaced_and_logins_still_work(make_service: Callable[..., RunningService],
                                                          credentials: Callable[..., dict[str, str]]) -> None:
    service = make_service(spare_browsers=1)
    factory = service.registry.factory
    spare = ready_spare(service)
    assert spare.pgid is not None
    kill_group(spare.pgid)                                  # Chromium and ChromeDriver crash while waiting
    eventually(lambda: group_pids(spare.pgid) == [], 30, "the killed spare's processes to end")

    session = login(service, credentials)
    assert session.handle is not spare and session.handle.alive()
    assert factory.spares.counts["dead"] == 1 and factory.spares.counts["taken"] == 0
    assert not recorded(service, spare)                     # closed: out of the ledger, profile deleted
    assert not spare.root_dir.exists()
    replacement = ready_spare(service, other_than=spare)
    assert replacement.alive()
    assert login(service, credentials, "asmith").handle is replacement   # the next login takes the new spare
