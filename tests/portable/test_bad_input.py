"""Bad input stops the packager with one line, before anything is uploaded."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.portable.conftest import REPO, S3Server

MAKE_ERROR = re.compile(r"^make(\[\d+\])?: \*\*\*")

CASES = {
    "missing": ([], "BUCKET is required"),
    "empty": (["--bucket", ""], "BUCKET is required"),
    "uppercase": (["--bucket", "Ironside-Dist"], "not a valid S3 bucket name"),
    "too short": (["--bucket", "ab"], "3 to 63 characters"),
    "too long": (["--bucket", "a" * 64], "3 to 63 characters"),
    "underscore": (["--bucket", "ironside_dist"], "not a valid S3 bucket name"),
    "double dot": (["--bucket", "ironside..dist"], "dots may not be doubled"),
    "ip address": (["--bucket", "192.168.10.12"], "IP address"),
    "leading hyphen": (["--bucket=-ironside"], "not a valid S3 bucket name"),
    "unknown option": (["--bucket", "ironside-dist", "--region", "x"], "unrecognized arguments"),
    "reserved prefix": (["--bucket", "xn--ironside"], "reserves"),
    "bad prefix": (["--bucket", "ironside-dist", "--prefix", "../etc"], "PREFIX"),
    "bad setting": (
        ["--bucket", "ironside-dist", "-c", "ironside:spotMaxVcpus=-4"],
        "'ironside:spotMaxVcpus'",
    ),
    "one zone": (["--bucket", "ironside-dist", "--existing-vpc", "1"], "2 to 6 availability zones"),
    "no such bucket": (["--bucket", "ironside-no-such-bucket"], "cannot be reached"),
}


@pytest.mark.parametrize("args, message", CASES.values(), ids=list(CASES))
def test_bad_input_one_line_nothing_uploaded(
    s3_server: S3Server, tmp_path: Path, args: list[str], message: str
) -> None:
    before = s3_server.object_count()
    result = s3_server.run(*args, "--dist", str(tmp_path / "dist"))
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("package: ") and message in line
    assert s3_server.object_count() == before
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    "variables, message",
    [([], "BUCKET is required"), (["BUCKET=Not_A_Bucket"], "not a valid S3 bucket name")],
    ids=["no bucket", "invalid bucket"],
)
def test_make_package_stops_with_one_line(
    s3_server: S3Server, variables: list[str], message: str
) -> None:
    """Through make (its ``setup`` prerequisite taken as done: ``-o setup``)."""
    before = s3_server.object_count()
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "-o", "setup", "package", *variables],
        cwd=REPO,
        env=s3_server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    # make's own "make: *** ... Error 2" (make[N] when nested, as under `make test`) is not ours.
    ours = [line for line in result.stderr.splitlines() if not MAKE_ERROR.match(line)]
    assert len(ours) == 1 and ours[0].startswith("package: ") and message in ours[0]
    assert result.stdout == ""
    assert s3_server.object_count() == before
