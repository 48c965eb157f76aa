"""bench/spec_examples.py: extracting specification-style examples and judging outcomes.

The markdown below is written here in the specification's example format (the real
specification stays outside the repository); the run uses both engines on it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import spec_examples as se  # noqa: E402

MARKDOWN = """
Some prose.

<details>
  <summary>
  Example: add_two.wdl

  ```wdl
  version 1.1

  workflow add_two {
    input { Int x }
    output { Int y = x + 2  String note = "n" }
  }
  ```
  </summary>
  <p>
  Example input:

  ```json
  {"add_two.x": 1}
  ```

  Example output:

  ```json
  {"add_two.y": 3, "add_two.note": "ignored"}
  ```

  Test config:

  ```json
  {"exclude_output": "add_two.note"}
  ```
  </p>
</details>

<details>
  <summary>
  Example: divide_fail.wdl

  ```wdl
  version 1.1
  workflow divide { output { Int q = 1 / 0 } }
  ```
  </summary>
</details>

<details>
  <summary>
  Example: shared_resource.wdl

  ```wdl
  version 1.1
  struct P { Int a }
  ```
  </summary>
</details>

<details><summary>not an example</summary></details>
"""


def test_examples_are_extracted_with_their_parts() -> None:
    examples = {e.name: e for e in se.extract(MARKDOWN)}
    assert list(examples) == ["add_two.wdl", "divide_fail.wdl", "shared_resource.wdl"]
    add = examples["add_two.wdl"]
    assert add.wdl.startswith("version 1.1\n\nworkflow add_two {\n  input { Int x }")
    assert add.input == {"add_two.x": 1} and add.excluded == {"add_two.note"}
    assert (add.kind, add.target, add.should_fail) == ("workflow", "add_two", False)
    fail = examples["divide_fail.wdl"]
    assert (fail.target, fail.should_fail, fail.output) == ("divide", True, {})
    assert examples["shared_resource.wdl"].kind == "resource"


def test_outcomes_are_judged_as_the_test_config_says() -> None:
    add, fail, _ = se.extract(MARKDOWN)
    assert se.passed(add, 0, {"add_two.y": 3, "add_two.note": "other"})
    assert not se.passed(add, 0, {"add_two.y": 4})
    assert not se.passed(add, 1, None)
    assert se.passed(fail, 1, None) and not se.passed(fail, 0, {})
    files = se.Example("f.wdl", "", output={"f.out": "out.txt", "f.xs": [1.0, 2]})
    assert se.passed(files, 0, {"f.out": "/runs/x/out.txt", "f.xs": [1, 2.0]})


def test_both_engines_run_an_example(tmp_path: Path) -> None:
    examples = se.extract(MARKDOWN)
    for example in examples:
        (tmp_path / example.name).write_text(example.wdl)
    data = tmp_path / "data"
    data.mkdir()
    for engine in ("ironside", "miniwdl"):
        assert os.path.exists(os.path.join(os.path.dirname(sys.executable), engine))
        assert se.run_one(engine, examples[0], str(tmp_path), str(data), 120.0)[0], engine
        assert se.run_one(engine, examples[1], str(tmp_path), str(data), 120.0)[0], engine


TASK_EXAMPLE = """
<details>
  <summary>
  Example: echo_twice_task.wdl

  ```wdl
  version 1.1
  task echo_twice {
    input { String s }
    command <<< echo ~{s}~{s} >>>
    output { String out = read_string(stdout()) }
  }
  task other { command <<< >>> }
  ```
  </summary>
  <p>
  Example input:

  ```json
  {"echo_twice.s": "ab"}
  ```

  Example output:

  ```json
  {"echo_twice.out": "abab"}
  ```
  </p>
</details>
"""


def test_both_engines_run_a_task_example(tmp_path: Path) -> None:
    """A ``*_task.wdl`` example runs its task (``--task``) on both engines."""
    (example,) = se.extract(TASK_EXAMPLE)
    assert (example.kind, example.target) == ("task", "echo_twice")
    (tmp_path / example.name).write_text(example.wdl)
    for engine in ("ironside", "miniwdl"):
        assert se.run_one(engine, example, str(tmp_path), "", 120.0)[0], engine


def test_a_failed_example_says_why(tmp_path: Path) -> None:
    """Wrong outputs are shown beside the wanted ones; a failed run by its error line."""
    (example,) = se.extract(TASK_EXAMPLE)
    (tmp_path / example.name).write_text(example.wdl)
    wrong = dataclasses.replace(example, output={"echo_twice.out": "ba"})
    ok, why = se.run_one("ironside", wrong, str(tmp_path), "", 120.0)
    assert not ok and why == 'outputs {"echo_twice.out": "abab"} (want {"echo_twice.out": "ba"})'
    missing = dataclasses.replace(example, input={})
    ok, why = se.run_one("ironside", missing, str(tmp_path), "", 120.0)
    assert not ok and "echo_twice.s" in why, why
