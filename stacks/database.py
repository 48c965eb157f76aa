"""Database stack: Aurora MySQL 3 Serverless v2 for the engine's state."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct

from stacks import checkov, nag
from stacks.constructs.logging import SERVICE_KEY_REASON, kit_key, log_group
from stacks.settings import Settings
from stacks.storage import removal_policy

#: MySQL's port, the only one open, and only to the engine.
MYSQL_PORT = 3306
#: Aurora MySQL logs exported to CloudWatch Logs.
LOG_EXPORTS = ("error", "slowquery")
#: Name of the schema the engine uses.
DATABASE_NAME = "ironside"


class DatabaseStack(cdk.Stack):
    """An encrypted Aurora MySQL cluster in isolated subnets.

    Port 3306 is open to ``engine_sg`` only; credentials are generated into Secrets
    Manager (``secret``), rotated every 30 days when ``databaseSecretRotation`` is on.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        vpc: ec2.IVpc,
        engine_sg: ec2.ISecurityGroup,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
        **kw: Any,
    ):
        super().__init__(scope, construct_id, **kw)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Ironside database: MySQL from the engine only",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            engine_sg, ec2.Port.tcp(MYSQL_PORT), "MySQL from the Ironside engine"
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=settings.database_cluster_id,
            engine=rds.DatabaseClusterEngine.aurora_mysql(
                version=rds.AuroraMysqlEngineVersion.VER_3_08_2
            ),
            credentials=rds.Credentials.from_generated_secret(
                "ironside",
                secret_name=f"{settings.name_prefix}/database",
                encryption_key=kit_key(self, settings),
            ),
            default_database_name=DATABASE_NAME,
            writer=rds.ClusterInstance.serverless_v2("Writer", auto_minor_version_upgrade=True),
            serverless_v2_min_capacity=settings.database_min_capacity,
            serverless_v2_max_capacity=settings.database_max_capacity,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.security_group],
            port=MYSQL_PORT,
            # TLS in transit: the engine connects with the RDS CA bundle (ironside-env.sh).
            parameters={"require_secure_transport": "ON"},
            storage_encrypted=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=cdk.Duration.days(settings.database_backup_days)),
            deletion_protection=settings.deletion_protection,
            removal_policy=removal_policy(settings),
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            copy_tags_to_snapshot=True,
            monitoring_interval=(
                cdk.Duration.seconds(settings.database_monitoring_seconds)
                if settings.database_monitoring_seconds
                else None
            ),
        )
        writer = self.cluster.node.find_child("Writer")
        if settings.database_monitoring_seconds:
            nag.acknowledge(
                self.cluster,
                "AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS enhanced "
                "monitoring requires for its monitoring role (it writes only the RDSOSMetrics "
                "log group)",
                nag.managed_policy("service-role/AmazonRDSEnhancedMonitoringRole"),
            )
        else:
            checkov.skip(
                writer,
                "Enhanced monitoring is off by explicit setting (databaseMonitoringSeconds=0)",
                "CKV_AWS_118",
            )
        # The exported logs' groups, created here with retention (instead of CDK's
        # log-retention Lambda) before the cluster starts writing to them.
        for export in LOG_EXPORTS:
            group = log_group(
                self,
                f"{export.capitalize()}Logs",
                settings,
                f"/aws/rds/cluster/{settings.database_cluster_id}/{export}",
            )
            self.cluster.node.add_dependency(group)
        assert self.cluster.secret is not None
        self.secret = self.cluster.secret
        secret_construct = self.cluster.node.find_child("Secret")
        if settings.kms_key_arn is None:
            checkov.skip(secret_construct, SERVICE_KEY_REASON, "CKV_AWS_149")
        if settings.database_secret_rotation:
            # The rotation Lambda calls Secrets Manager and the database: private subnets
            # (NAT), through the Secrets Manager endpoint when there is one (isolated
            # subnets have no route to Secrets Manager).
            rotation = self.cluster.add_rotation_single_user(
                automatically_after=cdk.Duration.days(30),
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                endpoint=secrets_manager_endpoint,
            )
            rotation_sg = rotation.node.try_find_child("SecurityGroup")
            if secrets_manager_endpoint is not None and isinstance(rotation_sg, ec2.SecurityGroup):
                # In this stack (the network stack must not depend on this one).
                for index, endpoint_sg in enumerate(
                    secrets_manager_endpoint.connections.security_groups
                ):
                    ec2.CfnSecurityGroupIngress(
                        self,
                        f"RotationToSecretsManager{index}",
                        group_id=endpoint_sg.security_group_id,
                        source_security_group_id=rotation_sg.security_group_id,
                        ip_protocol="tcp",
                        from_port=443,
                        to_port=443,
                        description="HTTPS from the database secret's rotation Lambda",
                    )
        else:
            cdk.Validations.of(secret_construct).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-SMG4",
                    reason=(
                        "Rotation is off by setting (ironside:databaseSecretRotation=false): the "
                        "engine keeps pooled connections that a rotation would break until restart"
                    ),
                )
            )
        if not settings.deletion_protection:
            nag.acknowledge(
                self.cluster,
                "Deletion protection is off by explicit setting "
                "(ironside:deletionProtection=false), e.g. for a disposable test platform",
                "AwsSolutions-RDS10",
            )
        cdk.Validations.of(self.cluster).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-RDS11",
                reason=(
                    "The standard MySQL port is kept for client compatibility; the security group "
                    "admits only the engine's security group, from isolated subnets"
                ),
            ),
            cdk.Acknowledgment(
                id="AwsSolutions-RDS14",
                reason=(
                    "Backtrack is not needed: point-in-time recovery from automated backups "
                    "covers recovery of the engine's state"
                ),
            ),
        )
