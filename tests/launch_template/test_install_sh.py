"""install.sh, the host assets' installer, run into a scratch root with stub system commands."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from launch_template.user_data import HOST_ASSETS_DIR
from stacks.wheelhouse import aws_cli_wheelhouse, ensure, manifest_sha256

INSTALL = HOST_ASSETS_DIR / "install.sh"
CTL = "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"


def _stub(path: Path, calls: Path, body: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/bash\necho "$(basename "$0") $*" >> {calls}\n{body}')
    path.chmod(0o755)


def _install(
    tmp_path: Path,
    init_rc: int = 0,
    has_btrfs: bool = True,
    cli: Path | None = None,
    kind: str = "wheelhouse",
    cli_sha256: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[str], Path]:
    """install.sh with stub system commands, the AWS CLI installed by real pip (this
    interpreter's) from the kit's wheelhouse (or ``cli``: a copy to tamper with, or a
    bundle directory)."""
    house = ensure(aws_cli_wheelhouse())
    root, bindir, calls = tmp_path / "root", tmp_path / "bin", tmp_path / "calls"
    no_btrfs = "" if has_btrfs else 'if [[ "$*" == *btrfs-progs* ]]; then exit 1; fi\n'
    _stub(bindir / "yum", calls, no_btrfs)
    _stub(bindir / "sleep", calls)
    _stub(bindir / "systemctl", calls)
    _stub(bindir / "python3", calls, f'echo "PYTHONPATH=$PYTHONPATH" >> {calls}\nexit {init_rc}\n')
    _stub(root / CTL, calls)
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "IRONSIDE_ROOT": str(root),
        "IRONSIDE_REGION": "eu-west-1",
        "IRONSIDE_HOST_LOG_GROUP": "/ironside/hosts",
        "IRONSIDE_SCRATCH_MOUNT": "/cromwell_root",
        "IRONSIDE_AUTOSCALE_CONFIG": "/etc/ironside/ebs-autoscale.json",
        "IRONSIDE_AWS_CLI_DIR": str(cli or house),
        "IRONSIDE_AWS_CLI_SHA256": cli_sha256 or manifest_sha256(house),
        "IRONSIDE_AWS_CLI_KIND": kind,
        "IRONSIDE_PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=300
    )
    return result, calls.read_text().splitlines() if calls.exists() else [], root


def test_installs_fetch_and_run_cloudwatch_agent_and_the_daemon(tmp_path: Path) -> None:
    result, calls, root = _install(tmp_path)
    assert result.returncode == 0, result.stderr
    installed = root / "usr/local/bin/fetch_and_run.sh"
    assert installed.read_bytes() == (HOST_ASSETS_DIR / "fetch_and_run.sh").read_bytes()
    assert installed.stat().st_mode & 0o777 == 0o755
    agent = json.loads(
        (root / "opt/aws/amazon-cloudwatch-agent/etc/ironside-host-logs.json").read_text()
    )
    streams = agent["logs"]["logs_collected"]["files"]["collect_list"]
    assert {s["log_group_name"] for s in streams} == {"/ironside/hosts"}
    assert "/var/log/ironside-ebs-autoscale.log" in {s["file_path"] for s in streams}
    unit = (root / "etc/systemd/system/ironside-ebs-autoscale.service").read_text()
    assert f"Environment=PYTHONPATH={HOST_ASSETS_DIR}" in unit
    assert "-m ebs_autoscale --config /etc/ironside/ebs-autoscale.json run" in unit
    assert "@@" not in unit
    init = "python3 -m ebs_autoscale --config /etc/ironside/ebs-autoscale.json init"
    assert calls.index(init) < calls.index("systemctl enable --now ironside-ebs-autoscale.service")
    assert f"PYTHONPATH={HOST_ASSETS_DIR}" in calls
    assert "yum install -y -q python3 lvm2 e2fsprogs" in calls
    assert "yum install -y -q python3.11 python3.11-pip" in calls
    assert "yum install -y -q btrfs-progs" in calls
    assert any(c.startswith("amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s") for c in calls)


def test_without_btrfs_progs_the_install_still_succeeds(tmp_path: Path) -> None:
    result, calls, _ = _install(tmp_path, has_btrfs=False)
    assert result.returncode == 0, result.stderr
    assert "no btrfs-progs here; scratch will be lvm.ext4" in result.stdout
    assert "systemctl enable --now ironside-ebs-autoscale.service" in calls


def test_a_failed_init_fails_the_install_before_the_service_starts(tmp_path: Path) -> None:
    result, calls, _ = _install(tmp_path, init_rc=1)
    assert result.returncode != 0
    assert not any(c.startswith("systemctl") for c in calls)
    assert "host assets installed" not in result.stdout


def _host_python() -> str:
    """A python3 >= 3.10 other than the stub, standing in for a task image's."""
    for name in ("python3.13", "python3.12", "python3.11", "python3"):
        found = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin")
        if found:
            return found
    return sys.executable


def test_the_installed_aws_cli_runs_on_an_images_python(tmp_path: Path) -> None:
    result, calls, root = _install(tmp_path)
    assert result.returncode == 0, result.stderr
    launcher = root / "usr/local/aws-cli/v2/current/bin/aws"
    assert launcher.stat().st_mode & 0o777 == 0o755
    assert f"{root}/usr/local/aws-cli/lib" in launcher.read_text()
    image_bin = tmp_path / "image-bin"
    image_bin.mkdir()
    (image_bin / "python3").symlink_to(_host_python())
    version = subprocess.run(
        [str(launcher), "--version"],
        env={"PATH": f"{image_bin}:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.returncode == 0, version.stderr
    pin = aws_cli_wheelhouse().requirements[0].split("==")[1]
    assert f"aws-cli/{pin} " in version.stdout + version.stderr


def test_an_image_without_python_gets_a_clear_error(tmp_path: Path) -> None:
    result, _, root = _install(tmp_path)
    assert result.returncode == 0, result.stderr
    launcher = root / "usr/local/aws-cli/v2/current/bin/aws"
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    run = subprocess.run(
        ["/bin/sh", str(launcher), "--version"],
        env={"PATH": str(empty)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 127
    assert "needs python3 >= 3.10 in the task image" in run.stderr


def test_a_tampered_cli_wheel_fails_the_install(tmp_path: Path) -> None:
    copy = tmp_path / "cli"
    shutil.copytree(ensure(aws_cli_wheelhouse()), copy)
    wheel = next(copy.glob("jmespath-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    result, calls, root = _install(tmp_path, cli=copy)
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr
    assert not (root / "usr/local/aws-cli/v2/current/bin/aws").exists()
    assert not any(c.startswith("systemctl") for c in calls)


#: Stands in for AWS's installer inside the v2 bundle (the real one cannot be fetched
#: here): lays out <install-dir>/v2/<version> and the v2/current link, as AWS's does.
FAKE_INSTALLER = """#!/bin/bash
set -e
while [ $# -gt 0 ]; do
  case $1 in --install-dir) dir=$2; shift 2 ;; --bin-dir) shift 2 ;; *) shift ;; esac
done
mkdir -p "$dir/v2/2.99.0/bin"
printf '#!/bin/sh\\necho aws-cli/2.99.0\\n' >"$dir/v2/2.99.0/bin/aws"
chmod 0755 "$dir/v2/2.99.0/bin/aws"
ln -s 2.99.0 "$dir/v2/current"
"""


def _bundle_dir(tmp_path: Path) -> tuple[Path, str]:
    directory = tmp_path / "bundle"
    directory.mkdir()
    name = f"awscli-exe-linux-{platform.machine()}.zip"
    with zipfile.ZipFile(directory / name, "w") as archive:
        info = zipfile.ZipInfo("aws/install")
        info.external_attr = 0o755 << 16
        archive.writestr(info, FAKE_INSTALLER)
    digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / "SHA256SUMS").write_text(f"{digest}  {name}\n")
    return directory, hashlib.sha256((directory / "SHA256SUMS").read_bytes()).hexdigest()


def test_an_operators_v2_bundle_is_checked_and_installed(tmp_path: Path) -> None:
    bundle, sums = _bundle_dir(tmp_path)
    result, calls, root = _install(tmp_path, cli=bundle, kind="bundle", cli_sha256=sums)
    assert result.returncode == 0, result.stderr
    assert "aws-cli/2.99.0" in result.stdout
    assert (root / "usr/local/aws-cli/v2/current/bin/aws").is_file()
    assert not (root / "usr/local/aws-cli/lib").exists()
    assert "yum install -y -q python3.11 python3.11-pip" not in calls


def test_a_tampered_bundle_or_sums_file_fails_the_install(tmp_path: Path) -> None:
    bundle, sums = _bundle_dir(tmp_path)
    result, _, root = _install(tmp_path, cli=bundle, kind="bundle", cli_sha256="0" * 64)
    assert result.returncode != 0 and "SHA256SUMS does not have the SHA-256" in result.stderr
    [zip_path] = bundle.glob("*.zip")
    zip_path.write_bytes(zip_path.read_bytes() + b"\0")
    result, calls, root = _install(tmp_path, cli=bundle, kind="bundle", cli_sha256=sums)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr
    assert not (root / "usr/local/aws-cli/v2").exists()
    assert not any(c.startswith("systemctl") for c in calls)
