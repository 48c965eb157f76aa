"""What the Batch restart tests share: a 200-shard workflow, a fresh moto server, its jobs."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from moto.batch.models import batch_backends

from tests.e2e.batch_harness import REGION, start_moto

SHARDS = 200
WDL = f"""version 1.0
task shard {{
  input {{ Int i }}
  command <<< echo ~{{i}} >>>
  output {{ Int n = i }}
  runtime {{ docker: "ubuntu:24.04"  cpu: 1  memory: "512 MB" }}
}}
workflow many {{
  scatter (i in range({SHARDS})) {{ call shard {{ input: i = i }} }}
  output {{ Array[Int] ns = shard.n }}
}}
"""


def moto_jobs() -> dict[str, Any]:
    """Every job moto's Batch holds in this process (array children included)."""
    jobs: dict[str, Any] = {}
    for account in batch_backends.values():
        jobs.update(getattr(account[REGION], "_jobs", {}))
    return jobs


@pytest.fixture(name="endpoint")
def fresh_moto() -> Iterator[str]:
    """A moto server, its (process-wide) state reset: the test counts every job there is."""
    server, url = start_moto()
    req = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    yield url
    server.stop()
