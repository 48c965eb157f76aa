"""Load and typecheck a WDL document; any problem becomes a one-line ``BadWorkflow``."""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
import zipfile
from typing import Any

import WDL
from WDL import Error as WdlError

from ironside.errors import BadWorkflow


def _where(pos: Any) -> str:
    uri = getattr(pos, "abspath", None) or getattr(pos, "uri", "?")
    return f"{uri}:{pos.line}:{pos.column}"


def _first_line(text: str) -> str:
    return " ".join(str(text).split("\n")[0].split()) or "error"


def describe_wdl_error(exc: BaseException) -> str:
    """One line: ``file:line:col: what``, descending into import errors."""
    if isinstance(exc, WdlError.ImportError):
        cause = exc.__cause__
        if isinstance(cause, FileNotFoundError):
            return f"{_where(exc.pos)}: import not found: {cause.filename}"
        if cause is not None:
            return describe_wdl_error(cause)
        return f"{_where(exc.pos)}: {_first_line(str(exc))}"
    if isinstance(exc, WdlError.MultipleValidationErrors):
        first = sorted(exc.exceptions, key=lambda e: (e.pos.line, e.pos.column))[0]
        more = len(exc.exceptions) - 1
        return describe_wdl_error(first) + (f" (and {more} more errors)" if more else "")
    if isinstance(exc, WdlError.SyntaxError | WdlError.ValidationError):
        return f"{_where(exc.pos)}: {_first_line(getattr(exc, 'message', '') or str(exc))}"
    return _first_line(str(exc))


def extract_imports(imports_zip: bytes) -> str:
    """Unpack an imports zip into a temporary directory removed at exit; return the directory."""
    tmp = tempfile.mkdtemp(prefix="ironside-imports-")
    atexit.register(shutil.rmtree, tmp, True)
    try:
        with zipfile.ZipFile(io.BytesIO(imports_zip)) as zf:
            for name in zf.namelist():
                target = os.path.realpath(os.path.join(tmp, name))
                if not target.startswith(os.path.realpath(tmp) + os.sep):
                    raise BadWorkflow(f"imports zip: entry {name!r} escapes the archive")
            zf.extractall(tmp)
    except zipfile.BadZipFile as exc:
        raise BadWorkflow(f"imports zip: not a zip file ({exc})") from None
    return tmp


def load_document(
    path: str, imports_zip: bytes | None = None, source_text: str | None = None
) -> WDL.Tree.Document:
    """Parse and typecheck ``path`` (its imports relative to it, then inside the zip).

    ``source_text`` replaces the file's contents (a stored workflow being resumed).
    """
    search = [os.path.dirname(os.path.abspath(path))]
    if imports_zip:
        zdir = extract_imports(imports_zip)
        search += [zdir] + [os.path.join(dp, d) for dp, dirs, _ in os.walk(zdir) for d in dirs]
    main_abspath = os.path.abspath(path)
    if imports_zip and source_text is not None and not os.path.isfile(path):  # server bundle
        main_abspath = os.path.join(search[1], os.path.basename(path))

    async def read_source(uri: str, paths: list[str], importer: Any) -> WDL.ReadSourceResult:
        if importer is None and source_text is not None:
            return WDL.ReadSourceResult(source_text=source_text, abspath=main_abspath)
        return await WDL.read_source_default(uri, paths, importer)

    if source_text is None and not os.path.isfile(path):
        raise BadWorkflow(f"{path}: workflow file not found")
    try:
        doc = WDL.load(main_abspath, path=search, read_source=read_source)
    except (WdlError.SyntaxError, WdlError.ValidationError) as exc:
        raise BadWorkflow(describe_wdl_error(exc)) from None
    except (WdlError.MultipleValidationErrors, WdlError.ImportError) as exc:
        raise BadWorkflow(describe_wdl_error(exc)) from None
    except UnicodeDecodeError as exc:
        raise BadWorkflow(f"{path}: not UTF-8 text ({exc.reason})") from None
    if doc.workflow is None:
        if len(doc.tasks) == 1:
            return doc
        raise BadWorkflow(f"{path}:1:1: no workflow (and not exactly one task) to run")
    return doc
