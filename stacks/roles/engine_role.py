"""The engine host's role: drive Batch, read and write the buckets, read its secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from stacks import nag
from stacks.roles.access import bucket_statements, user_bucket_findings, user_bucket_statements

#: Managed policy for SSM Session Manager (the only way onto the host).
SSM_CORE = "AmazonSSMManagedInstanceCore"
#: The prefix of the job definitions the engine registers
#: (``ironside.backends.aws_batch.job_definitions.DefinitionSpec.name``).
ENGINE_JOB_DEFINITION_PREFIX = "ironside"
#: Tag keys the engine sets on jobs and job definitions
#: (``ironside.backends.aws_batch.backend.job_tags``: ``ironside:*`` and the workflow's
#: labels as ``label:*``; ``job_definitions``: ``ironside-definition``).
ENGINE_TAG_KEY_PATTERNS = ("ironside:*", "ironside-*", "label:*")
#: The tag every job the engine submits carries.
ENGINE_JOB_TAG = "ironside:workflow-id"


def tag_conditions() -> dict[str, dict[str, object]]:
    """Conditions of the engine's batch:TagResource grant: only its own tag keys, and some."""
    return {
        "ForAllValues:StringLike": {"aws:TagKeys": list(ENGINE_TAG_KEY_PATTERNS)},
        "Null": {"aws:TagKeys": "false"},
    }


@dataclass(frozen=True)
class EngineRoleProps:
    """Props of :func:`engine_role`.

    Attributes:
        name_prefix: job definitions the engine may register are named ``<prefix>-*``.
        queues: job queues the engine submits to.
        job_role: the default job role (passed to job definitions).
        results_bucket, scripts_bucket: bucket names, both read/write.
        database_secret: the Aurora credentials.
        jobs_log_group: name of the task log group the engine reads back.
        allowed_job_role_arns: other job roles users may ask for (default none).
        key_arn: KMS key of the buckets; ``None`` (default) for S3-managed encryption.
        read_buckets, read_write_buckets: users' buckets (WDL functions read inputs,
            call caching HEADs them; default none).
        secrets_key_arn: the operator's KMS key of the kit's secrets (``kmsKeyArn``;
            default ``None``: AWS managed).
    """

    name_prefix: str
    queues: Sequence[batch.IJobQueue]
    job_role: iam.IRole
    results_bucket: str
    scripts_bucket: str
    database_secret: sm.ISecret
    jobs_log_group: str
    allowed_job_role_arns: Sequence[str] = field(default_factory=tuple)
    key_arn: str | None = None
    read_buckets: Sequence[str] = field(default_factory=tuple)
    read_write_buckets: Sequence[str] = field(default_factory=tuple)
    secrets_key_arn: str | None = None


