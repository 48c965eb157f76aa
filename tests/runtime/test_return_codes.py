"""returnCodes (1.1), return_codes (1.2 requirements), continueOnReturnCode, and their hash."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.runtime.conftest import Runner


def _wdl(version: str, section: str, attribute: str, code: int) -> str:
    return f"""version {version}
task t {{
  command <<< exit {code} >>>
  {section} {{ {attribute} }}
}}
workflow w {{ call t }}
"""


@pytest.mark.parametrize(
    ("version", "section", "attribute", "code", "ok"),
    [
        ("1.1", "runtime", "returnCodes: [0, 3]", 3, True),
        ("1.1", "runtime", "returnCodes: [0, 3]", 4, False),
        ("1.1", "runtime", "returnCodes: 5", 5, True),
        ("1.1", "runtime", 'returnCodes: "*"', 9, True),
        ("1.2", "requirements", "return_codes: [1]", 1, True),
        ("1.2", "requirements", "return_codes: [1]", 0, False),
        ("1.0", "runtime", "continueOnReturnCode: false", 1, False),
        ("1.0", "runtime", "continueOnReturnCode: true", 1, True),
        ("1.0", "runtime", "continueOnReturnCode: [2]", 2, True),
    ],
)
def test_return_codes_decide_success(
    runner: Runner, version: str, section: str, attribute: str, code: int, ok: bool
) -> None:
    res = runner.run(_wdl(version, section, attribute, code))
    assert res.rc == (0 if ok else 1), res.stderr
    if not ok:
        assert f"return code {code}" in res.stderr


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("version", "section", "attribute", "code", "hashed"),
    [
        ("1.0", "runtime", "continueOnReturnCode: false", 0, "false"),
        ("1.0", "runtime", "continueOnReturnCode: true", 0, "true"),
        ("1.2", "requirements", "return_codes: [3, 0]", 0, "[0,3]"),
        ("1.0", "runtime", "cpu: 1", 0, "0"),
    ],
)
def test_the_call_cache_hashes_the_real_value(
    runner: Runner, version: str, section: str, attribute: str, code: int, hashed: str
) -> None:
    runner.config_text = "call-caching { enabled = true }\n"
    res = runner.run(_wdl(version, section, attribute, code), extra=["-m", "md.json"])
    assert res.rc == 0, res.stderr
    md = json.loads((runner.workdir / "md.json").read_text())
    hashes = md["calls"]["w.t"][0]["callCaching"]["hashes"]
    assert hashes["runtime attribute"]["continueOnReturnCode"] == _md5(hashed)
