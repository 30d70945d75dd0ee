"""``sourcewise serve``: the router over HTTP on a durable ledger (see :mod:`sourcewise.engine.service`)."""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve routing over HTTP (JSON API, platform webhooks) on a durable ledger")
    p.add_argument("--store", required=True,
                   help="ledger URL: sqlite:///path.db or postgresql://...; recovered when it holds a ledger")
    p.add_argument("--scenario", help="scenario folder a new ledger starts from (network, stock, policy)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--max-body", type=int, default=1 << 20, help="largest request body in bytes (default 1 MiB)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                   help="info logs one JSON line per request (default: info; warning with --quiet, debug with "
                        "--verbose)")
    p.add_argument("--graceful-timeout", type=float, default=30.0,
                   help="seconds requests in flight may take to finish after SIGTERM or SIGINT (default 30)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from sourcewise.engine.service.app import ServiceConfig
    from sourcewise.engine.service.app import create_app
    from sourcewise.engine.service.app import log_config
    from sourcewise.engine.service.auth import ENV

    config = ServiceConfig(args.store, args.scenario, max_body=args.max_body)
    missing = [var for group, var in ENV.items() if not getattr(config.secrets, group)]
    if missing:
        logging.getLogger("sourcewise.service").warning("%s not set: those endpoints refuse every request",
                                                        ", ".join(missing))
    level = args.log_level or ("warning" if args.quiet else "debug" if args.verbose else "info")
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_config=log_config(level),
                access_log=False, timeout_graceful_shutdown=args.graceful_timeout, server_header=False)
    return 0
