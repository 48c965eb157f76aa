"""A short schemathesis run in the suite (the 5-minute one is ``make bench``)."""

from __future__ import annotations

import pytest

from .fuzz_harness import fuzz

pytestmark = pytest.mark.slow


def test_no_server_error_and_nothing_off_schema() -> None:
    rc, found, tail = fuzz(seconds=40)
    assert rc == 0, tail
    assert found["failures"] == 0 and found["cases"] > 100, found
    assert found["tracebacks_in_log"] == 0 and not found["canary_in_log"], found
