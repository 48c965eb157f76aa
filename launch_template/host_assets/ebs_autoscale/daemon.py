"""The EBS autoscale daemon: watch usage, grow the scratch file system, never leak a volume."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from .config import Config
from .filesystem import CommandFailed, ScratchFileSystem
from .imds import Imds, ImdsError, InstanceIdentity
from .policy import decide, next_volume_size
from .ports import Clock
from .retry import Retrier
from .state import ManagedVolume, State
from .volumes import VolumeError, Volumes, attachment, is_available, is_gone, volume_tags

log = logging.getLogger(__name__)

Ec2Factory = Callable[[str], Any]


class GrowthFailed(Exception):
    """Adding a volume failed; the volume (if any) was cleaned up or queued for cleanup."""


class Daemon:
    """One daemon per host: ``init`` makes the file system, ``run`` keeps it growing.

    With ``dry_run`` it changes nothing, neither in EC2 nor on disk: what it would do is
    logged as ``event=dry_run`` (``status`` always runs this way).
    """

    def __init__(
        self,
        config: Config,
        imds: Imds,
        ec2_factory: Ec2Factory,
        fs: ScratchFileSystem,
        clock: Clock,
        retrier: Retrier | None = None,
        dry_run: bool = False,
    ) -> None:
        self.config = config
        self.imds = imds
        self.ec2_factory = ec2_factory
        self.fs = fs
        self.clock = clock
        self.retrier = retrier or Retrier(config.retry, clock)
        self.dry_run = dry_run
        self.identity: InstanceIdentity | None = None
        self.volumes: Volumes | None = None
        self.instance_tags: dict[str, str] = {}
        self.state = State()
        self._last_limit: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def connect(self) -> bool:
        """Learn who we are (IMDSv2), then rebuild state; False (logged) if IMDS is unreachable."""
        if self.identity is not None:
            return True
        try:
            identity = self.imds.identity()
        except ImdsError as error:
            log.error("event=imds_unreachable reason=%s", error)
            return False
        volumes = Volumes(
            self.ec2_factory(identity.region),
            self.retrier,
            self.clock,
            self.config.timeouts.poll_interval_s,
        )
        self.instance_tags, _ = volumes.instance(identity.instance_id)
        self.identity, self.volumes = identity, volumes
        self.state = State()
        try:
            self.rebuild()
        except Exception:
            # Half-rebuilt state could undercount volumes: start over on the next step.
            self.identity = self.volumes = None
            raise
        log.info(
            "event=connected instance=%s zone=%s volumes=%d total_gb=%d",
            identity.instance_id,
            identity.availability_zone,
            self.state.count,
            self.state.total_gb,
        )
        return True

    def rebuild(self) -> None:
        """Recover state from the attached volumes and the file system after a restart."""
        volumes, identity = self._connected()
        fs_devices = set(self.fs.devices()) if self.fs.is_mounted() else None
        for volume in volumes.owned(identity.instance_id):
            volume_id = str(volume["VolumeId"])
            attached = attachment(volume, identity.instance_id)
            if attached is None or attached.get("State") != "attached":
                self.discard(volume_id, f"left {volume.get('State')} by an earlier run")
                continue
            block = self.fs.block_device(volume_id, str(attached["Device"]))
            if fs_devices is not None and block is not None and block not in fs_devices:
                self.discard(volume_id, "attached but never added to the file system")
                continue
            managed = ManagedVolume(volume_id, int(volume["Size"]), str(attached["Device"]), block)
            self.state.add(managed)

    def init(self) -> None:
        """Make sure the scratch file system exists and is mounted (raises on failure)."""
        if not self.connect():
            raise GrowthFailed("instance identity unavailable (IMDS unreachable)")
        self.ensure_filesystem()

    def run(self, should_stop: Callable[[], bool], max_iterations: int | None = None) -> None:
        """Look at the file system every ``detection_interval`` until ``should_stop()``."""
        iterations = 0
        while not should_stop():
            self.step()
            iterations += 1
            if max_iterations is not None and iterations >= max_iterations:
                return
            self.clock.sleep(self.config.detection_interval)

    def step(self) -> None:
        """One look: never raises, so the daemon keeps running whatever happens."""
        try:
            self._step()
        except Exception as error:  # noqa: BLE001 - the loop must survive anything
            log.error("event=step_failed error=%s reason=%s", type(error).__name__, error)

    # -- one iteration ---------------------------------------------------------------------

    def _step(self) -> None:
        if not self.connect():
            return
        if not self.dry_run:
            self.retry_cleanup()
        if not self.fs.is_mounted():
            self.ensure_filesystem()
            return
        usage = self.fs.usage()
        decision = decide(usage, self.state.count, self.state.total_gb, self.config)
        if decision.limit_reached:
            if decision.reason != self._last_limit:
                log.warning("event=limit_reached reason=%s", decision.reason)
            self._last_limit = decision.reason
            return
        self._last_limit = None
        if not decision.grow or decision.size_gb is None:
            return
        log.info("event=grow reason=%s size_gb=%d", decision.reason, decision.size_gb)
        if self.dry_run:
            log.info("event=dry_run action=create_volume size_gb=%d", decision.size_gb)
            return
        self.grow(decision.size_gb)

    def ensure_filesystem(self) -> None:
        """Mount the file system from our volumes, or create it on a new first volume."""
        if self.fs.is_mounted():
            return
        known = [v.block_device for v in self.state.volumes.values() if v.block_device]
        if known:
            log.info("event=mount device=%s", known[0])
            self.fs.mount(known[0])
            return
        size, reason = next_volume_size(0, 0, self.config.limits)
        if size is None:
            raise GrowthFailed(reason)
        if self.dry_run:
            log.info("event=dry_run action=create_filesystem size_gb=%d", size)
            return
        volume = self.provision(size)
        try:
            self.fs.create(volume.block_device or "")
        except CommandFailed as error:
            self.discard(volume.volume_id, f"mkfs/mount failed: {error}")
            raise GrowthFailed(str(error)) from error
        self.state.add(volume)
        log.info("event=filesystem_created volume=%s size_gb=%d", volume.volume_id, size)

    def grow(self, size_gb: int) -> None:
        """Add one volume of ``size_gb`` to the file system (raises ``GrowthFailed``)."""
        volume = self.provision(size_gb)
        block = volume.block_device or ""
        try:
            self.fs.add_device(block)
        except CommandFailed as error:
            if self._maybe_in_filesystem(block):
                log.warning(
                    "event=add_failed_but_kept volume=%s reason=%s", volume.volume_id, error
                )
            else:
                self.discard(
                    volume.volume_id, f"adding the device to the file system failed: {error}"
                )
                raise GrowthFailed(str(error)) from error
        self.state.add(volume)
        try:
            self.fs.resize()
        except CommandFailed as error:
            log.warning("event=resize_failed reason=%s", error)
        log.info(
            "event=grown volume=%s size_gb=%d volumes=%d total_gb=%d",
            volume.volume_id,
            size_gb,
            self.state.count,
            self.state.total_gb,
        )

    def _maybe_in_filesystem(self, block: str) -> bool:
        """Whether a device whose add failed may still be in use (never detach one that is)."""
        try:
            return block in self.fs.devices()
        except CommandFailed as error:
            log.warning("event=devices_unreadable reason=%s", error)
            return True

    # -- volumes ---------------------------------------------------------------------------

    def provision(self, size_gb: int) -> ManagedVolume:
        """Create, attach and expose a volume; on any failure the volume is discarded."""
        volumes, identity = self._connected()
        tags = volume_tags(identity.instance_id, self.instance_tags, self.config.tags)
        try:
            volume_id = volumes.create(
                size_gb, identity.availability_zone, self.config.volume, tags
            )
        except Exception as error:
            raise GrowthFailed(f"create volume failed: {error}") from error
        log.info("event=volume_created volume=%s size_gb=%d", volume_id, size_gb)
        try:
            return self._attach(volume_id, size_gb)
        except Exception as error:
            self.discard(volume_id, str(error))
            raise GrowthFailed(f"{volume_id} not added: {error}") from error

    def _attach(self, volume_id: str, size_gb: int) -> ManagedVolume:
        volumes, identity = self._connected()
        timeouts = self.config.timeouts
        volumes.wait(volume_id, is_available, "available", timeouts.volume_available_s)
        # Taken names are looked up afresh each time: a name EC2 refused once may be free later.
        _, mapped = volumes.instance(identity.instance_id)
        taken = mapped | self.state.devices
        device = volumes.attach(volume_id, identity.instance_id, self.config.device_names, taken)
        volumes.wait(volume_id, self._is_attached, "attached", timeouts.volume_attached_s)
        volumes.set_delete_on_termination(identity.instance_id, device)
        block = self._wait_block_device(volume_id, device)
        log.info("event=volume_attached volume=%s device=%s block=%s", volume_id, device, block)
        return ManagedVolume(volume_id, size_gb, device, block)

    def _is_attached(self, volume: dict[str, Any] | None) -> bool:
        _, identity = self._connected()
        attached = attachment(volume, identity.instance_id)
        return attached is not None and attached.get("State") == "attached"

    def _wait_block_device(self, volume_id: str, device: str) -> str:
        deadline = self.clock.monotonic() + self.config.timeouts.device_visible_s
        while True:
            block = self.fs.block_device(volume_id, device)
            if block is not None:
                return block
            if self.clock.monotonic() >= deadline:
                raise VolumeError(f"{volume_id}: no block device appeared for {device}")
            self.clock.sleep(self.config.timeouts.poll_interval_s)

    def discard(self, volume_id: str, reason: str) -> bool:
        """Detach (if attached) and delete a volume; on failure queue it and retry every step."""
        volumes, identity = self._connected()
        if self.dry_run:
            # Read-only (``status``, ``--dry-run``): a running daemon may own this volume.
            log.info("event=dry_run action=delete_volume volume=%s reason=%s", volume_id, reason)
            self.state.pending_cleanup.add(volume_id)
            return False
        log.warning("event=discard volume=%s reason=%s", volume_id, reason)
        try:
            volume = volumes.describe(volume_id)
            attached = attachment(volume, identity.instance_id)
            if not is_gone(volume) and attached is not None:
                volumes.detach(volume_id, identity.instance_id, str(attached["Device"]))
                volumes.wait(
                    volume_id,
                    lambda v: is_available(v) or is_gone(v),
                    "detached",
                    self.config.timeouts.volume_detached_s,
                )
            if not is_gone(volume):
                volumes.delete(volume_id)
        except Exception as error:  # noqa: BLE001 - retried on the next step
            self.state.pending_cleanup.add(volume_id)
            log.error("event=cleanup_deferred volume=%s reason=%s", volume_id, error)
            return False
        self.state.pending_cleanup.discard(volume_id)
        self.state.volumes.pop(volume_id, None)
        log.info("event=volume_deleted volume=%s", volume_id)
        return True

    def retry_cleanup(self) -> None:
        """Try again to delete volumes an earlier cleanup could not."""
        for volume_id in sorted(self.state.pending_cleanup):
            self.discard(volume_id, "retrying an earlier failed cleanup")

    def _connected(self) -> tuple[Volumes, InstanceIdentity]:
        if self.volumes is None or self.identity is None:
            raise GrowthFailed("not connected to EC2 yet")
        return self.volumes, self.identity

    # -- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Usage, volumes and limits, as a JSON-ready dict."""
        report: dict[str, Any] = {
            "mountpoint": self.config.mountpoint,
            "dry_run": self.dry_run,
            "limits": asdict(self.config.limits),
        }
        if not self.connect() or self.identity is None:
            report["error"] = "instance identity unavailable (IMDS unreachable)"
            return report
        mounted = self.fs.is_mounted()
        usage = self.fs.usage() if mounted else None
        size, reason = next_volume_size(self.state.count, self.state.total_gb, self.config.limits)
        report.update(
            instance_id=self.identity.instance_id,
            mounted=mounted,
            usage=None if usage is None else {**asdict(usage), "percent": round(usage.percent, 2)},
            threshold_percent=self.config.threshold_for(self.state.count),
            volumes=[asdict(v) for v in self.state.volumes.values()],
            volume_count=self.state.count,
            total_size_gb=self.state.total_gb,
            next_volume_size_gb=size,
            limit_reached=None if size is not None else reason,
            pending_cleanup=sorted(self.state.pending_cleanup),
        )
        return report
