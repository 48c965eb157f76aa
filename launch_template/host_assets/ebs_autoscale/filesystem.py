"""The btrfs scratch file system, driven through an injected command runner."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .ports import CommandResult, CommandRunner


class CommandFailed(Exception):
    """A file-system command exited non-zero."""


@dataclass(frozen=True)
class Usage:
    """Space on the mount point, in bytes, as ``df`` reports it."""

    size_bytes: int
    used_bytes: int
    available_bytes: int

    @property
    def percent(self) -> float:
        """Used share of usable space (``df``'s Use%, unrounded)."""
        usable = self.used_bytes + self.available_bytes
        return 100.0 * self.used_bytes / usable if usable else 100.0


_DEVICE_PATH = re.compile(r"\bpath\s+(\S+)")
_LSBLK_PAIR = re.compile(r'(\w+)="([^"]*)"')


class Btrfs:
    """A btrfs file system at ``mountpoint``."""

    def __init__(self, mountpoint: str, runner: CommandRunner) -> None:
        self.mountpoint = mountpoint
        self.runner = runner

    def _run(self, *args: str) -> CommandResult:
        result = self.runner(args)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise CommandFailed(f"{shlex.join(args)} exited {result.returncode}: {detail}")
        return result

    def is_mounted(self) -> bool:
        """True when a btrfs file system is mounted exactly at the mount point."""
        result = self.runner(("findmnt", "-n", "-o", "FSTYPE", "--mountpoint", self.mountpoint))
        return result.returncode == 0 and result.stdout.strip() == "btrfs"

    def usage(self) -> Usage:
        """``df`` of the mount point."""
        lines = self._run("df", "-P", "-B1", self.mountpoint).stdout.strip().splitlines()
        fields = lines[-1].split()
        try:
            return Usage(int(fields[1]), int(fields[2]), int(fields[3]))
        except (IndexError, ValueError) as error:
            raise CommandFailed(f"cannot parse df output: {lines!r}") from error

    def devices(self) -> list[str]:
        """Device paths in the file system."""
        out = self._run("btrfs", "filesystem", "show", "--raw", self.mountpoint).stdout
        return _DEVICE_PATH.findall(out)

    def create(self, device: str) -> None:
        """Make a new file system on ``device`` and mount it."""
        self._run("mkfs.btrfs", "-f", device)
        self.mount(device)

    def mount(self, device: str) -> None:
        """Mount the (possibly multi-device) file system that ``device`` belongs to."""
        self._run("mkdir", "-p", self.mountpoint)
        self._run("btrfs", "device", "scan")
        self._run("mount", "-t", "btrfs", device, self.mountpoint)

    def add_device(self, device: str) -> None:
        """Add ``device`` to the file system (btrfs grows by the device's size)."""
        self._run("btrfs", "device", "add", "-f", device, self.mountpoint)

    def resize(self) -> None:
        """Grow the file system to the whole of its devices."""
        self._run("btrfs", "filesystem", "resize", "max", self.mountpoint)

    def block_device(self, volume_id: str, attach_device: str) -> str | None:
        """The kernel's device for an attached EBS volume, or ``None`` while it is not visible.

        Nitro hosts expose volumes as NVMe devices whose serial is the volume id without its
        dash; Xen hosts keep the attach name, with ``sd`` shown as ``xvd``.
        """
        result = self.runner(("lsblk", "-d", "-n", "-P", "-o", "NAME,SERIAL"))
        if result.returncode != 0:
            return None
        serial = volume_id.replace("-", "")
        xen_names = _xen_names(attach_device)
        for line in result.stdout.splitlines():
            fields = dict(_LSBLK_PAIR.findall(line))
            name = fields.get("NAME", "")
            if name and (fields.get("SERIAL") == serial or name in xen_names):
                return f"/dev/{name}"
        return None


def _xen_names(attach_device: str) -> Sequence[str]:
    name = os.path.basename(attach_device)
    return [name, "xvd" + name[2:]] if name.startswith("sd") else [name]
