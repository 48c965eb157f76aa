"""Whether a call reads from and writes to the cache: config, workflow options, task meta.

- config ``call-caching { enabled, invalidate-bad-cache-results,
  max-failed-copy-attempts, max-result-age-days }``;
- workflow options ``read_from_cache``, ``write_to_cache``,
  ``call_cache_hit_path_prefixes``;
- ``meta { volatile: true }`` on a task: never read nor written.

The result is Cromwell's ``effectiveCallCachingMode``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ironside.errors import BadConfig, BadOptions


class CallCachingMode(enum.Enum):
    """Cromwell's ``effectiveCallCachingMode`` values."""

    READ_AND_WRITE = "ReadAndWriteCache"
    READ = "ReadCache"
    WRITE = "WriteCache"
    OFF = "CallCachingOff"

    @property
    def reads(self) -> bool:
        """Whether a lookup is made before running."""
        return self in (CallCachingMode.READ_AND_WRITE, CallCachingMode.READ)

    @property
    def writes(self) -> bool:
        """Whether a successful result is recorded."""
        return self in (CallCachingMode.READ_AND_WRITE, CallCachingMode.WRITE)

    @classmethod
    def of(cls, read: bool, write: bool) -> CallCachingMode:
        """The mode for a read flag and a write flag."""
        if read and write:
            return cls.READ_AND_WRITE
        if read:
            return cls.READ
        return cls.WRITE if write else cls.OFF


def _boolean(value: Any) -> bool | None:
    """A JSON/HOCON boolean, also as the strings ``"true"``/``"false"``; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


@dataclass(frozen=True)
class CallCachingConfig:
    """The ``call-caching`` config block."""

    enabled: bool = True
    invalidate_bad_cache_results: bool = True
    max_failed_copy_attempts: int = 1_000_000
    max_result_age_days: float | None = None

    @classmethod
    def from_config(cls, block: Mapping[str, Any] | None) -> CallCachingConfig:
        """Read ``call-caching`` (a mapping or pyhocon ConfigTree); BadConfig on wrong types."""
        block = block or {}
        return cls(
            enabled=_config_bool(block, "enabled", True),
            invalidate_bad_cache_results=_config_bool(block, "invalidate-bad-cache-results", True),
            max_failed_copy_attempts=_config_int(block, "max-failed-copy-attempts", 1_000_000),
            max_result_age_days=_config_age(block.get("max-result-age-days")),
        )


def _config_bool(block: Mapping[str, Any], key: str, default: bool) -> bool:
    value = _boolean(block.get(key, default))
    if value is None:
        raise BadConfig(f"call-caching.{key} must be true or false, got {block.get(key)!r}")
    return value


def _config_int(block: Mapping[str, Any], key: str, default: int) -> int:
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadConfig(f"call-caching.{key} must be a positive integer, got {value!r}")
    return value


def _config_age(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise BadConfig(
            f"call-caching.max-result-age-days must be a positive number, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class CallCachingOptions:
    """The call-caching workflow options. ``hit_path_prefixes`` None means any path."""

    read_from_cache: bool = True
    write_to_cache: bool = True
    hit_path_prefixes: tuple[str, ...] | None = None

    @classmethod
    def from_workflow_options(cls, options: Mapping[str, Any] | None) -> CallCachingOptions:
        """Validate and read the options; BadOptions names the option that is wrong."""
        options = options or {}
        return cls(
            read_from_cache=_option_bool(options, "read_from_cache"),
            write_to_cache=_option_bool(options, "write_to_cache"),
            hit_path_prefixes=_prefixes(options.get("call_cache_hit_path_prefixes")),
        )


def _option_bool(options: Mapping[str, Any], name: str) -> bool:
    if name not in options:
        return True
    value = _boolean(options[name])
    if value is None:
        raise BadOptions(f"workflow option {name} must be true or false, got {options[name]!r}")
    return value


def _prefixes(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    name = "call_cache_hit_path_prefixes"
    if not isinstance(value, list | tuple):
        raise BadOptions(f"workflow option {name} must be a list of path prefixes, got {value!r}")
    if not all(isinstance(prefix, str) and prefix for prefix in value):
        raise BadOptions(f"workflow option {name} must contain only non-empty strings")
    return tuple(value)


def is_volatile(task_meta: Mapping[str, Any] | None) -> bool:
    """Whether a task's ``meta`` section says ``volatile: true`` (never cached)."""
    return _boolean((task_meta or {}).get("volatile", False)) is True


def effective_mode(
    config: CallCachingConfig,
    options: CallCachingOptions,
    task_meta: Mapping[str, Any] | None = None,
) -> CallCachingMode:
    """Cromwell's ``effectiveCallCachingMode`` for one call."""
    if not config.enabled or is_volatile(task_meta):
        return CallCachingMode.OFF
    return CallCachingMode.of(options.read_from_cache, options.write_to_cache)
