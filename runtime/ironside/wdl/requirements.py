"""WDL 1.1 runtime and 1.2 requirements keys, spelled as the engine's (Cromwell's) names.

The backends, the retry policy and the call cache read one set of names
(``docker``, ``maxRetries``, ``returnCodes``, ...); a task written with the spec's
spellings (``container``, ``max_retries``, ``return_codes``) means the same.
"""

from __future__ import annotations

from typing import Any

from ironside.wdl.versions import at_least

#: spec spelling -> engine name (from WDL 1.1 on; draft-2 and 1.0 keep theirs)
ALIASES = {
    "container": "docker",
    "max_retries": "maxRetries",
    "return_codes": "returnCodes",
}


def engine_key(key: str, version: str) -> str:
    """The engine's name of a task's runtime/requirements key."""
    return ALIASES.get(key, key) if at_least(version, "1.1") else key


def engine_value(key: str, value: Any) -> Any:
    """A container given as a list of images: the first (the others are fallbacks)."""
    if key == "docker" and isinstance(value, list):
        return value[0] if value else None
    return value
