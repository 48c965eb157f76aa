"""cdk-nag acknowledgements shared by the stacks, each with its reason.

cdk-nag 3 acknowledges each finding by its exact id (``Rule[Finding]``); the helpers
here render the ids of findings the kit produces on purpose, so every
acknowledgement sits next to the construct it concerns and names why.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

#: How cdk-nag renders the pseudo parameters inside finding ids.
ACCOUNT = "<AWS::AccountId>"
REGION = "<AWS::Region>"
PARTITION = "<AWS::Partition>"


def acknowledge(construct: IConstruct, reason: str, *ids: str) -> None:
    """Acknowledge the findings ``ids`` on ``construct`` (and its children) for ``reason``."""
    cdk.Validations.of(construct).acknowledge(
        *(cdk.Acknowledgment(id=finding, reason=reason) for finding in ids)
    )


def resource(arn: str) -> str:
    """The finding id of an IAM5 wildcard resource."""
    return f"AwsSolutions-IAM5[Resource::{arn}]"


def managed_policy(name: str) -> str:
    """The finding id of an IAM4 AWS managed policy."""
    return f"AwsSolutions-IAM4[Policy::arn:{PARTITION}:iam::aws:policy/{name}]"


def bucket_objects(bucket_name_template: str) -> str:
    """The IAM5 finding of ``<bucket>/*`` for a bucket named by ``Settings.bucket_name``."""
    name = bucket_name_template.replace(cdk.Aws.ACCOUNT_ID, ACCOUNT).replace(cdk.Aws.REGION, REGION)
    return resource(f"arn:{PARTITION}:s3:::{name}/*")


def regional_arn(service: str, resource_path: str) -> str:
    """``arn:<AWS::Partition>:<service>:<AWS::Region>:<AWS::AccountId>:<resource_path>``."""
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource_path}"
