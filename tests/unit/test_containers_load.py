"""Stop rules of the shared scroll-until-idle component and the API wording of a load (API_SPEC 4.3,
4.9), on a scripted list, no browser."""
from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest

from emodal.errors import ContainerNotFound, PortalSessionLost, PortalTimeout, PortalUnavailable
from emodal.operations.loading import load_list
from emodal.portal.containers import ContainersPage
from emodal.portal.scrolling import InfiniteScroll, ScrollLimits, ScrollResult, Stop

LIMITS = ScrollLimits(idle_cycles=3, max_cycles=500)


class ScriptedList(InfiniteScroll):
    """A list that gains ``batch`` rows per scroll until ``total``."""

    def __init__(self, total: int, batch: int = 24) -> None:
        super().__init__(None, name="the list", scroll_js="", count=lambda: self.rows, timeout=1)  # type: ignore[arg-type]
        self.total, self.batch = total, batch
        self.rows = min(batch, total)
        self.scrolls = 0

    def cycle(self) -> tuple[int, int]:
        before = self.rows
        self.scrolls += 1
        self.rows = min(self.rows + self.batch, self.total)
        return before, self.rows


class ScriptedPage:
    """The page side of a load: ``target_row`` is where the sought item sits in the list."""

    def __init__(self, total: int, target_row: int | None = None, limits: ScrollLimits = LIMITS) -> None:
        self.list = ScriptedList(total)
        self.target_row, self.limits = target_row, limits

    def row_count(self) -> int:
        return self.list.rows

    def load(self, goal) -> ScrollResult:  # type: ignore[no-untyped-def]
        return self.list.run(goal, self.limits)

    def found(self) -> bool:
        return self.target_row is not None and self.target_row < self.list.rows


def load(page: ScriptedPage, target_id: str | None = None, target_count: int | None = None,
         infinite: bool = True):  # type: ignore[no-untyped-def]
    return load_list(page, target_id=target_id, target_count=target_count, infinite=infinite,
                     found=page.found, noun="Container", idle_cycles=page.limits.idle_cycles)


def test_scroll_stops_after_idle_cycles() -> None:
    scripted = ScriptedList(100)
    assert scripted.run(lambda rows: False, LIMITS) == ScrollResult(Stop.IDLE, 4 + 3, 100)  # 24 -> 100, 3 idle


def test_scroll_asks_the_goal_before_scrolling() -> None:
    scripted = ScriptedList(450)
    assert scripted.run(lambda rows: rows >= 20, LIMITS) == ScrollResult(Stop.GOAL, 0, 24)
    assert scripted.scrolls == 0
    assert scripted.run(lambda rows: rows >= 50, LIMITS) == ScrollResult(Stop.GOAL, 2, 72)


def test_scroll_cycle_limit_and_deadline() -> None:
    assert ScriptedList(10_000).run(lambda rows: False, ScrollLimits(3, 5)) == ScrollResult(Stop.CYCLE_LIMIT, 5, 144)
    with pytest.raises(PortalTimeout) as info:
        ScriptedList(450).run(lambda rows: False, LIMITS, deadline=time.monotonic() - 1)
    assert info.value.message == "Operation deadline reached while scrolling the list (24 rows loaded)"


def test_a_list_that_disappears_is_unavailable() -> None:
    gone = InfiniteScroll(None, name="the list", scroll_js="", count=lambda: -1, timeout=1)  # type: ignore[arg-type]
    with pytest.raises(PortalUnavailable) as info:
        gone.cycle()
    assert info.value.message == "The list disappeared while scrolling"


def test_first_page_only() -> None:
    page = ScriptedPage(450)
    result = load(page, infinite=False)
    assert (result.work_mode, result.rows, result.scroll_cycles, result.stopped_reason) == (
        "first_page", 24, 0, "First page only")
    assert result.reached is False and page.list.scrolls == 0


def test_infinite_stops_after_idle_cycles() -> None:
    result = load(ScriptedPage(100))
    assert result.rows == 100 and result.work_mode == "infinite"
    assert result.stopped_reason == "No new rows after 3 scroll cycles"
    assert result.scroll_cycles == 4 + 3


def test_count_pre_scroll_and_during_scroll() -> None:
    assert load(ScriptedPage(450), target_count=20).stopped_reason == "Target count 20 reached"
    result = load(ScriptedPage(450), target_count=50, infinite=False)
    assert (result.work_mode, result.rows, result.scroll_cycles, result.reached) == ("count", 72, 2, True)


def test_id_has_priority_and_reports_when_found() -> None:
    result = load(ScriptedPage(450, target_row=300), target_id="TCLU9000099", target_count=10)
    assert result.work_mode == "id" and result.reached is True
    assert result.stopped_reason == "Container TCLU9000099 found (during scroll)"
    assert load(ScriptedPage(450, target_row=3), target_id="X").stopped_reason == "Container X found (pre-scroll)"


def test_id_not_found_and_cycle_limit() -> None:
    result = load(ScriptedPage(60), target_id="EISU8000080")
    assert result.reached is False and result.stopped_reason == "No new rows after 3 scroll cycles"
    limited = load(ScriptedPage(10_000, limits=ScrollLimits(3, 5)))
    assert (limited.scroll_cycles, limited.stopped_reason) == (5, "Scroll cycle limit reached")


class ScriptedGrid(ContainersPage):
    """The Containers page over a scripted list that never holds the sought container."""

    def __init__(self, total: int, deadline: float | None = None) -> None:
        settings = SimpleNamespace(scroll_idle_cycles=3, max_scroll_cycles=500, element_timeout=1)
        super().__init__(driver=None, urls=None, settings=settings, deadline=deadline)  # type: ignore[arg-type]
        self._scroll = ScriptedList(total)

    def has_container(self, container_id: str) -> bool:
        return False


def test_expand_of_a_container_never_loaded_is_404_with_search_details() -> None:
    with pytest.raises(ContainerNotFound) as info:
        ScriptedGrid(60).expand("EISU8000080")
    assert info.value.message == "Container 'EISU8000080' not found after scrolling"
    assert info.value.details == "searched 60 rows in 5 scroll cycles"


def test_grid_deadline_stops_scrolling() -> None:
    with pytest.raises(PortalTimeout):
        ScriptedGrid(450, deadline=time.monotonic() - 1).load()


def test_a_list_that_disappears_during_a_scroll_checks_the_page_at_once() -> None:
    # The portal reloads to its login form when a scroll request finds the login lapsed: the wait
    # sees the list gone (-1) and asks the page, which says why (here: the login lapsed).
    counts = itertools.chain([5], itertools.repeat(-1))
    lapsed = InfiniteScroll(SimpleNamespace(execute_script=lambda *args: None), name="the list",  # type: ignore[arg-type]
                            scroll_js="", count=lambda: next(counts), timeout=5,
                            check_page=lambda: (_ for _ in ()).throw(PortalSessionLost()))
    with pytest.raises(PortalSessionLost):
        lapsed.cycle()
