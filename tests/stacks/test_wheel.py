"""The engine wheel built at synth installs with pip and carries the entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from stacks.constructs.wheel_asset import WheelBundling, build_wheel
from stacks.engine import RUNTIME_DIR


def test_wheel_installs_with_pip(tmp_path: Path) -> None:
    wheel = build_wheel(RUNTIME_DIR, tmp_path / "dist")
    assert wheel.name == "ironside-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "ironside/__init__.py" in names and "ironside/py.typed" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(wheel)],
        check=True,
    )  # fmt: skip
    assert (target / "bin" / "ironside").is_file()
    metadata = (target / "ironside-0.1.0.dist-info" / "METADATA").read_text()
    assert "Requires-Dist: boto3" in metadata


def test_wheel_is_reproducible(tmp_path: Path) -> None:
    first = build_wheel(RUNTIME_DIR, tmp_path / "a").read_bytes()
    second = build_wheel(RUNTIME_DIR, tmp_path / "b").read_bytes()
    assert first == second


def test_dynamic_metadata_falls_back_to_pip(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "demo").mkdir(parents=True)
    (project / "demo" / "__init__.py").write_text("__version__ = '1.2.3'\n")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\ndynamic = ["version"]\n'
        '[tool.setuptools.dynamic]\nversion = {attr = "demo.__version__"}\n'
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    out = tmp_path / "out"
    out.mkdir()
    WheelBundling(project).try_bundle(str(out))
    assert [p.name for p in out.glob("*.whl")] == ["demo-1.2.3-py3-none-any.whl"]
    assert not (project / "build").exists()
