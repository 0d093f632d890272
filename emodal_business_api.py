"""Entry point: ``python emodal_business_api.py [serve|rotate-key] [--sandbox] [--host H] [--port P]``.

One process, a waitress thread pool of ``SERVER_THREADS`` (the session registry lives in memory,
so never several workers). ``--sandbox`` starts the local portal replica in-process on a free port
and points every portal URL and the captcha service at it: the service then runs end to end on a
laptop with the sandbox accounts (jdoe / sandbox-pass, captcha key sandbox-key).

SIGTERM/SIGINT: new requests get 503 ``shutting_down`` while running operations get
``SHUTDOWN_GRACE``; then every browser is closed and the process exits (API_SPEC 3.10). The
sessions stay in the state store: the next start restores them under their ids (issue 10).

Exit status: 0 after a normal stop, 2 for a configuration error, 3 when the state store cannot be
used (another process holds ``STATE_DIR``, a damaged database): a supervisor should not restart
on 3 (systemd ``RestartPreventExitStatus=3``), since a new start would fail the same way.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from emodal.app import create_app, shutdown
from emodal.config import ConfigError, Settings
from emodal.server import build_server
from emodal.state.cli import rotate_key_command
from emodal.state.errors import StateError

log = logging.getLogger("emodal.main")

#: Exit status when the state store cannot be used (see the module docstring).
EXIT_STATE_UNUSABLE = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="E-Modal Business Operations API")
    parser.add_argument("command", nargs="?", choices=("serve", "rotate-key"), default="serve",
                        help="serve (default), or rotate-key: re-encrypt stored secrets under a new key "
                             "(service stopped)")
    parser.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default PORT or 5010; 0 = a free port)")
    parser.add_argument("--sandbox", action="store_true",
                        help="start the local portal replica in-process and use it instead of the real portal")
    parser.add_argument("--sandbox-profile", choices=("fast", "realistic"), default="realistic",
                        help="timing profile of the sandbox (default realistic)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides: dict[str, Any] = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = Settings.from_env(**overrides)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "rotate-key":
        return rotate_key_command(settings)
    sandbox = None
    if args.sandbox:
        # The one place outside tests and the demo allowed to import the sandbox (PORTAL_SPEC B1).
        from emodal.sandbox import SandboxServer

        sandbox = SandboxServer(profile=args.sandbox_profile).start()
        settings = settings.with_sandbox(sandbox.base_url)
        print(f"EMODAL SANDBOX READY {sandbox.base_url}", flush=True)
    try:
        app = create_app(settings)
    except (StateError, ConfigError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr, flush=True)
        if sandbox is not None:
            sandbox.stop()
        return EXIT_STATE_UNUSABLE if isinstance(exc, StateError) else 2
    server = build_server(app, settings)
    port = getattr(server, "effective_port", settings.port)
    serving = threading.Thread(target=server.run, name="waitress", daemon=True)
    serving.start()
    print(f"EMODAL API READY http://{settings.host}:{port}", flush=True)

    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    while not stop.wait(1):
        if not serving.is_alive():
            break
    # The server keeps answering (503 for new requests) while running operations finish.
    shutdown(app)
    server.close()
    if sandbox is not None:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
