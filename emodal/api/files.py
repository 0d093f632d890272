"""``GET /files/<session_id>/<path>`` (API_SPEC 4.13) and the per-session folders it serves.

Why an owner file: a folder outlives its session (retention) and restarts, so ownership cannot
come from the registry. ``<DOWNLOADS_DIR>/<session_id>/.owner`` holds the tenant fingerprint
written when the folder is created; only that tenant (or an admin / open mode) may read from it,
and everybody else gets the same 404 as for a file that does not exist.

Path safety is decided by components, after resolving symlinks, never by string prefix
(``/downloads/session_1`` is a string prefix of ``/downloads/session_10``).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, request, send_file

from emodal.api import http
from emodal.api.schemas import register
from emodal.errors import BadRequest, NotFound

bp = Blueprint("files", __name__)

OWNER_FILE = ".owner"
CONTENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".html": "text/plain; charset=utf-8",  # never rendered as HTML: it is a captured portal page
    ".json": "application/json",
}
_FORBIDDEN_CHARS = ("\\", "\x00", "%", ":")


def content_type(path: Path | str) -> str:
    """The Content-Type of API_SPEC 4.13 for a file name."""
    return CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def send_download(path: Path, download_name: str, *, inline: bool = False) -> Response:
    """``send_file`` with our content type (Flask appends the charset of text types itself), nosniff."""
    response = send_file(path, mimetype=content_type(path).split(";")[0], as_attachment=not inline,
                         download_name=download_name, max_age=0, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def ensure_session_folder(settings: Any, session_id: str, tenant: str) -> Path:
    """Create ``<DOWNLOADS_DIR>/<session_id>/`` with its ``.owner`` (idempotent, atomic write)."""
    folder = Path(settings.downloads_dir) / session_id
    folder.mkdir(parents=True, exist_ok=True)
    owner = folder / OWNER_FILE
    if not owner.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".owner.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(tenant)
        os.replace(tmp, owner)
    return folder


def folder_owner(settings: Any, session_id: str) -> str | None:
    """The tenant recorded for a session folder, or ``None`` (no folder, no owner file)."""
    try:
        return (Path(settings.downloads_dir) / session_id / OWNER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None


def visible_folders(settings: Any, tenant: str | None) -> list[Path]:
    """Session folders the caller may see (``tenant=None``: all). Dot-folders (``.state``) never."""
    root = Path(settings.downloads_dir)
    if not root.is_dir():
        return []
    return [p for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".")
            and (tenant is None or folder_owner(settings, p.name) == tenant)]


def split_safe_path(subpath: str) -> list[str]:
    """Components of a requested ``<session_id>/<relative path>`` or ``BadRequest("Invalid path")``.

    Rejected: absolute paths, empty/``.``/``..`` components, dot-files (``.owner``), backslashes,
    NUL, ``%`` (an encoded traversal that survived one decoding) and drive letters.
    """
    parts = subpath.split("/")
    if len(parts) < 2 or any(not part or part.startswith(".") or any(c in part for c in _FORBIDDEN_CHARS)
                             for part in parts):
        raise BadRequest("Invalid path", details={"reason": "unsafe path"})
    return parts


def resolve_served_file(settings: Any, subpath: str, tenant: str, is_admin: bool) -> Path:
    """The real file for ``subpath`` if the caller may read it; 400/404 otherwise (API_SPEC 4.13)."""
    parts = split_safe_path(subpath)
    session_id = parts[0]
    if not is_admin and folder_owner(settings, session_id) != tenant:
        raise NotFound("File not found")
    folder = (Path(settings.downloads_dir) / session_id).resolve()
    target = folder.joinpath(*parts[1:]).resolve()
    # Component-wise containment after symlinks are resolved; a link may not lead to a dot-file either.
    if not target.is_relative_to(folder) or any(p.startswith(".") for p in target.relative_to(folder).parts):
        raise BadRequest("Invalid path", details={"reason": "outside the session folder"})
    if not target.is_file():
        raise NotFound("File not found")
    return target


def send_session_file(prefix: str, subpath: str) -> Response:
    """The file under ``prefix`` (``/files/``, the console's ``/console/files/``) for ``g.tenant``.

    ``request.path`` keeps an empty component that the converter may merge ("/files//etc/passwd")."""
    raw = request.path[len(prefix):] if request.path.startswith(prefix) else subpath
    target = resolve_served_file(http.settings(), raw, g.tenant, g.is_admin)
    inline = request.args.get("inline") in ("1", "true") and target.suffix.lower() == ".png"
    return send_download(target, target.name, inline=inline)


@bp.route("/files/<path:subpath>", methods=["GET", "HEAD"])
def serve_file(subpath: str) -> Response:
    return send_session_file("/files/", subpath)


register("/files/{path}", "GET", None, "Download a file of one of the caller's sessions "
         "(attachment; ?inline=1 shows a PNG inline).", None, file_response=True)
