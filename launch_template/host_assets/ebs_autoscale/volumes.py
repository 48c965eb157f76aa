"""EBS volumes through EC2: create, wait, attach at a free device, detach, delete, list."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from .config import VolumeSpec
from .ports import Clock
from .retry import Retrier, error_code

log = logging.getLogger(__name__)

#: The tag every daemon-created volume carries.
AUTOSCALE_TAG_KEY = "ironside:autoscale"
AUTOSCALE_TAG_VALUE = "true"
#: The tag holding the id of the instance the volume was created for.
INSTANCE_TAG_KEY = "ironside:autoscale-instance"
_MAX_TAGS = 50


class VolumeError(Exception):
    """An EC2 volume operation failed or timed out; the message says why."""


class DeviceNamesExhausted(VolumeError):
    """Every configured device name is taken."""


def volume_tags(
    instance_id: str, instance_tags: Mapping[str, str], extra: Mapping[str, str]
) -> dict[str, str]:
    """The instance's tags (minus reserved ``aws:`` ones), the configured ones, then ours."""
    own = {AUTOSCALE_TAG_KEY: AUTOSCALE_TAG_VALUE, INSTANCE_TAG_KEY: instance_id}
    inherited = {k: v for k, v in instance_tags.items() if not k.startswith("aws:")}
    merged = {**inherited, **extra}
    room = _MAX_TAGS - len(own)
    return {**dict(list(merged.items())[:room]), **own}


