"""Issue 15's red-team attacks against ``ironside server`` (and ``ironside run``), for real.

The server runs as a subprocess whose environment holds canary secrets (API
token, AWS keys, a database URL with a password). Every attack checks its
status code, that nothing was stored or run when it should not be, and that no
canary appears in any response, output, metadata, log line, stored row or file
under the execution root.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .server_proc import ServerProcess, wait_status, write_config

pytestmark = pytest.mark.slow

CANARY = "cnry" + uuid.uuid4().hex[:20]
TOKEN = f"tok-{CANARY}"
SECRET_ENV = {
    "IRONSIDE_SERVER_TOKEN": TOKEN,
    "AWS_ACCESS_KEY_ID": f"AKIA{CANARY}",
    "AWS_SECRET_ACCESS_KEY": f"sak-{CANARY}",
    "AWS_SESSION_TOKEN": f"ast-{CANARY}",
    "DATABASE_URL": f"mysql+pymysql://ironside:dbpw-{CANARY}@db.internal/ironside",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
ENVIRON_READERS = ["/proc/self/environ", "/etc/passwd", "../../../../etc/hostname"]
MB = 1024 * 1024
TASK = """
task t {
  command <<< echo ran >>>
  output { String out = read_string(stdout()) }
}
"""


class Red:
    """A running server, a client to it and where it keeps everything."""

    def __init__(self, server: ServerProcess, client: httpx.Client) -> None:
        self.server = server
        self.client = client

    def post(self, source: str | None, inputs: object = None, **extra: str) -> httpx.Response:
        files: dict[str, tuple[str, bytes]] = {}
        if source is not None:
            files["workflowSource"] = ("w.wdl", source.encode())
        if inputs is not None:
            files["workflowInputs"] = ("i.json", json.dumps(inputs).encode())
        for k, v in extra.items():
            files[k] = (k, v.encode())
        return self.client.post("/api/workflows/v1", files=files)

    def describe(self, source: str) -> httpx.Response:
        files = {"workflowSource": ("w.wdl", source.encode())}
        return self.client.post("/api/womtool/v1/describe", files=files)

    def stored(self) -> int:
        return len(self.client.get("/api/workflows/v1/query").json()["results"])

    def finish(self, wf_id: str) -> dict[str, object]:
        wait_status(self.client, wf_id, {"Succeeded", "Failed", "Aborted"}, timeout=120)
        r = self.client.get(f"/api/workflows/v1/{wf_id}/metadata", params={"expandSubWorkflows": 1})
        assert CANARY not in r.text
        return dict(r.json())

    def assert_clean(self, *texts: str) -> None:
        """No canary in ``texts``, the server log, the store or any file under its root."""
        for text in texts:
            assert CANARY not in text
        assert CANARY not in self.server.log()
        for path in self.server.root.rglob("*"):
            if path.is_file() and not path.name.startswith("server-"):
                assert CANARY.encode() not in path.read_bytes(), path


def _start(root: Path, extra: str, env: dict[str, str]) -> Iterator[Red]:
    server = ServerProcess(root, write_config(root, extra), env=env)
    server.start()
    headers = {"Authorization": f"Bearer {TOKEN}"} if "IRONSIDE_SERVER_TOKEN" in env else {}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as client:
        yield Red(server, client)
    server.stop()


@pytest.fixture(scope="module")
def red(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Red]:
    """The engine host as deployed: a bearer token and secrets in its environment."""
    yield from _start(tmp_path_factory.mktemp("red"), "", SECRET_ENV)


@pytest.fixture(scope="module")
def open_red(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Red]:
    """Auth off (the loopback default) and workflow-url-hosts = ["*"]."""
    env = {k: v for k, v in SECRET_ENV.items() if k != "IRONSIDE_SERVER_TOKEN"}
    extra = 'ironside { server { workflow-url-schemes = ["http"], workflow-url-hosts = ["*"] } }'
    yield from _start(tmp_path_factory.mktemp("open-red"), extra, env)


# ---- 1. imports come from the submission only ----
@pytest.mark.parametrize("uri", [*ENVIRON_READERS, "file:///proc/self/environ"])
def test_importing_a_host_file_is_refused_without_reading_it(red: Red, uri: str) -> None:
    source = f'version 1.0\nimport "{uri}" as e\nworkflow w {{}}\n'
    before = red.stored()
    r = red.post(source)
    assert r.status_code == 400
    assert "cannot be imported" in r.json()["message"] or "not found" in r.json()["message"]
    assert "root:" not in r.text
    d = red.describe(source)
    assert d.status_code == 200 and d.json()["valid"] is False
    assert "root:" not in d.text
    assert red.stored() == before
    red.assert_clean(r.text, d.text)


# ---- 2. engine-side file functions are confined ----
@pytest.mark.parametrize("path", ["/proc/self/environ", "/etc/passwd"])
def test_workflow_read_of_a_host_file_fails_naming_the_path(red: Red, path: str) -> None:
    source = f"""version 1.0
