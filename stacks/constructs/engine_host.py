"""The engine host: one EC2 instance in a self-healing Auto Scaling group, SSM only."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.settings import architecture

#: Where the user data writes the rendered HOCON config.
CONFIG_PATH = "/etc/ironside/ironside.conf"
#: Environment of the host scripts.
HOST_ENV_PATH = "/etc/ironside/host.env"


@dataclass(frozen=True)
class EngineHostProps:
    """Props of :class:`EngineHost`.

    Attributes:
        vpc, security_group, role: where and as whom the engine runs (private subnets).
        instance_type: e.g. ``t3.medium``.
        asg_name: fixed Auto Scaling group name (the dashboard and alarm use it).
        wheel: asset holding the engine wheel (zip with one ``*.whl``).
        artifacts: asset holding ``stacks/artifacts/engine`` (bootstrap, units, agent config).
        config: the rendered HOCON config.
        host_env: ``KEY=value`` lines for ``/etc/ironside/host.env``.
        root_volume_gib: encrypted gp3 root volume (default 30).
        signal_timeout: how long CloudFormation waits for the host's success signal
            (sent once ``/engine/v1/status`` answers; default 30 minutes).
    """

    vpc: ec2.IVpc
    security_group: ec2.ISecurityGroup
    role: iam.IRole
    instance_type: str
    asg_name: str
    wheel: s3_assets.Asset
    artifacts: s3_assets.Asset
    config: str
    host_env: dict[str, str]
    root_volume_gib: int = 30
    signal_timeout: cdk.Duration = cdk.Duration.minutes(30)


class EngineHost(Construct):
    """``launch_template``, ``group`` (min = max = 1) and the ``user_data``.

    The group has a creation policy and a rolling update policy (one instance at a time,
    none kept in service: one engine owns the database) that wait for the host's
    signal, which ``bootstrap.sh`` sends after ``/engine/v1/status`` answers: a host that
    fails to boot fails the deployment and CloudFormation rolls back. (A rolling update
    replaces instances, never the group, whose name is fixed.)
    """

    def __init__(self, scope: Construct, construct_id: str, props: EngineHostProps) -> None:
        super().__init__(scope, construct_id)
        self.user_data = ec2.UserData.for_linux()
        self.launch_template = ec2.LaunchTemplate(
            self,
            "Template",
            instance_type=ec2.InstanceType(props.instance_type),
            # The AMI of the instance type's architecture (Graviton types need arm64).
            machine_image=ec2.MachineImage.latest_amazon_linux2023(
                cpu_type=(
                    ec2.AmazonLinuxCpuType.ARM_64
                    if architecture(props.instance_type) == "arm64"
                    else ec2.AmazonLinuxCpuType.X86_64
                )
            ),
            role=props.role,
            security_group=props.security_group,
            user_data=self.user_data,
            require_imdsv2=True,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        props.root_volume_gib,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=props.asg_name,
            vpc=props.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            launch_template=self.launch_template,
            min_capacity=1,
            max_capacity=1,
            health_checks=autoscaling.HealthChecks.ec2(grace_period=cdk.Duration.minutes(15)),
            group_metrics=[autoscaling.GroupMetrics.all()],
        )
        # The policies are set on the resource, not with the construct's ``signals``: that
        # would grant cloudformation:SignalResource in the role's own (IAM) stack, on the
        # wrong stack id. The engine stack grants it on itself (``SignalDeployment``).
        stack = cdk.Stack.of(self)
        cfn_group = self.group.node.default_child
        assert isinstance(cfn_group, autoscaling.CfnAutoScalingGroup)
        timeout = props.signal_timeout.to_iso_string()
        cfn_group.cfn_options.creation_policy = cdk.CfnCreationPolicy(
            resource_signal=cdk.CfnResourceSignal(count=1, timeout=timeout)
        )
        cfn_group.cfn_options.update_policy = cdk.CfnUpdatePolicy(
            auto_scaling_rolling_update=cdk.CfnAutoScalingRollingUpdate(
                max_batch_size=1,
                min_instances_in_service=0,
                wait_on_resource_signals=True,
                pause_time=timeout,
                suspend_processes=[
                    "HealthCheck",
                    "ReplaceUnhealthy",
                    "AZRebalance",
                    "AlarmNotification",
                    "ScheduledActions",
                ],
            )
        )
        # The user data renders lazily: the group's own logical id can go into it.
        self.signal_resource = stack.resolve(cfn_group.logical_id)
        host_env = {
            **props.host_env,
            "IRONSIDE_STACK_NAME": stack.stack_name,
            "IRONSIDE_SIGNAL_RESOURCE": self.signal_resource,
        }
        env_lines = "\n".join(f"{key}={value}" for key, value in host_env.items())
        self.user_data.add_commands(
            "set -Eeuo pipefail",
            "install -d -m 0755 /etc/ironside",
            f"cat >{HOST_ENV_PATH} <<'IRONSIDE_ENV'\n{env_lines}\nIRONSIDE_ENV",
            f"cat >{CONFIG_PATH} <<'IRONSIDE_CONF'\n{props.config}IRONSIDE_CONF",
            "artifacts=$(mktemp -d)",
            f"aws s3 cp --only-show-errors {props.artifacts.s3_object_url} $artifacts/engine.zip",
            "cd $artifacts && python3 -m zipfile -e engine.zip engine",
            "bash $artifacts/engine/bootstrap.sh",
        )
