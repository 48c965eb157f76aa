"""IAM stack: the default Batch job role and the engine role."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from stacks.roles.engine_role import EngineRoleProps, engine_role
from stacks.roles.job_role import JobRoleProps, job_role
from stacks.settings import Settings


class IamStack(cdk.Stack):
    """``job_role`` (trusts ``ecs-tasks`` only) and ``engine_role`` (see ``stacks/roles``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        key_arn: str | None,
        queues: list[batch.IJobQueue],
        database_secret: sm.ISecret,
        **kw: Any,
    ):
        super().__init__(scope, construct_id, **kw)
        results = settings.bucket_name("results")
        scripts = settings.bucket_name("scripts")
        self.job_role = job_role(
            self,
            "JobRole",
            JobRoleProps(
                results_bucket=results,
                scripts_bucket=scripts,
                key_arn=key_arn,
                read_buckets=settings.read_buckets,
                read_write_buckets=settings.read_write_buckets,
            ),
        )
        self.engine_role = engine_role(
            self,
            "EngineRole",
            EngineRoleProps(
                name_prefix=settings.name_prefix,
                queues=queues,
                job_role=self.job_role,
                allowed_job_role_arns=settings.allowed_job_role_arns,
                results_bucket=results,
                scripts_bucket=scripts,
                database_secret=database_secret,
                jobs_log_group=settings.log_group_names["jobs"],
                key_arn=key_arn,
                read_buckets=settings.read_buckets,
                read_write_buckets=settings.read_write_buckets,
                secrets_key_arn=settings.kms_key_arn,
            ),
        )
