"""``PATCH /_sandbox/accounts/<user>/containers/<number>`` (issue 12): a container changes while a
browser (the service, later) watches, and the change shows in the grid row, the expansion (detail
cards and timeline) and the Excel export; bad bodies are refused whole with a JSON 400.

Oracles: the PATCH's own answer (the admin oracle entry) and the values the body asked for; the
browser reads the page as the service's page objects do. The module resets the sandbox at its end
(its patches change jdoe's data for every later module).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable, Iterator

import openpyxl
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from emodal.sandbox.adminclient import AdminError
from tests.sandbox.test_containers_page import ROWS, _wait_for_file, expand, row_of, wait_stable

NUMBER = "MSCU1000017"  # jdoe, first batch: IMPORT, ON VESSEL, holds YES, no ticket
PATH = f"accounts/jdoe/containers/{NUMBER}"
PATCH = {
    "status": "IN YARD",
    "holds": "NO",
    "lfd": "2031-02-03",
    "gtd": "2031-02-05",
    "current_loc": "TTI",
    "pregate": {"ticket": "TTI-0204-01234", "small": "765432", "status": "CONFIRMED", "gate_status": "PENDING"},
    "timeline": {"Discharged": {"completed": True, "date": "2031-01-30T06:45"},
                 "Ready for pick up": {"completed": True, "date": "2031-01-31T14:05"}},
}
READ_TIMELINE_JS = """
return Array.from(arguments[0].querySelectorAll('app-containerflow div.curr-loc-div[fxlayout=row]'))
  .filter(row => row.querySelector('div.timeline-divider'))
  .map(row => {
    const labels = row.querySelectorAll('span.location-details-label');
    return {name: labels[0].textContent, date: labels[1].textContent,
            completed: row.querySelector('div.timeline-divider').className === 'timeline-divider dividerflowcolor'};
  });
"""
READ_CARD_JS = """
const card = Array.from(arguments[0].querySelectorAll('mat-card'))
  .find(c => c.querySelector('mat-card-title').textContent === arguments[1]);
