"""No PIN or password in a screenshot (API_SPEC 2 and 5; issue 15 item 7), with real Chromium.

Two proofs: pixels (two PINs of the same length give the same pixels in the field, while a plain
field with the same texts differs, so the test can see text) and the service end to end (a
failure after the PIN is typed in the wizard: at the moment each PNG is taken, the typed PIN is
drawn masked).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from emodal.browser.screenshots import OverlayInfo, capture

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><body style="font: 24px monospace">
<input id="pin" formcontrolname="Pin" placeholder="PIN" value="{pin}" style="font: 24px monospace">
<input id="password" type="text" autocomplete="current-password" value="{pin}" style="font: 24px monospace">
<input id="plain" value="{pin}" style="font: 24px monospace">
</body></html>"""


def _region(png: bytes, driver: Any, element_id: str) -> bytes:
    rect = driver.find_element(By.ID, element_id).rect
    box = (int(rect["x"]), int(rect["y"]), int(rect["x"] + rect["width"]), int(rect["y"] + rect["height"]))
    return Image.open(io.BytesIO(png)).convert("RGB").crop(box).tobytes()


def test_pin_and_password_pixels_do_not_depend_on_the_secret(chrome_factory: Any, tmp_path: Path) -> None:
    driver = chrome_factory()
    regions: dict[str, list[bytes]] = {"pin": [], "password": [], "plain": []}
    for pin in ("4821", "9630"):
        driver.get("data:text/html;charset=utf-8," + quote(PAGE.format(pin=pin)))
        info = OverlayInfo(user="jdoe", route="/check_appointments", tag="failure", request_id=f"req_{pin}")
        png = capture(driver, tmp_path, info, overlay=False).read_bytes()
        for element_id, shots in regions.items():
            shots.append(_region(png, driver, element_id))
        # The mask exists only during the capture: the page looks as before afterwards.
        assert driver.execute_script(
            "return getComputedStyle(document.getElementById('pin')).webkitTextSecurity") == "none"
    assert regions["plain"][0] != regions["plain"][1]  # the texts differ visibly when not masked
    assert regions["pin"][0] == regions["pin"][1]
    assert regions["password"][0] == regions["password"][1]


PICK_FULL = {"trucking_company": "B & T DRAYAGE LLC", "terminal": "Total Terminals Intl LLC",
             "move_type": "PICK FULL", "container_id": "TGBU2000026"}
PIN_STATE_JS = """
return Array.from(document.querySelectorAll("input[formcontrolname='Pin']")).filter(e => e.value).map(e => ({
  value: e.value, shown: !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length),
  security: getComputedStyle(e).webkitTextSecurity}));
"""


def test_failure_after_the_pin_is_typed_shows_no_pin(client: Any, jdoe_session: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 2 of the wizard with the PIN typed, then a plate the portal does not offer: the
    `failure` screenshot (and the debug ones) are taken while the PIN is drawn as discs."""
    seen: list[dict[str, Any]] = []
    original = WebDriver.get_screenshot_as_png

    def probing(driver: WebDriver) -> bytes:
        seen.extend(driver.execute_script(PIN_STATE_JS))
        return original(driver)

    monkeypatch.setattr(WebDriver, "get_screenshot_as_png", probing)
    response = client.post("/check_appointments", json={
        "session_id": jdoe_session["session_id"], **PICK_FULL, "pin_code": "4821", "truck_plate": "ZZ99999",
        "debug": True})
    body = response.json()
    assert response.status_code == 422 and body["error_type"] == "option_not_available", body
    assert body["screenshot_url"].endswith("_failure.png")
    typed = [s for s in seen if s["value"] == "4821" and s["shown"]]
    assert typed, seen  # the PIN was on screen when a screenshot was taken
    assert all(s["security"] == "disc" for s in typed), typed
