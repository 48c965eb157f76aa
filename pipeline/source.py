"""The pipeline's source action, one per source kind of :mod:`pipeline.settings`."""

from __future__ import annotations

from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from pipeline.settings import CodeCommitSource, ConnectionSource, S3Source, Source

#: Name of the source action in the pipeline's Source stage.
SOURCE_ACTION_NAME = "Checkout"


def pipeline_source(scope: Construct, source: Source) -> pipelines.CodePipelineSource:
    """A ``CodePipelineSource`` for ``source``; a push (or a new S3 object) starts a run."""
    if isinstance(source, ConnectionSource):
        return pipelines.CodePipelineSource.connection(
            source.repository,
            source.branch,
            connection_arn=source.connection_arn,
            action_name=SOURCE_ACTION_NAME,
            trigger_on_push=True,
        )
    if isinstance(source, CodeCommitSource):
        repository = codecommit.Repository.from_repository_name(
            scope, "SourceRepository", source.repository
        )
        return pipelines.CodePipelineSource.code_commit(
            repository,
            source.branch,
            action_name=SOURCE_ACTION_NAME,
            trigger=actions.CodeCommitTrigger.EVENTS,
        )
    if isinstance(source, S3Source):
        bucket = s3.Bucket.from_bucket_name(scope, "SourceBucket", source.bucket)
        return pipelines.CodePipelineSource.s3(
            bucket,
            source.object_key,
            action_name=SOURCE_ACTION_NAME,
            trigger=actions.S3Trigger.EVENTS,
        )
    raise TypeError(f"unknown source {source!r}")
