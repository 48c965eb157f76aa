"""Explicit S3 and KMS statements for bucket access (no ``Get*``-style wildcards).

Buckets are addressed by name (see ``Settings.bucket_name``), so a role in one stack
can be granted access to a bucket in another without a cross-stack reference.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from stacks import nag

READ_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectTagging")
WRITE_OBJECT_ACTIONS = (
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
READ_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")
WRITE_BUCKET_ACTIONS = ("s3:ListBucketMultipartUploads",)


def bucket_arn(name: str) -> str:
    """ARN of the bucket named ``name``."""
    return f"arn:{Aws.PARTITION}:s3:::{name}"


def bucket_statements(
    sid: str, names: Sequence[str], *, write: bool, key_arn: str | None
) -> list[iam.PolicyStatement]:
    """Read (and with ``write``, write) access to the objects of ``names``."""
    object_actions = [*READ_OBJECT_ACTIONS, *(WRITE_OBJECT_ACTIONS if write else ())]
    bucket_actions = [*READ_BUCKET_ACTIONS, *(WRITE_BUCKET_ACTIONS if write else ())]
    statements = [
        iam.PolicyStatement(
            sid=f"{sid}Objects",
            actions=object_actions,
            resources=[f"{bucket_arn(name)}/*" for name in names],
        ),
        iam.PolicyStatement(
            sid=f"{sid}Buckets",
            actions=bucket_actions,
            resources=[bucket_arn(name) for name in names],
        ),
    ]
    if key_arn is not None:
        statements.append(
            iam.PolicyStatement(
                sid=f"{sid}Key",
                actions=["kms:Decrypt", *(["kms:GenerateDataKey"] if write else [])],
                resources=[key_arn],
            )
        )
    return statements


def object_arn(bucket_name: str, key: str) -> str:
    """ARN of one object (e.g. an asset)."""
    return f"{bucket_arn(bucket_name)}/{key}"


def user_bucket_statements(
    read: Sequence[str], read_write: Sequence[str]
) -> list[iam.PolicyStatement]:
    """Access to users' buckets (``readBuckets``, ``readWriteBuckets``; ``"*"``: any).

    No KMS statement: a bucket encrypted with its owner's key needs that key's policy
    to grant the role, which only the key's owner can do.
    """
    statements: list[iam.PolicyStatement] = []
    if "*" in read:
        statements += [
            iam.PolicyStatement(
                sid="ReadAnyBucketObjects", actions=list(READ_OBJECT_ACTIONS), resources=["*"]
            ),
            iam.PolicyStatement(
                sid="ReadAnyBucket", actions=list(READ_BUCKET_ACTIONS), resources=["*"]
            ),
        ]
        read = ()
    if read:
        statements += bucket_statements("UserRead", read, write=False, key_arn=None)
    if read_write:
        statements += bucket_statements("UserReadWrite", read_write, write=True, key_arn=None)
    return statements


def user_bucket_findings(read: Sequence[str], read_write: Sequence[str]) -> list[str]:
    """The cdk-nag IAM5 finding ids :func:`user_bucket_statements` produces."""
    ids = [nag.resource("*")] if "*" in read else []
    names = [name for name in (*read, *read_write) if name != "*"]
    return ids + [nag.resource(f"arn:{nag.PARTITION}:s3:::{name}/*") for name in names]
