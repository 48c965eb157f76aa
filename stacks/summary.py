"""Print a short table of the synthesized stacks and their key resources.

Usage: ``python -m stacks.summary [cdk.out]`` (after ``cdk synth``).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

#: Resource types worth a mention, with their label (plural form used for counts).
KEY_RESOURCES: dict[str, str] = {
    "AWS::EC2::VPC": "VPC",
    "AWS::EC2::Subnet": "subnets",
    "AWS::EC2::NatGateway": "NAT gateways",
    "AWS::EC2::VPCEndpoint": "VPC endpoints",
    "AWS::EC2::SecurityGroup": "security groups",
    "AWS::S3::Bucket": "buckets",
    "AWS::KMS::Key": "KMS keys",
    "AWS::Logs::LogGroup": "log groups",
    "AWS::CloudWatch::Dashboard": "dashboard",
    "AWS::CloudWatch::Alarm": "alarms",
    "AWS::Events::Rule": "event rules",
    "AWS::ECR::PullThroughCacheRule": "pull-through rules",
    "AWS::ECR::RepositoryCreationTemplate": "repository templates",
    "AWS::SecretsManager::Secret": "secrets",
    "AWS::RDS::DBCluster": "Aurora cluster",
    "AWS::RDS::DBInstance": "DB instances",
    "AWS::EC2::LaunchTemplate": "launch templates",
    "AWS::Batch::ComputeEnvironment": "compute environments",
    "AWS::Batch::JobQueue": "job queues",
    "AWS::IAM::Role": "roles",
    "AWS::AutoScaling::AutoScalingGroup": "Auto Scaling group",
}


def summarize(outdir: Path | str) -> str:
    """The table for the cloud assembly in ``outdir``, stacks in deployment order."""
    outdir = Path(outdir)
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    rows = []
    for name in _deployment_order(stacks):
        template = json.loads((outdir / stacks[name]["properties"]["templateFile"]).read_text())
        resources = template.get("Resources", {})
        counts = Counter(r["Type"] for r in resources.values())
        key = ", ".join(
            f"{counts[t]} {label}" for t, label in KEY_RESOURCES.items() if counts.get(t)
        )
        rows.append((name, str(len(resources)), key))
    width = max(len("stack"), *(len(r[0]) for r in rows))
    lines = [f"{'stack':<{width}}  resources  key resources"]
    lines += [f"{name:<{width}}  {count:>9}  {key}" for name, count, key in rows]
    return "\n".join(lines)


def _deployment_order(stacks: dict[str, dict]) -> list[str]:
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered or name not in stacks:
            return
        for dependency in stacks[name].get("dependencies", []):
            visit(dependency)
        ordered.append(name)

    for name in stacks:
        visit(name)
    return ordered


def main(argv: list[str] | None = None) -> int:
    """Print the table for ``argv[0]`` (default ``cdk.out``)."""
    args = sys.argv[1:] if argv is None else argv
    outdir = Path(args[0] if args else "cdk.out")
    if not (outdir / "manifest.json").exists():
        print(f"no cloud assembly in {outdir}: run 'npx cdk synth' first", file=sys.stderr)
        return 2
    print(summarize(outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
