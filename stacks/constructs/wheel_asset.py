"""A Python project built into a wheel at synth time (no Docker) and shipped as an S3 asset."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

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


@jsii.implements(cdk.ILocalBundling)
class PipWheelBundling:
    """Runs ``pip wheel --no-deps <project> -w <output>`` on the synth machine.

    The project is copied to a temporary directory first, so the build leaves no
    ``build/`` or ``*.egg-info`` behind in the source tree.
    """

    def __init__(self, project: Path, python: str = sys.executable) -> None:
        self.project = project
        self.python = python

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        """Build the wheel into ``output_dir``; raise on failure (never falls back to Docker)."""
        with tempfile.TemporaryDirectory(prefix="ironside-wheel-") as tmp:
            source = Path(tmp) / "src"
            shutil.copytree(self.project, source, ignore=shutil.ignore_patterns(*DEFAULT_EXCLUDE))
            result = subprocess.run(
                [self.python, "-m", "pip", "wheel", "--no-deps", "--quiet",
                 "--disable-pip-version-check", str(source), "-w", output_dir],
                capture_output=True,
                text=True,
                check=False,
            )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"pip wheel {self.project} failed:\n{result.stderr}")
        return True


@dataclass(frozen=True)
class WheelAssetProps:
    """Props of :class:`WheelAsset`.

    Attributes:
        project: directory holding the project's ``pyproject.toml``.
        exclude: globs left out of the asset hash (default :data:`DEFAULT_EXCLUDE`).
    """

    project: Path
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE


class WheelAsset(Construct):
    """``asset``: a zip holding exactly one ``*.whl`` for the project."""

    def __init__(self, scope: Construct, construct_id: str, props: WheelAssetProps) -> None:
        super().__init__(scope, construct_id)
        self.asset = s3_assets.Asset(
            self,
            "Wheel",
            path=str(props.project),
            exclude=list(props.exclude),
            bundling=cdk.BundlingOptions(
                # Never used: local bundling always succeeds or raises.
                image=cdk.DockerImage.from_registry("public.ecr.aws/docker/library/python:3.11"),
                local=PipWheelBundling(props.project),
                output_type=cdk.BundlingOutput.NOT_ARCHIVED,
            ),
        )
