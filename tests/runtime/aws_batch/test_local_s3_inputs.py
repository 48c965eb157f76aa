"""``s3://`` File inputs on the local backend: read at workflow level and fetched for tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ironside.cli as cli

WDL = """version 1.0
task cat {
  input { File f }
  command <<< tr a-z A-Z < ~{f} > copy.txt >>>
  output { String s = read_string("copy.txt")  File copy = "copy.txt" }
}
workflow w {
  input { File f }
  String head = read_string(f)
  call cat { input: f = f }
  output { String a = head  String b = cat.s  File copy = cat.copy }
}
"""


def test_local_backend_reads_and_fetches_s3_inputs(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.create_bucket(Bucket="local-data")
    s3.put_object(Bucket="local-data", Key="dir/in.txt", Body=b"hello s3\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.wdl").write_text(WDL)
    (tmp_path / "in.json").write_text(json.dumps({"w.f": "s3://local-data/dir/in.txt"}))
    rc = cli.main(["run", "w.wdl", "-i", "in.json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = json.loads(captured.out)["outputs"]
    assert out["w.a"] == "hello s3" and out["w.b"] == "HELLO S3"
    copy = Path(out["w.copy"])
    assert copy.read_text() == "HELLO S3\n"
    fetched = list(tmp_path.rglob("inputs/local-data/dir/in.txt"))
    assert len(fetched) == 1 and fetched[0].read_text() == "hello s3\n"


LIB = """version 1.0
task hi { command <<< echo hi from s3 >>> output { String s = read_string(stdout()) } }
"""


def test_an_s3_import_is_read_with_the_engine_s3_client(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.create_bucket(Bucket="wdl-lib")
    s3.put_object(Bucket="wdl-lib", Key="v1/tasks.wdl", Body=LIB.encode())
    monkeypatch.chdir(tmp_path)
    main = 'version 1.0\nimport "s3://wdl-lib/v1/tasks.wdl" as t\n'
    (tmp_path / "w.wdl").write_text(main + "workflow w { call t.hi  output { String s = hi.s } }\n")
    rc = cli.main(["run", "w.wdl"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert json.loads(captured.out)["outputs"] == {"w.s": "hi from s3"}


def test_the_server_checks_s3_imports_with_a_reader_and_its_size_cap(s3: Any) -> None:
    from ironside.errors import UserError
    from ironside.filesystems.dispatch import FileSystems
    from ironside.limits import Limits
    from ironside.server import wdl_check
    from ironside.server.settings import ServerSettings

    s3.create_bucket(Bucket="wdl-lib")
    s3.put_object(Bucket="wdl-lib", Key="v1/tasks.wdl", Body=LIB.encode())
    s3.put_object(Bucket="wdl-lib", Key="v1/big.wdl", Body=LIB.encode() + b"#" * 2000)
    settings = ServerSettings(
        workflow_url_schemes=("s3",), workflow_url_hosts=("wdl-lib",), limits=Limits(1000)
    )
    main = 'version 1.0\nimport "s3://wdl-lib/v1/%s" as t\nworkflow w { call t.hi }\n'
    files = FileSystems(s3_client=s3)
    with_reader = wdl_check.Limits(imports=settings.import_policy(files.read_prefix))
    doc = wdl_check.load(main % "tasks.wdl", limits=with_reader)
    imported = doc.imports[0].doc
    assert imported is not None and [t.name for t in imported.tasks] == ["hi"]
    with pytest.raises(UserError, match="larger than the 1000 bytes allowed"):
        wdl_check.load(main % "big.wdl", limits=with_reader)
    with pytest.raises(UserError, match="s3:// imports are not available here"):
        without = wdl_check.Limits(imports=settings.import_policy())
        wdl_check.load(main % "tasks.wdl", limits=without)
    other = 'version 1.0\nimport "s3://elsewhere/t.wdl" as t\nworkflow w { call t.hi }\n'
    with pytest.raises(UserError, match="s3://elsewhere is not allowed by the server"):
        wdl_check.load(other, limits=with_reader)
