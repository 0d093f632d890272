"""`python -m emodal.sandbox` (B2): serve the sandbox portal and print one READY line."""

from __future__ import annotations

import argparse
import logging
import sys

from werkzeug.serving import make_server

from . import create_app
from .config import SandboxConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emodal.sandbox",
                                     description="Local replica of the E-Modal portal (tests and demo).")
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8470; 0 picks a free one)")
    parser.add_argument("--profile", choices=("fast", "realistic"), help="timing profile (default fast)")
    parser.add_argument("--seed", type=int, help="data seed (default 1)")
    parser.add_argument("--containers", type=int, help="containers of the main account (default 450)")
    parser.add_argument("--accounts", type=int,
                        help="generated accounts user001..userNNN besides jdoe/asmith (default 0)")
    parser.add_argument("--today", help="YYYY-MM-DD (default: the real date)")
    parser.add_argument("--tz", help="time zone (default America/Los_Angeles)")
    parser.add_argument("--idle-timeout", type=int, dest="idle_timeout", help="session idle timeout, s (default 1200)")
    parser.add_argument("--captcha-mode", choices=("challenge", "trusted"), dest="captcha_mode",
                        help="checkbox behaviour (default challenge)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a timing/behaviour knob, e.g. --set page_boot_ms.termops=0")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = {k: getattr(args, k) for k in ("host", "port", "profile", "seed", "containers", "accounts",
                                              "today", "tz", "idle_timeout", "captcha_mode")}
    try:
        config = SandboxConfig.from_sources(options, args.set)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(config.host, config.port, create_app(config), threaded=True)
    config.port = server.server_port
    print(f"EMODAL SANDBOX READY http://{config.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
