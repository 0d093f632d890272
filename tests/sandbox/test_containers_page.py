"""The ecp2 Containers page in real headless Chromium (PORTAL_SPEC Part C items 7-10, 18).

Oracles come from the admin API (`/_sandbox/accounts/jdoe/containers`), never from DOM hooks.
One browser, logged in once as jdoe, serves the whole module; every test reloads the page.
"""
from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import openpyxl
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

HEADERS = ["Container #", "Trade Type", "Status", "Holds", "Pregate Ticket#", "Emodal Pregate Status",
           "Gate Status", "Origin", "Destination", "Current Loc", "Line", "Vessel Name", "Vessel Code",
           "Voyage", "Size Type", "Fees", "LFD/GTD", "Tags"]
ROWS = "#searchres tbody tr.element-row"
STABLE_JS = "return !!window.getAllAngularTestabilities && getAllAngularTestabilities().every(t => t.isStable())"
# Programmatic scrolling fires exactly one native `scroll` event at the next frame; waiting two
# frames makes sure it has been handled (a synthetic extra event would race with it).
SCROLL_JS = ("const [box, done] = arguments; box.scrollTop = box.scrollHeight;"
             "requestAnimationFrame(() => requestAnimationFrame(done));")


@pytest.fixture(scope="module")
def download_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("containers-downloads")


@pytest.fixture(scope="module")
def driver(chrome_factory: Callable[..., Any], download_dir: Path) -> Any:
    return chrome_factory(download_dir=download_dir)


@pytest.fixture(scope="module")
def oracle(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.admin.get("accounts/jdoe/containers")["containers"]


@pytest.fixture()
def grid(driver: Any, sandbox: Any, portal_login: Callable[..., None]) -> Callable[[], Any]:
    """Open a fresh Containers page (logging in again if another module reset the sandbox)."""
    def open_grid() -> Any:
        url = f"{sandbox.base_url}/ecp2/containers"
        driver.get(url)
        if not driver.current_url.startswith(url):
            portal_login(driver, "jdoe")
            driver.get(url)
        wait_stable(driver)
        WebDriverWait(driver, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ROWS)) >= 24)
        return driver.find_element(By.ID, "searchres")
    return open_grid


def wait_stable(driver: Any, timeout: float = 20) -> None:
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(STABLE_JS))


def row_count(driver: Any) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, ROWS))


def scroll_until(driver: Any, box: Any, done: Callable[[], bool], cycles: int = 40) -> None:
    """Scroll #searchres to its bottom (firing scroll) until `done()`; fail after `cycles`."""
    for _ in range(cycles):
        if done():
            return
        driver.execute_async_script(SCROLL_JS, box)
        wait_stable(driver)
    assert done(), "condition never met while scrolling"


def row_of(driver: Any, number: str) -> Any:
    return driver.find_element(By.XPATH, f"//tr[.//td[contains(text(),'{number}')]]")


def bring_into_view(driver: Any, box: Any, number: str) -> Any:
    scroll_until(driver, box, lambda: bool(driver.find_elements(By.XPATH, f"//td[contains(text(),'{number}')]")))
    row = row_of(driver, number)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    return row


def expand(driver: Any, row: Any) -> Any:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)  # clear of the sticky header
    row.find_element(By.XPATH, ".//mat-icon[text()='keyboard_arrow_right']").click()
    wait_stable(driver)
    return row.find_element(By.XPATH, "./following-sibling::tr[1]")


