"""Task scripts for hosts that see their files only through S3 (AWS Batch).

``BatchLocalizer.render`` writes the whole script of one attempt. At run time it

1. works in ``<local-disk>/$AWS_BATCH_JOB_ID`` (local-disk: ``/cromwell_root``, the
   host's scratch bind-mounted into the container), so two jobs on one host never
   share a path: ``inputs/`` (copies of S3 inputs), ``work/`` (the command's working
   directory) and ``meta/`` (the command script, ``rc``, ``stdout``, ``stderr``);
2. localizes every ``s3://`` input with retries, growing sleeps and a size check (a WDL
   ``Directory``: every object under its prefix, the file count checked);
3. runs the command, writes ``rc``;
4. delocalizes ``stdout``, ``stderr`` and ``rc`` to ``<call_root>/execution/`` first,
   then only the outputs' files (declared paths, files the output section reads, glob
   matches; every file in ``work/`` only when an output path depends on a file's
   content) under the same prefix, each with 5 tries, a size check and the multipart part size
   ``max(size // 10000 + 1, 5 MiB)`` (so server-side copies keep the ETag);
5. removes the working directory and exits with the command's return code.

The AWS CLI is called by its full path, the host's v2 CLI that the launch
template mounts read-only (``$IRONSIDE_AWS_CLI`` overrides it, e.g. in tests).
The job id is only known at run time, so the engine renders the command with
``WORK_DIR_TOKEN`` standing for the working directory (``map_inputs``), and the
script substitutes the real one before running it.

``download_inputs`` is the local backend's counterpart: it fetches ``s3://`` and
``http(s)://`` inputs through ``ironside.filesystems`` before the command is rendered.
On AWS Batch the engine stages ``http(s)://`` inputs the same way, to
``<call_root>/inputs/<scheme>/<host>/<path>`` in S3, and the script localizes them
as any other ``s3://`` input (task images need no curl, and the download is bounded
and retried by the engine's http client).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable

from WDL import Env, Value

from ironside.filesystems.http import local_name
from ironside.tasks.script import FileTransfer, ScriptSpec, heredoc_tag
from ironside.wdl.values import files_in, map_files

WORK_DIR_TOKEN = "__IRONSIDE_WORK_DIR__"
AWS_CLI_V2 = "/usr/local/aws-cli/v2/current/bin/aws"
AWS_CLI_ENV = "IRONSIDE_AWS_CLI"
LOCAL_DISK = "/cromwell_root"
MiB = 1024 * 1024
#: The AWS CLI's default multipart threshold: above it, uploads go in parts.
MULTIPART_THRESHOLD = 8 * MiB
#: Files the engine downloads for a task (the Batch script copies only s3:// ones itself).
REMOTE_PREFIXES = ("s3://", "http://", "https://")
HTTP_PREFIXES = ("http://", "https://")

_FUNCTIONS = r"""_ironside_sleep() { sleep $(( $1 * $1 * _sleep_base )); }
_ironside_s3_size() {
  local rest="${1#s3://}"
  "$_aws" s3api head-object --bucket "${rest%%/*}" --key "${rest#*/}" \
    --query ContentLength --output text 2>/dev/null
}
_ironside_in() {
  local src="$1" dst="$2" i expected actual rest="${1#s3://}"
  mkdir -p "$(dirname "$dst")" || return 1
  for i in $(seq 1 "$_tries"); do
    expected=$("$_aws" s3api get-object --bucket "${rest%%/*}" --key "${rest#*/}" "$dst" \
      --query ContentLength --output text)
    if [ -n "$expected" ]; then
      actual=$(wc -c < "$dst" | tr -d ' ')
      [ "$actual" = "$expected" ] && return 0
      echo "ironside: $src: got $actual bytes, S3 says $expected" >&2
    fi
    [ "$i" -lt "$_tries" ] && _ironside_sleep "$i"
  done
  echo "ironside: cannot localize $src" >&2
  return 1
}
_ironside_in_dir() {
  # every object under the prefix $1/ into $2/ (relative keys kept), with retries;
  # the local file count must match the listing's object count
  local src="${1%/}" dst="$2" i expected actual rest="${1#s3://}"
  rest="${rest%/}"
  mkdir -p "$dst" || return 1
  for i in $(seq 1 "$_tries"); do
    expected=$("$_aws" s3api list-objects-v2 --bucket "${rest%%/*}" --prefix "${rest#*/}/" \
      --query 'length(Contents[])' --output text 2>/dev/null)
    [ "$expected" = "None" ] && expected=0
    if [ -n "$expected" ] && "$_aws" s3 cp --recursive --only-show-errors "$src/" "$dst/"; then
      actual=$(find "$dst" -type f | wc -l | tr -d ' ')
      [ "$actual" = "$expected" ] && return 0
      echo "ironside: $src/: got $actual files, S3 lists $expected" >&2
    fi
    [ "$i" -lt "$_tries" ] && _ironside_sleep "$i"
  done
  echo "ironside: cannot localize $src/" >&2
  return 1
}
_ironside_out() {
  local src="$1" dst="$2" i size chunk cfg="$_wd/meta/aws-config"
  size=$(wc -c < "$src" | tr -d ' ') || return 1
  local env=()
  if [ "$size" -gt __THRESHOLD__ ]; then
    chunk=$(( size / 10000 + 1 ))
    [ "$chunk" -lt 5242880 ] && chunk=5242880
    if [ ! -e "$cfg" ]; then
      cp "${AWS_CONFIG_FILE:-$HOME/.aws/config}" "$cfg" 2>/dev/null || : > "$cfg"
    fi
    AWS_CONFIG_FILE="$cfg" "$_aws" configure set default.s3.multipart_chunksize "$chunk"
    env=(env "AWS_CONFIG_FILE=$cfg")
  fi
  for i in $(seq 1 "$_tries"); do
    if "${env[@]}" "$_aws" s3 cp --only-show-errors "$src" "$dst" \
      && [ "$(_ironside_s3_size "$dst")" = "$size" ]; then
      return 0
    fi
    [ "$i" -lt "$_tries" ] && _ironside_sleep "$i"
  done
  echo "ironside: cannot delocalize $src to $dst" >&2
  return 1
}
_ironside_put_dir() {
  # every file under $1 to $2/<relative path>: one recursive copy of the small files,
  # one listing to check sizes; missing, short and large files go one by one
  local dir="$1" dest="$2" f size listed excludes=() rest="${2#s3://}"
  local listing="$_wd/meta/$(basename "$dir").lst"
  (cd "$dir" && find . -type f | sed 's#^\./##') > "$listing" || return 1
  [ -s "$listing" ] || return 0
  while IFS= read -r f; do
    size=$(wc -c < "$dir/$f" | tr -d ' ')
    [ "$size" -gt __THRESHOLD__ ] && excludes+=(--exclude "$f")
  done < "$listing"
  "$_aws" s3 cp --recursive --only-show-errors "${excludes[@]}" "$dir/" "$dest/"
  listed=$("$_aws" s3api list-objects-v2 --bucket "${rest%%/*}" --prefix "${rest#*/}/" \
    --query 'Contents[].[Key,Size]' --output text)
  local failed=0
  while IFS= read -r f; do
    size=$(wc -c < "$dir/$f" | tr -d ' ')
    if ! grep -qxF "${rest#*/}/$f	$size" <<< "$listed"; then
      _ironside_out "$dir/$f" "$dest/$f" || failed=1
    fi
  done < "$listing"
  return $failed
}
_ironside_pick() {
  # the listed files and glob matches of work/ ($1, $2: newline-separated relative paths
  # and patterns) into out/, hard-linked (copied when links fail), relative paths kept
  local f pat IFS=
  mkdir -p "$_wd/out" || return 1
  {
    printf '%s' "$1"
    while IFS= read -r pat; do
      [ -n "$pat" ] || continue
      (cd "$_wd/work" && for f in $pat; do [ -f "$f" ] && printf '%s\n' "$f"; done)
    done <<< "$2"
  } | sort -u | while IFS= read -r f; do
    [ -n "$f" ] || continue
    if [ -d "$_wd/work/$f" ]; then  # a Directory output: its whole tree
      mkdir -p "$_wd/out/$f" && cp -RL "$_wd/work/$f/." "$_wd/out/$f/" || return 1
      continue
    fi
    [ -f "$_wd/work/$f" ] || continue
    mkdir -p "$(dirname "$_wd/out/$f")" || return 1
    ln -L "$_wd/work/$f" "$_wd/out/$f" 2>/dev/null || cp -L "$_wd/work/$f" "$_wd/out/$f" \
      || return 1
  done
}
_ironside_give_up() {
  echo "ironside: $1" >> "$_wd/meta/stderr"
  _ironside_out "$_wd/meta/stderr" "$_dest/stderr"
  cd / && rm -rf "$_wd"
  exit 1
}
""".replace("__THRESHOLD__", str(MULTIPART_THRESHOLD))


def container_path(uri: str) -> str:
    """Where the script puts ``s3://bucket/key`` (``WORK_DIR_TOKEN`` stands for the dir)."""
    rest = uri[len("s3://") :].rstrip("/")
    return f"{WORK_DIR_TOKEN}/inputs/{rest}"


