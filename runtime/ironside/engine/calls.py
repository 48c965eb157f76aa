"""Evaluating one task call attempt: its task environment, command, runtime, outputs."""

from __future__ import annotations

import json
import math
import os
import shlex
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

import WDL
from WDL import Env, Type, Value

from ironside.engine.plan import TaskPlan
from ironside.errors import UserError
from ironside.filesystems.dispatch import FileSystems
from ironside.wdl.grammar import task_hints
from ironside.wdl.requirements import engine_key, engine_value
from ironside.wdl.stdlib import TaskStdLib, WorkflowStdLib
from ironside.wdl.values import files_in, has_files, meta_json
from ironside.wdl.versions import at_least

#: What evaluating WDL can raise on bad values (not bugs of the engine).
EVAL_ERRORS = (
    WDL.Error.RuntimeError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
)


class CallFailure(Exception):
    """A call attempt failed in a way a user can read (not retried)."""


class TaskStdLibs:
    """One engine's task stdlibs, one per (WDL version, role), pointed at an attempt's directory.

    Never shared between engines: ``point_at`` changes the instance, and only the
    owning engine's single scheduler thread may use it.
    """

    def __init__(self, files: FileSystems) -> None:
        self.files = files
        self._libs: dict[tuple[str, bool], TaskStdLib] = {}

    def at(
        self, version: str, outputs: bool, execution_dir: str, values: Iterable[Value.Base] = ()
    ) -> TaskStdLib:
        """The stdlib for ``version`` (``outputs``: with stdout/stderr/glob) at this directory;
        it reads only files under the call's directory and the files inside ``values``."""
        key = (version, outputs)
        lib = self._libs.get(key)
        if lib is None:
            lib = self._libs[key] = TaskStdLib(version, outputs, self.files)
        return lib.point_at(execution_dir, values)


def _values(env: Env.Bindings[Value.Base]) -> list[Value.Base]:
    return [b.value for b in env]


def admit_call(
    stdlib: WorkflowStdLib, call: WDL.Tree.Call, provided: Mapping[str, Value.Base]
) -> None:
    """Count the call against the workflow's budget; its input files must be readable by the
    workflow (the server's path policy): ``CallFailure`` naming the limit or the file."""
    try:
        stdlib.budget.call(where(call))
        if stdlib.policy is not None:
            for name, value in provided.items():
                for path in files_in(_as_declared(call, name, value)):
                    stdlib.policy.check(path, f"{where(call)}: call {call.name} input {name}")
    except UserError as exc:
        raise CallFailure(str(exc)) from None


def _as_declared(call: WDL.Tree.Call, name: str, value: Value.Base) -> Value.Base:
    """``value`` coerced to the callee's input type when that type holds files (a String
    given for a File input is a path)."""
    inputs = call.callee.available_inputs if call.callee is not None else None
    if inputs is None or not inputs.has_binding(name) or not has_files(inputs[name].type):
        return value
    try:
        return value.coerce(inputs[name].type)
    except EVAL_ERRORS:
        return value  # the call's own evaluation reports the type error


def admit_shards(stdlib: WorkflowStdLib, count: int, node: Any) -> None:
    """``CallFailure`` when a scatter of ``count`` shards is over the limit (nothing built)."""
    try:
        stdlib.budget.shards(count, f"{where(node)}: scatter shards")
    except UserError as exc:
        raise CallFailure(str(exc)) from None


def where(node: Any) -> str:
    """``file:line:col`` of a syntax node."""
    pos = node.pos
    return f"{os.path.basename(pos.uri)}:{pos.line}:{pos.column}"


