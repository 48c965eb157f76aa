"""Running ``ironside run`` as a subprocess on a shared SQLite store, for the call-cache tests.

Each task of :data:`WDL` appends its name to ``ran.log`` when its process
starts, so a test counts task processes by reading that file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WDL = """version 1.0
task upper {
  input { File f  String log }
  command <<< echo upper >> ~{log}; tr a-z A-Z < ~{f} > up.txt >>>
  output { File out = "up.txt" }
}
task rev {
  input { File f  String log }
  command <<< echo rev >> ~{log}; rev ~{f} > rev.txt >>>
  output { File out = "rev.txt" }
}
task join {
  META
  input { File a  File b  String log }
  command <<< echo join >> ~{log}; cat ~{a} ~{b} > j.txt >>>
  output { File out = "j.txt"  Int lines = length(read_lines("j.txt")) }
}
workflow w {
  input { File in1  File in2  String log }
  call upper { input: f = in1, log = log }
  call rev { input: f = in2, log = log }
  call join { input: a = upper.out, b = rev.out, log = log }
  output { File joined = join.out  Int lines = join.lines }
}
"""


@dataclass
class Run:
    """One finished ``ironside run``: its id, outputs and metadata."""

    id: str
    outputs: dict[str, Any]
    metadata: dict[str, Any]

    def call(self, name: str) -> dict[str, Any]:
        """The metadata of call ``w.<name>`` (its only shard and attempt)."""
        calls: list[dict[str, Any]] = self.metadata["calls"][f"w.{name}"]
        assert len(calls) == 1
        return calls[0]

    def caching(self, name: str) -> dict[str, Any]:
        """The ``callCaching`` metadata of call ``w.<name>``."""
        return dict(self.call(name)["callCaching"])


class Workspace:
    """A directory with the workflow, its inputs, a config and a SQLite store."""

    def __init__(self, root: Path, volatile_join: bool = False, config_text: str = "") -> None:
        self.root = root
        meta = "meta { volatile: true }" if volatile_join else 'meta { description: "j" }'
        (root / "w.wdl").write_text(WDL.replace("META", meta))
        (root / "in1.txt").write_text("alpha\n")
        (root / "in2.txt").write_text("beta\n")
        inputs = {"w.in1": str(root / "in1.txt"), "w.in2": str(root / "in2.txt")}
        inputs["w.log"] = str(root / "ran.log")
        (root / "inputs.json").write_text(json.dumps(inputs))
        (root / "app.conf").write_text(
            f'database {{ url = "sqlite:///{root}/store.sqlite" }}\n'
            "backend.providers.Local.config.run-in-container = never\n" + config_text
        )
        self.runs = 0

    def processes(self) -> list[str]:
        """Every task process started so far, in order (from ``ran.log``)."""
        log = self.root / "ran.log"
        return log.read_text().split() if log.exists() else []

    def run(self, options: dict[str, Any] | None = None, wdl: str = "w.wdl") -> Run:
        """``ironside run`` in a subprocess; fails the test unless the workflow Succeeds."""
        self.runs += 1
        metadata = self.root / f"metadata-{self.runs}.json"
        argv = [sys.executable, "-m", "ironside.cli", "run", str(self.root / wdl)]
        argv += ["-i", str(self.root / "inputs.json"), "--config", str(self.root / "app.conf")]
        argv += ["-m", str(metadata)]
        if options is not None:
            path = self.root / f"options-{self.runs}.json"
            path.write_text(json.dumps(options))
            argv += ["-o", str(path)]
        env = {k: v for k, v in os.environ.items() if k != "IRONSIDE_CONFIG"}
        done = subprocess.run(
            argv, cwd=self.root, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        printed = json.loads(done.stdout)
        return Run(printed["id"], printed["outputs"], json.loads(metadata.read_text()))
