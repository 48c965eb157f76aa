"""CallCacheStep: the engine's cache-step protocol over the call-cache components."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ironside.callcache import (
    CallCache,
    CallCachingConfig,
    CallHasher,
    FileIdentifier,
    InMemoryCacheStore,
    LocalDuplicator,
)
from ironside.callcache.step import CallCacheStep, output_files

# The engine's own types: the step is exercised exactly as the engine calls it.
from ironside.engine.cache_step import CacheHit as Hit
from ironside.engine.cache_step import CallFingerprint as Fingerprint

IMAGE = "ubuntu@sha256:" + "1" * 64


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, fp: Any, metadata: dict[str, Any]) -> None:
        self.events.append((fp.workflow_id, metadata))


def make_step(config: CallCachingConfig | None = None) -> tuple[Any, InMemoryCacheStore, Sink]:
    store = InMemoryCacheStore()
    sink = Sink()
    cache = CallCache(store, lambda _: LocalDuplicator(), config)
    step = CallCacheStep(cache, CallHasher(FileIdentifier()), Hit, sink)
    return step, store, sink


def fingerprint(tmp_path: Path, wf: str, **changes: Any) -> Fingerprint:
    ref = tmp_path / "ref.fa"
    if not ref.exists():
        ref.write_text(">chr1\nACGT\n")
    base: dict[str, Any] = {
        "workflow_id": wf,
        "call_fqn": "w.align",
        "shard": 2,
        "attempt": 1,
        "task_name": "align",
        "command_template": "bwa mem ~{ref} ~{sep=' ' reads}",
        "command": "bwa mem /x ...",
        "backend": "Local",
        "runtime": {"docker": IMAGE, "cpu": 4},
        "inputs": {"ref": str(ref), "reads": [str(ref)], "sample": "S1", "opt": None},
        "input_files": [str(ref)],
        "output_expressions": {"bam": 'File bam = "out.bam"'},
        "call_root": str(tmp_path / wf / "call-align" / "shard-2"),
        "options": {},
    }
    base.update(changes)
    return Fingerprint(**base)


def run(fp: Fingerprint) -> dict[str, Any]:
    out = Path(fp.call_root) / "execution" / "out.bam"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("bam")
    return {"bam": str(out), "n": 1, "name": "S1"}


def test_miss_record_hit(tmp_path: Path) -> None:
    step, store, sink = make_step()
    assert step.enabled
    first = fingerprint(tmp_path, "wf1")
    assert step.lookup(first) is None
    step.record(first, run(first))
    assert len(store.all_entries()) == 1
    assert store.all_entries()[0].files == (str(Path(first.call_root) / "execution/out.bam"),)
    second = fingerprint(tmp_path, "wf2")
    hit = step.lookup(second)
    assert isinstance(hit, Hit) and hit.source == "wf1:w.align:2"
    copied = Path(second.call_root) / "cacheCopy" / "execution" / "out.bam"
    assert hit.outputs == {"bam": str(copied), "n": 1, "name": "S1"}
    assert copied.read_text() == "bam"
    assert [m["result"] for _, m in sink.events] == ["Cache Miss", "Cache Hit: wf1:w.align:2"]
    assert sink.events[0][1]["hashes"]["input"]["ref"]


def test_changed_file_content_or_value_misses(tmp_path: Path) -> None:
    step, _, _ = make_step()
    first = fingerprint(tmp_path, "wf1")
    step.lookup(first)
    step.record(first, run(first))
    other_sample = fingerprint(tmp_path, "wf2", inputs={**first.inputs, "sample": "S2"})
    assert step.lookup(other_sample) is None
    (tmp_path / "ref.fa").write_text(">chr1\nACGG\n")
    assert step.lookup(fingerprint(tmp_path, "wf3")) is None


def test_options_meta_and_unavailable_digest(tmp_path: Path) -> None:
    step, store, sink = make_step()
    first = fingerprint(tmp_path, "wf1", options={"write_to_cache": False})
    step.lookup(first)
    step.record(first, run(first))
    assert store.all_entries() == []
    volatile = fingerprint(tmp_path, "wf2", task_meta={"volatile": True})
    assert step.lookup(volatile) is None
    step.record(volatile, run(volatile))
    assert store.all_entries() == []
    assert sink.events[-1][1]["effectiveCallCachingMode"] == "CallCachingOff"
    floating = fingerprint(tmp_path, "wf3", runtime={"docker": "ubuntu:22.04"})
    assert step.lookup(floating) is None
    assert "ubuntu:22.04" in sink.events[-1][1]["hashFailures"][0]["message"]
    step.record(floating, run(floating))
    assert store.all_entries() == []
    bad = fingerprint(tmp_path, "wf4", options={"read_from_cache": "maybe"})
    assert step.lookup(bad) is None
    assert "read_from_cache" in sink.events[-1][1]["hashFailures"][0]["message"]


def test_record_without_lookup_and_discard(tmp_path: Path) -> None:
    step, store, _ = make_step()
    first = fingerprint(tmp_path, "wf1")
    step.record(first, run(first))
    assert len(store.all_entries()) == 1
    failed = fingerprint(tmp_path, "wf2")
    step.lookup(failed)
    step.discard(failed)
    assert step._pending == {}
    off, off_store, _ = make_step(CallCachingConfig(enabled=False))
    assert not off.enabled


def test_output_files() -> None:
    outputs = {"a": "/r/x", "b": ["/r/y", "/other/z", "/r/x"], "c": {"k": "/r/w"}, "d": 3}
    assert output_files(outputs, "/r") == ["/r/x", "/r/y", "/r/w"]


def test_fits_the_engine_protocol_when_the_engine_is_present(tmp_path: Path) -> None:
    cache_step = pytest.importorskip("ironside.engine.cache_step")
    fields = {f.name for f in dataclasses.fields(cache_step.CallFingerprint)}
    ours = fingerprint(tmp_path, "wf1")
    engine_fp = cache_step.CallFingerprint(
        **{k: v for k, v in dataclasses.asdict(ours).items() if k in fields}
    )
    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: LocalDuplicator())
    step = CallCacheStep(cache, CallHasher(FileIdentifier()), cache_step.CacheHit)
    assert step.lookup(engine_fp) is None
    step.record(engine_fp, run(ours))
    again = dataclasses.replace(engine_fp, workflow_id="wf2", call_root=str(tmp_path / "wf2"))
    hit = step.lookup(again)
    assert isinstance(hit, cache_step.CacheHit) and hit.source == "wf1:w.align:2"
