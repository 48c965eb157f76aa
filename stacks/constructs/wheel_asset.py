"""A pure-Python project packed into a wheel at synth time and shipped as an S3 asset.

The wheel is built in-process from ``pyproject.toml`` ([project] metadata,
``[project.scripts]``, and every file of the packages matched by
``[tool.setuptools.packages.find] include``): no Docker, no build-isolation virtualenv
and no network, in well under a second, and byte-for-byte reproducible (fixed
timestamps), so an unchanged project keeps its asset hash. ``pip wheel`` on the same
project produces the same installable content; a test installs the result with pip.
"""

from __future__ import annotations

import base64
import csv
import fnmatch
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

#: Paths in the project that never go into the wheel (and must not change the asset hash).
DEFAULT_EXCLUDE = (
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    "build",
    "dist",
    ".pytest_cache",
    ".mypy_cache",
)
#: Timestamp of every wheel entry (reproducible builds).
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _package_files(project: Path, includes: Iterable[str]) -> list[tuple[str, Path]]:
    """(archive name, path) of every file in the included top-level packages."""
    files: list[tuple[str, Path]] = []
    for top in sorted(p for p in project.iterdir() if (p / "__init__.py").is_file()):
        if not any(fnmatch.fnmatch(top.name, pattern) for pattern in includes):
            continue
        for path in sorted(top.rglob("*")):
            parts = path.relative_to(project).parts
            if path.is_file() and not any(
                fnmatch.fnmatch(part, pattern) for part in parts for pattern in DEFAULT_EXCLUDE
            ):
                files.append(("/".join(parts), path))
    return files


def build_wheel(project: Path, output_dir: Path) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` for ``project`` into ``output_dir``."""
    meta: dict[str, Any] = tomllib.loads((project / "pyproject.toml").read_text())
    info = meta["project"]
    find = meta.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
    includes = find.get("include", ["*"])
    name, version = _normalize(info["name"]), info["version"]
    dist_info = f"{name}-{version}.dist-info"

    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {info['name']}",
        f"Version: {version}",
    ]
    if "description" in info:
        metadata.append(f"Summary: {info['description']}")
    if "requires-python" in info:
        metadata.append(f"Requires-Python: {info['requires-python']}")
    metadata += [f"Requires-Dist: {dependency}" for dependency in info.get("dependencies", [])]
    entries: list[tuple[str, bytes]] = [
        (arcname, path.read_bytes()) for arcname, path in _package_files(project, includes)
    ]
    entries.append((f"{dist_info}/METADATA", ("\n".join(metadata) + "\n").encode()))
    entries.append(
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: ironside-kit\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        )
    )
    scripts = info.get("scripts", {})
    if scripts:
        lines = ["[console_scripts]", *(f"{k} = {v}" for k, v in scripts.items())]
        entries.append((f"{dist_info}/entry_points.txt", ("\n".join(lines) + "\n").encode()))
    entries.append((f"{dist_info}/top_level.txt", b""))

    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for arcname, data in entries:
        writer.writerow([arcname, _record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    entries.append((f"{dist_info}/RECORD", record.getvalue().encode()))

    output_dir.mkdir(parents=True, exist_ok=True)
    wheel = output_dir / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in entries:
            item = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, data)
    return wheel


@jsii.implements(cdk.ILocalBundling)
class WheelBundling:
    """Local bundling that builds the project's wheel into the asset's output directory."""

    def __init__(self, project: Path) -> None:
        self.project = project

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        """Build the wheel; never falls back to Docker (raises on failure).

        A project this builder cannot describe (dynamic metadata, no version) is built
        with ``pip wheel --no-deps --no-build-isolation --no-index`` instead (offline:
        its build backend must be installed where the kit runs), from a copy so the
        source tree stays clean.
        """
        try:
            build_wheel(self.project, Path(output_dir))
        except (KeyError, TypeError):
            _pip_wheel(self.project, Path(output_dir))
        return True


def _pip_wheel(project: Path, output_dir: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="ironside-wheel-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(project, source, ignore=shutil.ignore_patterns(*DEFAULT_EXCLUDE))
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "--quiet", "--disable-pip-version-check", str(source),
             "-w", str(output_dir)],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"pip wheel {project} failed:\n{result.stderr}")


#: Where built wheels are kept, one directory per wheel content (parallel synths share it).
WHEELS_DIR = Path(__file__).resolve().parents[2] / "build" / "wheels"


def stage_wheel(project: Path) -> Path:
    """Build ``project``'s wheel into ``WHEELS_DIR/<sha256>/`` (alone there); its path."""
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=WHEELS_DIR, prefix=".build-"))
    try:
        WheelBundling(project).try_bundle(str(tmp))
        (wheel,) = tmp.glob("*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        target = WHEELS_DIR / digest
        if not target.is_dir():
            try:
                tmp.rename(target)
            except OSError:  # another process staged the same wheel meanwhile
                if not target.is_dir():
                    raise
        return target / wheel.name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class WheelAssetProps:
    """Props of :class:`WheelAsset`.

    Attributes:
        project: directory holding the project's ``pyproject.toml``.
    """

    project: Path


class WheelAsset(Construct):
    """``asset``: a zip holding exactly one ``*.whl`` for the project; ``sha256``: the
    wheel's SHA-256 (hosts check it before installing; it is also the asset's hash, so an
    unchanged project keeps its asset)."""

    def __init__(self, scope: Construct, construct_id: str, props: WheelAssetProps) -> None:
        super().__init__(scope, construct_id)
        wheel = stage_wheel(props.project)
        self.wheel_name = wheel.name
        self.sha256 = wheel.parent.name
        self.asset = s3_assets.Asset(
            self,
            "Wheel",
            path=str(wheel.parent),
            asset_hash=self.sha256,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
        )
