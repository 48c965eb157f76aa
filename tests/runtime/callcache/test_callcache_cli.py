"""Call caching through the real ``ironside run`` (subprocess, local backend, SQLite store).

Acceptance of issue 5: a rerun is all hits and starts no task process; a changed
input reruns exactly its downstream calls; ``read_from_cache``/``write_to_cache``
do what they say; a volatile task never hits; a digest that cannot be looked up
leaves the call uncached (and running).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli_helpers import Workspace

pytestmark = pytest.mark.timeout(300)

CALLS = ("upper", "rev", "join")


def test_second_run_is_all_hits_and_starts_no_task(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    first = ws.run()
    assert sorted(ws.processes()) == ["join", "rev", "upper"]
    second = ws.run()
    assert sorted(ws.processes()) == ["join", "rev", "upper"]  # no new process
    assert Path(second.outputs["w.joined"]).read_text() == "ALPHA\nateb\n"
    assert (
        Path(second.outputs["w.joined"]).read_text() == Path(first.outputs["w.joined"]).read_text()
    )
    assert second.outputs["w.lines"] == first.outputs["w.lines"] == 2
    assert second.outputs["w.joined"] != first.outputs["w.joined"]  # duplicated, not shared
    copied = Path(second.outputs["w.joined"]).parent  # stdout, stderr and rc came along
    assert (copied / "rc").read_text().strip() == "0" and (copied / "stdout").exists()
    for name in CALLS:
        miss, hit = first.caching(name), second.caching(name)
        assert miss["hit"] is False and miss["result"] == "Cache Miss"
        assert hit["hit"] is True
        assert hit["result"] == f"Cache Hit: {first.id}:w.{name}:-1"
        assert hit["effectiveCallCachingMode"] == "ReadAndWriteCache"
        assert hit["allowResultReuse"] is True and hit["hashes"] == miss["hashes"]
        assert second.call(name)["executionStatus"] == "Done"
        events = [e["description"] for e in second.call(name)["executionEvents"]]
        assert events == ["Pending", "PreparingJob", "CallCacheReading", "UpdatingJobStore"]
    assert "command template" in first.caching("join")["hashes"]


def test_changed_input_reruns_exactly_its_downstream_calls(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.run()
    (tmp_path / "in2.txt").write_text("gamma\n")
    before = len(ws.processes())
    third = ws.run()
    assert sorted(ws.processes()[before:]) == ["join", "rev"]
    assert third.caching("upper")["hit"] is True
    assert third.caching("rev")["hit"] is False and third.caching("join")["hit"] is False
    assert Path(third.outputs["w.joined"]).read_text() == "ALPHA\nammag\n"


def test_read_from_cache_false_runs_everything_and_still_writes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.run()
    no_read = ws.run({"read_from_cache": False})
    assert len(ws.processes()) == 6
    assert {no_read.caching(n)["effectiveCallCachingMode"] for n in CALLS} == {"WriteCache"}
    assert not any(no_read.caching(n)["hit"] for n in CALLS)
    (tmp_path / "in1.txt").write_text("delta\n")  # only no_read's entries can serve upper now
    ws.run({"read_from_cache": False})
    third = ws.run()
    assert len(ws.processes()) == 9
    assert all(third.caching(n)["hit"] for n in CALLS)


def test_write_to_cache_false_reads_but_writes_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    first = ws.run({"write_to_cache": False})
    assert {first.caching(n)["effectiveCallCachingMode"] for n in CALLS} == {"ReadCache"}
    assert {first.caching(n)["allowResultReuse"] for n in CALLS} == {False}
    ws.run()  # nothing was written: everything runs again, and is written now
    assert len(ws.processes()) == 6
    third = ws.run({"write_to_cache": False})
    assert len(ws.processes()) == 6
    assert all(third.caching(n)["hit"] for n in CALLS)


def test_volatile_task_never_hits(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, volatile_join=True)
    ws.run()
    second = ws.run()
    assert sorted(ws.processes()) == ["join", "join", "rev", "upper"]
    assert second.caching("upper")["hit"] is True
    join = second.caching("join")
    assert join["hit"] is False and join["effectiveCallCachingMode"] == "CallCachingOff"


def test_docker_digest_lookup_failure_runs_the_call_uncached(tmp_path: Path) -> None:
    """A registry on a closed loopback port: the call runs every time, metadata says why."""
    config = 'docker.hash-lookup { max-retries = 0, timeout = "20 seconds" }\n'
    ws = Workspace(tmp_path, config_text=config)
    wdl = (tmp_path / "w.wdl").read_text()
    docker = 'runtime { docker: "127.0.0.1:9/none/img:1" }\n  output { File out = "up.txt" }'
    (tmp_path / "d.wdl").write_text(wdl.replace('output { File out = "up.txt" }', docker))
    ws.run(wdl="d.wdl")
    second = ws.run(wdl="d.wdl")
    # upper reruns; join's input has the same content, so join hits
    assert sorted(ws.processes()) == ["join", "rev", "upper", "upper"]
    upper = second.caching("upper")
    assert upper["hit"] is False and upper["effectiveCallCachingMode"] == "CallCachingOff"
    assert "no digest for docker image 127.0.0.1:9/none/img:1" in str(upper["hashFailures"])
    assert second.caching("rev")["hit"] is True and second.caching("join")["hit"] is True
