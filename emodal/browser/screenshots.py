"""Screenshots with an annotation strip appended below the page (API_SPEC section 5).

Why below and not on top: the capture is evidence of what the portal showed; the strip adds who,
when, where and which request, without covering page content or imitating browser chrome (v1
pasted a fake address bar and taskbar over the page). URLs lose their query and fragment in the
strip because OIDC codes and tokens travel there.
"""
from __future__ import annotations

import contextlib
import io
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from emodal.redaction import redact_url

SERVICE_NAME = "E-Modal Business Operations API"
TAG_RE = re.compile(r"^[a-z0-9_]{1,64}$")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
)
FONT_SIZE = 16
PADDING = 10
LINE_GAP = 6
BACKGROUND = (32, 33, 36)
FOREGROUND = (255, 255, 255)
#: Inputs whose text is masked in every capture, on any page (an unknown page is masked too):
#: password fields and the portal's PIN field (PORTAL_SPEC A8: ``formcontrolname=Pin`` or a
#: ``PIN`` placeholder).
SECRET_INPUTS = ("input[type='password'], input[autocomplete$='password'], input[formcontrolname='Pin' i], "
                 "input[placeholder*='PIN']")
_MASK_ID = "emodal-screenshot-mask"
_MASK_JS = """
const old = document.getElementById(arguments[0]);
if (old) old.remove();
const sheet = document.createElement('style');
sheet.id = arguments[0];
sheet.textContent = arguments[1] + ' { -webkit-text-security: disc !important; }';
(document.head || document.documentElement).appendChild(sheet);
"""
_UNMASK_JS = "const sheet = document.getElementById(arguments[0]); if (sheet) sheet.remove();"


@dataclass(frozen=True)
class OverlayInfo:
    """What the strip names besides the time and the URL (both read at capture time)."""

    user: str
    route: str
    tag: str
    request_id: str
    container: str | None = None
    booking: str | None = None
    vm_email: str | None = None


def screenshot_path(session_dir: Path, request_id: str, tag: str, when: datetime) -> Path:
    """``<session_dir>/screenshots/<request_id>/<YYYYmmdd_HHMMSS>_<ffffff>_<tag>.png`` (UTC)."""
    check_tag(tag)
    if not REQUEST_ID_RE.match(request_id) or request_id in (".", ".."):
        raise ValueError("request id not usable as a folder name")
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%d_%H%M%S_%f")
    return Path(session_dir) / "screenshots" / request_id / f"{stamp}_{tag}.png"


def check_tag(tag: str) -> str:
    """Tags come from a fixed ``[a-z0-9_]`` vocabulary; anything else is a programming error."""
    if not TAG_RE.match(tag):
        raise ValueError(f"invalid screenshot tag {tag!r}")
    return tag


def capture(driver: WebDriver, session_dir: Path, info: OverlayInfo, *, overlay: bool = True,
            display_timezone: str = "UTC", when: datetime | None = None) -> Path:
    """Save a viewport PNG (with the strip when ``overlay``) and return its path."""
    when = when or datetime.now(timezone.utc)
    path = screenshot_path(session_dir, info.request_id, info.tag, when)
    png = masked_screenshot(driver)
    if overlay:
        png = annotate(png, overlay_lines(info, driver.current_url, when, display_timezone))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def masked_screenshot(driver: WebDriver) -> bytes:
    """The viewport PNG with every :data:`SECRET_INPUTS` text drawn as discs.

    No capture without the mask: if the sheet cannot be added the error propagates (a browser
    that cannot run a script cannot take a screenshot either).
    """
    driver.execute_script(_MASK_JS, _MASK_ID, SECRET_INPUTS)
    try:
        return driver.get_screenshot_as_png()
    finally:
        # A sheet left behind only changes pixels; the capture's own error must not be replaced.
        with contextlib.suppress(WebDriverException):
            driver.execute_script(_UNMASK_JS, _MASK_ID)


def overlay_lines(info: OverlayInfo, url: str, when: datetime, display_timezone: str) -> list[str]:
    """The strip's lines in API_SPEC 5 order; optional lines only when they have a value."""
    lines = [format_time(when, display_timezone), f"User: {info.user}", f"URL: {redact_url(url)}"]
    if info.container:
        lines.append(f"Container: {info.container}")
    if info.booking:
        lines.append(f"Booking: {info.booking}")
    if info.vm_email:
        lines.append(f"VM: {info.vm_email}")
    lines.append(f"{info.route} / {info.tag} / {info.request_id} / annotated by {SERVICE_NAME}")
    return lines


def format_time(when: datetime, display_timezone: str) -> str:
    """``2025-11-24 11:34:12 PST (UTC-08:00)``."""
    local = when.astimezone(ZoneInfo(display_timezone))
    offset = local.strftime("%z") or "+0000"
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def shorten_middle(text: str, max_chars: int) -> str:
    """Cut the middle of ``text`` to fit ``max_chars``: both the host and the page name stay readable."""
    if len(text) <= max_chars:
        return text
    if max_chars <= 3:
        return text[:max_chars]
    keep = max_chars - 3
    head = (keep + 1) // 2
    return f"{text[:head]}...{text[len(text) - (keep - head):]}"


def annotate(png: bytes, lines: list[str]) -> bytes:
    """Return ``png`` with a dark strip holding ``lines`` appended below it (page pixels untouched)."""
    page = Image.open(io.BytesIO(png)).convert("RGB")
    font = _font()
    char_w, line_h = _cell(font)
    max_chars = max(10, (page.width - 2 * PADDING) // max(char_w, 1))
    fitted = [shorten_middle(line, max_chars) for line in lines]
    strip_h = 2 * PADDING + len(fitted) * line_h + (len(fitted) - 1) * LINE_GAP
    out = Image.new("RGB", (page.width, page.height + strip_h), BACKGROUND)
    out.paste(page, (0, 0))
    draw = ImageDraw.Draw(out)
    y = page.height + PADDING
    for line in fitted:
        draw.text((PADDING, y), line, font=font, fill=FOREGROUND)
        y += line_h + LINE_GAP
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


_FONT_CACHE: list[ImageFont.FreeTypeFont | ImageFont.ImageFont] = []


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Mono when installed (monospace keeps the shortening exact), else Pillow's default."""
    if not _FONT_CACHE:
        for candidate in FONT_CANDIDATES:
            if Path(candidate).is_file():
                _FONT_CACHE.append(ImageFont.truetype(candidate, FONT_SIZE))
                break
        else:
            _FONT_CACHE.append(ImageFont.load_default())
    return _FONT_CACHE[0]


def _cell(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> tuple[int, int]:
    """Width of one character and height of one line for ``font``."""
    _, top, _, bottom = font.getbbox("Mgy|")
    return max(1, math.ceil(font.getlength("M" * 10) / 10)), max(1, bottom - top + 2)
