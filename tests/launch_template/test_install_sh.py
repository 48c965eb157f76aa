"""install.sh, the host assets' installer, run into a scratch root with stub system commands."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from launch_template.user_data import HOST_ASSETS_DIR

INSTALL = HOST_ASSETS_DIR / "install.sh"
CTL = "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"


def _stub(path: Path, calls: Path, body: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/bash\necho "$(basename "$0") $*" >> {calls}\n{body}')
    path.chmod(0o755)


def _install(
    tmp_path: Path, init_rc: int = 0, has_btrfs: bool = True
) -> tuple[subprocess.CompletedProcess[str], list[str], Path]:
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
    }
    result = subprocess.run(
        ["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=60
    )
    return result, calls.read_text().splitlines(), root


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
