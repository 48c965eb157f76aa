"""The default Batch job role: what task containers run as."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks import nag
from stacks.roles.access import bucket_statements, user_bucket_findings, user_bucket_statements

#: The only principal that may assume a Batch job role.
ECS_TASKS = "ecs-tasks.amazonaws.com"


@dataclass(frozen=True)
class JobRoleProps:
    """Props of :func:`job_role`.

    Attributes:
        results_bucket: name of the bucket tasks read and write (inputs, outputs, rc).
        scripts_bucket: name of the bucket of task scripts (read by ``fetch_and_run.sh``).
        key_arn: KMS key of both buckets; ``None`` (default) for S3-managed encryption.
        role_name: fixed role name (default: generated).
        read_buckets: users' buckets tasks read (``readBuckets``; ``"*"``: any; default none).
        read_write_buckets: users' buckets tasks read and write (default none).
    """

    results_bucket: str
    scripts_bucket: str
    key_arn: str | None = None
    role_name: str | None = None
    read_buckets: Sequence[str] = field(default_factory=tuple)
    read_write_buckets: Sequence[str] = field(default_factory=tuple)


def job_role(scope: Construct, construct_id: str, props: JobRoleProps) -> iam.Role:
    """A role trusting exactly ``ecs-tasks.amazonaws.com`` with the buckets' access."""
    role = iam.Role(
        scope,
        construct_id,
        role_name=props.role_name,
        assumed_by=iam.ServicePrincipal(ECS_TASKS),
        description="Ironside Batch tasks: read/write the results bucket, read scripts",
    )
    for statement in [
        *bucket_statements("Results", [props.results_bucket], write=True, key_arn=props.key_arn),
        *bucket_statements("Scripts", [props.scripts_bucket], write=False, key_arn=props.key_arn),
        *user_bucket_statements(props.read_buckets, props.read_write_buckets),
    ]:
        role.add_to_policy(statement)
    nag.acknowledge(
        role,
        "Tasks read and write arbitrary keys under the execution root and read "
        "content-addressed task scripts: object-level wildcards within the two buckets",
        nag.bucket_objects(props.results_bucket),
        nag.bucket_objects(props.scripts_bucket),
    )
    user_findings = user_bucket_findings(props.read_buckets, props.read_write_buckets)
    if user_findings:
        nag.acknowledge(
            role,
            "Workflows read (readBuckets) or read and write (readWriteBuckets) arbitrary keys "
            "of the users' buckets the operator listed; readBuckets '*' is the operator's "
            "choice to let tasks read any bucket (e.g. public reference data), read-only",
            *user_findings,
        )
    return role
