"""Submission over real HTTP: multipart fields, merging, labels, zips, ids, and the 400s."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

from ironside.server.settings import ServerSettings

from .conftest import HELLO, Live, start, submit
from .fake_engine import FakeEngine

MAIN_WITH_IMPORT = """version 1.0
import "lib/greet.wdl" as g
workflow main { call g.greet }
"""
GREET = """version 1.0
task greet { command <<< echo hi >>> output { String s = read_string(stdout()) } }
"""


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16) | 0
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_submit_returns_201_with_id_and_submitted(live: Live) -> None:
    r = submit(live.client)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "Submitted"
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert live.engine.subs[body["id"]].workflow_name == "hello"


def test_plain_form_fields_are_accepted(live: Live) -> None:
    r = live.client.post(
        "/api/workflows/v1",
        data={"workflowSource": HELLO, "workflowInputs": '{"hello.name": "x"}'},
    )
    assert r.status_code == 201, r.text


def test_inputs_parts_merge_in_order(live: Live) -> None:
    r = submit(
        live.client,
        workflowInputs='{"hello.name": "one"}',
        workflowInputs_2='{"hello.name": "two"}',
        workflowInputs_5='{"hello.say.greeting": "five"}',
    )
    assert r.status_code == 201, r.text
    sub = live.engine.subs[r.json()["id"]]
    assert sub.inputs == {"hello.name": "two", "hello.say.greeting": "five"}


def test_options_labels_hold_and_requested_id(live: Live) -> None:
    wanted = str(uuid.uuid4())
    r = submit(
        live.client,
        workflowOptions='{"read_from_cache": false}',
        labels='{"project": "Alpha Beta", "empty": ""}',
        workflowOnHold="true",
        requestedWorkflowId=wanted,
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"id": wanted, "status": "On Hold"}
    sub = live.engine.subs[wanted]
    assert sub.options == {"read_from_cache": False}
    assert sub.labels == {"project": "Alpha Beta", "empty": ""}
    again = submit(live.client, requestedWorkflowId=wanted)
    assert again.status_code == 409
    assert again.json()["status"] == "fail"


def test_dependencies_zip_resolves_imports(live: Live) -> None:
    deps = _zip({"lib/greet.wdl": GREET.encode()})
    r = submit(
        live.client, workflowSource=MAIN_WITH_IMPORT, workflowInputs="{}", workflowDependencies=deps
    )
    assert r.status_code == 201, r.text
    assert live.engine.subs[r.json()["id"]].dependencies == deps


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"workflowSource": "version 1.0\nworkflow w { call nope }"}, "workflow.wdl:2:"),
        ({"workflowSource": "version 1.0\nworkflow w {\n  Int x = \n}"}, "workflow.wdl:4:"),
        ({"workflowInputs": "{not json"}, "workflowInputs"),
        ({"workflowInputs": '{"hello.nam": "x"}'}, "hello.nam"),
        ({"workflowInputs": "{}"}, "name"),
        ({"workflowInputs": '{"hello.name": [1, 2]}'}, "workflowInputs"),
        ({"workflowInputs_3": "[1]"}, "workflowInputs_3"),
        ({"workflowOptions": "[]"}, "workflowOptions"),
        ({"labels": '{"": "x"}'}, "can't be empty"),
        ({"labels": json.dumps({"k" * 256: "v"})}, "maximum is 255"),
        ({"labels": '{"k": 3}'}, "must be a string"),
        ({"workflowOnHold": "maybe"}, "workflowOnHold"),
        ({"requestedWorkflowId": "not-a-uuid"}, "requestedWorkflowId"),
        ({"workflowType": "CWL"}, "workflowType"),
        ({"workflowTypeVersion": "3.0"}, "workflowTypeVersion"),
        ({"workflowTypeVersion": "draft-2"}, "document is WDL 1.0"),
        ({"workflowUrl": "file:///etc/passwd"}, "not both"),
        ({"unexpected": "x"}, "Unexpected body part name: unexpected"),
    ],
)
def test_bad_submissions_are_400_in_cromwell_shape(
    live: Live, fields: dict[str, str], needle: str
) -> None:
    r = submit(live.client, **fields)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == "fail"
    assert needle in body["message"]
    assert live.engine.subs == {}


def test_missing_source_is_400(live: Live) -> None:
    r = live.client.post("/api/workflows/v1", files={"workflowInputs": ("i", b"{}")})
    assert r.status_code == 400
    assert "workflowSource or workflowUrl" in r.json()["message"]


@pytest.mark.parametrize(
    ("deps", "needle"),
    [
        (_zip({"/abs/x.wdl": b"x"}), "absolute"),
        (_zip({"../up.wdl": b"x"}), "'..'"),
        (_zip({"a/../../up.wdl": b"x"}), "'..'"),
        (_zip({"ok.wdl": b"x"}, symlink="link.wdl"), "symbolic link"),
        (_zip({f"f{i}.wdl": b"x" for i in range(12)}), "entries"),
        (_zip({"big.wdl": b"0" * 5000}), "bytes once uncompressed"),
        (b"PK\x03\x04 not really a zip", "not a zip"),
    ],
)
def test_unsafe_dependency_zips_are_refused(deps: bytes, needle: str) -> None:
    settings = ServerSettings(zip_max_files=10, zip_max_bytes=4096)
    for live in start(settings, FakeEngine()):
        r = submit(live.client, workflowDependencies=deps)
        assert r.status_code == 400, r.text
        assert needle in r.json()["message"]
        assert live.engine.subs == {}


def test_batch_submits_one_workflow_per_input_object(live: Live) -> None:
    inputs = json.dumps([{"hello.name": n} for n in ("a", "b", "c")])
    r = live.client.post(
        "/api/workflows/v1/batch",
        files={"workflowSource": ("w", HELLO.encode()), "workflowInputs": ("i", inputs.encode())},
    )
    assert r.status_code == 201, r.text
    answers = r.json()
    assert [a["status"] for a in answers] == ["Submitted"] * 3
    names = sorted(live.engine.subs[a["id"]].inputs["hello.name"] for a in answers)
    assert names == ["a", "b", "c"]


def test_batch_with_non_array_inputs_is_400(live: Live) -> None:
    r = live.client.post(
        "/api/workflows/v1/batch",
        files={"workflowSource": ("w", HELLO.encode()), "workflowInputs": ("i", b"{}")},
    )
    assert r.status_code == 400
    assert "JSON array" in r.json()["message"]
