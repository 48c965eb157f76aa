"""The Build step runs on the image the pipeline names: nothing apt lacks there, the
browser found where the image has it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.synth import BUILD_IMAGE, RUNTIME_VERSIONS, TEST_COMMAND

REPO = Path(__file__).resolve().parents[2]


def _fake(directory: Path, *names: str) -> None:
    for name in names:
        path = directory / name
        path.write_text("#!/bin/sh\necho fake\n")
        path.chmod(0o755)


def _make(target: str, path: Path) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make is not None
    return subprocess.run(
        [make, "-s", "--no-print-directory", target],
        cwd=REPO,
        env={"PATH": str(path), "HOME": os.environ.get("HOME", "/tmp")},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("browser", ["google-chrome-stable", "google-chrome", "chromium-browser"])
def test_the_browser_is_found_where_the_image_has_it(tmp_path: Path, browser: str) -> None:
    """CodeBuild's Ubuntu image has Google Chrome, not Debian's /usr/bin/chromium: the
    Makefile hands the one it finds to the tests and installs no chromium package."""
    _fake(tmp_path, browser, "shellcheck")
    found = _make("browser", tmp_path)
    assert found.stdout.strip() == str(tmp_path / browser)
    installed = _make("system-packages", tmp_path)  # no apt-get on this PATH: must not run
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "installing" not in installed.stdout


def test_no_browser_outside_debian_is_an_error_not_an_apt_install(tmp_path: Path) -> None:
    _fake(tmp_path, "shellcheck")
    grep = shutil.which("grep")
    assert grep is not None
    (tmp_path / "grep").symlink_to(grep)
    os_release = Path("/etc/os-release")
    if os_release.exists() and "ID=debian" in os_release.read_text().splitlines():
        pytest.skip("on Debian the Makefile installs chromium by apt, as it should")
    result = _make("system-packages", tmp_path)
    assert result.returncode != 0
    assert "IRONSIDE_CHROMIUM" in result.stdout


def test_build_image_and_runtimes_are_the_documented_ones() -> None:
    """The Build step relies on the standard 7.0 image's Python 3.12 and Node.js 20
    (``runtime-versions``), its make, npm and a Chromium-family browser; README says so."""
    assert BUILD_IMAGE.image_id == "aws/codebuild/standard:7.0"
    assert RUNTIME_VERSIONS == {"python": "3.12", "nodejs": "20"}
    assert TEST_COMMAND == "make test"
    readme = (REPO / "README.md").read_text()
    for needle in ("aws/codebuild/standard:7.0", "Python 3.12", "Node.js 20", "IRONSIDE_CHROMIUM"):
        assert needle in readme, needle
