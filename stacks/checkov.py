"""checkov exceptions, each recorded in the template metadata next to the resource.

checkov (CloudFormation framework) reads ``Metadata.checkov.skip`` of a resource:
``[{"id": "CKV_AWS_...", "comment": "<why>"}]``. :func:`skip` adds one entry per check
id with its reason, on the construct's CloudFormation resource, so an exception sits in
the code beside what it excuses and says why (as :func:`stacks.nag.acknowledge` does
for cdk-nag).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


def _resource(construct: IConstruct) -> cdk.CfnResource:
    if isinstance(construct, cdk.CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    return child


def skip(construct: IConstruct, reason: str, *check_ids: str) -> None:
    """Record that checks ``check_ids`` do not apply to ``construct``'s resource, and why."""
    resource = _resource(construct)
    found: Any = resource.get_metadata("checkov")
    entries = list(found["skip"]) if isinstance(found, dict) and "skip" in found else []
    known = {entry["id"] for entry in entries}
    entries += [{"id": check, "comment": reason} for check in check_ids if check not in known]
    resource.add_metadata("checkov", {"skip": entries})
