"""Overlay strip and screenshot naming (API_SPEC section 5), without a browser."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from emodal.browser.screenshots import (
    OverlayInfo,
    annotate,
    format_time,
    overlay_lines,
    screenshot_path,
    shorten_middle,
)

WHEN = datetime(2025, 11, 24, 19, 34, 12, 123456, tzinfo=timezone.utc)
INFO = OverlayInfo(user="jdoe", route="/get_containers", tag="containers_loaded", request_id="req_0123456789abcdef")


def _png(width: int = 400, height: int = 300, color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_time_line_has_zone_and_offset() -> None:
    assert format_time(WHEN, "America/Los_Angeles") == "2025-11-24 11:34:12 PST (UTC-08:00)"
    assert format_time(WHEN, "UTC") == "2025-11-24 19:34:12 UTC (UTC+00:00)"
    assert format_time(WHEN, "Asia/Kolkata") == "2025-11-25 01:04:12 IST (UTC+05:30)"


def test_lines_in_spec_order_with_optional_lines() -> None:
    info = OverlayInfo(user="Dispatch A", route="/make_appointment", tag="before_submit", request_id="r1",
                       container="MSCU5165756", booking="RICFEM100200", vm_email="vm@example.com")
    lines = overlay_lines(info, "https://termops.emodal.com/trucker/web/addvisit?code=SECRET#x", WHEN, "UTC")
    assert lines[1:] == [
        "User: Dispatch A",
        "URL: https://termops.emodal.com/trucker/web/addvisit?...",
        "Container: MSCU5165756",
        "Booking: RICFEM100200",
        "VM: vm@example.com",
        "/make_appointment / before_submit / r1 / annotated by E-Modal Business Operations API",
    ]
    assert len(overlay_lines(INFO, "https://ecp2.emodal.com/containers", WHEN, "UTC")) == 4


def test_shorten_middle_keeps_both_ends() -> None:
    text = "URL: https://ecp2.emodal.com/" + "x" * 200 + "/containers"
    short = shorten_middle(text, 60)
    assert len(short) == 60 and short.startswith("URL: https://ecp2") and short.endswith("/containers")
    assert "..." in short
    assert shorten_middle("short", 60) == "short"


def test_strip_is_appended_below_and_page_pixels_untouched() -> None:
    original = _png()
    out = Image.open(io.BytesIO(annotate(original, overlay_lines(INFO, "https://x.example/", WHEN, "UTC"))))
    assert out.width == 400 and out.height > 300
    page = Image.open(io.BytesIO(original)).convert("RGB")
    assert out.convert("RGB").crop((0, 0, 400, 300)).tobytes() == page.tobytes()
    strip = out.crop((0, 300, 400, out.height)).convert("RGB")
    colours = {colour for _, colour in strip.getcolors(maxcolors=1 << 20)}
    assert (255, 255, 255) in colours or any(min(c) > 200 for c in colours)  # white text drawn
    assert (10, 200, 30) not in colours


def test_very_long_url_fits_the_width() -> None:
    url = "https://identity.example/Account/Login/" + "a" * 1000
    out = Image.open(io.BytesIO(annotate(_png(300, 100), overlay_lines(INFO, url, WHEN, "UTC"))))
    assert out.width == 300


def test_path_layout_and_tag_rules(tmp_path: Path) -> None:
    path = screenshot_path(tmp_path, "req_abc", "phase_2_loaded", WHEN)
    assert path.parent == tmp_path / "screenshots" / "req_abc"
    assert re.fullmatch(r"20251124_193412_123456_phase_2_loaded\.png", path.name)
    for bad in ("Phase2", "a-b", "../x", ""):
        with pytest.raises(ValueError):
            screenshot_path(tmp_path, "req_abc", bad, WHEN)
    for bad_request in ("..", "a/b", ""):
        with pytest.raises(ValueError):
            screenshot_path(tmp_path, bad_request, "ok", WHEN)
