"""Path confinement of a call's own expressions: its directory, through symbolic links too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ironside.errors import PathRefused
from ironside.wdl.confine import real_below
from ironside.wdl.stdlib import call_policy

from .conftest import Runner


@pytest.fixture
def call_dir(tmp_path: Path) -> Path:
    """A call directory with an execution directory, a file, an inner and outer link."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s3cr3t")
    call = tmp_path / "wf" / "call-t"
    ex = call / "execution"
    ex.mkdir(parents=True)
    (ex / "stdout").write_text("4\n")
    os.symlink(ex / "stdout", ex / "inner")
    os.symlink(outside / "secret", ex / "outer")
    os.symlink(outside, ex / "outdir")
    os.symlink("..", ex / "parent")
    return call


@pytest.mark.parametrize(
    "rel",
    ["execution/stdout", "execution/absent", "execution/absent/deeper", "execution", "x"],
)
def test_real_below_is_realpath_without_links(call_dir: Path, rel: str) -> None:
    """Below a resolved directory, the components alone give ``realpath``."""
    path = f"{call_dir}/{rel}"
    assert real_below(str(call_dir), os.path.realpath(call_dir), path) == os.path.realpath(path)


@pytest.mark.parametrize(
    "path",
    [
        "{c}/execution/inner",
        "{c}/execution/outer",
        "{c}/execution/outdir/secret",
        "{c}/execution/../execution/stdout",
        "{c}/execution//stdout",
        "{c}/./execution/stdout",
        "{c}",
        "{c}-other/execution/stdout",
        "/etc/passwd",
    ],
)
def test_real_below_leaves_links_and_other_paths_to_realpath(call_dir: Path, path: str) -> None:
    """A link, ``..``, a path not in normal form or not under the directory: None."""
    assert real_below(str(call_dir), str(call_dir), path.format(c=call_dir)) is None


@pytest.mark.parametrize(
    ("rel", "allowed"),
    [
        ("stdout", True),
        ("inner", True),
        ("parent/execution/stdout", True),
        ("absent", True),
        ("outer", False),
        ("outdir/secret", False),
        ("parent/../outside/secret", False),
        ("../../outside/secret", False),
    ],
)
def test_call_policy_follows_links_out_of_the_call(call_dir: Path, rel: str, allowed: bool) -> None:
    """A link inside the call's directory may be read only when it points inside it."""
    policy = call_policy(str(call_dir / "execution"), ())
    path = f"{call_dir}/execution/{rel}"
    assert policy.allows(path) is allowed
    if not allowed:
        with pytest.raises(PathRefused, match="outside the files"):
            policy.check(path, "task expression")


def test_call_policy_allows_input_files_and_linked_inputs(call_dir: Path, tmp_path: Path) -> None:
    """A call's own input files are allowed, named or resolved; others outside are not."""
    given = tmp_path / "outside" / "secret"
    policy = call_policy(str(call_dir / "execution"), [str(given)])
    assert policy.allows(str(given))
    assert policy.allows(str(call_dir / "execution" / "outer"))  # resolves to the input
    assert not policy.allows(str(tmp_path / "outside"))


TASK_READS = """version 1.0
task t {{
  command <<<
    echo 7 > n
    ln -s "$(pwd)/n" inner
    ln -s {target} outer
  >>>
  output {{ {output} }}
}}
workflow w {{ call t output {{ {wf_output} }} }}
"""


def test_an_output_read_through_an_inner_link_succeeds(runner: Runner, tmp_path: Path) -> None:
    """``read_int`` of a link to a file of the call reads it."""
    wdl = TASK_READS.format(target="/", output="Int n = read_int('inner')", wf_output="Int n = t.n")
    result = runner.run(wdl)
    assert result.rc == 0, result.stderr
    assert result.outputs == {"w.n": 7}


@pytest.mark.parametrize(
    "output",
    ["String s = read_string('outer/hostname')", "File f = 'outer/hostname'"],
)
def test_an_output_through_a_link_out_of_the_call_is_refused(
    runner: Runner, tmp_path: Path, output: str
) -> None:
    """A link to ``/etc`` made by the command does not let its outputs read ``/etc``."""
    name = output.split()[1]
    wdl = TASK_READS.format(target="/etc", output=output, wf_output=f"String o = t.{name}")
    result = runner.run(wdl)
    assert result.rc != 0
    text = result.stdout + result.stderr
    assert f"output {name}" in text
    assert open("/etc/hostname").read().strip() not in text.replace("/etc/hostname", "")
