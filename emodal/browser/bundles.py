"""Debug bundles: one zip per operation with what happened and nothing secret (API_SPEC section 5).

Why per operation: v1 zipped a whole day of screenshots of every user into each bundle. A bundle
here holds only this request's manifest, screenshots, produced files, page sources (debug only)
and log lines, so it can be handed to support without leaking another request's data. The request
is copied into the manifest minus every secret field (``emodal.redaction``), and every session or
wizard id in the manifest is shortened as in logs: ids are bearer tokens and a bundle travels to support.
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emodal.redaction import redact, short_id
from emodal.timefmt import iso_utc, utc_stamp

if TYPE_CHECKING:
    from emodal.operations.context import OperationContext

#: The zip name ends with the kind its route names (API_SPEC 5: DEBUG, PREGATE, BOOKING, ...). There
#: is no list to be missing from: any kind is made file-name safe, so a new route never fails on its bundle.
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_]+")
_SOURCE_TAG_RE = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass
class BundleContent:
    """Everything one operation contributes to its bundle."""

    manifest: dict[str, Any]
    screenshots: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    page_sources: dict[str, str] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)


def bundle_path(session_dir: Path, kind: str, when: datetime | None = None) -> Path:
    """``<session_dir>/bundles/<YYYYmmdd_HHMMSS>_<KIND>.zip`` (UTC)."""
    safe = _UNSAFE_RE.sub("_", kind).strip("_")[:64] or "DEBUG"
    return Path(session_dir) / "bundles" / f"{utc_stamp(when)}_{safe}.zip"


def build_bundle(session_dir: Path, kind: str, content: BundleContent, when: datetime | None = None) -> Path:
    """Write the zip and return its path. A second bundle in the same second gets a ``_2`` suffix."""
    path = bundle_path(session_dir, kind, when)
    path.parent.mkdir(parents=True, exist_ok=True)
    base, counter = path.stem, 2
    while path.exists():
        path = path.with_name(f"{base}_{counter}.zip")
        counter += 1
    manifest = dict(content.manifest)
    if "request" in manifest:
        manifest["request"] = redact(manifest["request"])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", short_id(json.dumps(manifest, indent=2, sort_keys=True, default=str)))
        for shot in content.screenshots:
            if Path(shot).is_file():
                zf.write(shot, f"screenshots/{Path(shot).name}")
        for produced in content.files:
            if Path(produced).is_file():
                zf.write(produced, f"files/{Path(produced).name}")
        for tag, html in content.page_sources.items():
            if _SOURCE_TAG_RE.match(tag):
                zf.writestr(f"page_source/{tag}.html", html)
        zf.writestr("log.txt", "\n".join(content.log_lines) + ("\n" if content.log_lines else ""))
    return path


def make_manifest(*, request_id: str, route: str, session_id: str | None, started_at: datetime,
                  ended_at: datetime, outcome: str, error_type: str | None,
                  steps: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    """The manifest of API_SPEC 5 with ISO-8601 UTC times; ``request`` is redacted here already."""
    return {
        "request_id": request_id,
        "route": route,
        "session_id": session_id,
        "started_at": iso_utc(started_at),
        "ended_at": iso_utc(ended_at),
        "duration_s": round((ended_at - started_at).total_seconds(), 3),
        "outcome": outcome,
        "error_type": error_type,
        "steps": steps,
        "request": redact(request),
    }


def write_bundle(ctx: OperationContext, *, kind: str, outcome: str, error_type: str | None) -> Path:
    """Bundle of one operation from its ``OperationContext`` (request redacted here)."""
    now = datetime.now(timezone.utc)
    manifest = make_manifest(
        request_id=ctx.request_id, route=ctx.route, session_id=ctx.session.session_id,
        started_at=ctx.started_at, ended_at=now, outcome=outcome, error_type=error_type,
        steps=list(ctx.steps), request=ctx.params,
    )
    content = BundleContent(
        manifest=manifest,
        screenshots=list(ctx.screenshot_paths),
        files=list(ctx.attachments),
        page_sources=dict(ctx.page_sources) if ctx.debug else {},
        log_lines=list(ctx.log.lines),
    )
    return build_bundle(ctx.session_dir, kind, content, now)
