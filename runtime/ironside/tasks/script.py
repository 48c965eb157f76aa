"""The task script: localize inputs, run the command in its working directory, record
``rc``/``stdout``/``stderr``, delocalize outputs.

Moving files in and out is the pluggable part (``Localizer``): locally files are
used where they are; on AWS Batch an ``S3Localizer`` copies them with the AWS CLI.
Everything else is the same script on every backend.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class FileTransfer:
    """A file to move: ``source`` to ``dest`` (``optional``: skip quietly when absent;
    ``directory``: a WDL ``Directory``, every file under it)."""

    source: str
    dest: str
    optional: bool = False
    directory: bool = False


@dataclass(frozen=True)
class ScriptSpec:
    """What one attempt's script needs.

    ``execution_dir`` receives ``rc``, ``stdout``, ``stderr`` (and ``pid``);
    ``work_dir`` is where the command runs (Cromwell: the execution directory).
    ``delocalize_dir`` is where outputs go when they must leave the host
    (``None``: they stay where they are).
    """

    command: str
    execution_dir: str
    work_dir: str
    inputs: Sequence[FileTransfer] = ()
    outputs: Sequence[FileTransfer] = ()
    title: str = ""
    env: dict[str, str] = field(default_factory=dict)
    #: working-directory files the outputs need (relative paths), when known before the
    #: run; None: every file the command leaves (a backend that must move files moves all)
    upload: Sequence[str] | None = None
    #: glob patterns of the outputs (relative to the working directory)
    upload_globs: Sequence[str] = ()


class Localizer(Protocol):
    """Renders the bash that moves files in before, and out after, the command."""

    def preamble(self) -> str:
        """Shell functions the other fragments use (may be empty)."""
        ...

    def localize(self, spec: ScriptSpec) -> str:
        """Bash that makes every input available; must ``exit 1`` when one cannot be."""
        ...

    def delocalize(self, spec: ScriptSpec) -> str:
        """Bash that moves logs and outputs out; must ``exit 1`` when a required one fails."""
        ...


class LocalLocalizer:
    """Local files stay where they are: nothing to move."""

    def preamble(self) -> str:
        """Nothing."""
        return ""

    def localize(self, spec: ScriptSpec) -> str:
        """Nothing: inputs are read in place."""
        return ""

    def delocalize(self, spec: ScriptSpec) -> str:
        """Nothing: outputs are collected in place."""
        return ""


class S3Localizer:
    """Copies with ``aws s3 cp`` (5 tries, growing sleeps, size check) — for AWS Batch.

    The AWS Batch backend owns its tests; this renders the fragments only.
    """

    def __init__(self, aws: str = "aws", tries: int = 5) -> None:
        self.aws = aws
        self.tries = tries

    def preamble(self) -> str:
        """``_ironside_cp SRC DST [optional]``: retried copy; S3 sizes are compared."""
        return f"""_ironside_cp() {{
  local src="$1" dst="$2" optional="${{3:-}}" i
  for i in $(seq 1 {self.tries}); do
    if {self.aws} s3 cp --only-show-errors "$src" "$dst"; then return 0; fi
    if [ -n "$optional" ] && [ "${{src#s3://}}" = "$src" ] && [ ! -e "$src" ]; then return 0; fi
    sleep $((i * i))
  done
  [ -n "$optional" ] && return 0
  echo "ironside: cannot copy $src to $dst" >&2
  return 1
}}
"""

    def localize(self, spec: ScriptSpec) -> str:
        """One retried copy per input."""
        lines = []
        for f in spec.inputs:
            opt = " optional" if f.optional else ""
            q = shlex.quote
            lines.append(f"_ironside_cp {q(f.source)} {q(f.dest)}{opt} || exit 1")
        return "\n".join(lines)

    def delocalize(self, spec: ScriptSpec) -> str:
        """Outputs (the backend adds rc, stdout and stderr to ``spec.outputs`` first)."""
        lines = []
        for f in spec.outputs:
            opt = " optional" if f.optional else ""
            q = shlex.quote
            lines.append(f"_ironside_cp {q(f.source)} {q(f.dest)}{opt} || exit 1")
        return "\n".join(lines)


def render_script(spec: ScriptSpec, localizer: Localizer | None = None) -> str:
    """The whole bash script of one attempt (a localizer with ``render`` writes it all)."""
    render = getattr(localizer, "render", None)
    if render is not None:  # e.g. AWS Batch: its own working directory per job
        return str(render(spec))
    loc = localizer or _LOCAL
    q = shlex.quote
    ex = q(spec.execution_dir)
    env = "".join(f"export {k}={q(v)}\n" for k, v in spec.env.items())
    pre = loc.preamble()
    localize = loc.localize(spec)
    delocalize = loc.delocalize(spec)
    command = q(spec.command + "\n")
    # The wrapper's own errors go to the call's stderr; the command runs through `eval`
    # of one quoted word, so a syntax error in it is the command's failure (rc 2, message
    # in stderr) and an empty or comment-only command succeeds. Neither a second `bash`
    # nor a file for the command: each cost a process or a create and a read a task.
    return (
        f"#!/bin/bash\n# ironside task script: {spec.title}\n"
        f'_ex={ex}\nexec 2> "$_ex/stderr"\necho $$ > "$_ex/pid"\n{env}{pre}{localize}\n'
        f"_command={command}\n"
        f"cd {q(spec.work_dir)} || exit 1\n"
        '( eval "$_command" ) > "$_ex/stdout" 2>> "$_ex/stderr" < /dev/null\n'
        'echo $? > "$_ex/rc"\n'
        f"{delocalize}\n"
    )


def heredoc_tag(text: str) -> str:
    """A here-document delimiter that does not occur in ``text``."""
    tag = "IRONSIDE_COMMAND_" + hashlib.sha256(text.encode()).hexdigest()[:12]
    while tag in text:
        tag += "_"
    return tag


_LOCAL = LocalLocalizer()
