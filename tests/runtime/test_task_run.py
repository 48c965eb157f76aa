"""``ironside run`` of a task without a workflow (``--task``, as ``miniwdl run --task``)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.conftest import Runner, RunResult, ironside_cmd

ONE_TASK = """version 1.0
task greet {
  input {
    String name
    File names
    Int times = 2
  }
  command <<<
    for i in $(seq ~{times}); do echo "hello ~{name}" >> greeting.txt; done
    wc -l < ~{names} > count.txt
  >>>
  output {
    File greet = "greeting.txt"
    Int lines = read_int("count.txt")
    Int times_used = times
  }
}
"""

TWO_TASKS = """version 1.0
task a { input { Int n } command <<< echo $(( ~{n} + 1 )) >>>
  output { Int o = read_int(stdout()) } }
task b { input { String s } command <<< echo ~{s}~{s} >>>
  output { String o = read_string(stdout()) } }
"""

WITH_WORKFLOW = """version 1.0
task t { input { Int n } command <<< echo $(( ~{n} * 10 )) >>>
  output { Int o = read_int(stdout()) } }
workflow w {
  input { Int n }
  call t { input: n = n }
  output { Int o = t.o }
}
"""


def _metadata(runner: Runner, res: RunResult) -> dict[str, Any]:
    assert res.rc == 0, res.stderr
    return dict(json.loads((runner.workdir / "md.json").read_text()))


def test_lone_task_runs_with_file_input_and_output(runner: Runner) -> None:
    """No workflow, one task: it runs without --task; outputs keyed task.output, by value."""
    names = runner.write("names.txt", "ann\nbob\ncy\n")
    inputs = {"greet.name": "world", "greet.names": str(names), "greet.times": 3}
    res = runner.run(ONE_TASK, inputs, extra=["-m", str(runner.workdir / "md.json")])
    md = _metadata(runner, res)
    outputs = res.outputs
    assert set(outputs) == {"greet.greet", "greet.lines", "greet.times_used"}
    assert Path(outputs["greet.greet"]).read_text() == "hello world\n" * 3
    assert outputs["greet.lines"] == 3 and outputs["greet.times_used"] == 3
    root = runner.workdir / "ironside-executions" / "greet" / res.json["id"]
    assert Path(outputs["greet.greet"]).is_relative_to(root / "call-greet" / "execution")
    assert md["workflowName"] == "greet" and md["status"] == "Succeeded"
    assert list(md["calls"]) == ["greet.greet"]
    (call,) = md["calls"]["greet.greet"]
    assert call["inputs"] == {"name": "world", "names": str(names), "times": 3}
    assert md["inputs"] == inputs  # named as the inputs JSON names them
    assert md["outputs"] == outputs


def test_bare_input_names_and_defaults(runner: Runner) -> None:
    """Bare input names are the task's too (miniwdl takes them); a default applies."""
    names = runner.write("names.txt", "x\n")
    res = runner.run(ONE_TASK, {"name": "you", "names": str(names)})
    assert res.rc == 0, res.stderr
    assert Path(res.outputs["greet.greet"]).read_text() == "hello you\n" * 2
    assert res.outputs["greet.times_used"] == 2


def test_task_flag_picks_one_of_several(runner: Runner) -> None:
    """--task names which task of a workflow-less document runs."""
    res = runner.run(TWO_TASKS, {"b.s": "ab"}, extra=["--task", "b"])
    assert res.rc == 0, res.stderr
    assert res.outputs == {"b.o": "abab"}
    res = runner.run(TWO_TASKS, {"n": 41}, extra=["--task", "a"])
    assert res.rc == 0, res.stderr
    assert res.outputs == {"a.o": 42}


def test_task_flag_beside_a_workflow_runs_the_task_alone(runner: Runner) -> None:
    """A document's workflow is not run when --task names one of its tasks."""
    res = runner.run(
        WITH_WORKFLOW, {"t.n": 4}, extra=["--task", "t", "-m", str(runner.workdir / "md.json")]
    )
    md = _metadata(runner, res)
    assert res.outputs == {"t.o": 40}
    assert md["workflowName"] == "t" and list(md["calls"]) == ["t.t"]
    res = runner.run(WITH_WORKFLOW, {"w.n": 4})
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.o": 40}


def test_runtime_attribute_of_a_task_run_from_the_inputs(runner: Runner) -> None:
    """``task.runtime.<attribute>`` in the inputs sets the task's runtime attribute."""
    wdl = "version 1.1\ntask rc { command <<< exit 3 >>> output { Int one = 1 } }\n"
    failed = runner.run(wdl, {})
    assert failed.rc == 1
    res = runner.run(wdl, {"rc.runtime.returnCodes": 3})
    assert res.rc == 0, res.stderr
    assert res.outputs == {"rc.one": 1}


