"""HTML shell of the Angular-like apps (B9.1) and the asset route serving their scripts.

The served document is deliberately empty (`<app-root></app-root>`): as on the real portal the
page is blank until the app "boots" (`page_boot_ms`), and all content is built by plain JS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, request, send_from_directory

from .config import APPS
from .state import get_state

STATIC_DIR = Path(__file__).with_name("static")
# Shared scripts every app loads before its page script, in dependency order.
_PLATFORM_SCRIPTS = ("shell.js", "material.js", "material-forms.js", "material-calendar.js")
_PER_APP_KNOBS = ("page_boot_ms", "excel_ms")

bp = Blueprint("sandbox_shell", __name__)


def origin() -> str:
    """`scheme://host:port` of the current request; every absolute URL is built from it (B3)."""
    return request.host_url.rstrip("/")


def app_base(app_key: str) -> str:
    return f"{origin()}/{app_key}"


def page_knobs(app_key: str) -> dict[str, Any]:
    """Knobs as a page script sees them: per-app knobs resolved to this app's value."""
    config = get_state().config
    knobs = config.snapshot()["knobs"]
    for name in _PER_APP_KNOBS:
        knobs[name] = config.app_knob(name, app_key)
    return knobs


def _asset_tags(app_key: str, script: str | None) -> tuple[str, str]:
    """`<link>` and `<script>` tags; a page script `x.js` brings `x.css` along when present."""
    base = f"{app_base(app_key)}/assets"
    scripts = [name for name in _PLATFORM_SCRIPTS if (STATIC_DIR / name).exists()]
    styles = ["portal.css"]
    if script:
        scripts.append(script)
        css = Path(script).with_suffix(".css").name
        if (STATIC_DIR / css).exists():
            styles.append(css)
    links = "".join(f'<link rel="stylesheet" href="{base}/{name}">' for name in styles)
    tags = "".join(f'<script src="{base}/{name}"></script>' for name in scripts)
    return links, tags


def render_app(app_key: str, title: str, script: str | None, page_data: Any = None) -> str:
    """The empty shell of one app page; the page script finds `window.__EM_PAGE__`."""
    if app_key not in APPS:
        raise ValueError(f"unknown app {app_key!r}")
    page = {"app": app_key, "base": app_base(app_key), "knobs": page_knobs(app_key),
            "data": page_data if page_data is not None else {}}
    # `</` inside a JSON string would end the inline script early.
    payload = json.dumps(page).replace("</", "<\\/")
    links, scripts = _asset_tags(app_key, script)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{links}</head><body><app-root></app-root>"
        f"<script>window.__EM_PAGE__ = {payload};</script>{scripts}</body></html>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@bp.route("/<app_key>/assets/<path:filename>")
def asset(app_key: str, filename: str) -> Response:
    """Assets live under their app prefix (B3); they never refresh the idle timer."""
    if app_key.lower() not in APPS + ("identity",):
        abort(404)
    return send_from_directory(STATIC_DIR, filename, max_age=0)


@bp.route("/favicon.ico")
def favicon() -> Response:
    """No icon, but no console error either (a 404 here would look like a broken page)."""
    return Response(status=204)
