"""Typed, validated settings of the pipeline, read once from CDK context.

The pipeline reads these ``ironside:*`` context keys (commit them in ``cdk.json``: the
pipeline's own synth step reads the same file, so ``-c`` values would be lost on the first
push):

``pipelineSource``
    ``connection`` (GitHub, GitLab or Bitbucket through CodeConnections), ``codecommit`` or
    ``s3``. Required.
``pipelineConnectionArn``
    With ``connection``: the CodeConnections (or CodeStar Connections) connection ARN.
``pipelineRepository``
    With ``connection``: ``owner/name``; with ``codecommit``: the repository name.
``pipelineBranch``
    With ``connection`` and ``codecommit``: the branch to follow (default ``main``).
``pipelineBucket``, ``pipelineObjectKey``
    With ``s3``: the versioned bucket and the key of the zipped source.
``pipelineAccount``, ``pipelineRegion``
    Where the pipeline stack lives (default: environment-agnostic, the CLI's account and
    region). Required when a stage names an account.
``staging``, ``production``
    Objects with the stage's ``account`` and ``region`` (both optional; the account, if
    given, must be the pipeline's: the rollout steps run with its credentials) and
    overrides of any kit setting (``namePrefix``, ``spotMaxVcpus``, ...). Staging defaults
    to the kit's ``namePrefix`` plus ``-stg`` so both stages fit in one account.

A missing or malformed value raises :class:`PipelineSettingsError` naming the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from constructs import Node

from stacks.settings import KNOWN_KEYS, PREFIX, Settings, SettingsError

SOURCE_KINDS = ("connection", "codecommit", "s3")
#: The stages, in deployment order.
STAGE_NAMES = ("staging", "production")
#: Every context key the pipeline reads (without the ``ironside:`` prefix).
PIPELINE_KEYS = (
    "pipelineSource pipelineConnectionArn pipelineRepository pipelineBranch pipelineBucket "
    "pipelineObjectKey pipelineAccount pipelineRegion staging production"
).split()
#: Keys of a stage object that are not kit settings.
STAGE_ENV_KEYS = ("account", "region")

_CONNECTION_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z]{2}(-[a-z]+)+-\d:\d{12}:"
    r"connection/[0-9a-f-]{36}$"
)
_OWNER_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_CODECOMMIT_REPO_RE = re.compile(r"^[\w.-]{1,100}$")
_BRANCH_RE = re.compile(r"^(?!/)(?!.*(\.\.|//|@\{))[^\s~^:?*\[\\]{1,255}(?<![/.])$")
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_OBJECT_KEY_RE = re.compile(r"^[^\s/][^\s]{0,1023}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class PipelineSettingsError(SettingsError):
    """A pipeline context value is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class ConnectionSource:
    """A repository on GitHub, GitLab or Bitbucket reached through CodeConnections."""

    connection_arn: str
    repository: str
    """``owner/name``."""
    branch: str


@dataclass(frozen=True)
class CodeCommitSource:
    """A CodeCommit repository in the pipeline's account and region."""

    repository: str
    branch: str


@dataclass(frozen=True)
class S3Source:
    """A zipped source object in a versioned S3 bucket."""

    bucket: str
    object_key: str


Source = ConnectionSource | CodeCommitSource | S3Source


@dataclass(frozen=True)
class StageTarget:
    """One deployment of the kit: stage name, environment and the kit settings it uses."""

    name: str
    """``staging`` or ``production``; also the CDK stage id."""
    account: str | None
    """Target account; ``None``: the pipeline's account."""
    region: str | None
    """Target region; ``None``: the pipeline's region."""
    settings: Settings
    """The kit settings of this stage: the app's context plus the stage's overrides."""

    @property
    def env(self) -> cdk.Environment | None:
        """The CDK environment of the stage (``None`` when fully environment-agnostic)."""
        if self.account is None and self.region is None:
            return None
        return cdk.Environment(account=self.account, region=self.region)


@dataclass(frozen=True)
class PipelineSettings:
    """Everything configurable about the pipeline (see the module docstring for keys)."""

    source: Source
    """Where the code comes from (``pipelineSource`` and its keys)."""
    stages: tuple[StageTarget, ...]
    """The deployments, in order: staging, then production."""
    account: str | None = None
    """``pipelineAccount``: account of the pipeline stack (default: the CLI's)."""
    region: str | None = None
    """``pipelineRegion``: region of the pipeline stack (default: the CLI's)."""

    @property
    def pipeline_name(self) -> str:
        """Name of the CodePipeline: production's ``namePrefix`` plus ``-pipeline``."""
        return f"{self.stages[-1].settings.name_prefix}-pipeline"

    @property
    def env(self) -> cdk.Environment | None:
        """The CDK environment of the pipeline stack."""
        if self.account is None and self.region is None:
            return None
        return cdk.Environment(account=self.account, region=self.region)

    @classmethod
    def from_context(cls, node: Node) -> PipelineSettings:
        """Read and validate the pipeline's context keys (and the kit's, per stage)."""
        raw = {key: node.try_get_context(PREFIX + key) for key in PIPELINE_KEYS}
        kit = {key: node.try_get_context(PREFIX + key) for key in KNOWN_KEYS}
        return cls.from_mapping(
            {k: v for k, v in raw.items() if v is not None},
            {k: v for k, v in kit.items() if v is not None},
        )

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], kit: Mapping[str, Any] | None = None
    ) -> PipelineSettings:
        """Build from ``{key-without-prefix: raw value}`` and the kit's raw context values."""
        account = _optional(values, "pipelineAccount", _ACCOUNT_RE, "a 12-digit account id")
        region = _optional(values, "pipelineRegion", _REGION_RE, "a region name, e.g. eu-west-1")
        stages = tuple(_stage(values, name, dict(kit or {})) for name in STAGE_NAMES)
        settings = cls(_source(values), stages, account, region)
        _check_stages(settings)
        return settings


