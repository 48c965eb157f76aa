"""Object (draft-2/1.0) and Cromwell's lenient access, behind the document's version."""

from __future__ import annotations

import json

import pytest

from tests.runtime.conftest import Runner

OBJECTS = """version 1.0
task mk {
  command <<< printf 'a\\tb\\n1\\t2\\n' > o.tsv; printf 'a\\tb\\n1\\t2\\n3\\t4\\n' > os.tsv >>>
  output { Object o = read_object("o.tsv")  Array[Object] os = read_objects("os.tsv") }
}
workflow w {
  call mk
  Object lit = object { a: 1, b: "two" }
  output {
    String a = mk.o.a
    String b2 = mk.os[1].b
    String lit_b = lit.b
    String back = read_string(write_object(mk.o))
    Array[String] many = read_lines(write_objects(mk.os))
  }
}
"""

LENIENT = """version {version}
struct S {{ String name  Int n }}
workflow w {{
  input {{ S s = {{"name": "x", "n": 3}}  Map[String, Int] m = {{"k": 5}} }}
  output {{ String name = s["name"]  Int k = m.k }}
}}
"""


def test_object_type_literals_and_the_object_functions(runner: Runner) -> None:
    res = runner.run(OBJECTS, extra=["-m", "md.json"])
    assert res.rc == 0, res.stderr
    assert res.outputs == {
        "w.a": "1",
        "w.b2": "4",
        "w.lit_b": "two",
        "w.back": "a\tb\n1\t2",
        "w.many": ["a\tb", "1\t2", "3\t4"],
    }
    md = json.loads((runner.workdir / "md.json").read_text())
    assert "warnings" not in md  # Object is standard in 1.0


def test_draft2_objects(runner: Runner) -> None:
    wdl = """
task mk {
  command <<<
    printf 'x\\ty\\n10\\t20\\n'
  >>>
  output { Object o = read_object(stdout()) }
}
workflow w { call mk  output { String y = mk.o.y } }
"""
    res = runner.run(wdl)
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.y": "20"}


def test_lenient_access_in_1_0_with_a_warning(runner: Runner) -> None:
    res = runner.run(LENIENT.format(version="1.0"), extra=["-m", "md.json"])
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.name": "x", "w.k": 5}
    warnings = json.loads((runner.workdir / "md.json").read_text())["warnings"]
    assert len(warnings) == 2 and all("non-standard" in w for w in warnings)
    assert any('main.wdl:5:26: ["name"] on a struct' in w for w in warnings)
    assert any(".k on a Map" in w for w in warnings)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_lenient_access_is_refused_from_1_1(runner: Runner, version: str) -> None:
    res = runner.run(LENIENT.format(version=version))
    assert res.rc == 2 and "main.wdl:5:" in res.stderr
