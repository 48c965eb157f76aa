"""Real SIGKILLs of ``ironside run`` and ``ironside server`` at each crash point, then a resume.

Each case: nothing lost, no shard run twice, outputs and the final outputs
directory complete (see ``crash_harness.World.check``).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.server_proc import ServerProcess, wait_status

from .crash_harness import SHARDS, World, kill_session, wait_for

pytestmark = pytest.mark.slow

#: (crash point, what it stands for)
POINTS = [
    ("stored", "after the workflow row is committed, before any call"),
    ("intent", "between the first intents' commit and their submission"),
    ("submitted:5", "during submission of the shards"),
    ("call-done:100", "mid-scatter"),
    ("submitted:201", "while the gather runs"),
    ("output-copy:29", "during final output copies"),
]


def _resume(world: World, wf_id: str) -> dict[str, object]:
    proc = world.ironside(["run", "--resume", wf_id, "--config", str(world.config)])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)["outputs"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("point", "what"), POINTS, ids=[p for p, _ in POINTS])
def test_run_killed_then_resumed(tmp_path: Path, point: str, what: str) -> None:
    world = World(tmp_path)
    proc = world.ironside(world.run_args(), failpoint=point)
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"not killed {what}"
    (wf_id,) = world.workflow_ids()
    world.check(_resume(world, wf_id))


def test_run_killed_during_call_cache_copies(tmp_path: Path) -> None:
    """A second, identical workflow hits the cache for every shard; killed while copying."""
    world = World(tmp_path)
    first = world.ironside(world.run_args())
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    world.final = tmp_path / "final-2"  # the second workflow's own final outputs
    options = {"final_workflow_outputs_dir": str(world.final)}
    (tmp_path / "options.json").write_text(json.dumps(options))
    proc = world.ironside(world.run_args(), failpoint="cache-copy:60")
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    second = next(w for w in world.workflow_ids() if w != json.loads(out)["id"])
    outputs = _resume(world, second)
    world.check(outputs)  # every shard ran once: in the first workflow only
    assert len(list(world.root.glob(f"ex/crash/{second}/call-shard/shard-*"))) == SHARDS


def test_run_killed_before_the_workflow_is_stored_leaves_nothing(tmp_path: Path) -> None:
    world = World(tmp_path)
    proc = world.ironside(world.run_args(), failpoint="validated")
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert world.workflow_ids() == [] and world.side_lines() == {}


def test_engine_and_its_tasks_killed_together_mid_scatter(tmp_path: Path) -> None:
    """The host reboots: the running attempts are lost and retried, none is failed."""
    world = World(tmp_path)
    proc = world.ironside(world.run_args(), start_new_session=True)
    wait_for(lambda: sum(world.side_lines().values()) >= 50)
    kill_session(proc.pid)
    proc.communicate(timeout=60)
    (wf_id,) = world.workflow_ids()
    world.check(_resume(world, wf_id), lost_window=True)


def _post(server: ServerProcess, world: World) -> str | None:
    """Submit the workflow; its id, or None when the server died before answering."""
    files = {
        name: (fname, (world.root / fname).read_bytes())
        for name, fname in (
            ("workflowSource", "crash.wdl"),
            ("workflowInputs", "inputs.json"),
            ("workflowOptions", "options.json"),
        )
    }
    try:
        answer = httpx.post(server.url + "/api/workflows/v1", files=files, timeout=60)
    except httpx.HTTPError:
        return None  # killed while answering
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _killed_server(world: World, point: str) -> ServerProcess:
    """A server started with crash point ``point``, after it SIGKILLed itself there."""
    server = ServerProcess(world.root, world.config, {"IRONSIDE_FAILPOINT": point})
    server.start()
    _post(server, world)
    assert server.proc is not None
    server.proc.wait(300)
    assert server.proc.returncode == -signal.SIGKILL
    server.env.pop("IRONSIDE_FAILPOINT")
    return server


def _restarted(server: ServerProcess, wf_id: str) -> dict[str, object]:
    """Start ``server`` again; the workflow's outputs once it Succeeded."""
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            status = wait_status(client, wf_id, {"Succeeded", "Failed", "Aborted"}, 300)
            assert status == "Succeeded", server.log()[-3000:]
            outputs = client.get(f"/api/workflows/v1/{wf_id}/outputs").json()["outputs"]
            return outputs  # type: ignore[no-any-return]
    finally:
        server.stop()


@pytest.mark.parametrize(("point", "what"), POINTS, ids=[p for p, _ in POINTS])
def test_server_killed_then_restarted(tmp_path: Path, point: str, what: str) -> None:
    """Killed at ``point`` (``what``), started again: Succeeded, each shard once."""
    world = World(tmp_path)
    server = _killed_server(world, point)
    (wf_id,) = world.workflow_ids()
    world.check(_restarted(server, wf_id), in_final=False)


def test_server_killed_before_the_workflow_is_stored_leaves_nothing(tmp_path: Path) -> None:
    """Killed after validation, before the row: no 201 was sent, nothing runs at restart."""
    world = World(tmp_path)
    server = _killed_server(world, "validated")
    assert world.workflow_ids() == []
    server.start()
    try:
        listed = httpx.get(server.url + "/api/workflows/v1/query", timeout=30).json()
    finally:
        server.stop()
    assert listed["totalResultsCount"] == 0 and world.side_lines() == {}


def test_server_killed_during_call_cache_copies(tmp_path: Path) -> None:
    """A second, identical workflow hits the cache for every shard; killed while copying."""
    world = World(tmp_path)
    server = ServerProcess(tmp_path, world.config)
    server.start()
    try:
        first = _post(server, world)
        assert first is not None
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert wait_status(client, first, {"Succeeded", "Failed"}, 300) == "Succeeded"
    finally:
        server.stop()
    world.final = tmp_path / "final-2"  # the second workflow's own final outputs
    options = {"final_workflow_outputs_dir": str(world.final)}
    (tmp_path / "options.json").write_text(json.dumps(options))
    server = _killed_server(world, "cache-copy:60")
    (second,) = [w for w in world.workflow_ids() if w != first]
    world.check(_restarted(server, second), in_final=False)  # shards ran in the first only
    assert len(list(world.root.glob(f"ex/crash/{second}/call-shard/shard-*"))) == SHARDS


def test_server_and_its_tasks_killed_together_mid_scatter(tmp_path: Path) -> None:
    """The engine host reboots under the server: lost attempts are retried, none failed."""
    world = World(tmp_path)
    server = ServerProcess(tmp_path, world.config, own_session=True)
    server.start()
    wf_id = _post(server, world)
    assert wf_id is not None and server.proc is not None
    wait_for(lambda: sum(world.side_lines().values()) >= 50)
    kill_session(server.proc.pid)
    server.proc.wait(60)
    world.check(_restarted(server, wf_id), lost_window=True, in_final=False)
