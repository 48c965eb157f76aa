"""Network stack: the VPC (created or imported), its endpoints and the security groups."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.constructs.logging import log_group
from stacks.settings import Settings


class NetworkStack(cdk.Stack):
    """A VPC with public, private (NAT) and isolated subnets, or an imported one.

    Also owns the security groups other stacks connect through, so that the
    database can admit the engine without the two stacks depending on each other:
    ``engine_sg`` (the engine host), ``batch_sg`` (Batch hosts), ``api_clients_sg``
    (attach it to whatever may call the engine API through the internal load balancer)
    and ``endpoints_sg`` (interface endpoints: HTTPS from the engine and the hosts).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kw: Any):
        super().__init__(scope, construct_id, **kw)
        self.vpc = self._vpc(settings)

        self.engine_sg = ec2.SecurityGroup(
            self,
            "EngineSecurityGroup",
            vpc=self.vpc,
            description="Ironside engine host: no inbound except from the API load balancer",
            allow_all_outbound=True,
        )
        self.batch_sg = ec2.SecurityGroup(
            self,
            "BatchSecurityGroup",
            vpc=self.vpc,
            description="Ironside Batch hosts: no inbound; outbound for S3, ECR and AWS APIs",
            allow_all_outbound=True,
        )
        self.api_clients_sg = ec2.SecurityGroup(
            self,
            "ApiClientsSecurityGroup",
            vpc=self.vpc,
            description="Attach to hosts that may call the Ironside API load balancer",
            allow_all_outbound=True,
        )
        self.endpoints_sg = ec2.SecurityGroup(
            self,
            "EndpointsSecurityGroup",
            vpc=self.vpc,
            description="Ironside interface endpoints: HTTPS from the engine and Batch hosts",
            allow_all_outbound=False,
        )
        for source, name in ((self.engine_sg, "engine"), (self.batch_sg, "Batch hosts")):
            self.endpoints_sg.add_ingress_rule(source, ec2.Port.tcp(443), f"HTTPS from {name}")
        self._endpoints(settings)

    def _vpc(self, settings: Settings) -> ec2.IVpc:
        existing = settings.existing_vpc
        if existing is not None:
            return ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=existing.vpc_id,
                vpc_cidr_block=existing.cidr,
                availability_zones=list(existing.availability_zones),
                public_subnet_ids=list(existing.public_subnet_ids) or None,
                private_subnet_ids=list(existing.private_subnet_ids),
                private_subnet_route_table_ids=list(existing.private_route_table_ids) or None,
                isolated_subnet_ids=list(existing.isolated_subnet_ids),
            )
        flow_logs = log_group(self, "FlowLogs", settings)
        return ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=settings.max_azs,
            nat_gateways=settings.nat_gateways,
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19
                ),
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )

    def _endpoints(self, settings: Settings) -> None:
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        if settings.s3_endpoint:
            self.vpc.add_gateway_endpoint(
                "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[private]
            )
        interface: list[tuple[str, ec2.InterfaceVpcEndpointAwsService]] = []
        if settings.ecr_endpoints:
            interface += [
                ("EcrApiEndpoint", ec2.InterfaceVpcEndpointAwsService.ECR),
                ("EcrDkrEndpoint", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ]
        if settings.logs_endpoint:
            interface.append(("LogsEndpoint", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS))
        if settings.ecs_endpoints:
            interface += [
                ("EcsEndpoint", ec2.InterfaceVpcEndpointAwsService.ECS),
                ("EcsAgentEndpoint", ec2.InterfaceVpcEndpointAwsService.ECS_AGENT),
                ("EcsTelemetryEndpoint", ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY),
            ]
        if settings.batch_endpoint:
            interface.append(("BatchEndpoint", ec2.InterfaceVpcEndpointAwsService.BATCH))
        if settings.secrets_manager_endpoint:
            interface.append(
                ("SecretsManagerEndpoint", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER)
            )
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for endpoint_id, service in interface:
            self.interface_endpoints[endpoint_id] = self.vpc.add_interface_endpoint(
                endpoint_id,
                service=service,
                subnets=private,
                private_dns_enabled=True,
                open=False,
                security_groups=[self.endpoints_sg],
            )
