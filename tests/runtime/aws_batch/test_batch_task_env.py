"""A Batch job gets only what SubmitJob passes: never the engine's secrets (issue 15, item 4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ironside.backends.aws_batch import AwsBatchBackend

from .batch_helpers import CallCounter
from .test_batch_backend import backend, request  # noqa: F401 - the fixture

CANARY = "canary-batch-secret-7d1f"
PASSED = {"BATCH_FILE_TYPE", "BATCH_FILE_S3_URL", "IRONSIDE_CALL_ROOT"}


def test_submit_job_passes_only_the_script_environment(
    backend: AwsBatchBackend,  # noqa: F811 - the fixture imported above
    batch: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("IRONSIDE_SERVER_TOKEN", "AWS_SECRET_ACCESS_KEY", "DATABASE_PASSWORD"):
        monkeypatch.setenv(name, CANARY)
    counter = CallCounter(batch)
    backend.submit(request(0, cpu=1, memory="1 GiB"))
    submit = counter.params["SubmitJob"][0]
    env = {e["name"] for e in submit["containerOverrides"]["environment"]}
    assert env == PASSED
    definitions = batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    assert definitions
    for d in definitions:
        assert {e["name"] for e in d["containerProperties"].get("environment", [])} <= PASSED
    assert CANARY not in json.dumps(submit, default=str)
    assert CANARY not in json.dumps(definitions, default=str)
