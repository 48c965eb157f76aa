"""A relative File default resolves against its WDL file's directory (Cromwell's local backend)."""

from __future__ import annotations

from tests.runtime.conftest import Runner

WDL = """version 1.0
task cat {
  input { File f = "data/task.txt" }
  command <<< cat ~{f} >>>
  output { String text = read_string(stdout()) }
}
workflow w {
  input { File g = "data/wf.txt" }
  call cat as from_task
  call cat as from_wf { input: f = g }
  output { String a = from_task.text  String b = from_wf.text }
}
"""


def test_relative_file_defaults_resolve_beside_the_wdl(runner: Runner) -> None:
    runner.write("flows/data/task.txt", "task default\n")
    runner.write("flows/data/wf.txt", "workflow default\n")
    res = runner.run(WDL, name="flows/main.wdl")
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.a": "task default", "w.b": "workflow default"}
