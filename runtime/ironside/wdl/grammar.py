"""A thin layer over miniwdl's parser: version-aware keywords, parsers cached on disk,
WDL 1.2 task ``hints`` kept (miniwdl's parser drops them) as ``task.ironside_hints``.

miniwdl reserves ``left`` and ``right`` in every version; WDL reserves them only from
1.1 on (1.0 documents use them as names). miniwdl also builds each Lark parser from
its grammar once per process, which costs most of a small run's start; the parsers
are kept in a per-user cache directory instead (Lark checks the grammar's hash on
load, so a changed grammar or Lark version rebuilds).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import lark
from WDL import _grammar, _parser

from ironside.wdl.versions import ORDER

#: keyword -> first WDL version that reserves it (miniwdl reserves them earlier)
RESERVED_FROM = {"left": "1.1", "right": "1.1"}


def _apply_keywords() -> None:
    for word, since in RESERVED_FROM.items():
        for version in ORDER[: ORDER.index(since)]:
            if word in _grammar.keywords[version]:
                # a new set: 1.1 shares 1.0's set object in miniwdl
                _grammar.keywords[version] = _grammar.keywords[version] - {word}


def cache_dir() -> str:
    """Where parsers are kept (``IRONSIDE_CACHE_DIR``, else the user's cache directory)."""
    base = os.environ.get("IRONSIDE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ironside"
    )
    return os.path.join(base, "lark")


class _DiskCachedParsers(dict[tuple[str, str], Any]):
    """miniwdl's parser memo; a parser it lacks is loaded from (or saved to) disk first."""

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if isinstance(key, tuple) and len(key) == 2:
            parser = _build(*key)
            if parser is not None:
                self[key] = parser
                return True
        return False


def _build(grammar: str, start: str) -> Any:
    """The parser miniwdl would build, through Lark's cache file; None when not cacheable."""
    folder = cache_dir()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_uid != os.getuid():
            return None  # another user's directory: never unpickle what they wrote
    except OSError:
        return None
    digest = hashlib.sha256(f"{lark.__version__}\0{start}\0{grammar}".encode()).hexdigest()
    return lark.Lark(
        grammar,
        start=start,
        parser="lalr",
        maybe_placeholders=False,
        propagate_positions=True,
        lexer_callbacks={"COMMENT": _parser._lark_comments_buffer.append},
        cache=os.path.join(folder, f"{digest[:32]}.lark"),
    )


HINTS_ATTR = "ironside_hints"


def _keep_hints() -> None:
    """Wrap the transformer's ``task`` rule so the hints section reaches the Task node."""
    transformer: Any = _parser._DocTransformer
    original = transformer.__dict__["task"]  # lark's v_args wrapper of miniwdl's rule
    if getattr(original, "_ironside", False):
        return
    build = original.base_func

    def task(self: Any, meta: Any, items: list[Any]) -> Any:
        node = build(self, meta, items)
        hints = next((i["hints"] for i in items if isinstance(i, dict) and "hints" in i), None)
        setattr(node, HINTS_ATTR, _hint_pairs(hints))
        return node

    wrapped: Any = lark.v_args(meta=True)(task)
    wrapped._ironside = True
    transformer.task = wrapped


def _hint_pairs(tree: Any) -> dict[str, Any]:
    """``hints { key: value ... }`` (a Lark tree: miniwdl has no rule for it) as a dict."""
    if not isinstance(tree, lark.Tree):
        return {}
    pairs = {}
    for child in tree.children:
        if isinstance(child, lark.Tree) and child.data == "hint_kv" and len(child.children) == 2:
            pairs[str(child.children[0])] = child.children[1]
    return pairs


def task_hints(task: Any) -> dict[str, Any]:
    """The WDL 1.2 hints of a task as JSON values (literal hints only; others are ignored)."""
    out = {}
    for key, expr in getattr(task, HINTS_ATTR, {}).items():
        literal = getattr(expr, "literal", None)
        if literal is not None:
            out[key] = literal.json
    return out


def install() -> None:
    """Apply the keyword table, the disk cache and the hints layer (idempotent)."""
    _apply_keywords()
    _keep_hints()
    if not isinstance(_parser._lark_cache, _DiskCachedParsers):
        _parser._lark_cache = _DiskCachedParsers(_parser._lark_cache)
