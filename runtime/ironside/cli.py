"""The ``ironside`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ironside import __version__
from ironside.errors import UserError
from ironside.server import cli as server_cli

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ironside",
        description="Run WDL workflows locally or on AWS Batch; serve Cromwell's REST API.",
    )
    parser.add_argument("--version", action="version", version=f"ironside {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run one workflow to its end (Cromwell's run mode)")
    run.add_argument("workflow", nargs="?", help="WORKFLOW.wdl (not needed with --resume)")
    run.add_argument("-i", "--inputs", help="inputs JSON")
    run.add_argument("-o", "--options", help="workflow options JSON")
    run.add_argument("-l", "--labels", help="labels JSON")
    run.add_argument("-p", "--imports", help="zip of WDL files to import from")
    run.add_argument(
        "--allow-path",
        action="append",
        default=[],
        metavar="DIR",
        help="also allow imports from DIR (besides the WDL's directory and -p); repeatable",
    )
    run.add_argument("-m", "--metadata-output", help="write the workflow's metadata JSON here")
    run.add_argument("--config", help="HOCON config (default: $IRONSIDE_CONFIG, else embedded)")
    run.add_argument("--resume", metavar="WORKFLOW_ID", help="finish a workflow after a crash")
    server_cli.add_server_command(sub)
    return parser


def _setup_logging() -> None:
    level = os.environ.get("IRONSIDE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ironside`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    _setup_logging()
    if args.command == "run":
        try:
            return run_command(args)
        except UserError as exc:
            print(f"ironside: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.command == "server":
        return server_cli.run_server(args)
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    """``ironside run``: validate, store, run, report."""
    from ironside.config import load_settings
    from ironside.engine import submit as S

    settings = load_settings(args.config)
    provider = settings.provider()
    if args.resume:
        store = _open_store(settings.database_url)
        sub, row = S.load_stored(store, args.resume)
        wf_id, root = args.resume, row["root"]
    else:
        if not args.workflow:
            raise UserError("run: WORKFLOW.wdl is required (or --resume WORKFLOW_ID)")
        sub = S.prepare(
            args.workflow,
            args.inputs,
            args.options,
            args.labels,
            args.imports,
            tuple(args.allow_path),
            settings.limits,
        )
        from ironside.backends.selection import make_backend, validate_options

        backend_check = make_backend(provider)
        try:
            validate_options(backend_check, sub.options.raw)  # AWS Batch: job role, script prefix
        finally:
            backend_check.close()
        store = _open_store(settings.database_url)
        wf_id = S.store_submission(store, sub, provider.name, provider.root)
        root = store.workflow(wf_id)["root"]
    return _execute(settings, provider, store, sub, wf_id, root, args)


def _open_store(url: str) -> Any:
    from ironside.store import open_store

    return open_store(url)  # BadConfig when the database cannot be opened


def _execute(
    settings: Any, provider: Any, store: Any, sub: Any, wf_id: str, root: str, args: Any
) -> int:
    from ironside.backends.selection import engine_job_limit, make_backend
    from ironside.engine import submit as S
    from ironside.engine.finalize import copy_call_logs, copy_outputs
    from ironside.engine.scheduler import Engine
    from ironside.limits import Budget
    from ironside.metadata import workflow_metadata
    from ironside.progress import make_progress

    backend = make_backend(provider)
    cache = None
    if settings.call_caching_enabled:  # the call-cache package loads botocore: only when on
        from ironside.callcache.engine_setup import cache_step_from_settings, for_store
        from ironside.filesystems import registry

        s3 = registry.s3().client  # the engine's S3 client (AWS Batch: the backend's)
        step = cache_step_from_settings(settings, provider, store.engine, s3_client=s3)
        cache = for_store(step, store)
    engine = Engine(
        store,
        backend,
        engine_job_limit(provider),
        default_runtime=provider.default_runtime_attributes,
        cache=cache,
    )
    run = S.top_run(sub, wf_id, root, resume=store if args.resume else None)
    run.stdlib.confine(None, Budget(settings.limits))  # the user's machine: limits, no confinement
    progress = make_progress(f"{sub.workflow.name} {wf_id}")
    engine.on_tick = progress

    def on_signal(signum: int, _frame: Any) -> None:
        engine.abort_requested = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    logging.getLogger("ironside").info("workflow %s %s starting", sub.workflow.name, wf_id)
    try:
        engine.run(run)
    finally:
        progress.stop()
        for s, h in old.items():
            signal.signal(s, h)
        backend.close()
    outputs = json.loads(store.workflow(wf_id)["outputs"] or "{}")
    if run.status == "Succeeded":
        outputs = copy_outputs(outputs, root, sub.options)
        copy_call_logs(store.calls(wf_id), root, sub.options)
    if args.metadata_output:
        with open(args.metadata_output, "w") as fh:
            json.dump(workflow_metadata(store, wf_id), fh, indent=2)
    store.close()
    if run.status == "Succeeded":
        print(json.dumps({"id": wf_id, "outputs": outputs}, indent=2))
        return EXIT_OK
    for failure in run.failures:
        print(f"ironside: {run.status.lower()}: {failure['message']}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