def task_env(
    libs: TaskStdLibs, plan: TaskPlan, provided: Mapping[str, Value.Base], execution_dir: str
) -> Env.Bindings[Value.Base]:
    """Bind every task input and private declaration (provided values win)."""
    lib = libs.at(plan.version, False, execution_dir, provided.values())
    env: Env.Bindings[Value.Base] = Env.Bindings()
    for decl in plan.decls:
        given = provided.get(decl.name)
        try:
            explicit_null = plan.version not in ("draft-2", "1.0")  # WDL 1.1 on
            if given is not None and not (
                isinstance(given, Value.Null) and decl.expr and not explicit_null
            ):
                value = given.coerce(decl.type)
            elif decl.expr is not None:
                value = decl.expr.eval(env, lib).coerce(decl.type)
                if decl.name in plan.input_names:
                    value = anchor_default(value, decl)
            elif decl.type.optional:
                value = Value.Null()
            else:
                raise CallFailure(f"{where(decl)}: required task input {decl.name} not supplied")
        except EVAL_ERRORS as exc:
            raise CallFailure(f"{where(decl)}: {decl.name}: {exc}") from None
        env = env.bind(decl.name, value)
    return env


def anchor_default(value: Value.Base, decl: Any) -> Value.Base:
    """An input default's relative File/Directory paths, resolved against its WDL's directory.

    (Cromwell's local backend does so; the server's documents live in the submitted bundle.)
    """
    base = os.path.dirname(getattr(decl.pos, "abspath", "") or "")
    if not base or not _has_file(decl.type, (Type.File, Type.Directory)):
        return value

    def anchor(v: Value.Base) -> str:
        path = str(v.value)
        return path if os.path.isabs(path) or "://" in path else os.path.join(base, path)

    return Value.rewrite_paths(value, anchor)


def render_command(
    libs: TaskStdLibs, plan: TaskPlan, env: Env.Bindings[Value.Base], execution_dir: str
) -> str:
    """The command with placeholders filled, common indentation removed.

    WDL 1.2 ``env`` declarations become exported variables ahead of the command.
    """
    lib = libs.at(plan.version, False, execution_dir, _values(env))
    try:
        text = plan.task.command.eval(env, lib).value
    except EVAL_ERRORS as exc:
        raise CallFailure(f"{where(plan.task.command)}: command: {exc}") from None
    command = textwrap.dedent(text).strip()
    exports = "".join(
        f"export {d.name}={shlex.quote(_env_text(env[d.name]))}\n"
        for d in plan.decls
        if d.decor.get("env") and d.name in env
    )
    return exports + command


def _env_text(value: Value.Base) -> str:
    """A value as an environment variable holds it (compound values as JSON)."""
    if isinstance(value, Value.Null):
        return ""
    if isinstance(value, Value.Boolean):
        return "true" if value.value else "false"
    if isinstance(value, Value.String | Value.Int | Value.Float):
        return str(value.value)
    return json.dumps(value.json)


def with_task_info(
    plan: TaskPlan,
    env: Env.Bindings[Value.Base],
    runtime: Mapping[str, Any],
    attempt: int,
    call_id: str,
    return_code: int | None = None,
) -> Env.Bindings[Value.Base]:
    """``env`` with WDL 1.2's ``task`` runtime variable bound (unchanged before 1.2)."""
    if not at_least(plan.version, "1.2"):
        return env
    from ironside.backends.aws_batch.values import memory_bytes

    task = plan.task
    try:
        memory = memory_bytes(runtime.get("memory") or "2 GiB")
    except ValueError:
        memory = 2 * 2**30
    info: dict[str, Any] = {
        "name": task.name,
        "id": call_id,
        "container": runtime.get("docker") or None,
        "cpu": float(runtime.get("cpu") or 1),
        "memory": memory,
        "gpu": [],
        "fpga": [],
        "disks": {},
        "attempt": attempt - 1,
        "end_time": None,
        "meta": meta_json(task.meta or {}),
        "parameter_meta": meta_json(task.parameter_meta or {}),
    }
    if return_code is not None:
        info["return_code"] = return_code
    ty = task.task_runtime_info_struct_type(output_section=return_code is not None)
    return env.bind("task", Value.from_json(ty, info))


