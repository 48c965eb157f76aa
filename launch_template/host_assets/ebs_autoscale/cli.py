"""Command line: ``python3 -m ebs_autoscale [--config PATH] [--dry-run] {run,status,init}``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .config import Config, ConfigError, load_config
from .daemon import Daemon, GrowthFailed
from .filesystem import choose_filesystem
from .imds import Imds
from .lock import AlreadyRunning, SingleInstanceLock
from .ports import SystemClock, run_command

DEFAULT_CONFIG_PATH = "/etc/ironside/ebs-autoscale.json"
log = logging.getLogger("ebs_autoscale")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="ebs_autoscale", description="Grow a scratch file system with EBS volumes."
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG_PATH, help="JSON config file")
    parser.add_argument("--dry-run", action="store_true", help="decide and log, but change nothing")
    parser.add_argument(
        "command",
        choices=("run", "status", "init"),
        help="run: the daemon loop; status: usage, volumes, limits as JSON; "
        "init: create and mount the file system once",
    )
    return parser.parse_args(argv)


def configure_logging(config: Config) -> None:
    """One event a line, to stderr (the journal) and to ``log_file`` when set."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.log_file:
        try:
            handlers.append(logging.FileHandler(config.log_file))
        except OSError as error:
            print(f"ebs_autoscale: cannot log to {config.log_file}: {error}", file=sys.stderr)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        handlers=handlers,
        force=True,
    )


def ec2_client(region: str) -> Any:
    """A boto3 EC2 client; our own retrier handles throttling, so botocore tries once."""
    import boto3
    from botocore.config import Config as BotoConfig

    botocore_config = BotoConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.client("ec2", region_name=region, config=botocore_config)


def build_daemon(config: Config, dry_run: bool) -> Daemon:
    """The daemon wired to the real IMDS, EC2, commands and clock."""
    return Daemon(
        config=config,
        imds=Imds(config.imds_endpoint, config.imds_timeout_s),
        ec2_factory=ec2_client,
        fs=choose_filesystem(config.filesystem, config.mountpoint, run_command),
        clock=SystemClock(),
        dry_run=dry_run,
    )


def run_forever(daemon: Daemon) -> None:
    """The loop, until SIGTERM or SIGINT."""
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        log.info("event=stopping signal=%d", signum)
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        daemon.run(lambda: bool(stopping))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None, daemon: Daemon | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"ebs_autoscale: {error}", file=sys.stderr)
        return 2
    configure_logging(config)
    read_only = args.dry_run or args.command == "status"
    daemon = daemon or build_daemon(config, read_only)
    if args.command == "status":
        print(json.dumps(daemon.status(), indent=2, sort_keys=True))
        return 0
    try:
        with SingleInstanceLock(config.lock_file):
            if args.command == "init":
                daemon.init()
            else:
                run_forever(daemon)
    except AlreadyRunning as error:
        log.error("event=already_running reason=%s", error)
        return 1
    except GrowthFailed as error:
        log.error("event=init_failed reason=%s", error)
        return 1
    except Exception as error:  # init: any failure must fail the host setup, with a reason
        log.error("event=failed error=%s reason=%s", type(error).__name__, error)
        return 1
    return 0
