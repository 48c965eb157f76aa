"""``/api/workflows/v1``: submit, batch, status, outputs, logs, metadata, labels, abort,
releaseHold, query, backends and the timing page."""

from __future__ import annotations

import gzip
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ironside.errors import UserError
from ironside.labels import validate_labels
from ironside.server import openapi_docs
from ironside.server.engine_port import TERMINAL
from ironside.server.metadata_cache import MetadataCache
from ironside.server.metadata_view import (
    MetadataView,
    apply_view,
    failed_jobs,
    logs_of,
    outputs_of,
)
from ironside.server.query import pairs_from_body, parse_query, run_query
from ironside.server.responses import check_workflow_id
from ironside.server.routes.deps import blocking, engine_of, s3_read_of, settings_of
from ironside.server.submission import parse_submissions, read_fields
from ironside.server.timing import render_timing

router = APIRouter(tags=["Workflows"])  # mounted under WORKFLOWS_PREFIXES
Keys = Annotated[list[str] | None, Query()]


async def _submit(request: Request, batch: bool) -> list[dict[str, str]]:
    settings = settings_of(request)
    engine = engine_of(request)
    fields = await read_fields(request, settings)
    submissions = await parse_submissions(
        fields, settings, batch=batch, s3_read=s3_read_of(request)
    )
    answers = []
    for submission in submissions:
        wf_id, status = await blocking(engine.submit, submission)
        answers.append({"id": wf_id, "status": status})
    return answers


@router.post("", status_code=201, openapi_extra=openapi_docs.SUBMIT)
async def submit(request: Request) -> dict[str, str]:
    """Submit one workflow (multipart form, Cromwell's field names)."""
    return (await _submit(request, batch=False))[0]


@router.post("/batch", status_code=201, openapi_extra=openapi_docs.SUBMIT)
async def submit_batch(request: Request) -> list[dict[str, str]]:
    """Submit one workflow per element of the ``workflowInputs`` JSON array."""
    return await _submit(request, batch=True)


@router.get("/backends")
async def backends(request: Request) -> dict[str, Any]:
    """The configured backends and the default one."""
    info = await blocking(engine_of(request).backends)
    return {"supportedBackends": list(info.supported), "defaultBackend": info.default}


@router.get("/query", openapi_extra=openapi_docs.QUERY_PARAMS)
async def query_get(request: Request) -> dict[str, Any]:
    """Workflows matching the query string (Cromwell's keys; keys may repeat)."""
    q = parse_query(request.query_params.multi_items())
    return run_query(q, await blocking(engine_of(request).workflows))


@router.post("/query", openapi_extra=openapi_docs.QUERY_BODY)
async def query_post(request: Request) -> dict[str, Any]:
    """Workflows matching a JSON list of single-key objects."""
    try:
        body = json.loads(await request.body() or b"[]")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"query body: not valid JSON: {exc}") from None
    q = parse_query(pairs_from_body(body))
    return run_query(q, await blocking(engine_of(request).workflows))


@router.get("/{workflow_id}/status")
async def status(request: Request, workflow_id: str) -> dict[str, str]:
    """The workflow's status."""
    wf_id = check_workflow_id(workflow_id)
    return {"id": wf_id, "status": await blocking(engine_of(request).status, wf_id)}


async def _metadata(request: Request, wf_id: str, view: MetadataView) -> dict[str, Any]:
    engine = engine_of(request)

    def build() -> dict[str, Any]:
        return apply_view(engine.metadata(wf_id), view, engine.metadata)

    return await blocking(build)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@router.get("/{workflow_id}/metadata")
