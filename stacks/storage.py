"""Storage stack: the results bucket (engine ``root``), the script bucket and their logs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks import checkov, nag
from stacks.constructs.secure_bucket import SecureBucket, SecureBucketProps
from stacks.settings import Settings


def removal_policy(settings: Settings) -> cdk.RemovalPolicy:
    """The ``RemovalPolicy`` of data resources for ``removalPolicy``."""
    return {
        "retain": cdk.RemovalPolicy.RETAIN,
        "destroy": cdk.RemovalPolicy.DESTROY,
        "snapshot": cdk.RemovalPolicy.SNAPSHOT,
    }[settings.removal_policy]


class StorageStack(cdk.Stack):
    """Three buckets: ``results`` (versioned), ``scripts`` (expiring) and ``logs``.

    Results and scripts are encrypted with ``key`` (a rotating customer managed KMS
    key) when ``bucketEncryption`` is ``kms``, else with S3-managed keys; the log
    bucket always uses S3-managed keys, the only encryption S3 server access logging
    delivers to.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kw: Any):
        super().__init__(scope, construct_id, **kw)
        policy = removal_policy(settings)
        # S3 cannot snapshot: "snapshot" keeps the buckets.
        bucket_policy = cdk.RemovalPolicy.RETAIN if policy == cdk.RemovalPolicy.SNAPSHOT else policy
        self.key: kms.IKey | None = None
        if settings.bucket_encryption == "kms":
            self.key = kms.Key(
                self,
                "BucketKey",
                description=f"{settings.name_prefix}: results and script buckets",
                enable_key_rotation=True,
                removal_policy=bucket_policy,
            )
        self.log_bucket = SecureBucket(
            self,
            "Logs",
            SecureBucketProps(
                bucket_name=settings.bucket_name("logs"),
                expiration_days=365,
                removal_policy=bucket_policy,
            ),
        ).bucket
        nag.acknowledge(
            self.log_bucket,
            "This is the server access log bucket itself; logging it into itself would loop",
            "AwsSolutions-S1",
        )
        checkov.skip(
            self.log_bucket,
            "This is the server access log bucket itself (logging into itself would loop); its "
            "objects are written once by S3 and expire after 365 days, so versions would "
            "keep nothing to recover",
            "CKV_AWS_18",
            "CKV_AWS_21",
        )
        self.results_bucket = SecureBucket(
            self,
            "Results",
            SecureBucketProps(
                bucket_name=settings.bucket_name("results"),
                encryption_key=self.key,
                access_logs=self.log_bucket,
                access_logs_prefix="results/",
                versioned=True,
                removal_policy=bucket_policy,
            ),
        ).bucket
        self.scripts_bucket = SecureBucket(
            self,
            "Scripts",
            SecureBucketProps(
                bucket_name=settings.bucket_name("scripts"),
                encryption_key=self.key,
                access_logs=self.log_bucket,
                access_logs_prefix="scripts/",
                expiration_days=settings.scripts_expiration_days,
                removal_policy=bucket_policy,
            ),
        ).bucket
        checkov.skip(
            self.scripts_bucket,
            "Task scripts are content-addressed (a changed script gets a new key, never an "
            "overwrite) and expire after scriptsExpirationDays; versions would hold copies",
            "CKV_AWS_21",
        )
        self.key_arn: str | None = self.key.key_arn if self.key else None
