"""After a workflow succeeds: copy outputs and call logs where the options say."""

from __future__ import annotations

import os
import shutil
from typing import Any

from ironside import failpoints
from ironside.engine.options import Options
from ironside.filesystems.local import LocalFileSystem
from ironside.wdl.values import files_in

_fs = LocalFileSystem()


class OutputCollision(FileExistsError):
    """Two workflow outputs would be copied to the same final path (fails the workflow)."""


def _targets(
    outputs_json: dict[str, Any], root: str, options: Options
) -> tuple[str, dict[str, tuple[str, str]]] | None:
    """(destination, {source path: (target path, output name)}); None: nothing to copy."""
    dest = options.get("final_workflow_outputs_dir")
    if not dest:
        return None
    relative = str(options.get("use_relative_output_paths", False)).lower() == "true"
    base = os.path.dirname(os.path.dirname(root))  # <backend root>
    targets: dict[str, tuple[str, str]] = {}
    for name, value in outputs_json.items():
        for path in files_in_json(value):
            if "://" in path or not os.path.exists(path):
                continue
            if relative and "/execution/" in path:
                rel = path.split("/execution/", 1)[1]
            else:
                rel = os.path.relpath(path, base) if path.startswith(base) else path.lstrip("/")
            targets[path] = (os.path.join(os.path.abspath(dest), rel), name)
    return dest, targets


def check_output_paths(outputs_json: dict[str, Any], root: str, options: Options) -> None:
    """Raise ``OutputCollision`` naming both outputs when two files land on one final path."""
    planned = _targets(outputs_json, root, options)
    seen: dict[str, tuple[str, str]] = {}
    for source, (target, name) in (planned[1] if planned else {}).items():
        other = seen.setdefault(target, (source, name))
        if other[0] != source:
            raise OutputCollision(
                f"final_workflow_outputs_dir: outputs {other[1]} ({other[0]}) and {name} "
                f"({source}) would both be copied to {target}"
            )


def copy_outputs(outputs_json: dict[str, Any], root: str, options: Options) -> dict[str, Any]:
    """Copy output files under ``final_workflow_outputs_dir``; return the outputs pointing there.

    Paths keep their layout below the workflow root, or (``use_relative_output_paths``)
    their path relative to the call's execution directory; two files on one path raise
    ``OutputCollision`` before anything is copied.
    """
    planned = _targets(outputs_json, root, options)
    if planned is None:
        return outputs_json
    check_output_paths(outputs_json, root, options)
    targets = planned[1]

    def place(path: str) -> str:
        if path not in targets:
            return path
        target = targets[path][0]
        if os.path.isdir(path):  # a WDL 1.2 Directory output
            shutil.copytree(path, target, dirs_exist_ok=True)
        else:
            _fs.copy(path, target)
        failpoints.hit("output-copy")
        return target

    return {k: _rewrite(v, place) for k, v in outputs_json.items()}


def files_in_json(value: Any) -> list[str]:
    """The absolute paths in an output's JSON value."""
    if isinstance(value, str):
        return [value] if os.path.isabs(value) else []
    if isinstance(value, list):
        return [p for v in value for p in files_in_json(v)]
    if isinstance(value, dict):
        return [p for v in value.values() for p in files_in_json(v)]
    return []


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
