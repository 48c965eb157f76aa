"""The AWS Batch task script, run with bash against a fake AWS CLI (S3 as a directory).

Checks what the script does, not how it reads: per-job directory, inputs fetched
and size-checked, command run with its inputs, logs delocalized before outputs,
failed copies retried, large files uploaded with the multipart part-size rule,
the working directory removed, the command's rc as exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from WDL import Env, Value

from ironside.tasks import ScriptSpec, render_script
from ironside.tasks.s3_localizer import AWS_CLI_V2, WORK_DIR_TOKEN, BatchLocalizer, map_inputs

FAKE_AWS = r'''#!PYTHON
"""A fake AWS CLI: s3://bucket/key is $FAKE_S3/bucket/key; every call is logged."""
import os, shutil, sys
root, args = os.environ["FAKE_S3"], sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
def path(uri): return os.path.join(root, uri[len("s3://"):])
def opt(name): return args[args.index(name) + 1]
def flaky(src):
    marker = os.path.join(os.environ["FAKE_LOG"] + ".fails", os.path.basename(src))
    if os.path.basename(src) == os.environ.get("FAKE_FLAKY") and not os.path.exists(marker):
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        open(marker, "w").close()
        sys.exit(1)
if args[:2] == ["s3api", "get-object"]:
    src = path(f"s3://{opt('--bucket')}/{opt('--key')}")
    dst = [a for a in args[2:] if not a.startswith("--") and a not in (
        opt("--bucket"), opt("--key"), opt("--query"), opt("--output"))][0]
    shutil.copyfile(src, dst); print(os.path.getsize(src))
elif args[:2] == ["s3api", "head-object"]:
    print(os.path.getsize(path(f"s3://{opt('--bucket')}/{opt('--key')}")))
elif args[:2] == ["s3api", "list-objects-v2"]:
    base = os.path.join(root, opt("--bucket"))
    for d, _, files in os.walk(os.path.join(base, opt("--prefix"))):
        for f in files:
            full = os.path.join(d, f)
            print(f"{os.path.relpath(full, base)}\t{os.path.getsize(full)}")
elif args[:2] == ["s3", "cp"]:
    plain = [a for i, a in enumerate(args[2:], 2) if not a.startswith("--")
             and args[i - 1] != "--exclude"]
    src, dst = plain
    if "--recursive" in args:
        skip = {args[i + 1] for i, a in enumerate(args) if a == "--exclude"}
        failed = False
        for d, _, files in os.walk(src):
            for f in files:
                rel = os.path.relpath(os.path.join(d, f), src)
                if f == os.environ.get("FAKE_FLAKY"):
                    failed = True  # this upload breaks; the script must notice and retry
                elif rel not in skip:
                    os.makedirs(os.path.dirname(path(dst + rel)), exist_ok=True)
                    shutil.copyfile(os.path.join(d, f), path(dst + rel))
        sys.exit(1 if failed else 0)
    else:
        flaky(src)
        os.makedirs(os.path.dirname(path(dst)), exist_ok=True)
        shutil.copyfile(src, path(dst))
elif args[:2] == ["configure", "set"]:
    with open(os.environ["AWS_CONFIG_FILE"], "a") as cfg:
        cfg.write(f"{args[2]} = {args[3]}\n")
