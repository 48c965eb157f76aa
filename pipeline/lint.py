"""Make the CodePipeline resource that CDK Pipelines renders clean for cfn-lint.

Two things it renders trip cfn-lint, and both have an equivalent, clean spelling:

* E3703: an action's ``Configuration.RoleArn`` (the CloudFormation execution role of the
  ``Prepare`` actions of an environment-agnostic stage) is an ``Fn::Join`` with an empty
  delimiter; :func:`sub_role_arns` rewrites it as the equivalent ``Fn::Sub``.
* W3005: the pipeline ``DependsOn`` its role, which its ``RoleArn`` already references;
  :func:`drop_role_dependency` removes that one entry (the dependency on the role's policy
  stays: the policy must exist before the pipeline starts).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline


def join_to_sub(value: Any) -> Any:
    """``{"Fn::Join": ["", parts]}`` of strings, Refs and GetAtts -> ``{"Fn::Sub": ...}``."""
    if not (isinstance(value, dict) and list(value) == ["Fn::Join"]):
        return value
    delimiter, parts = value["Fn::Join"]
    text = []
    for part in parts:
        if isinstance(part, str) and "${" not in part:
            text.append(part)
        elif isinstance(part, dict) and list(part) == ["Ref"]:
            text.append("${" + part["Ref"] + "}")
        elif isinstance(part, dict) and list(part) == ["Fn::GetAtt"]:
            text.append("${" + ".".join(part["Fn::GetAtt"]) + "}")
        else:
            return value
    return {"Fn::Sub": delimiter.join(text)}


def sub_role_arns(pipeline: codepipeline.Pipeline) -> list[str]:
    """Override every ``Fn::Join`` action ``Configuration.RoleArn``; returns the paths."""
    cfn = pipeline.node.default_child
    assert isinstance(cfn, codepipeline.CfnPipeline)
    # Resolved before rendering, so the property names are still camelCase here.
    stages = cdk.Stack.of(pipeline).resolve(cfn.stages)
    changed = []
    for i, stage in enumerate(stages):
        for j, action in enumerate(stage.get("actions", [])):
            role = (action.get("configuration") or {}).get("RoleArn")
            sub = join_to_sub(role)
            if sub is not role:
                path = f"Stages.{i}.Actions.{j}.Configuration.RoleArn"
                cfn.add_property_override(path, sub)
                changed.append(path)
    return changed


def drop_role_dependency(pipeline: codepipeline.Pipeline) -> None:
    """``DependsOn`` only the role's default policy, not the role ``RoleArn`` names."""
    cfn = pipeline.node.default_child
    policy = pipeline.role.node.try_find_child("DefaultPolicy")
    assert isinstance(cfn, cdk.CfnResource) and policy is not None
    stack = cdk.Stack.of(pipeline)
    cfn.add_override("DependsOn", [stack.get_logical_id(policy.node.default_child)])  # type: ignore[arg-type]


def lint_clean(pipeline: codepipeline.Pipeline) -> None:
    """Apply both rewrites to the built pipeline."""
    sub_role_arns(pipeline)
    drop_role_dependency(pipeline)
