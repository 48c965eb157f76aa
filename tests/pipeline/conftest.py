"""Session fixtures: one synthesis per source kind, shared by the pytest-xdist workers.

``connection`` is the pipeline as ``app.py`` builds it, with the kit's own stages;
``codecommit`` and ``s3`` use :class:`~tests.pipeline.synth.MinimalStage`, enough for
their source stage.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pipeline.synth import MinimalStage, Synthesized, synthesize_once

KINDS = ("connection", "codecommit", "s3")


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every worker of this test run shares (its own without xdist)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = tmp_path_factory.getbasetemp()
    return base.parent / f"pipeline-{run}" if run else base / "pipeline"


@pytest.fixture(scope="session")
def real(shared_dir: Path) -> Synthesized:
    """The pipeline as ``app.py`` builds it: connection source, the kit's own stages."""
    return synthesize_once(shared_dir, "connection")


def synthesized(shared_dir: Path, kind: str) -> Synthesized:
    """The synthesis of ``kind`` (see the module docstring)."""
    if kind == "connection":
        return synthesize_once(shared_dir, kind)
    return synthesize_once(shared_dir, kind, MinimalStage)


@pytest.fixture(params=KINDS)
def by_kind(request: pytest.FixtureRequest, shared_dir: Path) -> tuple[str, Synthesized]:
    """``(kind, synthesized)`` for each source kind."""
    kind: str = request.param
    return kind, synthesized(shared_dir, kind)


@pytest.fixture(scope="session")
def two_regions(shared_dir: Path) -> Synthesized:
    """An S3-sourced pipeline in eu-west-1 whose production stage is in eu-central-1."""
    return synthesize_once(shared_dir, "s3-two-regions", MinimalStage)
