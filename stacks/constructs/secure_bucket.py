"""An S3 bucket with every guard rail on: public access blocked, TLS only, encrypted."""

from __future__ import annotations

from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


@dataclass(frozen=True)
class SecureBucketProps:
    """Props of :class:`SecureBucket`.

    Attributes:
        bucket_name: fixed bucket name (default: generated).
        encryption_key: customer managed KMS key; ``None`` (default) means S3-managed keys.
        access_logs: bucket receiving server access logs; ``None`` (default): no access
            logging (only for the log bucket itself).
        access_logs_prefix: key prefix of this bucket's access logs (default ``""``).
        versioned: keep object versions (default ``False``).
        expiration_days: delete current objects after this many days (default: never).
        noncurrent_expiration_days: delete old versions after this many days (default 30;
            only matters when versioned).
        removal_policy: what stack deletion does (default ``RETAIN``).
    """

    bucket_name: str | None = None
    encryption_key: kms.IKey | None = None
    access_logs: s3.IBucket | None = None
    access_logs_prefix: str = ""
    versioned: bool = False
    expiration_days: int | None = None
    noncurrent_expiration_days: int = 30
    removal_policy: cdk.RemovalPolicy = field(default=cdk.RemovalPolicy.RETAIN)


class SecureBucket(Construct):
    """Wraps ``s3.Bucket`` with the kit's defaults; the bucket is ``.bucket``."""

    def __init__(self, scope: Construct, construct_id: str, props: SecureBucketProps) -> None:
        super().__init__(scope, construct_id)
        rules = [
            s3.LifecycleRule(
                id="abort-incomplete-uploads",
                abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
            )
        ]
        if props.expiration_days is not None:
            rules.append(
                s3.LifecycleRule(id="expire", expiration=cdk.Duration.days(props.expiration_days))
            )
        if props.versioned:
            rules.append(
                s3.LifecycleRule(
                    id="expire-noncurrent",
                    noncurrent_version_expiration=cdk.Duration.days(
                        props.noncurrent_expiration_days
                    ),
                )
            )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=props.bucket_name,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=(
                s3.BucketEncryption.KMS if props.encryption_key else s3.BucketEncryption.S3_MANAGED
            ),
            encryption_key=props.encryption_key,
            bucket_key_enabled=props.encryption_key is not None,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=props.versioned,
            lifecycle_rules=rules,
            removal_policy=props.removal_policy,
            auto_delete_objects=False,
        )
        if props.access_logs is not None:
            self._log_to(props.access_logs, props.access_logs_prefix)

    def _log_to(self, target: s3.IBucket, prefix: str) -> None:
        """Server access logs through a bucket policy on ``target`` (never ACLs), whatever
        the app's feature flags say."""
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=target.bucket_name, log_file_prefix=prefix or None
        )
        target.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"AccessLogsFrom{cdk.Names.unique_id(self)}"[:100],
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[target.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": self.bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account},
                },
            )
        )
