"""Progress on stderr: a live rich view on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger("ironside.progress")


def _summary(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items())


class PlainProgress:
    """One ``progress`` log line every ``every`` seconds."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last = time.monotonic()
        self._t0 = self._last

    def __call__(self, engine: Any) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            log.info("progress elapsed=%.1fs %s", now - self._t0, _summary(engine.counts))

    def stop(self) -> None:
        """Nothing to tear down."""


class RichProgress:
    """A live table of queued / running / done / failed / cached and elapsed time."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.live import Live

        self._t0 = time.monotonic()
        self._title = title
        self._counts: dict[str, int] = {}
        self._live = Live(self._render(), console=Console(stderr=True), refresh_per_second=4)
        self._live.start()
        self._last = 0.0

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self._title, show_header=True)
        for k in ("queued", "running", "done", "failed", "cached"):
            table.add_column(k)
        table.add_column("elapsed")
        row = [
            str(self._counts.get(k, 0)) for k in ("queued", "running", "done", "failed", "cached")
        ]
        table.add_row(*row, f"{time.monotonic() - self._t0:.1f}s")
        return table

    def __call__(self, engine: Any) -> None:
        now = time.monotonic()
        if now - self._last >= 0.25:
            self._last = now
            self._counts = dict(engine.counts)
            self._live.update(self._render())

    def stop(self) -> None:
        """Draw the last state and release the terminal."""
        self._live.update(self._render())
        self._live.stop()


def make_progress(title: str) -> PlainProgress | RichProgress:
    """Rich on a terminal, plain otherwise."""
    if sys.stderr.isatty():
        return RichProgress(title)
    return PlainProgress()
