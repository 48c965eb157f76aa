"""cdk-nag acknowledgements of the pipeline stack, each specific and with its reason.

cdk-nag 3 matches an acknowledgement on the exact finding (``AwsSolutions-IAM5[...]``), so
the findings on resources named by tokens are rebuilt here the way cdk-nag renders them:
``<LogicalId>`` for a resource, ``<AWS::Region>`` for a pseudo parameter.
"""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from pipeline.rollout import RolloutStep
from stacks import checkov

#: Action groups CDK's ``grantReadWrite`` (bucket) and ``grantEncryptDecrypt`` (key) put on
#: every pipeline role for the artifact bucket and its key.
ARTIFACT_ACTION_GROUPS = (
    "s3:GetObject*",
    "s3:GetBucket*",
    "s3:List*",
    "s3:DeleteObject*",
    "s3:Abort*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
)
ARTIFACT_REASON = (
    "CDK Pipelines grants each pipeline role these action groups on this pipeline's own "
    "artifact bucket and its KMS key only; the objects are per-run artifacts."
)
PROJECT_REASON = (
    "CodeBuild writes the log streams of its own log group /aws/codebuild/<project> and the "
    "report groups named after its own project; nothing else."
)
BOOTSTRAP_ROLES_REASON = (
    "Self-mutation and asset publishing assume the CDK bootstrap roles (deploy, "
    "file-publishing, image-publishing, lookup); the statement is conditioned on the "
    "iam:ResourceTag/aws-cdk:bootstrap-role tag those roles carry."
)
SELF_MUTATION_REASON = (
    "Self-mutation runs cdk deploy of the pipeline stack: cloudformation:DescribeStacks and "
    "s3:ListBucket, which it needs before it knows the bootstrap bucket, take no narrower resource."
)

_PSEUDO = {
    cdk.Aws.PARTITION: "<AWS::Partition>",
    cdk.Aws.REGION: "<AWS::Region>",
    cdk.Aws.ACCOUNT_ID: "<AWS::AccountId>",
}


def _nag_text(text: str) -> str:
    for token, rendered in _PSEUDO.items():
        text = text.replace(token, rendered)
    return text


def regional_arn(stack: cdk.Stack, service: str, resource: str) -> str:
    """An ARN in ``stack``'s partition, region and account, as cdk-nag renders it."""
    return _nag_text(f"arn:{stack.partition}:{service}:{stack.region}:{stack.account}:{resource}")


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge the AwsSolutions finding ``finding`` (e.g. ``IAM5[Resource::*]``)."""
    rule = cdk.Acknowledgment(id=f"AwsSolutions-{finding}", reason=reason)
    cdk.Validations.of(scope).acknowledge(rule)


def acknowledge_artifact_grants(stack: cdk.Stack, bucket: s3.IBucket) -> None:
    """The artifact bucket and key grants every pipeline role carries."""
    for action in ARTIFACT_ACTION_GROUPS:
        acknowledge(stack, f"IAM5[Action::{action}]", ARTIFACT_REASON)
    bucket_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    acknowledge(stack, f"IAM5[Resource::<{bucket_id}.Arn>/*]", ARTIFACT_REASON)


def acknowledge_projects(stack: cdk.Stack) -> None:
    """Each CodeBuild project's grants on its own log group and report groups."""
    for project in (c for c in stack.node.find_all() if isinstance(c, codebuild.Project)):
        logical = stack.get_logical_id(project.node.default_child)  # type: ignore[arg-type]
        logs = regional_arn(stack, "logs", f"log-group:/aws/codebuild/<{logical}>:*")
        reports = regional_arn(stack, "codebuild", f"report-group/<{logical}>-*")
        acknowledge(project, f"IAM5[Resource::{logs}]", PROJECT_REASON)
        acknowledge(project, f"IAM5[Resource::{reports}]", PROJECT_REASON)


ASSETS_REASON = (
    "CDK Pipelines shares one role among the asset publishing projects it creates per asset: "
    "their log groups and report groups are /aws/codebuild/* and report-group/*, and the "
    "CodeBuild batch calls it makes take no narrower resource; it assumes only the CDK "
    "file-publishing bootstrap role."
)


def acknowledge_asset_publishing(assets: IConstruct) -> None:
    """The shared role of CDK Pipelines' asset publishing projects."""
    stack = cdk.Stack.of(assets)
    for resource in (
        regional_arn(stack, "logs", "log-group:/aws/codebuild/*"),
        regional_arn(stack, "codebuild", "report-group/*"),
        "*",
    ):
        acknowledge(assets, f"IAM5[Resource::{resource}]", ASSETS_REASON)
    role = assets.node.try_find_child("FileRole")
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    if policy is not None:
        checkov.skip(policy, ASSETS_REASON, "CKV_AWS_111")


def acknowledge_bootstrap_roles(scopes: Iterable[IConstruct]) -> None:
    """Roles that assume the CDK bootstrap roles (self-mutation)."""
    for scope in scopes:
        account = cdk.Stack.of(scope).account
        finding = _nag_text(f"IAM5[Resource::arn:*:iam::{account}:role/*]")
        acknowledge(scope, finding, BOOTSTRAP_ROLES_REASON)


REPLICATION_REASON = (
    "CodePipeline's cross-region replication bucket holds copies of this pipeline's "
    "artifacts for the stage's region, encrypted with the support stack's KMS key and "
    "deleted with it; access to it is granted to the pipeline role only."
)


def acknowledge_cross_region(pipeline: codepipeline.Pipeline) -> None:
    """The replication buckets CodePipeline adds for stages in other regions."""
    for support in pipeline.cross_region_support.values():
        bucket = support.replication_bucket
        acknowledge(support.stack, "S1", REPLICATION_REASON)
        stack = cdk.Stack.of(pipeline)
        # A generated physical name: a literal once resolved from the pipeline's stack.
        name = stack.resolve(bucket.bucket_name)
        finding = f"IAM5[Resource::arn:{stack.partition}:s3:::{name}/*]"
        acknowledge(pipeline.role, _nag_text(finding), REPLICATION_REASON)


def acknowledge_rollout(rollout: RolloutStep) -> None:
    """The wildcards of a rollout step's own grants, with the reason each grant carries."""
    for grant in rollout.grants:
        for resource in grant.statement.resources:
            if "*" in resource:
                finding = f"IAM5[Resource::{_nag_text(resource)}]"
                acknowledge(rollout.step.project, finding, grant.reason)
