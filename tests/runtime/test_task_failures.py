"""Task commands the spec allows (empty, comment-only) and failures that say why."""

from __future__ import annotations

from tests.runtime.conftest import Runner


def _task(command: str) -> str:
    return f"""version 1.0
task t {{
  command <<<{command}>>>
  output {{ String out = read_string(stdout()) }}
}}
workflow w {{
  call t
  output {{ String out = t.out }}
}}
"""


def test_empty_command_succeeds_with_empty_stdout(runner: Runner) -> None:
    res = runner.run(_task(" "))
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.out": ""}


def test_comment_only_command_succeeds(runner: Runner) -> None:
    res = runner.run(_task("\n    # only a comment\n  "))
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.out": ""}


def test_bash_syntax_error_is_in_stderr_and_the_failure_message(runner: Runner) -> None:
    res = runner.run(_task("\n    echo start\n    if then fi (\n  "))
    assert res.rc == 1
    ex = runner.workdir / "ironside-executions" / "w"
    stderr = next(ex.glob("*/call-t/execution/stderr")).read_text()
    assert "syntax error" in stderr
    assert (next(ex.glob("*/call-t/execution/rc")).read_text().strip()) == "2"
    assert "return code 2" in res.stderr and "syntax error" in res.stderr
