"""What the daemon knows about its volumes (rebuilt from EC2 and btrfs after a restart)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ManagedVolume:
    """A daemon volume attached to this instance and part of the file system."""

    volume_id: str
    size_gb: int
    device: str
    block_device: str | None


@dataclass
class State:
    """Managed volumes, volumes still to delete, device names known to be taken."""

    volumes: dict[str, ManagedVolume] = field(default_factory=dict)
    pending_cleanup: set[str] = field(default_factory=set)
    taken_devices: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        """How many volumes the daemon manages."""
        return len(self.volumes)

    @property
    def total_gb(self) -> int:
        """Their total size in GiB."""
        return sum(v.size_gb for v in self.volumes.values())

    def add(self, volume: ManagedVolume) -> None:
        """Record a managed volume."""
        self.volumes[volume.volume_id] = volume
        self.taken_devices.add(volume.device)