workflow w {{
  String s = read_string("{path}")
  output {{ String out = s }}
}}
"""
    r = red.post(source)
    assert r.status_code == 201, r.text
    meta = red.finish(r.json()["id"])
    assert meta["status"] == "Failed"
    text = json.dumps(meta)
    assert path in text and "root:" not in text
    red.assert_clean(text)


def test_a_file_input_outside_the_allowed_roots_is_refused(red: Red) -> None:
    source = "version 1.0\nworkflow w { input { File f } output { String s = read_string(f) } }\n"
    before = red.stored()
    for path in ENVIRON_READERS:
        r = red.post(source, {"w.f": path})
        assert r.status_code == 400, path
        message = r.json()["message"]  # a relative path may not even exist from the server's cwd
        assert "outside the files this workflow may read" in message or "not found" in message
        assert "root:" not in message
        red.assert_clean(r.text)
    assert red.stored() == before


def test_a_call_given_a_host_file_never_starts(red: Red) -> None:
    source = """version 1.0
task cat_it {
  input { File f }
  command <<< cat ~{f} >>>
  output { String s = read_string(stdout()) }
}
workflow w {
  call cat_it { input: f = "/proc/self/environ" }
  output { String s = cat_it.s }
}
"""
    r = red.post(source)
    assert r.status_code == 201
    meta = red.finish(r.json()["id"])
    assert meta["status"] == "Failed"
    assert "/proc/self/environ" in json.dumps(meta["failures"])
    assert not meta.get("calls")  # nothing ran
    red.assert_clean(json.dumps(meta))


# ---- 7. output paths stay inside the call's directory ----
@pytest.mark.parametrize(
    ("output", "named"),
    [
        ('File leaked = "/etc/passwd"', "leaked"),
        ('String leaked = read_string("/proc/self/environ")', "leaked"),
        ('File up = "../../../../../../../../etc/hostname"', "up"),
    ],
)
def test_a_task_output_outside_its_directory_is_refused(red: Red, output: str, named: str) -> None:
    source = f"""version 1.0
task t {{
  command <<< echo hi >>>
  output {{ {output} }}
}}
workflow w {{ call t }}
"""
    r = red.post(source)
    assert r.status_code == 201
    meta = red.finish(r.json()["id"])
    assert meta["status"] == "Failed"
    text = json.dumps(meta)
    assert f"output {named}" in text and "root:" not in text
    red.assert_clean(text)


# ---- 4. tasks get a clean environment ----
def test_a_local_task_sees_none_of_the_servers_secrets(red: Red) -> None:
    # the server makes itself non-dumpable, so a task of another uid-less-privileged user
    # cannot read its /proc/<pid>/environ either; root reads everything, so only then not
    spy_parent = "" if os.geteuid() == 0 else "cat /proc/$PPID/environ 2>/dev/null | tr '\\0' '\\n'"
    source = f"""version 1.0