# ---- item 7: grid ----------------------------------------------------------------------------
def test_headers_toolbar_and_first_batch(driver: Any, grid: Callable[[], Any]) -> None:
    box = grid()
    assert box.get_attribute("class") == "search-results" and box.get_attribute("matinfinitescroll") == ""
    assert driver.execute_script("return getComputedStyle(arguments[0]).overflowY", box) == "auto"
    assert driver.title == "CargoSprint Port Manager"
    table = box.find_element(By.CSS_SELECTOR, "table.mat-table.cdk-table.mat-sort")
    ths = table.find_elements(By.CSS_SELECTOR, "thead th")
    assert ths[0].find_elements(By.CSS_SELECTOR, "mat-checkbox span.mat-checkbox-inner-container")
    assert ths[1].text == ""
    assert [th.get_attribute("textContent").strip() for th in ths[2:]] == HEADERS
    sort_labels = table.find_elements(By.CSS_SELECTOR, "th div.mat-sort-header-container > div.mat-sort-header-content")
    assert [el.get_attribute("textContent") for el in sort_labels] == [h for h in HEADERS if h not in ("Fees", "Tags")]
    assert row_count(driver) == 24
    lines = [line for line in driver.execute_script(
        "return document.querySelector('mat-sidenav-content').innerText").split("\n") if line.strip()]
    assert lines[:lines.index("Containers")] == ["menu", "Port Manager", "shopping_cart", "settings", "help", "person"]
    assert lines[lines.index("Containers"):lines.index("save") + 1] == [
        "Containers", "Actions arrow_drop_down", "Add to My Containers", "email", "refresh", "filter_alt",
        "Saved Views", "arrow_drop_down", "save"]
    actions = driver.find_element(By.XPATH, "//button[.//span[contains(.,'Actions')]]")
    assert actions.get_attribute("disabled") is not None


def test_rows_markup(driver: Any, grid: Callable[[], Any], oracle: list[dict[str, Any]]) -> None:
    grid()
    first = driver.find_element(By.CSS_SELECTOR, ROWS)
    assert set(first.get_attribute("class").split()) >= {"mat-row", "cdk-row", "element-row", "ng-star-inserted"}
    cell = first.find_element(By.CSS_SELECTOR, "td.mat-cell.cdk-cell.cdk-column-containerNumber.mat-column-containerNumber")
    shape = driver.execute_script(
        "const n = arguments[0].childNodes; return [n[0].nodeType, n[0].data, n[1] && n[1].className];", cell)
    expected = oracle[0]
    badge = {"L": "badge badge-l", "E": "badge badge-e", "": None}[expected["badge"]]
    assert shape == [3, expected["number"], badge]
    holds = first.find_element(By.CSS_SELECTOR, "td.mat-column-holds")
    assert holds.find_element(By.CSS_SELECTOR, "mat-icon").text == "info"
    assert driver.execute_script("return arguments[0].lastChild.data", holds) == " " + expected["holds"]
    assert driver.execute_script(
        "return getComputedStyle(arguments[0].querySelector('mat-icon')).userSelect", first) == "none"
    with_small = next(i for i, c in enumerate(oracle[:24]) if c["pregate_ticket_small"])
    ticket = driver.find_elements(By.CSS_SELECTOR, ROWS)[with_small].find_element(By.CSS_SELECTOR, "td.mat-column-pregateTicket")
    assert driver.execute_script("return Array.from(arguments[0].childNodes).map(n => n.className || n.data)", ticket) \
        == ["btn-link", " ", "small"]
    assert ticket.text == f"{oracle[with_small]['pregate_ticket']} {oracle[with_small]['pregate_ticket_small']}"


