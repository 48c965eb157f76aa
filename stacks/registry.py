"""Registry stack: ECR pull-through caches for ECR Public, Quay, and (with credentials)
Docker Hub and GitHub Container Registry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from stacks.settings import Settings

#: Untagged cached images are dropped after this many days; tagged ones are kept.
UNTAGGED_IMAGE_DAYS = 14


@dataclass(frozen=True)
class Upstream:
    """One upstream registry a pull-through rule caches.

    Attributes:
        mirror_key: the engine's ``docker-mirror.<key>`` (``ironside.backends.aws_batch``).
        upstream_registry: ECR's ``upstreamRegistry`` value.
        url: ECR's ``upstreamRegistryUrl``.
        prefix_suffix: the ECR repository prefix is ``<namePrefix>-<suffix>``.
    """

    mirror_key: str
    upstream_registry: str
    url: str
    prefix_suffix: str


ECR_PUBLIC = Upstream("ecr-public", "ecr-public", "public.ecr.aws", "ecr-public")
QUAY = Upstream("quay", "quay", "quay.io", "quay")
DOCKER_HUB = Upstream("dockerhub", "docker-hub", "registry-1.docker.io", "docker-hub")
GHCR = Upstream("ghcr", "github-container-registry", "ghcr.io", "ghcr")


class RegistryStack(cdk.Stack):
    """Pull-through cache rules and a repository creation template for each.

    ECR Public and Quay need no credentials and always get a rule; Docker Hub and GHCR
    only with their secret (``dockerHubSecretArn``, ``ghcrSecretArn``): without one, no
    rule and no mirror, and their images come straight from the upstream through the
    NAT. ``mirrors`` maps each engine ``docker-mirror`` key to its address
    (``<account>.dkr.ecr.<region>.<suffix>/<prefix>``); ``cache_prefixes`` are the ECR
    repository prefixes (for IAM). The creation templates set no resource tags and no
    KMS key, so ECR needs no custom role for them (ECR User Guide, repository creation
    templates).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kw: Any):
        super().__init__(scope, construct_id, **kw)
        upstreams: list[tuple[Upstream, str | None]] = [(ECR_PUBLIC, None), (QUAY, None)]
        if settings.docker_hub_secret_arn:
            upstreams.append((DOCKER_HUB, settings.docker_hub_secret_arn))
        if settings.ghcr_secret_arn:
            upstreams.append((GHCR, settings.ghcr_secret_arn))
        registry = f"{self.account}.dkr.ecr.{self.region}.{self.url_suffix}"
        self.mirrors: dict[str, str] = {}
        self.cache_prefixes: list[str] = []
        self.secret_arns = [arn for _, arn in upstreams if arn]
        for upstream, credential_arn in upstreams:
            prefix = settings.name(upstream.prefix_suffix)
            name = "".join(part.title() for part in upstream.prefix_suffix.split("-"))
            ecr.CfnPullThroughCacheRule(
                self,
                f"{name}Cache",
                ecr_repository_prefix=prefix,
                upstream_registry=upstream.upstream_registry,
                upstream_registry_url=upstream.url,
                credential_arn=credential_arn,
            )
            ecr.CfnRepositoryCreationTemplate(
                self,
                f"{name}Template",
                prefix=prefix,
                applied_for=["PULL_THROUGH_CACHE"],
                description=f"Repositories the {prefix} pull-through cache creates",
                encryption_configuration=ecr.CfnRepositoryCreationTemplate.EncryptionConfigurationProperty(
                    encryption_type="AES256"
                ),
                image_tag_mutability="MUTABLE",
                lifecycle_policy=json.dumps(_LIFECYCLE),
            )
            self.mirrors[upstream.mirror_key] = f"{registry}/{prefix}"
            self.cache_prefixes.append(prefix)
        self.repository_arn_patterns = [
            self.format_arn(service="ecr", resource="repository", resource_name=f"{prefix}/*")
            for prefix in self.cache_prefixes
        ]


_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": f"expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_IMAGE_DAYS,
            },
            "action": {"type": "expire"},
        }
    ]
}