def eval_runtime(
    libs: TaskStdLibs,
    plan: TaskPlan,
    env: Env.Bindings[Value.Base],
    execution_dir: str,
    defaults: Mapping[str, Any],
) -> dict[str, Any]:
    """Runtime attributes as JSON values: defaults overlaid by the task's own."""
    lib = libs.at(plan.version, False, execution_dir, _values(env))
    out = dict(defaults)
    for key, value in task_hints(plan.task).items():  # WDL 1.2: under the requirements
        name = engine_key(key, plan.version)
        out[name] = engine_value(name, value)
    for key, expr in plan.task.runtime.items():
        name = engine_key(key, plan.version)
        try:
            out[name] = engine_value(name, expr.eval(env, lib).json)
        except EVAL_ERRORS as exc:
            raise CallFailure(f"{where(expr)}: runtime {key}: {exc}") from None
    return out


def runtime_overrides(plan: TaskPlan, cr: Any) -> dict[str, Any]:
    """The runtime attributes the inputs JSON set for the call ``cr`` (engine names)."""
    names = []
    node = cr
    while node is not None:
        names.append(node.call.name)
        node = node.wf.parent
    given = cr.wf.top_level.runtime_overrides.for_call(".".join(reversed(names)))
    out = {}
    for key, value in given.items():
        name = engine_key(key, plan.version)
        out[name] = engine_value(name, value)
    return out


def _check_file(
    lib: TaskStdLib, path: str, execution_dir: str, optional: bool, directory: bool = False
) -> str | None:
    full = path if os.path.isabs(path) or "://" in path else os.path.join(execution_dir, path)
    if not lib.policy.allows(full):
        raise CallFailure(f"{path} is outside the call's directory (and not one of its inputs)")
    files = lib.files
    if full.startswith("s3://"):
        if directory:  # a prefix: S3 keeps no empty ones, so at least one object under it
            full = full.rstrip("/")
            if next(iter(files.list(full + "/")), None) is not None:
                return full
        elif files.exists(full):
            return full
    elif "://" in full or os.path.exists(full):
        return full
    if optional:
        return None
    raise CallFailure(f"output file not found: {path} (in {execution_dir})")


def _files_absolute(
    lib: TaskStdLib, value: Value.Base, ty: Type.Base, execution_dir: str
) -> Value.Base:
    if isinstance(value, Value.File | Value.Directory):
        directory = isinstance(value, Value.Directory)
        full = _check_file(lib, value.value, execution_dir, ty.optional, directory)
        if full is None:
            return Value.Null()
        return type(value)(full)
    if isinstance(value, Value.Array):
        item = ty.item_type if isinstance(ty, Type.Array) else Type.Any()
        value.value[:] = [_files_absolute(lib, v, item, execution_dir) for v in value.value]
        return value
    if value.children and not isinstance(value, Value.Null):

        def fix(v: Value.Base) -> str:
            full = _check_file(lib, v.value, execution_dir, False)
            assert full is not None
            return full

        return Value.rewrite_paths(value, fix)
    return value


def eval_outputs(
    libs: TaskStdLibs, plan: TaskPlan, env: Env.Bindings[Value.Base], execution_dir: str
) -> Env.Bindings[Value.Base]:
    """Evaluate the output section; File outputs become absolute and must exist."""
    lib = libs.at(plan.version, True, execution_dir, _values(env))
    outs: Env.Bindings[Value.Base] = Env.Bindings()
    for decl in plan.task.outputs:
        assert decl.expr is not None
        try:
            value = decl.expr.eval(env, lib).coerce(decl.type)
            value = _files_absolute(lib, value, decl.type, execution_dir)
        except EVAL_ERRORS as exc:
            raise CallFailure(f"{where(decl)}: output {decl.name}: {exc}") from None
        except CallFailure as exc:
            raise CallFailure(f"{where(decl)}: output {decl.name}: {exc}") from None
        env = env.bind(decl.name, value)
        outs = outs.bind(decl.name, value)
    return outs


def outputs_from_json(plan: TaskPlan, data: Mapping[str, Any]) -> Env.Bindings[Value.Base]:
    """Typed output values from their JSON form (stored outputs, cache hits)."""
    outs: Env.Bindings[Value.Base] = Env.Bindings()
    for name, ty in plan.output_types.items():
        outs = outs.bind(name, Value.from_json(ty, data.get(name)))
    return outs


