"""An internal Application Load Balancer in front of the engine API (optional)."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from stacks import nag

#: The path the load balancer (and the host's own timer) health-checks.
HEALTH_PATH = "/engine/v1/status"


@dataclass(frozen=True)
class EngineApiProps:
    """Props of :class:`EngineApi`.

    Attributes:
        vpc: the platform VPC (the balancer goes into its private subnets).
        group: the engine's Auto Scaling group (registered as the target).
        engine_sg: the engine's security group (opened to the balancer only).
        clients_sg: security group of API clients; only it may reach the balancer.
        port: the engine's API port (default 8000).
        certificate_arn: ACM certificate for an HTTPS listener on 443 (TLS 1.2+), with
            port 80 only redirecting to it; ``None`` (default): HTTP on 80.
    """

    vpc: ec2.IVpc
    group: autoscaling.AutoScalingGroup
    engine_sg: ec2.ISecurityGroup
    clients_sg: ec2.ISecurityGroup
    port: int = 8000
    certificate_arn: str | None = None


class EngineApi(Construct):
    """``load_balancer`` (internal; HTTPS 443 with a certificate, else HTTP 80) forwarding
    to the engine's port; ``url`` is the API's address on its DNS name."""

    def __init__(self, scope: Construct, construct_id: str, props: EngineApiProps) -> None:
        super().__init__(scope, construct_id)
        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=props.vpc,
            description="Ironside engine API load balancer: from API clients only",
            allow_all_outbound=False,
        )
        security_group.add_ingress_rule(props.clients_sg, ec2.Port.tcp(80), "HTTP from clients")
        if props.certificate_arn:
            security_group.add_ingress_rule(
                props.clients_sg, ec2.Port.tcp(443), "HTTPS from clients"
            )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=props.vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_group=security_group,
            drop_invalid_header_fields=True,
        )
        target_group = elbv2.ApplicationTargetGroup(
            self,
            "Engine",
            vpc=props.vpc,
            port=props.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.INSTANCE,
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH, healthy_http_codes="200", interval=cdk.Duration.seconds(30)
            ),
            deregistration_delay=cdk.Duration.seconds(30),
        )
        if props.certificate_arn:
            https = self.load_balancer.add_listener(
                "Https",
                port=443,
                open=False,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(props.certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            )
            https.add_target_groups("Engine", target_groups=[target_group])
            self.load_balancer.add_listener(
                "Http",
                port=80,
                open=False,
                default_action=elbv2.ListenerAction.redirect(protocol="HTTPS", port="443"),
            )
            scheme = "https"
        else:
            listener = self.load_balancer.add_listener("Http", port=80, open=False)
            listener.add_target_groups("Engine", target_groups=[target_group])
            scheme = "http"
        self.url = f"{scheme}://{self.load_balancer.load_balancer_dns_name}"
        # Registered and opened at the L1 level, in this stack: the L2 attachment would put
        # the ingress rule into the network stack (which owns the engine's security group)
        # and make it depend on this one.
        group = props.group.node.default_child
        assert isinstance(group, autoscaling.CfnAutoScalingGroup)
        group.target_group_arns = [target_group.target_group_arn]
        # Replace the engine when the balancer finds it unhealthy, not only when EC2 does.
        group.health_check_type = "ELB"
        ec2.CfnSecurityGroupIngress(
            self,
            "EngineFromBalancer",
            group_id=props.engine_sg.security_group_id,
            source_security_group_id=security_group.security_group_id,
            ip_protocol="tcp",
            from_port=props.port,
            to_port=props.port,
            description="Engine API from its load balancer",
        )
        security_group.add_egress_rule(
            props.engine_sg, ec2.Port.tcp(props.port), "To the engine API"
        )
        nag.acknowledge(
            self.load_balancer,
            "Internal balancer in front of one engine, reachable only from the API clients' "
            "security group; the engine logs every request itself",
            "AwsSolutions-ELB2",
        )
