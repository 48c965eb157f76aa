"""The environment a local task process starts with: a minimal one, never the server's.

The engine host holds the API token, the database password and AWS credentials
in its environment; a task (any submitted command) must not inherit them. A
task gets ``PATH``, ``HOME``, ``TMPDIR``, ``USER``/``LOGNAME``, ``TZ`` and the
locale variables of the engine's environment; the task script itself exports
the task's declared environment (WDL 1.2 ``env`` inputs). A task run through
``docker run`` gets the same, plus the ``DOCKER_*`` variables the Docker CLI
reads (the container sees none of them: only ``-e`` flags reach it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PASSED = ("PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "TZ", "LANG", "LANGUAGE")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def task_environment(
    declared: Mapping[str, str] | None = None,
    source: Mapping[str, str] | None = None,
    docker_cli: bool = False,
) -> dict[str, str]:
    """The environment of a task process: the minimal set from ``source`` (default: this
    process), the Docker CLI's variables when ``docker_cli``, then ``declared``."""
    source = os.environ if source is None else source
    env = {k: v for k, v in source.items() if k in PASSED or k.startswith("LC_")}
    if docker_cli:
        env.update({k: v for k, v in source.items() if k.startswith("DOCKER_")})
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(declared or {})
    return env