def test_scroll_appends_rows_up_to_the_oracle_total(driver: Any, grid: Callable[[], Any],
                                                    oracle: list[dict[str, Any]]) -> None:
    box = grid()
    first = driver.find_element(By.CSS_SELECTOR, ROWS)
    driver.execute_script("window.scrollTo(0, 5000); window.dispatchEvent(new Event('scroll'));"
                          "document.body.dispatchEvent(new WheelEvent('wheel', {deltaY: 500, bubbles: true}));")
    wait_stable(driver)
    assert row_count(driver) == 24  # window scrolling loads nothing
    scroll_until(driver, box, lambda: row_count(driver) >= len(oracle), cycles=len(oracle) // 24 + 5)
    driver.execute_async_script(SCROLL_JS, box)
    wait_stable(driver)
    assert row_count(driver) == len(oracle) == 450
    assert driver.find_element(By.CSS_SELECTOR, ROWS) == first  # never recycled
    numbers = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(r => r.cells[2].childNodes[0].data)", ROWS)
    assert numbers == [c["number"] for c in oracle]


def test_is_stable_false_during_a_batch(driver: Any, grid: Callable[[], Any], sandbox: Any) -> None:
    sandbox.admin.set_config(scroll_batch_latency_ms=1500)
    try:
        box = grid()
        driver.execute_async_script(SCROLL_JS, box)
        assert driver.execute_script(STABLE_JS) is False
        assert row_count(driver) == 24
        wait_stable(driver)
        assert row_count(driver) == 48
    finally:
        sandbox.admin.set_config(scroll_batch_latency_ms=10)


def test_failed_batch_is_retried_by_the_next_scroll(driver: Any, grid: Callable[[], Any], sandbox: Any) -> None:
    box = grid()
    sandbox.admin.add_fault(type="http500", target="xhr", count=1)
    try:
        driver.execute_async_script(SCROLL_JS, box)
        wait_stable(driver)
        assert row_count(driver) == 24 and "/ecp2/containers" in driver.current_url
        driver.execute_script("arguments[0].scrollTop = 0", box)
        driver.execute_async_script(SCROLL_JS, box)
        wait_stable(driver)
        assert row_count(driver) == 48
    finally:
        sandbox.admin.clear_faults()


def test_shuffle_per_session_gives_a_stable_per_login_order(driver: Any, grid: Callable[[], Any], sandbox: Any,
                                                           oracle: list[dict[str, Any]]) -> None:
    sandbox.admin.set_config(shuffle_per_session=True)
    try:
        grid()
        numbers_js = "return Array.from(document.querySelectorAll(arguments[0])).map(r => r.cells[2].childNodes[0].data)"
        shuffled = driver.execute_script(numbers_js, ROWS)
        assert shuffled != [c["number"] for c in oracle[:24]]
        grid()
        assert driver.execute_script(numbers_js, ROWS) == shuffled  # same login, same order
    finally:
        sandbox.admin.set_config(shuffle_per_session=False)


# ---- item 8: finding a row ---------------------------------------------------------------------
def test_deep_row_appears_only_after_scrolling(driver: Any, grid: Callable[[], Any]) -> None:
    box = grid()
    xpath = "//*[contains(text(),'TCLU9000099')]"
    assert not driver.find_elements(By.XPATH, xpath)
    row = bring_into_view(driver, box, "TCLU9000099")
    assert row_count(driver) > 300
    assert driver.find_element(By.XPATH, xpath).is_displayed()
    assert "keyboard_arrow_right\tTCLU9000099L\tIMPORT\t" in row.get_attribute("innerText")
    copied = driver.execute_script(
        "const r = document.createRange(); r.selectNodeContents(arguments[0]);"
        "const s = getSelection(); s.removeAllRanges(); s.addRange(r); const t = s.toString();"
        "s.removeAllRanges(); return t;", box)
    assert "TCLU9000099L\tIMPORT\tGATE OUT\t NO\t" in copied
    assert "keyboard_arrow_right" not in copied and "info" not in copied


# ---- item 9: expansion -------------------------------------------------------------------------
def test_expand_shows_timeline_matching_the_oracle(driver: Any, grid: Callable[[], Any],
                                                   oracle: list[dict[str, Any]]) -> None:
    grid()
    row = row_of(driver, "MSCU1000017")
    detail = expand(driver, row)
    arrow = row.find_element(By.CSS_SELECTOR, "td.mat-column-expand mat-icon")
    assert arrow.text == "keyboard_arrow_down" and "expanded" in row.get_attribute("class").split()
    assert set(detail.get_attribute("class").split()) >= {"mat-row", "detail-row", "ng-star-inserted"}
    assert [td.get_attribute("colspan") for td in detail.find_elements(By.XPATH, "./td")] == ["20"]
    flow = detail.find_element(By.TAG_NAME, "app-containerflow")
    rows = flow.find_elements(By.XPATH, ".//div[@fxlayout='row']")
    assert len(rows) == 10
    assert rows[0].find_element(By.CSS_SELECTOR, ".location-details-label").text == "arrow_drop_up"
    expected = next(c for c in oracle if c["number"] == "MSCU1000017")["timeline"]
    seen = []
    for milestone in rows[1:]:
        labels = milestone.find_elements(By.CSS_SELECTOR, "span.location-details-label")
        dividers = milestone.find_elements(By.CSS_SELECTOR, "div.timeline-divider")
        assert len(labels) == 2 and "p-top-5" in labels[1].get_attribute("class") and len(dividers) == 1
        assert not milestone.find_elements(By.XPATH, ".//div[@fxlayout='row']")
        cls = dividers[0].get_attribute("class")
        assert cls in ("timeline-divider dividerflowcolor", "timeline-divider horizontalconflow")
        seen.append({"name": labels[0].text, "date": labels[1].text, "completed": cls.endswith("dividerflowcolor")})
    assert seen == expected
    other = expand(driver, row_of(driver, "TGBU2000026"))  # expanding another collapses the first
    assert "detail-row" in other.get_attribute("class")
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr.detail-row")) == 1
    assert arrow.text == "keyboard_arrow_right" and "expanded" not in row.get_attribute("class").split()
    row_of(driver, "TGBU2000026").find_element(By.XPATH, ".//mat-icon[text()='keyboard_arrow_down']").click()
    wait_stable(driver)
    assert not driver.find_elements(By.CSS_SELECTOR, "tr.detail-row")


def test_export_row_detail_shows_booking_number(driver: Any, grid: Callable[[], Any]) -> None:
    box = grid()
    detail = expand(driver, bring_into_view(driver, box, "TRHU4000040"))
    booking = detail.find_element(By.XPATH, ".//div[contains(@class,'field-label') and normalize-space(text())="
                                            "'Booking #']/following-sibling::div[contains(@class,'field-data') and "
                                            "contains(@class,'btn-link')]")
    assert booking.text == "RICFEM100200"
    field_grid = detail.find_element(By.CSS_SELECTOR, "div.field-grid")
    assert [(el.get_attribute("class"), el.text) for el in field_grid.find_elements(By.XPATH, "./div")] == [
        ("field-label ng-star-inserted", "Status"), ("field-label ng-star-inserted", "Booking #"),
        ("field-data ng-star-inserted", "GATE IN"), ("field-data btn-link ng-star-inserted", "RICFEM100200")]
    titles = [el.text for el in detail.find_elements(By.CSS_SELECTOR, "mat-card mat-card-title")]
    assert titles == ["Holds/Releases", "Fees", "Arrival Information", "Departure Information", "Other Information"]


def test_failed_detail_xhr_collapses_and_the_next_click_retries(driver: Any, grid: Callable[[], Any],
                                                                sandbox: Any) -> None:
    grid()
    row = row_of(driver, "MSCU1000017")
    sandbox.admin.add_fault(type="http500", target="xhr", count=1, path_contains="MSCU1000017")
    try:
        expand(driver, row)
        assert row.find_element(By.CSS_SELECTOR, "td.mat-column-expand mat-icon").text == "keyboard_arrow_right"
        assert not driver.find_elements(By.CSS_SELECTOR, "tr.detail-row")
    finally:
        sandbox.admin.clear_faults()
    assert "detail-row" in expand(driver, row).get_attribute("class")


def test_unknown_row_has_no_arrow_and_ignores_clicks(driver: Any, grid: Callable[[], Any]) -> None:
    box = grid()
    row = bring_into_view(driver, box, "HDMU5000052")
    assert not row.find_elements(By.CSS_SELECTOR, "td.mat-column-expand mat-icon")
    cells = row.find_elements(By.CSS_SELECTOR, "td")[3:]
    assert {c.text for c in cells} == {"N/A"}
    row.find_element(By.CSS_SELECTOR, "td.mat-column-status").click()
    wait_stable(driver)
    assert not driver.find_elements(By.CSS_SELECTOR, "tr.detail-row")


def test_more_vert_on_hover(driver: Any, grid: Callable[[], Any]) -> None:
    grid()
    rows = driver.find_elements(By.CSS_SELECTOR, ROWS)
    ActionChains(driver).move_to_element(rows[0].find_element(By.CSS_SELECTOR, "td.mat-column-status")).perform()
    assert rows[0].find_element(By.CSS_SELECTOR, "td:last-child mat-icon").text == "more_vert"
    ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, ".page-title")).perform()
    assert not rows[0].find_elements(By.XPATH, ".//mat-icon[text()='more_vert']")


