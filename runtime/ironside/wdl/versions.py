"""WDL versions in order, for rules that hold from one version on."""

from __future__ import annotations

#: every version a document may declare, oldest first (``development``: the next one)
ORDER = ("draft-2", "1.0", "1.1", "1.2", "development")


def at_least(version: str | None, minimum: str) -> bool:
    """Whether ``version`` (None: a document without one, draft-2) is ``minimum`` or later."""
    return ORDER.index(version or "draft-2") >= ORDER.index(minimum)
