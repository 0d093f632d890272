"""Files a browser downloads, wherever the browser runs.

Why one helper: a local Chromium writes into the handle's download folder on this machine; a
browser on a Selenium Grid node writes into a folder of the node that the API never sees, and the
file is fetched through the Grid's managed downloads (``se:downloadsEnabled``:
``get_downloadable_files`` / ``download_file``). Page objects wait for "the new file" through a
:class:`DownloadWatch` and stay unaware of which of the two it is.

Usage: create the watch *before* the click that starts the download (it remembers what was
there), then poll :meth:`DownloadWatch.finished` in an explicit wait.
"""
from __future__ import annotations

from pathlib import Path

from emodal.browser.factory import BrowserHandle

#: Chrome's name for a file still being written.
PARTIAL_SUFFIX = ".crdownload"


class DownloadWatch:
    """The next complete download of one browser with one of ``suffixes`` (lower-case, dotted)."""

    def __init__(self, handle: BrowserHandle, suffixes: tuple[str, ...]) -> None:
        self._handle = handle
        self._suffixes = suffixes
        self._before = set(self._names())

    def _names(self) -> list[str]:
        if self._handle.remote:
            return list(self._handle.driver.get_downloadable_files())
        folder = self._handle.download_dir
        return [p.name for p in folder.iterdir()] if folder.is_dir() else []

    def finished(self) -> Path | None:
        """The new complete file as a local path (fetched from the node first for a Grid browser),
        or None while nothing new is complete. A file with a name seen before the watch began is
        never taken for the new one."""
        names = self._names()
        if any(name.endswith(PARTIAL_SUFFIX) for name in names):
            return None
        fresh = [n for n in names if n not in self._before and Path(n).suffix.lower() in self._suffixes]
        if not fresh:
            return None
        if self._handle.remote:
            return self._fetch(sorted(fresh)[-1])
        paths = [p for p in (self._handle.download_dir / n for n in fresh) if p.stat().st_size > 0]
        return max(paths, key=lambda p: p.stat().st_mtime) if paths else None

    def _fetch(self, name: str) -> Path:
        """Copy ``name`` from the node into the handle's local folder, then clear the node's
        downloads (the next export starts from an empty list, the node's disk stays small)."""
        driver = self._handle.driver
        driver.download_file(name, str(self._handle.download_dir))
        driver.delete_downloadable_files()
        return self._handle.download_dir / name
