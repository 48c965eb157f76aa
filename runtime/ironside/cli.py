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
    run = sub.add_parser(
        "run",
        help="run one workflow (or task) to its end (Cromwell's run mode)",
        description="Run the document's workflow, or with --task NAME that task alone; a"
        " document without a workflow runs its only task. A task's inputs are keyed"
        " NAME.input (or input), its outputs NAME.output.",
    )
    run.add_argument("workflow", nargs="?", help="WORKFLOW.wdl (not needed with --resume)")
    run.add_argument(
        "--task",
        metavar="NAME",
        help="run task NAME of the document alone (needed when it has several tasks and no"
        " workflow), as miniwdl run --task",
    )
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
    """Entry point of the ``ironside`` console script (``argv`` None: this process's own
    command line; a finished ``run`` then leaves without tearing the interpreter down)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    _setup_logging()
    if args.command == "run":
        try:
            rc = run_command(args)
        except UserError as exc:
            print(f"ironside: error: {exc}", file=sys.stderr)
            rc = EXIT_BAD_INPUT
        if argv is None:
            _exit_now(rc)
        return rc
    if args.command == "server":
        return server_cli.run_server(args)
    return EXIT_OK


def _exit_now(rc: int) -> None:
    """End the process with ``rc`` once output is flushed and ``atexit`` handlers ran.

    Everything the run opened is closed by then (the service, the store); what is
    skipped is the interpreter's teardown of every module and object, a tenth of a
    small workflow's wall time (``bench/small_workflow.py``).
    """
    import atexit

    logging.shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def run_command(args: argparse.Namespace) -> int:
    """``ironside run``: a workflow service with one workflow, run to its end in the foreground."""
    from ironside.assembly import build_service
    from ironside.config import load_settings
    from ironside.engine import submit as S
    from ironside.wdl.reach import Confinement

    settings = load_settings(args.config)
    if args.resume:
        if args.task:
            raise UserError("run: --task does not go with --resume (the stored run names it)")
        service = build_service(settings)
        sub, _ = S.load_stored(service.store, args.resume)
        wf_id = args.resume
    else:
        if not args.workflow:
            raise UserError("run: WORKFLOW.wdl is required (or --resume WORKFLOW_ID)")
        reach = Confinement(settings.limits, allow_paths=tuple(args.allow_path))
        reach = reach.reading_s3(_read_s3_import)  # a boto3 client only when one is imported
        sub = S.prepare(
            args.workflow, args.inputs, args.options, args.labels, args.imports, reach, args.task
        )
        service = build_service(settings)
        try:
            service.validate(sub)  # AWS Batch: job role, script prefix
        except UserError:
            service.close()
            raise
        wf_id = service.store_only(sub)
    return _execute(service, sub, wf_id, args)


def _read_s3_import(url: str, limit: int) -> bytes:
    """An ``s3://`` import of ``ironside run`` (the default credential chain)."""
    from ironside.filesystems.dispatch import FileSystems

    files = FileSystems()
    try:
        return files.read_prefix(url, limit)
    finally:
        files.close()


def _execute(service: Any, sub: Any, wf_id: str, args: Any) -> int:
    from ironside.metadata import workflow_metadata
    from ironside.progress import make_progress

    progress = make_progress(f"{sub.workflow.name} {wf_id}")
    service.engine.on_tick = progress

    def on_signal(signum: int, _frame: Any) -> None:
        service.engine.abort_all()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    logging.getLogger("ironside").info("workflow %s %s starting", sub.workflow.name, wf_id)
    try:
        run = service.run_foreground(wf_id, sub, resume=bool(args.resume))
    finally:
        progress.stop()
        for s, h in old.items():
            signal.signal(s, h)
    store = service.store
    outputs = run.final_outputs
    if outputs is None:
        outputs = json.loads(store.workflow(wf_id)["outputs"] or "{}")
    if args.metadata_output:
        with open(args.metadata_output, "w") as fh:
            json.dump(workflow_metadata(store, wf_id), fh, indent=2)
    service.close()
    if run.status == "Succeeded":
        print(json.dumps({"id": wf_id, "outputs": outputs}, indent=2))
        return EXIT_OK
    for failure in run.failures:
        print(f"ironside: {run.status.lower()}: {failure['message']}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
