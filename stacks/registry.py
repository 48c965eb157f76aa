"""Registry stack: ECR pull-through caches for Docker Hub and ECR Public."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from stacks.settings import PULL_THROUGH_SECRET_PREFIX, Settings

#: Untagged cached images are dropped after this many days; tagged ones are kept.
UNTAGGED_IMAGE_DAYS = 14


class RegistryStack(cdk.Stack):
    """Pull-through cache rules and the repository creation template for cached repos.

    ``docker_hub_prefix`` / ``ecr_public_prefix`` are the ECR repository prefixes;
    ``docker_hub_mirror`` is the address handed to the engine's ``docker-mirror``
    config (``<account>.dkr.ecr.<region>.<suffix>/<prefix>``); ``repository_arn_patterns``
    covers every repository the caches create (for IAM).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kw: Any):
        super().__init__(scope, construct_id, **kw)
        self.docker_hub_prefix = settings.name("docker-hub")
        self.ecr_public_prefix = settings.name("ecr-public")

        if settings.docker_hub_secret_arn:
            secret = sm.Secret.from_secret_complete_arn(
                self, "DockerHubCredentials", settings.docker_hub_secret_arn
            )
        else:
            created = sm.Secret(
                self,
                "DockerHubCredentials",
                secret_name=f"{PULL_THROUGH_SECRET_PREFIX}{settings.name('docker-hub')}",
                description=(
                    "Docker Hub credentials for the ECR pull-through cache: replace username "
                    "and accessToken with a Docker Hub user and access token"
                ),
                generate_secret_string=sm.SecretStringGenerator(
                    secret_string_template=json.dumps({"username": "REPLACE_ME"}),
                    generate_string_key="accessToken",
                ),
            )
            cdk.Validations.of(created).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-SMG4",
                    reason=(
                        "Holds a Docker Hub access token, which only Docker Hub can issue or "
                        "rotate; a Secrets Manager rotation Lambda cannot mint one"
                    ),
                )
            )
            secret = created
        self.docker_hub_secret = secret

        self.docker_hub_rule = ecr.CfnPullThroughCacheRule(
            self,
            "DockerHubCache",
            ecr_repository_prefix=self.docker_hub_prefix,
            upstream_registry="docker-hub",
            upstream_registry_url="registry-1.docker.io",
            credential_arn=secret.secret_arn,
        )
        self.ecr_public_rule = ecr.CfnPullThroughCacheRule(
            self,
            "EcrPublicCache",
            ecr_repository_prefix=self.ecr_public_prefix,
            upstream_registry="ecr-public",
            upstream_registry_url="public.ecr.aws",
        )
        lifecycle = {
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
        for prefix, name in (
            (self.docker_hub_prefix, "DockerHub"),
            (self.ecr_public_prefix, "EcrPublic"),
        ):
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
                lifecycle_policy=json.dumps(lifecycle),
                resource_tags=[
                    cdk.CfnTag(key="ironside:cache", value=prefix),
                ],
            )

        registry = f"{self.account}.dkr.ecr.{self.region}.{self.url_suffix}"
        self.docker_hub_mirror = f"{registry}/{self.docker_hub_prefix}"
        self.ecr_public_mirror = f"{registry}/{self.ecr_public_prefix}"
        self.repository_arn_patterns = [
            self.format_arn(service="ecr", resource="repository", resource_name=f"{prefix}/*")
            for prefix in (self.docker_hub_prefix, self.ecr_public_prefix)
        ]
