"""Workflow options (Cromwell's names): known ones are type-checked, unknown ones warned about."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ironside.errors import BadOptions

_KNOWN: dict[str, type | tuple[type, ...]] = {
    "final_workflow_outputs_dir": str,
    "use_relative_output_paths": bool,
    "final_call_logs_dir": str,
    "final_workflow_log_dir": str,
    "workflow_failure_mode": str,
    "default_runtime_attributes": dict,
    "read_from_cache": bool,
    "write_to_cache": bool,
    "call_cache_hit_path_prefixes": list,
    "backend": str,
    "monitoring_script": str,
    "aws_batch_job_role_arn": str,
    "aws_batch_script_bucket_prefix": str,
    "aws_s3_root": str,
    "memory_retry_multiplier": (int, float),
    "jes_gcs_root": str,
}


@dataclass(frozen=True)
class Options:
    """Validated workflow options."""

    raw: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def continue_while_possible(self) -> bool:
        """``workflow_failure_mode: ContinueWhilePossible``."""
        return self.raw.get("workflow_failure_mode") == "ContinueWhilePossible"

    @property
    def default_runtime_attributes(self) -> dict[str, Any]:
        """``default_runtime_attributes`` (empty when not given)."""
        return dict(self.raw.get("default_runtime_attributes") or {})

    def get(self, key: str, default: Any = None) -> Any:
        """A raw option value."""
        return self.raw.get(key, default)


def parse_options(raw: Any, where: str = "options") -> Options:
    """Check the options JSON object; ``BadOptions`` for a known option of the wrong type."""
    if raw is None:
        return Options()
    if not isinstance(raw, dict):
        raise BadOptions(f"{where}: must be a JSON object, got {type(raw).__name__}")
    warnings = []
    for key, value in raw.items():
        kind = _KNOWN.get(key)
        if kind is None:
            warnings.append(f"unknown workflow option {key!r} ignored")
            continue
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            ok = True
        if not ok:
            want = kind.__name__ if isinstance(kind, type) else "number"
            want = {"str": "string", "dict": "object", "list": "array", "bool": "boolean"}.get(
                want, want
            )
            raise BadOptions(f"{where}: option {key!r} must be a {want}, got {value!r}")
    mode = raw.get("workflow_failure_mode")
    if mode is not None and mode not in ("NoNewCalls", "ContinueWhilePossible"):
        raise BadOptions(
            f"{where}: workflow_failure_mode must be NoNewCalls or ContinueWhilePossible,"
            f" got {mode!r}"
        )
    return Options(raw=dict(raw), warnings=tuple(warnings))
