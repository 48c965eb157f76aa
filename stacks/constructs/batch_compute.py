"""Batch compute: the host launch template, Spot and On-Demand environments, two queues."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
import jsii
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

#: The root device of the ECS-optimized Amazon Linux 2023 AMI.
ROOT_DEVICE = "/dev/xvda"


@jsii.implements(ec2.IMachineImage)
class FixedImage:
    """A machine image given by its AMI id (a custom Batch AMI)."""

    def __init__(self, ami_id: str) -> None:
        self.ami_id = ami_id

    def get_image(self, scope: Construct) -> ec2.MachineImageConfig:
        """The image config for ``scope`` (same id everywhere)."""
        return ec2.MachineImageConfig(
            image_id=self.ami_id,
            os_type=ec2.OperatingSystemType.LINUX,
            user_data=ec2.UserData.for_linux(),
        )


@dataclass(frozen=True)
class BatchComputeProps:
    """Props of :class:`BatchCompute`.

    Attributes:
        vpc, subnets, security_group: where hosts run.
        instance_role: the hosts' role.
        user_data: the MIME multi-part user data (text; tokens allowed).
        instance_types: instance families or types (e.g. ``m6i``, ``c6i.2xlarge``).
        default_queue_name, priority_queue_name: queue names.
        spot_min_vcpus, spot_max_vcpus, on_demand_min_vcpus, on_demand_max_vcpus: sizes.
        spot_allocation_strategy: a ``batch.AllocationStrategy`` value name
            (default ``SPOT_PRICE_CAPACITY_OPTIMIZED``).
        spot_bid_percentage: max Spot price as % of On-Demand (default 100).
        ami_id: custom AMI; ``None`` (default): the ECS-optimized Amazon Linux 2023 AMI,
            which Batch picks for the environment's architecture (all its instance types
            share one: the settings refuse a mix).
        root_volume_gib: encrypted gp3 root volume (default 50).
        gpu_instance_types: GPU families or types of an On-Demand GPU environment (ECS
            GPU AMI, ``ECS_AL2023_NVIDIA``) and its queue; empty (default): none.
        gpu_max_vcpus: maximum vCPUs of the GPU environment (default 64).
        gpu_queue_name: name of the GPU queue (default ``gpu``).
        runnable_timeout: a job RUNNABLE this long for a reason Batch can name (no instance
            type fits it, the environments' maxvCpus are too small, no capacity) is
            cancelled with that reason (``jobStateTimeLimitActions``; default 4 hours).
    """

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup
    instance_role: iam.IRole
    user_data: str
    instance_types: Sequence[str]
    default_queue_name: str
    priority_queue_name: str
    spot_min_vcpus: int = 0
    spot_max_vcpus: int = 256
    on_demand_min_vcpus: int = 0
    on_demand_max_vcpus: int = 64
    spot_allocation_strategy: str = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    spot_bid_percentage: int = 100
    ami_id: str | None = None
    root_volume_gib: int = 50
    gpu_instance_types: Sequence[str] = ()
    gpu_max_vcpus: int = 64
    gpu_queue_name: str = "gpu"
    runnable_timeout: cdk.Duration = cdk.Duration.hours(4)


class BatchCompute(Construct):
    """``launch_template``, ``spot`` and ``on_demand`` environments, ``default_queue``
    (Spot first, then On-Demand), ``priority_queue`` (On-Demand) and, with GPU instance
    types, ``gpu`` and ``gpu_queue`` (else ``None``)."""

    def __init__(self, scope: Construct, construct_id: str, props: BatchComputeProps) -> None:
        super().__init__(scope, construct_id)
        self.launch_template = ec2.LaunchTemplate(
            self,
            "HostTemplate",
            user_data=ec2.UserData.custom(props.user_data),
            require_imdsv2=True,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            # 1 hop: task containers cannot reach the host's metadata (they use their job role).
            http_put_response_hop_limit=1,
            instance_initiated_shutdown_behavior=ec2.InstanceInitiatedShutdownBehavior.TERMINATE,
            block_devices=[
                ec2.BlockDevice(
                    device_name=ROOT_DEVICE,
                    volume=ec2.BlockDeviceVolume.ebs(
                        props.root_volume_gib,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        image = batch.EcsMachineImage(
            image=FixedImage(props.ami_id) if props.ami_id else None,
            image_type=batch.EcsMachineImageType.ECS_AL2023,
        )

        gpu_image = batch.EcsMachineImage(image_type=batch.EcsMachineImageType.ECS_AL2023_NVIDIA)

        def environment(
            name: str, spot: bool, gpu: bool = False
        ) -> batch.ManagedEc2EcsComputeEnvironment:
            return batch.ManagedEc2EcsComputeEnvironment(
                self,
                name,
                vpc=props.vpc,
                vpc_subnets=props.subnets,
                security_groups=[props.security_group],
                instance_role=props.instance_role,
                launch_template=self.launch_template,
                images=[gpu_image if gpu else image],
                # Families ("m6i") are valid for Batch but not for ec2.InstanceType:
                # the list is set on the resource below.
                use_optimal_instance_classes=True,
                spot=spot,
                allocation_strategy=(
                    batch.AllocationStrategy[props.spot_allocation_strategy]
                    if spot
                    else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE
                ),
                spot_bid_percentage=props.spot_bid_percentage if spot else None,
                minv_cpus=0 if gpu else props.spot_min_vcpus if spot else props.on_demand_min_vcpus,
                maxv_cpus=(
                    props.gpu_max_vcpus
                    if gpu
                    else props.spot_max_vcpus
                    if spot
                    else props.on_demand_max_vcpus
                ),
                update_to_latest_image_version=True,
                replace_compute_environment=False,
                update_timeout=cdk.Duration.minutes(30),
            )

        self.spot = environment("Spot", spot=True)
        self.on_demand = environment("OnDemand", spot=False)
        self.gpu = environment("Gpu", spot=False, gpu=True) if props.gpu_instance_types else None
        for env, types in (
            (self.spot, props.instance_types),
            (self.on_demand, props.instance_types),
            (self.gpu, props.gpu_instance_types),
        ):
            if env is None:
                continue
            cfn = env.node.default_child
            assert isinstance(cfn, batch.CfnComputeEnvironment)
            cfn.add_property_override("ComputeResources.InstanceTypes", list(types))
            # A pinned version (not $Default): new user data reaches the environments
            # through CloudFormation as an infrastructure update.
            cfn.add_property_override(
                "ComputeResources.LaunchTemplate.Version",
                self.launch_template.latest_version_number,
            )
        # Jobs that cannot be placed fail with Batch's reason instead of waiting forever
        # (for ECS queues the only action is CANCEL).
        time_limits = [
            batch.JobStateTimeLimitAction(
                action=batch.JobStateTimeLimitActionsAction.CANCEL,
                max_time=props.runnable_timeout,
                reason=reason,
                state=batch.JobStateTimeLimitActionsState.RUNNABLE,
            )
            for reason in (
                batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
                batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
                batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
            )
        ]

        def queue(
            construct_id: str,
            name: str,
            priority: int,
            *environments: batch.ManagedEc2EcsComputeEnvironment,
        ) -> batch.JobQueue:
            return batch.JobQueue(
                self,
                construct_id,
                job_queue_name=name,
                job_state_time_limit_actions=time_limits,
                priority=priority,
                compute_environments=[
                    batch.OrderedComputeEnvironment(compute_environment=env, order=order)
                    for order, env in enumerate(environments, start=1)
                ],
            )

        self.default_queue = queue(
            "DefaultQueue", props.default_queue_name, 1, self.spot, self.on_demand
        )
        self.priority_queue = queue("PriorityQueue", props.priority_queue_name, 10, self.on_demand)
        self.gpu_queue = (
            queue("GpuQueue", props.gpu_queue_name, 5, self.gpu) if self.gpu is not None else None
        )

    def instance_profile_arns(self) -> list[str]:
        """ARNs of the instance profiles the environments create for the instance role."""
        arns = []
        for environment in (self.spot, self.on_demand, self.gpu):
            if environment is None:
                continue
            profile = environment.node.try_find_child("InstanceProfile")
            if isinstance(profile, iam.CfnInstanceProfile):
                arns.append(profile.attr_arn)
        return arns