def _is_device_taken(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", ""))
    return error_code(error) in {"InvalidParameterValue", "InvalidDevice.InUse"} and (
        "in use" in message or "InUse" in error_code(error)
    )


class Volumes:
    """EC2 volume operations for one instance, each call retried on throttling."""

    def __init__(
        self, ec2: Any, retrier: Retrier, clock: Clock, poll_interval_s: float = 2.0
    ) -> None:
        self.ec2 = ec2
        self.retrier = retrier
        self.clock = clock
        self.poll_interval_s = poll_interval_s

    def instance(self, instance_id: str) -> tuple[dict[str, str], set[str]]:
        """The instance's tags and the device names its block device mappings use."""
        answer = self.retrier.call(
            "DescribeInstances", lambda: self.ec2.describe_instances(InstanceIds=[instance_id])
        )
        instance = answer["Reservations"][0]["Instances"][0]
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        devices = {m["DeviceName"] for m in instance.get("BlockDeviceMappings", [])}
        devices.add(instance.get("RootDeviceName", "/dev/xvda"))
        return tags, devices

    def create(self, size_gb: int, zone: str, spec: VolumeSpec, tags: Mapping[str, str]) -> str:
        """Create a volume; returns its id."""
        request: dict[str, Any] = {
            "AvailabilityZone": zone,
            "Size": size_gb,
            "VolumeType": spec.type,
            "Encrypted": spec.encrypted,
            "TagSpecifications": [
                {
                    "ResourceType": "volume",
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            ],
        }
        if spec.type in {"gp3", "io1", "io2"} and spec.iops:
            request["Iops"] = spec.iops
        if spec.type == "gp3" and spec.throughput:
            request["Throughput"] = spec.throughput
        if spec.encrypted and spec.kms_key_id:
            request["KmsKeyId"] = spec.kms_key_id
        answer = self.retrier.call("CreateVolume", lambda: self.ec2.create_volume(**request))
        return str(answer["VolumeId"])

    def describe(self, volume_id: str) -> dict[str, Any] | None:
        """The volume, or ``None`` when EC2 does not (or no longer, or not yet) know it."""
        try:
            answer = self.retrier.call(
                "DescribeVolumes", lambda: self.ec2.describe_volumes(VolumeIds=[volume_id])
            )
        except ClientError as error:
            if error_code(error) == "InvalidVolume.NotFound":
                return None
            raise
        found = answer.get("Volumes", [])
        return dict(found[0]) if found else None

    def wait(
        self,
        volume_id: str,
        done: Callable[[dict[str, Any] | None], bool],
        what: str,
        timeout_s: float,
    ) -> dict[str, Any] | None:
        """Poll until ``done(volume)``; raises ``VolumeError`` after ``timeout_s``."""
        deadline = self.clock.monotonic() + timeout_s
        while True:
            volume = self.describe(volume_id)
            if done(volume):
                return volume
            if self.clock.monotonic() >= deadline:
                state = _state(volume)
                raise VolumeError(
                    f"{volume_id}: timed out after {timeout_s:g} s waiting to be {what} "
                    f"(state {state})"
                )
            self.clock.sleep(self.poll_interval_s)

    def attach(
        self, volume_id: str, instance_id: str, candidates: Iterable[str], taken: set[str]
    ) -> str:
        """Attach at the first free candidate device; names EC2 reports in use join ``taken``."""
        for device in candidates:
            if device in taken:
                continue
            try:
                self._attach_at(volume_id, instance_id, device)
            except ClientError as error:
                if not _is_device_taken(error):
                    raise
                log.warning("event=device_taken volume=%s device=%s", volume_id, device)
                taken.add(device)
                continue
            taken.add(device)
            return device
        raise DeviceNamesExhausted(f"{volume_id}: no free device name among the configured ones")

    def _attach_at(self, volume_id: str, instance_id: str, device: str) -> None:
        self.retrier.call(
            "AttachVolume",
            lambda: self.ec2.attach_volume(
                VolumeId=volume_id, InstanceId=instance_id, Device=device
            ),
        )

    def set_delete_on_termination(self, instance_id: str, device: str) -> None:
        """Make EC2 delete the volume at ``device`` when the instance terminates."""
        mapping = [{"DeviceName": device, "Ebs": {"DeleteOnTermination": True}}]
        self.retrier.call(
            "ModifyInstanceAttribute",
            lambda: self.ec2.modify_instance_attribute(
                InstanceId=instance_id, BlockDeviceMappings=mapping
            ),
        )

    def detach(self, volume_id: str, instance_id: str, device: str) -> None:
        """Force-detach (the volume is not, or no longer, in the file system)."""
        self.retrier.call(
            "DetachVolume",
            lambda: self.ec2.detach_volume(
                VolumeId=volume_id, InstanceId=instance_id, Device=device, Force=True
            ),
        )

    def delete(self, volume_id: str) -> None:
        """Delete the volume; a volume EC2 no longer knows counts as deleted."""
        try:
            self.retrier.call("DeleteVolume", lambda: self.ec2.delete_volume(VolumeId=volume_id))
        except ClientError as error:
            if error_code(error) != "InvalidVolume.NotFound":
                raise

    def owned(self, instance_id: str) -> list[dict[str, Any]]:
        """Every volume this daemon created for ``instance_id``, whatever its state."""
        filters = [
            {"Name": f"tag:{AUTOSCALE_TAG_KEY}", "Values": [AUTOSCALE_TAG_VALUE]},
            {"Name": f"tag:{INSTANCE_TAG_KEY}", "Values": [instance_id]},
        ]
        volumes: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._describe_page(filters, token)
            volumes.extend(page.get("Volumes", []))
            token = page.get("NextToken")
            if not token:
                return volumes

    def _describe_page(self, filters: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Filters": filters}
        if token:
            kwargs["NextToken"] = token
        page = self.retrier.call("DescribeVolumes", lambda: self.ec2.describe_volumes(**kwargs))
        return dict(page)


def attachment(volume: Mapping[str, Any] | None, instance_id: str) -> dict[str, Any] | None:
    """The volume's attachment to ``instance_id``, if any."""
    for item in (volume or {}).get("Attachments", []):
        if item.get("InstanceId") == instance_id:
            return dict(item)
    return None


def _state(volume: Mapping[str, Any] | None) -> str:
    return "unknown" if volume is None else str(volume.get("State", "unknown"))


def is_available(volume: Mapping[str, Any] | None) -> bool:
    """True when the volume exists, unattached, ready to attach."""
    return volume is not None and volume.get("State") == "available"


def is_gone(volume: Mapping[str, Any] | None) -> bool:
    """True when the volume no longer exists."""
    return volume is None or volume.get("State") in {"deleted", "deleting"}
