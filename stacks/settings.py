"""Typed, validated settings of the kit, read once from CDK context.

Every knob is a context key ``ironside:<name>`` (set in ``cdk.json`` or with
``cdk synth -c ironside:<name>=<value>``). :meth:`Settings.from_context` reads
them all, checks each one and raises :class:`SettingsError` naming the key of
the first bad value, so a typo fails synth instead of a deployment.

Lists accept a JSON list (``cdk.json``) or a comma-separated string (``-c``);
numbers and booleans accept their string forms too.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Node

from stacks.aws_cli_bundle import check_bundle_dir

PREFIX = "ironside:"

#: Log retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

#: EC2 instance families accepted for Batch and the engine (current generation,
#: x86_64 and Graviton). Anything else is most likely a typo.
KNOWN_INSTANCE_FAMILIES = frozenset(
    """
    a1 c5 c5a c5ad c5d c5n c6a c6g c6gd c6gn c6i c6id c6in c7a c7g c7gd c7gn c7i c7i-flex c8g
    d3 d3en g4ad g4dn g5 g5g g6 g6e gr6 i3 i3en i4g i4i im4gn is4gen m5 m5a m5ad m5d m5dn m5n
    m5zn m6a m6g m6gd m6i m6id m6idn m6in m7a m7g m7gd m7i m7i-flex m8g p3 p3dn p4d p5 r5 r5a
    r5ad r5b r5d r5dn r5n r6a r6g r6gd r6i r6id r6idn r6in r7a r7g r7gd r7i r7iz r8g t3 t3a t4g
    x2gd x2idn x2iedn x2iezn z1d
    """.split()
)

#: Graviton (arm64) families: a letter group, a generation digit, then ``g`` (m7g, c6gn,
#: im4gn, is4gen, x2gd, g5g, ...). Everything else in KNOWN_INSTANCE_FAMILIES is x86_64.
_GRAVITON_RE = re.compile(r"^[a-z]+\d+g|^a1$")
#: GPU families (NVIDIA; g4ad is AMD, g5g is Graviton with NVIDIA T4g).
GPU_FAMILIES = frozenset("g4dn g5 g5g g6 g6e gr6 p3 p3dn p4d p5".split())


def family(instance_type: str) -> str:
    """The family of an instance type or family (``m7g.large`` -> ``m7g``)."""
    return instance_type.split(".", 1)[0]


def architecture(instance_type: str) -> str:
    """``arm64`` for Graviton instance types or families, else ``x86_64``."""
    return "arm64" if _GRAVITON_RE.match(family(instance_type)) else "x86_64"


#: Allocation strategies for the Spot environment. BEST_FIT is left out on purpose: for
#: Spot it needs a Spot Fleet role and tends to leave jobs waiting for one instance type.
SPOT_ALLOCATION_STRATEGIES = (
    "SPOT_CAPACITY_OPTIMIZED",
    "SPOT_PRICE_CAPACITY_OPTIMIZED",
    "BEST_FIT_PROGRESSIVE",
)
#: RDS enhanced monitoring intervals, in seconds (0: off).
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
REMOVAL_POLICIES = ("retain", "destroy", "snapshot")
BUCKET_ENCRYPTIONS = ("kms", "s3")

_NAME_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,17}$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_SECRET_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:(?P<name>[\w/+=.@-]+)$"
)
_AMI_RE = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")
_VPC_RE = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_SUBNET_RE = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
_RTB_RE = re.compile(r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})$")
_AZ_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_CIDR_RE = re.compile(r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$")
_INSTANCE_TYPE_RE = re.compile(r"^(?P<family>[a-z][a-z0-9-]*)(\.(?P<size>[a-z0-9]+))?$")
_CERT_ARN_RE = re.compile(r"^arn:aws[a-z-]*:acm:[a-z]{2}(-[a-z]+)+-\d:\d{12}:certificate/[\w-]+$")
_KMS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/[\w-]+$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_KEY_RE = re.compile(r"^[\w .:/=+@-]{1,128}$")

#: Name of the Secrets Manager prefix ECR requires for pull-through cache credentials.
PULL_THROUGH_SECRET_PREFIX = "ecr-pullthroughcache/"


class SettingsError(ValueError):
    """A context value is invalid; the message names the context key."""

    def __init__(self, key: str, problem: str, value: object) -> None:
        self.key = PREFIX + key
        super().__init__(f"context key {self.key!r}: {problem} (got {value!r})")


@dataclass(frozen=True)
class ExistingVpc:
    """Identifiers of an existing VPC to deploy into instead of creating one."""

    vpc_id: str
    cidr: str
    availability_zones: tuple[str, ...]
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    isolated_subnet_ids: tuple[str, ...]
    private_route_table_ids: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the platform, with its default.

    Field docs name the context key (without the ``ironside:`` prefix).
    """

    name_prefix: str = "ironside"
    """``namePrefix``: prefix of resource names (queues, log groups, job definitions)."""
    existing_vpc: ExistingVpc | None = None
    """``vpcId`` (+ ``vpcCidr``, ``availabilityZones``, ``publicSubnetIds``,
    ``privateSubnetIds``, ``isolatedSubnetIds``, ``privateRouteTableIds``): import a VPC.
    Default: create one."""
    max_azs: int = 2
    """``maxAzs``: availability zones of a created VPC."""
    nat_gateways: int = 1
    """``natGateways``: NAT gateways of a created VPC (one per AZ for HA)."""
    s3_endpoint: bool = True
    """``s3Endpoint``: S3 gateway endpoint (free)."""
    ecr_endpoints: bool = True
    """``ecrEndpoints``: ECR api and dkr interface endpoints."""
    logs_endpoint: bool = True
    """``logsEndpoint``: CloudWatch Logs interface endpoint."""
    ecs_endpoints: bool = True
    """``ecsEndpoints``: ECS, ECS agent and ECS telemetry interface endpoints."""
    batch_endpoint: bool = True
    """``batchEndpoint``: AWS Batch interface endpoint."""
    secrets_manager_endpoint: bool = True
    """``secretsManagerEndpoint``: Secrets Manager interface endpoint (the engine's secrets,
    the rotation Lambda, Docker Hub credentials on Batch hosts)."""
    batch_instance_types: tuple[str, ...] = ("m6i", "c6i", "r6i")
    """``batchInstanceTypes``: instance families or types for both compute environments."""
    spot_min_vcpus: int = 0
    """``spotMinVcpus``: minimum vCPUs of the Spot compute environment."""
    spot_max_vcpus: int = 256
    """``spotMaxVcpus``: maximum vCPUs of the Spot compute environment."""
    on_demand_min_vcpus: int = 0
    """``onDemandMinVcpus``: minimum vCPUs of the On-Demand compute environment."""
    on_demand_max_vcpus: int = 64
    """``onDemandMaxVcpus``: maximum vCPUs of the On-Demand compute environment."""
    gpu_instance_types: tuple[str, ...] = ()
    """``gpuInstanceTypes``: GPU instance families or types (e.g. ``g5``, ``g6.xlarge``) of a
    GPU compute environment and queue, where the engine sends tasks with ``gpuCount > 0``.
    Default: none (no GPU environment)."""
    gpu_max_vcpus: int = 64
    """``gpuMaxVcpus``: maximum vCPUs of the GPU compute environment."""
    job_runnable_timeout_minutes: int = 240
    """``jobRunnableTimeoutMinutes``: a job that stays RUNNABLE this long because no
    environment can place it (e.g. more memory than any instance type has) is failed with
    Batch's reason (queue ``jobStateTimeLimitActions``). Default 4 hours."""
    spot_allocation_strategy: str = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    """``spotAllocationStrategy``: one of :data:`SPOT_ALLOCATION_STRATEGIES`."""
    spot_bid_percentage: int = 100
    """``spotBidPercentage``: max Spot price as % of On-Demand (1-100)."""
    batch_ami_id: str | None = None
    """``batchAmiId``: custom AMI for Batch hosts. Default: ECS-optimized Amazon Linux 2023."""
    batch_root_volume_gib: int = 50
    """``batchRootVolumeGiB``: root gp3 volume of Batch hosts."""
    allowed_job_role_arns: tuple[str, ...] = ()
    """``allowedJobRoleArns``: extra job roles the engine may pass (workflow option
    ``aws_batch_job_role_arn``)."""
    read_buckets: tuple[str, ...] = ()
    """``readBuckets``: users' buckets (names or ``arn:aws:s3:::name``) that tasks and the
    engine may read, e.g. the Broad's ``gcp-public-data--broad-references`` or 1000
    Genomes' ``1000genomes``; ``"*"`` allows reading any bucket. Default: none."""
    read_write_buckets: tuple[str, ...] = ()
    """``readWriteBuckets``: users' buckets tasks and the engine may read and write
    (names or ARNs; no wildcard). Default: none."""
    docker_hub_secret_arn: str | None = None
    """``dockerHubSecretArn``: Secrets Manager secret (name ``ecr-pullthroughcache/...``)
    with Docker Hub credentials. Default: none: no Docker Hub pull-through rule, no
    mirror; Docker Hub images come straight from Docker Hub through the NAT."""
    ghcr_secret_arn: str | None = None
    """``ghcrSecretArn``: secret (``ecr-pullthroughcache/...``) with GitHub Container
    Registry credentials; with it, a ``ghcr.io`` pull-through rule. Default: none."""
    aws_cli_bundle_dir: str | None = None
    """``awsCliBundleDir``: a local directory with the AWS CLI v2 bundle of each Batch
    architecture (``awscli-exe-linux-x86_64.zip``, ``-aarch64.zip``) and their
    ``SHA256SUMS`` (``stacks/aws_cli_bundle.py``); task containers then get that CLI,
    which needs no Python in the image. Default: none: the PyPI ``awscli`` from the kit's
    wheelhouse, run by the image's ``python3`` (>= 3.10)."""
    engine_instance_type: str = "t3.medium"
    """``engineInstanceType``: instance type of the engine host."""
    engine_load_balancer: bool = False
    """``engineLoadBalancer``: internal ALB in front of the engine API."""
    engine_certificate_arn: str | None = None
    """``engineCertificateArn``: ACM certificate of the load balancer's HTTPS listener
    (443; HTTP then only redirects). Default: none (HTTP on port 80)."""
    kms_key_arn: str | None = None
    """``kmsKeyArn``: a customer managed KMS key for log groups and the kit's secrets
    (its policy must allow CloudWatch Logs and Secrets Manager). Default: AWS managed."""
    database_min_capacity: float = 0.5
    """``databaseMinCapacity``: Aurora Serverless v2 minimum ACUs."""
    database_max_capacity: float = 4.0
    """``databaseMaxCapacity``: Aurora Serverless v2 maximum ACUs."""
    database_secret_rotation: bool = False
    """``databaseSecretRotation``: rotate the database password every 30 days."""
    database_monitoring_seconds: int = 60
    """``databaseMonitoringSeconds``: RDS enhanced monitoring interval (1, 5, 10, 15, 30 or
    60 seconds; 0 turns it off)."""
    database_backup_days: int = 7
    """``databaseBackupDays``: automated backup retention (1-35)."""
    removal_policy: str = "retain"
    """``removalPolicy``: what happens to data resources on stack deletion."""
    deletion_protection: bool = True
    """``deletionProtection``: deletion protection on the database."""
    log_retention_days: int = 90
    """``logRetentionDays``: retention of every log group (a value CloudWatch accepts)."""
    bucket_encryption: str = "kms"
    """``bucketEncryption``: ``kms`` (a customer managed key) or ``s3`` (S3-managed)."""
    scripts_expiration_days: int = 30
    """``scriptsExpirationDays``: lifetime of task scripts in the script bucket."""
    container_insights: bool = True
    """``containerInsights``: ECS Container Insights on the clusters of the kit's compute
    environments (only those; the account default is left alone)."""
    alarm_email: str | None = None
    """``alarmEmail``: address subscribed to the alarms' SNS topic (it must confirm the
    subscription). Default: none (the topic exists; subscribe to it yourself)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """``tags``: tags applied to every resource."""

    # ---- derived names -------------------------------------------------

    def name(self, suffix: str) -> str:
        """A resource name: ``<namePrefix>-<suffix>``."""
        return f"{self.name_prefix}-{suffix}"

    def bucket_name(self, role: str) -> str:
        """Name of the ``results``, ``scripts`` or ``logs`` bucket.

        ``<namePrefix>-<role>-<account>-<region>``: globally unique, and known to every
        stack without a cross-stack reference (so IAM resources read plainly).
        """
        return f"{self.name_prefix}-{role}-{cdk.Aws.ACCOUNT_ID}-{cdk.Aws.REGION}"

    @property
    def default_queue_name(self) -> str:
        """Name of the ``default`` job queue (Spot, then On-Demand)."""
        return self.name("default")

    @property
    def priority_queue_name(self) -> str:
        """Name of the ``priority`` job queue (On-Demand)."""
        return self.name("priority")

    @property
    def gpu_queue_name(self) -> str:
        """Name of the ``gpu`` job queue (with ``gpuInstanceTypes``)."""
        return self.name("gpu")

    @property
    def engine_asg_name(self) -> str:
        """Name of the engine's Auto Scaling group."""
        return self.name("engine")

    @property
    def database_cluster_id(self) -> str:
        """Identifier of the Aurora cluster."""
        return self.name("db")

    @property
    def log_group_names(self) -> dict[str, str]:
        """Log group names by role: ``jobs``, ``hosts``, ``engine``."""
        return {
            role: f"/{self.name_prefix}/{path}"
            for role, path in (
                ("jobs", "batch/jobs"),
                ("hosts", "batch/hosts"),
                ("engine", "engine"),
            )
        }

    # ---- reading -------------------------------------------------------

    @classmethod
    def from_context(cls, node: Node, *, other_keys: Iterable[str] = ()) -> Settings:
        """Read and validate every ``ironside:*`` context key under ``node``.

        An ``ironside:*`` key that is neither a kit setting nor in ``other_keys`` (keys
        other parts of the repository read, e.g. the pipeline's) is reported on stderr
        as a probable typo; it does not fail synth, since other tools share the prefix.
        """
        known = {*KNOWN_KEYS, *other_keys}
        for key in sorted(node.get_all_context()):
            if key.startswith(PREFIX) and key[len(PREFIX) :] not in known:
                print(
                    f"warning: context key {key!r} is not an Ironside kit setting "
                    "(misspelled?); it is ignored",
                    file=sys.stderr,
                )
        values = {key: node.try_get_context(PREFIX + key) for key in KNOWN_KEYS}
        return cls.from_mapping({k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Build settings from ``{key-without-prefix: raw value}``; raises SettingsError."""
        r = _Reader(values)
        d = cls()
        settings = cls(
            name_prefix=r.str_(
                "namePrefix", d.name_prefix, _NAME_PREFIX_RE, "lowercase, 2-18 chars"
            ),
            existing_vpc=_read_vpc(r),
            max_azs=r.int_("maxAzs", d.max_azs, 1, 6),
            nat_gateways=r.int_("natGateways", d.nat_gateways, 0, 6),
            s3_endpoint=r.bool_("s3Endpoint", d.s3_endpoint),
            ecr_endpoints=r.bool_("ecrEndpoints", d.ecr_endpoints),
            logs_endpoint=r.bool_("logsEndpoint", d.logs_endpoint),
            ecs_endpoints=r.bool_("ecsEndpoints", d.ecs_endpoints),
            batch_endpoint=r.bool_("batchEndpoint", d.batch_endpoint),
            secrets_manager_endpoint=r.bool_("secretsManagerEndpoint", d.secrets_manager_endpoint),
            batch_instance_types=r.list_("batchInstanceTypes", d.batch_instance_types, _instance),
            spot_min_vcpus=r.int_("spotMinVcpus", d.spot_min_vcpus, 0, 100_000),
            spot_max_vcpus=r.int_("spotMaxVcpus", d.spot_max_vcpus, 1, 100_000),
            on_demand_min_vcpus=r.int_("onDemandMinVcpus", d.on_demand_min_vcpus, 0, 100_000),
            on_demand_max_vcpus=r.int_("onDemandMaxVcpus", d.on_demand_max_vcpus, 1, 100_000),
            gpu_instance_types=r.list_("gpuInstanceTypes", (), _gpu_instance),
            gpu_max_vcpus=r.int_("gpuMaxVcpus", d.gpu_max_vcpus, 1, 100_000),
            job_runnable_timeout_minutes=r.int_(
                "jobRunnableTimeoutMinutes", d.job_runnable_timeout_minutes, 10, 86_400
            ),
            spot_allocation_strategy=r.choice(
                "spotAllocationStrategy", d.spot_allocation_strategy, SPOT_ALLOCATION_STRATEGIES
            ),
            spot_bid_percentage=r.int_("spotBidPercentage", d.spot_bid_percentage, 1, 100),
            batch_ami_id=r.opt_str("batchAmiId", _AMI_RE, "an AMI id ami-..."),
            batch_root_volume_gib=r.int_("batchRootVolumeGiB", d.batch_root_volume_gib, 30, 16384),
            allowed_job_role_arns=r.list_("allowedJobRoleArns", (), _role_arn),
            read_buckets=r.list_("readBuckets", (), _read_bucket),
            read_write_buckets=r.list_("readWriteBuckets", (), _bucket),
            docker_hub_secret_arn=r.opt_str("dockerHubSecretArn", None, "", _pull_through_secret),
            ghcr_secret_arn=r.opt_str("ghcrSecretArn", None, "", _pull_through_secret),
            aws_cli_bundle_dir=r.opt_str("awsCliBundleDir", None, "a directory path"),
            engine_instance_type=_instance_of(r, "engineInstanceType", d.engine_instance_type),
            engine_load_balancer=r.bool_("engineLoadBalancer", d.engine_load_balancer),
            engine_certificate_arn=r.opt_str(
                "engineCertificateArn", _CERT_ARN_RE, "an ACM certificate ARN"
            ),
            kms_key_arn=r.opt_str("kmsKeyArn", _KMS_ARN_RE, "a KMS key ARN arn:aws:kms:..."),
            database_min_capacity=r.acu("databaseMinCapacity", d.database_min_capacity),
            database_max_capacity=r.acu("databaseMaxCapacity", d.database_max_capacity),
            database_secret_rotation=r.bool_("databaseSecretRotation", d.database_secret_rotation),
            database_backup_days=r.int_("databaseBackupDays", d.database_backup_days, 1, 35),
            database_monitoring_seconds=r.int_(
                "databaseMonitoringSeconds", d.database_monitoring_seconds, 0, 60
            ),
            removal_policy=r.choice("removalPolicy", d.removal_policy, REMOVAL_POLICIES),
            deletion_protection=r.bool_("deletionProtection", d.deletion_protection),
            log_retention_days=r.int_("logRetentionDays", d.log_retention_days, 1, 3653),
            bucket_encryption=r.choice("bucketEncryption", d.bucket_encryption, BUCKET_ENCRYPTIONS),
            scripts_expiration_days=r.int_(
                "scriptsExpirationDays", d.scripts_expiration_days, 1, 3650
            ),
            container_insights=r.bool_("containerInsights", d.container_insights),
            alarm_email=r.opt_str("alarmEmail", _EMAIL_RE, "an e-mail address"),
            tags=r.tags("tags"),
        )
        _cross_checks(settings)
        return settings


#: Every context key the kit reads (without the ``ironside:`` prefix).
KNOWN_KEYS = """
namePrefix vpcId vpcCidr availabilityZones publicSubnetIds privateSubnetIds isolatedSubnetIds
privateRouteTableIds maxAzs natGateways s3Endpoint ecrEndpoints logsEndpoint ecsEndpoints
batchEndpoint secretsManagerEndpoint batchInstanceTypes spotMinVcpus spotMaxVcpus
onDemandMinVcpus onDemandMaxVcpus gpuInstanceTypes gpuMaxVcpus jobRunnableTimeoutMinutes
spotAllocationStrategy spotBidPercentage batchAmiId batchRootVolumeGiB allowedJobRoleArns
readBuckets readWriteBuckets dockerHubSecretArn ghcrSecretArn awsCliBundleDir engineInstanceType
engineLoadBalancer engineCertificateArn kmsKeyArn databaseMinCapacity databaseMaxCapacity
databaseSecretRotation databaseBackupDays databaseMonitoringSeconds removalPolicy
deletionProtection logRetentionDays bucketEncryption scriptsExpirationDays containerInsights
alarmEmail tags
""".split()


class _Reader:
    """Reads one raw context value per call and raises SettingsError naming the key."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def raw(self, key: str) -> Any:
        return self.values.get(key)

    def str_(self, key: str, default: str, pattern: re.Pattern[str] | None, what: str) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            raise SettingsError(key, f"expected {what or 'a string'}", value)
        return value

    def opt_str(
        self,
        key: str,
        pattern: re.Pattern[str] | None,
        what: str,
        check: Callable[[str, str], str] | None = None,
    ) -> str | None:
        value = self.raw(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise SettingsError(key, f"expected {what or 'a string'}", value)
        if pattern is not None and not pattern.match(value):
            raise SettingsError(key, f"expected {what}", value)
        return check(key, value) if check else value

    def int_(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or str(number) != str(value).strip():
            raise SettingsError(key, "expected an integer", value)
        if not low <= number <= high:
            raise SettingsError(key, f"must be between {low} and {high}", value)
        return number

    def acu(self, key: str, default: float) -> float:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SettingsError(key, "expected a number of ACUs", value) from None
        if not 0 <= number <= 256 or (number * 2) != int(number * 2):
            raise SettingsError(key, "ACUs must be 0-256 in steps of 0.5", value)
        return number

    def bool_(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise SettingsError(key, "expected true or false", value)

    def choice(self, key: str, default: str, choices: Sequence[str]) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if value not in choices:
            raise SettingsError(key, f"expected one of {', '.join(choices)}", value)
        return str(value)

    def list_(
        self, key: str, default: tuple[str, ...], check: Callable[[str, str], str]
    ) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise SettingsError(key, "expected a JSON list", value) from None
            else:
                value = [item.strip() for item in text.split(",") if item.strip()]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SettingsError(key, "expected a list of strings", value)
        return tuple(check(key, item) for item in value)

    def tags(self, key: str) -> dict[str, str]:
        value = self.raw(key)
        if value is None:
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise SettingsError(key, "expected a JSON object of strings", value) from None
        if not isinstance(value, dict):
            raise SettingsError(key, "expected an object of tag names to values", value)
        for tag, tag_value in value.items():
            if not isinstance(tag_value, str) or not _TAG_KEY_RE.match(str(tag)):
                raise SettingsError(key, f"bad tag {tag!r}", value)
            if str(tag).lower().startswith("aws:"):
                raise SettingsError(key, "tag names may not begin with 'aws:'", value)
        return dict(value)


def _instance(key: str, value: str) -> str:
    match = _INSTANCE_TYPE_RE.match(value)
    if not match or match.group("family") not in KNOWN_INSTANCE_FAMILIES:
        raise SettingsError(key, "unknown instance family", value)
    return value


def _gpu_instance(key: str, value: str) -> str:
    _instance(key, value)
    if family(value) not in GPU_FAMILIES:
        raise SettingsError(
            key, f"not an NVIDIA GPU family (one of {', '.join(sorted(GPU_FAMILIES))})", value
        )
    return value


def _instance_of(r: _Reader, key: str, default: str) -> str:
    value = r.raw(key) or default
    if not isinstance(value, str):
        raise SettingsError(key, "expected an instance type", value)
    _instance(key, value)
    if "." not in value:
        raise SettingsError(key, "expected an instance type with a size, e.g. t3.medium", value)
    return str(value)


_BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<name>[^/*]+)$")


def _bucket(key: str, value: str) -> str:
    """A bucket given by name or ARN, returned as its name."""
    match = _BUCKET_ARN_RE.match(value)
    name = match.group("name") if match else value
    if not _BUCKET_NAME_RE.match(name) or ".." in name:
        raise SettingsError(key, "expected S3 bucket names or arn:aws:s3:::<name>", value)
    return name


def _read_bucket(key: str, value: str) -> str:
    return "*" if value == "*" else _bucket(key, value)


def _role_arn(key: str, value: str) -> str:
    if not _ROLE_ARN_RE.match(value):
        raise SettingsError(key, "expected IAM role ARNs arn:aws:iam::<account>:role/<name>", value)
    return value


def _pull_through_secret(key: str, value: str) -> str:
    match = _SECRET_ARN_RE.match(value)
    if not match:
        raise SettingsError(key, "expected a Secrets Manager secret ARN", value)
    if not match.group("name").startswith(PULL_THROUGH_SECRET_PREFIX):
        raise SettingsError(
            key, f"ECR requires the secret name to begin with {PULL_THROUGH_SECRET_PREFIX}", value
        )
    return value


def _ids(r: _Reader, key: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    def check(k: str, item: str) -> str:
        if not pattern.match(item):
            raise SettingsError(k, f"expected {what}", item)
        return item

    return r.list_(key, (), check)


def _read_vpc(r: _Reader) -> ExistingVpc | None:
    vpc_id = r.opt_str("vpcId", _VPC_RE, "a VPC id vpc-...")
    if vpc_id is None:
        return None
    cidr = r.opt_str("vpcCidr", _CIDR_RE, "the VPC's IPv4 CIDR, e.g. 10.0.0.0/16")
    if cidr is None:
        raise SettingsError("vpcCidr", "required with vpcId", None)
    vpc = ExistingVpc(
        vpc_id=vpc_id,
        cidr=cidr,
        availability_zones=_ids(r, "availabilityZones", _AZ_RE, "availability zone names"),
        public_subnet_ids=_ids(r, "publicSubnetIds", _SUBNET_RE, "subnet ids subnet-..."),
        private_subnet_ids=_ids(r, "privateSubnetIds", _SUBNET_RE, "subnet ids subnet-..."),
        isolated_subnet_ids=_ids(r, "isolatedSubnetIds", _SUBNET_RE, "subnet ids subnet-..."),
        private_route_table_ids=_ids(r, "privateRouteTableIds", _RTB_RE, "route table ids rtb-..."),
    )
    azs = len(vpc.availability_zones)
    if azs < 2:
        raise SettingsError("availabilityZones", "at least two are required with vpcId", azs)
    for key, ids in (
        ("privateSubnetIds", vpc.private_subnet_ids),
        ("isolatedSubnetIds", vpc.isolated_subnet_ids),
    ):
        if len(ids) != azs:
            raise SettingsError(key, f"need one subnet per availability zone ({azs})", ids)
    if vpc.public_subnet_ids and len(vpc.public_subnet_ids) != azs:
        raise SettingsError("publicSubnetIds", f"need one subnet per zone ({azs})", vpc)
    if vpc.private_route_table_ids and len(vpc.private_route_table_ids) != azs:
        raise SettingsError("privateRouteTableIds", f"need one per zone ({azs})", vpc)
    return vpc


#: Endpoints the hosts call that the kit cannot create yet (Session Manager, the deployment
#: signal, self-healing, EBS autoscale, role credentials, agent metrics).
UNCREATED_ENDPOINTS = (
    "ssm", "ssmmessages", "ec2messages", "cloudformation", "autoscaling", "ec2", "sts",
    "monitoring",
)  # fmt: skip


def batch_machine_architectures(s: Settings) -> set[str]:
    """``uname -m`` of every Batch compute environment's hosts."""
    arches = {architecture(t) for t in (*s.batch_instance_types, *s.gpu_instance_types)}
    return {"aarch64" if a == "arm64" else a for a in arches}


def _endpoint_flags(s: Settings) -> list[tuple[str, bool]]:
    return [
        ("s3 (s3Endpoint)", s.s3_endpoint),
        ("ecr.api, ecr.dkr (ecrEndpoints)", s.ecr_endpoints),
        ("logs (logsEndpoint)", s.logs_endpoint),
        ("ecs, ecs-agent, ecs-telemetry (ecsEndpoints)", s.ecs_endpoints),
        ("batch (batchEndpoint)", s.batch_endpoint),
        ("secretsmanager (secretsManagerEndpoint)", s.secrets_manager_endpoint),
    ]


def _cross_checks(s: Settings) -> None:
    if s.spot_min_vcpus > s.spot_max_vcpus:
        raise SettingsError("spotMinVcpus", "exceeds spotMaxVcpus", s.spot_min_vcpus)
    if s.on_demand_min_vcpus > s.on_demand_max_vcpus:
        raise SettingsError("onDemandMinVcpus", "exceeds onDemandMaxVcpus", s.on_demand_min_vcpus)
    if s.database_min_capacity > s.database_max_capacity:
        raise SettingsError(
            "databaseMinCapacity", "exceeds databaseMaxCapacity", s.database_min_capacity
        )
    if s.database_max_capacity < 1:
        raise SettingsError(
            "databaseMaxCapacity", "must be at least 1 ACU", s.database_max_capacity
        )
    if s.log_retention_days not in LOG_RETENTION_DAYS:
        raise SettingsError(
            "logRetentionDays",
            f"CloudWatch accepts only {', '.join(map(str, LOG_RETENTION_DAYS))}",
            s.log_retention_days,
        )
    if s.existing_vpc is not None and s.s3_endpoint and not s.existing_vpc.private_route_table_ids:
        raise SettingsError(
            "privateRouteTableIds", "required for the S3 gateway endpoint (or s3Endpoint=false)", ()
        )
    for key, types in (("batchInstanceTypes", s.batch_instance_types),
                       ("gpuInstanceTypes", s.gpu_instance_types)):  # fmt: skip
        arches = {architecture(t) for t in types}
        if len(arches) > 1:
            by_arch = {a: [t for t in types if architecture(t) == a] for a in sorted(arches)}
            raise SettingsError(
                key,
                "one compute environment cannot mix architectures (its AMI has one): "
                + "; ".join(f"{a}: {', '.join(ts)}" for a, ts in by_arch.items()),
                list(types),
            )
        if any(family(t) == "a1" for t in types):
            raise SettingsError(key, "Amazon Linux 2023 (the Batch AMI) does not run on A1", types)
    if s.aws_cli_bundle_dir is not None:
        try:
            check_bundle_dir(Path(s.aws_cli_bundle_dir), batch_machine_architectures(s))
        except ValueError as error:
            raise SettingsError("awsCliBundleDir", str(error), s.aws_cli_bundle_dir) from None
    if s.database_monitoring_seconds not in MONITORING_INTERVALS:
        raise SettingsError(
            "databaseMonitoringSeconds",
            f"RDS accepts {', '.join(map(str, MONITORING_INTERVALS))} (0: off)",
            s.database_monitoring_seconds,
        )
    if s.nat_gateways == 0 and s.existing_vpc is None:
        missing = [name for name, on in _endpoint_flags(s) if not on] + list(UNCREATED_ENDPOINTS)
        raise SettingsError(
            "natGateways",
            "hosts need AWS APIs without a NAT gateway; missing VPC endpoints: "
            + ", ".join(missing)
            + " (boots fetch only the kit's S3 assets and Amazon Linux packages, through "
            "the s3 gateway endpoint)",
            0,
        )
    if s.engine_certificate_arn and not s.engine_load_balancer:
        raise SettingsError(
            "engineCertificateArn", "needs engineLoadBalancer=true", s.engine_certificate_arn
        )
    if s.engine_load_balancer and s.existing_vpc is None and s.max_azs < 2:
        raise SettingsError("maxAzs", "an internal load balancer needs two zones", s.max_azs)
