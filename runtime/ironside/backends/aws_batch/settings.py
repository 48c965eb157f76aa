"""The ``backend.providers.AWSBatch.config`` subtree, validated once at start-up.

Key names are Cromwell's, so existing configs work. ``parse_settings`` takes the
subtree as a plain dict (nested, as HOCON gives it; dotted keys are accepted
too) and raises ``BadConfig`` naming the first key that is missing or wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ironside.errors import BadConfig

from . import values

T = TypeVar("T")

_MISSING = object()
DUPLICATION_STRATEGIES = ("copy", "reference")
ARRAY_JOB_MODES = ("auto", "never")
#: AWS Batch's bounds on ``arrayProperties.size``.
ARRAY_SIZE_MIN, ARRAY_SIZE_MAX = 2, 10_000


@dataclass(frozen=True)
class Secret:
    """A value that must never reach a log or metadata: its repr is masked."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__


@dataclass(frozen=True)
class DockerHub:
    """Credentials for private Docker Hub images (``dockerhub { account, token }``)."""

    account: str | None = None
    token: Secret | None = None


#: ``docker-mirror.<key>`` blocks besides ``dockerhub``, by the registry host they mirror.
MIRRORED_REGISTRIES = {"ecr-public": "public.ecr.aws", "quay": "quay.io", "ghcr": "ghcr.io"}


@dataclass(frozen=True)
class DockerMirror:
    """``docker-mirror.dockerhub``: pull Docker Hub images through this registry address;
    ``others``: (registry host, address) for each enabled ``docker-mirror.<key>`` of
    :data:`MIRRORED_REGISTRIES` (e.g. ECR pull-through caches of Quay or ECR Public)."""

    enabled: bool = False
    address: str | None = None
    others: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AwsBatchSettings:
    """Everything the AWS Batch backend reads from its config subtree."""

    root_bucket: str
    root_prefix: str
    queue_arn: str
    script_bucket: str
    concurrent_job_limit: int | None = None  # None: no limit
    num_submit_attempts: int = 5
    num_create_definition_attempts: int = 5
    dockerhub: DockerHub = DockerHub()
    docker_mirror: DockerMirror = DockerMirror()
    s3_auth: str = "default"
    duplication_strategy: str = "copy"
    allowed_job_role_arns: tuple[str, ...] = ()
    default_job_role_arn: str | None = None
    fallback_queue_arn: str | None = None
    submit_rate: float = 10.0  # SubmitJob calls per second to start with
    submit_rate_min: float = 0.1  # the floor throttling halves it down to
    submit_rate_max: float = 10.0  # the ceiling successes raise it up to
    default_runtime_attributes: Mapping[str, Any] = field(default_factory=dict)
    array_jobs: str = "auto"  # auto: a scatter's alike shards go as array jobs; never
    array_min_size: int = ARRAY_SIZE_MIN  # fewer alike shards than this go as single jobs

    @property
    def root(self) -> str:
        """The execution root as an ``s3://`` URI without a trailing slash."""
        return f"s3://{self.root_bucket}/{self.root_prefix}".rstrip("/")


def lookup(config: Mapping[str, Any], key: str, default: Any = _MISSING) -> Any:
    """Value at a dotted ``key`` in nested mappings (a literal dotted key also matches)."""
    if key in config:
        return config[key]
    head, dot, rest = key.partition(".")
    while dot:
        node = config.get(head)
        if isinstance(node, Mapping):
            return lookup(node, rest, default)
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return default


def _field(
    config: Mapping[str, Any],
    key: str,
    check: Callable[[Any], T],
    default: Any = _MISSING,
) -> T:
    raw = lookup(config, key)
    if raw is _MISSING:
        if default is _MISSING:
            raise BadConfig(f"backend.providers.AWSBatch.config.{key} is required")
        return default  # type: ignore[no-any-return]
    try:
        return check(raw)
    except ValueError as err:
        raise BadConfig(f"backend.providers.AWSBatch.config.{key}: {err}") from None


def _positive(value: Any) -> int:
    return values.integer(value, low=1)


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a non-empty string")
    return value


