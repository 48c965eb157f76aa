"""Fakes for the EBS autoscale daemon: clock, IMDS stub server, host commands, faulty EC2."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from launch_template.host_assets.ebs_autoscale.config import Config, build_config
from launch_template.host_assets.ebs_autoscale.daemon import Daemon
from launch_template.host_assets.ebs_autoscale.filesystem import choose_filesystem
from launch_template.host_assets.ebs_autoscale.imds import Imds
from launch_template.host_assets.ebs_autoscale.ports import CommandResult
from launch_template.host_assets.ebs_autoscale.retry import Retrier

REGION = "us-east-1"
ZONE = "us-east-1a"
GIB = 1024**3
MOUNT = "/cromwell_root"


class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ImdsStub:
    """An IMDSv2 look-alike on loopback: PUT a token, GET the identity document with it."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.requests: list[tuple[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                stub.requests.append(("PUT", self.path))
                ok = self.path == "/latest/api/token" and self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                )
                self._reply(200 if ok else 400, "token-123")

            def do_GET(self) -> None:  # noqa: N802
                stub.requests.append(("GET", self.path))
                if self.headers.get("X-aws-ec2-metadata-token") != "token-123":
                    self._reply(401, "")
                    return
                document = {
                    "instanceId": stub.instance_id,
                    "region": REGION,
                    "availabilityZone": ZONE,
                }
                self._reply(200, json.dumps(document))

            def _reply(self, code: int, body: str) -> None:
                self.send_response(code)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def unreachable_endpoint() -> str:
    """A loopback URL nobody listens on."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


LV_PATH = "/dev/ironside_scratch/scratch"


class FakeHost:
    """The host's commands (findmnt, df, btrfs, LVM, mkfs, mount, lsblk) over moto's EC2 state.

    lsblk shows every volume moto has attached to the instance as an NVMe device whose
    serial is the volume id without its dash, as Nitro hosts do.
    """

    def __init__(self, ec2: Any, instance_id: str) -> None:
        self.ec2 = ec2
        self.instance_id = instance_id
        self.mounted = False
        self.fstype = ""
        self.has_btrfs = True
        self.fs_devices: list[str] = []
        self.used_bytes = 0
        self.commands: list[tuple[str, ...]] = []
        self.fail: set[str] = set()
        self._names: dict[str, str] = {}
        self._root = {v["VolumeId"] for v in self._attached()}

    def _attached(self) -> list[dict[str, Any]]:
        return self.ec2.describe_volumes(
            Filters=[{"Name": "attachment.instance-id", "Values": [self.instance_id]}]
        )["Volumes"]

    def __call__(self, args: Sequence[str]) -> CommandResult:
        args = tuple(args)
        self.commands.append(args)
        key = " ".join(args[:3])
        if any(key.startswith(prefix) for prefix in self.fail):
            return CommandResult(1, "", f"simulated failure of {key}")
        handler = self._handler(args)
        return handler(args)

    def _handler(self, args: tuple[str, ...]) -> Callable[[tuple[str, ...]], CommandResult]:
        table: dict[str, Callable[[tuple[str, ...]], CommandResult]] = {
            "findmnt": self._findmnt,
            "df": self._df,
            "lsblk": self._lsblk,
            "btrfs": self._btrfs,
            "mkfs.btrfs": self._mkfs,
            "mount": self._mount,
            "mkdir": self._ok,
            "pvcreate": self._ok,
            "lvcreate": self._ok,
            "vgchange": self._ok,
            "lvextend": self._ok,
            "resize2fs": self._ok,
            "vgcreate": self._vgcreate,
            "vgextend": self._vgextend,
            "pvs": self._pvs,
            "mkfs.ext4": self._mkfs_ext4,
        }
        return table[args[0]]

    def size_bytes(self) -> int:
        sizes = {f"/dev/{name}": vid for vid, name in self._names.items()}
        total = 0
        for device in self.fs_devices:
            volume = self.ec2.describe_volumes(VolumeIds=[sizes[device]])["Volumes"][0]
            total += volume["Size"] * GIB
        return total

    def fill_to(self, percent: float) -> None:
        self.used_bytes = int(self.size_bytes() * percent / 100)

    def _ok(self, args: tuple[str, ...]) -> CommandResult:
        return CommandResult(0, "")

    def _findmnt(self, args: tuple[str, ...]) -> CommandResult:
        return CommandResult(0, f"{self.fstype}\n") if self.mounted else CommandResult(1, "")

    def _df(self, args: tuple[str, ...]) -> CommandResult:
        size = self.size_bytes()
        avail = max(0, size - self.used_bytes)
        header = "Filesystem 1-blocks Used Available Capacity Mounted on\n"
        line = f"/dev/nvme1n1 {size} {self.used_bytes} {avail} 50% {MOUNT}\n"
        return CommandResult(0, header + line)

    def _lsblk(self, args: tuple[str, ...]) -> CommandResult:
        lines = ['NAME="nvme0n1" SERIAL="vol0root"']
        for volume in self._attached():
            vid = volume["VolumeId"]
            if vid in self._root:
                continue
            name = self._names.setdefault(vid, f"nvme{len(self._names) + 1}n1")
            lines.append(f'NAME="{name}" SERIAL="{vid.replace("-", "")}"')
        return CommandResult(0, "\n".join(lines) + "\n")

    def _btrfs(self, args: tuple[str, ...]) -> CommandResult:
        if args[1:3] == ("device", "add"):
            self.fs_devices.append(args[4])
        elif args[1:3] == ("filesystem", "show"):
            out = "".join(
                f"\tdevid {i + 1} size 1 used 0 path {d}\n" for i, d in enumerate(self.fs_devices)
            )
            return CommandResult(0, f"Label: none  uuid: x\n{out}")
        return CommandResult(0, "")

    def _mkfs(self, args: tuple[str, ...]) -> CommandResult:
        if args[1] == "--version":
            return CommandResult(0 if self.has_btrfs else 127, "btrfs-progs v6")
        self.fs_devices = [args[-1]]
        self.fstype = "btrfs"
        return CommandResult(0, "")

    def _vgcreate(self, args: tuple[str, ...]) -> CommandResult:
        self.fs_devices = [args[-1]]
        return CommandResult(0, "")

    def _vgextend(self, args: tuple[str, ...]) -> CommandResult:
        self.fs_devices.append(args[-1])
        return CommandResult(0, "")

    def _pvs(self, args: tuple[str, ...]) -> CommandResult:
        return CommandResult(0, "".join(f"  {d}\n" for d in self.fs_devices))

    def _mkfs_ext4(self, args: tuple[str, ...]) -> CommandResult:
        self.fstype = "ext4" if args[-1] == LV_PATH else ""
        return CommandResult(0 if self.fstype else 1, "")

    def _mount(self, args: tuple[str, ...]) -> CommandResult:
        if self.fstype == "ext4":
            self.mounted = args[-2] == LV_PATH
        else:
            self.mounted = args[-2] in self.fs_devices
        return CommandResult(0 if self.mounted else 32, "", "" if self.mounted else "no fs")


def _client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FaultyEc2:
    """moto's EC2 client with injectable faults; every other call passes through."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2
        self.throttle: dict[str, int] = {}
        self.taken_devices: set[str] = set()
        self.stuck_creating = False
        self.stuck_attaching = False
        self.detached: set[str] = set()
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ec2, name)

    def _call(self, name: str, **kwargs: Any) -> Any:
        self.calls.append(name)
        if self.throttle.get(name, 0) > 0:
            self.throttle[name] -= 1
            raise _client_error("RequestLimitExceeded", "Request limit exceeded.", name)
        return getattr(self.ec2, name)(**kwargs)

    def create_volume(self, **kwargs: Any) -> Any:
        return self._call("create_volume", **kwargs)

    def delete_volume(self, **kwargs: Any) -> Any:
        return self._call("delete_volume", **kwargs)

    def detach_volume(self, **kwargs: Any) -> Any:
        self.detached.add(kwargs["VolumeId"])
        return self._call("detach_volume", **kwargs)

    def attach_volume(self, **kwargs: Any) -> Any:
        if kwargs["Device"] in self.taken_devices:
            self.calls.append("attach_volume")
            message = f"Invalid value '{kwargs['Device']}' for unixDevice. Attachment point"
            raise _client_error(
                "InvalidParameterValue", f"{message} {kwargs['Device']} is already in use", "x"
            )
        return self._call("attach_volume", **kwargs)

    def describe_volumes(self, **kwargs: Any) -> Any:
        answer = self._call("describe_volumes", **kwargs)
        for volume in answer["Volumes"]:
            if self.stuck_creating and volume["State"] == "available":
                volume["State"] = "creating"
            if self.stuck_attaching and volume["VolumeId"] not in self.detached:
                for item in volume.get("Attachments", []):
                    item["State"] = "attaching"
        return answer


