"""``ironside server [--config app.conf] [--host 127.0.0.1] [--port 8000]``.

``ironside.cli`` wires it in with ``add_server_command(sub)`` and, for
``args.command == "server"``, ``run_server(args)``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ironside.errors import UserError
from ironside.redact import install_log_redaction, secret_values, url_password
from ironside.server.settings import ServerSettings, settings_from_config

if TYPE_CHECKING:  # the config (pyhocon) loads only when it is read: ironside --version
    from ironside.config import Settings

log = logging.getLogger(__name__)


def add_server_command(subparsers: Any) -> None:
    """Add the ``server`` subcommand to the ``ironside`` argument parser."""
    server = subparsers.add_parser("server", help="serve Cromwell's REST API (cromshell works)")
    server.add_argument("--config", help="HOCON config (default: $IRONSIDE_CONFIG, else embedded)")
    server.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, help="port to listen on (default 8000)")


def load_server_settings(
    args: argparse.Namespace, settings: Settings | None = None
) -> ServerSettings:
    """Server settings from the engine's config (read once), the environment, the command line."""
    from ironside.config import load_settings

    settings = settings or load_settings(args.config)
    server = settings_from_config(
        settings.section("ironside.server"),
        settings.section("webservice"),
        limits=settings.section("ironside.limits"),
    )
    if args.host:
        server = replace(server, host=args.host)
    if args.port is not None:
        server = replace(server, port=args.port)
    return server


def run_server(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 on bad config."""
    import uvicorn

    from ironside.config import load_settings
    from ironside.server.app import create_app
    from ironside.server.engine_adapter import engine_port

    try:
        config = load_settings(args.config)
        settings = load_server_settings(args, config)
        engine = engine_port(config, settings.max_workflows or None)
    except UserError as exc:
        print(f"ironside: error: {exc}", file=sys.stderr)
        return 2
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.auth_token:
        log.warning(
            "listening on %s without a bearer token: anyone who can reach it can submit",
            settings.host,
        )
    app = create_app(settings, engine, s3_read=engine.service.files.read_prefix)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info")
    )  # its logging is configured now: filter it from here on
    db_password = url_password(config.database_url)
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
