"""Growth decisions: when to add a volume and how big, within the limits."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config, Limits
from .filesystem import Usage


@dataclass(frozen=True)
class Decision:
    """What one look at the file system concluded.

    ``size_gb`` is set when a volume should be added; ``reason`` says why not otherwise
    (below the threshold, or a limit).
    """

    grow: bool
    size_gb: int | None
    reason: str
    limit_reached: bool = False


def next_volume_size(count: int, total_gb: int, limits: Limits) -> tuple[int | None, str]:
    """Size of the next volume, doubling from the minimum with each volume already added.

    Returns ``(None, reason)`` when a limit forbids another volume.
    """
    if count >= limits.max_volume_count:
        return None, f"max_volume_count {limits.max_volume_count} reached"
    remaining = limits.max_total_size_gb - total_gb
    if remaining < limits.min_volume_size_gb:
        return None, (
            f"max_total_size_gb {limits.max_total_size_gb} reached "
            f"({total_gb} GiB in use, {remaining} GiB left < min {limits.min_volume_size_gb})"
        )
    doubled = limits.min_volume_size_gb * (2 ** min(count, 30))
    return min(doubled, limits.max_volume_size_gb, remaining), "ok"


def decide(usage: Usage, count: int, total_gb: int, config: Config) -> Decision:
    """Grow when usage passes the threshold for ``count`` volumes and the limits allow it."""
    threshold = config.threshold_for(count)
    if usage.percent < threshold:
        return Decision(False, None, f"usage {usage.percent:.1f}% below threshold {threshold:g}%")
    size, reason = next_volume_size(count, total_gb, config.limits)
    if size is None:
        return Decision(False, None, reason, limit_reached=True)
    return Decision(True, size, f"usage {usage.percent:.1f}% >= threshold {threshold:g}%")
