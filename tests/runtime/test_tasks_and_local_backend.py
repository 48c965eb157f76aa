"""The task script and the local backend on their own (real bash processes)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from ironside.backends.base import JobRequest, JobStatus
from ironside.backends.local import LocalBackend
from ironside.errors import BadConfig
from ironside.tasks import FileTransfer, S3Localizer, ScriptSpec, render_script


def _request(root: Path, command: str, **kw: object) -> JobRequest:
    ex = root / "execution"
    script = render_script(ScriptSpec(command=command, execution_dir=str(ex), work_dir=str(ex)))
    return JobRequest("wf", "w.t", -1, 1, str(root), script, **kw)  # type: ignore[arg-type]


def _wait(backend: LocalBackend, job_id: str, timeout: float = 30) -> JobStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backend.wait(0.5)
        state = backend.poll([job_id])[job_id]
        if state.status.terminal:
            return state.status
    raise AssertionError("job did not finish")


def test_script_records_rc_stdout_stderr_even_on_exit(tmp_path: Path) -> None:
    """An ``exit`` inside the command still leaves rc, stdout and stderr."""
    req = _request(tmp_path / "c", "echo out; echo err >&2; exit 4")
    backend = LocalBackend()
    job = backend.submit(req)
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        backend.wait(0.5)
        state = backend.poll([job])[job]
        if state.status.terminal:
            break
    assert state is not None and state.status == JobStatus.SUCCEEDED and state.return_code == 4
    ex = tmp_path / "c" / "execution"
    assert (ex / "stdout").read_text() == "out\n" and (ex / "stderr").read_text() == "err\n"
    assert (ex / "rc").read_text().strip() == "4"
    assert int((ex / "pid").read_text()) > 0
    backend.close()


def test_recover_reads_rc_reattaches_or_reports_never_started(tmp_path: Path) -> None:
    """After a restart: rc on disk -> finished; live script -> re-attached; nothing -> None."""
    done = _request(tmp_path / "done", "echo hi")
    first = LocalBackend()
    job = first.submit(done)
    assert _wait(first, job) == JobStatus.SUCCEEDED
    first.close()
    live = _request(tmp_path / "live", "sleep 1; echo late")
    ex = tmp_path / "live" / "execution"
    ex.mkdir(parents=True)
    (ex / "script").write_text(live.script)
    proc = subprocess.Popen(["/bin/bash", str(ex / "script")], process_group=0)
    while not (ex / "pid").exists():
        time.sleep(0.02)
    second = LocalBackend()
    assert second.recover(done, job) == job
    assert second.poll([job])[job].return_code == 0 or _wait(second, job) == JobStatus.SUCCEEDED
    live_id = second.recover(live, None)
    assert live_id == str(ex)
    assert second.poll([live_id])[live_id].status == JobStatus.RUNNING
    assert _wait(second, live_id) == JobStatus.SUCCEEDED
    proc.wait()
    assert second.recover(_request(tmp_path / "never", "true"), None) is None
    second.close()


def test_run_in_container_always_without_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    """``always`` without a reachable daemon is a clear configuration error."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(BadConfig, match="Docker"):
        LocalBackend("always").use_docker("ubuntu")
    assert LocalBackend("auto").use_docker("ubuntu") is False


def test_s3_localizer_renders_retried_copies() -> None:
    """The S3 hook renders aws s3 cp with retries for inputs and outputs."""
    spec = ScriptSpec(
        command="wc -l in.txt > n",
        execution_dir="/w/ex",
        work_dir="/w/ex",
        inputs=[FileTransfer("s3://b/in.txt", "/w/ex/in.txt")],
        outputs=[FileTransfer("/w/ex/n", "s3://b/out/n", optional=True)],
    )
    script = render_script(spec, S3Localizer())
    assert "_ironside_cp s3://b/in.txt /w/ex/in.txt || exit 1" in script
    assert "_ironside_cp /w/ex/n s3://b/out/n optional || exit 1" in script
    assert "aws s3 cp" in script and "seq 1 5" in script
    assert (
        script.index("in.txt /w/ex/in.txt") < script.index("wc -l") < script.index("s3://b/out/n")
    )
    result = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert os.path.basename("/w/ex") == "ex"


class _MarkingLocalizer:
    """Leaves a line in the script per input, to see the engine hand inputs to the hook."""

    def preamble(self) -> str:
        return ""

    def localize(self, spec: ScriptSpec) -> str:
        return "\n".join(f'echo localized {f.source} >> "$_ex/localized"' for f in spec.inputs)

    def delocalize(self, spec: ScriptSpec) -> str:
        return 'echo delocalized >> "$_ex/localized"'


def test_backend_localizer_hook_gets_file_inputs(tmp_path: Path) -> None:
    """A backend's ``localizer`` renders into every script with the call's File inputs."""
    from ironside.engine import submit as S
    from ironside.engine.scheduler import Engine
    from ironside.store import open_store

    class MarkingBackend(LocalBackend):
        localizer = _MarkingLocalizer()

    data = tmp_path / "d.txt"
    data.write_text("x\n")
    wdl = tmp_path / "l.wdl"
    wdl.write_text(
        "version 1.0\n"
        "task t { input { File f  Int n } command <<< cat ~{f} >>>"
        " output { String s = read_string(stdout()) } }\n"
        "workflow l { input { File f } call t { input: f = f, n = 1 } output { String s = t.s } }\n"
    )
    inputs = tmp_path / "i.json"
    inputs.write_text(f'{{"l.f": "{data}"}}')
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite")
    sub = S.prepare(str(wdl), str(inputs))
    wf_id = S.store_submission(store, sub, "Local", str(tmp_path / "ex"))
    backend = MarkingBackend()
    run = Engine(store, backend, 1).run(S.top_run(sub, wf_id, store.workflow(wf_id)["root"]))
    backend.close()
    assert run.status == "Succeeded", run.failures
    marks = (Path(store.workflow(wf_id)["root"]) / "call-t" / "execution" / "localized").read_text()
    assert marks.splitlines() == [f"localized {data}", "delocalized"]
    store.close()


@pytest.mark.parametrize(
    "command",
    [
        "printf '%s\\n' \"it's\" '$HOME' \\\\n `echo x` 'é'",
        "cat <<'EOF'\nIRONSIDE_COMMAND_x\n'\"\nEOF",
        "",
        "# only a comment",
    ],
)
def test_the_command_runs_verbatim(tmp_path: Path, command: str) -> None:
    """Quotes, ``$``, backslashes and here-documents reach bash as written: the task's
    stdout is what ``bash -c`` makes of the same text, and no file holds a copy."""
    req = _request(tmp_path / "c", command)
    backend = LocalBackend()
    job = backend.submit(req)
    assert _wait(backend, job) == JobStatus.SUCCEEDED
    ex = tmp_path / "c" / "execution"
    assert (ex / "rc").read_text().strip() == "0", (ex / "stderr").read_text()
    reference = subprocess.run(["bash", "-c", command], capture_output=True, check=True)
    assert (ex / "stdout").read_bytes() == reference.stdout
    assert not (ex / "command").exists()
    backend.close()
