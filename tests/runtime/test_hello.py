"""The examples/hello workflow end to end: a scatter and a file output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.runtime.conftest import Runner, ironside_cmd

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hello"


def test_hello_example_via_console_script(tmp_path: Path) -> None:
    """The real command in a real process: outputs JSON on stdout, logs on stderr, exit 0."""
    proc = subprocess.run(
        ironside_cmd() + ["run", str(EXAMPLES / "hello.wdl"), "-i", str(EXAMPLES / "inputs.json")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    names = json.loads((EXAMPLES / "inputs.json").read_text())["hello.names"]
    assert result["outputs"]["hello.greetings"] == [f"Hello, {n}!" for n in names]
    assert result["outputs"]["hello.count"] == len(names)
    greetings = Path(result["outputs"]["hello.greetings_file"])
    assert greetings.read_text().splitlines() == [f"Hello, {n}!" for n in names]
    wf_dir = tmp_path / "ironside-executions" / "hello" / result["id"]
    assert greetings.is_relative_to(wf_dir / "call-collect" / "execution")
    assert (tmp_path / "ironside-executions" / "ironside.sqlite").is_file()
    for i in range(len(names)):
        ex = wf_dir / "call-greet" / f"shard-{i}" / "execution"
        assert (ex / "rc").read_text().strip() == "0"
        assert (ex / "script").is_file() and (ex / "stderr").is_file()
        assert (ex / "stdout").read_text().strip() == f"Hello, {names[i]}!"
    assert "Succeeded" in proc.stderr


def test_hello_defaults(runner: Runner) -> None:
    """The default input applies when no inputs file is given."""
    res = runner.run((EXAMPLES / "hello.wdl").read_text())
    assert res.rc == 0, res.stderr
    assert res.outputs["hello.count"] == 3
    assert res.outputs["hello.greetings"][1] == "Hello, Ironside!"
