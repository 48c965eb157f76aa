"""Whole-workflow behaviour of the call cache, driven by a miniature engine loop.

The loop does what the engine's call path will do: hash (digest + file
identities), pick the effective mode, ``lookup`` before running, run on a
miss, ``record`` after success. Tasks are Python functions writing real files
(local disk, or S3 on moto), so hits, reruns and S3 request counts are real.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ironside.callcache.duplication import Duplicator, LocalDuplicator, S3Duplicator
from ironside.callcache.fileid import FileIdentifier
from ironside.callcache.hasher import CallHasher, FileInput
from ironside.callcache.hashing import CallHashes
from ironside.callcache.options import CallCachingConfig, CallCachingOptions, effective_mode
from ironside.callcache.service import CacheLookup, CallCache, CallRef, InMemoryCacheStore
from ironside.filesystems.s3 import MiB, S3FileSystem

IMAGE = "ubuntu@sha256:" + "e" * 64


@dataclass
class Task:
    name: str
    command: str
    file_inputs: Callable[[dict[str, str], dict[str, Any]], dict[str, str]]
    run: Callable[[dict[str, bytes]], bytes]
    meta: dict[str, Any] = field(default_factory=dict)


TASKS = [
    Task(
        "a",
        "tr a-z A-Z < ~{in1}",
        lambda wf, _: {"File in1": wf["in1"]},
        lambda f: f["File in1"].upper(),
    ),
    Task("b", "rev ~{in2}", lambda wf, _: {"File in2": wf["in2"]}, lambda f: f["File in2"][::-1]),
    Task(
        "c",
        "cat ~{x} ~{y}",
        lambda _, out: {"File x": out["a"], "File y": out["b"]},
        lambda f: f["File x"] + b"|" + f["File y"],
    ),
    Task(
        "stamp", "date", lambda _, out: {"File x": out["c"]}, lambda f: b"now", {"volatile": True}
    ),
]


class Files:
    """Reads and writes task files on local disk or through an S3FileSystem."""

    def __init__(self, s3: S3FileSystem | None = None) -> None:
        self.s3 = s3

    def read(self, path: str) -> bytes:
        return self.s3.read_bytes(path) if self.s3 else Path(path).read_bytes()

    def write(self, path: str, data: bytes) -> None:
        if self.s3:
            self.s3.write_bytes(path, data)
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)


class MiniEngine:
    """The engine's call path around the cache, for a fixed linear-ish workflow."""

    def __init__(self, root: str, files: Files, cache: CallCache, hasher: CallHasher) -> None:
        self.root = root
        self.files = files
        self.cache = cache
        self.hasher = hasher
        self.executed: list[tuple[str, str]] = []
        self.lookups: dict[tuple[str, str], CacheLookup] = {}
        self.config = CallCachingConfig()

    def run(
        self, wf: str, inputs: dict[str, str], options: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        opts = CallCachingOptions.from_workflow_options(options)
        outputs: dict[str, str] = {}
        for task in TASKS:
            outputs[task.name] = self._call(wf, task, inputs, outputs, opts)
        return outputs

    def _call(
        self,
        wf: str,
        task: Task,
        inputs: dict[str, str],
        outputs: dict[str, str],
        opts: CallCachingOptions,
    ) -> str:
        call_root = f"{self.root}/{wf}/call-{task.name}"
        file_inputs = task.file_inputs(inputs, outputs)
        hashed = self.hasher.hash_call(
            task.command,
            "Local",
            {"docker": IMAGE},
            {},
            {k: FileInput([v]) for k, v in file_inputs.items()},
            {"File out": '"out"'},
        )
        mode = effective_mode(self.config, opts, task.meta)
        assert isinstance(hashed, CallHashes)
        lookup = self.cache.lookup(hashed, mode, f"{call_root}/cacheCopy", opts.hit_path_prefixes)
        self.lookups[(wf, task.name)] = lookup
        if lookup.hit:
            return str(lookup.outputs["out"])
        self.executed.append((wf, task.name))
        data = task.run({k: self.files.read(v) for k, v in file_inputs.items()})
        out, stdout = f"{call_root}/execution/out", f"{call_root}/execution/stdout"
        self.files.write(out, data)
        self.files.write(stdout, b"")
        self.cache.record(
            CallRef(wf, f"w.{task.name}"),
            hashed,
            mode,
            True,
            call_root,
            {"out": out},
            [out, stdout],
        )
        return out

    def ran(self, wf: str) -> list[str]:
        return [name for w, name in self.executed if w == wf]


def local_engine(tmp_path: Path) -> tuple[MiniEngine, InMemoryCacheStore]:
    store = InMemoryCacheStore()
    cache = CallCache(store, lambda _: LocalDuplicator())
    engine = MiniEngine(str(tmp_path / "exec"), Files(), cache, CallHasher(FileIdentifier()))
    return engine, store


def local_inputs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "in1.txt").write_text("alpha")
    (tmp_path / "in2.txt").write_text("beta")
    return {"in1": str(tmp_path / "in1.txt"), "in2": str(tmp_path / "in2.txt")}


