"""The operator console in real headless Chromium against a keyed service and the sandbox.

Two API keys, one sandbox account each: the console signed in with one key shows that key's
session only, its screenshots (served through the console's cookie, not the key header), the
operations it ran, refreshes itself without a reload, and closes it after a confirmation.
Screenshots of the console are saved under ``downloads/artifacts/`` (console-1280.png, ...).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import Client, RunningService, start_service

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

KEY_A = "console-key-a-0123456789abcdef0123456789"
KEY_B = "console-key-b-0123456789abcdef0123456789"
ADMIN = "console-admin-0123456789abcdef0123456789"
MSCU = "MSCU1000017"  # jdoe's container: a timeline call with debug takes screenshots and a bundle
ARTIFACTS = Path(__file__).resolve().parents[2] / "downloads" / "artifacts"
WAIT = 30


@dataclass
class Keyed:
    service: RunningService
    a: Client
    b: Client
    jdoe: str
    asmith: str


@pytest.fixture(scope="module")
def keyed(sandbox: Any, tmp_path_factory: pytest.TempPathFactory, credentials: Any) -> Iterator[Keyed]:
    service = start_service(sandbox, tmp_path_factory.mktemp("console") / "downloads",
                            emodal_api_keys=(KEY_A, KEY_B), emodal_admin_keys=(ADMIN,))
    try:
        a = Client(service.base_url, {"X-API-Key": KEY_A})
        b = Client(service.base_url, {"X-API-Key": KEY_B})
        jdoe = a.post("/get_session", json=credentials("jdoe"))
        asmith = b.post("/get_session", json=credentials("asmith"))
        assert jdoe.status_code == 200 and asmith.status_code == 200, (jdoe.text, asmith.text)
        timeline = a.post("/get_container_timeline", json={"session_id": jdoe.json()["session_id"],
                                                            "container_id": MSCU, "debug": True})
        assert timeline.status_code == 200 and timeline.json()["screenshots"], timeline.text
        yield Keyed(service, a, b, jdoe.json()["session_id"], asmith.json()["session_id"])
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(chrome_factory: Any) -> Any:
    driver = chrome_factory()
    driver.set_window_size(1280, 1000)
    return driver


def wait(driver: Any) -> WebDriverWait:
    return WebDriverWait(driver, WAIT)


def sign_in(driver: Any, base_url: str, key: str) -> None:
    """Sign in through the form from a fresh cookie jar; ends on whatever page the form leads to."""
    driver.delete_all_cookies()
    driver.get(f"{base_url}/console")
    wait(driver).until(EC.url_to_be(f"{base_url}/console/sign-in"))
    driver.find_element(By.ID, "api_key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver).until(lambda d: d.find_elements(By.ID, "refused") or d.current_url == f"{base_url}/console")


def row_ids(driver: Any) -> set[str]:
    return {row.get_attribute("id") for row in driver.find_elements(By.CSS_SELECTOR, "tr.session-row")}


def image_loaded(driver: Any, img: Any) -> bool:
    return bool(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))


def save(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), name
    return path


def test_wrong_key_is_refused_and_the_key_shows_nowhere(keyed: Keyed, browser: Any) -> None:
    base = keyed.service.base_url
    sign_in(browser, base, KEY_A + "-wrong")
    assert browser.find_element(By.ID, "refused").is_displayed()
    assert browser.current_url == f"{base}/console/sign-in"
    assert KEY_A not in browser.page_source and KEY_A not in browser.current_url
    browser.get(f"{base}/console")  # still signed out
    assert browser.current_url == f"{base}/console/sign-in"


def test_a_key_sees_its_own_sessions_only(keyed: Keyed, browser: Any) -> None:
    base = keyed.service.base_url
    assert [s["session_id"] for s in keyed.b.get("/sessions").json()["sessions"]] == [keyed.asmith]
    sign_in(browser, base, KEY_A)
    assert row_ids(browser) == {f"row-{keyed.jdoe}"}
    assert keyed.asmith not in browser.page_source and "asmith" not in browser.page_source
    assert KEY_A not in browser.page_source and KEY_A not in browser.current_url
    state = browser.find_element(By.CSS_SELECTOR, f"#row-{keyed.jdoe} .state")
    assert state.text == "ready" and "state-ready" in state.get_attribute("class")
    thumb = browser.find_element(By.CSS_SELECTOR, f"#row-{keyed.jdoe} img.thumb")
    wait(browser).until(lambda d: image_loaded(d, thumb))
    sign_in(browser, base, KEY_B)
    assert row_ids(browser) == {f"row-{keyed.asmith}"}


def test_session_page_shows_screenshots_operations_and_files(keyed: Keyed, browser: Any) -> None:
    base = keyed.service.base_url
    sign_in(browser, base, KEY_A)
    browser.find_element(By.CSS_SELECTOR, f"#row-{keyed.jdoe} a.account").click()
    wait(browser).until(EC.url_to_be(f"{base}/console/sessions/{keyed.jdoe}"))
    shots = browser.find_elements(By.CSS_SELECTOR, ".shots figure img")
    assert shots, "no screenshot thumbnail"
    wait(browser).until(lambda d: all(image_loaded(d, img) for img in shots))
    link = browser.find_element(By.CSS_SELECTOR, ".shots figure a").get_attribute("href")
    assert re.search(rf"/console/files/{keyed.jdoe}/screenshots/[^/]+/\d{{8}}_\d{{6}}_\d{{6}}_[a-z0-9_]+\.png\?inline=1$",
                     link), link
    operations = browser.find_element(By.ID, "operations").text
    assert "/get_container_timeline" in operations and "ok" in operations
    assert ".zip" in browser.find_element(By.ID, "files").text  # the debug bundle
    save(browser, "console-session-1280.png")


def test_console_refreshes_itself_without_a_reload(keyed: Keyed, browser: Any, credentials: Any) -> None:
    base = keyed.service.base_url
    sign_in(browser, base, KEY_A)
    browser.get(f"{base}/console/sessions/{keyed.jdoe}")
    browser.execute_script("window.notReloaded = true")
    before = len(browser.find_elements(By.CSS_SELECTOR, "#operations tr"))
    reused = keyed.a.post("/get_session", json=credentials("jdoe"))  # probes the browser: one more operation
    assert reused.status_code == 200 and reused.json()["session_id"] == keyed.jdoe
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#operations tr")) == before + 1)
    assert "/get_session" in browser.find_element(By.CSS_SELECTOR, "#operations tr").text
    assert browser.execute_script("return window.notReloaded === true")


def test_admin_sees_every_tenant_screenshots_at_1280_and_phone_width(keyed: Keyed, browser: Any) -> None:
    base = keyed.service.base_url
    sign_in(browser, base, ADMIN)
    assert row_ids(browser) == {f"row-{keyed.jdoe}", f"row-{keyed.asmith}"}
    assert "admin" in browser.find_element(By.CSS_SELECTOR, ".who .pill").text
    wait(browser).until(lambda d: image_loaded(d, d.find_element(By.CSS_SELECTOR, "img.thumb")))
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    save(browser, "console-1280.png")
    try:
        browser.set_window_size(390, 900)
        browser.get(f"{base}/console")
        wait(browser).until(lambda d: image_loaded(d, d.find_element(By.CSS_SELECTOR, "img.thumb")))
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        save(browser, "console-390.png")
    finally:
        browser.set_window_size(1280, 1000)


def test_an_action_without_the_csrf_token_is_refused(keyed: Keyed) -> None:
    base = keyed.service.base_url
    web = requests.Session()
    form = web.get(f"{base}/console/sign-in", timeout=WAIT).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed = web.post(f"{base}/console/sign-in", data={"api_key": KEY_A, "csrf_token": token},
                      allow_redirects=False, timeout=WAIT)
    assert signed.status_code == 303
    refused = web.post(f"{base}/console/sessions/{keyed.jdoe}/close", allow_redirects=False, timeout=WAIT)
    assert refused.status_code == 403 and "CSRF" in refused.text
    forged = web.post(f"{base}/console/sessions/{keyed.jdoe}/close", data={"csrf_token": "x" * 43},
                      allow_redirects=False, timeout=WAIT)
    assert forged.status_code == 403
    assert keyed.a.get(f"/sessions/{keyed.jdoe}").status_code == 200


def test_close_a_session_after_confirming(keyed: Keyed, browser: Any) -> None:
    base = keyed.service.base_url
    sign_in(browser, base, KEY_A)
    browser.get(f"{base}/console/sessions/{keyed.jdoe}")
    browser.find_element(By.CSS_SELECTOR, ".title-row form.close button").click()
    alert = wait(browser).until(EC.alert_is_present())
    assert "jdoe" in alert.text
    alert.dismiss()  # cancelled: nothing happens
    assert keyed.a.get(f"/sessions/{keyed.jdoe}").status_code == 200
    browser.find_element(By.CSS_SELECTOR, ".title-row form.close button").click()
    wait(browser).until(EC.alert_is_present()).accept()
    wait(browser).until(EC.url_to_be(f"{base}/console"))
    assert "Closed the session of jdoe" in browser.find_element(By.CSS_SELECTOR, ".banner.ok").text
    assert row_ids(browser) == set()
    assert keyed.a.get(f"/sessions/{keyed.jdoe}").status_code == 404
    assert [s["session_id"] for s in keyed.b.get("/sessions").json()["sessions"]] == [keyed.asmith]
