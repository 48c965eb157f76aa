"""``GET /api/workflows/v1/callcaching/diff`` on the real server over the store of two runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from ironside.server.app import create_app
from ironside.server.engine_adapter import build_engine_port
from ironside.server.settings import ServerSettings
from tests.runtime.server.live import serve

from .cli_helpers import Workspace

pytestmark = pytest.mark.timeout(300)
DIFF = "/api/workflows/v1/callcaching/diff"


def test_diff_of_two_runs_and_errors(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    first = ws.run()
    (tmp_path / "in1.txt").write_text("omega\n")
    second = ws.run()
    port = build_engine_port(str(tmp_path / "app.conf"), max_workflows=1)
    with serve(create_app(ServerSettings(), port)) as url, httpx.Client(base_url=url) as client:
        params = {"workflowA": first.id, "callA": "w.upper", "indexA": "-1"}
        params |= {"workflowB": second.id, "callB": "w.upper", "indexB": "-1"}
        answer = client.get(DIFF, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["callA"] == {
            "executionStatus": "Done",
            "allowResultReuse": True,
            "callFqn": "w.upper",
            "jobIndex": -1,
            "workflowId": first.id,
        }
        assert body["callB"]["workflowId"] == second.id
        differing = body["hashDifferential"]
        assert [d["hashKey"] for d in differing] == ["input: File f"]
        assert differing[0]["callA"] == first.caching("upper")["hashes"]["input"]["File f"]
        assert differing[0]["callB"] == second.caching("upper")["hashes"]["input"]["File f"]
        same = client.get(DIFF, params=params | {"workflowB": first.id})
        assert same.status_code == 200 and same.json()["hashDifferential"] == []
        # rev did not change: its hit carries the same hashes, no index given (-1)
        rev = {"workflowA": first.id, "callA": "w.rev", "workflowB": second.id, "callB": "w.rev"}
        assert client.get(DIFF, params=rev).json()["hashDifferential"] == []
        unknown_wf = client.get(DIFF, params=params | {"workflowB": str(uuid.uuid4())})
        assert unknown_wf.status_code == 404
        unknown_call = client.get(DIFF, params=params | {"callB": "w.nope"})
        assert unknown_call.status_code == 404 and "w.nope" in unknown_call.json()["message"]
        unknown_shard = client.get(DIFF, params=params | {"indexB": "3"})
        assert unknown_shard.status_code == 404
        missing = client.get(DIFF, params={k: v for k, v in params.items() if k != "callB"})
        assert missing.status_code == 400 and "callB" in missing.json()["message"]
        bad_index = client.get(DIFF, params=params | {"indexA": "x"})
        assert bad_index.status_code == 400
