"""Real runs of every WDL feature the engine supports, on the local backend."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from tests.runtime.conftest import Runner

ADD = """
task add {
  input { Int a  Int b = 10 }
  command <<< echo $(( ~{a} + ~{b} )) >>>
  output { Int sum = read_int(stdout()) }
}
"""


def test_version_1_0_structs_optional_defaults(runner: Runner) -> None:
    """Structs as inputs and outputs, optional inputs, defaults, a private declaration."""
    wdl = """version 1.0
struct Sample { String name  Int reads }
task describe {
  input { Sample s  String? tag  Int factor = 2 }
  Int scaled = s.reads * factor
  command <<< echo "~{s.name}:~{scaled}:~{default='none' tag}" >>>
  output { String line = read_string(stdout())
           Sample out = object { name: s.name + "!", reads: scaled } }
}
workflow w {
  input { Sample sample  String? tag }
  call describe { input: s = sample, tag = tag }
  output { String line = describe.line  Sample doubled = describe.out }
}
"""
    res = runner.run(wdl, {"w.sample": {"name": "a", "reads": 21}})
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.line": "a:42:none", "w.doubled": {"name": "a!", "reads": 42}}
    res = runner.run(wdl, {"w.sample": {"name": "b", "reads": 1}, "w.tag": "T"})
    assert res.outputs["w.line"] == "b:2:T"


def test_nested_scatter_and_conditionals(runner: Runner) -> None:
    """Nested scatters gather to nested arrays; an untaken conditional gives null."""
    wdl = f"""version 1.0
{ADD}
workflow w {{
  input {{ Array[Int] xs = [1, 2]  Array[Int] ys = [10, 20, 30] }}
  scatter (x in xs) {{
    scatter (y in ys) {{
      call add {{ input: a = x, b = y }}
    }}
    if (x > 1) {{ call add as big {{ input: a = x * 100 }} }}
  }}
  if (length(xs) > 5) {{ call add as never {{ input: a = 0 }} }}
  output {{
    Array[Array[Int]] sums = add.sum
    Array[Int?] bigs = big.sum
    Int? nothing = never.sum
  }}
}}
"""
    res = runner.run(wdl)
    assert res.rc == 0, res.stderr
    assert res.outputs["w.sums"] == [[11, 21, 31], [12, 22, 32]]
    assert res.outputs["w.bigs"] == [None, 210]
    assert res.outputs["w.nothing"] is None
    wf = runner.workdir / "ironside-executions" / "w" / res.json["id"]
    assert (wf / "call-add" / "shard-1" / "shard-2" / "execution" / "stdout").read_text() == "32\n"


def test_sub_workflow_and_imports(runner: Runner) -> None:
    """A relative import, a sub-workflow call inside a scatter, aliases."""
    runner.write(
        "lib/sub.wdl",
        f"""version 1.0
{ADD}
workflow inner {{
  input {{ Int n }}
  call add {{ input: a = n, b = n }}
  output {{ Int twice = add.sum }}
}}
""",
    )
    wdl = """version 1.0
import "lib/sub.wdl" as lib
workflow outer {
  scatter (i in [1, 2, 3]) { call lib.inner { input: n = i } }
  call lib.add as total { input: a = inner.twice[0] + inner.twice[1], b = inner.twice[2] }
  output { Array[Int] twice = inner.twice  Int total_sum = total.sum }
}
"""
    res = runner.run(wdl, extra=["-m", "md.json"])
    assert res.rc == 0, res.stderr
    assert res.outputs == {"outer.twice": [2, 4, 6], "outer.total_sum": 12}
    md = json.loads((runner.workdir / "md.json").read_text())
    inner = md["calls"]["outer.inner"]
    assert sorted(c["shardIndex"] for c in inner) == [0, 1, 2]
    sub = inner[0]["subWorkflowMetadata"]
    assert sub["workflowName"] == "inner" and sub["status"] == "Succeeded"
    assert sub["calls"]["inner.add"][0]["executionStatus"] == "Done"
    assert sub["parentWorkflowId"] == md["id"]


def test_imports_from_zip(runner: Runner) -> None:
    """-p: imports resolved inside the zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tasks/add.wdl", "version 1.0\n" + ADD)
    (runner.workdir / "imports.zip").write_bytes(buf.getvalue())
    wdl = """version 1.0
import "tasks/add.wdl" as t
workflow z { call t.add { input: a = 5 } output { Int s = add.sum } }
"""
    res = runner.run(wdl, extra=["-p", str(runner.workdir / "imports.zip")], name="sub/z.wdl")
    assert res.rc == 0, res.stderr
    assert res.outputs == {"z.s": 15}


