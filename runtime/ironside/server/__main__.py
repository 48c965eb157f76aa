"""``python -m ironside.server [--config ...] [--host ...] [--port ...]``: the server alone."""

from __future__ import annotations

import argparse
import logging
import sys

from ironside.server.cli import add_server_command, run_server


def main(argv: list[str] | None = None) -> int:
    """Parse ``server`` options and serve."""
    parser = argparse.ArgumentParser(prog="python -m ironside.server")
    sub = parser.add_subparsers(dest="command")
    add_server_command(sub)
    args = parser.parse_args(["server", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return run_server(args)


if __name__ == "__main__":
    sys.exit(main())
