"""Load and typecheck a WDL document; any problem becomes a one-line ``BadWorkflow``."""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
import weakref
import zipfile
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import WDL
from WDL import Error as WdlError

from ironside.errors import BadWorkflow, UserError
from ironside.limits import Limits
from ironside.wdl.bounds import check_nesting
from ironside.wdl.imports import ImportPolicy, ImportResolver, any_url


def _where(pos: Any) -> str:
    uri = getattr(pos, "abspath", None) or getattr(pos, "uri", "?")
    return f"{uri}:{pos.line}:{pos.column}"


def _first_line(text: str, limit: int = 300) -> str:
    """The first line of ``text`` (also of a token the parser quotes with ``\\n``), bounded."""
    line = " ".join(str(text).split("\n")[0].split("\\n")[0].split()) or "error"
    return line if len(line) <= limit else line[:limit] + "..."


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


#: Where a server submission's dependencies zip was unpacked, by document (its relative
#: File defaults resolve there, so the workflow may read under it). Keyed by ``id``:
#: documents are unhashable; an entry goes with its document.
_BUNDLES: dict[int, str] = {}


def bundle_dir(doc: WDL.Tree.Document) -> str | None:
    """The directory holding ``doc``'s submitted bundle, when it was loaded from one."""
    return _BUNDLES.get(id(doc))


def _remember_bundle(doc: WDL.Tree.Document, directory: str) -> None:
    _BUNDLES[id(doc)] = directory
    weakref.finalize(doc, _BUNDLES.pop, id(doc), None)


def extract_imports(imports_zip: bytes, limits: Limits | None = None) -> str:
    """Unpack an imports zip into a temporary directory removed at exit; return the directory."""
    (limits or Limits()).check("max_imports_zip_bytes", len(imports_zip), "imports zip: bytes")
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


WDL_ERRORS = (
    WdlError.SyntaxError,
    WdlError.ValidationError,
    WdlError.MultipleValidationErrors,
    WdlError.ImportError,
)


def parse_bounded(
    main: str,
    search: list[str],
    resolver: ImportResolver,
    describe: Callable[[BaseException], str],
    where: str,
) -> WDL.Tree.Document:
    """``WDL.load`` through ``resolver``; any failure is one ``BadWorkflow`` line (``describe``
    for miniwdl's errors), never a traceback; nesting checked against the resolver's limits."""
    limits = resolver.policy.limits
    depth = limits.max_import_depth + 2  # the resolver's check, naming the limit, fires first
    try:
        doc = WDL.load(main, path=search, read_source=resolver, import_max_depth=depth)
    except WDL_ERRORS as exc:
        raise BadWorkflow(describe(exc)) from None
    except UnicodeDecodeError as exc:
        raise BadWorkflow(f"{where}: not UTF-8 text ({exc.reason})") from None
    except RecursionError:
        raise BadWorkflow(f"{where}: nested too deeply to parse") from None
    except UserError:
        raise
    except Exception as exc:  # the parser's own failures on pathological text
        raise BadWorkflow(f"{where}: cannot parse ({type(exc).__name__})") from None
    check_nesting(doc, limits)
    return doc


def local_policy(
    path: str, allow_paths: tuple[str, ...] = (), limits: Limits | None = None
) -> ImportPolicy:
    """``ironside run``: imports under the workflow's directory and ``allow_paths``, any URL."""
    roots = (os.path.dirname(os.path.abspath(path)), *allow_paths)
    return ImportPolicy(url_allowed=any_url, limits=limits or Limits()).with_roots(roots)


def load_document(
    path: str,
    imports_zip: bytes | None = None,
    source_text: str | None = None,
    imports: ImportPolicy | None = None,
    allow_paths: tuple[str, ...] = (),
    limits: Limits | None = None,
    s3_read: Callable[[str, int], bytes] | None = None,
) -> WDL.Tree.Document:
    """Parse and typecheck ``path`` (its imports relative to it, then inside the zip).

    ``source_text`` replaces the file's contents (a stored workflow being resumed).
    ``imports``: where imports may come from besides the zip (default: ``local_policy``
    with ``allow_paths`` and ``limits``; a server submission passes one without local roots).
    ``s3_read``: how ``s3://`` imports are read (None: as ``imports`` says).
    """
    policy = imports if imports is not None else local_policy(path, allow_paths, limits)
    if s3_read is not None:
        policy = replace(policy, s3_read=s3_read)
    search = [os.path.dirname(os.path.abspath(path))] if imports is None else []
    if imports_zip:
        zdir = extract_imports(imports_zip, policy.limits)
        policy = policy.with_roots([zdir])
        search += [zdir] + [os.path.join(dp, d) for dp, dirs, _ in os.walk(zdir) for d in dirs]
    main_abspath = os.path.abspath(path)
    in_bundle = bool(imports_zip and source_text is not None and not os.path.isfile(path))
    if in_bundle:  # a server submission: the main document sits in its bundle
        main_abspath = os.path.join(zdir, os.path.basename(path))
    read_source = ImportResolver(policy, main_abspath, source_text, search)
    if source_text is None and not os.path.isfile(path):
        raise BadWorkflow(f"{path}: workflow file not found")
    doc = parse_bounded(main_abspath, search, read_source, describe_wdl_error, path)
    if in_bundle:
        _remember_bundle(doc, zdir)
    return doc  # what of it to run: ``wdl.target``
