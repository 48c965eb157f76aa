"""The daemon's JSON configuration: defaults, deep merge of overrides, validation."""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Every knob, with its default.  A config file (or ``UserDataOptions.autoscale``) holds
#: overrides that are merged key by key over this; unknown keys are an error.
DEFAULT_CONFIG: dict[str, Any] = {
    "mountpoint": "/cromwell_root",
    "filesystem": "auto",
    "volume": {
        "type": "gp3",
        "iops": 3000,
        "throughput": 125,
        "encrypted": True,
        "kms_key_id": None,
    },
    "detection_interval": 2.0,
    "thresholds": [
        {"min_volumes": 0, "percent": 50},
        {"min_volumes": 4, "percent": 80},
        {"min_volumes": 7, "percent": 90},
    ],
    "limits": {
        "min_volume_size_gb": 150,
        "max_volume_size_gb": 1500,
        "max_total_size_gb": 8000,
        "max_volume_count": 16,
    },
    "timeouts": {
        "volume_available_s": 300.0,
        "volume_attached_s": 120.0,
        "volume_detached_s": 120.0,
        "device_visible_s": 60.0,
        "poll_interval_s": 2.0,
    },
    "retry": {"max_attempts": 10, "base_delay_s": 0.5, "max_delay_s": 30.0},
    "device_names": [f"/dev/xvdb{c}" for c in string.ascii_lowercase],
    "tags": {},
    "lock_file": "/run/ironside-ebs-autoscale.lock",
    "log_file": "/var/log/ironside-ebs-autoscale.log",
    "log_level": "INFO",
    "imds": {"endpoint": "http://169.254.169.254", "timeout_s": 2.0},
}

#: ``auto`` is btrfs when the host has btrfs-progs (Amazon Linux 2), else ``lvm.ext4``.
FILESYSTEM_KINDS = ("auto", "btrfs", "lvm.ext4")

#: Keys whose value is free-form (a mapping or a list replaced as a whole).
_OPAQUE_KEYS = {"tags", "thresholds", "device_names"}


class ConfigError(ValueError):
    """A configuration a person must fix (unknown key, wrong type, impossible limits)."""


def merge_config(overrides: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict:
    """Return ``base`` (default: ``DEFAULT_CONFIG``) with ``overrides`` merged in, recursively."""
    merged = copy.deepcopy(dict(DEFAULT_CONFIG if base is None else base))
    for key, value in overrides.items():
        if key not in merged:
            raise ConfigError(f"unknown EBS autoscale config key: {key!r}")
        if isinstance(merged[key], dict) and key not in _OPAQUE_KEYS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"EBS autoscale config key {key!r} must be an object")
            merged[key] = merge_config(value, merged[key])
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class VolumeSpec:
    """How new volumes are created."""

    type: str
    iops: int | None
    throughput: int | None
    encrypted: bool
    kms_key_id: str | None


@dataclass(frozen=True)
class Limits:
    """Sizes in GiB and the volume count the daemon never exceeds."""

    min_volume_size_gb: int
    max_volume_size_gb: int
    max_total_size_gb: int
    max_volume_count: int


@dataclass(frozen=True)
class Threshold:
    """Grow when usage is above ``percent`` once at least ``min_volumes`` volumes exist."""

    min_volumes: int
    percent: float


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for EC2 and the kernel, and the polling interval."""

    volume_available_s: float
    volume_attached_s: float
    volume_detached_s: float
    device_visible_s: float
    poll_interval_s: float


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for throttled and transient EC2 calls (full jitter, capped)."""

    max_attempts: int
    base_delay_s: float
    max_delay_s: float


@dataclass(frozen=True)
class Config:
    """The validated daemon configuration."""

    mountpoint: str
    filesystem: str
    volume: VolumeSpec
    detection_interval: float
    thresholds: tuple[Threshold, ...]
    limits: Limits
    timeouts: Timeouts
    retry: RetryPolicy
    device_names: tuple[str, ...]
    tags: Mapping[str, str]
    lock_file: str
    log_file: str | None
    log_level: str
    imds_endpoint: str
    imds_timeout_s: float

    def threshold_for(self, volume_count: int) -> float:
        """The usage percentage that triggers growth with ``volume_count`` volumes."""
        eligible = [t for t in self.thresholds if t.min_volumes <= volume_count]
        return max(eligible, key=lambda t: t.min_volumes).percent


def build_config(overrides: Mapping[str, Any] | None = None) -> Config:
    """Merge ``overrides`` over the defaults and validate the result."""
    raw = merge_config(overrides or {})
    try:
        config = Config(
            mountpoint=str(raw["mountpoint"]),
            filesystem=str(raw["filesystem"]),
            volume=VolumeSpec(**raw["volume"]),
            detection_interval=float(raw["detection_interval"]),
            thresholds=tuple(Threshold(**t) for t in raw["thresholds"]),
            limits=Limits(**raw["limits"]),
            timeouts=Timeouts(**raw["timeouts"]),
            retry=RetryPolicy(**raw["retry"]),
            device_names=tuple(raw["device_names"]),
            tags=dict(raw["tags"]),
            lock_file=str(raw["lock_file"]),
            log_file=raw["log_file"],
            log_level=str(raw["log_level"]),
            imds_endpoint=str(raw["imds"]["endpoint"]),
            imds_timeout_s=float(raw["imds"]["timeout_s"]),
        )
    except (TypeError, KeyError) as error:
        raise ConfigError(f"invalid EBS autoscale config: {error}") from error
    _validate(config)
    return config


def _validate(config: Config) -> None:
    if config.filesystem not in FILESYSTEM_KINDS:
        kinds = ", ".join(repr(k) for k in FILESYSTEM_KINDS)
        raise ConfigError(f"filesystem must be one of {kinds}, not {config.filesystem!r}")
    if not any(t.min_volumes == 0 for t in config.thresholds):
        raise ConfigError("thresholds need an entry with min_volumes 0")
    limits = config.limits
    if not 1 <= limits.min_volume_size_gb <= limits.max_volume_size_gb:
        raise ConfigError("limits need 1 <= min_volume_size_gb <= max_volume_size_gb")
    if limits.max_total_size_gb < limits.min_volume_size_gb or limits.max_volume_count < 1:
        raise ConfigError("limits leave no room for a single volume")
    if len(config.device_names) < limits.max_volume_count:
        raise ConfigError("fewer device_names than max_volume_count")


def load_config(path: str | Path) -> Config:
    """Read a JSON file of overrides (or a full config) and validate it."""
    try:
        overrides = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read EBS autoscale config {path}: {error}") from error
    if not isinstance(overrides, dict):
        raise ConfigError(f"EBS autoscale config {path} must hold a JSON object")
    return build_config(overrides)
