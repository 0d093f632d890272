"""Our browser factory's remote mode on a real Selenium Grid 4 (scripts/cluster.py: hub + two nodes
driving Debian's Chromium), against the sandbox: a session opens through the hub on a node, logs in,
and a portal download comes back through Grid's managed downloads (``se:downloadsEnabled``), the
way a cluster instance gets files without any path on the node (issue 11 item 2).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from emodal.browser.factory import BROWSER_ERRORS, BrowserFactory, group_pids
from emodal.config import Settings
from scripts import cluster as cluster_script

pytestmark = [pytest.mark.cluster, pytest.mark.browser]

EXPORT = "MyAppointments.xlsx"


def _sessions_on_grid(cluster: Any) -> list[str]:
    return [slot["session"]["sessionId"] for node in cluster.status()["nodes"]
            for slot in node["slots"] if slot.get("session")]


def _factory(cluster: Any, tmp_path: Path) -> BrowserFactory:
    return BrowserFactory(Settings.from_env({}, selenium_remote_url=cluster.grid_url, downloads_dir=tmp_path / "dl"))


def test_grid_nodes_keep_idle_sessions_longer_than_the_refresher_leaves_them(grid_cluster: Any) -> None:
    settings = Settings.from_env({})
    longest_idle_ms = (settings.session_refresh_interval + settings.refresh_check_interval) * 1000
    nodes = grid_cluster.status()["nodes"]
    assert len(nodes) == 2 and all(node["sessionTimeout"] > longest_idle_ms for node in nodes)


def test_remote_browser_on_the_grid_downloads_through_managed_downloads(
        grid_cluster: Any, sandbox: Any, portal_login: Any, tmp_path: Path) -> None:
    handle = _factory(grid_cluster, tmp_path).create()
    try:
        driver = handle.driver
        assert handle.remote and driver.capabilities.get("se:downloadsEnabled") is True
        assert _sessions_on_grid(grid_cluster) == [driver.session_id]

        portal_login(driver, "jdoe", start_url=f"{sandbox.base_url}/truckerportal/myappointments")
        wait = WebDriverWait(driver, 30)
        box = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "tr.mat-row input.mat-checkbox-input"))[0]
        driver.execute_script("arguments[0].click()", box)
        number = driver.find_element(By.CSS_SELECTOR, "tr.mat-row td:nth-child(2)").text
        driver.find_element(By.XPATH, "//mat-icon[@svgicon='xls']").click()

        # Chrome writes <name>.crdownload first: the file is complete once its final name is listed.
        wait.until(lambda d: EXPORT in d.get_downloadable_files())
        driver.download_file(EXPORT, str(tmp_path / "fetched"))
        rows = list(openpyxl.load_workbook(tmp_path / "fetched" / EXPORT)["Appointments"].iter_rows(values_only=True))
        assert rows[0][0] == "Appointment #" and [row[0] for row in rows[1:]] == [number]
        assert not any(handle.download_dir.iterdir())  # nothing was assumed on this host
    finally:
        handle.close()
    # close() ended the remote session: the hub frees its slot (it learns so asynchronously).
    WebDriverWait(grid_cluster, 30).until(lambda cluster: _sessions_on_grid(cluster) == [])


def test_a_killed_node_takes_its_browsers_along_and_the_grid_carries_on(tmp_path: Path) -> None:
    # A private cluster: killing a node of the shared one would spoil it for later tests.
    private = cluster_script.start(tmp_path / "cluster", nodes=2, max_sessions=1)
    factory = _factory(private, tmp_path)
    try:
        lost = factory.create()
        holder = next(node for node in private.nodes if node.url == _node_of(private, lost.driver.session_id))
        assert group_pids(holder.popen.pid)  # its ChromeDriver and Chromium run in the node's group
        holder.kill()
        assert group_pids(holder.popen.pid) == []
        with pytest.raises(BROWSER_ERRORS):
            lost.driver.title  # noqa: B018 - any command: the session is gone with its node
        lost.close()
        WebDriverWait(private, 120).until(
            lambda c: {n["uri"]: n["availability"] for n in c.status()["nodes"]}.get(holder.url) != "UP")
        survivor = next(node for node in private.nodes if node is not holder)
        fresh = factory.create()  # one slot per node: only the survivor can take it
        try:
            assert _node_of(private, fresh.driver.session_id) == survivor.url and fresh.alive()
        finally:
            fresh.close()
    finally:
        private.stop()


def _node_of(cluster: Any, session_id: str) -> str:
    """The URI of the node the hub says holds ``session_id``."""
    return next(node["uri"] for node in cluster.status()["nodes"] for slot in node["slots"]
                if (slot.get("session") or {}).get("sessionId") == session_id)
