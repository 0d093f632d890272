"""The sandbox portal: a local, deterministic replica of the E-Modal portal (PORTAL_SPEC Part B).

Tests and the demo use it; service code never imports it (B1).

    app = create_app(SandboxConfig(profile="fast"))
    with SandboxServer(profile="fast") as sandbox:
        sandbox.base_url            # http://127.0.0.1:<free port>
        sandbox.admin.reset()       # /_sandbox admin client
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import NotFound
from werkzeug.serving import WSGIRequestHandler, make_server

from .adminclient import AdminClient
from .config import SandboxConfig
from .state import EXTENSION_KEY, SandboxState

__all__ = ["AdminClient", "SandboxConfig", "SandboxServer", "create_app"]

# Every blueprint of the sandbox: the platform's, then the page modules of the other parts.
_BLUEPRINTS = ("shell", "auth", "identity", "landing", "captcha", "solver", "admin",
               "containers", "wizard", "myappointments")


class _CaseInsensitivePaths:
    """WSGI middleware: a path that matches no route is retried against the routes' paths
    case-insensitively (B3: `/MyAppointments` works like `/myappointments`)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wsgi_app = app.wsgi_app
        self._index: dict[str, str] | None = None

    def _paths(self) -> dict[str, str]:
        if self._index is None:
            self._index = {rule.rule.lower(): rule.rule for rule in self.app.url_map.iter_rules()
                           if not rule.arguments}
        return self._index

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        adapter = self.app.url_map.bind("localhost")
        try:
            adapter.match(path, method=environ.get("REQUEST_METHOD", "GET"))
        except NotFound:
            lowered = path.lower()
            real = self._paths().get(lowered) or self._paths().get(lowered + "/")
            if real is not None:
                environ["PATH_INFO"] = real
        except Exception:  # noqa: BLE001 - method mismatch, redirects: let Flask answer them
            pass
        return self.wsgi_app(environ, start_response)


def _not_found(_error: Exception) -> Response | tuple[Response, int]:
    if request.path.startswith("/_sandbox"):
        return jsonify({"error": "not found"}), 404
    from .auth import error_page
    return error_page(404, "404 Not Found", "404 Not Found",
                      ["The requested URL was not found on this server."])


def create_app(config: SandboxConfig | None = None) -> Flask:
    """Application factory: state, platform routes, page blueprints, fault hooks."""
    config = config or SandboxConfig()
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = SandboxState(config)
    from . import faults
    faults.init_app(app)
    for name in _BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"{__name__}.{name}").bp)
    app.register_error_handler(404, _not_found)
    app.wsgi_app = _CaseInsensitivePaths(app)  # type: ignore[method-assign]
    return app


class _QuietRequestHandler(WSGIRequestHandler):
    """No per-request access log lines in test output."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class SandboxServer:
    """Run a sandbox app on a free port in a daemon thread (pytest fixtures, demo tooling)."""

    def __init__(self, config: SandboxConfig | None = None, **options: Any) -> None:
        if config is None:
            options.setdefault("port", 0)
            config = SandboxConfig.from_sources(options, environ={})
        self.config = config
        self.app = create_app(config)
        self._server = make_server(config.host, config.port, self.app, threaded=True,
                                   request_handler=_QuietRequestHandler)
        self.port = self._server.server_port
        config.port = self.port
        self.base_url = f"http://{config.host}:{self.port}"
        self.admin = AdminClient(self.base_url)
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        return self.app.extensions[EXTENSION_KEY]

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
