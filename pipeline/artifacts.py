"""The pipeline's artifact store: a KMS-encrypted bucket with access logs."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import checkov

#: Feature flag: grant S3 log delivery through a bucket policy instead of an ACL, which
#: buckets with ``BUCKET_OWNER_ENFORCED`` object ownership refuse.
ACCESS_LOGS_BY_POLICY_FLAG = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


@dataclass(frozen=True)
class ArtifactStoreProps:
    """Props of :class:`ArtifactStore`.

    Attributes:
        expiration_days: delete pipeline artifacts after this many days (default 30;
            a run needs them only while it lasts).
        log_expiration_days: delete access logs after this many days (default 365).
        removal_policy: what stack deletion does to the key and the artifact bucket
            (default ``RETAIN``; the access logs are always retained).
    """

    expiration_days: int = 30
    log_expiration_days: int = 365
    removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN


def _bucket(scope: Construct, construct_id: str, days: int, **kwargs: object) -> s3.Bucket:
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire",
                expiration=cdk.Duration.days(days),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
        ],
        **kwargs,  # type: ignore[arg-type]
    )


class ArtifactStore(Construct):
    """``key`` (rotating KMS key), ``bucket`` (artifacts) and ``log_bucket`` (its access logs).

    Sets :data:`ACCESS_LOGS_BY_POLICY_FLAG` on itself, so create it before anything else in
    its scope is added (CDK refuses context on a construct that has children).
    """

    def __init__(self, scope: Construct, construct_id: str, props: ArtifactStoreProps) -> None:
        super().__init__(scope, construct_id)
        self.node.set_context(ACCESS_LOGS_BY_POLICY_FLAG, True)
        self.key = kms.Key(
            self,
            "Key",
            description="Ironside pipeline artifacts",
            enable_key_rotation=True,
            removal_policy=props.removal_policy,
        )
        self.log_bucket = _bucket(
            self,
            "Logs",
            props.log_expiration_days,
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only kind access logging writes to
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.bucket = _bucket(
            self,
            "Artifacts",
            props.expiration_days,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="artifacts/",
            removal_policy=props.removal_policy,
        )
        checkov.skip(
            self.log_bucket,
            "The access log bucket itself (logging into itself would loop); S3 writes each log "
            "object once and it expires, so versions would keep nothing to recover",
            "CKV_AWS_18",
            "CKV_AWS_21",
        )
        checkov.skip(
            self.bucket,
            "Artifacts belong to one pipeline run, are rebuilt from source by the next and "
            "expire after expiration_days; versions would only keep stale copies",
            "CKV_AWS_21",
        )
