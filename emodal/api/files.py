"""``GET /files/<session_id>/<path>`` (API_SPEC 4.13) and the file bodies of business routes.

Only the folder's owner (``emodal.sessions.folders``: the tenant in its ``.owner`` file), an admin
or open mode may read from a session folder; everybody else gets the same 404 as for a file that
does not exist.

Path safety is decided by components, after resolving symlinks, never by string prefix
(``/downloads/session_1`` is a string prefix of ``/downloads/session_10``).
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, g, request, send_file

from emodal.api import http
from emodal.api.openapi import register
from emodal.config import Settings
from emodal.errors import BadRequest, NotFound
from emodal.sessions.folders import folder_owner

bp = Blueprint("files", __name__)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {
    ".xlsx": XLSX_MIMETYPE,
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


def resolve_served_file(settings: Settings, subpath: str, tenant: str, is_admin: bool) -> Path:
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
