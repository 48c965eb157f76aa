"""Host and Origin checks (DNS rebinding, cross-site posts), CORS, and the 1 GB body bound."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ironside.server.middleware import host_name
from ironside.server.settings import ServerSettings, settings_from_config

from .conftest import HELLO, Live, start, submit
from .fake_engine import FakeEngine

FILES = {"workflowSource": ("w", HELLO.encode()), "workflowInputs": ("i", b'{"hello.name": "x"}')}


def test_host_names_without_port() -> None:
    assert host_name("127.0.0.1:8000") == "127.0.0.1"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("Evil.Example") == "evil.example"


def test_foreign_host_and_origin_are_refused(live: Live) -> None:
    c = live.client
    assert c.get("/api/workflows/v1/backends", headers={"Host": "evil.example"}).status_code == 400
    assert (
        c.post(
            "/api/workflows/v1", files=FILES, headers={"Origin": "http://evil.example"}
        ).status_code
        == 403
    )
    assert c.post("/api/workflows/v1", files=FILES, headers={"Origin": "null"}).status_code == 403
    assert (
        c.get("/api/workflows/v1/backends", headers={"Origin": "http://evil.example"}).status_code
        == 200
    )
    assert (
        "access-control-allow-origin"
        not in c.options(
            "/api/workflows/v1",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        ).headers
    )
    assert live.engine.subs == {}
    assert c.post("/api/workflows/v1", files=FILES, headers={"Origin": live.url}).status_code == 201


@pytest.fixture
def configured() -> Iterator[Live]:
    settings = settings_from_config(
        {"allowed-hosts": ["ironside.internal"], "allowed-origins": ["https://portal.example"]},
        env={},
    )
    yield from start(settings, FakeEngine())


def test_configured_hosts_and_origins(configured: Live) -> None:
    c = configured.client
    assert (
        c.get("/api/workflows/v1/backends", headers={"Host": "ironside.internal:8000"}).status_code
        == 200
    )
    ok = c.post("/api/workflows/v1", files=FILES, headers={"Origin": "https://portal.example"})
    assert ok.status_code == 201
    pre = c.options(
        "/api/workflows/v1",
        headers={"Origin": "https://portal.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.headers.get("access-control-allow-origin") == "https://portal.example"


def test_wildcard_listener_with_a_token_accepts_any_host() -> None:
    s = ServerSettings(host="0.0.0.0", auth_token="t")
    assert s.accepts_any_host()
    assert not ServerSettings(host="0.0.0.0").accepts_any_host()
    assert not ServerSettings(
        host="0.0.0.0", auth_token="t", allowed_hosts=("a",)
    ).accepts_any_host()


def test_a_declared_gigabyte_body_is_refused_unread(live: Live) -> None:
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/workflows/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1073741824\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert live.engine.subs == {}
    assert submit(live.client).status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "http://allowed.example@127.0.0.1:9/x.wdl",
        "http://127.0.0.1:9\\@allowed.example/x.wdl",
        "http://allowed.example.127.0.0.1.nip.io:9/x.wdl",
        "http://127.0.0.1:9#@allowed.example/x.wdl",
        "HTTP://[::1]:9/x.wdl",
        "http://0x7f000001:9/x.wdl",
    ],
)
def test_workflow_url_host_check_has_no_parsing_bypass(url: str) -> None:
    settings = ServerSettings(
        workflow_url_schemes=("http",), workflow_url_hosts=("allowed.example",)
    )
    for live in start(settings, FakeEngine()):
        r = submit(live.client, workflowSource=None, workflowUrl=url)
        assert r.status_code == 400, url
        assert "not allowed" in r.json()["message"], r.text  # refused, not tried
        assert live.engine.subs == {}
