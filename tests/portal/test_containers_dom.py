"""Page-object scripts against hand-written markup shaped like the REAL portal (PORTAL_SPEC A7).

Why besides the sandbox tests: the sandbox renders one arrangement of each unknown (A13.4-5); the
real site may differ where Part A is silent. These pages vary exactly those points (badge element,
labels-first detail grid without ``btn-link``, a text-only booking, the ``dividerflowcolor2`` trap,
a wrapper row around milestones) so the scripts are proven not to lean on the sandbox's choices.
"""
from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from emodal.operations.containers import HEADERS
from emodal.operations.timeline import timeline_body
from emodal.portal.containers import ContainersPage

ICON = "<mat-icon class='mat-icon material-icons'>{}</mat-icon>"


def _header_row() -> str:
    cells = ["<th><mat-checkbox><input type='checkbox'></mat-checkbox></th>", "<th></th>"]
    for h in HEADERS:
        inner = h if h in ("Fees", "Tags") else f"<div class='x'><div class='y'>{h}</div></div>"
        cells.append(f"<th>{inner}</th>")
    return "<tr>" + "".join(cells) + "</tr>"


def _data_row(number: str, badge: str, arrow: bool, *, holds: str = "NO") -> str:
    values = ["IMPORT", "GATE OUT", f"{ICON.format('info')} {holds}",
              "<span class='link'>TTI-0910-08535</span> <span class='small'>224888</span>",
              "COMPLETED", "ACCEPTED", "TTI", "N/A", "N/A", "MSCU", "MSC ARIANE", "9484443", "532A ",
              "40DH", f"<div>{ICON.format('')}</div>", "<div>10/15/2025 - 10/15/2025</div>", "<div>N/A</div>"]
    first = f"<td>{number}{badge}</td>"
    arrow_cell = f"<td>{ICON.format('keyboard_arrow_down') if arrow else ''}</td>"
    return ("<tr><td><mat-checkbox></mat-checkbox></td>" + arrow_cell + first
            + "".join(f"<td>{v}</td>" for v in values) + "</tr>")


def _milestone(name: str, date: str, divider: str, *, own_divider: bool = True) -> str:
    div = f"<div class='{divider}'></div>" if own_divider else ""
    return (f"<div fxlayout='row' class='curr-loc-div'><div fxlayout='column'>"
            f"<span class='location-details-label'>{name}</span>"
            f"<span class='location-details-label p-top-5'>{date}</span></div>{div}</div>")


TIMELINE = (
    "<app-containerflow><div class='timeline-container'>"
    "<div fxlayout='row'><mat-icon class='location-details-label'>arrow_drop_up</mat-icon></div>"
    + _milestone("Loaded", "N/A", "timeline-divider dividerflowcolor2")
    # A wrapper row around a milestone: only the inner row counts.
    + "<div fxlayout='row'>" + _milestone("Terminal In-Gate", "10/02/2025 08:25",
                                        "timeline-divider dividerflowcolor") + "</div>"
    + _milestone("Pregate", "N/A", "timeline-divider dividerflowcolor")
    + _milestone("Empty Received", "09/29/2025 08:25", "", own_divider=False)
    + _milestone("Empty Pickup", "09/28/2025 07:00", "timeline-divider horizontalconflow")
    + "</div></app-containerflow>"
)

LABELS_FIRST = ("<div><div class='field-label ng-star-inserted'>Status</div>"
                "<div class='field-label ng-star-inserted'>Booking #</div>"
                "<div class='field-data ng-star-inserted'>GATE IN</div>"
                "<div class='field-data ng-star-inserted'>RICFEM857500</div></div>")
TEXT_ONLY = "<div><p>Status</p><p>Booking #</p><p>GATE IN</p><p>510476551</p></div>"


def _page(detail: str) -> str:
    rows = (_data_row("TGBU5604945", "<span class='b1'>L</span>", True)
            + f"<tr><td colspan='20'>{detail}</td></tr>"
            + _data_row("MSCU5165756", "", True, holds="YES")
            + _data_row("HDMU5000052", "", False))
    return ("<html><body><app-root><div id='searchres' class='search-results' matinfinitescroll "
            "style='height:400px;overflow:auto'><table><thead>" + _header_row() + "</thead><tbody>"
            + rows + "</tbody></table></div></app-root></body></html>")


@pytest.fixture(scope="module")
def driver(chrome_factory) -> Iterator:
    yield chrome_factory()


def _page_object(driver, detail: str) -> ContainersPage:
    driver.get("data:text/html;charset=utf-8," + quote(_page(detail)))
    settings = SimpleNamespace(element_timeout=5, page_load_timeout=5, scroll_idle_cycles=1, max_scroll_cycles=2)
    return ContainersPage(driver, urls=None, settings=settings)  # type: ignore[arg-type]


def test_read_rows_uses_headers_first_text_node_and_drops_ligatures(driver) -> None:
    page = _page_object(driver, TIMELINE)
    grid = page.read_rows()
    assert grid.headers == list(HEADERS)
    assert len(grid.rows) == 3 and page.row_count() == 3  # the detail row is not a data row
    first = dict(zip(HEADERS, grid.rows[0]))
    assert first["Container #"] == "TGBU5604945"
    assert first["Holds"] == "NO"
    assert first["Pregate Ticket#"] == "TTI-0910-08535 224888"
    assert first["Voyage"] == "532A"
    assert first["Fees"] == ""
    assert first["LFD/GTD"] == "10/15/2025 - 10/15/2025"
    assert grid.badges == ["L", None, None]
    assert dict(zip(HEADERS, grid.rows[1]))["Holds"] == "YES"


def test_has_container_and_row_lookup(driver) -> None:
    page = _page_object(driver, TIMELINE)
    assert page.has_container("MSCU5165756")
    assert not page.has_container("TCLU9000099")


def test_timeline_order_trap_and_borrowed_divider(driver) -> None:
    page = _page_object(driver, TIMELINE)
    body = timeline_body(page.timeline("TGBU5604945"))  # the expanded row above the detail row
    assert [(m["milestone"], m["status"]) for m in body["timeline"]] == [
        ("Loaded", "pending"),              # dividerflowcolor2 is not completed
        ("Terminal In-Gate", "completed"),  # inside a wrapper row, counted once
        ("Pregate", "completed"),
        ("Empty Received", "completed"),    # no own divider: borrows the previous row's
        ("Empty Pickup", "pending"),
    ]
    assert body["timeline"][1]["date"] == "10/02/2025 08:25"
    assert body["passed_pregate"] is True


@pytest.mark.parametrize("detail,expected", [
    (LABELS_FIRST, ("RICFEM857500", "field")),
    (LABELS_FIRST.replace("field-data ng-star-inserted'>RICFEM", "field-data btn-link'>RICFEM"),
     ("RICFEM857500", "field")),
    (TEXT_ONLY, ("510476551", "text")),
    (TIMELINE, (None, None)),
])
def test_booking_number_variants(driver, detail: str, expected: tuple) -> None:
    page = _page_object(driver, detail)
    assert page.booking_number("TGBU5604945") == expected