def contents(files: Files, outputs: Mapping[str, str]) -> dict[str, bytes]:
    return {k: files.read(v) for k, v in outputs.items() if k != "stamp"}


def test_second_run_is_all_hits_with_identical_outputs(tmp_path: Path) -> None:
    engine, _ = local_engine(tmp_path)
    inputs = local_inputs(tmp_path)
    first = engine.run("wf1", inputs)
    assert engine.ran("wf1") == ["a", "b", "c", "stamp"]
    second = engine.run("wf2", inputs)
    assert engine.ran("wf2") == ["stamp"]  # only the volatile task
    assert contents(engine.files, second) == contents(engine.files, first)
    assert second["c"].startswith(str(tmp_path / "exec" / "wf2" / "call-c" / "cacheCopy"))
    assert engine.lookups[("wf2", "c")].result == "Cache Hit: wf1:w.c:-1"
    assert engine.lookups[("wf2", "stamp")].metadata()["effectiveCallCachingMode"] == (
        "CallCachingOff"
    )


def test_changed_input_reruns_exactly_its_downstream_calls(tmp_path: Path) -> None:
    engine, _ = local_engine(tmp_path)
    inputs = local_inputs(tmp_path)
    engine.run("wf1", inputs)
    Path(inputs["in2"]).write_text("gamma")
    os.utime(inputs["in2"], ns=(1, 1))  # a new mtime whatever the clock's resolution
    outputs = engine.run("wf2", inputs)
    assert engine.ran("wf2") == ["b", "c", "stamp"]
    assert engine.files.read(outputs["c"]) == b"ALPHA|ammag"


def test_read_from_cache_false_runs_everything_and_still_writes(tmp_path: Path) -> None:
    engine, store = local_engine(tmp_path)
    inputs = local_inputs(tmp_path)
    engine.run("wf1", inputs)
    engine.run("wf2", inputs, {"read_from_cache": False})
    assert engine.ran("wf2") == ["a", "b", "c", "stamp"]
    assert len(store.all_entries()) == 6
    assert engine.lookups[("wf2", "a")].metadata()["effectiveCallCachingMode"] == "WriteCache"


def test_write_to_cache_false_reads_but_never_writes(tmp_path: Path) -> None:
    engine, store = local_engine(tmp_path)
    inputs = local_inputs(tmp_path)
    engine.run("wf1", inputs, {"write_to_cache": False})
    assert store.all_entries() == []
    engine.run("wf2", inputs)
    assert engine.ran("wf2") == ["a", "b", "c", "stamp"]
    engine.run("wf3", inputs, {"write_to_cache": False})
    assert engine.ran("wf3") == ["stamp"]
    assert len(store.all_entries()) == 3


def test_volatile_task_never_hits(tmp_path: Path) -> None:
    engine, store = local_engine(tmp_path)
    inputs = local_inputs(tmp_path)
    for wf in ("wf1", "wf2", "wf3"):
        engine.run(wf, inputs)
    assert [w for w, name in engine.executed if name == "stamp"] == ["wf1", "wf2", "wf3"]
    assert all(e.call.call_fqn != "w.stamp" for e in store.all_entries())


def s3_engine(client: Any, strategy: str, threshold: int = 5 * 1024 * MiB) -> MiniEngine:
    fs = S3FileSystem(client, multipart_threshold=threshold)
    duplicators: dict[str, Duplicator] = {"s3": S3Duplicator(fs, strategy)}
    cache = CallCache(InMemoryCacheStore(), duplicators.__getitem__)
    hasher = CallHasher(FileIdentifier(filesystems={"s3": fs}))
    return MiniEngine("s3://bkt/exec", Files(fs), cache, hasher)


def s3_inputs(client: Any, in1: bytes = b"alpha") -> dict[str, str]:
    client.put_object(Bucket="bkt", Key="in/in1.txt", Body=in1)
    client.put_object(Bucket="bkt", Key="in/in2.txt", Body=b"beta")
    return {"in1": "s3://bkt/in/in1.txt", "in2": "s3://bkt/in/in2.txt"}


