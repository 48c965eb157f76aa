"""Units of the EBS autoscale daemon: config, policy, retry, btrfs parsing, IMDS, lock, CLI."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from launch_template.host_assets.ebs_autoscale import cli
from launch_template.host_assets.ebs_autoscale.config import (
    DEFAULT_CONFIG,
    ConfigError,
    Limits,
    RetryPolicy,
    build_config,
    load_config,
)
from launch_template.host_assets.ebs_autoscale.filesystem import Btrfs, CommandFailed, Usage
from launch_template.host_assets.ebs_autoscale.imds import Imds, ImdsError
from launch_template.host_assets.ebs_autoscale.lock import AlreadyRunning, SingleInstanceLock
from launch_template.host_assets.ebs_autoscale.policy import decide, next_volume_size
from launch_template.host_assets.ebs_autoscale.ports import CommandResult
from launch_template.host_assets.ebs_autoscale.retry import Retrier, RetriesExhausted
from launch_template.user_data import HOST_ASSETS_DIR

from .conftest import Env, FakeClock, ImdsStub, unreachable_endpoint

# -- config ---------------------------------------------------------------------------------


def test_defaults_cover_every_knob_of_the_issue() -> None:
    config = build_config()
    assert config.mountpoint == "/cromwell_root" and config.filesystem == "auto"
    assert (config.volume.type, config.volume.iops, config.volume.throughput) == ("gp3", 3000, 125)
    assert config.volume.encrypted is True and config.volume.kms_key_id is None
    assert config.detection_interval == 2.0
    assert config.limits == Limits(150, 1500, 8000, 16)
    assert [config.threshold_for(n) for n in (0, 3, 4, 6, 7, 15)] == [50, 50, 80, 80, 90, 90]


def test_overrides_merge_key_by_key() -> None:
    config = build_config(
        {"volume": {"kms_key_id": "alias/scratch"}, "limits": {"max_volume_count": 4}}
    )
    assert config.volume.kms_key_id == "alias/scratch" and config.volume.type == "gp3"
    assert config.limits.max_volume_count == 4 and config.limits.max_total_size_gb == 8000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mount_point": "/x"}, "unknown EBS autoscale config key: 'mount_point'"),
        ({"volume": {"size": 1}}, "unknown EBS autoscale config key: 'size'"),
        ({"volume": 3}, "must be an object"),
        ({"filesystem": "ext4"}, "filesystem must be one of 'auto', 'btrfs', 'lvm.ext4'"),
        ({"limits": {"min_volume_size_gb": 2000}}, "min_volume_size_gb <= max_volume_size_gb"),
        ({"thresholds": [{"min_volumes": 2, "percent": 50}]}, "min_volumes 0"),
        ({"device_names": ["/dev/xvdf"]}, "fewer device_names"),
        ({"thresholds": [{"percent": 50}]}, "invalid EBS autoscale config"),
    ],
)
def test_bad_config_is_rejected(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(overrides)


def test_load_config_reads_overrides_from_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"mountpoint": "/scratch"}))
    assert load_config(path).mountpoint == "/scratch"
    path.write_text("[1]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    assert "mountpoint" in DEFAULT_CONFIG


# -- policy ---------------------------------------------------------------------------------


def test_next_volume_size_doubles_within_limits() -> None:
    limits = Limits(100, 500, 1000, 5)
    assert [next_volume_size(n, 0, limits)[0] for n in range(4)] == [100, 200, 400, 500]
    assert next_volume_size(2, 850, limits) == (150, "ok")
    assert next_volume_size(2, 950, limits)[0] is None
    assert next_volume_size(5, 0, limits) == (None, "max_volume_count 5 reached")


def test_decide_uses_the_threshold_for_the_count() -> None:
    config = build_config()
    half = Usage(size_bytes=100, used_bytes=50, available_bytes=50)
    assert decide(half, 1, 150, config).grow is True
    assert decide(half, 1, 150, config).size_gb == 300
    assert decide(half, 4, 600, config).grow is False
    assert Usage(0, 0, 0).percent == 100.0


# -- retry ----------------------------------------------------------------------------------


def _throttle() -> ClientError:
    return ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "CreateVolume")


def test_retrier_retries_transient_errors_with_capped_jitter() -> None:
    clock = FakeClock()
    caps: list[float] = []

    def rng(low: float, high: float) -> float:
        caps.append(high)
        return high

    retrier = Retrier(RetryPolicy(6, 1.0, 5.0), clock, rng)
    outcomes: list[BaseException | str] = [
        _throttle(),
        EndpointConnectionError(endpoint_url="http://x"),
        _throttle(),
        _throttle(),
        "done",
    ]

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert retrier.call("CreateVolume", call) == "done"
    assert caps == [1.0, 2.0, 4.0, 5.0]
    assert clock.sleeps == caps


def test_retrier_raises_other_errors_at_once_and_gives_up_eventually() -> None:
    clock = FakeClock()
    retrier = Retrier(RetryPolicy(3, 0.1, 1.0), clock, lambda low, high: 0.0)
    denied = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "X")

    def deny() -> None:
        raise denied

    def throttle() -> None:
        raise _throttle()

    with pytest.raises(ClientError):
        retrier.call("X", deny)
    assert clock.sleeps == []
    with pytest.raises(RetriesExhausted, match="X: gave up after 3 attempts"):
        retrier.call("X", throttle)
    assert len(clock.sleeps) == 2


# -- btrfs, df, lsblk through the command runner ------------------------------------------


class Scripted:
    """A command runner answering from a table of outputs."""

    def __init__(self, answers: dict[str, CommandResult]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, ...]] = []

    def __call__(self, args: Sequence[str]) -> CommandResult:
        self.seen.append(tuple(args))
        return self.answers.get(args[0], CommandResult(0, ""))


DF_LINE = "/dev/x 1000 600 300 67% /m"
LSBLK_LINES = ['NAME="nvme0n1" SERIAL="vol0root"', 'NAME="nvme2n1" SERIAL="vol0abc"', 'NAME="xvdf"']


def test_btrfs_parses_df_show_and_lsblk() -> None:
    runner = Scripted(
        {
            "df": CommandResult(
                0,
                "\n".join(["Filesystem 1-blocks Used Available Capacity Mounted on", DF_LINE]),
            ),
            "btrfs": CommandResult(
                0,
                "Label: none\n\tdevid 1 size 1 used 1 path /dev/nvme1n1\n"
                "\tdevid 2 size 1 used 1 path /dev/nvme2n1\n",
            ),
            "lsblk": CommandResult(
                0,
                "\n".join(LSBLK_LINES),
            ),
            "findmnt": CommandResult(0, "btrfs\n"),
        }
    )
    fs = Btrfs("/m", runner)
    usage = fs.usage()
    assert usage == Usage(1000, 600, 300) and usage.percent == pytest.approx(66.67, abs=0.01)
    assert fs.devices() == ["/dev/nvme1n1", "/dev/nvme2n1"]
    assert fs.block_device("vol-0abc", "/dev/xvdba") == "/dev/nvme2n1"
    assert fs.block_device("vol-0def", "/dev/sdf") == "/dev/xvdf"
    assert fs.block_device("vol-0def", "/dev/xvdbz") is None
    assert fs.is_mounted()


def test_btrfs_failures_raise_with_the_command() -> None:
    fs = Btrfs("/m", Scripted({"btrfs": CommandResult(1, "", "ERROR: device busy")}))
    with pytest.raises(CommandFailed, match="btrfs device add -f /dev/nvme3n1 /m exited 1: ERROR"):
        fs.add_device("/dev/nvme3n1")


# -- IMDSv2 ---------------------------------------------------------------------------------


def test_imds_v2_asks_for_a_token_first() -> None:
    stub = ImdsStub("i-0123")
    try:
        identity = Imds(stub.endpoint).identity()
    finally:
        stub.close()
    assert (identity.instance_id, identity.region, identity.availability_zone) == (
        "i-0123",
        "us-east-1",
        "us-east-1a",
    )
    assert stub.requests == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/dynamic/instance-identity/document"),
    ]


def test_imds_unreachable_raises_imds_error() -> None:
    with pytest.raises(ImdsError, match="IMDS unreachable"):
        Imds(unreachable_endpoint(), timeout_s=0.5).identity()


# -- lock and command line ------------------------------------------------------------------


def test_only_one_daemon_holds_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "run" / "autoscale.lock")
    with SingleInstanceLock(path):
        with pytest.raises(AlreadyRunning, match="another EBS autoscale daemon"):
            with SingleInstanceLock(path):
                pass
    with SingleInstanceLock(path):
        assert Path(path).read_text().strip().isdigit()


def _config_file(tmp_path: Path) -> str:
    path = tmp_path / "autoscale.json"
    overrides = {"lock_file": str(tmp_path / "lock"), "log_file": str(tmp_path / "log")}
    path.write_text(json.dumps(overrides))
    return str(path)


def test_cli_status_prints_json(env: Env, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    daemon = env.daemon()
    daemon.init()
    assert cli.main(["--config", _config_file(tmp_path), "status"], daemon=daemon) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["volume_count"] == 1 and report["mounted"] is True


def test_cli_init_refuses_while_another_daemon_runs(env: Env, tmp_path: Path) -> None:
    config = _config_file(tmp_path)
    with SingleInstanceLock(str(tmp_path / "lock")):
        assert cli.main(["--config", config, "init"], daemon=env.daemon()) == 1
    assert env.own_volumes() == []
    assert cli.main(["--config", config, "init"], daemon=env.daemon()) == 0
    assert len(env.own_volumes()) == 1
    assert "event=already_running" in (tmp_path / "log").read_text()


def test_cli_rejects_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"nope": 1}')
    assert cli.main(["--config", str(path), "--dry-run", "run"]) == 2
    assert "unknown EBS autoscale config key: 'nope'" in capsys.readouterr().err


# -- as shipped to the hosts ----------------------------------------------------------------


def test_daemon_sources_parse_as_python_3_9() -> None:
    """Batch hosts run the daemon on their system python3 (3.9 on AL2023)."""
    sources = sorted((HOST_ASSETS_DIR / "ebs_autoscale").glob("*.py"))
    assert len(sources) >= 10
    for source in sources:
        text = source.read_text()
        ast.parse(text, filename=str(source), feature_version=(3, 9))
        assert "from __future__ import annotations" in text, source


def test_daemon_runs_from_the_host_assets_dir_alone(tmp_path: Path) -> None:
    """As on a host: PYTHONPATH is the unzipped asset, the package is ``ebs_autoscale``."""
    config = tmp_path / "autoscale.json"
    overrides = {"log_file": None, "imds": {"endpoint": unreachable_endpoint(), "timeout_s": 0.5}}
    config.write_text(json.dumps(overrides))
    result = subprocess.run(
        [sys.executable, "-m", "ebs_autoscale", "--config", str(config), "--dry-run", "status"],
        env={"PYTHONPATH": str(HOST_ASSETS_DIR), "PATH": os.environ["PATH"]},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["error"] == "instance identity unavailable (IMDS unreachable)"
    assert report["dry_run"] is True
    assert "event=imds_unreachable" in result.stderr


def test_cli_init_fails_with_a_reason_when_ec2_refuses(env: Env, tmp_path: Path) -> None:
    env.faulty.throttle = {"create_volume": 1000}
    assert cli.main(["--config", _config_file(tmp_path), "init"], daemon=env.daemon()) == 1
    assert "gave up after 10 attempts" in (tmp_path / "log").read_text()
    assert env.own_volumes() == []


class _StopsOnSigterm:
    """Stands in for the daemon: sends itself SIGTERM, then waits to be told to stop."""

    def __init__(self) -> None:
        self.iterations = 0

    def run(self, should_stop: Callable[[], bool]) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        while not should_stop() and self.iterations < 100:
            self.iterations += 1


def test_cli_run_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    fake = _StopsOnSigterm()
    assert cli.main(["--config", _config_file(tmp_path), "run"], daemon=fake) == 0  # type: ignore[arg-type]
    assert fake.iterations < 100
    assert signal.getsignal(signal.SIGTERM) == before
    assert "event=stopping signal=15" in (tmp_path / "log").read_text()
