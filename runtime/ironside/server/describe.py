"""``POST /api/womtool/v1/describe``: womtool's WorkflowDescription, computed with miniwdl."""

from __future__ import annotations

import logging
from typing import Any

import WDL

from ironside.errors import UserError
from ironside.server import wdl_check
from ironside.wdl.values import meta_json

log = logging.getLogger("ironside.server")


def value_type(ty: WDL.Type.Base) -> dict[str, Any]:
    """Cromwell's ``valueType`` JSON of a WDL type."""
    if ty.optional:
        return {"typeName": "Optional", "optionalType": value_type(ty.copy(optional=False))}
    if isinstance(ty, WDL.Type.Array):
        return {"typeName": "Array", "arrayType": value_type(ty.item_type)}
    if isinstance(ty, WDL.Type.Map):
        key, val = ty.item_type
        return {
            "typeName": "Map",
            "mapType": {"keyType": value_type(key), "valueType": value_type(val)},
        }
    if isinstance(ty, WDL.Type.Pair):
        return {
            "typeName": "Pair",
            "pairType": {
                "leftType": value_type(ty.left_type),
                "rightType": value_type(ty.right_type),
            },
        }
    if isinstance(ty, WDL.Type.StructInstance):
        members = ty.members or {}
        return {
            "typeName": "Object",
            "objectFieldTypes": [
                {"fieldName": k, "fieldType": value_type(v)} for k, v in members.items()
            ],
        }
    return {"typeName": str(ty).rstrip("?")}


def _input(name: str, decl: WDL.Tree.Decl) -> dict[str, Any]:
    optional = decl.type.optional or decl.expr is not None
    return {
        "name": name,
        "valueType": value_type(decl.type),
        "typeDisplayName": str(decl.type),
        "optional": optional,
        "default": str(decl.expr) if decl.expr is not None else None,
    }


def _output(name: str, ty: WDL.Type.Base) -> dict[str, Any]:
    return {"name": name, "valueType": value_type(ty), "typeDisplayName": str(ty)}


def _empty(errors: list[str], version: str | None = None) -> dict[str, Any]:
    return {
        "valid": False,
        "errors": errors,
        "validWorkflow": False,
        "name": "",
        "inputs": [],
        "outputs": [],
        "images": [],
        "submittedDescriptorType": {
            "descriptorType": "WDL",
            "descriptorTypeVersion": version or "",
        },
        "importedDescriptorTypes": [],
        "meta": {},
        "parameterMeta": {},
        "isRunnableWorkflow": False,
    }


def _images(doc: WDL.Tree.Document) -> list[str]:
    found: list[str] = []
    for task in doc.tasks:
        expr = task.runtime.get("docker") or task.runtime.get("container")
        if isinstance(expr, WDL.Expr.String) and expr.literal is not None:
            found.append(str(expr.literal.value))
    return sorted(set(found))


def describe(
    source: str,
    inputs: dict[str, Any] | None,
    dependencies: bytes | None = None,
    limits: wdl_check.Limits | None = None,
    quote: bool = True,
    version: str = "",
) -> dict[str, Any]:
    """WorkflowDescription of ``source`` (and of ``inputs`` against it, when given).

    Never raises: what cannot be described is an invalid description saying why.
    """
    if not _has_content(source):
        return _empty([f"{wdl_check.MAIN_NAME}:1:1: the workflow source is empty"])
    try:
        return _describe(source, inputs, dependencies, limits, version, quote)
    except UserError as exc:
        return _empty([str(exc)])
    except Exception as exc:  # a document miniwdl cannot describe must not be a 500
        log.exception("describe failed")
        return _empty([f"{wdl_check.MAIN_NAME}: cannot describe the workflow: {exc}"])


def _has_content(source: str) -> bool:
    """Whether anything but blank lines and comments is in ``source``."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in source.splitlines())


def _describe(
    source: str,
    inputs: dict[str, Any] | None,
    dependencies: bytes | None,
    limits: wdl_check.Limits | None,
    version: str,
    quote: bool,
) -> dict[str, Any]:
    doc = wdl_check.load(source, dependencies, None, limits, quote)
    found = wdl_check.document_version(doc)
    if version and version != found:
        return _empty([f"workflowTypeVersion: {version!r} but the document is WDL {found}"], found)
    target = wdl_check.executable(doc)
    result = _empty([], found)
    if target is None:  # a library of tasks: valid, but nothing to run
        if not doc.tasks:
            return _empty([f"{wdl_check.MAIN_NAME}:1:1: no workflow and no task"], found)
        result.update(valid=True, validWorkflow=True, images=_images(doc))
        return result
    input_errors: list[str] = []
    if inputs is not None:
        try:
            wdl_check.check_inputs(target, inputs)
        except UserError as exc:
            input_errors.append(str(exc))
    shown = [b for b in target.available_inputs if not _internal(b.name)]
    result.update(
        valid=not input_errors,
        errors=input_errors,
        validWorkflow=True,
        name=target.name,
        inputs=[_input(b.name, b.value) for b in shown],
        outputs=[_output(b.name, b.value) for b in (target.effective_outputs or [])],
        images=_images(doc),
        meta=meta_json(dict(target.meta or {})),
        parameterMeta=meta_json(dict(target.parameter_meta or {})),
        isRunnableWorkflow=doc.workflow is not None or len(doc.tasks) == 1,
    )
    return result


def _internal(name: str) -> bool:
    """An input the engine adds itself (miniwdl's ``_requirements`` of WDL 1.2 tasks)."""
    return any(part.startswith("_") for part in name.split("."))