const text = sel => Array.from(card.querySelectorAll(sel)).map(e => e.textContent);
const labels = text('.field-label'), values = text('.field-data');
return labels.map((label, i) => [label, values[i]]);
"""


@pytest.fixture(scope="module", autouse=True)
def reset_after_module(sandbox: Any) -> Iterator[None]:
    yield
    sandbox.admin.reset()


def refused(sandbox: Any, body: Any, path: str = PATH) -> AdminError:
    with pytest.raises(AdminError) as caught:
        sandbox.admin.patch(path, body)
    return caught.value


# --- validation (admin API only) -------------------------------------------------------------------
@pytest.mark.parametrize("body, message", [
    ({}, "at least one field"),
    ([1, 2], "JSON object"),
    ({"status": "GATE IN", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"holds": "MAYBE"}, "holds: Input should be 'YES' or 'NO'"),
    ({"holds": ["custom", "customs"]}, "holds.1: Input should be 'custom', 'line' or 'other'"),
    ({"status": "LOST"}, "status: Input should be"),
    ({"status": None}, "status: cannot be null"),
    ({"lfd": "05/02/2031"}, "lfd: Input should be a valid date"),
    ({"status": "GATE IN", "lfd": "2031-02-03", "gtd": "2031-02-01"}, "gtd: the good-through date cannot be before the last free day"),
    ({"current_loc": "t t i"}, "current_loc: a location code"),
    ({"pregate": {"ticket": "TTI 0204 01234"}}, "pregate.ticket: a ticket reads"),
    ({"pregate": {"gate_status": "WAITING"}}, "pregate.gate_status: Input should be"),
    ({"pregate": {}}, "pregate: give ticket"),
    ({"timeline": {"Loaded": {"completed": True}}}, "'Loaded' is not a milestone of this IMPORT container"),
    ({"timeline": {"Pregate": {"completed": False, "date": "2031-01-01T10:00"}}}, "a pending milestone shows N/A"),
    ({"timeline": {"Last Free Day": {"date": "2031-01-01T10:00"}}}, "change lfd instead"),
    ({"timeline": {"Empty Received": {"date": "2031-01-01T10:00"}}}, "a pending milestone shows N/A"),
    ({"timeline": {"Pregate": {"when": "now"}}}, "timeline.Pregate.when: Extra inputs are not permitted"),
])
def test_a_bad_body_is_refused_whole_with_a_json_400(sandbox: Any, body: Any, message: str) -> None:
    before = sandbox.admin.get("accounts/jdoe/containers")
    error = refused(sandbox, body)
    assert error.status == 400 and message in error.body["error"]
    assert sandbox.admin.get("accounts/jdoe/containers") == before  # nothing was half applied


def test_unknown_rows_and_containers_are_refused(sandbox: Any) -> None:
    unknown = refused(sandbox, {"holds": "NO"}, "accounts/jdoe/containers/HDMU5000052")
    assert unknown.status == 409 and "unknown to the portal" in unknown.body["error"]
    foreign = refused(sandbox, {"holds": "NO"}, "accounts/jdoe/containers/EISU8000080")  # asmith's
    assert foreign.status == 404 and foreign.body == {"error": "EISU8000080 is not a container of jdoe"}
    assert refused(sandbox, {"holds": "NO"}, "accounts/nobody/containers/MSCU1000017").status == 404


def test_holds_drive_the_holds_card_and_lfd_the_last_free_day(sandbox: Any) -> None:
    entry = sandbox.admin.patch("accounts/jdoe/containers/TGBU2000026", {"holds": ["line", "other"], "lfd": "2031-03-09"})
    assert entry["holds"] == "YES" and entry["lfd_gtd"] == "03/09/2031 - 03/09/2031"
    card = dict(entry["cards"][0]["fields"])
    assert (card["Custom Hold"], card["Line Hold"], card["Other Holds"]) == ("No", "Yes", "Yes")
    assert (card["LFD"], card["Good Through"]) == ("03/09/2031", "03/09/2031")
    lfd = next(m for m in entry["timeline"] if m["name"] == "Last Free Day")
    assert lfd == {"name": "Last Free Day", "date": "03/09/2031", "completed": False}  # still ahead
    cleared = sandbox.admin.patch("accounts/jdoe/containers/TGBU2000026", {"holds": "NO", "lfd": None, "pregate": None})
    assert (cleared["holds"], cleared["lfd_gtd"], cleared["pregate_ticket"], cleared["emodal_pregate_status"]) == (
        "NO", "N/A", "N/A", "N/A")
    assert {v for k, v in cleared["cards"][0]["fields"] if k.endswith("Hold") or k == "Other Holds"} == {"No"}


# --- the browser sees it ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def download_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("patch-downloads")


@pytest.fixture(scope="module")
def driver(chrome_factory: Callable[..., Any], download_dir: Path, sandbox: Any,
           portal_login: Callable[..., None]) -> Any:
    browser = chrome_factory(download_dir=download_dir)
    portal_login(browser, "jdoe", start_url=f"{sandbox.base_url}/ecp2/containers")
    return browser


def open_grid(driver: Any, sandbox: Any) -> None:
    driver.get(f"{sandbox.base_url}/ecp2/containers")
    wait_stable(driver)
    WebDriverWait(driver, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ROWS)) >= 24)


def cells(driver: Any, number: str) -> dict[str, str]:
    row = row_of(driver, number)
    names = ("status", "holds", "pregateTicket", "emodalPregateStatus", "gateStatus", "currentLoc", "lfdGtd")
    return {name: row.find_element(By.CSS_SELECTOR, f"td.mat-column-{name}").text for name in names}


@pytest.mark.browser
def test_a_patch_shows_in_the_expansion_the_grid_and_the_export(driver: Any, sandbox: Any, download_dir: Path) -> None:
    open_grid(driver, sandbox)
    before = cells(driver, NUMBER)
    assert (before["status"], before["holds"]) == ("ON VESSEL", "info YES")

    entry = sandbox.admin.patch(PATH, PATCH)  # while the page is open

    # The expansion reads the container when it opens: it shows the change at once.
    detail = expand(driver, row_of(driver, NUMBER))
    timeline = driver.execute_script(READ_TIMELINE_JS, detail)
    assert timeline == entry["timeline"]
    milestones = {m["name"]: m for m in timeline}
    assert milestones["Discharged"] == {"name": "Discharged", "date": "01/30/2031 06:45", "completed": True}
    assert milestones["Ready for pick up"] == {"name": "Ready for pick up", "date": "01/31/2031 14:05",
                                               "completed": True}
    assert milestones["Last Free Day"]["date"] == "02/03/2031"
    holds_card = dict(driver.execute_script(READ_CARD_JS, detail, "Holds/Releases"))
    assert (holds_card["Custom Hold"], holds_card["Line Hold"], holds_card["Other Holds"]) == ("No", "No", "No")
    assert (holds_card["LFD"], holds_card["Good Through"]) == ("02/03/2031", "02/05/2031")
    departure = dict(driver.execute_script(READ_CARD_JS, detail, "Departure Information"))
    assert departure["Pregate Status"] == "CONFIRMED"
    assert detail.find_element(By.CSS_SELECTOR, "div.field-grid div.field-data").text == "IN YARD"

    # The grid: rows on screen are never re-rendered (B10); the next load shows the new values.
    assert cells(driver, NUMBER) == before
    open_grid(driver, sandbox)
    assert cells(driver, NUMBER) == {
        "status": "IN YARD", "holds": "info NO", "pregateTicket": "TTI-0204-01234 765432",
        "emodalPregateStatus": "CONFIRMED", "gateStatus": "PENDING", "currentLoc": "TTI",
        "lfdGtd": "02/03/2031 - 02/05/2031"}

    # The Excel export of the loaded rows (none selected: all of them).
    target = download_dir / "container_watch_list.xlsx"
    target.unlink(missing_ok=True)
    driver.find_element(By.CSS_SELECTOR, "button.mat-icon-button[mattooltip=Excel]").click()
    sheet = openpyxl.load_workbook(io.BytesIO(_wait_for_file(target)))["DisplayList"]
    exported = next([c.value for c in row] for row in sheet.iter_rows() if row[0].value == NUMBER)
    assert exported == entry["export_row"]
    assert exported[2:7] == ["IN YARD", "NO", "TTI-0204-01234", "CONFIRMED", "PENDING"]
    assert (exported[9], exported[16]) == ("TTI", "02/03/2031-02/05/2031")
