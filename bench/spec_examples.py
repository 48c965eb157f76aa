"""The WDL specification's examples, run through Ironside and miniwdl side by side.

Usage: ``python bench/spec_examples.py SPEC.md --data DIR [--only NAME ...] [--timeout S]``

``SPEC.md`` is a WDL specification (1.1.1 or later: its examples are test cases, in
``<details>`` blocks with ``Example: <name>.wdl``, the WDL, and optional "Example input",
"Example output" and "Test config" JSON); ``DIR`` holds the files the examples read (the
specification repository's ``tests/data``). The specification stays outside this
repository (as the conformance suites do), so the figures measure Ironside honestly.

Each example is written to its own file (``*_resource.wdl`` ones only for import), run
by each engine with its inputs from a copy of ``DIR``, and passes when the engine's
outcome matches: for ``fail: true`` a failure, otherwise success with the expected outputs
(``exclude_output`` ignored; a File output matches by file name, as the expected values
are names relative to ``DIR``). Prints each engine's pass count and every example on
which they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_DETAILS = re.compile(r"<details>(.*?)</details>", re.S)
_NAME = re.compile(r"Example:\s*([\w.-]+\.wdl)")
_FENCE = re.compile(r"```(\w*)[ \t]*\n(.*?)\n[ \t]*```", re.S)
_LABELS = {"example input:": "input", "example output:": "output", "test config:": "config"}


@dataclass
class Example:
    """One example of the specification and how it must turn out."""

    name: str
    wdl: str
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.name[: -len(".wdl")]

    @property
    def kind(self) -> str:
        """``workflow``, ``task`` or ``resource`` (the config, else the name's suffix)."""
        if "type" in self.config:
            return str(self.config["type"])
        if self.stem.endswith("_resource"):
            return "resource"
        return "task" if self.stem.endswith("_task") else "workflow"

    @property
    def target(self) -> str:
        if "target" in self.config:
            return str(self.config["target"])
        stem = self.stem
        for suffix in ("_task", "_fail"):
            stem = stem.removesuffix(suffix)
        return stem

    @property
    def should_fail(self) -> bool:
        if "fail" in self.config:
            return bool(self.config["fail"])
        return "_fail" in self.stem

    @property
    def excluded(self) -> set[str]:
        value = self.config.get("exclude_output", [])
        return {value} if isinstance(value, str) else set(value)


def extract(markdown: str) -> list[Example]:
    """Every example block of ``markdown`` (its JSON parts parsed; blocks without WDL skipped)."""
    examples = []
    for block in _DETAILS.findall(markdown):
        name = _NAME.search(block)
        if name is None:
            continue
        fences = list(_FENCE.finditer(block))
        wdl = next((f for f in fences if f.group(1) == "wdl"), None)
        if wdl is None:
            continue
        example = Example(name.group(1), textwrap.dedent(wdl.group(2)).strip() + "\n")
        for fence in fences:
            if fence.group(1) != "json":
                continue
            before = block[: fence.start()].rstrip().rsplit("\n", 1)[-1].strip().lower()
            part = _LABELS.get(before)
            if part is not None:
                setattr(example, part, json.loads(textwrap.dedent(fence.group(2)) or "{}"))
        examples.append(example)
    return examples


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _same(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    if isinstance(expected, str) and isinstance(actual, str) and os.path.isabs(actual):
        return expected == actual or os.path.basename(expected) == os.path.basename(actual)
    if isinstance(expected, float) or isinstance(actual, float):
        return isinstance(actual, int | float) and abs(float(expected) - float(actual)) < 1e-9
    return bool(expected == actual)


def passed(example: Example, rc: int, outputs: dict[str, Any] | None) -> bool:
    """Whether one engine's outcome is the one the example specifies."""
    if example.should_fail:
        return rc != 0
    if rc != 0 or outputs is None:
        return False
    want = {k: v for k, v in example.output.items() if k not in example.excluded}
    got = {k: v for k, v in outputs.items() if k in want}
    return _same(want, got)


def _engine_argv(engine: str, example: Example, wdl: str, inputs: str, run_dir: str) -> list[str]:
    bindir = os.path.dirname(sys.executable)
    if engine == "ironside":
        conf = os.path.join(run_dir, "ironside.conf")
        with open(conf, "w") as fh:
            fh.write("call-caching.enabled = false\n")
        argv = [os.path.join(bindir, "ironside"), "run", wdl, "-i", inputs, "--config", conf]
    else:
        argv = [os.path.join(bindir, "miniwdl"), "run", wdl, "-i", inputs, "--dir", run_dir + "/."]
    return argv + (["--task", example.target] if example.kind == "task" else [])


def run_one(
    engine: str, example: Example, folder: str, data: str, timeout: float
) -> tuple[bool, str]:
    """Run ``example`` (written in ``folder``) with ``engine`` from a copy of ``data``:
    whether it passed, and why not (the engine's last error line, or the outputs)."""
    run_dir = tempfile.mkdtemp(prefix=f"{engine}-", dir=folder)
    cwd = os.path.join(run_dir, "data")
    shutil.copytree(data, cwd) if data else os.makedirs(cwd)
    inputs = os.path.join(run_dir, "inputs.json")
    with open(inputs, "w") as fh:
        json.dump(example.input, fh)
    env = dict(os.environ, MINIWDL__SCHEDULER__CONTAINER_BACKEND="bare")
    env.pop("IRONSIDE_CONFIG", None)
    argv = _engine_argv(engine, example, os.path.join(folder, example.name), inputs, run_dir)
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:g} s"
    try:
        outputs = json.loads(proc.stdout).get("outputs") if proc.stdout.strip() else None
    except json.JSONDecodeError:
        outputs = None
    if passed(example, proc.returncode, outputs):
        return True, ""
    if example.should_fail:
        return False, "succeeded where the example must fail"
    if proc.returncode == 0:
        return (
            False,
            f"outputs {json.dumps(outputs)[:300]} (want {json.dumps(example.output)[:300]})",
        )
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    return False, (errors or proc.stderr.splitlines() or ["no stderr"])[-1][:300]


def _runnable(examples: list[Example], only: set[str]) -> Iterator[Example]:
    for example in examples:
        if example.kind == "resource" or example.config.get("priority") == "ignore":
            continue
        if not only or example.stem in only:
            yield example


def main() -> None:
    """Extract, run with both engines, print the counts and the differences."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec", help="the specification's SPEC.md")
    ap.add_argument("--data", default="", help="the files the examples read (tests/data)")
    ap.add_argument("--only", nargs="*", default=[], help="example names (without .wdl)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--why", action="store_true", help="print why Ironside failed each example")
    args = ap.parse_args()
    with open(args.spec) as fh:
        examples = extract(fh.read())
    folder = tempfile.mkdtemp(prefix="ironside-spec-")
    results: dict[str, dict[str, tuple[bool, str]]] = {}
    try:
        for example in examples:  # every file first: examples import one another
            with open(os.path.join(folder, example.name), "w") as fh:
                fh.write(example.wdl)
        for example in _runnable(examples, set(args.only)):
            results[example.stem] = {
                engine: run_one(engine, example, folder, args.data, args.timeout)
                for engine in ("ironside", "miniwdl")
            }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    total = len(results)
    for engine in ("ironside", "miniwdl"):
        count = sum(r[engine][0] for r in results.values())
        print(f"{engine:9s} {count:4d} / {total} examples pass")
    for name, r in sorted(results.items()):
        (ours, why), (theirs, _) = r["ironside"], r["miniwdl"]
        if ours != theirs:
            word = {True: "pass", False: "FAIL"}
            print(f"  {name}: ironside {word[ours]}, miniwdl {word[theirs]}")
        if args.why and not ours:
            print(f"  why {name}: {why}")


if __name__ == "__main__":
    main()
