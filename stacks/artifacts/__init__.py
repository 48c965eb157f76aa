"""Host scripts shipped as S3 assets (kept as files, not strings in Python)."""

from pathlib import Path

#: The engine host's scripts and units (one asset).
ENGINE_ARTIFACTS_DIR = Path(__file__).resolve().parent / "engine"
