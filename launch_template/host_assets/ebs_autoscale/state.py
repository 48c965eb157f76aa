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
    """Managed volumes and volumes still to delete."""

    volumes: dict[str, ManagedVolume] = field(default_factory=dict)
    pending_cleanup: set[str] = field(default_factory=set)

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

    @property
    def devices(self) -> set[str]:
        """Device names our volumes are attached at."""
        return {v.device for v in self.volumes.values()}
