"""The call-cache seam: lookup before submit gets the whole fingerprint; a hit skips the run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ironside.backends.local import LocalBackend
from ironside.engine import submit as S
from ironside.engine.cache_step import CacheHit, CallFingerprint
from ironside.engine.scheduler import Engine
from ironside.metadata import workflow_metadata
from ironside.store import open_store

WDL = """version 1.0
task t {
  input { Int x  File f }
  command <<< echo $(( ~{x} + 1 )) > n.txt; cat ~{f} > copy.txt >>>
  runtime { docker: "ubuntu:22.04"  cpu: 1 }
  output { Int n = read_int("n.txt")  File out = "n.txt" }
}
workflow c {
  input { File f }
  scatter (x in [1, 2]) { call t { input: x = x, f = f } }
  output { Array[Int] ns = t.n }
}
"""


class RecordingCache:
    """Hits for x == 2, records everything else."""

    enabled = True

    def __init__(self, hit_file: str) -> None:
        self.looked: list[CallFingerprint] = []
        self.recorded: list[tuple[CallFingerprint, Mapping[str, Any]]] = []
        self.hit_file = hit_file

    def lookup(self, fp: CallFingerprint) -> CacheHit | None:
        self.looked.append(fp)
        if fp.inputs["Int x"] == 2:  # keyed by Cromwell's hash names: "<type> <name>"
            return CacheHit(outputs={"n": 99, "out": self.hit_file}, source="old:c.t:1")
        return None

    def record(self, fp: CallFingerprint, outputs: Mapping[str, Any]) -> None:
        self.recorded.append((fp, outputs))


def test_cache_step_lookup_hit_and_record(tmp_path: Path) -> None:
    """The engine asks the cache with command, runtime, inputs, files and output expressions."""
    wdl = tmp_path / "c.wdl"
    wdl.write_text(WDL)
    data = tmp_path / "data.txt"
    data.write_text("5\n")
    hit_file = tmp_path / "cached.txt"
    hit_file.write_text("99\n")
    inputs = tmp_path / "in.json"
    inputs.write_text(f'{{"c.f": "{data}"}}')
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite")
    sub = S.prepare(str(wdl), str(inputs))
    wf_id = S.store_submission(store, sub, "Local", str(tmp_path / "exec"))
    root = store.workflow(wf_id)["root"]
    cache = RecordingCache(str(hit_file))
    backend = LocalBackend()
    engine = Engine(store, backend, 2, cache=cache)
    run = engine.run(S.top_run(sub, wf_id, root))
    backend.close()
    assert run.status == "Succeeded", run.failures
    assert run.outputs is not None and run.outputs["ns"].json == [2, 99]
    assert len(cache.looked) == 2
    fp = next(f for f in cache.looked if f.inputs["Int x"] == 1)
    assert fp.call_fqn == "c.t" and fp.shard == 0 and fp.backend == "Local"
    assert fp.command == f"echo $(( 1 + 1 )) > n.txt; cat {data} > copy.txt"
    assert "~{x}" in fp.command_template
    assert fp.runtime["docker"] == "ubuntu:22.04"
    assert fp.input_files == [str(data)]
    assert fp.output_expressions["Int n"] == 'Int n = read_int("n.txt")'
    assert [f.inputs["Int x"] for f, _ in cache.recorded] == [1]
    assert cache.recorded[0][1]["n"] == 2
    assert not (Path(root) / "call-t" / "shard-1" / "execution" / "script").exists()
    md = workflow_metadata(store, wf_id)
    shard1 = next(c for c in md["calls"]["c.t"] if c["shardIndex"] == 1)
    assert shard1["callCaching"]["hit"] is True and shard1["outputs"]["n"] == 99
    store.close()