def _strategy(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:  # Cromwell also accepts a one-item list
        value = value[0]
    if value not in DUPLICATION_STRATEGIES:
        raise ValueError(f"{value!r} is not one of {', '.join(DUPLICATION_STRATEGIES)}")
    return str(value)


def _patterns(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{value!r} is not a list of ARN patterns")
    for item in value:
        if not isinstance(item, str) or not item.startswith("arn:"):
            raise ValueError(f"{item!r} is not an ARN pattern (arn:...; '*' and '?' wildcards)")
    return tuple(value)


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{value!r} is not a positive number of calls per second")
    return float(value)


def _submit_rates(config: Mapping[str, Any]) -> tuple[float, float, float]:
    """(start, floor, ceiling) of the SubmitJob rate; floor <= start <= ceiling."""
    start = _field(config, "submit-rate", _rate, 10.0)
    low = _field(config, "submit-rate-min", _rate, min(0.1, start))
    high = _field(config, "submit-rate-max", _rate, start)
    p = "backend.providers.AWSBatch.config"
    if low > start:
        raise BadConfig(f"{p}.submit-rate-min: {low} is above submit-rate {start}")
    if high < start:
        raise BadConfig(f"{p}.submit-rate-max: {high} is below submit-rate {start}")
    return start, low, high


def _array_mode(value: Any) -> str:
    if value not in ARRAY_JOB_MODES:
        raise ValueError(f"{value!r} is not one of {', '.join(ARRAY_JOB_MODES)}")
    return str(value)


def _array_min(value: Any) -> int:
    return values.integer(value, low=ARRAY_SIZE_MIN, high=ARRAY_SIZE_MAX)


def _dockerhub(config: Mapping[str, Any]) -> DockerHub:
    account = _field(config, "dockerhub.account", _string, None)
    token = _field(config, "dockerhub.token", _string, None)
    return DockerHub(account=account, token=Secret(token) if token else None)


def _mirror_block(config: Mapping[str, Any], key: str) -> tuple[bool, str | None]:
    enabled = _field(config, f"docker-mirror.{key}.enabled", values.boolean, False)
    address = _field(config, f"docker-mirror.{key}.address", _string, None)
    if enabled and not address:
        raise BadConfig(
            f"backend.providers.AWSBatch.config.docker-mirror.{key}.address is required "
            f"when docker-mirror.{key}.enabled is true"
        )
    return enabled, address.rstrip("/") if address else None


def _mirror(config: Mapping[str, Any]) -> DockerMirror:
    blocks = lookup(config, "docker-mirror", {})
    if isinstance(blocks, Mapping):
        known = {"dockerhub", *MIRRORED_REGISTRIES}
        for key in blocks:
            if key not in known:
                raise BadConfig(
                    f"backend.providers.AWSBatch.config.docker-mirror.{key}: unknown registry "
                    f"(known: {', '.join(sorted(known))})"
                )
    enabled, address = _mirror_block(config, "dockerhub")
    others = []
    for key, host in MIRRORED_REGISTRIES.items():
        on, other = _mirror_block(config, key)
        if on and other:
            others.append((host, other))
    return DockerMirror(enabled=enabled, address=address, others=tuple(others))


def _defaults(config: Mapping[str, Any]) -> Mapping[str, Any]:
    found = lookup(config, "default-runtime-attributes", {})
    if not isinstance(found, Mapping):
        raise BadConfig(
            "backend.providers.AWSBatch.config.default-runtime-attributes is not an object"
        )
    return dict(found)


def parse_settings(config: Mapping[str, Any]) -> AwsBatchSettings:
    """Validate the AWS Batch config subtree; ``BadConfig`` names the offending key."""
    if not isinstance(config, Mapping):
        raise BadConfig("backend.providers.AWSBatch.config is not an object")
    root_bucket, root_prefix = _field(config, "root", values.s3_uri)
    defaults = _defaults(config)
    rate, rate_min, rate_max = _submit_rates(config)
    return AwsBatchSettings(
        root_bucket=root_bucket,
        root_prefix=root_prefix,
        queue_arn=_field(config, "default-runtime-attributes.queueArn", values.queue_arn),
        script_bucket=_field(
            config, "default-runtime-attributes.scriptBucketName", values.bucket_name
        ),
        concurrent_job_limit=_field(config, "concurrent-job-limit", _positive, None),
        num_submit_attempts=_field(config, "numSubmitAttempts", _positive, 5),
        num_create_definition_attempts=_field(config, "numCreateDefinitionAttempts", _positive, 5),
        dockerhub=_dockerhub(config),
        docker_mirror=_mirror(config),
        s3_auth=_field(config, "filesystems.s3.auth", _string, "default"),
        duplication_strategy=_field(
            config, "filesystems.s3.caching.duplication-strategy", _strategy, "copy"
        ),
        allowed_job_role_arns=_field(config, "allowed-job-role-arns", _patterns, ()),
        default_job_role_arn=_field(config, "job-role-arn", values.role_arn, None),
        fallback_queue_arn=_field(config, "fallbackQueueArn", values.queue_arn, None),
        submit_rate=rate,
        submit_rate_min=rate_min,
        submit_rate_max=rate_max,
        default_runtime_attributes=defaults,
        array_jobs=_field(config, "array-jobs", _array_mode, "auto"),
        array_min_size=_field(config, "array-jobs-min-size", _array_min, ARRAY_SIZE_MIN),
    )