def engine_role(scope: Construct, construct_id: str, props: EngineRoleProps) -> iam.Role:
    """The engine's role, assumed by EC2 (the engine host)."""
    stack = Stack.of(scope)
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description="Ironside engine: Batch jobs, buckets, database secret, job-role passing",
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(SSM_CORE)],
    )
    # The engine names its job definitions ENGINE_JOB_DEFINITION_PREFIX-<image>-<hash>
    # whatever the config says; <namePrefix>-* too, for an engine that reads the prefix.
    job_definitions = [
        f"job-definition/{prefix}-*"
        for prefix in dict.fromkeys([props.name_prefix, ENGINE_JOB_DEFINITION_PREFIX])
    ]
    log_group = f"log-group:{props.jobs_log_group}:*"

    def arn(service: str, path: str) -> str:
        return f"arn:{stack.partition}:{service}:{stack.region}:{stack.account}:{path}"

    statements = [
        iam.PolicyStatement(
            sid="SubmitToPlatformQueues",
            actions=["batch:SubmitJob"],
            resources=[
                *(q.job_queue_arn for q in props.queues),
                *(arn("batch", d) for d in job_definitions),
            ],
        ),
        iam.PolicyStatement(
            sid="OwnJobDefinitions",
            actions=["batch:RegisterJobDefinition", "batch:DeregisterJobDefinition"],
            resources=[arn("batch", d) for d in job_definitions],
        ),
        iam.PolicyStatement(
            # Tag-on-create: SubmitJob and RegisterJobDefinition with ``tags`` also need
            # batch:TagResource (Service Authorization Reference, API operations table).
            # Batch has no condition key naming the creating action, so the grant is
            # scoped by the tag keys the engine writes (ENGINE_TAG_KEY_PATTERNS).
            sid="TagOwnJobsAndDefinitions",
            actions=["batch:TagResource"],
            resources=[*(arn("batch", d) for d in job_definitions), arn("batch", "job/*")],
            conditions=tag_conditions(),
        ),
        iam.PolicyStatement(
            sid="StopJobs",
            actions=["batch:TerminateJob", "batch:CancelJob"],
            resources=[arn("batch", "job/*")],
            # Only jobs the engine submitted: they carry its ironside:workflow-id tag.
            conditions={"Null": {f"aws:ResourceTag/{ENGINE_JOB_TAG}": "false"}},
        ),
        iam.PolicyStatement(
            sid="DescribeAndList",
            # Batch's Describe*/List* actions support no resource-level permissions.
            actions=[
                "batch:DescribeJobs",
                "batch:ListJobs",
                "batch:DescribeJobDefinitions",
                "batch:DescribeJobQueues",
                "batch:DescribeComputeEnvironments",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="PassJobRoles",
            actions=["iam:PassRole"],
            resources=[props.job_role.role_arn, *props.allowed_job_role_arns],
        ),
        iam.PolicyStatement(
            sid="EcrAuth",
            # GetAuthorizationToken is account-wide by design.
            actions=["ecr:GetAuthorizationToken"],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="EcrDigestLookup",
            actions=["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:DescribeRepositories"],
            resources=[arn("ecr", "repository/*")],
        ),
        iam.PolicyStatement(
            sid="ReadTaskLogs",
            actions=["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"],
            resources=[arn("logs", log_group)],
        ),
        iam.PolicyStatement(
            sid="ReadDatabaseSecret",
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resources=[props.database_secret.secret_arn],
        ),
        *bucket_statements(
            "Buckets",
            [props.results_bucket, props.scripts_bucket],
            write=True,
            key_arn=props.key_arn,
        ),
        *user_bucket_statements(props.read_buckets, props.read_write_buckets),
    ]
    if props.secrets_key_arn:
        statements.append(
            iam.PolicyStatement(
                sid="DecryptSecrets",
                actions=["kms:Decrypt"],
                resources=[props.secrets_key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"
                    }
                },
            )
        )
    for statement in statements:
        role.add_to_policy(statement)

    nag.acknowledge(
        role,
        f"{SSM_CORE} is the AWS-maintained policy for SSM Session Manager, the only way onto "
        "the host (no SSH, no public IP)",
        nag.managed_policy(SSM_CORE),
    )
    nag.acknowledge(
        role,
        "Batch DescribeJobs/ListJobs/Describe* and ecr:GetAuthorizationToken support no "
        "resource-level permissions",
        nag.resource("*"),
    )
    nag.acknowledge(
        role,
        "The engine registers job definitions keyed by a content hash, so only their "
        "prefix is known in advance",
        *(nag.resource(nag.regional_arn("batch", d)) for d in job_definitions),
    )
    nag.acknowledge(
        role,
        "Job ids are assigned by Batch at SubmitJob; terminate/cancel are limited by "
        "condition to jobs tagged ironside:workflow-id, tagging to the engine's tag keys",
        nag.resource(nag.regional_arn("batch", "job/*")),
    )
    nag.acknowledge(
        role,
        "Docker digest lookup (call caching) reads image manifests of any private "
        "repository of the account that a workflow names; read-only actions",
        nag.resource(nag.regional_arn("ecr", "repository/*")),
    )
    nag.acknowledge(
        role,
        "Log stream names are per job (assigned by Batch); read-only within the task log group",
        nag.resource(nag.regional_arn("logs", log_group)),
    )
    nag.acknowledge(
        role,
        "The engine writes task scripts and reads/writes/copies results (call caching) under "
        "arbitrary keys: object-level wildcards within the two platform buckets only",
        nag.bucket_objects(props.results_bucket),
        nag.bucket_objects(props.scripts_bucket),
    )
    user_findings = user_bucket_findings(props.read_buckets, props.read_write_buckets)
    if user_findings:
        nag.acknowledge(
            role,
            "WDL functions (read_lines, size, ...) and call-cache HEADs read arbitrary keys of "
            "the users' buckets the operator listed (readBuckets / readWriteBuckets; '*' "
            "chosen by the operator, read-only)",
            *user_findings,
        )
    return role