def return_code_ok(rc: int, runtime: Mapping[str, Any]) -> bool:
    """``returnCodes`` / ``continueOnReturnCode``: is ``rc`` a success?

    ``"*"`` or ``true``: any code; ``false`` or absent: 0 only; an int or a list: those.
    """
    spec = runtime.get("returnCodes", runtime.get("continueOnReturnCode"))
    if spec is None or spec is False or spec == "false":
        return rc == 0
    if spec is True or spec == "*" or spec == "true":
        return True
    codes = spec if isinstance(spec, list) else [spec]
    try:
        return rc in {int(x) for x in codes}
    except (TypeError, ValueError):
        return rc == 0


def with_stderr(message: str, execution_dir: str, lines: int = 5) -> str:
    """``message`` followed by the last ``lines`` of the attempt's stderr, when it has any."""
    path = os.path.join(execution_dir, "stderr")
    if "://" in path:
        return message
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 4096))
            tail = fh.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return message
    text = "\n".join(line.rstrip() for line in tail).strip()
    return f"{message}; stderr ends:\n{text}" if text else message


def scaled_memory(value: Any, factor: float) -> str:
    """A memory runtime value (``"2 GB"``, bytes) times ``factor``, in MiB."""
    from ironside.backends.aws_batch.values import memory_bytes  # parses every WDL form

    try:
        base = memory_bytes(value if value is not None else "2 GiB")
    except ValueError:
        return str(value)  # the backend's validation names the bad value
    return f"{math.ceil(base * factor / 2**20)} MiB"


def truthy(value: Any) -> bool:
    """A runtime attribute's boolean meaning (``true``/``"true"``)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def int_attr(value: Any, default: int = 0) -> int:
    """A runtime attribute as an int."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class _Unknowable(Exception):
    """An output needs a file's content: its value is only known after the command ran."""


class _PlanStdLib(TaskStdLib):
    """Output stdlib that records the files and globs an output section touches."""

    def __init__(self, wdl_version: str, files: FileSystems) -> None:
        super().__init__(wdl_version, True, files)
        self.paths: list[str] = []
        self.globs: list[str] = []

    def _glob(self, pattern: Value.String) -> Value.Array:
        self.globs.append(pattern.value)
        return Value.Array(Type.File(), [])

    def _devirtualize_filename(self, filename: str) -> str:
        self.paths.append(filename)
        raise _Unknowable(filename)


FILE_KINDS = (Type.File, Type.Directory)


def _has_file(ty: Type.Base, kinds: tuple[type, ...] = (Type.File,)) -> bool:
    if isinstance(ty, kinds):
        return True
    return any(_has_file(p, kinds) for p in ty.parameters)


def _relative(path: str) -> str | None:
    """``path`` relative to the working directory, or None when it is not under it."""
    if os.path.isabs(path) or "://" in path or path.startswith("__IRONSIDE_"):
        return None
    norm = os.path.normpath(path)
    return None if norm == "." or norm.startswith("..") else norm


def upload_plan(
    libs: TaskStdLibs, plan: TaskPlan, env: Env.Bindings[Value.Base]
) -> tuple[list[str], list[str]] | None:
    """The working-directory files the outputs need, before the command runs.

    (relative paths of File outputs and of files the output section reads,
    glob patterns); None when a File output depends on a file's content
    (e.g. ``read_lines``) and so only the whole directory is sure to hold it.
    """
    lib = _PlanStdLib(plan.version, libs.files)
    paths: list[str] = []
    for decl in plan.task.outputs:
        assert decl.expr is not None
        try:
            value = decl.expr.eval(env, lib).coerce(decl.type)
        except Exception:  # _Unknowable, or an error the real evaluation will report
            if _has_file(decl.type, FILE_KINDS):
                return None
            continue  # e.g. Int n = read_int("n.txt"): the read file is recorded
        env = env.bind(decl.name, value)
        if _has_file(decl.type, FILE_KINDS):
            paths.extend(files_in(value))  # a Directory's path: its whole tree
    rel = [r for p in [*paths, *lib.paths] if (r := _relative(p)) is not None]
    return sorted(set(rel)), sorted(set(lib.globs))
