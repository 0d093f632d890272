"""`make cluster`'s supervision (scripts/cluster.py `supervise`) over real child processes.

The layout exists to show that an API instance or a Grid node may die while the rest serve: such a
loss is reported and the wait goes on; the loss of Redis, of the hub, or of the last API instance
ends it. The servers are stood in for by ``sleep`` processes: what is under test is the decision,
not the servers.
"""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from scripts import cluster as cluster_script
from scripts.cluster import Cluster, Process
from tests.e2e.conftest import eventually


def _sleeper(name: str, tmp_path: Path) -> Process:
    popen = subprocess.Popen(["sleep", "300"], start_new_session=True)
    return Process(name, 0, popen, tmp_path / f"{name}.log")


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[tuple[Cluster, list[Process]]]:
    cluster = Cluster(tmp_path, _sleeper("redis", tmp_path), _sleeper("hub", tmp_path),
                      [_sleeper("node1", tmp_path), _sleeper("node2", tmp_path)])
    apis = [_sleeper("api-1", tmp_path), _sleeper("api-2", tmp_path)]
    yield cluster, apis
    for process in [*apis, *cluster.processes()]:
        process.kill()


def _supervising(cluster: Cluster, apis: list[Process], stopping: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=cluster_script.supervise, args=(stopping, cluster, apis), daemon=True)
    thread.start()
    return thread


def _wait_reported(capfd: pytest.CaptureFixture[str], text: str, seen: list[str]) -> None:
    """Read the supervisor's stderr into ``seen`` until ``text`` shows (its loop passes every second)."""
    def shown() -> bool:
        seen.append(capfd.readouterr().err)
        return text in "".join(seen)

    eventually(shown, 15, f"{text!r} to be reported")


def test_losing_an_api_instance_or_a_node_is_reported_and_the_rest_keep_running(
        layout: tuple[Cluster, list[Process]], capfd: pytest.CaptureFixture[str]) -> None:
    cluster, apis = layout
    stopping = threading.Event()
    thread = _supervising(cluster, apis, stopping)
    seen: list[str] = []
    apis[0].kill()
    cluster.nodes[0].kill()
    _wait_reported(capfd, "node1 exited", seen)
    _wait_reported(capfd, "api-1 exited", seen)
    assert thread.is_alive()  # the report and the decision are made in the same pass
    stopping.set()
    thread.join(10)
    assert not thread.is_alive()
    err = "".join(seen) + capfd.readouterr().err
    assert err.count("api-1 exited") == 1 and "stopping" not in err  # reported once; Ctrl-C ended it


@pytest.mark.parametrize("lost", ["redis", "hub", "every api"])
def test_losing_redis_the_hub_or_the_last_api_instance_ends_the_wait(
        layout: tuple[Cluster, list[Process]], capfd: pytest.CaptureFixture[str], lost: str) -> None:
    cluster, apis = layout
    stopping = threading.Event()
    thread = _supervising(cluster, apis, stopping)
    for process in {"redis": [cluster.redis], "hub": [cluster.hub], "every api": apis}[lost]:
        process.kill()
    thread.join(30)
    assert not thread.is_alive() and not stopping.is_set()
    assert "Nothing can serve any more; stopping." in capfd.readouterr().err