'''

COMMAND = f"""cat {WORK_DIR_TOKEN}/inputs/data/x/in.txt > out.txt
mkdir -p sub && echo deep > sub/deep.txt && echo skip > sub/skip.bin
head -c 9437184 /dev/zero > big.bin
head -c 9437184 /dev/zero > intermediate.bam
echo to-stderr >&2
exit 3"""
#: what the outputs name: two files, one glob (``sub/skip.bin`` and ``intermediate.bam``
#: are left behind by the command but no output names them)
UPLOAD = ["big.bin", "out.txt", "missing-optional.txt"]
UPLOAD_GLOBS = ["sub/*.txt"]


def _run(
    tmp: Path, flaky: str = "", upload: list[str] | None = UPLOAD
) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    s3, disk = tmp / "s3", tmp / "disk"
    (s3 / "data" / "x").mkdir(parents=True)
    (s3 / "data" / "x" / "in.txt").write_text("input\n")
    disk.mkdir()
    aws = tmp / "aws"
    aws.write_text(FAKE_AWS.replace("PYTHON", sys.executable))
    aws.chmod(0o755)
    env_in = Env.Bindings[Value.Base]().bind("f", Value.File("s3://data/x/in.txt"))
    _, transfers = map_inputs(env_in)
    spec = ScriptSpec(
        command=COMMAND,
        execution_dir="s3://root/wf/call-a/execution",
        work_dir="unused",
        inputs=transfers,
        upload=upload,
        upload_globs=UPLOAD_GLOBS if upload is not None else (),
    )
    script = tmp / "script.sh"
    script.write_text(render_script(spec, BatchLocalizer()))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "AWS_BATCH_JOB_ID": "job-1",
        "LOCAL_DISK": str(disk),
        "IRONSIDE_AWS_CLI": str(aws),
        "IRONSIDE_SLEEP_BASE": "0",
        "FAKE_S3": str(s3),
        "FAKE_LOG": str(tmp / "log"),
        "FAKE_FLAKY": flaky,
    }
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    return done, s3 / "root" / "wf" / "call-a" / "execution", disk


def test_script_localizes_runs_delocalizes_and_cleans_up(tmp_path: Path) -> None:
    done, out, disk = _run(tmp_path, flaky="out.txt")
    assert done.returncode == 3, done.stderr
    assert (out / "rc").read_text() == "3\n"
    assert (out / "stderr").read_text() == "to-stderr\n"
    assert (out / "out.txt").read_text() == "input\n"
    assert (out / "sub" / "deep.txt").read_text() == "deep\n"
    assert (out / "big.bin").stat().st_size == 9437184
    assert not (out / "intermediate.bam").exists()  # no output names it: never uploaded
    assert not (out / "sub" / "skip.bin").exists()
    assert not (out / "missing-optional.txt").exists()
    assert list(disk.iterdir()) == []  # the job's directory is gone
    log = (tmp_path / "log").read_text().splitlines()
    first_cp = next(i for i, line in enumerate(log) if line.startswith("s3 cp --recursive"))
    assert "/logs/" in log[first_cp]  # rc, stdout, stderr before the outputs
    assert "configure set default.s3.multipart_chunksize 5242880" in log
    retried = [x for x in log if x.startswith("s3 cp") and x.endswith("/execution/out.txt")]
    assert len(retried) == 2  # missing after the bulk copy; alone: one failure, one success


def test_script_uses_the_host_cli_and_expands_the_job_dir_at_run_time() -> None:
    spec = ScriptSpec(command="echo hi", execution_dir="s3://b/k/execution", work_dir="w")
    script = render_script(spec, BatchLocalizer())
    assert AWS_CLI_V2 in script
    assert '_wd="$_disk/${AWS_BATCH_JOB_ID' in script
    assert "'$AWS_BATCH_JOB_ID" not in script  # never single-quoted
    local = render_script(spec)
    assert "AWS_BATCH_JOB_ID" not in local and "aws" not in local
    assert os.path.basename(AWS_CLI_V2) == "aws"


def test_script_uploads_the_whole_directory_when_outputs_are_unknown(tmp_path: Path) -> None:
    """``upload=None`` (an output path read from a file): every file left is delocalized."""
    done, out, disk = _run(tmp_path, upload=None)
    assert done.returncode == 3, done.stderr
    assert (out / "rc").read_text() == "3\n"
    assert (out / "intermediate.bam").stat().st_size == 9437184
    assert (out / "sub" / "skip.bin").read_text() == "skip\n"
    assert list(disk.iterdir()) == []
