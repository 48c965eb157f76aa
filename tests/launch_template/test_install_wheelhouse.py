"""install_wheelhouse.sh, run for real (this interpreter's pip) on a small wheelhouse."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from launch_template.user_data import HOST_ASSETS_DIR
from stacks.constructs.wheel_asset import build_wheel
from stacks.wheelhouse import MANIFEST, manifest_sha256, render_manifest

SCRIPT = HOST_ASSETS_DIR / "install_wheelhouse.sh"


def _project(root: Path, name: str, dependencies: list[str]) -> Path:
    project = root / name
    (project / name).mkdir(parents=True)
    (project / name / "__init__.py").write_text(f"NAME = {name!r}\n")
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = [{deps}]\n'
    )
    return project


@pytest.fixture
def house(tmp_path: Path) -> Path:
    """alpha 1.0 (needs beta==1.0) and beta 1.0, with their manifest."""
    directory = tmp_path / "house"
    for name, deps in (("alpha", ["beta==1.0"]), ("beta", [])):
        build_wheel(_project(tmp_path / "src", name, deps), directory)
    (directory / MANIFEST).write_text(render_manifest(directory))
    return directory


def _run(house: Path, sha256: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), sys.executable, str(house), sha256, *extra],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_installs_every_pin_with_its_hash_checked(house: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    result = _run(house, manifest_sha256(house), "--target", str(target))
    assert result.returncode == 0, result.stderr
    assert (target / "alpha" / "__init__.py").is_file()
    assert (target / "beta" / "__init__.py").is_file()
    assert "--hash=sha256:" in (house / MANIFEST).read_text()


def test_a_manifest_other_than_the_templates_is_refused(house: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    result = _run(house, "0" * 64, "--target", str(target))
    assert result.returncode == 1
    assert f"the template says {'0' * 64}" in result.stderr
    assert not target.exists()


def test_a_tampered_wheel_fails(house: Path, tmp_path: Path) -> None:
    wheel = next(house.glob("beta-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    target = tmp_path / "target"
    result = _run(house, manifest_sha256(house), "--target", str(target))
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr
    assert not (target / "beta").exists()


def test_a_dependency_missing_from_the_manifest_fails(house: Path, tmp_path: Path) -> None:
    manifest = house / MANIFEST
    manifest.write_text("".join(line for line in manifest.read_text().splitlines(True)
                                if not line.startswith("beta==")))  # fmt: skip
    result = _run(house, manifest_sha256(house), "--target", str(tmp_path / "target"))
    assert result.returncode != 0
    assert "beta" in result.stderr


def test_an_extra_wheel_is_installed_only_with_the_hash_given(house: Path, tmp_path: Path) -> None:
    """The engine host's use: the engine wheel by its SHA-256 from the template."""
    extra_dir = tmp_path / "extra"
    wheel = build_wheel(_project(tmp_path / "src", "gamma", ["alpha==1.0"]), extra_dir)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for sha256, ok in ((digest, True), ("f" * 64, False)):
        pins = tmp_path / "engine.txt"
        pins.write_text(f"gamma @ file://{wheel} --hash=sha256:{sha256}\n")
        target = tmp_path / f"target-{ok}"
        result = _run(house, manifest_sha256(house), "-r", str(pins), "--target", str(target))
        assert (result.returncode == 0) is ok, result.stderr
        assert (target / "gamma" / "__init__.py").is_file() is ok
        assert (target / "beta" / "__init__.py").is_file() is ok
