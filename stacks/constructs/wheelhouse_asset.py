"""A cached wheelhouse (``stacks.wheelhouse``) shipped as one S3 asset."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks import wheelhouse


class WheelhouseAsset(Construct):
    """``asset`` (the zipped wheelhouse) and ``manifest_sha256`` (what the host checks).

    The asset's hash is the manifest's, which lists every wheel's SHA-256: the same
    content, the same asset, without CDK hashing tens of megabytes on every synth.
    """

    def __init__(self, scope: Construct, construct_id: str, house: wheelhouse.Wheelhouse):
        super().__init__(scope, construct_id)
        directory = wheelhouse.ensure(house)
        self.manifest_sha256 = wheelhouse.manifest_sha256(directory)
        self.asset = s3_assets.Asset(
            self,
            "Wheels",
            path=str(directory),
            asset_hash=self.manifest_sha256,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
        )
