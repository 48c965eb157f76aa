"""Uploading the cloud assembly's file assets and the final templates (boto3 S3 client).

Directories are zipped here, deterministically (sorted entries, fixed timestamps, file
modes kept), so an unchanged asset uploads the same bytes; the sha256 of what was
uploaded goes into the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Timestamp of every zip entry.
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Asset:
    """A file asset of the assembly: where it comes from and where it goes."""

    asset_id: str
    source: Path
    packaging: str
    bucket: str
    key: str

    def content(self) -> bytes:
        """The bytes to upload: the file, or the directory zipped."""
        if self.packaging == "zip" and self.source.is_dir():
            return zip_directory(self.source)
        return self.source.read_bytes()


@dataclass(frozen=True)
class Published:
    """An object written to the distribution bucket."""

    key: str
    sha256: str
    size: int


class UnsupportedAsset(RuntimeError):
    """The assembly holds an asset the packager cannot publish (e.g. a Docker image)."""


def zip_directory(directory: Path) -> bytes:
    """A reproducible zip of ``directory``'s files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            entry = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_EPOCH)
            entry.external_attr = (path.stat().st_mode & 0o777) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def file_assets(outdir: Path) -> list[Asset]:
    """Every file asset of the stacks in ``outdir`` except the templates themselves.

    (With one reusable synthesizer every stack's asset manifest may list every asset; an
    asset is published once.)
    """
    found: dict[str, Asset] = {}
    for manifest_path in sorted(outdir.glob("*.assets.json")):
        stack = manifest_path.name.removesuffix(".assets.json")
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if manifest.get("dockerImages"):
            raise UnsupportedAsset(
                f"{stack} has Docker image assets; only file assets are supported"
            )
        for asset_id, entry in manifest.get("files", {}).items():
            if entry["source"]["path"].endswith(".template.json"):
                continue
            for destination in entry["destinations"].values():
                found[asset_id] = Asset(
                    asset_id=asset_id,
                    source=outdir / entry["source"]["path"],
                    packaging=entry["source"].get("packaging", "file"),
                    bucket=destination["bucketName"],
                    key=destination["objectKey"],
                )
    return sorted(found.values(), key=lambda asset: asset.key)


def upload(client: Any, bucket: str, key: str, body: bytes, content_type: str) -> Published:
    """Put one object; returns its key, sha256 and size."""
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return Published(key=key, sha256=hashlib.sha256(body).hexdigest(), size=len(body))


def publish_asset(client: Any, asset: Asset) -> Published:
    """Upload one file asset to its destination."""
    kind = "application/zip" if asset.key.endswith(".zip") else "application/octet-stream"
    return upload(client, asset.bucket, asset.key, asset.content(), kind)
