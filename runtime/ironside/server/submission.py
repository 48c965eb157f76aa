"""``POST /api/workflows/v1`` (and ``/batch``): multipart fields -> validated ``Submission``.

Everything a user can get wrong is rejected here, as a ``UserError`` (400) with
a message naming the field and, for WDL, the ``file:line:col`` of the error:
nothing reaches the store unless it parses, typechecks and its inputs fit.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from ironside.errors import BadOptions, BadWorkflow, UserError
from ironside.labels import parse_labels
from ironside.limits import Limits
from ironside.redact import redact
from ironside.server import wdl_check
from ironside.server.settings import ServerSettings
from ironside.server.urlfetch import fetch_workflow_url
from ironside.server.zipsafe import check_zip
from ironside.wdl import versions

INPUT_PARTS = ("workflowInputs",) + tuple(f"workflowInputs_{i}" for i in range(2, 6))
#: ``workflowInputs_N`` for any N (Cromwell takes as many as are sent)
_MORE_INPUTS = re.compile(r"^workflowInputs_([1-9][0-9]{0,3})$")
#: the names of Cromwell's first API, still accepted by Cromwell
ALIASES = {"wdlSource": "workflowSource", "wdlDependencies": "workflowDependencies"}
KNOWN_PARTS = frozenset(
    {
        "workflowSource",
        "workflowUrl",
        *INPUT_PARTS,
        *ALIASES,
        "workflowOptions",
        "labels",
        "workflowDependencies",
        "workflowOnHold",
        "requestedWorkflowId",
        "workflowType",
        "workflowTypeVersion",
    }
)


@dataclass(frozen=True)
class Submission:
    """One validated workflow submission, ready to be stored and scheduled."""

    source: str
    workflow_name: str
    inputs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    dependencies: bytes | None = None
    on_hold: bool = False
    requested_id: str | None = None
    workflow_url: str = ""
    workflow_type: str = "WDL"
    workflow_type_version: str = ""


Fields = dict[str, bytes]


async def read_fields(request: Request, settings: ServerSettings) -> Fields:
    """The multipart (or urlencoded) fields of ``request`` as bytes; unknown names are refused."""
    try:
        form = await request.form(
            max_files=32, max_fields=64, max_part_size=settings.max_request_bytes
        )
    except UserError:
        raise
    except Exception as exc:  # malformed multipart bodies raise several types
        raise UserError(f"cannot read the form: {exc}") from None
    fields: Fields = {}
    for name, value in form.multi_items():
        if name not in KNOWN_PARTS and not _MORE_INPUTS.match(name):
            raise UserError(f"Unexpected body part name: {name}")
        name = ALIASES.get(name, name)
        if isinstance(value, UploadFile):
            fields[name] = await value.read()
        else:
            fields[name] = value.encode("utf-8")
    await form.close()
    return fields


def _text(fields: Fields, name: str) -> str | None:
    data = fields.get(name)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name}: not UTF-8 text") from None


def _json_object(fields: Fields, name: str, error: type[UserError] = UserError) -> dict[str, Any]:
    text = _text(fields, name)
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{name}: not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{name}: must be a JSON object, got {type(value).__name__}")
    return value


def merged_inputs(fields: Fields) -> dict[str, Any]:
    """``workflowInputs`` then ``_2``, ``_3`` ..., later keys overriding earlier ones."""
    merged: dict[str, Any] = _json_object(fields, "workflowInputs")
    numbered = [(int(m.group(1)), n) for n in fields if (m := _MORE_INPUTS.match(n))]
    for _, name in sorted(numbered):
        merged.update(_json_object(fields, name))
    return merged


def batch_inputs(fields: Fields) -> list[dict[str, Any]]:
    """The JSON array of input objects of a batch submission."""
    text = _text(fields, "workflowInputs")
    if text is None:
        raise UserError("workflowInputs: a batch submission needs a JSON array of inputs")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"workflowInputs: not valid JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value) or not value:
        raise UserError("workflowInputs: a batch submission needs a JSON array of objects")
    return value


def on_hold(fields: Fields) -> bool:
    """``workflowOnHold``: ``true`` or ``false`` (case-insensitive)."""
    text = (_text(fields, "workflowOnHold") or "false").strip().lower()
    if text not in ("true", "false"):
        raise UserError(f"workflowOnHold: must be true or false, got {text!r}")
    return text == "true"


def requested_ids(fields: Fields, count: int) -> list[str | None]:
    """``requestedWorkflowId`` (a UUID; for a batch, a JSON array or comma-separated list)."""
    text = (_text(fields, "requestedWorkflowId") or "").strip()
    if not text:
        return [None] * count
    if text.startswith("["):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"requestedWorkflowId: not valid JSON: {exc}") from None
    else:
        raw = [p.strip() for p in text.split(",")]
    if not isinstance(raw, list) or len(raw) != count:
        raise UserError(f"requestedWorkflowId: expected {count} id(s)")
    ids: list[str | None] = []
    for item in raw:
        try:
            ids.append(str(uuid.UUID(str(item))))
        except ValueError:
            raise UserError(f"requestedWorkflowId: {item!r} is not a UUID") from None
    if len(set(ids)) != len(ids):
        raise UserError("requestedWorkflowId: the same id is requested twice")
    return ids


def workflow_type(fields: Fields) -> tuple[str, str]:
    """``workflowType`` (only WDL) and ``workflowTypeVersion`` (a WDL version or empty)."""
    kind = (_text(fields, "workflowType") or "WDL").strip()
    if kind.upper() != "WDL":
        raise UserError(f"workflowType: {kind!r} is not supported (only WDL)")
    version = (_text(fields, "workflowTypeVersion") or "").strip()
    if version and version not in versions.ORDER:
        allowed = ", ".join(versions.ORDER)
        raise UserError(f"workflowTypeVersion: {version!r} is not one of {allowed}")
    return "WDL", version


async def workflow_source(fields: Fields, settings: ServerSettings) -> tuple[str, str, str | None]:
    """(source, workflowUrl, base directory for imports) from exactly one of the two fields."""
    source = _text(fields, "workflowSource")
    url = (_text(fields, "workflowUrl") or "").strip()
    if source is not None and url:
        raise UserError("give workflowSource or workflowUrl, not both")
    if source is not None:
        return source, "", None
    if not url:
        raise UserError("workflowSource or workflowUrl needs to be supplied")
    fetched = await fetch_workflow_url(url, settings)
    return fetched.text, redact(url), fetched.base_dir  # stored and shown: no credentials


def _validate_wdl(
    source: str,
    dependencies: bytes | None,
    base_dir: str | None,
    version: str,
    inputs_list: list[dict[str, Any]],
    limits: wdl_check.Limits,
    quote: bool,
) -> str:
    doc = wdl_check.load(source, dependencies, base_dir, limits, quote)
    target = wdl_check.executable(doc)
    if target is None:
        raise BadWorkflow(f"{wdl_check.MAIN_NAME}:1:1: no workflow (and not exactly one task)")
    found = wdl_check.document_version(doc)
    if version and version != found:
        raise UserError(f"workflowTypeVersion: {version!r} but the document is WDL {found}")
    for inputs in inputs_list:
        wdl_check.check_inputs(target, inputs)
    return str(target.name)


def check_sizes(fields: Fields, limits: Limits) -> None:
    """The source and inputs parts within ``ironside.limits``, before anything is parsed."""
    limits.check("max_wdl_bytes", len(fields.get("workflowSource", b"")), "workflowSource: bytes")
    inputs = sum(len(fields.get(name, b"")) for name in INPUT_PARTS)
    limits.check("max_inputs_bytes", inputs, "workflowInputs: bytes")


async def parse_submissions(
    fields: Fields,
    settings: ServerSettings,
    batch: bool = False,
    s3_read: Callable[[str, int], bytes] | None = None,
) -> list[Submission]:
    """Validated submissions from the form fields (one, or one per batch input object)."""
    kind, version = workflow_type(fields)
    check_sizes(fields, settings.limits)
    inputs_list = batch_inputs(fields) if batch else [merged_inputs(fields)]
    options = _json_object(fields, "workflowOptions", BadOptions)
    labels = parse_labels(_text(fields, "labels"))
    settings.limits.check("max_labels", len(labels), "labels: count")
    hold = on_hold(fields)
    ids = requested_ids(fields, len(inputs_list))
    dependencies = fields.get("workflowDependencies") or None
    if dependencies:
        check_zip(dependencies, settings.zip_max_bytes, settings.zip_max_files)
    source, url, base_dir = await workflow_source(fields, settings)
    limits = wdl_check.Limits(
        settings.zip_max_bytes, settings.zip_max_files, settings.import_policy(s3_read)
    )
    name = await run_in_threadpool(
        _validate_wdl, source, dependencies, base_dir, version, inputs_list, limits, not url
    )
    return [
        Submission(
            source=source,
            workflow_name=name,
            inputs=inputs,
            options=options,
            labels=labels,
            dependencies=dependencies,
            on_hold=hold,
            requested_id=wf_id,
            workflow_url=url,
            workflow_type=kind,
            workflow_type_version=version,
        )
        for inputs, wf_id in zip(inputs_list, ids, strict=True)
    ]
