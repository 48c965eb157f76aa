"""A thin layer over miniwdl's parser: version-aware keywords, parsers cached on disk.

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

#: keyword -> first WDL version that reserves it (miniwdl reserves them earlier)
RESERVED_FROM = {"left": "1.1", "right": "1.1"}
_BEFORE = {"1.1": ("draft-2", "1.0")}


def _apply_keywords() -> None:
    for word, since in RESERVED_FROM.items():
        for version in _BEFORE[since]:
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


def install() -> None:
    """Apply the keyword table and the disk cache (idempotent)."""
    _apply_keywords()
    if not isinstance(_parser._lark_cache, _DiskCachedParsers):
        _parser._lark_cache = _DiskCachedParsers(_parser._lark_cache)
