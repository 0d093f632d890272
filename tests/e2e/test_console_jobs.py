"""The console's jobs and webhooks pages in real headless Chromium against a keyed service and the sandbox.

Key A runs a long ``info_bulk`` job on jdoe's session (cancelled from the page) and owns a webhook
to a closed local port (its deliveries fail: connection refused); key B owns a job whose credentials
the portal refuses (it fails at its login). Screenshots of the pages are saved under
``downloads/artifacts/`` (console-jobs-1280.png, console-webhooks-1280.png, ...-390.png).
"""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from emodal.webhooks.backoff import Backoff
from tests.e2e.conftest import Client, RunningService, eventually, slow_container_details, start_service
from tests.e2e.test_console import WAIT, save, sign_in, wait

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

KEY_A = "console-jobs-a-0123456789abcdef0123456789"
KEY_B = "console-jobs-b-0123456789abcdef0123456789"
ADMIN = "console-jobs-admin-0123456789abcdef012345"
NASTY = "<b id=x>&\"'"
ACTIVE = ("queued", "running")
SLOW_ITEMS = 300  # at least five minutes of work: the module needs about one


@dataclass
class World:
    service: RunningService
    a: Client
    b: Client
    long_job: str
    failed_job: str
    webhook: str
    delivery: str


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released): connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def delivery_of(client: Client, webhook: str) -> dict[str, Any]:
    deliveries = client.get(f"/webhooks/{webhook}/deliveries").json()["deliveries"]
    assert len(deliveries) == 1, deliveries
    return deliveries[0]


@pytest.fixture(scope="module")
def world(sandbox: Any, tmp_path_factory: pytest.TempPathFactory, credentials: Any) -> Iterator[World]:
    # The job must still be running when the last test cancels it: each of its items held a second.
    with slow_container_details(sandbox, SLOW_ITEMS, delay_ms=1000):
        yield from _world(sandbox, tmp_path_factory, credentials)


def _world(sandbox: Any, tmp_path_factory: pytest.TempPathFactory, credentials: Any) -> Iterator[World]:
    service = start_service(sandbox, tmp_path_factory.mktemp("console-jobs") / "downloads",
                            emodal_api_keys=(KEY_A, KEY_B), emodal_admin_keys=(ADMIN,), webhook_allow_private=True)
    # The next automatic retry of a failed delivery an hour away (full jitter drawn at its top): within
    # the test only the console's "retry now" makes another attempt.
    service.app.extensions["emodal_webhooks"].worker._backoff = Backoff(lambda: 0.999, base=3600.0)
    try:
        a = Client(service.base_url, {"X-API-Key": KEY_A})
        b = Client(service.base_url, {"X-API-Key": KEY_B})
        jdoe = a.post("/get_session", json=credentials("jdoe"))
        assert jdoe.status_code == 200, jdoe.text
        imports = [row["number"] for row in sandbox.admin.get("accounts/jdoe/containers")["containers"]
                   if row["trade_type"] == "IMPORT"][:SLOW_ITEMS]
        long_job = a.post("/jobs", json={"kind": "info_bulk", "session_id": jdoe.json()["session_id"],
                                         "params": {"import_containers": imports}})
        failed_job = b.post("/jobs", json={"kind": "my_appointments", "credentials": credentials("nosuchuser", "x"),
                                           "params": {"infinite_scrolling": False}})
        assert long_job.status_code == 202 and failed_job.status_code == 202, (long_job.text, failed_job.text)
        webhook = a.post("/webhooks", json={"url": f"http://127.0.0.1:{closed_port()}/hook?q={NASTY}",
                                            "events": ["job.failed"]})
        assert webhook.status_code == 201, webhook.text
        webhook_id = webhook.json()["id"]
        assert a.post(f"/webhooks/{webhook_id}/test").status_code == 202
        first = eventually(lambda: (d := delivery_of(a, webhook_id))["attempts"] == 1 and d, 60, "a first attempt")
        assert first["status"] == "pending" and first["last_error"], first
        yield World(service, a, b, long_job.json()["job_id"], failed_job.json()["job_id"], webhook_id, first["id"])
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(chrome_factory: Any) -> Any:
    driver = chrome_factory()
    driver.set_window_size(1280, 1000)
    return driver


def settled(driver: Any, condition: Any) -> Any:
    """``condition(driver)`` once truthy, read again when the live refresh replaced an element mid-read."""
    return WebDriverWait(driver, WAIT, ignored_exceptions=[StaleElementReferenceException]).until(condition)


def open_tab(driver: Any, base: str, label: str) -> None:
    driver.find_element(By.ID, f"tab-{label}").click()
    wait(driver).until(EC.url_to_be(f"{base}/console/{label}"))


def progress_value(driver: Any, job_id: str) -> int:
    bars = driver.find_elements(By.CSS_SELECTOR, f"#job-{job_id} progress[value]")
    return int(bars[0].get_attribute("value")) if bars else -1


