"""Standard libraries bound to where files live, one instance reused for many evaluations.

miniwdl's ``StdLib.Base`` builds dozens of function objects when constructed,
so each engine keeps one per (WDL version, role) and points it at the current
call's directories before each evaluation (an engine's scheduler is one thread;
two engines never share an instance). ``s3://`` paths go through the
``FileSystems`` handed in.
"""

from __future__ import annotations

import fnmatch
import glob as globmod
import os

from WDL import StdLib, Type, Value

from ironside.filesystems.dispatch import FileSystems


class WorkflowStdLib(StdLib.Base):
    """Stdlib for workflow-level expressions: paths are local host paths."""

    def __init__(
        self, wdl_version: str, write_dir: str, files: FileSystems, source_dir: str = ""
    ) -> None:
        super().__init__(wdl_version, write_dir=write_dir)
        self.files = files
        self.source_dir = source_dir

    def _devirtualize_filename(self, filename: str) -> str:
        if filename.startswith("s3://"):
            return self.files.local_copy(filename)
        if not os.path.isabs(filename) and self.source_dir:
            return os.path.join(self.source_dir, filename)
        return filename

    def _virtualize_filename(self, filename: str) -> str:
        return filename

    def _resolve_source_relative_path(self, filename: str) -> str:
        return self._devirtualize_filename(filename)

    def _join_paths_default_directory(self) -> str:
        return self.source_dir or os.getcwd()


class TaskStdLib(StdLib.TaskOutputs):
    """Stdlib for task expressions; ``point_at`` sets the attempt's execution directory.

    With ``outputs=True`` it offers ``stdout()``, ``stderr()`` and ``glob()``;
    relative paths resolve against the working directory.
    """

    def __init__(self, wdl_version: str, outputs: bool, files: FileSystems) -> None:
        super().__init__(wdl_version, write_dir="/tmp")
        self.files = files
        self.execution_dir = "/tmp"
        self.is_output = outputs
        self._override_static("stdout", self._stdout)
        self._override_static("stderr", self._stderr)
        self._override_static("glob", self._glob)

    def point_at(self, execution_dir: str) -> TaskStdLib:
        """Use this attempt's directory for relative paths and ``write_*`` files."""
        self.execution_dir = execution_dir
        self._write_dir = os.path.join(execution_dir, "write_")
        return self

    def _stdout(self) -> Value.File:
        return Value.File(os.path.join(self.execution_dir, "stdout"))

    def _stderr(self) -> Value.File:
        return Value.File(os.path.join(self.execution_dir, "stderr"))

    def _glob(self, pattern: Value.String) -> Value.Array:
        pat = pattern.value
        if os.path.isabs(pat) or ".." in pat.split("/"):
            raise ValueError(f"glob pattern must be relative to the working directory: {pat}")
        if self.execution_dir.startswith("s3://"):
            return Value.Array(
                Type.File(),
                [Value.File(p) for p in _s3_glob(self.files, self.execution_dir, pat)],
            )
        hits = sorted(
            p for p in globmod.glob(os.path.join(self.execution_dir, pat)) if os.path.isfile(p)
        )
        return Value.Array(Type.File(), [Value.File(p) for p in hits])

    def _devirtualize_filename(self, filename: str) -> str:
        if not os.path.isabs(filename) and "://" not in filename:
            filename = os.path.join(self.execution_dir, filename)
        if filename.startswith("s3://"):
            return self.files.local_copy(filename)
        return filename

    def _virtualize_filename(self, filename: str) -> str:
        return filename

    def _resolve_source_relative_path(self, filename: str) -> str:
        return self._devirtualize_filename(filename)

    def _join_paths_default_directory(self) -> str:
        return self.execution_dir


def _s3_glob(files: FileSystems, execution_dir: str, pattern: str) -> list[str]:
    """Objects under ``execution_dir`` whose relative key matches ``pattern`` (``*`` stays in
    one path segment, as in the shell)."""
    prefix = execution_dir.rstrip("/") + "/"
    depth = pattern.count("/")
    hits = []
    for uri in files.list(prefix):
        rel = uri[len(prefix) :]
        if rel.count("/") == depth and fnmatch.fnmatchcase(rel, pattern):
            hits.append(uri)
    return sorted(hits)
