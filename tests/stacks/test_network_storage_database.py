"""Network, storage and database stacks."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.stacks.conftest import Synthesized
from tests.stacks.helpers import flatten


def test_vpc_has_public_private_isolated_subnets_and_nat(synth: Synthesized) -> None:
    subnets = synth.resources("network", "AWS::EC2::Subnet").values()
    kinds = sorted(
        next(t["Value"] for t in s["Properties"]["Tags"] if t["Key"] == "aws-cdk:subnet-type")
        for s in subnets
    )
    assert kinds == ["Isolated"] * 2 + ["Private"] * 2 + ["Public"] * 2
    assert len(synth.resources("network", "AWS::EC2::NatGateway")) == synth.settings.nat_gateways


def test_endpoints(synth: Synthesized) -> None:
    endpoints = synth.resources("network", "AWS::EC2::VPCEndpoint").values()
    services = sorted(flatten(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1] for e in endpoints)
    assert services == sorted(
        ["s3", "api", "dkr", "logs", "ecs", "ecs-agent", "ecs-telemetry", "batch", "secretsmanager"]
    )
    gateway = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Gateway"]
    assert len(gateway) == 1


def test_no_security_group_open_to_the_world(synth: Synthesized) -> None:
    for name, template in synth.templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::EC2::SecurityGroup":
                for rule in resource["Properties"].get("SecurityGroupIngress", []):
                    assert rule.get("CidrIp") != "0.0.0.0/0", name
            if resource["Type"] == "AWS::EC2::SecurityGroupIngress":
                assert resource["Properties"].get("CidrIp") != "0.0.0.0/0", name


def test_engine_security_group_has_no_ingress(synth: Synthesized) -> None:
    groups = synth.resources("network", "AWS::EC2::SecurityGroup")
    engine = next(v for k, v in groups.items() if k.startswith("EngineSecurityGroup"))
    assert "SecurityGroupIngress" not in engine["Properties"]


def test_database_port_open_only_to_engine(synth: Synthesized) -> None:
    ingress = list(synth.resources("database", "AWS::EC2::SecurityGroupIngress").values())
    groups = synth.resources("database", "AWS::EC2::SecurityGroup")
    inline = [r for g in groups.values() for r in g["Properties"].get("SecurityGroupIngress", [])]
    assert inline == []
    [rule] = ingress
    props = rule["Properties"]
    assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == ("tcp", 3306, 3306)
    source = props["SourceSecurityGroupId"]["Fn::ImportValue"]
    assert "EngineSecurityGroup" in source
    [db_group] = groups.values()
    assert db_group["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"


def test_aurora_serverless_v2_encrypted_isolated(synth: Synthesized) -> None:
    template = synth.template("database")
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-mysql",
            "EngineVersion": Match.string_like_regexp(r"^8\.0\.mysql_aurora\.3\."),
            "StorageEncrypted": True,
            "DeletionProtection": True,
            "Port": 3306,
            "BackupRetentionPeriod": 7,
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 4},
            "DBClusterIdentifier": "ironside-db",
        },
    )
    template.has_resource_properties("AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless"})
    template.has_resource_properties(
        "AWS::RDS::DBClusterParameterGroup",
        {"Family": "aurora-mysql8.0", "Parameters": {"require_secure_transport": "ON"}},
    )
    template.has_resource_properties("AWS::SecretsManager::Secret", {"Name": "ironside/database"})
    template.has_resource("AWS::RDS::DBCluster", {"DeletionPolicy": "Retain"})
    [subnet_group] = synth.resources("database", "AWS::RDS::DBSubnetGroup").values()
    names = [s["Fn::ImportValue"] for s in subnet_group["Properties"]["SubnetIds"]]
    assert names and all("isolated" in n for n in names)
    for export in ("error", "slowquery"):
        template.has_resource_properties(
            "AWS::Logs::LogGroup",
            {"LogGroupName": f"/aws/rds/cluster/ironside-db/{export}", "RetentionInDays": 90},
        )


def test_buckets_blocked_tls_encrypted_logged(synth: Synthesized) -> None:
    buckets = synth.resources("storage", "AWS::S3::Bucket")
    assert len(buckets) == 3
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
        assert algorithm == ("AES256" if logical_id.startswith("Logs") else "aws:kms")
        if not logical_id.startswith("Logs"):
            assert "DestinationBucketName" in props["LoggingConfiguration"]
        assert bucket["DeletionPolicy"] == "Retain"
    policies = synth.resources("storage", "AWS::S3::BucketPolicy").values()
    tls = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(tls) == 3 and all(s["Effect"] == "Deny" for s in tls)
    synth.template("storage").has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_results_versioned_scripts_expire(synth: Synthesized) -> None:
    buckets = synth.resources("storage", "AWS::S3::Bucket")
    results = next(b for k, b in buckets.items() if k.startswith("Results"))["Properties"]
    scripts = next(b for k, b in buckets.items() if k.startswith("Scripts"))["Properties"]
    assert results["VersioningConfiguration"] == {"Status": "Enabled"}
    assert {"ExpirationInDays": 30, "Id": "expire", "Status": "Enabled"} in scripts[
        "LifecycleConfiguration"
    ]["Rules"]
    assert flatten(results["BucketName"]).startswith("ironside-results-")


def test_database_enhanced_monitoring(synth: Synthesized) -> None:
    """RDS enhanced monitoring every databaseMonitoringSeconds (default 60) with its role."""
    [writer] = synth.resources("database", "AWS::RDS::DBInstance").values()
    assert writer["Properties"]["MonitoringInterval"] == 60
    assert "MonitoringRoleArn" in writer["Properties"]