def test_jobs_page_shows_this_keys_jobs_with_live_progress(world: World, browser: Any) -> None:
    base = world.service.base_url
    failed = eventually(lambda: (j := world.b.get(f"/jobs/{world.failed_job}").json())["status"] == "failed" and j,
                        120, "B's job to fail")
    error_type = failed["error"]["error_type"]
    sign_in(browser, base, KEY_A)
    open_tab(browser, base, "jobs")
    assert browser.find_element(By.CSS_SELECTOR, "a.tab.active").text == "Jobs"
    assert browser.find_elements(By.ID, f"job-{world.long_job}")
    assert world.failed_job not in browser.page_source and error_type not in browser.page_source
    assert KEY_A not in browser.page_source
    # The page refreshes itself: the progress bar of the running job advances without a reload.
    browser.execute_script("window.notReloaded = true")
    settled(browser, lambda d: progress_value(d, world.long_job) >= 1)
    assert settled(browser, lambda d: "status-running" in d.find_element(
        By.CSS_SELECTOR, f"#job-{world.long_job} .state").get_attribute("class"))
    assert settled(browser, lambda d: re.fullmatch(rf"\d+ / {SLOW_ITEMS}", d.find_element(
        By.CSS_SELECTOR, f"#job-{world.long_job} .count").text))
    assert browser.execute_script("return window.notReloaded === true")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    save(browser, "console-jobs-1280.png")
    sign_in(browser, base, ADMIN)
    browser.get(f"{base}/console/jobs")
    row = browser.find_element(By.ID, f"job-{world.failed_job}")
    assert row.find_element(By.CSS_SELECTOR, ".state").text == "failed"
    assert row.find_element(By.CSS_SELECTOR, ".error-type").text == error_type
    assert browser.find_elements(By.ID, f"job-{world.long_job}")


def test_actions_without_the_csrf_token_are_refused(world: World) -> None:
    base = world.service.base_url
    web = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get(f"{base}/console/sign-in", timeout=WAIT).text)
    signed = web.post(f"{base}/console/sign-in", data={"api_key": KEY_A, "csrf_token": token.group(1)},
                      allow_redirects=False, timeout=WAIT)
    assert signed.status_code == 303
    for path in (f"/console/jobs/{world.long_job}/cancel", f"/console/webhooks/deliveries/{world.delivery}/retry"):
        for data in ({}, {"csrf_token": "x" * 43}):
            refused = web.post(base + path, data=data, allow_redirects=False, timeout=WAIT)
            assert refused.status_code == 403 and "CSRF" in refused.text, path
    assert world.a.get(f"/jobs/{world.long_job}").json()["status"] in ACTIVE
    assert delivery_of(world.a, world.webhook)["attempts"] == 1


def test_cancel_a_job_from_the_page(world: World, browser: Any) -> None:
    base = world.service.base_url
    sign_in(browser, base, KEY_A)
    browser.get(f"{base}/console/jobs")
    button = f"#job-{world.long_job} form.cancel button"
    browser.find_element(By.CSS_SELECTOR, button).click()
    alert = wait(browser).until(EC.alert_is_present())
    assert world.long_job in alert.text
    alert.dismiss()  # not confirmed: nothing happens
    assert world.a.get(f"/jobs/{world.long_job}").json()["status"] in ACTIVE
    browser.find_element(By.CSS_SELECTOR, button).click()
    wait(browser).until(EC.alert_is_present()).accept()
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".banner.ok"))
    assert browser.current_url == f"{base}/console/jobs"
    assert f"Cancelled job {world.long_job}" in browser.find_element(By.CSS_SELECTOR, ".banner.ok").text
    assert settled(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"#jobs-recent #job-{world.long_job} .state")
                   .text == "cancelled")
    assert not browser.find_elements(By.CSS_SELECTOR, button)
    assert world.a.get(f"/jobs/{world.long_job}").json()["status"] == "cancelled"


def test_webhooks_page_lists_the_failing_delivery_and_retries_it_now(world: World, browser: Any) -> None:
    base = world.service.base_url
    sign_in(browser, base, KEY_A)
    open_tab(browser, base, "webhooks")
    def cell(driver: Any, selector: str) -> Any:  # found afresh: the live refresh replaces the row
        return driver.find_element(By.ID, f"delivery-{world.delivery}").find_element(By.CSS_SELECTOR, selector)

    assert settled(browser, lambda d: cell(d, ".attempts").text) == "1"
    assert "webhook.test" in settled(browser, lambda d: d.find_element(By.ID, f"delivery-{world.delivery}").text)
    assert "refused" in settled(browser, lambda d: cell(d, ".error-message").text).lower()
    next_retry = settled(browser, lambda d: cell(d, ".next-retry time").get_attribute("datetime"))
    # The URL is shown as text, never as markup; the signing secret is nowhere.
    assert not browser.find_elements(By.CSS_SELECTOR, "b#x")
    assert f"q={NASTY}" in browser.find_element(By.CSS_SELECTOR, f"#webhook-{world.webhook} .url").text
    assert "whsec_" not in browser.page_source
    save(browser, "console-webhooks-1280.png")
    cell(browser, "form.retry button").click()
    wait(browser).until(EC.alert_is_present()).accept()
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".banner.ok"))
    assert "Retrying the webhook.test delivery now" in browser.find_element(By.CSS_SELECTOR, ".banner.ok").text
    settled(browser, lambda d: cell(d, ".attempts").text == "2")
    moved = settled(browser, lambda d: cell(d, ".next-retry time").get_attribute("datetime"))
    assert moved != next_retry
    after = delivery_of(world.a, world.webhook)
    assert after["attempts"] == 2 and after["status"] == "pending" and after["next_retry_at"] == moved


def test_pages_fit_a_phone_width_window(world: World, browser: Any) -> None:
    base = world.service.base_url
    sign_in(browser, base, ADMIN)
    try:
        browser.set_window_size(390, 900)
        for page in ("jobs", "webhooks"):
            browser.get(f"{base}/console/{page}")
            assert browser.find_element(By.ID, f"tab-{page}").is_displayed()
            assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), page
            save(browser, f"console-{page}-390.png")
    finally:
        browser.set_window_size(1280, 1000)
