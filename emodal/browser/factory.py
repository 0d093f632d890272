"""Start and fully dispose of headless Chromium browsers (local ChromeDriver or a Selenium Grid).

Why this module is careful about processes: a long-running service that leaks one Chrome per
failed login or crashed session runs the host out of memory within days (v1 "fixed" that by
killing every chrome on the host). Here every local ChromeDriver starts in its own process group
(``start_new_session``); Chrome and its helpers inherit that group, so :meth:`BrowserHandle.close`
can reap exactly the processes this service started, and nothing else, then delete the
throw-away profile. Each group is also recorded in the state store (:mod:`emodal.browser.ledger`)
so the next start reaps what a killed run left behind (:meth:`BrowserFactory.reap_stale`), and
:meth:`BrowserFactory.shutdown` kills the browsers of logins still running at exit. Nothing is
ever downloaded at run time: ChromeDriver and Chromium come from configuration or ``PATH``
(API_SPEC 3.11).
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import requests
import urllib3
from selenium import webdriver
from selenium.common.exceptions import SessionNotCreatedException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from emodal.browser.grid import grid_status
from emodal.browser.ledger import BrowserLedger, BrowserRecord, is_same_process
from emodal.browser.spares import SparePool
from emodal.config import Settings
from emodal.errors import CapacityExhausted, InternalError, PortalUnavailable, ShuttingDown, exception_summary

log = logging.getLogger(__name__)

#: Seconds ``driver.quit()`` may take before the browser's process group is killed instead.
QUIT_TIMEOUT = 15.0
#: Name prefix of each browser's temporary root folder (profile + downloads) under the temp dir.
PROFILE_PREFIX = "emodal-browser-"

#: What a WebDriver call raises when the browser or its driver is gone: Selenium's own errors, or
#: the HTTP client's when ChromeDriver itself died (connection refused to its port).
BROWSER_ERRORS: tuple[type[BaseException], ...] = (WebDriverException, urllib3.exceptions.HTTPError, ConnectionError)

#: Flags every browser gets. The background-networking group stops Chrome from calling Google
#: services (updates, sync, safe-browsing lists) that are useless here and impossible offline;
#: the rest trims memory and UI that a headless automation browser never needs. Memory flags were
#: measured, not assumed (idle keep-alive sessions, PSS, docs/PERFORMANCE.md): each session is its
#: own browser, so folding the GPU and network services into the browser process costs no isolation
#: between sessions and saves two processes per session.
BASE_FLAGS: tuple[str, ...] = (
    "--no-sandbox",                      # containers without user namespaces
    "--disable-gpu",
    "--in-process-gpu",                  # no GPU process (software compositing only): -13 MB/session
    "--enable-features=NetworkServiceInProcess2",  # no network-service process: -16 MB/session
    "--disable-dev-shm-usage",           # small /dev/shm in containers crashes renderers
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--metrics-recording-only",
    "--mute-audio",
    "--password-store=basic",
    # One switch only: Chrome keeps the last --disable-features it sees. The spare renderer and the
    # back-forward cache keep extra renderer memory alive that an automation never uses; the
    # omnibox-popup WebUI is a whole renderer (about 40 MB) that Chrome preloads for an address bar
    # a headless browser never shows.
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "SpareRendererForSitePerProcess,BackForwardCache,"
    "WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup,PreloadTopChromeWebUI",
)


def _prefs(download_dir: Path) -> dict[str, Any]:
    """Profile preferences: downloads without a prompt into the browser's download folder, and no
    password bubble (Chrome's, the one real popup seen on the portal, PORTAL_SPEC A6)."""
    return {
        "download.default_directory": str(download_dir),
        "download.prompt_for_download": False,
        "download.directory_upgrade": True,
        "safebrowsing.enabled": False,
        "credentials_enable_service": False,
        "profile.password_manager_enabled": False,
        "profile.default_content_setting_values.automatic_downloads": 1,
    }


class BrowserHandle:
    """One browser: its WebDriver, its download folder and everything needed to dispose of it."""

    def __init__(self, driver: WebDriver, root_dir: Path, download_dir: Path,
                 pgid: int | None, service: Service | None,
                 on_close: Callable[["BrowserHandle"], None] | None = None) -> None:
        self.driver = driver
        self.root_dir = root_dir
        self.download_dir = download_dir
        #: Process group of the local ChromeDriver (and the Chrome it started); None for Grid.
        self.pgid = pgid
        #: Origin of the identity (SSO) host, learned by the login that ran in this browser: its
        #: cookies belong to the portal auth snapshot (emodal.browser.snapshot).
        self.identity_origin: str | None = None
        self.created_at = time.monotonic()
        self._service = service
        self._on_close = on_close
        self._closed = False
        self._close_lock = threading.Lock()

    @property
    def remote(self) -> bool:
        return self.pgid is None

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """PIDs still alive in this browser's process group (empty for a remote browser)."""
        return [] if self.pgid is None else group_pids(self.pgid)

    def alive(self) -> bool:
        """True when the browser still answers (a crashed Chrome or ChromeDriver raises)."""
        if self._closed:
            return False
        try:
            # window_handles answers even while a JS alert is open, unlike execute_script.
            return bool(self.driver.window_handles)
        except BROWSER_ERRORS:
            return False

    def close(self, quit_timeout: float = QUIT_TIMEOUT) -> int:
        """Quit the browser, kill what is left of its process group, delete its profile.

        Idempotent and safe on a dead browser. ``driver.quit()`` runs in a helper thread bounded
        by ``quit_timeout`` because a wedged Chrome can block it for minutes; whatever survives
        is then killed by process group. Returns how many processes the browser had when closing
        started (none is left afterwards); 0 for a remote browser or a second call.
        """
        with self._close_lock:
            if self._closed:
                return 0
            self._closed = True
        running = len(self.pids())
        quitter = threading.Thread(target=self._quit_quietly, name="browser-quit", daemon=True)
        quitter.start()
        quitter.join(quit_timeout)
        if self.pgid is not None:
            kill_group(self.pgid)
        if self._service is not None and self._service.process is not None:
            try:
                self._service.process.wait(timeout=5)  # reap our direct child (no zombie)
            except Exception:  # noqa: BLE001 - already reaped or unkillable: nothing more to do
                pass
        shutil.rmtree(self.root_dir, ignore_errors=True)
        if self._on_close is not None:
            self._on_close(self)
        return running

    def detach(self) -> None:
        """Let go of a remote browser without ending it (another API instance serves it now, or
        this instance stops while the cluster goes on): the local temporary folder goes, the
        browser on the Grid stays. Idempotent; a closed handle stays closed."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        shutil.rmtree(self.root_dir, ignore_errors=True)

    @property
    def remote_id(self) -> str | None:
        """The Grid's WebDriver session id of a remote browser (None for a local one)."""
        return self.driver.session_id if self.remote else None

    def _quit_quietly(self) -> None:
        try:
            self.driver.quit()
        except Exception as exc:  # noqa: BLE001 - a dead browser cannot be quit; we kill it next
            log.debug("driver.quit failed: %s", type(exc).__name__)


class BrowserFactory:
    """Creates configured browsers and remembers the open local ones it started (for reaping)."""

    def __init__(self, settings: Settings, ledger: BrowserLedger | None = None) -> None:
        """``ledger``: where browsers are recorded for reaping after a crash (the service's state
        store); without one (tests of a single process) only this process can reap them."""
        self.settings = settings
        self.ledger = ledger
        self._lock = threading.Lock()
        #: Open local browsers by process group id.
        self._open: dict[int, BrowserHandle] = {}
        self._closed = False
        #: ``SPARE_BROWSERS`` started ahead for new logins (:meth:`start_spares`, :meth:`take`).
        self.spares: SparePool[BrowserHandle] = SparePool(self.create, settings.spare_browsers or 0)

    def start_spares(self) -> None:
        """Keep ``SPARE_BROWSERS`` browsers started ahead from now on (the service, at start-up)."""
        self.spares.fill()

    def take(self, timeout: float) -> BrowserHandle:
        """A browser for a new login: a spare that still answers (waiting up to ``timeout`` s for
        one that is starting), else a fresh :meth:`create`. Raises what :meth:`create` raises."""
        return self.spares.take(timeout) or self.create()

    def refill_spares(self) -> None:
        """A login that called :meth:`take` has ended: start the spares it used up (when kept)."""
        self.spares.refill()

    def create(self) -> BrowserHandle:
        """A new browser with a fresh temporary profile and download folder.

        Raises ``InternalError`` when ChromeDriver/Chromium are missing (a deployment problem),
        ``PortalUnavailable`` when the browser fails to start or the Grid is unreachable, and
        ``ShuttingDown`` after :meth:`shutdown`.
        """
        if self._closed:
            raise ShuttingDown("Server is shutting down; no new browser")
        root = Path(tempfile.mkdtemp(prefix=PROFILE_PREFIX))
        download_dir = root / "downloads"
        download_dir.mkdir()
        try:
            if self.settings.selenium_remote_url:
                return self._create_remote(root, download_dir)
            return self._create_local(root, download_dir)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def options(self, download_dir: Path, profile_dir: Path | None) -> webdriver.ChromeOptions:
        """Chrome options of API_SPEC 3.11 (headless, window size, proxy) plus :data:`BASE_FLAGS`."""
        s = self.settings
        opts = webdriver.ChromeOptions()
        if s.headless:
            opts.add_argument("--headless=new")
        width, height = s.window_size
        opts.add_argument(f"--window-size={width},{height}")
        for flag in BASE_FLAGS:
            opts.add_argument(flag)
        if profile_dir is not None:
            opts.add_argument(f"--user-data-dir={profile_dir}")
        if s.browser_proxy:
            opts.add_argument(f"--proxy-server={s.browser_proxy}")
        opts.add_experimental_option("prefs", _prefs(download_dir))
        # No "Chrome is being controlled by automated software" infobar: it shifts the layout.
        opts.add_experimental_option("excludeSwitches", ["enable-automation"])
        return opts

    def open_handles(self) -> list[BrowserHandle]:
        """Local browsers started by this factory, not closed yet and in use (spares waiting for a
        login are not: they belong to no session, yet no reaper may take them for orphans)."""
        spares = {id(handle) for handle in self.spares.handles()}
        with self._lock:
            return [handle for handle in self._open.values() if id(handle) not in spares]

    def shutdown(self) -> int:
        """Start no more browsers and close every open one (spares and logins still running at
        exit included); return how many processes that ended."""
        with self._lock:
            self._closed = True
        return self.spares.close() + self.reap(keep=set(), min_age=0)

    def reap_stale(self) -> int:
        """At start-up: kill the browsers an earlier run of this service left behind (it was
        killed before it could close them) and delete their profiles; return how many processes."""
        if self.ledger is None:
            return 0
        killed = 0
        for record in self.ledger.stale():
            killed += reap_record(record)
            root = Path(record.root_dir)
            if root.name.startswith(PROFILE_PREFIX) and root.parent == Path(tempfile.gettempdir()):
                shutil.rmtree(root, ignore_errors=True)
            self.ledger.forget(record.pgid)
        if killed:
            log.warning("reaped %d browser process(es) left behind by an earlier run", killed)
        return killed

    def reap(self, keep: set[int], min_age: float) -> int:
        """Close every open local browser whose group is not in ``keep`` and that is older than
        ``min_age`` seconds; return how many processes that ended.

        Why: the backstop of ``/cleanup_orphaned_processes``. A browser that belongs to no session
        (a thread died before attaching it) is still one we recorded; nobody else's processes are
        ever touched. ``min_age`` spares the browsers of logins still running.
        """
        now = time.monotonic()
        return sum(handle.close() for handle in self.open_handles()
                   if handle.pgid not in keep and now - handle.created_at >= min_age)

    # --- internals ------------------------------------------------------------------------------
    def _create_local(self, root: Path, download_dir: Path) -> BrowserHandle:
        s = self.settings
        driver_path = s.chromedriver_path or shutil.which("chromedriver")
        if not driver_path:
            raise InternalError("Browser could not be started", details="chromedriver not found (CHROMEDRIVER_PATH)")
        opts = self.options(download_dir, root / "profile")
        binary = s.chrome_binary or _find_chrome()
        if binary:
            opts.binary_location = binary
        # Own process group: Chrome inherits it, so close() and reap() can kill exactly ours.
        service = _RecordedService(driver_path, lambda pid: self._record(pid, root),
                                   popen_kw={"start_new_session": True})
        try:
            driver = webdriver.Chrome(service=service, options=opts)
        except WebDriverException as exc:
            self._forget_service(service)
            raise PortalUnavailable("Browser could not be started", details=exception_summary(exc)) from None
        except BaseException:
            self._forget_service(service)
            raise
        pgid = service.process.pid  # leader of the new session == its process group id
        handle = BrowserHandle(driver, root, download_dir, pgid, service, on_close=self._forget)
        with self._lock:
            self._open[pgid] = handle
            closed = self._closed
        if closed:  # shutdown reaped the open browsers while this one was starting
            handle.close(quit_timeout=0)
            raise ShuttingDown("Server is shutting down; no new browser")
        return self._configured(handle, cdp=True)

    def _create_remote(self, root: Path, download_dir: Path) -> BrowserHandle:
        # The Grid node owns its profile and, with managed downloads (se:downloadsEnabled), the
        # download folder: files are fetched through the Grid, no path on the node is assumed.
        self._check_grid_capacity()
        opts = self.options(download_dir, None)
        opts.enable_downloads = True
        try:
            driver = webdriver.Remote(command_executor=self.settings.selenium_remote_url, options=opts)
        except SessionNotCreatedException as exc:
            if "timed out" in str(exc).lower():  # queued for session-request-timeout: the Grid is full
                raise self._grid_full("no Grid slot freed within the session request timeout") from None
            raise PortalUnavailable("Selenium Grid refused a new browser", details=exception_summary(exc)) from None
        except WebDriverException as exc:
            raise PortalUnavailable("Selenium Grid unavailable", details=exception_summary(exc)) from None
        return self._configured(BrowserHandle(driver, root, download_dir, None, None), cdp=False)

    def attach(self, remote_id: str) -> BrowserHandle:
        """A handle on a browser that already runs on the Grid (started by this or another API
        instance): no new browser, no login. ``PortalUnavailable`` when it is gone (its node died,
        the Grid ended it) or the Grid does not answer."""
        url = self.settings.selenium_remote_url
        if not url:
            raise InternalError("Cannot attach without SELENIUM_REMOTE_URL")
        root = Path(tempfile.mkdtemp(prefix=PROFILE_PREFIX))
        download_dir = root / "downloads"
        download_dir.mkdir()
        opts = self.options(download_dir, None)
        opts.enable_downloads = True
        try:
            driver = _AttachedRemote(url, opts, remote_id)
            handle = BrowserHandle(driver, root, download_dir, None, None)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        if not handle.alive():
            handle.detach()
            raise PortalUnavailable("The session's browser is gone from the Grid", details="remote session ended")
        return handle

    def _check_grid_capacity(self) -> None:
        """``CapacityExhausted`` at once when the hub reports no free slot (else a new-session
        request would wait in its queue). A hub that does not answer is left to the new-session
        call, which reports it as ``portal_unavailable``."""
        assert self.settings.selenium_remote_url
        try:
            status = grid_status(self.settings.selenium_remote_url)
        except (requests.RequestException, ValueError):
            return
        if status.nodes and status.slots_free <= 0:  # a lone remote ChromeDriver lists no nodes
            raise self._grid_full(f"{status.slots_total} Grid slots, none free")

    def _grid_full(self, details: str) -> CapacityExhausted:
        return CapacityExhausted("Selenium Grid has no free browser slot", details=details,
                                 headers={"Retry-After": str(self.settings.capacity_retry_after)})

    def _configured(self, handle: BrowserHandle, *, cdp: bool) -> BrowserHandle:
        """``handle`` with timeouts and downloads set; closed again (nothing left) if that fails."""
        try:
            self._configure(handle.driver, handle.download_dir, cdp=cdp)
        except BaseException:
            handle.close()
            raise
        return handle

    def _configure(self, driver: WebDriver, download_dir: Path, *, cdp: bool) -> None:
        driver.set_page_load_timeout(self.settings.page_load_timeout)
        driver.set_script_timeout(self.settings.element_timeout)
        if cdp:
            # Headless Chrome ignores the download prefs in some versions; CDP is authoritative.
            driver.execute_cdp_cmd("Browser.setDownloadBehavior",  # type: ignore[attr-defined]
                                   {"behavior": "allow", "downloadPath": str(download_dir)})

    def _record(self, pgid: int, root: Path) -> None:
        if self.ledger is not None:
            self.ledger.record(pgid, root)

    def _unrecord(self, pgid: int) -> None:
        if self.ledger is not None:
            self.ledger.forget(pgid)

    def _forget(self, handle: BrowserHandle) -> None:
        with self._lock:
            if handle.pgid is not None:
                self._open.pop(handle.pgid, None)
        if handle.pgid is not None:
            self._unrecord(handle.pgid)

    def _forget_service(self, service: Service) -> None:
        process = getattr(service, "process", None)
        if process is not None:
            kill_group(process.pid)
            try:
                process.wait(timeout=5)
            except Exception:  # noqa: BLE001
                pass
            self._unrecord(process.pid)


class _AttachedRemote(webdriver.Remote):
    """A ``webdriver.Remote`` bound to an existing Grid session instead of creating one: the
    standard constructor with ``start_session`` replaced by adopting ``remote_id``. Capabilities
    are the ones every browser of this service asks for (managed downloads on)."""

    def __init__(self, url: str, options: webdriver.ChromeOptions, remote_id: str) -> None:
        self._remote_id = remote_id
        super().__init__(command_executor=url, options=options)

    def start_session(self, capabilities: dict[str, Any]) -> None:
        self.session_id = self._remote_id
        self.caps = {"browserName": "chrome", "se:downloadsEnabled": True}


class _RecordedService(Service):
    """ChromeDriver service that reports its process as soon as it runs, before Chrome starts
    (Chrome is launched by the new-session call that follows), so no browser of ours ever runs
    unrecorded."""

    def __init__(self, path: str, on_start: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._on_start = on_start

    def start(self) -> None:
        super().start()
        self._on_start(self.process.pid)


def _find_chrome() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def group_pids(pgid: int) -> list[int]:
    """PIDs whose process group is ``pgid`` (zombies excluded)."""
    return [p.pid for p in _group_processes(pgid)]


def _group_processes(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError, PermissionError):
            continue
    return members


def kill_group(pgid: int) -> int:
    """SIGKILL every live process of group ``pgid``; return how many there were."""
    alive = group_pids(pgid)
    if alive:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return 0
    return len(alive)


def reap_record(record: BrowserRecord) -> int:
    """Kill what is left of a recorded browser of an earlier run; return how many processes.

    The whole group only while its leader (ChromeDriver) is the recorded process (same start
    time): a reused PID is never signalled. Without that leader, only members whose command line
    names the browser's own random profile folder (Chromium's ``--user-data-dir``) are ours.
    """
    if is_same_process(record.pgid, record.started):
        return kill_group(record.pgid)
    killed = 0
    for process in _group_processes(record.pgid):
        try:
            if any(record.root_dir in arg for arg in process.cmdline()):
                process.kill()
                killed += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return killed
