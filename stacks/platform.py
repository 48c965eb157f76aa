"""The whole platform: every stack, wired through constructor props.

``add_platform(scope, settings)`` creates the stacks in ``scope`` (an ``App`` or a
``Stage``) and returns them; ``PlatformStage`` wraps that for CDK Pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from stacks.batch import BatchStack
from stacks.database import DatabaseStack
from stacks.engine import EngineStack
from stacks.iam import IamStack
from stacks.network import NetworkStack
from stacks.observability import ObservabilityStack
from stacks.registry import RegistryStack
from stacks.settings import Settings
from stacks.storage import StorageStack


@dataclass(frozen=True)
class Platform:
    """The stacks of one platform, in dependency order."""

    network: NetworkStack
    storage: StorageStack
    observability: ObservabilityStack
    registry: RegistryStack
    database: DatabaseStack
    batch: BatchStack
    iam: IamStack
    engine: EngineStack

    @property
    def stacks(self) -> list[cdk.Stack]:
        """All stacks, in dependency order."""
        return [
            self.network,
            self.storage,
            self.observability,
            self.registry,
            self.database,
            self.batch,
            self.iam,
            self.engine,
        ]


def add_platform(scope: Construct, settings: Settings, **stack_kw: Any) -> Platform:
    """Create every stack of the platform in ``scope``.

    Stack ids are ``<namePrefix>-<role>``. ``stack_kw`` (e.g. ``env``) goes to every
    stack; without an ``env`` the stacks are environment-agnostic and synthesize with
    no AWS credentials.
    """

    def sid(role: str) -> str:
        return settings.name(role)

    network = NetworkStack(scope, sid("network"), settings=settings, **stack_kw)
    storage = StorageStack(scope, sid("storage"), settings=settings, **stack_kw)
    observability = ObservabilityStack(scope, sid("observability"), settings=settings, **stack_kw)
    registry = RegistryStack(scope, sid("registry"), settings=settings, **stack_kw)
    database = DatabaseStack(
        scope,
        sid("database"),
        settings=settings,
        vpc=network.vpc,
        engine_sg=network.engine_sg,
        secrets_manager_endpoint=network.interface_endpoints.get("SecretsManagerEndpoint"),
        **stack_kw,
    )
    batch = BatchStack(
        scope,
        sid("batch"),
        settings=settings,
        vpc=network.vpc,
        security_group=network.batch_sg,
        cache_prefixes=registry.cache_prefixes,
        **stack_kw,
    )
    iam = IamStack(
        scope,
        sid("iam"),
        settings=settings,
        key_arn=storage.key_arn,
        queues=[
            q for q in (batch.default_queue, batch.priority_queue, batch.gpu_queue) if q is not None
        ],
        database_secret=database.secret,
        **stack_kw,
    )
    engine = EngineStack(
        scope,
        sid("engine"),
        settings=settings,
        vpc=network.vpc,
        security_group=network.engine_sg,
        api_clients_sg=network.api_clients_sg,
        role=iam.engine_role,
        job_role=iam.job_role,
        default_queue=batch.default_queue,
        priority_queue=batch.priority_queue,
        database_secret=database.secret,
        mirrors=registry.mirrors,
        gpu_queue=batch.gpu_queue,
        **stack_kw,
    )
    platform = Platform(network, storage, observability, registry, database, batch, iam, engine)
    # Buckets and log groups are addressed by their fixed names, not by reference:
    # these dependencies keep the deployment order.
    for consumer in (batch, iam, engine):
        consumer.add_stack_dependency(storage, "buckets are addressed by name")
        consumer.add_stack_dependency(observability, "log groups are addressed by name")
    for stack in platform.stacks:
        for key, value in {"ironside:platform": settings.name_prefix, **settings.tags}.items():
            cdk.Tags.of(stack).add(key, value)
    return platform


class PlatformStage(cdk.Stage):
    """A deployable unit of the whole platform (for CDK Pipelines).

    Settings are read from the stage's context unless given.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kw)
        self.settings = settings or Settings.from_context(self.node)
        self.platform = add_platform(self, self.settings)
