"""One ``python -m stacks.portable`` run per worker, publishing to a moto S3 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[2]
BUCKET = "ironside-dist-test"
PREFIX = "acme/ironside"


@dataclass(frozen=True)
class S3Server:
    """A moto S3 server on loopback and the environment that points boto3 at it."""

    env: dict[str, str]

    def client(self) -> Any:
        """An S3 client for the server."""
        return boto3.client(
            "s3",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def object_count(self) -> int:
        """Objects in every bucket of the server."""
        client = self.client()
        return sum(
            client.list_objects_v2(Bucket=bucket["Name"]).get("KeyCount", 0)
            for bucket in client.list_buckets()["Buckets"]
        )

    def run(self, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        """``python -m stacks.portable ARGS`` against the server."""
        return subprocess.run(
            [sys.executable, "-m", "stacks.portable", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto server on 127.0.0.1 (a free port) for this worker."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.pop("AWS_PROFILE", None)
    yield S3Server(env)
    server.stop()


@dataclass(frozen=True)
class Packaged:
    """The result of one packaging run: ``dist/``, its manifest and templates, the server."""

    dist: Path
    manifest: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    server: S3Server


@pytest.fixture(scope="session")
def packaged(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """``python -m stacks.portable --bucket ironside-dist-test --prefix acme/ironside``."""
    s3_server.client().create_bucket(Bucket=BUCKET)
    dist = tmp_path_factory.mktemp("portable") / "dist"
    result = s3_server.run("--bucket", BUCKET, "--prefix", PREFIX, "--dist", str(dist))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((dist / "manifest.json").read_text())
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in dist.glob("*.template.json")
    }
    return Packaged(dist, manifest, templates, s3_server)
