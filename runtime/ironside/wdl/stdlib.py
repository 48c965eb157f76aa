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
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from WDL import Error, StdLib, Type, Value

from ironside.errors import LimitExceeded
from ironside.filesystems.dispatch import FileSystems
from ironside.limits import Budget
from ironside.wdl.confine import PathPolicy, real_call_dir
from ironside.wdl.values import files_in
from ironside.wdl.versions import at_least

#: Files read through a local copy the engine downloads.
REMOTE_PREFIXES = ("s3://", "http://", "https://")


class _BoundedRange(StdLib.EagerFunction):
    """``range(n)`` that refuses ``n`` over the shard limit before building anything."""

    def __init__(self, inner: Any, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def infer_type(self, expr: Any) -> Type.Base:
        return self.inner.infer_type(expr)  # type: ignore[no-any-return]

    def _call_eager(self, expr: Any, arguments: list[Value.Base]) -> Value.Base:
        count = arguments[0].coerce(Type.Int()).value
        try:
            self.budget.shards(int(count), "range(): elements")
        except LimitExceeded as exc:
            raise Error.EvalError(expr, str(exc)) from None
        if count < 0:
            return self.inner._call_eager(expr, arguments)  # type: ignore[no-any-return]
        return RangeArray(Type.Int(), IntRange(int(count)))  # type: ignore[arg-type]


class RangeArray(Value.Array):
    """The value of ``range(n)``: its items are made on access (``IntRange``). It has no
    children to walk: integers hold no files, and miniwdl's ``expr`` setter would otherwise
    build every item."""

    @property
    def children(self) -> Iterable[Value.Base]:
        return ()


class IntRange(Sequence[Value.Int]):
    """``0 .. n-1`` as ``Value.Int`` made on access: a scatter over ``range(n)`` holds only the
    shards it has started, not ``n`` values (a million ``Value.Int`` are ~230 MB)."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, index: int) -> Value.Int: ...

    @overload
    def __getitem__(self, index: slice) -> list[Value.Int]: ...

    def __getitem__(self, index: int | slice) -> Value.Int | list[Value.Int]:
        if isinstance(index, slice):
            return [Value.Int(i) for i in range(*index.indices(self.n))]
        i = index + self.n if index < 0 else index
        if not 0 <= i < self.n:
            raise IndexError(index)
        return Value.Int(i)

    def __iter__(self) -> Iterator[Value.Int]:
        return (Value.Int(i) for i in range(self.n))


def _bound_range(lib: StdLib.Base, budget: Budget) -> None:
    inner = lib.range.inner if isinstance(lib.range, _BoundedRange) else lib.range
    lib.range = _BoundedRange(inner, budget)  # type: ignore[assignment]


def _json_ready(value: Value.Base) -> Value.Base:
    """``value``, once no Map in it has keys other than String or File (1.2: such a Map
    is not serializable; miniwdl writes its keys as strings)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Value.Map):
            key_type = item.type.item_type[0]  # type: ignore[attr-defined]
            if not isinstance(key_type, Type.String | Type.File):
                raise ValueError(f"a Map with {key_type} keys is not serializable to JSON")
        stack.extend(item.children)
    return value


def _strict_write_json(lib: StdLib.Base) -> None:
    if not at_least(lib.wdl_version, "1.2"):  # 1.0 and 1.1 write Int keys as strings
        return

    def serialize(value: Value.Base, outfile: Any) -> None:
        outfile.write(json.dumps(_json_ready(value).json).encode("utf-8"))

    lib._override_static("write_json", lib._write(serialize))


class WorkflowStdLib(StdLib.Base):
    """Stdlib for workflow-level expressions: paths are local host paths."""

    def __init__(
        self,
        wdl_version: str,
        write_dir: str,
        files: FileSystems,
        source_dir: str = "",
        budget: Budget | None = None,
        policy: PathPolicy | None = None,
    ) -> None:
        """``budget``: the limits of the top-level workflow (shared with its sub-workflows);
        ``policy``: the files it may read (None: any, as for ``ironside run``)."""
        super().__init__(wdl_version, write_dir=write_dir)
        self.files = files
        self.source_dir = source_dir
        self.budget = budget or Budget()
        self.policy = policy
        _bound_range(self, self.budget)
        _strict_write_json(self)

    def for_child(self, wdl_version: str, write_dir: str) -> WorkflowStdLib:
        """The stdlib of a sub-workflow: same source directory, budget and policy."""
        return WorkflowStdLib(
            wdl_version, write_dir, self.files, self.source_dir, self.budget, self.policy
        )

    def confine(self, policy: PathPolicy | None, budget: Budget | None = None) -> None:
        """Read only what ``policy`` allows (the server); count against ``budget``."""
        self.policy = policy
        if budget is not None:
            self.budget = budget
            _bound_range(self, budget)

    def _devirtualize_filename(self, filename: str) -> str:
        if self.policy is not None:
            self.policy.check(filename, "workflow expression")
        if filename.startswith(REMOTE_PREFIXES):
            return self.files.local_copy(filename)
        if not os.path.isabs(filename) and self.source_dir:
            if self.policy is not None:  # relative to the engine's directory: not a submission's
                raise ValueError(f"workflow expression: relative path {filename} not allowed")
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
        self._policy: PathPolicy | None = PathPolicy()  # nothing until point_at
        self._policy_of: tuple[str, tuple[Value.Base, ...]] = ("", ())
        self._override_static("stdout", self._stdout)
        self._override_static("stderr", self._stderr)
        self._override_static("glob", self._glob)
        _bound_range(self, Budget())
        _strict_write_json(self)

    def point_at(self, execution_dir: str, values: Iterable[Value.Base] = ()) -> TaskStdLib:
        """Use this attempt's directory for relative paths and ``write_*`` files; read only
        files under the call's directory, the files inside ``values`` (the call's inputs)
        and ``s3://`` objects."""
        self.execution_dir = execution_dir
        self._write_dir = os.path.join(execution_dir, "write_")
        # built when a file is first read: most evaluations (inputs, runtime, command) read none
        self._policy = None
        self._policy_of = (execution_dir, tuple(values))
        return self

    @property
    def policy(self) -> PathPolicy:
        """What this call's expressions may read (see ``call_policy``)."""
        if self._policy is None:
            execution_dir, values = self._policy_of
            inputs = [f for v in values for f in files_in(v)]
            self._policy = call_policy(execution_dir, inputs)
        return self._policy

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
        self.policy.check(filename, "task expression")
        if filename.startswith(REMOTE_PREFIXES):
            return self.files.local_copy(filename)
        return filename

    def _virtualize_filename(self, filename: str) -> str:
        return filename

    def _resolve_source_relative_path(self, filename: str) -> str:
        return self._devirtualize_filename(filename)

    def _join_paths_default_directory(self) -> str:
        return self.execution_dir


def call_policy(execution_dir: str, inputs: Iterable[str]) -> PathPolicy:
    """What a call's own expressions may read: its directory, its input files, ``s3://``."""
    call_dir = os.path.dirname(execution_dir.rstrip("/"))
    if "://" in call_dir:
        return PathPolicy.of((call_dir, "s3://"), inputs)
    call_dir = os.path.abspath(call_dir)
    return PathPolicy.of(("s3://",), inputs).with_named_root(call_dir, real_call_dir(call_dir))


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
