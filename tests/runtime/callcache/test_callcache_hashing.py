"""The call hash: components, aggregates, stability and what changes it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from ironside.callcache.hashing import (
    EMPTY_MD5,
    CallFingerprint,
    DiffSide,
    call_hashes,
    diff_hashes,
    diff_response,
    md5_hex,
)

DIGEST = "ubuntu@sha256:" + "a" * 64


def fingerprint(**changes: object) -> CallFingerprint:
    base: dict[str, object] = {
        "command_template": "cat ~{f} | wc -l > out.txt; echo ~{n}",
        "backend_name": "AWSBatch",
        "runtime_attributes": {"docker": DIGEST, "cpu": 2, "memory": "4 GB"},
        "inputs": {"Int n": 3, "Map[String,Int] m": {"b": 2, "a": 1}},
        "file_inputs": {"File f": ["0cc175b9c0f1b6a831c399e269772661"]},
        "outputs": {"File out": '"out.txt"', "Int lines": "read_int(stdout())"},
    }
    base.update(changes)
    return CallFingerprint(**base)  # type: ignore[arg-type]


def test_components_are_cromwells_keys_and_md5s() -> None:
    hashes = call_hashes(fingerprint())
    assert set(hashes.components) == {
        "command template",
        "backend name",
        "input count",
        "output count",
        "runtime attribute: docker",
        "runtime attribute: continueOnReturnCode",
        "runtime attribute: failOnStderr",
        "input: Int n",
        "input: Map[String,Int] m",
        "input: File f",
        "output expression: File out",
        "output expression: Int lines",
    }
    assert hashes.components["backend name"] == md5_hex("AWSBatch")
    assert hashes.components["input count"] == md5_hex("3")
    assert hashes.components["output count"] == md5_hex("2")
    assert hashes.components["runtime attribute: docker"] == md5_hex(DIGEST)
    assert hashes.components["input: Int n"] == md5_hex("3")
    assert hashes.components["input: Map[String,Int] m"] == md5_hex('{"a":1,"b":2}')
    assert hashes.components["input: File f"] == "0cc175b9c0f1b6a831c399e269772661"


def test_aggregate_is_md5_of_sorted_components() -> None:
    hashes = call_hashes(fingerprint())
    file_key = "input: File f"
    base_keys = sorted(k for k in hashes.components if k != file_key)
    base = md5_hex("".join(hashes.components[k] for k in base_keys))
    assert hashes.base == base
    assert hashes.files == md5_hex(hashes.components[file_key])
    assert hashes.aggregate == md5_hex(base + hashes.files)


def test_stable_regardless_of_key_order_and_across_processes() -> None:
    one = call_hashes(fingerprint())
    reordered = fingerprint(inputs={"Map[String,Int] m": {"a": 1, "b": 2}, "Int n": 3})
    assert call_hashes(reordered).aggregate == one.aggregate
    script = (
        "from ironside.callcache.hashing import CallFingerprint, call_hashes\n"
        "print(call_hashes(CallFingerprint('x', 'Local', {'docker': 'd'},"
        " {'String s': 'v'}, {'File f': [None]}, {'File o': 'o'})).aggregate)\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    expected = call_hashes(
        CallFingerprint(
            "x", "Local", {"docker": "d"}, {"String s": "v"}, {"File f": [None]}, {"File o": "o"}
        )
    ).aggregate
    assert runs == {expected + "\n"}


def test_ignored_runtime_attributes_do_not_change_the_hash() -> None:
    a = call_hashes(fingerprint())
    b = call_hashes(fingerprint(runtime_attributes={"docker": DIGEST, "cpu": 64, "disks": "x"}))
    assert a.aggregate == b.aggregate


def test_defaults_and_synonyms_of_cached_runtime_attributes() -> None:
    plain = call_hashes(fingerprint(runtime_attributes={"docker": DIGEST}))
    explicit = call_hashes(
        fingerprint(
            runtime_attributes={"docker": DIGEST, "returnCodes": 0, "failOnStderr": "false"}
        )
    )
    assert plain.aggregate == explicit.aggregate
    star = call_hashes(fingerprint(runtime_attributes={"docker": DIGEST, "returnCodes": "*"}))
    true = call_hashes(
        fingerprint(runtime_attributes={"docker": DIGEST, "continueOnReturnCode": True})
    )
    assert star.aggregate == true.aggregate != plain.aggregate
    listed = call_hashes(
        fingerprint(runtime_attributes={"docker": DIGEST, "continueOnReturnCode": [3, 1]})
    )
    assert listed.components["runtime attribute: continueOnReturnCode"] == md5_hex("[1,3]")


def test_each_result_changing_part_changes_the_aggregate() -> None:
    base = call_hashes(fingerprint())
    variants = [
        fingerprint(command_template="echo other"),
        fingerprint(backend_name="Local"),
        fingerprint(runtime_attributes={"docker": "ubuntu@sha256:" + "b" * 64}),
        fingerprint(runtime_attributes={"docker": DIGEST, "failOnStderr": True}),
        fingerprint(runtime_attributes={"docker": DIGEST, "continueOnReturnCode": 1}),
        fingerprint(inputs={"Int n": 4, "Map[String,Int] m": {"a": 1, "b": 2}}),
        fingerprint(file_inputs={"File f": ["92eb5ffee6ae2fec3ad71c777531578f"]}),
        fingerprint(outputs={"File out": '"other.txt"', "Int lines": "read_int(stdout())"}),
    ]
    aggregates = {call_hashes(v).aggregate for v in variants}
    assert base.aggregate not in aggregates
    assert len(aggregates) == len(variants)


def test_file_content_changes_only_the_files_aggregate() -> None:
    a = call_hashes(fingerprint())
    b = call_hashes(fingerprint(file_inputs={"File f": ["92eb5ffee6ae2fec3ad71c777531578f"]}))
    assert a.base == b.base
    assert a.files != b.files


def test_missing_optional_file_hashes_as_md5_of_empty_and_arrays_hash_their_list() -> None:
    assert EMPTY_MD5 == hashlib.md5(b"").hexdigest()
    hashes = call_hashes(fingerprint(file_inputs={"File? f": [None], "Array[File] xs": ["a", "b"]}))
    assert hashes.components["input: File? f"] == EMPTY_MD5
    assert hashes.components["input: Array[File] xs"] == md5_hex(
        json.dumps(["a", "b"]).replace(" ", "")
    )
    swapped = call_hashes(
        fingerprint(file_inputs={"File? f": [None], "Array[File] xs": ["b", "a"]})
    )
    assert swapped.aggregate != hashes.aggregate


def test_metadata_shape_and_diff() -> None:
    a = call_hashes(fingerprint())
    b = call_hashes(fingerprint(inputs={"Int n": 4, "Map[String,Int] m": {"a": 1, "b": 2}}))
    nested = a.to_metadata()
    assert nested["backend name"] == md5_hex("AWSBatch")
    assert nested["runtime attribute"]["docker"] == md5_hex(DIGEST)
    assert nested["input"]["Int n"] == md5_hex("3")
    assert nested["output expression"]["File out"] == md5_hex('"out.txt"')
    assert diff_hashes(a.components, b.components) == [
        {"hashKey": "input: Int n", "callA": md5_hex("3"), "callB": md5_hex("4")}
    ]
    assert diff_hashes(a.components, a.components) == []
    assert diff_hashes({"x": "1"}, {}) == [{"hashKey": "x", "callA": "1", "callB": None}]
    side_a = DiffSide("wf-a", "w.t", -1, "Done", True, a.components)
    side_b = DiffSide("wf-b", "w.t", 2, "Done", False, b.components)
    response = diff_response(side_a, side_b)
    assert response["callA"] == {
        "executionStatus": "Done",
        "allowResultReuse": True,
        "callFqn": "w.t",
        "jobIndex": -1,
        "workflowId": "wf-a",
    }
    assert response["callB"]["jobIndex"] == 2
    assert [d["hashKey"] for d in response["hashDifferential"]] == ["input: Int n"]
