"""Composes the kit's stacks from the settings in CDK context."""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct


class StorageStack(cdk.Stack):
    """The results bucket (the engine's execution root)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.results_bucket = s3.Bucket(
            self,
            "Results",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
        )


def build_app(app: cdk.App) -> None:
    prefix = app.node.try_get_context("ironside:namePrefix") or "ironside"
    StorageStack(app, f"{prefix}-storage")
