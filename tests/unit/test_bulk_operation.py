"""/get_info_bulk item handling (API_SPEC 4.6) with a fake page: order, duplicates, failures, deadline."""
from __future__ import annotations

import contextlib
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest

from emodal.errors import ContainerNotFound, PortalSessionLost
from emodal.operations import bulk


class FakePage:
    def __init__(self) -> None:
        self.deadline: float | None = None
        self.opened = 0

    def is_open(self) -> bool:
        return True

    def open(self) -> None:
        self.opened += 1


def make_ctx(imports: list[str], exports: list[str], *, remaining: float = 600.0) -> Any:
    deadline = time.monotonic() + remaining
    return SimpleNamespace(
        params={"import_containers": imports, "export_containers": exports},
        settings=SimpleNamespace(element_timeout=30),
        deadline=deadline,
        remaining=lambda: max(0.0, deadline - time.monotonic()),
        log=logging.getLogger("test.bulk"),
        screenshot=lambda *a, **k: None,
        step=lambda name: contextlib.nullcontext(),
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def fake_import(ctx: Any, page: Any, cid: str) -> dict[str, Any]:
        seen.append(("import", cid))
        if cid == "EISU8000080":
            raise ContainerNotFound(f"Container '{cid}' not found after scrolling")
        if cid == "LOST0000000":
            raise PortalSessionLost()
        return {"pregate_status": True, "pregate_details": {"milestone": "Pregate"}, "timeline": [{}],
                "milestone_count": 1}

    def fake_export(ctx: Any, page: Any, cid: str) -> dict[str, Any]:
        seen.append(("export", cid))
        return {"booking_number": None}

    monkeypatch.setattr(bulk, "import_item", fake_import)
    monkeypatch.setattr(bulk, "export_item", fake_export)
    monkeypatch.setattr(bulk, "open_containers_page", lambda ctx: FakePage())
    return seen


def test_order_duplicates_and_recorded_failure(calls: list) -> None:
    ctx = make_ctx(["MSCU1000017", "EISU8000080", "MSCU1000017", "CAIU3000032"], ["TRHU4000040"])
    body = bulk.get_info_bulk(ctx)
    assert calls == [("import", "MSCU1000017"), ("import", "EISU8000080"), ("import", "CAIU3000032"),
                     ("export", "TRHU4000040")]
    imports = body["results"]["import_results"]
    assert [r["success"] for r in imports] == [True, False, True]
    assert imports[1] == {"container_id": "EISU8000080", "success": False, "error_type": "container_not_found",
                          "error": "Container 'EISU8000080' not found after scrolling", "pregate_status": None,
                          "pregate_details": None, "timeline": [], "milestone_count": 0}
    assert body["results"]["export_results"] == [{"container_id": "TRHU4000040", "success": True,
                                                  "booking_number": None}]
    assert body["results"]["summary"] == {"total_import": 3, "total_export": 1, "import_success": 2,
                                          "import_failed": 1, "export_success": 1, "export_failed": 0}
    assert body["message"] == "Bulk processing completed: 3 successful, 1 failed"


def test_deadline_marks_the_rest_not_processed(calls: list) -> None:
    ctx = make_ctx(["MSCU1000017"], ["TRHU4000040"], remaining=10.0)  # < ELEMENT_TIMEOUT left
    body = bulk.get_info_bulk(ctx)
    assert calls == []
    for item in body["results"]["import_results"] + body["results"]["export_results"]:
        assert item["success"] is False and item["error_type"] == "portal_timeout"
        assert item["error"] == "Not processed: operation deadline reached"


def test_lost_portal_session_is_not_an_item_failure(calls: list) -> None:
    with pytest.raises(PortalSessionLost):
        bulk.get_info_bulk(make_ctx(["LOST0000000", "MSCU1000017"], []))
    assert calls == [("import", "LOST0000000")]


def test_progress_is_logged_per_item(calls: list, caplog: pytest.LogCaptureFixture) -> None:
    # A 56-container dispatcher run takes many minutes: the log must say how far it got, item by item.
    with caplog.at_level(logging.INFO, logger="test.bulk"):
        bulk.get_info_bulk(make_ctx(["MSCU1000017", "EISU8000080", "MSCU1000017"], ["TRHU4000040"]))
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("bulk progress")]
    assert len(progress) == 3
    assert progress[0].startswith("bulk progress 1/3: 1 ok, 0 failed (import MSCU1000017: ok")
    assert progress[1].startswith("bulk progress 2/3: 1 ok, 1 failed (import EISU8000080: container_not_found")
    assert progress[2].startswith("bulk progress 3/3: 2 ok, 1 failed (export TRHU4000040: ok")


def test_progress_names_items_not_processed(calls: list, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="test.bulk"):
        bulk.get_info_bulk(make_ctx(["MSCU1000017"], ["TRHU4000040"], remaining=10.0))
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("bulk progress")]
    assert [p.split(" (")[0] for p in progress] == ["bulk progress 1/2: 0 ok, 1 failed",
                                                     "bulk progress 2/2: 0 ok, 2 failed"]
    assert all("portal_timeout" in p for p in progress)
