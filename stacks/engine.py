"""Engine stack: the Ironside server host, its API token, its host policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from stacks import checkov, nag
from stacks.artifacts import ENGINE_ARTIFACTS_DIR
from stacks.constructs.engine_api import EngineApi, EngineApiProps
from stacks.constructs.engine_config import EngineConfigValues, render_engine_config
from stacks.constructs.engine_host import EngineHost, EngineHostProps
from stacks.constructs.logging import SERVICE_KEY_REASON, kit_key
from stacks.constructs.rds_ca_asset import RdsCaAsset
from stacks.constructs.wheel_asset import WheelAsset, WheelAssetProps
from stacks.constructs.wheelhouse_asset import WheelhouseAsset
from stacks.roles.access import object_arn
from stacks.settings import Settings, architecture
from stacks.wheelhouse import engine_wheelhouse

#: The engine distribution built into the wheel.
RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
#: The API port on the host.
ENGINE_PORT = 8000


class EngineStack(cdk.Stack):
    """``host`` (:class:`EngineHost`), ``api_token`` and the shipped wheel."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        api_clients_sg: ec2.ISecurityGroup,
        role: iam.IRole,
        job_role: iam.IRole,
        default_queue: batch.IJobQueue,
        priority_queue: batch.IJobQueue,
        database_secret: sm.ISecret,
        mirrors: dict[str, str],
        gpu_queue: batch.IJobQueue | None = None,
        **kw: Any,
    ):
        super().__init__(scope, construct_id, **kw)
        self.api_token = sm.Secret(
            self,
            "ApiToken",
            secret_name=f"{settings.name_prefix}/engine-api-token",
            description="Bearer token of the Ironside engine API",
            generate_secret_string=sm.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
            encryption_key=kit_key(self, settings),
        )
        if settings.kms_key_arn is None:
            checkov.skip(self.api_token, SERVICE_KEY_REASON, "CKV_AWS_149")
        engine_wheel = WheelAsset(self, "Runtime", WheelAssetProps(project=RUNTIME_DIR))
        self.wheel = engine_wheel.asset
        # The engine's dependencies, pinned and hashed, for the host's architecture.
        self.wheelhouse = WheelhouseAsset(
            self, "Dependencies", engine_wheelhouse(architecture(settings.engine_instance_type))
        )
        self.rds_ca = RdsCaAsset(self, "RdsCa")
        self.artifacts = s3_assets.Asset(
            self,
            "Artifacts",
            path=str(ENGINE_ARTIFACTS_DIR),
            exclude=["__pycache__", "*.pyc"],
            # install_wheelhouse.sh is a link to the Batch hosts' copy: ship the file.
            follow_symlinks=cdk.SymlinkFollowMode.ALWAYS,
        )
        log_group = settings.log_group_names["engine"]
        log_group_arn = self.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{log_group}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        config = render_engine_config(
            EngineConfigValues(
                root=f"s3://{settings.bucket_name('results')}/executions",
                default_queue_arn=default_queue.job_queue_arn,
                priority_queue_arn=priority_queue.job_queue_arn,
                scripts_bucket=settings.bucket_name("scripts"),
                jobs_log_group=settings.log_group_names["jobs"],
                mirrors=mirrors,
                gpu_queue_arn=gpu_queue.job_queue_arn if gpu_queue else None,
                default_job_role_arn=job_role.role_arn,
                allowed_job_role_arns=settings.allowed_job_role_arns,
                port=ENGINE_PORT,
            )
        )
        self.host = EngineHost(
            self,
            "Host",
            EngineHostProps(
                vpc=vpc,
                security_group=security_group,
                role=role,
                instance_type=settings.engine_instance_type,
                asg_name=settings.engine_asg_name,
                wheel=self.wheel,
                artifacts=self.artifacts,
                config=config,
                host_env={
                    "IRONSIDE_REGION": self.region,
                    "AWS_DEFAULT_REGION": self.region,
                    "IRONSIDE_PORT": str(ENGINE_PORT),
                    "IRONSIDE_WHEEL_URL": self.wheel.s3_object_url,
                    "IRONSIDE_WHEEL_NAME": engine_wheel.wheel_name,
                    "IRONSIDE_WHEEL_SHA256": engine_wheel.sha256,
                    "IRONSIDE_WHEELHOUSE_URL": self.wheelhouse.asset.s3_object_url,
                    "IRONSIDE_WHEELHOUSE_SHA256": self.wheelhouse.manifest_sha256,
                    "IRONSIDE_RDS_CA_URL": self.rds_ca.asset.s3_object_url,
                    "IRONSIDE_RDS_CA_SHA256": self.rds_ca.sha256,
                    "IRONSIDE_LOG_GROUP": log_group,
                    "IRONSIDE_ASG_NAME": settings.engine_asg_name,
                    "IRONSIDE_DATABASE_SECRET_ARN": database_secret.secret_arn,
                    "IRONSIDE_API_TOKEN_SECRET_ARN": self.api_token.secret_arn,
                },
            ),
        )
        self.api: EngineApi | None = None
        if settings.engine_load_balancer:
            self.api = EngineApi(
                self,
                "Api",
                EngineApiProps(
                    vpc=vpc,
                    group=self.host.group,
                    engine_sg=security_group,
                    clients_sg=api_clients_sg,
                    port=ENGINE_PORT,
                    certificate_arn=settings.engine_certificate_arn,
                ),
            )
            cdk.CfnOutput(
                self,
                "EngineApiUrl",
                value=self.api.url,
                description="The engine API through its internal load balancer (DNS name)",
            )
        # Host-only permissions live here, next to what they name, so the IAM stack
        # does not depend on this one.
        host_policy = iam.Policy(
            self,
            "HostPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadAssets",
                    actions=["s3:GetObject"],
                    resources=[
                        object_arn(a.s3_bucket_name, a.s3_object_key)
                        for a in (
                            self.wheel,
                            self.wheelhouse.asset,
                            self.rds_ca.asset,
                            self.artifacts,
                        )
                    ],
                ),
                iam.PolicyStatement(
                    sid="ReadApiToken",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=[self.api_token.secret_arn],
                ),
                iam.PolicyStatement(
                    sid="SignalDeployment",
                    # bootstrap.sh signals the group's creation/update policy.
                    actions=["cloudformation:SignalResource"],
                    resources=[self.stack_id],
                ),
                iam.PolicyStatement(
                    sid="SelfHealing",
                    actions=["autoscaling:SetInstanceHealth"],
                    resources=[
                        self.format_arn(
                            service="autoscaling",
                            resource="autoScalingGroup",
                            resource_name=f"*:autoScalingGroupName/{settings.engine_asg_name}",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                ),
                iam.PolicyStatement(
                    sid="ShipLogs",
                    actions=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="AgentMetrics",
                    # PutMetricData has no resource type; limited to the agent's namespace.
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": "CWAgent"}},
                ),
            ],
        )
        nag.acknowledge(
            host_policy,
            "cloudwatch:PutMetricData has no resource type; it is limited to the CWAgent "
            "namespace by condition",
            nag.resource("*"),
        )
        nag.acknowledge(
            host_policy,
            "The group's ARN embeds a UUID unknown before creation; the name part pins it "
            "to the engine's own group",
            nag.resource(
                nag.regional_arn(
                    "autoscaling",
                    f"autoScalingGroup:*:autoScalingGroupName/{settings.engine_asg_name}",
                )
            ),
        )
        nag.acknowledge(
            host_policy,
            "The CloudWatch agent creates one stream per instance in the engine log group",
            nag.resource(nag.regional_arn("logs", f"log-group:{log_group}:*")),
        )
        nag.acknowledge(
            self.api_token,
            "The API token is handed to users out of band; rotating it automatically would "
            "lock every client out (rotate by redeploying with a new secret)",
            "AwsSolutions-SMG4",
        )
        cdk.CfnOutput(
            self,
            "EngineAutoScalingGroupName",
            value=self.host.group.auto_scaling_group_name,
            description="The engine host's Auto Scaling group",
        )
        cdk.CfnOutput(
            self, "EnginePort", value=str(ENGINE_PORT), description="Port of the engine API"
        )
        nag.acknowledge(
            self.host.group,
            "Instance replacements are visible through the engine-unhealthy alarm on "
            "GroupInServiceInstances; no separate ASG notification topic is needed",
            "AwsSolutions-AS3",
        )
