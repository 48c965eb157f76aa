"""Fixtures: a real server on loopback over a fake engine, and an httpx client to it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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


CHROMIUM = os.environ.get("IRONSIDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (skips, saying why, when there is none)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        yield b
        b.close()