def test_draft2_no_output_section_call_inputs(runner: Runner) -> None:
    """draft-2: call inputs from the inputs JSON; no output section gives all call outputs."""
    wdl = """
task echo_it {
  String msg
  Int times = 2
  command { for i in $(seq ${times}); do echo ${msg}; done }
  output { Array[String] lines = read_lines(stdout()) }
}
workflow d2 {
  String greeting
  call echo_it { input: msg = greeting }
  call echo_it as again
}
"""
    res = runner.run(wdl, {"d2.greeting": "hi", "d2.again.msg": "yo", "d2.again.times": 3})
    assert res.rc == 0, res.stderr
    assert res.outputs == {
        "d2.echo_it.lines": ["hi", "hi"],
        "d2.again.lines": ["yo", "yo", "yo"],
    }


def test_version_1_1_stdlib_files(runner: Runner) -> None:
    """1.1 stdlib: write_*/read_*, glob, size, basename, stderr, sep, json round trip."""
    wdl = """version 1.1
task files {
  input { Array[String] words  Map[String, Int] counts  File data }
  command <<<
    mkdir -p out
    cat ~{write_lines(words)} > out/a.txt
    cp ~{write_json(counts)} out/b.json
    cat ~{data} > out/c.txt
    echo "warn" >&2
    echo ~{sep(",", words)}
  >>>
  output {
    Array[File] outs = glob("out/*")
    Array[String] back = read_lines("out/a.txt")
    Map[String, Int] m = read_json("out/b.json")
    Float sz = size("out/c.txt")
    String base = basename(data, ".txt")
    String err = read_string(stderr())
    Array[Array[String]] tsv = read_tsv(write_tsv([["a", "b"], ["c", "d"]]))
    String joined = read_string(stdout())
    Map[String, String] mp = read_map(write_map({"k": "v"}))
    Boolean b = read_boolean(write_lines(["true"]))
  }
}
workflow f {
  input { File data }
  call files { input: words = ["x", "y"], counts = {"x": 1}, data = data }
  output {
    Int n = length(files.outs)
    Array[String] back = files.back
    Map[String, Int] m = files.m
    Float sz = files.sz
    String base = files.base
    String err = files.err
    Array[Array[String]] tsv = files.tsv
    String joined = files.joined
    Map[String, String] mp = files.mp
    Boolean b = files.b
    Array[String] wf_lines = read_lines(write_lines(["p", "q"]))
  }
}
"""
    data = runner.write("data.txt", "12345")
    res = runner.run(wdl, {"f.data": str(data)})
    assert res.rc == 0, res.stderr
    out = res.outputs
    assert out["f.n"] == 3
    assert out["f.back"] == ["x", "y"]
    assert out["f.m"] == {"x": 1}
    assert out["f.sz"] == 5.0
    assert out["f.base"] == "data"
    assert out["f.err"] == "warn"
    assert out["f.tsv"] == [["a", "b"], ["c", "d"]]
    assert out["f.joined"] == "x,y"
    assert out["f.mp"] == {"k": "v"}
    assert out["f.b"] is True
    assert out["f.wf_lines"] == ["p", "q"]


def test_relative_file_input_and_file_outputs(runner: Runner) -> None:
    """A relative File input resolves against the cwd; File outputs are absolute and exist."""
    runner.write("in.txt", "hello\n")
    wdl = """version 1.0
task up {
  input { File f }
  command <<< tr a-z A-Z < ~{f} > up.txt >>>
  output { File o = "up.txt"  File? missing = "nope.txt" }
}
workflow r {
  input { File f }
  call up { input: f = f }
  output { File o = up.o  File? m = up.missing }
}
"""
    res = runner.run(wdl, {"r.f": "in.txt"})
    assert res.rc == 0, res.stderr
    assert Path(res.outputs["r.o"]).read_text() == "HELLO\n"
    assert Path(res.outputs["r.o"]).is_absolute()
    assert res.outputs["r.m"] is None


def test_development_version_parses(runner: Runner) -> None:
    """``version development`` as far as miniwdl parses it."""
    wdl = """version development
workflow dev { input { Int x = 3 } output { Int y = x * 2 } }
"""
    res = runner.run(wdl)
    assert res.rc == 0, res.stderr
    assert res.outputs == {"dev.y": 6}
