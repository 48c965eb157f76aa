"""``ironside server [--config app.conf] [--host 127.0.0.1] [--port 8000]``.

``ironside.cli`` wires it in with ``add_server_command(sub)`` and, for
``args.command == "server"``, ``run_server(args)``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from typing import Any

from ironside.errors import BadConfig, UserError
from ironside.redact import install_log_redaction, secret_values, url_password
from ironside.server.settings import ServerSettings, settings_from_config

log = logging.getLogger(__name__)


def add_server_command(subparsers: Any) -> None:
    """Add the ``server`` subcommand to the ``ironside`` argument parser."""
    server = subparsers.add_parser("server", help="serve Cromwell's REST API (cromshell works)")
    server.add_argument("--config", help="HOCON config (default: $IRONSIDE_CONFIG, else embedded)")
    server.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, help="port to listen on (default 8000)")


def _config_block(path: str | None, key: str) -> dict[str, Any]:
    if not path:
        return {}
    from pyhocon import ConfigFactory, ConfigTree  # type: ignore[import-untyped]

    try:
        tree = ConfigFactory.parse_file(path)
    except Exception as exc:
        raise BadConfig(f"config {path}: cannot parse: {str(exc).splitlines()[0]}") from None
    block = tree.get(key, None)
    if isinstance(block, ConfigTree):
        return dict(block.as_plain_ordered_dict())
    return {}


def load_server_settings(args: argparse.Namespace) -> ServerSettings:
    """Server settings from the config file, the environment and the command line."""
    path = args.config or os.environ.get("IRONSIDE_CONFIG") or None
    settings = settings_from_config(
        _config_block(path, "ironside.server"),
        _config_block(path, "webservice"),
        limits=_config_block(path, "ironside.limits"),
    )
    if args.host:
        settings = replace(settings, host=args.host)
    if args.port is not None:
        settings = replace(settings, port=args.port)
    return settings


def run_server(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 on bad config."""
    import uvicorn

    from ironside.server.app import create_app
    from ironside.server.engine_adapter import build_engine_port

    try:
        settings = load_server_settings(args)
        engine = build_engine_port(args.config, settings.max_workflows)
    except UserError as exc:
        print(f"ironside: error: {exc}", file=sys.stderr)
        return 2
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.auth_token:
        log.warning(
            "listening on %s without a bearer token: anyone who can reach it can submit",
            settings.host,
        )
    app = create_app(settings, engine)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info")
    server = uvicorn.Server(config)  # its logging is configured now: filter it from here on
    db_password = url_password(engine.settings.database_url)
    install_log_redaction(secret_values(extra=[settings.auth_token, db_password]))
    hide_environment()
    server.run()
    return 0


def hide_environment() -> None:
    """Make this process non-dumpable (Linux): ``/proc/<pid>/environ`` and friends become
    unreadable to other processes of the same user, such as local tasks (a task's own
    ``execve`` makes it dumpable again, so the engine still reads its tasks' ``/proc``)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_dumpable = 4
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("could not make the server non-dumpable; local tasks may read its /proc")
