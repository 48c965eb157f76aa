"""The daemon's seams to the outside world: clock and sleeper, command runner."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Monotonic time and sleeping (tests hand in a fake that advances on ``sleep``)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """``time.monotonic``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep``."""
        time.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class CommandResult:
    """What a command returned."""

    returncode: int
    stdout: str
    stderr: str = ""


class CommandRunner(Protocol):
    """Runs one command (btrfs, df, lsblk, mount...) and returns its result."""

    def __call__(self, args: Sequence[str]) -> CommandResult:
        """Run ``args`` (no shell)."""
        ...


def run_command(args: Sequence[str]) -> CommandResult:
    """The real command runner (five-minute cap, so a hung ``btrfs`` cannot stall forever)."""
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        return CommandResult(returncode=127, stdout="", stderr=str(error))
    return CommandResult(done.returncode, done.stdout, done.stderr)
