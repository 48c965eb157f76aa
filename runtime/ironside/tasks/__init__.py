"""Rendering one task attempt into one self-contained bash script."""

from ironside.tasks.script import (
    FileTransfer,
    Localizer,
    LocalLocalizer,
    S3Localizer,
    ScriptSpec,
    render_script,
)

__all__ = [
    "FileTransfer",
    "Localizer",
    "LocalLocalizer",
    "S3Localizer",
    "ScriptSpec",
    "render_script",
]
