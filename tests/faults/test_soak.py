"""A short soak in CI (the long one is ``bench/faults_soak.py`` under ``make bench``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .soak import run_soak

pytestmark = pytest.mark.slow


def test_short_soak_with_kills(tmp_path: Path) -> None:
    figures = run_soak(tmp_path, workflows=60, seconds=30, kill_every=10)
    assert figures.kills >= 2
    assert figures.submitted == 60
    assert figures.succeeded == 60, figures.statuses
    assert figures.duplicates == 0 and figures.missing == 0
