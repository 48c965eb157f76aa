"""``upload_plan``: which working-directory files a task's outputs need, known before the run."""

from __future__ import annotations

import WDL
from WDL import Env, Value

from ironside.engine.calls import TaskStdLibs, upload_plan
from ironside.engine.plan import TaskPlan, task_plan
from ironside.filesystems.dispatch import FileSystems

LIBS = TaskStdLibs(FileSystems())


def _plan(outputs: str, inputs: str = "String sample") -> tuple[TaskPlan, Env.Bindings[Value.Base]]:
    doc = WDL.parse_document(
        f"version 1.0\ntask t {{\n  input {{ {inputs} }}\n  command <<< true >>>\n"
        f"  output {{\n{outputs}\n  }}\n}}\n"
    )
    doc.typecheck()
    env = Env.Bindings[Value.Base]().bind("sample", Value.String("S1"))
    return task_plan(doc.tasks[0]), env


def test_declared_files_read_files_and_globs() -> None:
    plan, env = _plan(
        """
    File bam = "~{sample}.bam"
    Array[File] parts = ["out/a.txt", "./out/b.txt"]
    Int n = read_int("n.txt")
    Array[File] vcfs = glob("*.vcf")
    File? maybe = "opt.txt"
    File log = stdout()
    String same = bam
"""
    )
    assert upload_plan(LIBS, plan, env) == (
        ["S1.bam", "n.txt", "opt.txt", "out/a.txt", "out/b.txt"],
        ["*.vcf"],
    )


def test_file_paths_read_from_a_file_mean_everything() -> None:
    plan, env = _plan('    Array[File] listed = read_lines("files.txt")')
    assert upload_plan(LIBS, plan, env) is None


def test_paths_outside_the_working_directory_are_not_uploaded() -> None:
    plan, env = _plan(
        '    File abs = "/etc/hostname"\n    File up = "../x"\n    File s = "s3://b/k"'
    )
    assert upload_plan(LIBS, plan, env) == ([], [])
