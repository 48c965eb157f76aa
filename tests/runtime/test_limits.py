"""The limits table (``ironside.limits``): one test per limit, on the server and on run."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from ironside.errors import BadConfig
from ironside.limits import Limits, limits_from_config
from ironside.server.settings import ServerSettings
from tests.runtime.conftest import Runner
from tests.runtime.server.conftest import HELLO, Live, start, submit
from tests.runtime.server.fake_engine import FakeEngine

TASK = "task t { command <<< echo hi >>> output { String o = read_string(stdout()) } }\n"


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def tight() -> Iterator[Live]:
    limits = Limits(
        max_wdl_bytes=2000,
        max_imports=2,
        max_import_depth=2,
        max_nesting_depth=2,
        max_inputs_bytes=200,
        max_labels=2,
    )
    yield from start(ServerSettings(limits=limits), FakeEngine())


def _refused(r: Any, key: str, live: Live) -> None:
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert f"ironside.limits.{key}" in message and "\n" not in message
    assert live.engine.subs == {}


def test_wdl_source_size(tight: Live) -> None:
    _refused(submit(tight.client, workflowSource=HELLO + "#" * 2000), "max-wdl-bytes", tight)


def test_imported_document_size(tight: Live) -> None:
    deps = _zip({"big.wdl": "version 1.0\n" + "#" * 3000 + "\n"})
    source = 'version 1.0\nimport "big.wdl" as b\nworkflow w {}\n'
    r = submit(tight.client, workflowSource=source, workflowInputs="{}", workflowDependencies=deps)
    _refused(r, "max-wdl-bytes", tight)


def test_import_count(tight: Live) -> None:
    lib = "version 1.0\n" + TASK
    deps = _zip({f"l{i}.wdl": lib for i in range(3)})
    imports = "".join(f'import "l{i}.wdl" as l{i}\n' for i in range(3))
    source = f"version 1.0\n{imports}workflow w {{}}\n"
    r = submit(tight.client, workflowSource=source, workflowInputs="{}", workflowDependencies=deps)
    _refused(r, "max-imports", tight)


def test_import_depth(tight: Live) -> None:
    deps = _zip(
        {
            "a.wdl": 'version 1.0\nimport "b.wdl" as b\n',
            "b.wdl": 'version 1.0\nimport "c.wdl" as c\n',
            "c.wdl": "version 1.0\n" + TASK,
        }
    )
    source = 'version 1.0\nimport "a.wdl" as a\nworkflow w {}\n'
    r = submit(tight.client, workflowSource=source, workflowInputs="{}", workflowDependencies=deps)
    _refused(r, "max-import-depth", tight)


def test_nesting_depth(tight: Live) -> None:
    body = "if (true) { " * 3 + "Int x = 1 " + "} " * 3
    source = f"version 1.0\nworkflow w {{ {body} }}\n"
    _refused(
        submit(tight.client, workflowSource=source, workflowInputs="{}"), "max-nesting-depth", tight
    )


def test_inputs_size(tight: Live) -> None:
    inputs = json.dumps({"hello.name": "x" * 300})
    _refused(submit(tight.client, workflowInputs=inputs), "max-inputs-bytes", tight)


def test_label_count(tight: Live) -> None:
    labels = json.dumps({f"k{i}": "v" for i in range(3)})
    _refused(submit(tight.client, labels=labels), "max-labels", tight)


def test_within_the_limits_is_accepted(tight: Live) -> None:
    assert submit(tight.client, labels='{"a": "b"}').status_code == 201


def test_limits_from_config_name_the_key() -> None:
    assert limits_from_config({"max-scatter-shards": "10"}).max_scatter_shards == 10
    assert limits_from_config({}) == Limits()
    with pytest.raises(BadConfig, match="ironside.limits.max-shards"):
        limits_from_config({"max-shards": 1})
    with pytest.raises(BadConfig, match="max-calls"):
        limits_from_config({"max-calls": -1})


# ---- on ironside run (the real engine) ----
SCATTER = f"""version 1.0
{TASK}
workflow w {{
  input {{ Int n = 3  Array[Int] given = [] }}
  scatter (i in range(n)) {{ call t }}
  scatter (g in given) {{ call t as u }}
}}
"""


def _limited(runner: Runner, **limits: int) -> Runner:
    keys = ", ".join(f"{Limits.key(k).rsplit('.', 1)[1]} = {v}" for k, v in limits.items())
    runner.config_text = f"ironside {{ limits {{ {keys} }} }}"
    return runner


def test_scatter_shards_from_range(runner: Runner) -> None:
    result = _limited(runner, max_scatter_shards=2).run(SCATTER)
    assert result.rc == 1
    assert "range()" in result.stderr and "ironside.limits.max-scatter-shards" in result.stderr


def test_scatter_shards_from_an_array(runner: Runner) -> None:
    result = _limited(runner, max_scatter_shards=2).run(SCATTER, {"w.n": 0, "w.given": [1, 2, 3]})
    assert result.rc == 1
    assert "3 is more than the 2 allowed" in result.stderr


def test_calls_per_workflow(runner: Runner) -> None:
    result = _limited(runner, max_calls=2).run(SCATTER)
    assert result.rc == 1
    assert "ironside.limits.max-calls" in result.stderr


def test_run_within_the_limits(runner: Runner) -> None:
    assert _limited(runner, max_calls=3, max_scatter_shards=3).run(SCATTER).rc == 0


def test_label_key_length_on_run(runner: Runner) -> None:
    result = runner.run(SCATTER, labels={"k" * 256: "v"})
    assert result.rc == 2
    assert "The maximum is 255" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_imports_zip_size_on_run(runner: Runner) -> None:
    (runner.workdir / "deps.zip").write_bytes(_zip({"lib.wdl": "version 1.0\n" + TASK}))
    result = _limited(runner, max_imports_zip_bytes=10).run(SCATTER, extra=["-p", "deps.zip"])
    assert result.rc == 2
    assert "ironside.limits.max-imports-zip-bytes" in result.stderr


def test_inputs_size_on_run(runner: Runner) -> None:
    result = _limited(runner, max_inputs_bytes=10).run(SCATTER, {"w.n": 1, "w.given": [1, 2]})
    assert result.rc == 2
    assert "ironside.limits.max-inputs-bytes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_label_count_on_run(runner: Runner) -> None:
    result = _limited(runner, max_labels=2).run(SCATTER, labels={"a": "1", "b": "2", "c": "3"})
    assert result.rc == 2
    assert "ironside.limits.max-labels" in result.stderr


def test_default_limits_are_the_documented_ones() -> None:
    d = Limits()
    assert (d.max_scatter_shards, d.max_import_depth, d.max_imports) == (1_000_000, 10, 100)
    assert replace(d, max_calls=1).max_calls == 1


def test_range_at_the_limit_builds_its_items_on_access() -> None:
    import tracemalloc

    import WDL

    from ironside.filesystems.dispatch import FileSystems
    from ironside.wdl.stdlib import WorkflowStdLib

    doc = WDL.parse_document(
        "version 1.0\nworkflow w { Array[Int] xs = range(1000000)\n Int last = xs[999999] }\n"
    )
    doc.typecheck()
    assert doc.workflow is not None
    decls = [d for d in doc.workflow.body if isinstance(d, WDL.Tree.Decl) and d.expr is not None]
    lib = WorkflowStdLib("1.0", "/tmp/unused", FileSystems())
    tracemalloc.start()
    xs = decls[0].expr.eval(WDL.Env.Bindings(), lib)  # type: ignore[union-attr]
    empty: WDL.Env.Bindings[WDL.Value.Base] = WDL.Env.Bindings()
    env = empty.bind("xs", xs)
    last = decls[1].expr.eval(env, lib)  # type: ignore[union-attr]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (len(xs.value), last.value) == (1_000_000, 999_999)
    assert peak < 5 * 1024 * 1024  # a million Value.Int would be ~230 MB
