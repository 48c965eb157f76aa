"""What each WDL version reserves, and what a document of that version may name."""

from __future__ import annotations

import pytest

from tests.runtime.conftest import Runner

PAIRS = """
task t {{
  input {{ Int left  Int right }}
  command <<< echo $(( ~{{left}} - ~{{right}} )) >>>
  output {{ Int out = read_int(stdout()) }}
}}
workflow w {{
  input {{ Pair[Int, Int] p = (7, 2) }}
  Int left = p.left
  call t as right {{ input: left = left, right = p.right }}
  output {{ Int out = right.out }}
}}
"""


def test_left_and_right_are_names_in_wdl_1_0(runner: Runner) -> None:
    res = runner.run("version 1.0\n" + PAIRS.format())
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.out": 5}


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_left_and_right_are_reserved_from_wdl_1_1(runner: Runner, version: str) -> None:
    res = runner.run(f"version {version}\n" + PAIRS.format())
    assert res.rc == 2
    assert "main.wdl:4:11" in res.stderr and "keyword left" in res.stderr


@pytest.mark.parametrize("word", ["Directory", "hints", "requirements"])
def test_words_reserved_from_1_2_are_names_in_1_1(runner: Runner, word: str) -> None:
    body = f"workflow w {{\n  Int {word} = 1\n  output {{ Int o = {word} }}\n}}\n"
    assert runner.run("version 1.1\n" + body).outputs == {"w.o": 1}
    res = runner.run("version 1.2\n" + body)
    assert res.rc == 2 and f"keyword {word}" in res.stderr
