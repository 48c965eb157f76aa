"""The timing page in headless Chromium: one bar per call attempt, coloured by status."""

from __future__ import annotations

import time
from typing import Any

from ironside.metadata import iso
from ironside.server.timing import call_rows, render_timing

from .conftest import Live, submit


def _attempt(shard: int, attempt: int, status: str, t0: float, dur: float) -> dict[str, Any]:
    return {
        "shardIndex": shard,
        "attempt": attempt,
        "executionStatus": status,
        "start": iso(t0),
        "end": iso(t0 + dur) if status != "Running" else None,
    }


def big_metadata(wf_id: str, shards: int) -> dict[str, Any]:
    """A workflow with ``shards`` scattered attempts, some retried, one running, one failed."""
    t0 = time.time() - 3600
    attempts = []
    for i in range(shards):
        if i % 100 == 7:
            attempts.append(_attempt(i, 1, "RetryableFailure", t0 + i, 30))
            attempts.append(_attempt(i, 2, "Done", t0 + i + 31, 60))
        else:
            attempts.append(_attempt(i, 1, "Done", t0 + i, 60 + i % 13))
    attempts[-1] = _attempt(shards - 1, 1, "Running", t0 + shards, 0)
    return {
        "id": wf_id,
        "workflowName": "big<script>alert(1)</script>",
        "status": "Running",
        "start": iso(t0),
        "calls": {
            "big.prepare": [_attempt(-1, 1, "Done", t0 - 30, 25)],
            "big.scatter_me": attempts,
            "big.fail": [_attempt(-1, 1, "Failed", t0 + 10, 5)],
        },
    }


def test_rows_include_sub_workflow_attempts() -> None:
    md = {
        "calls": {
            "w.a": [_attempt(-1, 1, "Done", 1000.0, 1)],
            "w.sub": [
                {
                    **_attempt(2, 1, "Done", 1000.0, 5),
                    "subWorkflowMetadata": {"calls": {"s.b": [_attempt(-1, 1, "Done", 1001.0, 1)]}},
                }
            ],
        }
    }
    names = sorted(r["name"] for r in call_rows(md))
    assert names == ["w.a", "w.sub", "w.sub[2]/s.b"]


def test_page_escapes_names_and_sets_a_nonce() -> None:
    page, nonce = render_timing(big_metadata("x", 3), time.time() * 1000)
    assert "<script>alert(1)</script>" not in page
    assert f'nonce="{nonce}"' in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched


def test_timing_page_draws_one_bar_per_attempt(live: Live, browser: Any) -> None:
    wf = submit(live.client).json()["id"]
    shards = 1000
    md = big_metadata(wf, shards)
    live.engine.custom_metadata[wf] = md
    expected = sum(len(v) for v in md["calls"].values())
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    response = page.goto(f"{live.url}/api/workflows/v1/{wf}/timing", timeout=60_000)
    assert response is not None and response.status == 200
    page.wait_for_selector("rect.bar", state="attached", timeout=60_000)
    assert page.locator("rect.bar").count() == expected
    assert page.locator("rect.bar[data-status='Failed']").count() == 1
    assert page.locator("rect.bar[data-status='RetryableFailure']").count() == shards // 100
    assert page.locator("rect.bar[data-status='Running']").count() == 1
    assert page.locator("rect.bar[data-attempt='2']").count() == shards // 100
    colours = page.eval_on_selector_all(
        "rect.bar", "els => Array.from(new Set(els.map(e => e.getAttribute('fill'))))"
    )
    assert len(colours) == 4  # Done, RetryableFailure, Failed, Running
    widths = page.eval_on_selector_all(
        "rect.bar", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert min(widths) >= 2  # every bar visible
    assert "big<script>" in page.locator("#title").inner_text()
    page.fill("#filter", "big.fail")
    assert page.locator("rect.bar").count() == 1
    page.fill("#filter", "")
    page.click("#legend .item[data-status='Done']")
    done = sum(1 for v in md["calls"].values() for a in v if a["executionStatus"] == "Done")
    assert page.locator("rect.bar").count() == expected - done
    assert errors == []
    page.close()


def test_timing_page_of_a_real_submission(live: Live, browser: Any) -> None:
    wf = submit(live.client).json()["id"]
    page = browser.new_page()
    page.goto(f"{live.url}/api/workflows/v1/{wf}/timing", timeout=60_000)
    page.wait_for_selector("rect.bar", state="attached", timeout=60_000)
    assert page.locator("rect.bar").count() == 1
    assert page.locator("rect.bar").first.get_attribute("data-status") == "Done"
    page.close()