async def metadata(
    request: Request,
    workflow_id: str,
    includeKey: Keys = None,  # noqa: N803 - Cromwell's parameter names
    excludeKey: Keys = None,  # noqa: N803
    expandSubWorkflows: bool = False,  # noqa: N803
) -> Response:
    """Cromwell-shaped metadata, filtered by includeKey/excludeKey, sub-workflows inlined."""
    wf_id = check_workflow_id(workflow_id)
    view = MetadataView(
        frozenset(includeKey or ()), frozenset(excludeKey or ()), expandSubWorkflows
    )
    cache: MetadataCache = request.app.state.metadata_cache
    body = cache.get(wf_id, view)
    if body is None:
        md = await _metadata(request, wf_id, view)
        body = await blocking(_dumps, md)
        if md.get("status") in TERMINAL:
            cache.put(wf_id, view, body)
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        gzipped = await blocking(gzip.compress, body, 5)
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(gzipped, media_type="application/json", headers=headers)
    return Response(body, media_type="application/json", headers={"Vary": "Accept-Encoding"})


@router.get("/{workflow_id}/metadata/failed-jobs")
async def metadata_failed_jobs(request: Request, workflow_id: str) -> dict[str, Any]:
    """Only the failed call attempts of a workflow and its sub-workflows."""
    wf_id = check_workflow_id(workflow_id)
    return failed_jobs(await _metadata(request, wf_id, MetadataView(expand=True)))


@router.get("/{workflow_id}/outputs")
async def outputs(request: Request, workflow_id: str) -> dict[str, Any]:
    """The workflow's outputs."""
    wf_id = check_workflow_id(workflow_id)
    view = MetadataView(include=frozenset({"outputs"}))
    return outputs_of(await _metadata(request, wf_id, view))


@router.get("/{workflow_id}/logs")
async def logs(request: Request, workflow_id: str) -> dict[str, Any]:
    """Paths of each call attempt's stdout and stderr."""
    wf_id = check_workflow_id(workflow_id)
    view = MetadataView(include=frozenset({"calls", "stdout", "stderr"}))
    return logs_of(await _metadata(request, wf_id, view))


@router.get("/{workflow_id}/labels")
async def get_labels(request: Request, workflow_id: str) -> dict[str, Any]:
    """The workflow's labels."""
    wf_id = check_workflow_id(workflow_id)
    return {"id": wf_id, "labels": await blocking(engine_of(request).labels, wf_id)}


@router.patch("/{workflow_id}/labels", openapi_extra=openapi_docs.LABELS_BODY)
async def patch_labels(request: Request, workflow_id: str) -> dict[str, Any]:
    """Add or replace labels (a JSON object); answers with all of the workflow's labels."""
    wf_id = check_workflow_id(workflow_id)
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"labels: not valid JSON: {exc}") from None
    labels = validate_labels(body)
    if not labels:
        raise UserError("labels: no labels given")
    updated = await blocking(engine_of(request).update_labels, wf_id, labels)
    request.app.state.metadata_cache.invalidate(wf_id)
    return {"id": wf_id, "labels": updated}


@router.post("/{workflow_id}/abort")
async def abort(request: Request, workflow_id: str) -> dict[str, str]:
    """Abort a workflow (403 when it has already finished)."""
    wf_id = check_workflow_id(workflow_id)
    return {"id": wf_id, "status": await blocking(engine_of(request).abort, wf_id)}


@router.post("/{workflow_id}/releaseHold")
async def release_hold(request: Request, workflow_id: str) -> dict[str, str]:
    """Let a workflow submitted ``On Hold`` start."""
    wf_id = check_workflow_id(workflow_id)
    return {"id": wf_id, "status": await blocking(engine_of(request).release_hold, wf_id)}


@router.get("/{workflow_id}/timing", response_class=HTMLResponse)
async def timing(request: Request, workflow_id: str) -> HTMLResponse:
    """A Gantt chart of every call attempt, coloured by status."""
    wf_id = check_workflow_id(workflow_id)
    md = await _metadata(request, wf_id, MetadataView(expand=True))
    page, nonce = render_timing(md, time.time() * 1000.0)
    csp = f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'"
    return HTMLResponse(page, headers={"Content-Security-Policy": csp})
