"""The SQLite file's disk fills mid-run, then space is freed: ``ironside run`` finishes.

The store lives on a small tmpfs the test mounts (skipped where mounting is not
allowed); a filler file takes the last byte, and is removed a few seconds later.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .crash_harness import World, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path) -> Path:
    filler = mount / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_disk_full_mid_run_then_freed(tmp_path: Path, small_disk: Path) -> None:
    world = World(tmp_path)
    db = small_disk / "ironside.sqlite"
    world.config.write_text(world.config.read_text().replace(str(world.db), str(db)))
    world.db = db
    proc = world.ironside(world.run_args())
    wait_for(lambda: sum(world.side_lines().values()) >= 40)
    filler = _fill(small_disk)
    time.sleep(4)
    filler.unlink()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert "store unavailable" in err  # the fault was met, and waited out
    world.check(json.loads(out)["outputs"])
