"""final_workflow_outputs_dir with use_relative_output_paths: collisions fail the workflow."""

from __future__ import annotations

import json

from tests.runtime.conftest import Runner

WDL = """version 1.0
task mk {
  input { String text }
  command <<< mkdir -p out; echo ~{text} > out/result.txt >>>
  output { File f = "out/result.txt" }
}
workflow w {
  call mk as a { input: text = "a" }
  call mk as b { input: text = "b" }
  output { File fa = a.f  File fb = b.f }
}
"""


def test_two_outputs_on_one_relative_path_fail_naming_both(runner: Runner) -> None:
    final = runner.workdir / "final"
    options = {"final_workflow_outputs_dir": str(final), "use_relative_output_paths": True}
    res = runner.run(WDL, options=options, extra=["-m", "md.json"])
    assert res.rc == 1
    assert "w.fa" in res.stderr and "w.fb" in res.stderr and "out/result.txt" in res.stderr
    assert not (final / "out" / "result.txt").exists()  # nothing copied
    md = json.loads((runner.workdir / "md.json").read_text())
    assert md["status"] == "Failed"


def test_the_same_outputs_without_relative_paths_keep_their_call_layout(runner: Runner) -> None:
    final = runner.workdir / "final"
    res = runner.run(WDL, options={"final_workflow_outputs_dir": str(final)})
    assert res.rc == 0, res.stderr
    fa, fb = res.outputs["w.fa"], res.outputs["w.fb"]
    assert fa != fb and fa.startswith(str(final)) and "call-a" in fa
    assert open(fb).read() == "b\n"
