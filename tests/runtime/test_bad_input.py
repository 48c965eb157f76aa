"""Bad input: exit 2, one line naming what and where, nothing stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.runtime.conftest import Runner

GOOD = """version 1.0
task t { input { Int n } command <<< echo ~{n} >>> output { Int o = read_int(stdout()) } }
workflow w {
  input { Int n  File? f  String s = "x" }
  call t { input: n = n }
  output { Int o = t.o }
}
"""


@dataclass
class Case:
    """One bad submission and what its error line must contain."""

    wdl: str = GOOD
    inputs: Any = field(default_factory=lambda: {"w.n": 1})
    options: Any = None
    labels: Any = None
    config: str = ""
    raw: dict[str, str] = field(default_factory=dict)  # file name -> raw text to write
    expect: tuple[str, ...] = ()


CASES = {
    "wdl syntax error": Case(
        wdl="version 1.0\nworkflow w {\n  call = 3\n}\n", expect=("main.wdl:3:", "w")
    ),
    "wdl type error": Case(
        wdl='version 1.0\nworkflow w {\n  Int x = "a" + 1\n  Int y = x + true\n}\n',
        expect=("main.wdl:4:",),
    ),
    "missing required input": Case(inputs={}, expect=("missing required input", "w.n")),
    "input of wrong type": Case(inputs={"w.n": "abc"}, expect=("w.n", "Int")),
    "unknown input key": Case(
        inputs={"w.n": 1, "w.bogus": 2}, expect=("w.bogus", "valid inputs", "w.n", "w.s")
    ),
    "malformed inputs json": Case(
        raw={"inputs.json": '{"w.n": 1,,}'}, expect=("inputs", "inputs.json:1:", "JSON")
    ),
    "malformed options json": Case(
        raw={"options.json": "{oops"}, expect=("options", "options.json:1:", "JSON")
    ),
    "malformed labels json": Case(
        raw={"labels.json": "[1,"}, expect=("labels", "labels.json:1:", "JSON")
    ),
    "file input does not exist": Case(
        inputs={"w.n": 1, "w.f": "no/such/file.txt"}, expect=("w.f", "no/such/file.txt")
    ),
    "option of wrong type": Case(
        options={"final_workflow_outputs_dir": 5}, expect=("final_workflow_outputs_dir",)
    ),
    "option with a bad value": Case(
        options={"workflow_failure_mode": "Sometimes"}, expect=("workflow_failure_mode",)
    ),
    "unreadable config": Case(
        config="backend { default = \n", expect=("config", "app.conf", "parse")
    ),
    "config value of wrong type": Case(
        config="backend.providers.Local.config.concurrent-job-limit = lots\n",
        expect=("concurrent-job-limit", "int"),
    ),
    "workflow file missing": Case(wdl="", expect=("nope.wdl", "not found")),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_exits_2_with_one_line(runner: Runner, case: Case) -> None:
    """Each problem: exit code 2, a single line on stderr naming it, no store, no executions."""
    runner.config_text = case.config
    extra: list[str] = []
    for name, text in case.raw.items():
        path = runner.write(name, text)
        flag = {"inputs.json": "-i", "options.json": "-o", "labels.json": "-l"}[name]
        extra += [flag, str(path)]
    inputs = None if "inputs.json" in case.raw else case.inputs
    if case.wdl:
        res = runner.run(case.wdl, inputs, case.options, case.labels, extra)
    else:
        res = runner.run(
            None, inputs, case.options, case.labels, [str(runner.workdir / "nope.wdl")]
        )
    assert res.rc == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("ironside: error: ")
    for needle in case.expect:
        assert needle in lines[0], (needle, lines[0])
    assert res.stdout == ""
    assert not (runner.workdir / "ironside.sqlite").exists()
    assert not (runner.workdir / "ironside-executions").exists()
