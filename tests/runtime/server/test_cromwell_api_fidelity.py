"""What Cromwell's clients send and expect beyond the basics: old field names, any API
version in the path, gzipped metadata, engine stats, womtool describe that never fails."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from .conftest import HELLO, Live

DESCRIBE = "/api/womtool/v1/describe"


def _submit(live: Live, version: str = "v1") -> str:
    files = {
        "workflowSource": ("w", HELLO.encode()),
        "workflowInputs": ("i", b'{"hello.name": "x"}'),
    }
    r = live.client.post(f"/api/workflows/{version}", files=files)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_any_version_segment_is_served(live: Live) -> None:
    wf = _submit(live, "v2")
    for version in ("v1", "v2", "85"):
        status = live.client.get(f"/api/workflows/{version}/{wf}/status")
        assert status.status_code == 200 and status.json()["id"] == wf
    assert live.client.post(
        "/api/womtool/v2/describe", files={"workflowSource": ("w", HELLO.encode())}
    ).json()["valid"]


def test_wdl_source_and_many_input_parts_are_accepted(live: Live) -> None:
    parts = {"wdlSource": ("w", HELLO.encode()), "workflowInputs": ("i", b'{"hello.name": "a"}')}
    for n in range(2, 8):
        parts[f"workflowInputs_{n}"] = ("i", json.dumps({"hello.name": f"n{n}"}).encode())
    r = live.client.post("/api/workflows/v1", files=parts)
    assert r.status_code == 201, r.text
    sub = live.engine.subs[r.json()["id"]]
    assert sub.inputs == {"hello.name": "n7"} and sub.workflow_name == "hello"
    bad = live.client.post(
        "/api/workflows/v1",
        files={"wdlSource": ("w", HELLO.encode()), "workflowInputs_x": ("i", b"{}")},
    )
    assert bad.status_code == 400 and "workflowInputs_x" in bad.json()["message"]


def test_metadata_is_gzipped_when_the_client_accepts_it(live: Live) -> None:
    wf = _submit(live)
    url = f"{live.url}/api/workflows/v1/{wf}/metadata"
    with httpx.Client() as raw:
        zipped = raw.get(url, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.json()["id"] == wf  # httpx decodes it
        plain = raw.get(url, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert json.loads(plain.content)["id"] == wf
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as resp:
        body = b"".join(resp.iter_raw())
    assert json.loads(gzip.decompress(body))["id"] == wf


def test_engine_stats(live: Live) -> None:
    live.engine.jobs_running = 3
    assert live.client.get("/engine/v1/stats").json() == {"workflows": 0, "jobs": 3}


@pytest.mark.parametrize("source", ["", "   \n\t\n", "# only a comment\n  # another\n"])
def test_describe_of_empty_sources_is_invalid_with_a_message(live: Live, source: str) -> None:
    r = live.client.post(DESCRIBE, files={"workflowSource": ("w", source.encode())})
    assert r.status_code == 200
    assert r.json()["valid"] is False and "empty" in r.json()["errors"][0]


def test_describe_honours_workflow_type_version(live: Live) -> None:
    files = {"workflowSource": ("w", HELLO.encode()), "workflowTypeVersion": ("v", b"1.1")}
    answer = live.client.post(DESCRIBE, files=files).json()
    assert answer["valid"] is False and "1.1" in answer["errors"][0]
    files["workflowTypeVersion"] = ("v", b"1.0")
    assert live.client.post(DESCRIBE, files=files).json()["valid"] is True


def test_describe_hides_engine_internal_inputs(live: Live) -> None:
    source = b"""version 1.2
task t {
  input { Int n = 1 }
  command <<< echo ~{n} >>>
  requirements { cpu: 1 }
  meta { note: "x" }
}
"""
    answer = live.client.post(DESCRIBE, files={"workflowSource": ("w", source)}).json()
    assert answer["valid"] is True, answer
    assert [i["name"] for i in answer["inputs"]] == ["n"]


def test_openapi_declares_what_the_server_answers(live: Live) -> None:
    schema = live.client.get("/openapi.json").json()
    assert "422" not in json.dumps(schema["paths"])
    metadata = schema["paths"]["/api/workflows/v1/{workflow_id}/metadata"]["get"]
    assert {"400", "404"} <= set(metadata["responses"])
    wf = "00000000-0000-4000-8000-000000000000"
    bad = live.client.get(f"/api/workflows/v1/{wf}/metadata", params={"expandSubWorkflows": "x"})
    assert bad.status_code == 400
    query = schema["paths"]["/api/workflows/v1/query"]["get"]
    assert {"status", "label", "pageSize", "includeSubworkflows"} <= {
        p["name"] for p in query["parameters"]
    }
    diff = schema["paths"]["/api/workflows/v1/callcaching/diff"]["get"]
    required = {p["name"] for p in diff["parameters"] if p["required"]}
    assert required == {"workflowA", "callA", "workflowB", "callB"}
    assert not any("{version}" in path for path in schema["paths"])
