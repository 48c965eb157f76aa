"""Bearer-token auth, request size bound, workflowUrl policy (no SSRF by default)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironside.server.settings import ServerSettings, settings_from_config

from .conftest import HELLO, Live, start, submit
from .fake_engine import FakeEngine

TOKEN = "s3cret-token-value"


@pytest.fixture
def authed() -> Iterator[Live]:
    yield from start(ServerSettings(auth_token=TOKEN), FakeEngine())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/workflows/v1/backends"),
        ("GET", "/api/workflows/v1/query"),
        ("POST", "/api/workflows/v1"),
        ("GET", "/api/workflows/v1/00000000-0000-4000-8000-000000000000/metadata"),
        ("POST", "/api/womtool/v1/describe"),
        ("GET", "/engine/v1/version"),
        ("GET", "/docs"),
        ("GET", "/docs/assets/swagger-ui-bundle.js"),
        ("GET", "/redoc"),
        ("GET", "/openapi.json"),
    ],
)
def test_every_route_but_engine_status_needs_the_token(
    authed: Live, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = authed.client.request(method, path, headers=headers)
        assert r.status_code == 401, (path, headers)
        assert r.json()["status"] == "fail"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in r.text


def test_engine_status_is_open_and_the_token_works(authed: Live) -> None:
    assert authed.client.get("/engine/v1/status").status_code == 200
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert authed.client.get("/api/workflows/v1/backends", headers=good).status_code == 200
    r = authed.client.post(
        "/api/workflows/v1",
        headers=good,
        files={
            "workflowSource": ("w", HELLO.encode()),
            "workflowInputs": ("i", b'{"hello.name": "x"}'),
        },
    )
    assert r.status_code == 201


def test_token_from_environment_wins_and_is_not_printed() -> None:
    s = settings_from_config({"auth-token": "from-config"}, env={"IRONSIDE_SERVER_TOKEN": "env"})
    assert s.auth_token == "env"
    assert "env" not in repr(s) and "from-config" not in repr(s)
    assert settings_from_config({}, env={}).auth_token is None
    assert settings_from_config({}, env={}).host == "127.0.0.1"


def test_request_size_is_bounded() -> None:
    for live in start(ServerSettings(max_request_bytes=50_000), FakeEngine()):
        big = "#" * 60_000 + "\n" + HELLO
        r = submit(live.client, workflowSource=big)
        assert r.status_code == 413
        assert r.json()["status"] == "fail"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            for _ in range(20):
                yield b"x" * 10_000

        streamed = live.client.post(
            "/api/workflows/v1/query",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413
        small = submit(live.client)
        assert small.status_code == 201
        assert live.engine.subs.keys() == {small.json()["id"]}


def test_workflow_url_is_refused_by_default(live: Live, tmp_path: Path) -> None:
    wdl = tmp_path / "hello.wdl"
    wdl.write_text(HELLO)
    for url in (
        wdl.as_uri(),
        "http://127.0.0.1:1/hello.wdl",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://example.org/x.wdl",
        "gopher://127.0.0.1/x",
    ):
        r = submit(live.client, workflowSource=None, workflowUrl=url)
        assert r.status_code == 400, url
        assert "workflowUrl" in r.json()["message"]
    assert live.engine.subs == {}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/hello.wdl":
            body = HELLO.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def wdl_host() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_workflow_url_allowed_by_config(wdl_host: str, tmp_path: Path) -> None:
    (tmp_path / "lib.wdl").write_text("version 1.0\ntask t { command <<< echo >>> }\n")
    main = tmp_path / "main.wdl"
    main.write_text('version 1.0\nimport "lib.wdl" as lib\nworkflow main { call lib.t }\n')
    settings = ServerSettings(
        workflow_url_schemes=("http", "file"), workflow_url_hosts=("127.0.0.1",)
    )
    for live in start(settings, FakeEngine()):
        r = submit(live.client, workflowSource=None, workflowUrl=f"{wdl_host}/hello.wdl")
        assert r.status_code == 201, r.text
        assert live.engine.subs[r.json()["id"]].source == HELLO
        redirected = submit(live.client, workflowSource=None, workflowUrl=f"{wdl_host}/moved")
        assert redirected.status_code == 400 and "HTTP 302" in redirected.json()["message"]
        other = submit(live.client, workflowSource=None, workflowUrl="http://localhost:9/x.wdl")
        assert other.status_code == 400 and "not allowed" in other.json()["message"]
        local = submit(
            live.client, workflowSource=None, workflowUrl=main.as_uri(), workflowInputs="{}"
        )
        assert local.status_code == 201, local.text
        assert live.engine.subs[local.json()["id"]].workflow_name == "main"


def test_unexpected_errors_are_500_without_internals(live: Live) -> None:
    def broken(workflow_id: str) -> str:
        raise RuntimeError("/secret/internal/path")

    live.engine.status = broken  # type: ignore[method-assign]
    r = live.client.get("/api/workflows/v1/00000000-0000-4000-8000-000000000000/status")
    assert r.status_code == 500
    assert r.json() == {"status": "error", "message": "internal error: RuntimeError"}