def test_s3_hits_copy_server_side_and_never_get_output_data(s3_client: Any, s3_ops: Any) -> None:
    engine = s3_engine(s3_client, "copy")
    inputs = s3_inputs(s3_client)
    first = engine.run("wf1", inputs)
    s3_ops.calls.clear()
    second = engine.run("wf2", inputs)
    ops = list(s3_ops.calls)
    assert engine.ran("wf2") == ["stamp"]
    assert ops.count("CopyObject") == 6  # out + stdout of a, b, c
    assert ops.count("GetObject") == 1  # the volatile task reading its input, nothing else
    assert second["c"] == "s3://bkt/exec/wf2/call-c/cacheCopy/execution/out"
    assert contents(engine.files, second) == contents(engine.files, first)


def test_s3_above_threshold_uses_upload_part_copy(s3_client: Any, s3_ops: Any) -> None:
    engine = s3_engine(s3_client, "copy", threshold=MiB)
    inputs = s3_inputs(s3_client, in1=os.urandom(6 * MiB))
    engine.run("wf1", inputs)
    s3_ops.calls.clear()
    engine.run("wf2", inputs)
    assert engine.ran("wf2") == ["stamp"]
    assert s3_ops.count("UploadPartCopy") == 4  # a's and c's outputs, 2 parts each
    assert s3_ops.count("CopyObject") == 4  # the small ones
    assert s3_ops.count("GetObject") == 1  # the volatile task's input
    info = S3FileSystem(s3_client).info
    original = info("s3://bkt/exec/wf1/call-a/execution/out").content_id
    assert info("s3://bkt/exec/wf2/call-a/cacheCopy/execution/out").content_id == original
    assert original.endswith("-2")  # written in the uploader's parts, copied in the same parts


def test_s3_reference_copies_nothing(s3_client: Any, s3_ops: Any) -> None:
    engine = s3_engine(s3_client, "reference")
    inputs = s3_inputs(s3_client)
    first = engine.run("wf1", inputs)
    s3_ops.calls.clear()
    second = engine.run("wf2", inputs)
    assert engine.ran("wf2") == ["stamp"]
    assert {k: v for k, v in second.items() if k != "stamp"} == {
        k: v for k, v in first.items() if k != "stamp"
    }
    assert not {"CopyObject", "UploadPartCopy"} & set(s3_ops.calls)


def test_s3_deleted_source_invalidates_and_reruns(s3_client: Any) -> None:
    engine = s3_engine(s3_client, "copy")
    inputs = s3_inputs(s3_client)
    engine.run("wf1", inputs)
    s3_client.delete_object(Bucket="bkt", Key="exec/wf1/call-a/execution/out")
    outputs = engine.run("wf2", inputs)
    assert engine.ran("wf2") == ["a", "stamp"]  # same content, same ETag: b and c still hit
    lookup = engine.lookups[("wf2", "a")]
    assert not lookup.hit and "no longer exists" in lookup.failures[0].reason
    assert engine.files.read(outputs["c"]) == b"ALPHA|ateb"
    engine.run("wf3", inputs)
    assert engine.ran("wf3") == ["stamp"]
    assert engine.lookups[("wf3", "a")].result == "Cache Hit: wf2:w.a:-1"


@pytest.mark.parametrize("strategy", ["copy", "reference"])
def test_s3_hit_path_prefixes(s3_client: Any, strategy: str) -> None:
    engine = s3_engine(s3_client, strategy)
    inputs = s3_inputs(s3_client)
    engine.run("wf1", inputs)
    engine.run("wf2", inputs, {"call_cache_hit_path_prefixes": ["s3://bkt/other/"]})
    assert engine.ran("wf2") == ["a", "b", "c", "stamp"]


@pytest.mark.timeout(120)
def test_on_a_loopback_moto_server(loopback_s3: Any, loopback_ops: Any) -> None:
    ops = loopback_ops
    engine = s3_engine(loopback_s3, "copy", threshold=MiB)
    inputs = s3_inputs(loopback_s3, in1=os.urandom(6 * MiB))
    engine.run("wf1", inputs)
    ops.calls.clear()
    engine.run("wf2", inputs)
    assert engine.ran("wf2") == ["stamp"]
    assert ops.count("UploadPartCopy") == 4 and ops.count("CopyObject") == 4
    assert ops.count("GetObject") == 1  # the volatile task's input only
    loopback_s3.delete_object(Bucket="bkt", Key="exec/wf1/call-b/execution/out")
    loopback_s3.delete_object(Bucket="bkt", Key="exec/wf2/call-b/cacheCopy/execution/out")
    engine.run("wf3", inputs)
    assert engine.ran("wf3") == ["b", "stamp"]
