"""Logging for the service: one stderr handler whose formatter shortens every session id.

Why in the formatter: ids reach log lines from many places (access logs of /sessions/<id> and
/files/<id>/..., exceptions, the session layer). Full ids are bearer tokens (API_SPEC 2), so the
last step before output cuts their random part to 6 characters, whoever wrote the line.
Secrets (passwords, captcha keys, API keys, cookies) are simply never passed to a logger.
"""
from __future__ import annotations

import logging
import sys

from emodal.config import Settings
from emodal.redaction import short_id

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ShortIdFormatter(logging.Formatter):
    """A formatter that shortens session and appointment ids in the whole rendered line."""

    def format(self, record: logging.LogRecord) -> str:
        return short_id(super().format(record))


def configure_logging(settings: Settings) -> None:
    """Install the handler once on the root logger and set ``LOG_LEVEL`` for the service's loggers."""
    root = logging.getLogger()
    if not any(getattr(h, "_emodal", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(ShortIdFormatter(FORMAT))
        handler._emodal = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
    logging.getLogger("emodal").setLevel(settings.log_level)
    # Waitress's per-request noise is not useful; errors still show.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
