"""Parse and typecheck submitted WDL with miniwdl, with the error's ``line:col``.

Used for submissions (reject bad WDL before anything is stored) and for
womtool's ``describe``. Imports resolve beside a ``file://`` workflow and inside
the dependencies zip, unpacked by ``zipsafe.safe_extract`` into a temporary
directory that is removed afterwards.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import WDL
from WDL import Error as WdlError

from ironside import wdl as _wdl  # noqa: F401  (WDL's keywords by version, cached parsers)
from ironside.errors import BadInputs
from ironside.limits import Limits as CostLimits
from ironside.server.zipsafe import safe_extract
from ironside.wdl.imports import ImportPolicy, ImportResolver
from ironside.wdl.loader import parse_bounded
from ironside.wdl.runtime_overrides import split_runtime_overrides

MAIN_NAME = "workflow.wdl"


@dataclass(frozen=True)
class Limits:
    """Bounds on a dependencies zip, the cost limits, and where imports may come from."""

    zip_max_bytes: int = 100 * 1024 * 1024
    zip_max_files: int = 1000
    imports: ImportPolicy = ImportPolicy()


def _where(pos: Any) -> str:
    uri = getattr(pos, "uri", "") or ""
    name = os.path.basename(uri) if uri else MAIN_NAME
    return f"{name}:{pos.line}:{pos.column}"


def _one_line(text: object, limit: int = 300) -> str:
    """The first line of ``text`` (also of a token the parser quotes with ``\\n``), bounded."""
    first = str(text).split("\n")[0].split("\\n")[0]
    line = " ".join(first.split())
    return line if len(line) <= limit else line[:limit] + "..."


def describe_error(exc: BaseException, quote: bool = True) -> list[str]:
    """Each problem of a miniwdl error as ``file:line:col: message``. A syntax error in a
    document fetched from a URL (``quote=False``: the main one) leaves out what the parser
    saw, keeping only where: the URL may answer with anything."""
    if isinstance(exc, WdlError.MultipleValidationErrors):
        errs = sorted(exc.exceptions, key=lambda e: (e.pos.line, e.pos.column))
        return [m for e in errs for m in describe_error(e, quote)]
    if isinstance(exc, WdlError.ImportError):
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, FileNotFoundError | OSError):
            return describe_error(cause, quote)
        return [f"{_where(exc.pos)}: {_one_line(str(exc))}"]
    if isinstance(exc, WdlError.SyntaxError):
        fetched = "://" in (getattr(exc.pos, "abspath", "") or "")  # an import from a URL
        text = getattr(exc, "message", "") or exc
        message = _one_line(text) if quote and not fetched else "syntax error"
        return [f"{_where(exc.pos)}: {message}"]
    if isinstance(exc, WdlError.ValidationError):
        return [f"{_where(exc.pos)}: {_one_line(getattr(exc, 'message', '') or exc)}"]
    return [_one_line(str(exc)) or type(exc).__name__]


@contextmanager
def _workspace(dependencies: bytes | None, limits: Limits) -> Iterator[list[str]]:
    with tempfile.TemporaryDirectory(prefix="ironside-submit-") as tmp:
        search = [tmp]
        if dependencies:
            deps = os.path.join(tmp, "deps")
            os.mkdir(deps)
            safe_extract(dependencies, deps, limits.zip_max_bytes, limits.zip_max_files)
            search += [deps] + [os.path.join(dp, d) for dp, ds, _ in os.walk(deps) for d in ds]
        yield search


def load(
    source: str,
    dependencies: bytes | None = None,
    base_dir: str | None = None,
    limits: Limits | None = None,
    quote: bool = True,
) -> WDL.Tree.Document:
    """The typechecked document of ``source``, or ``BadWorkflow`` with the error position.

    Imports resolve inside the dependencies zip (and ``base_dir``, a directory the operator
    allowed with a ``file://`` workflowUrl), URLs as ``limits.imports`` allows; never
    elsewhere on the host. ``quote=False``: ``source`` came from a URL, errors do not quote it.
    """
    limits = limits or Limits()
    cost: CostLimits = limits.imports.limits
    cost.check("max_wdl_bytes", len(source.encode()), "workflowSource: bytes")
    with _workspace(dependencies, limits) as search:
        if base_dir:
            search.insert(0, base_dir)
        main = os.path.join(search[0], MAIN_NAME)
        policy = limits.imports.with_roots(search[:2])
        resolver = ImportResolver(policy, main, source, search)
        return parse_bounded(
            main, search, resolver, lambda e: "; ".join(describe_error(e, quote)), MAIN_NAME
        )


def executable(doc: WDL.Tree.Document) -> WDL.Tree.Workflow | WDL.Tree.Task | None:
    """The workflow to run: the document's workflow, or its only task."""
    if doc.workflow is not None:
        return doc.workflow
    if len(doc.tasks) == 1:
        return doc.tasks[0]
    return None


def check_inputs(target: WDL.Tree.Workflow | WDL.Tree.Task, inputs: dict[str, Any]) -> None:
    """``BadInputs`` unless ``inputs`` names known inputs, of the right types, with all required
    (``<call>.runtime.<attribute>`` keys name calls of the workflow)."""
    if isinstance(target, WDL.Tree.Workflow):
        version = target.effective_wdl_version or "draft-2"
        inputs, _ = split_runtime_overrides(target, inputs, version, "workflowInputs")
    prefix = target.name + "."
    given = {k[len(prefix) :] if k.startswith(prefix) else k for k in inputs}
    missing = sorted(prefix + b.name for b in target.required_inputs if b.name not in given)
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise BadInputs(f"workflowInputs: required workflow input(s) not specified: {names}")
    try:
        WDL.values_from_json(
            inputs, target.available_inputs, target.required_inputs, namespace=target.name
        )
    except WdlError.InputError as exc:
        raise BadInputs(f"workflowInputs: {exc}") from None
    except (WdlError.RuntimeError, ValueError, TypeError) as exc:
        raise BadInputs(f"workflowInputs: {' '.join(str(exc).split())}") from None


def document_version(doc: WDL.Tree.Document) -> str:
    """``draft-2``, ``1.0``, ``1.1`` or ``development``."""
    return doc.effective_wdl_version or "draft-2"
