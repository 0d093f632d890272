"""What an operation receives (:class:`OperationContext`) and may return instead of a dict (:class:`FileResult`).

Why a context object: operations are plain functions ``fn(ctx) -> dict`` with no Flask and no
registry knowledge. Everything cross-cutting (the driver of the locked session, the deadline,
screenshots with overlay, file URLs, the debug-bundle record, a log that names the session) comes
from here, so every route behaves the same way (API_SPEC 5) without repeating that code.
"""
from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emodal.errors import PortalTimeout
from emodal.redaction import short_id
from emodal.timefmt import iso_utc, utc_stamp

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from emodal.config import Settings
    from emodal.portal.urls import PortalUrls
    from emodal.sessions.session import BrowserSession

_TAG_RE = re.compile(r"[^a-z0-9_]+")

#: ``capture(ctx, tag, container) -> Path`` writes the PNG (with overlay) under
#: ``<session_dir>/screenshots/<request_id>/``. Injected by the runner so this module stays free of
#: browser code (and tests can count shots without a browser).
Capture = Callable[["OperationContext", str, "str | None"], Path]


@dataclass(frozen=True)
class FileResult:
    """An operation's answer that is a file (the workbook of /get_containers in file mode).

    Data only: the file and its counts (``{"containers": 52}``). The HTTP layer turns them into a
    file body with its headers; a job would keep the file URL instead.
    """

    path: Path
    counts: Mapping[str, int] = field(default_factory=dict)


class OperationLog(logging.LoggerAdapter):
    """Logger adapter prefixing ``[<short session id> <route> <request id>]`` and keeping this
    operation's lines for the bundle's ``log.txt``."""

    def __init__(self, logger: logging.Logger, prefix: str) -> None:
        super().__init__(logger, {})
        self.prefix = prefix
        self.lines: list[str] = []

    def process(self, msg: Any, kwargs: Any) -> tuple[str, Any]:
        text = short_id(f"[{self.prefix}] {msg}")
        return text, kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level) or level >= logging.INFO:
            stamp = datetime.now(timezone.utc).strftime("%H:%M:%S.%f")[:-3]
            try:
                rendered = (str(msg) % args) if args else str(msg)
            except (TypeError, ValueError):  # a bad format string must not break the operation
                rendered = f"{msg} {args!r}"
            self.lines.append(f"{stamp} {logging.getLevelName(level)} {short_id(rendered)}")
        super().log(level, msg, *args, **kwargs)


@dataclass
class OperationContext:
    """Everything an operation may use; see the table in docs/ARCHITECTURE.md.

    The caller (runner) holds the session lock for the whole life of the context. ``driver`` is read
    from the session each time because a re-login may replace the browser under the same session.
    """

    settings: Settings
    urls: PortalUrls
    session: BrowserSession
    request_id: str
    route: str
    params: dict[str, Any]
    debug: bool
    deadline: float
    log: OperationLog
    session_dir: Path
    base_url: str
    capture: Capture
    #: Set by an operation once it clicked Submit: a lost portal session must not trigger a retry.
    no_retry: bool = False
    screenshots: list[str] = field(default_factory=list)
    screenshot_paths: list[Path] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    page_sources: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    #: True once the browser was driven (a failure then gets a screenshot and a FAILED bundle).
    browser_used: bool = False
    #: When the operation started (UTC), for the bundle manifest.
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def driver(self) -> WebDriver:
        self.browser_used = True
        return self.session.driver

    # --- time -------------------------------------------------------------------------------------
    def remaining(self) -> float:
        """Seconds left before OPERATION_TIMEOUT (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def check_deadline(self, what: str) -> None:
        """Raise ``PortalTimeout`` when the operation's time is up (call between steps/scroll cycles)."""
        if time.monotonic() >= self.deadline:
            raise PortalTimeout(f"Operation deadline reached while {what}",
                                details=f"OPERATION_TIMEOUT={self.settings.operation_timeout}s")

    # --- files -----------------------------------------------------------------------------------
    def file_urls(self, path: Path) -> dict[str, str]:
        """``{"file_url": absolute, "file_path": "/files/..."}`` for a file under ``session_dir``."""
        relative = Path(path).resolve().relative_to(Path(self.settings.downloads_dir).resolve())
        file_path = "/files/" + relative.as_posix()
        return {"file_url": self.base_url + file_path, "file_path": file_path}

    def new_file(self, prefix: str, suffix: str) -> Path:
        """A fresh ``<session_dir>/<prefix>_<UTC stamp><suffix>`` path (e.g. ``containers_scraped``, ``.xlsx``)."""
        self.session_dir.mkdir(parents=True, exist_ok=True)
        return self.session_dir / f"{prefix}_{utc_stamp()}{suffix}"

    def attach(self, path: Path) -> None:
        """Add a produced file (workbook) to the debug bundle's ``files/``."""
        self.attachments.append(Path(path))

    # --- screenshots -------------------------------------------------------------------------------
    def screenshot(self, tag: str, *, always: bool = False, container: str | None = None) -> str | None:
        """PNG of the viewport with the overlay strip; returns its absolute URL.

        Only taken when ``debug`` unless ``always`` (the shots API_SPEC 5 requires on every call).
        ``container`` overrides the overlay's container line (bulk items). With ``debug`` the page
        source is kept for the bundle too.
        """
        if not (always or self.debug):
            return None
        tag = _TAG_RE.sub("_", tag.lower()).strip("_")[:64] or "step"
        self.browser_used = True
        path = self.capture(self, tag, container)
        if self.debug:
            with contextlib.suppress(Exception):  # a page source is a debugging aid, never fatal
                self.page_sources[tag] = self.session.driver.page_source
        self.screenshot_paths.append(path)
        url = self.file_urls(path)["file_url"]
        self.screenshots.append(url)
        return url

    # --- progress --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Record a named step with its duration (bundle manifest) and log its progress."""
        started = time.monotonic()
        record: dict[str, Any] = {"name": name, "started_at": iso_utc(time.time()), "outcome": "running"}
        self.steps.append(record)
        self.log.info("step %s started", name)
        try:
            yield
        except BaseException as exc:
            record["outcome"] = "failed"
            record["error_type"] = getattr(exc, "error_type", type(exc).__name__)
            raise
        else:
            record["outcome"] = "ok"
        finally:
            record["duration_s"] = round(time.monotonic() - started, 3)
            self.log.info("step %s %s in %.2fs", name, record["outcome"], record["duration_s"])
            if self.browser_used:
                with contextlib.suppress(Exception):  # a dead browser must not mask the real error
                    self.session.record_url()
