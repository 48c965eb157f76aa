"""http(s) File inputs and imports (bug 9), against a loopback HTTP server.

The engine downloads them (bounded, retried, redirects only to the same scheme and
host); the call cache keys an http input by its ETag, else Last-Modified, else URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironside.filesystems.dispatch import FileSystems
from ironside.filesystems.http import HttpFileSystem, HttpRefused, local_name
from tests.loopback_http import LoopbackHttp, loopback_http
from tests.runtime.conftest import Runner


@pytest.fixture
def http() -> Iterator[LoopbackHttp]:
    with loopback_http() as server:
        yield server


def _fs(**kw: object) -> HttpFileSystem:
    return HttpFileSystem(timeout=5.0, sleep=lambda _s: None, **kw)  # type: ignore[arg-type]


# -- the http file system -------------------------------------------------------------


def test_download_streams_to_a_file(http: LoopbackHttp, tmp_path: Path) -> None:
    url = http.serve("/data/a.txt", "hello\n" * 1000)
    dest = tmp_path / "x" / "a.txt"
    _fs().download(url, str(dest))
    assert dest.read_text() == "hello\n" * 1000
    assert [n for n in os.listdir(dest.parent) if ".part" in n] == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_is_refused(http: LoopbackHttp, tmp_path: Path, chunked: bool) -> None:
    url = http.serve("/big", b"x" * 5000, chunked=chunked)
    with pytest.raises(HttpRefused, match="5000 bytes, more than|more than the 4096 bytes"):
        _fs(max_bytes=4096).download(url, str(tmp_path / "big"))
    assert not (tmp_path / "big").exists()
    assert os.listdir(tmp_path) == []  # no partial file left


def test_503_is_retried_then_succeeds(http: LoopbackHttp) -> None:
    url = http.serve("/flaky", "ok")
    http.fail("/flaky", 2)
    assert _fs(tries=3).read_bytes(url) == b"ok"
    assert http.requests.count(("GET", "/flaky")) == 3


def test_503_gives_up_after_the_tries(http: LoopbackHttp) -> None:
    url = http.serve("/down", "ok")
    http.fail("/down", 10)
    with pytest.raises(HttpRefused, match="HTTP 503"):
        _fs(tries=2).read_bytes(url)
    assert http.requests.count(("GET", "/down")) == 2


def test_missing_is_file_not_found(http: LoopbackHttp) -> None:
    with pytest.raises(FileNotFoundError, match="HTTP 404"):
        _fs().info(http.base + "/nothing")
    assert not _fs().exists(http.base + "/nothing")


def test_a_redirect_on_the_same_host_is_followed(http: LoopbackHttp) -> None:
    http.serve("/real.txt", "real")
    url = http.redirect("/moved.txt", "/real.txt")
    assert _fs().read_bytes(url) == b"real"


@pytest.mark.parametrize(
    "target",
    ["file:///etc/hostname", "https://127.0.0.1:{port}/real.txt", "http://localhost:{port}/r"],
    ids=["file", "https", "other-host"],
)
def test_a_redirect_to_another_scheme_or_host_is_refused(http: LoopbackHttp, target: str) -> None:
    http.serve("/real.txt", "real")
    url = http.redirect("/moved", target.format(port=http.port))
    with pytest.raises(HttpRefused, match="only redirects to the same scheme and host"):
        _fs().read_bytes(url)


def test_content_identity_is_etag_else_last_modified_else_url(http: LoopbackHttp) -> None:
    a = http.serve("/a", "a", etag="v1")
    b = http.serve("/b", "b", last_modified="Wed, 21 Oct 2015 07:28:00 GMT")
    c = http.serve("/c", "c")
    fs = _fs()
    assert fs.info(a).content_id == 'etag:"v1"' and fs.info(a).size == 1
    assert fs.info(b).content_id == "last-modified:Wed, 21 Oct 2015 07:28:00 GMT"
    assert fs.info(c).content_id == f"url:{c}"


def test_local_names_keep_the_file_name_and_never_climb() -> None:
    assert local_name("https://h.org/x/y.bam?sig=1") == "https/h.org/x/y.bam"
    assert local_name("http://h:8080/a/../../b") == "http/h_8080/a/b"
    assert local_name("http://h/") == "http/h/index"


def test_file_systems_serve_http_paths(http: LoopbackHttp, tmp_path: Path) -> None:
    url = http.serve("/f.txt", "content")
    files = FileSystems()
    try:
        assert files.size(url) == 7
        assert files.read_prefix(url, 3) == b"cont"
        copy = files.local_copy(url)
        assert open(copy).read() == "content" and copy.endswith("/f.txt")
    finally:
        files.close()


# -- workflows --------------------------------------------------------------------------

WDL = """version 1.0
task show {
  input { File f }
  command <<< echo "task: $(cat ~{f}) $(basename ~{f})" >>>
  output { String text = read_string(stdout()) }
}
workflow w {
  input { File f }
  call show { input: f = f }
  output { String in_task = show.text  String in_workflow = read_string(f) }
}
"""


def test_an_http_file_input_is_downloaded_for_the_task(runner: Runner, http: LoopbackHttp) -> None:
    url = http.serve("/refs/genome.fa", "ACGT\n", etag="g1")
    res = runner.run(WDL, {"w.f": url})
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.in_task": "task: ACGT genome.fa", "w.in_workflow": "ACGT"}
    staged = list(runner.workdir.rglob("inputs/http/127.0.0.1_*/refs/genome.fa"))
    assert len(staged) == 1 and staged[0].read_text() == "ACGT\n"


def test_a_missing_http_input_fails_the_call_naming_the_url(
    runner: Runner, http: LoopbackHttp
) -> None:
    res = runner.run(WDL, {"w.f": http.base + "/gone.txt"})
    assert res.rc != 0
    assert "/gone.txt: HTTP 404" in res.stderr


def test_the_call_cache_keys_an_http_input_by_its_etag(runner: Runner, http: LoopbackHttp) -> None:
    runner.config_text = "call-caching { enabled = true }"
    url = http.serve("/in.txt", "one", etag="v1")
    first = runner.run(WDL, {"w.f": url})
    assert first.rc == 0, first.stderr
    gets = http.requests.count(("GET", "/in.txt"))
    again = runner.run(WDL, {"w.f": url})
    assert again.rc == 0 and again.outputs["w.in_task"] == "task: one in.txt"
    # a hit: the task's copy was not downloaded again (only the workflow's read_string)
    assert http.requests.count(("GET", "/in.txt")) == gets + 1
    http.serve("/in.txt", "two", etag="v2")
    changed = runner.run(WDL, {"w.f": url})
    assert changed.rc == 0 and changed.outputs["w.in_task"] == "task: two in.txt"


def test_an_http_import_is_fetched(runner: Runner, http: LoopbackHttp) -> None:
    lib = "version 1.0\ntask hi { command <<< echo hi >>> "
    http.serve("/lib/tasks.wdl", lib + "output { String s = read_string(stdout()) } }\n")
    main = f'version 1.0\nimport "{http.base}/lib/tasks.wdl" as t\n'
    main += "workflow w { call t.hi  output { String s = hi.s } }\n"
    res = runner.run(main)
    assert res.rc == 0, res.stderr
    assert res.outputs == {"w.s": "hi"}
