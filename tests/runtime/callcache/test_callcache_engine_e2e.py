"""The call cache plugged into the real engine (scheduler, SQLite store, local backend).

These tests hand :class:`CallCacheStep` over an in-memory entry store to
``Engine(cache=...)`` and count the ``submit`` calls the local backend gets;
``test_callcache_cli.py`` covers the production wiring (config, SQL entries)
through ``ironside run``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ironside.callcache import (
    CallCache,
    CallHasher,
    FileIdentifier,
    InMemoryCacheStore,
    LocalDuplicator,
)
from ironside.callcache.step import CallCacheStep, local_detritus

pytestmark = pytest.mark.timeout(180)

WDL = """version 1.0
task upper {
  input { File f }
  command <<< tr a-z A-Z < ~{f} > up.txt >>>
  output { File out = "up.txt" }
}
task rev {
  input { File f }
  command <<< rev ~{f} > rev.txt >>>
  output { File out = "rev.txt" }
}
task join {
  input { File a  File b  String delim }
  command <<< cat ~{a} > j.txt; echo "~{delim}" >> j.txt; cat ~{b} >> j.txt >>>
  output { File out = "j.txt"  Int n = 3 }
}
workflow w {
  input { File in1  File in2 }
  call upper { input: f = in1 }
  call rev { input: f = in2 }
  call join { input: a = upper.out, b = rev.out, delim = "--" }
  output { File joined = join.out  Int n = join.n }
}
"""


class Harness:
    """Submits the workflow to a fresh Engine each time, sharing one store and cache."""

    def __init__(self, tmp_path: Path) -> None:
        from ironside.engine.cache_step import CacheHit
        from ironside.store import open_store

        self.tmp = tmp_path
        self.store = open_store(f"sqlite:///{tmp_path}/store.sqlite")
        self.entries = InMemoryCacheStore()
        self.metadata: list[tuple[str, str, dict[str, Any]]] = []
        cache = CallCache(self.entries, lambda _: LocalDuplicator())
        self.step = CallCacheStep(
            cache, CallHasher(FileIdentifier()), CacheHit, self._sink, detritus=local_detritus
        )
        self.submits: list[str] = []
        (tmp_path / "w.wdl").write_text(WDL)
        (tmp_path / "in1.txt").write_text("alpha\n")
        (tmp_path / "in2.txt").write_text("beta\n")

    def _sink(self, fp: Any, metadata: dict[str, Any]) -> None:
        self.metadata.append((fp.workflow_id, fp.call_fqn, metadata))

    def run(self, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        from ironside.backends.local import LocalBackend
        from ironside.engine import submit as S
        from ironside.engine.scheduler import Engine

        inputs = self.tmp / "inputs.json"
        inputs.write_text(
            json.dumps({"w.in1": str(self.tmp / "in1.txt"), "w.in2": str(self.tmp / "in2.txt")})
        )
        opts = self.tmp / "options.json"
        opts.write_text(json.dumps(options or {}))
        sub = S.prepare(str(self.tmp / "w.wdl"), str(inputs), str(opts))
        wf_id = S.store_submission(self.store, sub, "Local", str(self.tmp / "exec"))
        backend = LocalBackend("never")
        original = backend.submit

        def counting_submit(request: Any) -> str:
            self.submits.append(f"{request.workflow_id}:{request.call_fqn}")
            return original(request)

        backend.submit = counting_submit  # type: ignore[method-assign]
        engine = Engine(self.store, backend, 4, cache=self.step, poll_interval=0.05)
        run = S.top_run(sub, wf_id, self.store.workflow(wf_id)["root"])
        try:
            engine.run(run)
        finally:
            backend.close()
        assert run.status == "Succeeded", run.failures
        return wf_id, json.loads(self.store.workflow(wf_id)["outputs"] or "{}")

    def ran(self, wf_id: str) -> list[str]:
        return sorted(s.split(":", 1)[1] for s in self.submits if s.startswith(wf_id))

    def result(self, wf_id: str, fqn: str) -> str:
        return [m for w, f, m in self.metadata if w == wf_id and f == fqn][-1]["result"]


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    pytest.importorskip("ironside.engine.scheduler")
    return Harness(tmp_path)


def test_second_run_starts_no_task_and_has_identical_outputs(harness: Harness) -> None:
    first_id, first = harness.run()
    assert harness.ran(first_id) == ["w.join", "w.rev", "w.upper"]
    second_id, second = harness.run()
    assert harness.ran(second_id) == []
    assert Path(second["w.joined"]).read_text() == Path(first["w.joined"]).read_text()
    assert Path(second["w.joined"]).read_text() == "ALPHA\n--\nateb\n"
    assert "cacheCopy" in second["w.joined"] and second["w.n"] == 3
    assert harness.result(second_id, "w.join") == f"Cache Hit: {first_id}:w.join:-1"
    join_files = [e.files for e in harness.entries.all_entries() if e.call.call_fqn == "w.join"]
    assert [Path(f).name for f in join_files[0]] == ["j.txt", "stdout", "stderr", "rc"]
    copied = Path(second["w.joined"]).parent
    assert (copied / "rc").read_text().strip() == "0"


def test_changed_input_reruns_only_downstream_calls(harness: Harness) -> None:
    harness.run()
    (harness.tmp / "in2.txt").write_text("gamma\n")
    wf_id, outputs = harness.run()
    assert harness.ran(wf_id) == ["w.join", "w.rev"]
    assert Path(outputs["w.joined"]).read_text() == "ALPHA\n--\nammag\n"


def test_read_and_write_options(harness: Harness) -> None:
    no_write, _ = harness.run({"write_to_cache": False})
    assert harness.entries.all_entries() == []
    first, _ = harness.run()
    no_read, _ = harness.run({"read_from_cache": False})
    assert harness.ran(no_read) == ["w.join", "w.rev", "w.upper"]
    assert len(harness.entries.all_entries()) == 6
    assert harness.ran(no_write) == harness.ran(first) == ["w.join", "w.rev", "w.upper"]


def test_deleted_cached_output_invalidates_and_reruns(harness: Harness) -> None:
    first_id, first = harness.run()
    upper_out = [e for e in harness.entries.all_entries() if e.call.call_fqn == "w.upper"]
    Path(upper_out[0].files[0]).unlink()
    second_id, second = harness.run()
    assert harness.ran(second_id) == ["w.upper"]
    assert Path(second["w.joined"]).read_text() == "ALPHA\n--\nateb\n"
    assert not [
        e
        for e in harness.entries.all_entries()
        if e.call.workflow_id == first_id and e.call.call_fqn == "w.upper"
    ][0].allow_result_reuse
