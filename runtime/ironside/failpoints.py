"""Crash points for the fault-injection tests: the process SIGKILLs itself at a named point.

``IRONSIDE_FAILPOINT=<name>[:<n>]`` kills the process the ``n``-th time (default
the first) ``hit(name)`` runs. Unset (always, outside the tests), ``hit`` is one
dictionary lookup. The points:

- ``validated``: a submission passed, nothing stored yet;
- ``stored``: a submission's row committed, nothing started;
- ``intent``: attempts' intent committed, their jobs not yet submitted;
- ``submitted``: after a job was submitted;
- ``call-done``: after a call finished;
- ``gather``: a scatter's shards gathered;
- ``output-copy``: after a file was copied to ``final_workflow_outputs_dir``;
- ``cache-copy``: after a cached output was linked or copied for a cache hit.
"""

from __future__ import annotations

import os
import signal

_ENV = "IRONSIDE_FAILPOINT"
_hits: dict[str, int] = {}


def hit(name: str) -> None:
    """SIGKILL this process if the configured crash point is ``name`` and its count is reached."""
    spec = os.environ.get(_ENV)
    if not spec:
        return
    point, _, count = spec.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
