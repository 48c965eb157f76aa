"""Settings -> the engine's cache step: defaults, raw blocks, off switch, stored metadata."""

from __future__ import annotations

import json
from pathlib import Path

from ironside.callcache.engine_setup import cache_step_from_settings, for_store
from ironside.config import load_settings
from ironside.engine.cache_step import CallFingerprint
from ironside.store import open_store


def test_caching_is_on_by_default_and_blocks_are_exposed() -> None:
    settings = load_settings(None)
    assert settings.call_caching_enabled is True
    assert settings.call_caching_block["invalidate-bad-cache-results"] is True
    lookup = settings.docker_hash_lookup_block
    assert lookup["enabled"] is True and lookup["timeout"] == "10 seconds"


def test_config_turns_caching_off_and_tunes_lookups(tmp_path: Path) -> None:
    conf = tmp_path / "a.conf"
    conf.write_text(
        "call-caching { enabled = false }\n"
        'docker.hash-lookup { ecr.num-threads = 3, failure-ttl = "5 minutes" }\n'
    )
    settings = load_settings(str(conf))
    store = open_store(f"sqlite:///{tmp_path}/s.sqlite")
    assert cache_step_from_settings(settings, settings.provider(), store.engine) is None
    assert for_store(None, store) is None
    assert settings.docker_hash_lookup_block["ecr"] == {"num-threads": 3}
    assert settings.docker_hash_lookup_block["timeout"] == "10 seconds"  # default kept
    store.close()


def test_step_writes_call_caching_metadata_into_the_call_row(tmp_path: Path) -> None:
    settings = load_settings(None)
    store = open_store(f"sqlite:///{tmp_path}/s.sqlite")
    shared = cache_step_from_settings(settings, settings.provider(), store.engine)
    step = for_store(shared, store)
    assert step is not None and shared is not None and step.cache is shared.cache
    fp = CallFingerprint(
        workflow_id="wf",
        call_fqn="w.t",
        shard=-1,
        attempt=1,
        task_name="t",
        command_template="echo ~{x}",
        command="echo 1",
        backend="Local",
        runtime={},
        inputs={"x": 1},
        input_files=[],
        output_expressions={"n": "Int n = 1"},
        call_root=str(tmp_path / "call-t"),
        options={},
        task_meta={"volatile": True},
    )
    store.add_call({"workflow_id": "wf", "fqn": "w.t", "shard": -1, "attempt": 1,
                    "status": "Running", "backend": "Local", "call_root": fp.call_root,
                    "cached": False})  # fmt: skip
    assert step.lookup(fp) is None
    store.flush()
    stored = json.loads(store.calls("wf")[0]["call_caching"])
    assert stored["effectiveCallCachingMode"] == "CallCachingOff"
    assert stored["hit"] is False and stored["result"] == "Cache Miss"
    store.close()
