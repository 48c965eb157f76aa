"""Batch stack: the hosts' launch template and role, two compute environments, two queues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from launch_template.user_data import (
    HOST_ASSETS_DIR,
    HOST_ASSETS_EXCLUDE,
    UserDataOptions,
    build_user_data,
)
from stacks.aws_cli_bundle import check_bundle_dir
from stacks.constructs.batch_compute import BatchCompute, BatchComputeProps
from stacks.constructs.container_insights import ContainerInsights, ContainerInsightsProps
from stacks.constructs.wheelhouse_asset import WheelhouseAsset
from stacks.roles.access import object_arn
from stacks.roles.batch_instance_role import (
    BatchInstanceRoleProps,
    acknowledge_ebs_autoscale,
    batch_instance_role,
    ebs_autoscale_statements,
)
from stacks.settings import Settings, batch_machine_architectures
from stacks.wheelhouse import aws_cli_wheelhouse

#: Where tasks' working directories live on the hosts (managed by EBS autoscale).
SCRATCH_MOUNT = "/cromwell_root"


class BatchStack(cdk.Stack):
    """``compute`` (:class:`BatchCompute`), ``instance_role`` and the host assets.

    The hosts' user data comes from ``launch_template/`` (MIME multi-part); the host
    scripts directory ships as the ``HostAssets`` asset and the task containers' AWS CLI
    as the ``AwsCli`` wheelhouse asset (or ``AwsCliBundle``, the operator's v2 bundle),
    both read by the instance role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        cache_prefixes: list[str],
        **kw: Any,
    ):
        super().__init__(scope, construct_id, **kw)
        self.host_assets = s3_assets.Asset(
            self, "HostAssets", path=str(HOST_ASSETS_DIR), exclude=list(HOST_ASSETS_EXCLUDE)
        )
        self.aws_cli, aws_cli_sha256, aws_cli_kind = self._aws_cli(settings)
        self.instance_role = batch_instance_role(
            self,
            "InstanceRole",
            BatchInstanceRoleProps(cache_prefixes=cache_prefixes),
        )
        self.instance_role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadHostAssets",
                actions=["s3:GetObject"],
                resources=[
                    object_arn(asset.s3_bucket_name, asset.s3_object_key)
                    for asset in (self.host_assets, self.aws_cli)
                ],
            )
        )
        if settings.docker_hub_secret_arn:
            self.instance_role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadDockerHubCredentials",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[settings.docker_hub_secret_arn],
                )
            )
        user_data = build_user_data(
            UserDataOptions(
                host_assets_url=self.host_assets.s3_object_url,
                aws_cli_url=self.aws_cli.s3_object_url,
                aws_cli_sha256=aws_cli_sha256,
                aws_cli_kind=aws_cli_kind,
                region=self.region,
                host_log_group=settings.log_group_names["hosts"],
                docker_hub_secret_arn=settings.docker_hub_secret_arn,
                scratch_mount=SCRATCH_MOUNT,
            )
        )
        self.compute = BatchCompute(
            self,
            "Compute",
            BatchComputeProps(
                vpc=vpc,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                security_group=security_group,
                instance_role=self.instance_role,
                user_data=user_data,
                instance_types=settings.batch_instance_types,
                default_queue_name=settings.default_queue_name,
                priority_queue_name=settings.priority_queue_name,
                spot_min_vcpus=settings.spot_min_vcpus,
                spot_max_vcpus=settings.spot_max_vcpus,
                on_demand_min_vcpus=settings.on_demand_min_vcpus,
                on_demand_max_vcpus=settings.on_demand_max_vcpus,
                spot_allocation_strategy=settings.spot_allocation_strategy,
                spot_bid_percentage=settings.spot_bid_percentage,
                ami_id=settings.batch_ami_id,
                root_volume_gib=settings.batch_root_volume_gib,
                gpu_instance_types=settings.gpu_instance_types,
                gpu_max_vcpus=settings.gpu_max_vcpus,
                gpu_queue_name=settings.gpu_queue_name,
                runnable_timeout=cdk.Duration.minutes(settings.job_runnable_timeout_minutes),
            ),
        )
        autoscale = iam.Policy(
            self,
            "EbsAutoscalePolicy",
            statements=ebs_autoscale_statements(self, self.compute.instance_profile_arns()),
        )
        autoscale.attach_to_role(self.instance_role)
        self.default_queue = self.compute.default_queue
        self.priority_queue = self.compute.priority_queue
        self.gpu_queue = self.compute.gpu_queue
        acknowledge_ebs_autoscale(autoscale)
        if settings.container_insights:
            ContainerInsights(
                self,
                "ContainerInsights",
                ContainerInsightsProps(
                    compute_environment_arns=[
                        env.compute_environment_arn
                        for env in (self.compute.spot, self.compute.on_demand, self.compute.gpu)
                        if env is not None
                    ]
                ),
            )
        self._add_outputs()

    def _add_outputs(self) -> None:
        """What the pipeline's launch template rollout reads (``pipeline/rollout.py``)."""
        template = self.compute.launch_template
        assert template.launch_template_id is not None
        environments = [
            env.compute_environment_arn
            for env in (self.compute.spot, self.compute.on_demand, self.compute.gpu)
            if env is not None
        ]
        for output_id, value, description in (
            ("BatchLaunchTemplateId", template.launch_template_id, "Batch hosts' launch template"),
            (
                "BatchLaunchTemplateVersion",
                template.latest_version_number,
                "Latest version of the Batch hosts' launch template",
            ),
            (
                "BatchComputeEnvironmentArns",
                cdk.Fn.join(",", environments),
                "Compute environments using that template (Spot, On-Demand, GPU; comma-separated)",
            ),
        ):
            cdk.CfnOutput(self, output_id, value=value, description=description)

    def _aws_cli(self, settings: Settings) -> tuple[s3_assets.Asset, str, str]:
        """The task containers' AWS CLI: the operator's v2 bundle, else the wheelhouse.

        Returns the asset, the SHA-256 of its manifest and its kind for ``install.sh``.
        """
        if settings.aws_cli_bundle_dir is None:
            house = WheelhouseAsset(self, "AwsCli", aws_cli_wheelhouse())
            return house.asset, house.manifest_sha256, "wheelhouse"
        directory = Path(settings.aws_cli_bundle_dir)
        sha256 = check_bundle_dir(directory, batch_machine_architectures(settings))
        asset = s3_assets.Asset(
            self,
            "AwsCliBundle",
            path=str(directory),
            asset_hash=sha256,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
        )
        return asset, sha256, "bundle"