task spy {{
  command <<<
    env
    {spy_parent}
  >>>
  output {{ String seen = read_string(stdout()) }}
}}
workflow w {{ call spy output {{ String seen = spy.seen }} }}
"""
    r = red.post(source)
    assert r.status_code == 201
    meta = red.finish(r.json()["id"])
    assert meta["status"] == "Succeeded", meta.get("failures")
    seen = str(meta["outputs"]["w.seen"])  # type: ignore[index]
    assert "PATH=" in seen
    assert "AWS_" not in seen and "IRONSIDE_SERVER_TOKEN" not in seen
    red.assert_clean(json.dumps(meta))


# ---- 5. no cross-origin or rebinding submissions ----
def test_cross_origin_and_rebound_submissions_are_refused(open_red: Red) -> None:
    source = "version 1.0\n" + TASK + "workflow w { call t }\n"
    files = {"workflowSource": ("w.wdl", source.encode())}
    port = open_red.server.port
    before = open_red.stored()
    c = open_red.client
    evil = c.post("/api/workflows/v1", files=files, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    rebound = c.post(
        "/api/workflows/v1",
        files=files,
        headers={"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"},
    )
    assert rebound.status_code == 400
    read = c.get("/api/workflows/v1/query", headers={"Host": f"evil.example:{port}"})
    assert read.status_code == 400
    fetch_site = c.post("/api/workflows/v1", files=files, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch_site.status_code == 403
    assert open_red.stored() == before
    assert not list((open_red.server.root / "executions").rglob("call-t"))
    same = c.post("/api/workflows/v1", files=files, headers={"Origin": open_red.server.url})
    assert same.status_code == 201  # the same origin (the server's own /docs) still works
    assert c.get("/engine/v1/status", headers={"Host": "anything"}).status_code == 200
    open_red.assert_clean(evil.text, rebound.text, read.text)


# ---- 3. errors never quote what a URL answered ----
class _Internal(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f"internal-only {CANARY}\nline two {CANARY}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def internal_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/latest/meta-data"
    server.shutdown()
    server.server_close()


def test_an_internal_urls_body_is_not_echoed(open_red: Red, internal_url: str) -> None:
    r = open_red.post(None, workflowUrl=internal_url)
    assert r.status_code == 400
    assert "syntax error" in r.json()["message"]
    imp = open_red.post(f'version 1.0\nimport "{internal_url}" as x\nworkflow w {{}}\n')
    assert imp.status_code == 400
    open_red.assert_clean(r.text, imp.text)


def test_workflow_url_credentials_are_not_stored_or_echoed(open_red: Red) -> None:
    url = f"http://user:{CANARY}@127.0.0.1:1/x.wdl"
    r = open_red.post(None, workflowUrl=url)
    assert r.status_code == 400
    open_red.assert_clean(r.text)


def test_a_bad_database_url_is_not_printed(tmp_path: Path) -> None:
    for url in (
        f"mysql+pymysql://ironside:{CANARY}@db.internal:notaport/x",
        f"mysql+pymysql//ironside:{CANARY}@db.internal/x",
        f"mysql+pymysql://ironside:{CANARY}@127.0.0.1:1/x",
    ):
        conf = tmp_path / "bad.conf"
        conf.write_text(f'database {{ url = "{url}" }}\n')
        done = subprocess.run(
            [sys.executable, "-m", "ironside.cli", "server", "--config", str(conf)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env={**os.environ, "IRONSIDE_SERVER_WORKFLOWS": "1"},
        )
        assert done.returncode == 2, done.stderr[-2000:]
        assert "database" in done.stderr
        assert CANARY not in done.stdout + done.stderr


# ---- 6. bounded cost per submission ----
def _vm_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize(
    "body",
    [
        "scatter (i in range(100000000)) { call t }",
        "Array[Int] xs = range(100000000)\n  scatter (x in xs) { call t }",
    ],
)
def test_a_hundred_million_shards_fail_fast_and_small(red: Red, body: str) -> None:
    source = f"version 1.0\n{TASK}\nworkflow w {{\n  {body}\n}}\n"
    r = red.post(source)
    assert r.status_code == 201, r.text
    meta = red.finish(r.json()["id"])
    assert meta["status"] == "Failed"
    assert "ironside.limits.max-scatter-shards" in json.dumps(meta["failures"])
    assert red.server.proc is not None
    assert _vm_peak_mb(red.server.proc.pid) < 300
    red.assert_clean(json.dumps(meta))


def test_pathological_documents_get_one_line(red: Red) -> None:
    nested = (
        "version 1.0\nworkflow w {\n" + "if (true) {\n" * 400 + "Int x = 1\n" + "}\n" * 400 + "}\n"
    )
    huge = "version 1.0\n" + "# padding\n" * (2 * MB // 10) + "workflow w {}\n"
    before = red.stored()
    for source, needle in ((nested, "nest"), (huge, "max-wdl-bytes")):
        r = red.post(source)
        assert r.status_code == 400
        message = r.json()["message"]
        assert needle in message and "\n" not in message and "Traceback" not in message
    assert red.stored() == before
    assert "Traceback" not in red.server.log()
    assert red.server.proc is not None
    assert _vm_peak_mb(red.server.proc.pid) < 300


# ---- ironside run, where the attacks apply ----
def _run(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    wdl = tmp_path / "w.wdl"
    wdl.write_text(source)
    conf = write_config(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "ironside.cli", "run", str(wdl), "--config", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={**os.environ, **SECRET_ENV},
    )


def test_run_refuses_host_imports_in_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path, 'version 1.0\nimport "/proc/self/environ" as e\nworkflow w {}\n')
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert CANARY not in done.stdout + done.stderr


def test_run_tasks_get_a_clean_environment(tmp_path: Path) -> None:
    source = """version 1.0
task spy { command <<< env >>> output { String seen = read_string(stdout()) } }
workflow w { call spy output { String seen = spy.seen } }
"""
    done = _run(tmp_path, source)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PATH=" in done.stdout
    assert CANARY not in done.stdout + done.stderr


def test_run_bounds_shards(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        f"version 1.0\n{TASK}\nworkflow w {{ scatter (i in range(100000000)) {{ call t }} }}\n",
    )
    assert done.returncode == 1
    assert "max-scatter-shards" in done.stderr
    assert CANARY not in done.stdout + done.stderr
