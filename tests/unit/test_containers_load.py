"""Stop rules of ContainersPage.load (API_SPEC 4.3) on a scripted grid, no browser."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from emodal.errors import ContainerNotFound, PortalTimeout
from emodal.portal.containers import ContainersPage


class ScriptedGrid(ContainersPage):
    """A grid that gains ``batch`` rows per scroll until ``total``; ``target_row`` holds the target."""

    def __init__(self, total: int, batch: int = 24, target_row: int | None = None, **settings: int) -> None:
        knobs = {"scroll_idle_cycles": 3, "max_scroll_cycles": 500, **settings}
        super().__init__(driver=None, urls=None, settings=SimpleNamespace(**knobs))  # type: ignore[arg-type]
        self.total, self.batch, self.target_row = total, batch, target_row
        self.rows = min(batch, total)
        self.scrolls = 0

    def row_count(self) -> int:
        return self.rows

    def scroll_cycle(self) -> tuple[int, int]:
        before = self.rows
        self.scrolls += 1
        self.rows = min(self.rows + self.batch, self.total)
        return before, self.rows

    def has_container(self, container_id: str) -> bool:
        return self.target_row is not None and self.target_row < self.rows


def test_first_page_only() -> None:
    grid = ScriptedGrid(450)
    result = grid.load(infinite=False)
    assert (result.work_mode, result.rows_loaded, result.scroll_cycles, result.stopped_reason) == (
        "first_page", 24, 0, "First page only")
    assert result.target_found is None and grid.scrolls == 0


def test_infinite_stops_after_idle_cycles() -> None:
    result = ScriptedGrid(100).load()
    assert result.rows_loaded == 100
    assert result.stopped_reason == "No new rows after 3 scroll cycles"
    assert result.scroll_cycles == 4 + 3  # 24 -> 48 -> 72 -> 96 -> 100, then three idle cycles


def test_count_pre_scroll_and_during_scroll() -> None:
    assert ScriptedGrid(450).load(target_count=20).stopped_reason == "Target count 20 reached"
    result = ScriptedGrid(450).load(target_count=50, infinite=False)
    assert (result.work_mode, result.rows_loaded, result.scroll_cycles) == ("count", 72, 2)


def test_id_has_priority_and_reports_when_found() -> None:
    result = ScriptedGrid(450, target_row=300).load(target_container_id="TCLU9000099", target_count=10)
    assert result.work_mode == "id" and result.target_found is True
    assert result.stopped_reason == "Container TCLU9000099 found (during scroll)"
    assert ScriptedGrid(450, target_row=3).load(target_container_id="X").stopped_reason == "Container X found (pre-scroll)"


def test_id_not_found_and_cycle_limit() -> None:
    result = ScriptedGrid(60).load(target_container_id="EISU8000080")
    assert result.target_found is False and result.stopped_reason == "No new rows after 3 scroll cycles"
    limited = ScriptedGrid(10_000, max_scroll_cycles=5).load()
    assert (limited.scroll_cycles, limited.stopped_reason) == (5, "Scroll cycle limit reached")


def test_find_row_raises_404_with_search_details() -> None:
    with pytest.raises(ContainerNotFound) as info:
        ScriptedGrid(60).find_row("EISU8000080")
    assert info.value.message == "Container 'EISU8000080' not found after scrolling"
    assert info.value.details == "searched 60 rows in 5 scroll cycles"


def test_deadline_stops_scrolling() -> None:
    grid = ScriptedGrid(450)
    grid.deadline = time.monotonic() - 1
    with pytest.raises(PortalTimeout):
        grid.load()
