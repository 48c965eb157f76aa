"""Fixtures: a real server on loopback over a fake engine, and an httpx client to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from ironside.server.app import create_app
from ironside.server.settings import ServerSettings

from .fake_engine import FakeEngine
from .live import serve

HELLO = """version 1.0
task say {
  input { String name String greeting = "hello" }
  command <<< echo "~{greeting} ~{name}" >>>
  output { String out = read_string(stdout()) }
}
workflow hello {
  input { String name }
  call say { input: name = name }
  output { String out = say.out }
}
"""


@dataclass
class Live:
    """A running server: its URL, client and engine."""

    url: str
    client: httpx.Client
    engine: FakeEngine


def start(settings: ServerSettings, engine: FakeEngine) -> Iterator[Live]:
    """Run a server with ``settings`` over ``engine`` for the duration of a test."""
    with serve(create_app(settings, engine)) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield Live(url, c, engine)


@pytest.fixture
def live() -> Iterator[Live]:
    """A server with default settings over an auto-succeeding fake engine."""
    yield from start(ServerSettings(), FakeEngine())


def submit(client: httpx.Client, **fields: str | bytes | None) -> httpx.Response:
    """POST a multipart submission (every field sent as a file part, as cromshell does)."""
    fields.setdefault("workflowSource", HELLO)
    fields.setdefault("workflowInputs", '{"hello.name": "world"}')
    files = {k: (k, v) for k, v in fields.items() if v is not None}
    return client.post("/api/workflows/v1", files=files)
