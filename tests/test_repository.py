"""The foundation: the engine's command line and the Makefile's prerequisite checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ironside

REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_console_script_prints_version() -> None:
    result = run([str(Path(sys.executable).parent / "ironside"), "--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"ironside {ironside.__version__}"


def test_console_script_help_lists_usage() -> None:
    result = run([str(Path(sys.executable).parent / "ironside"), "--help"])
    assert result.returncode == 0
    assert "usage: ironside" in result.stdout


def fake_bin(tmp_path: Path, python_ok: bool, with_npm: bool) -> dict[str, str]:
    """A PATH holding only what `make prereqs` looks for, to simulate a bare machine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python3"
    if python_ok:
        python.symlink_to(sys.executable)
    else:
        python.write_text("#!/bin/sh\nexit 1\n")  # answers like a Python older than 3.11
        python.chmod(0o755)
    if with_npm:
        npm = bin_dir / "npm"
        npm.write_text("#!/bin/sh\nexit 0\n")
        npm.chmod(0o755)
    for tool in ("make", "sh", "bash"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.parametrize(
    ("python_ok", "with_npm", "expected"),
    [
        (False, True, "missing prerequisite: Python 3.11 or newer"),
        (True, False, "missing prerequisite: npm"),
    ],
)
def test_make_names_a_missing_prerequisite_in_one_line(
    tmp_path: Path, python_ok: bool, with_npm: bool, expected: str
) -> None:
    env = fake_bin(tmp_path, python_ok, with_npm)
    make = str(tmp_path / "bin" / "make")
    result = run([make, "-s", "-C", str(REPO), "prereqs"], env=env)
    assert result.returncode != 0
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(expected), result.stdout + result.stderr


def test_make_prereqs_pass_on_this_machine() -> None:
    assert run(["make", "-s", "-C", str(REPO), "prereqs"]).returncode == 0
