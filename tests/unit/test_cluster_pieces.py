"""The small pieces of the cluster (issue 11) without a Grid: the hub's /status read as free slots,
a full Grid answered at once as capacity_exhausted (and the Grid's own queue timeout mapped to it),
the download watch over a local folder and over Grid managed downloads, the instance id default."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import SessionNotCreatedException

from emodal.browser import factory as factory_module
from emodal.browser.downloads import DownloadWatch
from emodal.browser.factory import BrowserFactory
from emodal.browser.grid import GridNode, GridStatus, parse_status
from emodal.config import Settings
from emodal.errors import CapacityExhausted, PortalUnavailable

STATUS = {"value": {"ready": True, "nodes": [
    {"uri": "http://n1:5555", "availability": "UP", "slots": [{"session": {"sessionId": "x"}}, {"session": None}]},
    {"uri": "http://n2:5555", "availability": "DOWN", "slots": [{"session": None}, {"session": None}]},
]}}


def test_status_counts_free_slots_on_nodes_that_are_up_only() -> None:
    status = parse_status(STATUS)
    assert status.ready and (status.slots_total, status.slots_free) == (2, 1)
    assert status.describe()["nodes_up"] == 1
    assert [n["busy"] for n in status.describe()["nodes"]] == [1, 0]


def remote_factory(tmp_path: Path) -> BrowserFactory:
    return BrowserFactory(Settings(downloads_dir=tmp_path, selenium_remote_url="http://hub.invalid:4444",
                                   capacity_retry_after=7))


def test_a_full_grid_is_capacity_exhausted_before_any_new_session_request(tmp_path: Path, monkeypatch: Any) -> None:
    full = GridStatus(True, (GridNode("http://n1:5555", "UP", 2, 2),))
    monkeypatch.setattr(factory_module, "grid_status", lambda url: full)
    asked: list[Any] = []
    monkeypatch.setattr(factory_module.webdriver, "Remote", lambda **kw: asked.append(kw))
    with pytest.raises(CapacityExhausted) as error:
        remote_factory(tmp_path).create()
    assert error.value.headers == {"Retry-After": "7"} and "none free" in error.value.details
    assert asked == []


def test_a_lone_remote_chromedriver_lists_no_nodes_and_is_not_taken_for_a_full_grid(
        tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(factory_module, "grid_status", lambda url: parse_status({"value": {"ready": True}}))

    def remote(**_: Any) -> Any:
        raise SessionNotCreatedException("session not created: no such browser")

    monkeypatch.setattr(factory_module.webdriver, "Remote", remote)
    with pytest.raises(PortalUnavailable):  # the new-session request was made
        remote_factory(tmp_path).create()


def test_the_grids_queue_timeout_is_capacity_exhausted_other_refusals_portal_unavailable(
        tmp_path: Path, monkeypatch: Any) -> None:
    free = GridStatus(True, (GridNode("http://n1:5555", "UP", 2, 1),))
    monkeypatch.setattr(factory_module, "grid_status", lambda url: free)

    def refuse(message: str) -> Any:
        def remote(**_: Any) -> Any:
            raise SessionNotCreatedException(message)
        return remote

    monkeypatch.setattr(factory_module.webdriver, "Remote",
                        refuse("Could not start a new session. New session request timed out"))
    with pytest.raises(CapacityExhausted):
        remote_factory(tmp_path).create()
    monkeypatch.setattr(factory_module.webdriver, "Remote", refuse("Could not start a new session. No driver"))
    with pytest.raises(PortalUnavailable):
        remote_factory(tmp_path).create()


class Handle:
    """What the download watch reads of a browser handle."""

    def __init__(self, download_dir: Path, driver: Any = None) -> None:
        self.download_dir, self.driver, self.remote = download_dir, driver, driver is not None


def test_local_downloads_wait_for_a_new_complete_file(tmp_path: Path) -> None:
    (tmp_path / "old.xlsx").write_bytes(b"old")
    watch = DownloadWatch(Handle(tmp_path), (".xlsx",))
    assert watch.finished() is None
    (tmp_path / "new.xlsx.crdownload").write_bytes(b"part")
    assert watch.finished() is None
    (tmp_path / "new.xlsx.crdownload").rename(tmp_path / "new.xlsx")
    assert watch.finished() == tmp_path / "new.xlsx"


class GridDownloads:
    """A remote driver's managed-download commands over a dict of the node's files."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"old.xlsx": b"old"}

    def get_downloadable_files(self) -> list[str]:
        return sorted(self.files)

    def download_file(self, name: str, target: str) -> None:
        Path(target, name).write_bytes(self.files[name])

    def delete_downloadable_files(self) -> None:
        self.files.clear()


def test_grid_downloads_are_fetched_from_the_node_and_cleared_there(tmp_path: Path) -> None:
    node = GridDownloads()
    watch = DownloadWatch(Handle(tmp_path, node), (".xlsx",))
    node.files["Export.xlsx.crdownload"] = b"part"
    assert watch.finished() is None
    node.files["Export.xlsx"] = node.files.pop("Export.xlsx.crdownload") + b"-done"
    path = watch.finished()
    assert path == tmp_path / "Export.xlsx" and path.read_bytes() == b"part-done" and node.files == {}


def test_instance_id_defaults_to_host_and_pid() -> None:
    assert Settings().instance_id == f"{socket.gethostname()}-{os.getpid()}"
    assert Settings.from_env({"INSTANCE_ID": "api-a"}).instance_id == "api-a"