class Env:
    """Everything a daemon test needs, wired together."""

    def __init__(self, ec2: Any, instance_id: str, imds: ImdsStub) -> None:
        self.ec2 = ec2
        self.instance_id = instance_id
        self.imds = imds
        self.faulty = FaultyEc2(ec2)
        self.host = FakeHost(ec2, instance_id)
        self.clock = FakeClock()
        self.jitter: list[tuple[float, float]] = []

    def rng(self, low: float, high: float) -> float:
        self.jitter.append((low, high))
        return high / 2

    def config(self, **overrides: Any) -> Config:
        return build_config({"log_file": None, **overrides})

    def daemon(
        self, config: Config | None = None, imds_endpoint: str | None = None, dry_run: bool = False
    ) -> Daemon:
        config = config or self.config()
        return Daemon(
            config=config,
            imds=Imds(imds_endpoint or self.imds.endpoint, timeout_s=1.0),
            ec2_factory=lambda region: self.faulty,
            fs=choose_filesystem(config.filesystem, config.mountpoint, self.host),
            clock=self.clock,
            retrier=Retrier(config.retry, self.clock, self.rng),
            dry_run=dry_run,
        )

    def own_volumes(self) -> list[dict[str, Any]]:
        return self.ec2.describe_volumes(
            Filters=[{"Name": "tag:ironside:autoscale", "Values": ["true"]}]
        )["Volumes"]

    def assert_no_unattached_volume(self) -> None:
        for volume in self.own_volumes():
            assert volume["State"] == "in-use", volume
            assert [a["InstanceId"] for a in volume["Attachments"]] == [self.instance_id]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # loading them is slow
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        reservation = ec2.run_instances(
            ImageId="ami-0123456789abcdef0",
            MinCount=1,
            MaxCount=1,
            InstanceType="m5.large",
            Placement={"AvailabilityZone": ZONE},
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [
                        {"Key": "Name", "Value": "batch-host"},
                        {"Key": "project", "Value": "genomics"},
                    ],
                }
            ],
        )
        instance_id = reservation["Instances"][0]["InstanceId"]
        imds = ImdsStub(instance_id)
        try:
            yield Env(ec2, instance_id, imds)
        finally:
            imds.close()
