"""Cross-stack references as outputs and parameters instead of exports and imports.

:func:`link_stacks` rewrites synthesized templates in place: every
``{"Fn::ImportValue": "<stack>:<output>"}`` becomes ``{"Ref": <parameter>}`` with a
parameter added to the consuming stack, and every export is dropped. The returned
:class:`Link` list tells the operator which output fills which parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Template = dict[str, Any]

#: Constraint of a linked parameter by the producing resource type (and attribute).
_PATTERNS: Mapping[tuple[str, str | None], tuple[str, str]] = {
    ("AWS::EC2::VPC", None): (r"^vpc-[0-9a-f]+$", "VPC id"),
    ("AWS::EC2::Subnet", None): (r"^subnet-[0-9a-f]+$", "subnet id"),
    ("AWS::EC2::SecurityGroup", "GroupId"): (r"^sg-[0-9a-f]+$", "security group id"),
    ("AWS::SecretsManager::Secret", None): (
        r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$",
        "Secrets Manager secret ARN",
    ),
    ("AWS::SecretsManager::SecretTargetAttachment", None): (
        r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$",
        "Secrets Manager secret ARN",
    ),
    ("AWS::Batch::JobQueue", "JobQueueArn"): (
        r"^arn:aws[a-z-]*:batch:[a-z0-9-]+:\d{12}:job-queue/.+$",
        "Batch job queue ARN",
    ),
    ("AWS::IAM::Role", "Arn"): (r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$", "IAM role ARN"),
    ("AWS::IAM::Role", None): (r"^[\w+=,.@-]{1,64}$", "IAM role name"),
    ("AWS::KMS::Key", "Arn"): (r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$", "KMS key ARN"),
}
_ANY_ARN = (r"^arn:aws[a-z-]*:[a-z0-9-]+:.*$", "ARN")
_NO_SPACES = (r"^\S+$", "value")


@dataclass(frozen=True)
class Link:
    """Parameter ``parameter`` of stack ``consumer`` takes output ``output`` of ``producer``."""

    consumer: str
    parameter: str
    producer: str
    output: str


def _producer_of(value: Any) -> tuple[str, str | None] | None:
    """(logical id, attribute) an output value refers to, if it is a plain Ref or GetAtt."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"]), None
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return str(logical_id), str(attribute)
    return None


def _constraint(producer: Template, output: str) -> tuple[str, str]:
    """(AllowedPattern, what) for the value of ``output`` of ``producer``."""
    reference = _producer_of(producer["Outputs"][output]["Value"])
    if reference is None:
        return _NO_SPACES
    logical_id, attribute = reference
    kind = producer["Resources"].get(logical_id, {}).get("Type", "")
    if (kind, attribute) in _PATTERNS:
        return _PATTERNS[(kind, attribute)]
    return _ANY_ARN if attribute and attribute.endswith("Arn") else _NO_SPACES


def _parameter_name(producer_role: str, output: str) -> str:
    """``<Role><Output>`` without CDK's ``ExportsOutput(Ref|FnGetAtt)`` and hash noise."""
    short = re.sub(r"^ExportsOutput(Ref|FnGetAtt)?", "", output)
    short = re.sub(r"[0-9A-F]{8}", "", short) or short
    return f"{producer_role[:1].upper()}{producer_role[1:]}{short}"[:255]


def link_stacks(templates: Mapping[str, Template], roles: Mapping[str, str]) -> list[Link]:
    """Replace imports by parameters in ``templates`` (by stack name); drop every export.

    ``roles`` maps a stack name to its short role (``network`` ...), used in parameter names.
    """
    exports = {
        output["Export"]["Name"]: (stack, output_id)
        for stack, template in templates.items()
        for output_id, output in template.get("Outputs", {}).items()
        if isinstance(output.get("Export", {}).get("Name"), str)
    }
    links: dict[tuple[str, str], Link] = {}

    def rewrite(consumer: str, node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(consumer, item) for item in node]
        if not isinstance(node, dict):
            return node
        name = node.get("Fn::ImportValue")
        if len(node) == 1 and isinstance(name, str) and name in exports:
            producer, output = exports[name]
            parameter = _parameter_name(roles[producer], output)
            taken = links.get((consumer, parameter))
            if taken is not None and (taken.producer, taken.output) != (producer, output):
                parameter = f"{roles[producer].title()}{output}"[:255]
            links[(consumer, parameter)] = Link(consumer, parameter, producer, output)
            return {"Ref": parameter}
        return {key: rewrite(consumer, value) for key, value in node.items()}

    for stack, template in templates.items():
        for section in ("Resources", "Outputs", "Conditions", "Rules"):
            if section in template:
                template[section] = rewrite(stack, template[section])
    renamed = [_rename_output(templates[link.producer], link) for link in links.values()]
    for link in renamed:
        pattern, what = _constraint(templates[link.producer], link.output)
        templates[link.consumer].setdefault("Parameters", {})[link.parameter] = {
            "Type": "String",
            "AllowedPattern": pattern,
            "Description": f"{what}: the output {link.output} of stack {link.producer}",
        }
    for template in templates.values():
        for output in template.get("Outputs", {}).values():
            output.pop("Export", None)
    return sorted(renamed, key=lambda link: (link.consumer, link.parameter))


def _rename_output(producer: Template, link: Link) -> Link:
    """Give the producer's output the parameter's name (unless taken), so they read alike."""
    outputs = producer["Outputs"]
    if link.output in outputs and link.parameter not in outputs:
        outputs[link.parameter] = outputs.pop(link.output)
    if link.parameter in outputs and link.output not in outputs:
        return Link(link.consumer, link.parameter, link.producer, link.parameter)
    return link
