"""Debug bundles: one zip per operation with what happened and nothing secret (API_SPEC section 5).

Why per operation: v1 zipped a whole day of screenshots of every user into each bundle. A bundle
here holds only this request's manifest, screenshots, produced files, page sources (debug only)
and log lines, so it can be handed to support without leaking another request's data. The request
is copied into the manifest minus passwords, captcha keys and PINs, and every session or wizard id
in the manifest is shortened as in logs: ids are bearer tokens and a bundle travels to support.
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emodal.operations.context import short_id

#: Bundle kinds of API_SPEC 5 (the zip name ends with the kind).
KINDS = frozenset({"DEBUG", "PREGATE", "BOOKING", "BULK", "APPOINTMENTS", "check_appointments",
                   "appointment_submitted", "FAILED"})
#: Request fields never written anywhere (API_SPEC 2, 5); matched case-insensitively at any depth.
SECRET_FIELDS = frozenset({"password", "captcha_api_key", "pin_code", "api_key", "x-api-key",
                           "authorization", "cookie", "cookies"})
_SOURCE_TAG_RE = re.compile(r"^[a-z0-9_]{1,64}$")


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret field removed (dicts at any depth, lists included)."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if str(k).lower() not in SECRET_FIELDS}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


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
    if kind not in KINDS:
        raise ValueError(f"unknown bundle kind {kind!r}")
    stamp = (when or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%d_%H%M%S")
    return Path(session_dir) / "bundles" / f"{stamp}_{kind}.zip"


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
        "started_at": _iso(started_at),
        "ended_at": _iso(ended_at),
        "duration_s": round((ended_at - started_at).total_seconds(), 3),
        "outcome": outcome,
        "error_type": error_type,
        "steps": steps,
        "request": redact(request),
    }


def write_bundle(ctx: Any, *, kind: str, outcome: str, error_type: str | None,
                 request: dict[str, Any]) -> Path:
    """Bundle of one operation from its ``OperationContext`` (duck-typed: request_id, route,
    session, session_dir, steps, screenshot_paths, attachments, page_sources, debug, log.lines)."""
    now = datetime.now(timezone.utc)
    manifest = make_manifest(
        request_id=ctx.request_id, route=ctx.route, session_id=ctx.session.session_id,
        started_at=_operation_start(ctx, now), ended_at=now, outcome=outcome, error_type=error_type,
        steps=list(ctx.steps), request=request,
    )
    content = BundleContent(
        manifest=manifest,
        screenshots=list(ctx.screenshot_paths),
        files=list(ctx.attachments),
        page_sources=dict(ctx.page_sources) if ctx.debug else {},
        log_lines=list(getattr(ctx.log, "lines", [])),
    )
    return build_bundle(ctx.session_dir, kind, content, now)


def _operation_start(ctx: Any, default: datetime) -> datetime:
    """When the operation started: its ``started_at`` if it has one, else its first step's start."""
    started = getattr(ctx, "started_at", None)
    if isinstance(started, datetime):
        return started
    if ctx.steps and ctx.steps[0].get("started_at"):
        try:
            return datetime.strptime(ctx.steps[0]["started_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return default
    return default


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