def _required(values: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    value = values.get(key)
    if value is None or value == "":
        raise PipelineSettingsError(key, f"required: {what}", value)
    if not isinstance(value, str) or not pattern.match(value):
        raise PipelineSettingsError(key, f"expected {what}", value)
    return value


def _optional(
    values: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str
) -> str | None:
    if values.get(key) in (None, ""):
        return None
    return _required(values, key, pattern, what)


def _branch(values: Mapping[str, Any]) -> str:
    branch = _optional(values, "pipelineBranch", _BRANCH_RE, "a git branch name")
    return branch or "main"


def _source(values: Mapping[str, Any]) -> Source:
    kind = values.get("pipelineSource")
    if kind is None or kind == "":
        raise PipelineSettingsError("pipelineSource", f"required: one of {SOURCE_KINDS}", kind)
    if kind == "connection":
        return ConnectionSource(
            connection_arn=_required(
                values,
                "pipelineConnectionArn",
                _CONNECTION_ARN_RE,
                "a connection ARN arn:aws:codeconnections:<region>:<account>:connection/<id>",
            ),
            repository=_required(values, "pipelineRepository", _OWNER_REPO_RE, "owner/name"),
            branch=_branch(values),
        )
    if kind == "codecommit":
        return CodeCommitSource(
            repository=_required(
                values, "pipelineRepository", _CODECOMMIT_REPO_RE, "a CodeCommit repository name"
            ),
            branch=_branch(values),
        )
    if kind == "s3":
        return S3Source(
            bucket=_required(values, "pipelineBucket", _BUCKET_RE, "an S3 bucket name"),
            object_key=_required(
                values, "pipelineObjectKey", _OBJECT_KEY_RE, "an object key, e.g. ironside.zip"
            ),
        )
    raise PipelineSettingsError("pipelineSource", f"expected one of {SOURCE_KINDS}", kind)


def _stage_object(values: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = values.get(name)
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise PipelineSettingsError(name, "expected a JSON object", value) from None
    if not isinstance(value, dict):
        raise PipelineSettingsError(name, "expected an object of settings", value)
    unknown = sorted(set(value) - set(KNOWN_KEYS) - set(STAGE_ENV_KEYS))
    if unknown:
        raise PipelineSettingsError(name, f"unknown settings {unknown}", value)
    return dict(value)


def _stage(values: Mapping[str, Any], name: str, kit: dict[str, Any]) -> StageTarget:
    overrides = _stage_object(values, name)
    try:
        account = _optional(overrides, "account", _ACCOUNT_RE, "a 12-digit account id")
        region = _optional(overrides, "region", _REGION_RE, "a region name")
    except PipelineSettingsError as exc:
        raise PipelineSettingsError(
            name, str(exc).removeprefix("context key "), overrides
        ) from None
    merged = {**kit, **{k: v for k, v in overrides.items() if k not in STAGE_ENV_KEYS}}
    if name == "staging" and "namePrefix" not in overrides:
        merged["namePrefix"] = f"{kit.get('namePrefix', Settings.name_prefix)}-stg"
    try:
        settings = Settings.from_mapping(merged)
    except SettingsError as exc:
        raise PipelineSettingsError(name, str(exc), overrides) from None
    return StageTarget(name=name, account=account, region=region, settings=settings)


def _check_stages(settings: PipelineSettings) -> None:
    seen: dict[tuple[str | None, str | None, str], str] = {}
    for stage in settings.stages:
        if stage.account is not None and settings.account is None:
            raise PipelineSettingsError(
                "pipelineAccount", f"required when {stage.name} names an account", None
            )
        if stage.account is not None and stage.account != settings.account:
            raise PipelineSettingsError(
                stage.name,
                "the rollout steps run with the pipeline account's credentials: a stage in "
                "another account is not supported yet",
                stage.account,
            )
        where = (stage.account or settings.account, stage.region or settings.region)
        place = (*where, stage.settings.name_prefix)
        if place in seen:
            raise PipelineSettingsError(
                stage.name,
                f"same account, region and namePrefix as {seen[place]}; resource names would clash",
                stage.settings.name_prefix,
            )
        seen[place] = stage.name
