"""Small rules of call evaluation: return codes, runtime booleans, command dedent."""

from __future__ import annotations

from typing import Any

import pytest

from ironside.engine.calls import int_attr, return_code_ok, truthy


@pytest.mark.parametrize(
    ("runtime", "rc", "ok"),
    [
        ({}, 0, True),
        ({}, 1, False),
        ({"continueOnReturnCode": True}, 42, True),
        ({"continueOnReturnCode": False}, 1, False),
        ({"continueOnReturnCode": 3}, 3, True),
        ({"continueOnReturnCode": 3}, 0, False),
        ({"continueOnReturnCode": [0, 5]}, 5, True),
        ({"continueOnReturnCode": [0, 5]}, 4, False),
        ({"returnCodes": "*"}, 99, True),
        ({"returnCodes": [1, 2]}, 2, True),
        ({"returnCodes": 7}, 0, False),
        ({"continueOnReturnCode": "true"}, 9, True),
    ],
)
def test_return_code_ok(runtime: dict[str, Any], rc: int, ok: bool) -> None:
    """continueOnReturnCode (Cromwell) and returnCodes (WDL 1.1) decide success."""
    assert return_code_ok(rc, runtime) is ok


def test_truthy_and_int_attr() -> None:
    """Runtime attributes given as strings are understood."""
    assert truthy(True) and truthy("true") and truthy("TRUE")
    assert not truthy(False) and not truthy("no") and not truthy(None)
    assert int_attr("3") == 3 and int_attr(None, 1) == 1 and int_attr("x") == 0