def test_second_run_of_a_task_is_a_cache_hit(runner: Runner) -> None:
    """The task run's call is cached like a workflow's call, keyed task.task."""
    first = runner.run(TWO_TASKS, {"a.n": 1}, extra=["--task", "a"])
    assert first.rc == 0, first.stderr
    md_path = str(runner.workdir / "md.json")
    second = runner.run(TWO_TASKS, {"a.n": 1}, extra=["--task", "a", "-m", md_path])
    md = _metadata(runner, second)
    assert second.outputs == first.outputs == {"a.o": 2}
    (call,) = md["calls"]["a.a"]
    assert call["callCaching"]["result"] == f"Cache Hit: {first.json['id']}:a.a:-1"


def _workflow_rows(runner: Runner) -> int:
    with sqlite3.connect(runner.workdir / "ironside.sqlite") as conn:
        return int(conn.execute("SELECT count(*) FROM ironside_workflow").fetchone()[0])


REJECTED = {
    "several tasks, no --task": (
        TWO_TASKS,
        {},
        [],
        ("main.wdl:", "no workflow", "a, b", "--task NAME"),
    ),
    "unknown task": (TWO_TASKS, {}, ["--task", "c"], ("main.wdl:", "no task 'c'", "tasks: a, b")),
    "unknown task beside a workflow": (WITH_WORKFLOW, {}, ["--task", "w"], ("no task 'w'", "t")),
    "no task at all": ("version 1.0\nstruct S { Int i }\n", {}, [], ("no workflow and no task",)),
    "unknown input": (
        TWO_TASKS,
        {"a.n": 1, "a.m": 2},
        ["--task", "a"],
        ("'a.m'", "valid inputs: a.n"),
    ),
    "missing input": (TWO_TASKS, {}, ["--task", "b"], ("missing required input(s): b.s",)),
    "runtime of no call": (
        TWO_TASKS,
        {"a.n": 1, "a.x.runtime.cpu": 2},
        ["--task", "a"],
        ("'a.x.runtime.cpu'", "a.runtime.<attribute>"),
    ),
}


@pytest.mark.parametrize("case", list(REJECTED.values()), ids=list(REJECTED))
def test_rejected_task_runs_store_nothing(
    runner: Runner, case: tuple[str, dict[str, Any], list[str], tuple[str, ...]]
) -> None:
    """Exit 2 with one line saying what; the store (already holding a run) gains no row."""
    wdl, inputs, extra, expect = case
    done = runner.run(TWO_TASKS, {"a.n": 1}, extra=["--task", "a"], name="earlier.wdl")
    assert done.rc == 0, done.stderr
    res = runner.run(wdl, inputs, extra=extra)
    assert res.rc == 2, res.stderr
    (line,) = res.stderr.strip().splitlines()
    for needle in expect:
        assert needle in line, (needle, line)
    assert res.stdout == ""
    assert _workflow_rows(runner) == 1


def test_task_with_resume_is_refused(runner: Runner) -> None:
    res = runner.run(None, extra=["--resume", "0" * 8, "--task", "a"])
    assert res.rc == 2
    assert "--task does not go with --resume" in res.stderr


def test_task_run_resumes_after_a_crash(tmp_path: Path) -> None:
    """Killed once its call finished, the task run resumes with that call kept."""
    side = tmp_path / "side.txt"
    wdl = tmp_path / "tasks.wdl"
    wdl.write_text(
        "version 1.0\ntask x { input { String s } command <<< echo once >> "
        f"{side}; echo ~{{s}} >>> output {{ String o = read_string(stdout()) }} }}\n"
        "task y { command <<< >>> }\n"
    )
    conf = tmp_path / "app.conf"
    conf.write_text(f'database.url = "sqlite:///{tmp_path}/db.sqlite"\n')
    env = dict(os.environ, IRONSIDE_FAILPOINT="call-done")
    inputs = tmp_path / "inputs.json"
    inputs.write_text('{"x.s": "done", "x.runtime.maxRetries": 1}')
    cmd = ironside_cmd() + ["run", str(wdl), "--task", "x", "-i", str(inputs), "--config"]
    cmd.append(str(conf))
    crashed = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert crashed.returncode == -9, crashed.stderr
    wf_id = re.search(r"workflow x ([0-9a-f-]{36}) starting", crashed.stderr)
    assert wf_id, crashed.stderr
    resume = ["run", "--resume", wf_id.group(1), "--config", str(conf), "-m", "md.json"]
    env.pop("IRONSIDE_FAILPOINT")
    done = subprocess.run(
        ironside_cmd() + resume, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"] == {"x.o": "done"}
    assert side.read_text() == "once\n"
    md = json.loads((tmp_path / "md.json").read_text())
    assert md["status"] == "Succeeded" and [c["attempt"] for c in md["calls"]["x.x"]] == [1]
    assert md["inputs"] == {"x.s": "done", "x.runtime.maxRetries": 1}
    assert md["calls"]["x.x"][0]["runtimeAttributes"]["maxRetries"] == "1"
