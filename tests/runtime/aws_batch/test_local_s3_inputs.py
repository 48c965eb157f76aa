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
