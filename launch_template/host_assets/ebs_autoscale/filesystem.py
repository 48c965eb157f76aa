"""The scratch file system (btrfs, or ext4 on LVM), driven through an injected command runner.

btrfs grows by adding devices to a mounted file system; it needs ``btrfs-progs``, which
Amazon Linux 2 ships and Amazon Linux 2023 (Batch's ``ECS_AL2023`` image) does not.  There the
daemon falls back to ext4 on an LVM volume group (``lvm2`` and ``e2fsprogs`` are in every
Amazon Linux), grown online with ``vgextend``, ``lvextend`` and ``resize2fs``.
"""

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


class ScratchFileSystem:
    """A multi-device file system at ``mountpoint`` that grows one device at a time."""

    #: What ``findmnt`` reports for it.
    FSTYPE = ""

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
        """True when this kind of file system is mounted exactly at the mount point."""
        result = self.runner(("findmnt", "-n", "-o", "FSTYPE", "--mountpoint", self.mountpoint))
        return result.returncode == 0 and result.stdout.strip() == self.FSTYPE

    def devices(self) -> list[str]:
        """Device paths in the file system."""
        raise NotImplementedError

    def create(self, device: str) -> None:
        """Make a new file system on ``device`` and mount it."""
        raise NotImplementedError

    def mount(self, device: str) -> None:
        """Mount the existing file system that ``device`` belongs to."""
        raise NotImplementedError

    def add_device(self, device: str) -> None:
        """Add ``device`` to the file system."""
        raise NotImplementedError

    def resize(self) -> None:
        """Grow the file system over all of its devices."""
        raise NotImplementedError

    def usage(self) -> Usage:
        """``df`` of the mount point."""
        lines = self._run("df", "-P", "-B1", self.mountpoint).stdout.strip().splitlines()
        fields = lines[-1].split()
        try:
            return Usage(int(fields[1]), int(fields[2]), int(fields[3]))
        except (IndexError, ValueError) as error:
            raise CommandFailed(f"cannot parse df output: {lines!r}") from error

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


class Btrfs(ScratchFileSystem):
    """btrfs: devices are added to the mounted file system."""

    FSTYPE = "btrfs"

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


class LvmExt4(ScratchFileSystem):
    """ext4 on one logical volume spanning an LVM volume group of all our devices."""

    FSTYPE = "ext4"
    VOLUME_GROUP = "ironside_scratch"
    LOGICAL_VOLUME = "scratch"

    @property
    def _lv_path(self) -> str:
        return f"/dev/{self.VOLUME_GROUP}/{self.LOGICAL_VOLUME}"

    def devices(self) -> list[str]:
        """Physical volumes of the volume group."""
        out = self._run(
            "pvs", "--noheadings", "-o", "pv_name", "--select", f"vg_name={self.VOLUME_GROUP}"
        ).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def create(self, device: str) -> None:
        """Volume group, logical volume and ext4 on ``device``, then mount."""
        self._run("pvcreate", "-f", "-y", device)
        self._run("vgcreate", self.VOLUME_GROUP, device)
        self._run("lvcreate", "-y", "-l", "100%FREE", "-n", self.LOGICAL_VOLUME, self.VOLUME_GROUP)
        self._run("mkfs.ext4", "-F", "-q", self._lv_path)
        self._mount()

    def mount(self, device: str) -> None:
        """Activate the volume group and mount its logical volume."""
        self._run("vgchange", "-ay", self.VOLUME_GROUP)
        self._mount()

    def _mount(self) -> None:
        self._run("mkdir", "-p", self.mountpoint)
        self._run("mount", "-t", "ext4", self._lv_path, self.mountpoint)

    def add_device(self, device: str) -> None:
        """Add ``device`` to the volume group."""
        self._run("pvcreate", "-f", "-y", device)
        self._run("vgextend", self.VOLUME_GROUP, device)

    def resize(self) -> None:
        """Extend the logical volume over the free space, then ext4 online."""
        self._run("lvextend", "-l", "+100%FREE", self._lv_path)
        self._run("resize2fs", self._lv_path)


#: The file systems by their config name.
FILESYSTEMS: dict[str, type[ScratchFileSystem]] = {"btrfs": Btrfs, "lvm.ext4": LvmExt4}


def choose_filesystem(kind: str, mountpoint: str, runner: CommandRunner) -> ScratchFileSystem:
    """The file system for config value ``kind``; ``auto`` is btrfs when ``mkfs.btrfs`` runs."""
    if kind == "auto":
        has_btrfs = runner(("mkfs.btrfs", "--version")).returncode == 0
        kind = "btrfs" if has_btrfs else "lvm.ext4"
    return FILESYSTEMS[kind](mountpoint, runner)


def _xen_names(attach_device: str) -> Sequence[str]:
    name = os.path.basename(attach_device)
    return [name, "xvd" + name[2:]] if name.startswith("sd") else [name]
