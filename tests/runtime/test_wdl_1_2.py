"""WDL 1.2 on the local backend: requirements, the 1.2 standard library, env declarations,
multi-line strings, calls without ``input:``, the ``task`` runtime variable."""

from __future__ import annotations

import json
from typing import Any

from tests.runtime.conftest import Runner


def _run(runner: Runner, wdl: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    res = runner.run("version 1.2\n" + wdl, inputs)
    assert res.rc == 0, res.stderr
    return res.outputs


def test_requirements_drive_retries_return_codes_and_the_container_key(runner: Runner) -> None:
    wdl = """
task flaky {
  input { String marker }
  command <<< if [ -e ~{marker} ]; then exit 4; else touch ~{marker}; exit 1; fi >>>
  requirements { max_retries: 1  return_codes: [0, 4]  cpu: 1  memory: "100 MB" }
  output { Int rc = task.return_code  Int attempt = task.attempt }
}
workflow w {
  input { String marker }
  call flaky { marker }
  output { Int rc = flaky.rc  Int attempt = flaky.attempt }
}
"""
    out = _run(runner, wdl, {"w.marker": str(runner.workdir / "m")})
    assert out == {"w.rc": 4, "w.attempt": 1}


def test_the_1_2_standard_library(runner: Runner) -> None:
    wdl = """
workflow w {
  input { Array[Int?] xs = [None, 2, 3]  Map[String, Int] m = {"a": 1, "b": 2} }
  output {
    Int? first = find([1, 5, 8], "x" == "y")
    Boolean hit = matches("sample_01.bam", "_[0-9]+\\\\.bam$")
    Boolean has = contains([1, 2, 3], 2)
    Boolean key = contains_key(m, "b")
    Array[Int] vals = values(m)
    Array[Array[Int]] chunks = chunk([1, 2, 3, 4, 5], 2)
    Array[Array[Int]] none = chunk([], 3)
    String path = join_paths("/data", ["a", "b.txt"])
    Int picked = select_first([None, None], 7)
    Int some = select_first(xs)
  }
}
"""
    out = _run(runner, wdl)
    assert out == {
        "w.first": None,
        "w.hit": True,
        "w.has": True,
        "w.key": True,
        "w.vals": [1, 2],
        "w.chunks": [[1, 2], [3, 4], [5]],
        # "consecutive arrays of n elements": none for an empty array (the spec's
        # chunk_array example wants [[]]; its prose, miniwdl and Sprocket give [])
        "w.none": [],
        "w.path": "/data/a/b.txt",
        "w.picked": 7,
        "w.some": 2,
    }


def test_tsv_with_headers(runner: Runner) -> None:
    wdl = """
struct Row { String name  Int n }
task tsv {
  command <<< printf 'name\\tn\\na\\t1\\nb\\t2\\n' > t.tsv >>>
  output {
    Array[Map[String, String]] rows = read_tsv("t.tsv", true)
    File back = write_tsv([["x", "1"]], true, ["name", "n"])
  }
}
workflow w {
  call tsv
  output { Array[Map[String, String]] rows = tsv.rows  String back = read_string(tsv.back) }
}
"""
    out = _run(runner, wdl)
    assert out["w.rows"] == [{"name": "a", "n": "1"}, {"name": "b", "n": "2"}]
    assert out["w.back"] == "name\tn\nx\t1"


def test_env_declarations_reach_the_command_environment(runner: Runner) -> None:
    wdl = """
task t {
  input { env String GREETING = "hello"  String name = "w" }
  env String TARGET = "~{name}!"
  command <<< echo "$GREETING $TARGET" >>>
  output { String s = read_string(stdout()) }
}
workflow w { call t  output { String s = t.s } }
"""
    assert _run(runner, wdl) == {"w.s": "hello w!"}


def test_multi_line_strings_and_calls_without_input(runner: Runner) -> None:
    wdl = """
task t {
  input { String text  Int n }
  command <<< echo "~{text}" | wc -l; echo ~{n} >>>
  output { Array[String] lines = read_lines(stdout()) }
}
workflow w {
  Int n = 3
  String text = <<<
    first line
      second ~{n}
  >>>
  call t { text, n }
  output { Array[String] lines = t.lines  String text_out = text }
}
"""
    out = _run(runner, wdl)
    assert out["w.text_out"] == "first line\n  second 3"
    assert [x.strip() for x in out["w.lines"]] == ["2", "3"]


def test_the_task_variable_in_command_and_outputs(runner: Runner) -> None:
    wdl = """
task t {
  command <<< echo "~{task.name} ~{task.cpu} ~{task.attempt}" >>>
  requirements { cpu: 2  memory: "64 MiB" }
  meta { owner: "lab" }
  output {
    String line = read_string(stdout())
    Int memory = task.memory
    String owner = task.meta.owner
    Int rc = task.return_code
  }
}
workflow w {
  call t
  output { String line = t.line  Int memory = t.memory  String owner = t.owner  Int rc = t.rc }
}
"""
    out = _run(runner, wdl)
    assert out == {"w.line": "t 2.000000 0", "w.memory": 64 * 2**20, "w.owner": "lab", "w.rc": 0}


def test_hints_reach_the_runtime_attributes_under_the_requirements(runner: Runner) -> None:
    wdl = """version 1.2
task t {
  command <<< echo hi >>>
  requirements { cpu: 1 }
  hints { cpu: 4  short_task: true  max_memory: "1 GiB" }
}
workflow w { call t }
"""
    res = runner.run(wdl, extra=["-m", "md.json"])
    assert res.rc == 0, res.stderr
    md = json.loads((runner.workdir / "md.json").read_text())
    runtime = md["calls"]["w.t"][0]["runtimeAttributes"]
    assert runtime["cpu"] == "1" and runtime["short_task"] == "true"
    assert runtime["max_memory"] == "1 GiB"


def test_directory_inputs_and_outputs(runner: Runner) -> None:
    runner.write("indir/a.txt", "a\n")
    runner.write("indir/sub/b.txt", "b\n")
    wdl = """version 1.2
task t {
  input { Directory d }
  command <<< find ~{d} -type f | sort | xargs cat; mkdir -p out/x; echo made > out/x/m.txt >>>
  output { Array[String] lines = read_lines(stdout())  Directory o = "out" }
}
workflow w {
  input { Directory d }
  call t { d }
  output { Array[String] lines = t.lines  Directory o = t.o }
}
"""
    final = runner.workdir / "final"
    res = runner.run(
        wdl,
        {"w.d": str(runner.workdir / "indir")},
        options={"final_workflow_outputs_dir": str(final), "use_relative_output_paths": True},
    )
    assert res.rc == 0, res.stderr
    assert res.outputs["w.lines"] == ["a", "b"]
    assert res.outputs["w.o"] == str(final / "out")
    assert (final / "out" / "x" / "m.txt").read_text() == "made\n"


def test_write_json_refuses_a_map_without_string_keys(runner: Runner) -> None:
    """1.2: a Map with Int keys has no JSON form; the call fails and says why."""
    wdl = """
workflow w {
  Pair[Int, Map[Int, String]] x = (1, {2: "hello"})
  File f = write_json(x)
  output { String s = read_string(f) }
}
"""
    res = runner.run("version 1.2\n" + wdl)
    assert res.rc != 0
    assert "a Map with Int keys is not serializable to JSON" in res.stderr, res.stderr


def test_write_json_writes_maps_with_string_and_file_keys(runner: Runner) -> None:
    wdl = """
workflow w {
  Map[String, Map[String, Int]] m = {"a": {"b": 1}}
  output { String s = read_string(write_json([m])) }
}
"""
    assert json.loads(_run(runner, wdl)["w.s"]) == [{"a": {"b": 1}}]


def test_write_json_of_int_keys_stays_as_it_was_before_1_2(runner: Runner) -> None:
    """1.0 and 1.1 documents keep miniwdl's (and Cromwell's) string keys."""
    wdl = """version 1.1
workflow w {
  Map[Int, String] m = {2: "hello"}
  output { String s = read_string(write_json(m)) }
}
"""
    res = runner.run(wdl)
    assert res.rc == 0, res.stderr
    assert json.loads(res.outputs["w.s"]) == {"2": "hello"}


def test_a_placeholder_failing_on_none_is_empty(runner: Runner) -> None:
    """1.2: ``select_first([foo])`` with ``foo`` None makes its placeholder "", in strings and
    in the command alike."""
    wdl = """
task t {
  input { String? x }
  command <<< echo "[~{select_first([x])}]" >>>
  output { String out = read_string(stdout()) }
}
workflow w {
  String? foo = None
  call t
  output {
    String s = "Foo is ~{select_first([foo])}"
    String literal = "~{select_first([None, foo])}."
    String cmd = t.out
  }
}
"""
    assert _run(runner, wdl) == {"w.s": "Foo is ", "w.literal": ".", "w.cmd": "[]"}


def test_a_placeholder_failing_without_none_still_fails(runner: Runner) -> None:
    res = runner.run(
        'version 1.2\nworkflow w {\n  Int z = 0\n  output { String s = "~{1 / z}" }\n}\n'
    )
    assert res.rc != 0 and "division" in res.stderr.lower(), res.stderr


def test_before_1_2_a_placeholder_failing_on_none_fails(runner: Runner) -> None:
    wdl = """version 1.1
workflow w {
  String? foo = None
  output { String s = "~{select_first([foo])}" }
}
"""
    res = runner.run(wdl)
    assert res.rc != 0 and "select_first" in res.stderr, res.stderr


def test_a_none_optional_struct_member_is_null_in_the_outputs(runner: Runner) -> None:
    """As miniwdl and Cromwell write it (the spec's test_struct example leaves it out)."""
    wdl = """
struct Person { String name  Int? age }
workflow w {
  output { Person p = Person { name: "A" } }
}
"""
    assert _run(runner, wdl) == {"w.p": {"name": "A", "age": None}}
