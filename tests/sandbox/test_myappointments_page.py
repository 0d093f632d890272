"""My Appointments of the sandbox in real Chromium (PORTAL_SPEC A9, B12; Part C item 15)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import openpyxl
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = [pytest.mark.browser]

ROW = "tr.mat-row"
BOX = "//input[@type='checkbox' and contains(@class,'mat-checkbox-input')]"
COLUMNS = ["Appointment #", "Appointment Time", "Terminal", "Move Type", "Container #", "Booking #",
           "Line", "Size Type", "Truck Plate", "Trucking Company", "Status"]


def wait_stable(driver: Any) -> None:
    WebDriverWait(driver, 15).until(lambda d: d.execute_script(
        "return !!window.getAllAngularTestabilities && "
        "window.getAllAngularTestabilities().every(function (t) { return t.isStable(); })"))


def wait_download(folder: Path) -> Path:
    """The finished .xlsx in `folder` (Chrome writes .crdownload first)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == ".xlsx"]
        if done and not any(p.suffix == ".crdownload" for p in folder.iterdir()):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no download in {folder}: {list(folder.iterdir())}")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: Any) -> Path:
    return tmp_path_factory.mktemp("myappointments-downloads")


@pytest.fixture(scope="module")
def driver(sandbox: Any, chrome_factory: Any, portal_login: Any, downloads: Path) -> Iterator[Any]:
    browser = chrome_factory(download_dir=downloads)
    portal_login(browser, "jdoe")
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def page(driver: Any, sandbox: Any) -> Any:
    # Mixed case on purpose: the route is case-insensitive (B3).
    driver.get(f"{sandbox.base_url}/truckerportal/MyAppointments")
    wait_stable(driver)
    return driver


def test_shell_toolbar_and_page_order(page: Any, sandbox: Any) -> None:
    assert page.title == "CargoSprint eModal"
    excel = page.find_element(By.CSS_SELECTOR, "button.mat-icon-button[mattooltip=Excel] mat-icon[svgicon=xls].svg-xls-icon[role=img]")
    assert excel.find_element(By.TAG_NAME, "svg")
    first_svg_icon = page.find_element(By.XPATH, "//mat-icon[@svgicon]")
    assert first_svg_icon == excel
    headers = [th.text for th in page.find_elements(By.CSS_SELECTOR, "th")][1:]
    assert headers == COLUMNS
    oracle = sandbox.admin.get("accounts/jdoe/appointments")["appointments"]
    rows = page.find_elements(By.CSS_SELECTOR, ROW)
    assert len(rows) == 20
    shown = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
    assert shown == [a["number"] for a in oracle[:20]]
    assert not page.find_elements(By.CSS_SELECTOR, "mat-checkbox[aria-checked]")


def test_window_scroll_appends_rows(page: Any, sandbox: Any) -> None:
    total = len(sandbox.admin.get("accounts/jdoe/appointments")["appointments"])
    first = page.find_element(By.CSS_SELECTOR, ROW)
    for _ in range(5):
        page.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        wait_stable(page)
    rows = page.find_elements(By.CSS_SELECTOR, ROW)
    assert 20 < len(rows) == total
    assert rows[0] == first  # appended, never re-rendered


def test_checkbox_and_excel_export_of_selected_rows(page: Any, downloads: Path) -> None:
    boxes = page.find_elements(By.XPATH, BOX)
    assert boxes[1].get_attribute("aria-checked") == "false"
    page.execute_script("arguments[0].click()", boxes[1])
    assert boxes[1].get_attribute("aria-checked") == "true"
    page.execute_script("arguments[0].click()", boxes[3])
    picked = [page.find_elements(By.CSS_SELECTOR, ROW)[i].find_elements(By.TAG_NAME, "td")[1].text for i in (1, 3)]
    page.execute_script("window.scrollTo(0, 0)")
    page.find_element(By.XPATH, "//mat-icon[@svgicon='xls']").click()
    wait_stable(page)
    path = wait_download(downloads)
    assert path.name == "MyAppointments.xlsx"
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Appointments"]
    values = [[c.value for c in row] for row in book["Appointments"].iter_rows()]
    assert values[0] == COLUMNS
    assert [row[0] for row in values[1:]] == picked


def test_other_account_sees_only_its_rows(chrome_factory: Any, portal_login: Any, sandbox: Any) -> None:
    browser = chrome_factory()
    try:
        portal_login(browser, "asmith", start_url=f"{sandbox.base_url}/truckerportal/myappointments")
        wait_stable(browser)
        oracle = sandbox.admin.get("accounts/asmith/appointments")["appointments"]
        numbers = [r.find_elements(By.TAG_NAME, "td")[1].text for r in browser.find_elements(By.CSS_SELECTOR, ROW)]
        assert numbers == [a["number"] for a in oracle] and len(numbers) == 8
    finally:
        browser.quit()
