"""A non-editable install of the kit carries every file the stacks read at synth."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.stacks.synth import REPO

PACKAGES = ("stacks", "pipeline", "launch_template")
IGNORED = ("__pycache__", "*.pyc", "*.egg-info")


def test_the_kit_wheel_carries_subpackages_and_data(tmp_path: Path) -> None:
    source = tmp_path / "kit"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns(*IGNORED))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--disable-pip-version-check", str(source), "-w", str(tmp_path / "dist")],
        check=True,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("ironside_kit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(source).as_posix()
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file()
    }
    assert expected - names == set()
    for required in (
        "launch_template/host_assets/fetch_and_run.sh",
        "launch_template/host_assets/ebs_autoscale/__main__.py",
        "launch_template/parts/prelude.sh",
        "stacks/artifacts/engine/ironside.service",
        "stacks/constructs/wheel_asset.py",
        "pipeline/scripts/roll_engine_host.sh",
    ):
        assert required in names
    assert not any(name.startswith("tests/") for name in names)
