"""The engine wheel built at synth installs with pip and carries the entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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


def _project(root: Path, backend: str) -> Path:
    """A project with dynamic metadata (the in-process builder cannot describe it)."""
    project = root / "proj"
    (project / "demo").mkdir(parents=True)
    (project / "demo" / "__init__.py").write_text("__version__ = '1.2.3'\n")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\ndynamic = ["version"]\n'
        '[tool.setuptools.dynamic]\nversion = {attr = "demo.__version__"}\n'
        f'[build-system]\nrequires = ["setuptools>=70.1"]\nbuild-backend = "{backend}"\n'
    )
    return project


def test_dynamic_metadata_falls_back_to_pip(tmp_path: Path) -> None:
    """Offline: the fallback builds with the installed setuptools, no index, no isolation."""
    project = _project(tmp_path, "setuptools.build_meta")
    out = tmp_path / "out"
    out.mkdir()
    WheelBundling(project).try_bundle(str(out))
    [wheel] = out.glob("*.whl")
    assert wheel.name == "demo-1.2.3-py3-none-any.whl"
    assert "demo/__init__.py" in zipfile.ZipFile(wheel).namelist()
    assert not (project / "build").exists()


def test_fallback_never_downloads_a_build_backend(tmp_path: Path) -> None:
    """A backend that is not installed fails the synth instead of being fetched."""
    project = _project(tmp_path, "ironside_no_such_backend.build")
    with pytest.raises(RuntimeError, match="pip wheel .* failed"):
        WheelBundling(project).try_bundle(str(tmp_path))
