"""Input defaults (WDL 1.1): an explicit null overrides a default; defaults may use the body."""

from __future__ import annotations

from tests.runtime.conftest import Runner


def test_an_explicit_null_overrides_a_default(runner: Runner) -> None:
    wdl = """version 1.1
task t {
  input { String? s = "hello" }
  command <<< echo "[~{default='none' s}]" >>>
  output { String out = read_string(stdout()) }
}
workflow w {
  input { String? top = "default" }
  call t { input: s = None }
  output { String out = t.out  String shown = select_first([top, "was null"]) }
}
"""
    res = runner.run(wdl, {"w.top": None})
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.out": "[none]", "w.shown": "was null"}


def test_input_defaults_may_refer_to_calls_in_the_body(runner: Runner) -> None:
    sub = """version 1.1
task one { command <<< echo 1 >>> output { Int v = read_int(stdout()) } }
workflow inner {
  input { Int y = one.v + 1 }
  call one
  output { Int out = y }
}
"""
    runner.write("inner.wdl", sub)
    wdl = """version 1.1
import "inner.wdl" as i
task one { command <<< echo 1 >>> output { Int v = read_int(stdout()) } }
workflow w {
  input { Int y = one.v + 1 }
  call one
  call i.inner
  output { Int top = y  Int nested = inner.out }
}
"""
    res = runner.run(wdl)
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.top": 2, "w.nested": 2}