# ---- item 10: select-all and export ------------------------------------------------------------
def _wait_for_file(path: Path, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and not list(path.parent.glob("*.crdownload")):
            return path.read_bytes()
        time.sleep(0.1)
    raise AssertionError(f"{path.name} was never downloaded")


def test_select_all_and_excel_export(driver: Any, grid: Callable[[], Any], download_dir: Path,
                                     oracle: list[dict[str, Any]]) -> None:
    box = grid()
    driver.execute_async_script(SCROLL_JS, box)
    wait_stable(driver)
    loaded = row_count(driver)
    assert loaded == 48
    driver.execute_script("arguments[0].scrollTop = 0", box)  # the sticky header would cover row 2
    header_box = driver.find_element(By.CSS_SELECTOR, "thead th mat-checkbox")
    driver.find_element(By.CSS_SELECTOR, "thead th").click()
    inputs = driver.find_elements(By.CSS_SELECTOR, f"{ROWS} input.mat-checkbox-input")
    assert all(i.is_selected() for i in inputs) and len(inputs) == loaded
    assert header_box.find_element(By.TAG_NAME, "input").is_selected()
    assert driver.find_element(By.XPATH, "//button[.//span[contains(.,'Actions')]]").get_attribute("disabled") is None
    inputs[1].find_element(By.XPATH, "./ancestor::label").click()
    assert "mat-checkbox-indeterminate" in header_box.get_attribute("class")
    inputs[1].find_element(By.XPATH, "./ancestor::label").click()
    assert "mat-checkbox-checked" in header_box.get_attribute("class")
    assert driver.execute_script("return document.querySelectorAll('mat-checkbox[aria-checked]').length") == 0
    target = download_dir / "container_watch_list.xlsx"
    target.unlink(missing_ok=True)
    excel = driver.find_element(By.CSS_SELECTOR, "button.mat-icon-button[mattooltip=Excel] mat-icon[svgicon=xls]")
    excel.find_element(By.XPATH, "./ancestor::button").click()
    data = _wait_for_file(target)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert b"<Application>SheetJS</Application>" in archive.read("docProps/app.xml")
    sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count("<c ") == sheet.count('t="str"') == (loaded + 1) * 18
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["DisplayList"]
    values = [[cell.value for cell in row] for row in book["DisplayList"].iter_rows()]
    assert values[0] == HEADERS
    assert values[1:] == [c["export_row"] for c in oracle[:loaded]]
    assert all(re.fullmatch(r"[A-Z]{4}\d{7}", row[0]) for row in values[1:])
    assert all(" " not in row[4] and " " not in row[16] for row in values[1:])
    # Only the selected loaded rows are exported.
    driver.find_element(By.CSS_SELECTOR, "thead th").click()
    inputs[2].find_element(By.XPATH, "./ancestor::label").click()
    target.unlink()
    excel.find_element(By.XPATH, "./ancestor::button").click()
    only = openpyxl.load_workbook(io.BytesIO(_wait_for_file(target)))["DisplayList"]
    assert [[c.value for c in row] for row in only.iter_rows()][1:] == [oracle[2]["export_row"]]


# ---- item 18: robustness and conventions -------------------------------------------------------
def test_popup_sweep_and_conventions(driver: Any, grid: Callable[[], Any]) -> None:
    box = grid()
    driver.execute_script(
        "document.querySelectorAll('[role=\"dialog\"], .modal, .popup, .alert, .notification')"
        ".forEach(e => e.remove()); window.alert = window.confirm = window.prompt = () => true;")
    driver.execute_async_script(SCROLL_JS, box)
    wait_stable(driver)
    assert row_count(driver) == 48
    expand(driver, row_of(driver, "MSCU1000017"))
    assert driver.find_elements(By.XPATH, "//div[@fxlayout='row']")
    assert driver.find_elements(By.CSS_SELECTOR, "[matinfinitescroll]")
    assert driver.find_elements(By.CSS_SELECTOR, "[mattooltip=Excel]")
    headings = " ".join(e.text.lower() for e in driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3"))
    assert not re.search(r"error|403|404|500|forbidden|not found", headings)
    body = driver.find_element(By.TAG_NAME, "body").text.lower()
    assert not re.search(r"\berror\b|forbidden|not found|access denied", body)
    tooltip_host = driver.find_element(By.CSS_SELECTOR, "button[mattooltip=Excel]")
    ActionChains(driver).move_to_element(tooltip_host).perform()
    assert driver.find_element(By.CSS_SELECTOR, ".cdk-overlay-container div.mat-tooltip").text == "Excel"