class NotOnS3(ValueError):
    """An input the job cannot reach: AWS Batch tasks read ``s3://`` files only."""


def map_inputs(
    env: Env.Bindings[Value.Base],
) -> tuple[Env.Bindings[Value.Base], list[FileTransfer]]:
    """``env`` with every ``s3://`` File and Directory in its container path, and the
    copies to make (a Directory is every object under its prefix)."""
    transfers: dict[str, FileTransfer] = {}

    def to_container(value: Value.Base) -> str:
        path = str(value.value)
        if not path.startswith("s3://"):
            raise NotOnS3(f"input {path} is not in S3 (AWS Batch tasks read s3:// files only)")
        local = container_path(path)
        directory = isinstance(value, Value.Directory)
        transfers.setdefault(path, FileTransfer(path, local, directory=directory))
        return local

    mapped: Env.Bindings[Value.Base] = Env.Bindings()
    for binding in reversed(list(env)):
        mapped = mapped.bind(binding.name, Value.rewrite_paths(binding.value, to_container))
    return mapped, list(transfers.values())


def remote_name(uri: str) -> str:
    """Where a remote file goes under a call's inputs: ``<bucket>/<key>`` for ``s3://``,
    ``<scheme>/<host>/<path>`` for http(s)."""
    return uri[len("s3://") :] if uri.startswith("s3://") else local_name(uri)


