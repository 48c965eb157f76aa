"""After a workflow succeeds: copy outputs and call logs where the options say."""

from __future__ import annotations

import os
from typing import Any

from ironside import failpoints
from ironside.engine.options import Options
from ironside.filesystems.local import LocalFileSystem
from ironside.wdl.values import files_in

_fs = LocalFileSystem()


def copy_outputs(outputs_json: dict[str, Any], root: str, options: Options) -> dict[str, Any]:
    """Copy output files under ``final_workflow_outputs_dir``; return the outputs pointing there.

    Paths keep their layout below the workflow root, or (``use_relative_output_paths``)
    their path relative to the call's execution directory.
    """
    dest = options.get("final_workflow_outputs_dir")
    if not dest:
        return outputs_json
    relative = str(options.get("use_relative_output_paths", False)).lower() == "true"
    base = os.path.dirname(os.path.dirname(root))  # <backend root>

    def place(path: str) -> str:
        if "://" in path or not os.path.isfile(path):
            return path
        if relative and "/execution/" in path:
            rel = path.split("/execution/", 1)[1]
        else:
            rel = os.path.relpath(path, base) if path.startswith(base) else path.lstrip("/")
        target = os.path.join(os.path.abspath(dest), rel)
        _fs.copy(path, target)
        failpoints.hit("output-copy")
        return target

    return {k: _rewrite(v, place) for k, v in outputs_json.items()}


def _rewrite(value: Any, place: Any) -> Any:
    if isinstance(value, str):
        return place(value) if os.path.isabs(value) else value
    if isinstance(value, list):
        return [_rewrite(v, place) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, place) for k, v in value.items()}
    return value


def copy_call_logs(calls: list[dict[str, Any]], root: str, options: Options) -> None:
    """Copy every call's stdout/stderr under ``final_call_logs_dir``."""
    dest = options.get("final_call_logs_dir")
    if not dest:
        return
    base = os.path.dirname(os.path.dirname(root))
    for row in calls:
        if not row["call_root"] or row["sub_workflow_id"]:
            continue
        for name in ("stdout", "stderr"):
            src = os.path.join(row["call_root"], "execution", name)
            if os.path.isfile(src):
                rel = os.path.relpath(row["call_root"], base)
                _fs.copy(src, os.path.join(os.path.abspath(dest), rel, name))


def write_workflow_log(workflow_id: str, events: list[dict[str, Any]], options: Options) -> None:
    """Write ``workflow.<id>.log`` (its events, one a line) in ``final_workflow_log_dir``."""
    dest = options.get("final_workflow_log_dir")
    if not dest:
        return
    lines = [f"{_iso(e['ts'])} {e['key']} {e['value']}" for e in events]
    path = os.path.join(os.path.abspath(dest), f"workflow.{workflow_id}.log")
    _fs.write_bytes(path, ("\n".join(lines) + "\n").encode())


def _iso(ts: float | None) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts or 0, UTC).isoformat(timespec="milliseconds")


__all__ = ["copy_outputs", "copy_call_logs", "files_in", "write_workflow_log"]