def download_inputs(
    env: Env.Bindings[Value.Base],
    dest_dir: str,
    fetch: Callable[[str, str], None],
    schemes: tuple[str, ...] = REMOTE_PREFIXES,
) -> Env.Bindings[Value.Base]:
    """``env`` with each remote File (``s3://``, ``http(s)://``: ``schemes``) fetched to
    ``dest_dir/<remote_name>``: a local directory (the local backend), or an ``s3://``
    prefix (AWS Batch: the engine stages http(s) inputs beside the call).

    ``env`` is returned as is (no copy) when it holds no such file.
    """
    if not any(p.startswith(schemes) for b in env for p in files_in(b.value)):
        return env
    local_dest = not dest_dir.startswith("s3://")

    def fetched(path: str) -> str:
        if not path.startswith(schemes):
            return path
        dest = f"{dest_dir.rstrip('/')}/{remote_name(path)}"
        if not (local_dest and os.path.exists(dest)):
            fetch(path, dest)
        return dest

    out: Env.Bindings[Value.Base] = Env.Bindings()
    for binding in reversed(list(env)):
        out = out.bind(binding.name, map_files(binding.value, fetched))
    return out


class BatchLocalizer:
    """Renders AWS Batch task scripts (see the module's docstring)."""

    def __init__(self, aws_cli: str = AWS_CLI_V2, local_disk: str = LOCAL_DISK, tries: int = 5):
        self.aws_cli = aws_cli
        self.local_disk = local_disk
        self.tries = tries

    def map_inputs(
        self, env: Env.Bindings[Value.Base]
    ) -> tuple[Env.Bindings[Value.Base], list[FileTransfer]]:
        """See ``map_inputs``: the command's view of its inputs, and the copies to make."""
        return map_inputs(env)

    def preamble(self) -> str:
        """The shell functions the script uses."""
        return _FUNCTIONS

    def localize(self, spec: ScriptSpec) -> str:
        """One retried, size-checked copy per input; a failure gives up on the job."""
        q = shlex.quote
        lines = []
        for f in spec.inputs:
            dest = f.dest.replace(WORK_DIR_TOKEN, "$_wd", 1)
            dest_q = '"$_wd"' + q(dest[len("$_wd") :]) if dest.startswith("$_wd") else q(dest)
            copy = "_ironside_in_dir" if f.directory else "_ironside_in"
            lines.append(
                f"{copy} {q(f.source)} {dest_q} || "
                f"_ironside_give_up {q('cannot localize ' + f.source)}"
            )
        return "\n".join(lines) + ("\n" if lines else "")

    def delocalize(self, spec: ScriptSpec) -> str:
        """stdout, stderr, rc first; then the outputs' files and glob matches (every file
        under ``work/`` when the outputs are only known after the run); keep going on errors.
        """
        logs = (
            "_failed=0\n"
            'mkdir -p "$_wd/logs" && mv "$_wd/meta/stdout" "$_wd/meta/stderr" "$_wd/meta/rc" '
            '"$_wd/logs/"\n'
            '_ironside_put_dir "$_wd/logs" "$_dest" || _failed=1\n'
        )
        if spec.upload is None:
            return logs + '_ironside_put_dir "$_wd/work" "$_dest" || _failed=1\n'
        q = shlex.quote
        paths = "".join(f"{p}\n" for p in spec.upload if "\n" not in p)
        globs = "".join(f"{g}\n" for g in spec.upload_globs if "\n" not in g)
        return (
            logs
            + f"_ironside_pick {q(paths)} {q(globs)} || _failed=1\n"
            + '_ironside_put_dir "$_wd/out" "$_dest" || _failed=1\n'
        )

    def render(self, spec: ScriptSpec) -> str:
        """The whole script of one attempt."""
        q = shlex.quote
        env = "".join(f"export {k}={q(v)}\n" for k, v in spec.env.items())
        dest = spec.execution_dir.rstrip("/")
        return (
            f"#!/bin/bash\n# ironside task script (AWS Batch): {spec.title}\n"
            "shopt -u patsub_replacement 2>/dev/null\n"
            f'_aws="${{{AWS_CLI_ENV}:-{self.aws_cli}}}"\n'
            f'_disk="${{IRONSIDE_LOCAL_DISK:-${{LOCAL_DISK:-{self.local_disk}}}}}"\n'
            '_wd="$_disk/${AWS_BATCH_JOB_ID:?AWS_BATCH_JOB_ID is not set}"\n'
            f"_dest={q(dest)}\n_tries={self.tries}\n"
            '_sleep_base="${IRONSIDE_SLEEP_BASE:-${FETCH_AND_RUN_SLEEP_BASE:-1}}"\n'
            'mkdir -p "$_wd/inputs" "$_wd/work" "$_wd/meta" || exit 1\n'
            'echo $$ > "$_wd/meta/pid"\n'
            f"{env}{self.preamble()}{self.localize(spec)}"
            f"{_command_file(spec.command)}"
            'cd "$_wd/work" || _ironside_give_up "no working directory"\n'
            'bash "$_wd/meta/command.sh" > "$_wd/meta/stdout" 2> "$_wd/meta/stderr" < /dev/null\n'
            "_rc=$?\n"
            'echo $_rc > "$_wd/meta/rc"\n'
            f"{self.delocalize(spec)}"
            'cd / && rm -rf "$_wd"\n'
            '[ "$_failed" = 0 ] || echo "ironside: some files were not delocalized" >&2\n'
            "exit $_rc\n"
        )


def _command_file(command: str) -> str:
    """Bash writing ``command`` to ``meta/command.sh`` with the real working directory."""
    tag = heredoc_tag(command)
    return (
        f"_cmd=$(cat <<'{tag}'\n{command}\n{tag}\n)\n"
        f'printf \'%s\\n\' "${{_cmd//{WORK_DIR_TOKEN}/$_wd}}" > "$_wd/meta/command.sh"\n'
    )
